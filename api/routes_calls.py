"""Taking calls over HTTP: the same intake as the replay, one call per request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.deps import AgentUser, ContextDep, NotFound
from api.schemas import CallIn, CallResult, ErrorOut
from dispatch.intake import Intake
from gis.db import json_value
from outages.store import calls

router = APIRouter(prefix="/api/calls", tags=["calls"])


@router.post(
    "",
    summary="Take one call: locate it, check known outages, merge or open an incident",
    response_model=CallResult,
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        422: {
            "model": CallResult,
            "description": "a malformed call (no call_id or received_at, an unknown category "
            "or source): the intake's answer with status `rejected` and the reason",
        },
        503: {"model": ErrorOut, "description": "no network imported yet"},
    },
)
def take_call(
    call: CallIn,
    user: AgentUser,
    context: ContextDep,
    background: BackgroundTasks,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="a retry with the same key gets the first answer and creates nothing",
        ),
    ] = None,
) -> Any:
    """The answer of CONTRACT section 3, committed before it is returned. A repeated
    ``call_id`` or ``Idempotency-Key`` returns the first answer unchanged, so a client may
    retry after a timeout. An impossible value in an optional field (a latitude of 999) is
    dropped and named in ``reason``; the call is still taken (HTTP 200). The re-examination
    of the open incidents that the call makes due runs after the answer is sent."""
    with context.intake_lock:
        # inside the lock: a newer network is swapped in under it (api.app.NetworkFollower)
        services = context.require_services()
        intake = context.intake
        if intake is None:
            intake = context.intake = Intake(
                context.engine, services, auto_dispatch=context.settings.auto_dispatch
            )
        intake.taken_by = user.name
        try:
            answer = intake.take(call.row(), idempotency_key=idempotency_key, sweep=False)
        except Exception:
            # The intake's memory may now be ahead of the database: rebuild it from the
            # database at the next call.
            context.intake = None
            raise
    background.add_task(context.sweep)
    result = CallResult.model_validate(answer)
    if result.status == "rejected":
        return JSONResponse(status_code=422, content=result.model_dump(mode="json"))
    return result


@router.get(
    "/{call_id}",
    summary="The answer a call was given",
    response_model=CallResult,
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
def get_call(call_id: str, user: AgentUser, context: ContextDep) -> CallResult:
    with context.engine.connect() as conn:
        row = conn.execute(select(calls.c.answer).where(calls.c.call_id == call_id)).first()
    if row is None:
        raise NotFound(f"no call {call_id!r}")
    answer = json_value(row.answer)
    return CallResult.model_validate(answer)
