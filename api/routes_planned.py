"""Publishing planned and temporary outage notices (article 31): dispatchers and up."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query

from api import auth_store
from api.deps import ContextDep, DispatcherUser, NotFound
from api.schemas import ErrorOut, PlannedOutageCancel, PlannedOutageCreate, PlannedOutageOut
from gis.db import write_transaction
from outages.planned import Notice, NoticeRepository, check_notice

router = APIRouter(prefix="/api/planned-outages", tags=["planned outages"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    503: {"model": ErrorOut, "description": "no network imported yet"},
}


def notice_out(
    notice: Notice, now: datetime, warnings: list[str] | None = None
) -> PlannedOutageOut:
    return PlannedOutageOut(
        id=notice.id,
        kind=notice.kind,
        status=notice.status(now),
        switch_ids=list(notice.switch_ids),
        start=notice.start,
        end=notice.end,
        reason=notice.reason,
        late_reason=notice.late_reason,
        published_at=notice.published_at,
        published_by=notice.published_by,
        cancelled_at=notice.cancelled_at,
        affected_transformers=list(notice.affected_transformers),
        affected_service_points=notice.affected_service_points,
        areas=list(notice.areas),
        affected_area=notice.area,
        warnings=warnings or [],
    )


@router.post(
    "",
    summary="Publish an outage notice: the switches opened and the window",
    response_model=PlannedOutageOut,
    status_code=201,
    responses={
        **_ERRORS,
        422: {
            "model": ErrorOut,
            "description": "unknown switch ids (named), a window that ends before it starts, "
            "or, without late_reason, a window that is over (an outage entered after the "
            "fact, 补录, gives one) or a planned outage less than 7 days ahead",
        },
    },
)
def publish(
    body: PlannedOutageCreate, user: DispatcherUser, context: ContextDep
) -> PlannedOutageOut:
    """The affected transformers, service points (a count), township and village names and
    the outline of the area are computed from the network with the switches open: what is
    energised now and would not be. A planned notice must be published 7 days ahead, or
    give ``late_reason``; a temporary one need not. A window already over is taken with a
    ``late_reason`` too: an outage entered after the fact, which calls of its time typed in
    or replayed later are answered from."""
    planner = context.require_planner()
    now = context.now()
    switch_ids = planner.check_switches(body.switch_ids)
    check_notice(body.kind, body.start, body.end, now, body.late_reason)
    impact = planner.impact(switch_ids)
    warnings = [f"switch {s} is already open in the normal state" for s in impact.already_open]
    if impact.service_points == 0 and not impact.transformers:
        warnings.append("opening these switches takes no customer off supply")
    with write_transaction(context.engine) as conn:
        notice = NoticeRepository(conn).add(
            kind=body.kind,
            switch_ids=switch_ids,
            start=body.start,
            end=body.end,
            reason=body.reason.strip(),
            late_reason=(body.late_reason or "").strip() or None,
            published_at=now,
            published_by=user.name,
            impact=impact,
        )
        auth_store.record(
            conn,
            user.name,
            "notice_published",
            notice.id,
            {
                "kind": notice.kind.value,
                "switch_ids": switch_ids,
                "affected_service_points": notice.affected_service_points,
            },
            at=now,
        )
    return notice_out(notice, now, warnings)


@router.get(
    "",
    summary="Outage notices, in start order",
    response_model=list[PlannedOutageOut],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)
def list_notices(
    user: DispatcherUser,
    context: ContextDep,
    include_past: Annotated[bool, Query(description="also notices that are over")] = False,
    include_cancelled: Annotated[bool, Query(description="also cancelled notices")] = False,
) -> list[PlannedOutageOut]:
    now = context.now()
    with context.engine.connect() as conn:
        notices = NoticeRepository(conn).list(
            ending_after=None if include_past else now, include_cancelled=include_cancelled
        )
    return [notice_out(n, now) for n in notices]


@router.get(
    "/{notice_id}",
    summary="One outage notice",
    response_model=PlannedOutageOut,
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
def get_notice(notice_id: str, user: DispatcherUser, context: ContextDep) -> PlannedOutageOut:
    with context.engine.connect() as conn:
        notice = NoticeRepository(conn).get(notice_id)
    if notice is None:
        raise NotFound(f"no outage notice {notice_id!r}")
    return notice_out(notice, context.now())


@router.post(
    "/{notice_id}/cancel",
    summary="Withdraw an outage notice (it stays on record, marked cancelled)",
    response_model=PlannedOutageOut,
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut, "description": "the notice's window is already over"},
    },
)
def cancel_notice(
    notice_id: str,
    user: DispatcherUser,
    context: ContextDep,
    body: Annotated[PlannedOutageCancel | None, Body()] = None,
) -> PlannedOutageOut:
    """Cancelling twice is harmless: the second time returns the notice as it is."""
    now = context.now()
    with write_transaction(context.engine) as conn:
        repo = NoticeRepository(conn)
        before = repo.get(notice_id)
        notice = repo.cancel(notice_id, now)
        if before is not None and before.cancelled_at is None:
            auth_store.record(
                conn,
                user.name,
                "notice_cancelled",
                notice_id,
                {"reason": body.reason if body else None},
                at=now,
            )
    return notice_out(notice, now)
