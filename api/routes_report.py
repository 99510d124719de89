"""The storm alert, the shift handover and the period summary over HTTP.

Thin: the figures are :mod:`api.report`'s; these routes choose the instant (now, or ``at``
for a handover written up afterwards), the rules the running service uses, and read on one
connection.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from api.deps import AppContext, BadRequest, ContextDep, DispatcherUser, SupervisorUser
from api.report import (
    Geography,
    Handover,
    PeriodError,
    ReportRules,
    StormAlert,
    StormSettings,
    Summary,
    handover,
    parse_period,
    storm_alert,
    summarize,
)
from api.schemas import ErrorOut

router = APIRouter(prefix="/api", tags=["reports"])

_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}


@lru_cache(maxsize=1)
def storm_settings() -> StormSettings:
    """``GRIDCALL_STORM_*``, read once like every other setting (tests override it)."""
    return StormSettings()


StormSettingsDep = Annotated[StormSettings, Depends(storm_settings)]
At = Annotated[AwareDatetime | None, Query(description="the instant to look at (default: now)")]


def _rules(context: AppContext, storm: StormSettings) -> ReportRules:
    """The clocks' limits and calendar the running intake and board use."""
    if context.services is not None:
        dispatch = context.services.dispatch
        return ReportRules(dispatch.clock_settings, dispatch.calendar, storm)
    base = ReportRules.from_environment()
    return ReportRules(base.clocks, base.calendar, storm)


def _geography(context: AppContext) -> Geography | None:
    """The app's grid and network, when it has them (no database read per request)."""
    services = context.services
    return Geography(services.data, services.model) if services is not None else None


@router.get(
    "/storm-mode",
    summary="Should the centre add agents? (article 36)",
    response_model=StormAlert,
    responses=_ERRORS,
)
def get_storm_mode(
    user: DispatcherUser, context: ContextDep, storm: StormSettingsDep, at: At = None
) -> StormAlert:
    """Active when open incidents and planned outages (in effect or starting within 24 h)
    span two or more townships, or the call rate of the last 30 minutes is a multiple of
    the previous 7 days' average, or over an absolute threshold; ``reasons`` says which."""
    with context.engine.connect() as conn:
        return storm_alert(conn, at or context.now(), storm, geography=_geography(context))


@router.get(
    "/handover",
    summary="Everything open, for the shift handover (articles 33-34)",
    response_model=Handover,
    responses=_ERRORS,
)
def get_handover(
    user: DispatcherUser, context: ContextDep, storm: StormSettingsDep, at: At = None
) -> Handover:
    """Open incidents with their device, unit, calls and age; open orders with their clocks,
    the most urgent first; complaint and report deadlines; callbacks due; planned outages in
    effect or within 7 days; and the storm alert."""
    with context.engine.connect() as conn:
        return handover(
            conn, at or context.now(), _rules(context, storm), geography=_geography(context)
        )


@router.get(
    "/report/summary",
    summary="The periodic analysis of a period (articles 12, 14)",
    response_model=Summary,
    responses={**_ERRORS, 400: {"model": ErrorOut, "description": "an unreadable period"}},
)
def get_summary(
    user: SupervisorUser,
    context: ContextDep,
    storm: StormSettingsDep,
    date_from: Annotated[
        str | None, Query(alias="from", description="a date or ISO datetime")
    ] = None,
    date_to: Annotated[
        str | None, Query(alias="to", description="a date (included) or ISO datetime")
    ] = None,
) -> Summary:
    """What ``gridcall report`` writes to ``summary.json``, without the files."""
    now: datetime = context.now()
    try:
        period = parse_period(date_from, date_to, now)
    except PeriodError as exc:
        raise BadRequest(str(exc)) from None
    with context.engine.connect() as conn:
        summary, _tables = summarize(
            conn, period, _rules(context, storm), now=now, geography=_geography(context)
        )
    return summary
