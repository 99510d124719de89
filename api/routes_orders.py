"""Work orders for staff: the open orders, one order's log, and the dispatcher's actions.

Thin on purpose: every rule (which event may follow which, which crew may take a job) is
the dispatch service's; these routes only open a transaction, call it, and say who acted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import AgentUser, AppContext, ContextDep, DispatcherUser
from api.schemas import ErrorOut
from dispatch.orders import EventType, WorkOrder
from dispatch.service import DispatchContext, DispatchService, UnknownOrderError
from dispatch.store import dispatch_on
from gis.db import write_transaction
from outages.store import confirm_incident, restore_incident

router = APIRouter(prefix="/api/orders", tags=["work orders"])

IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="a retry with the same key records the action once"),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut, "description": "no such order or crew"},
    409: {"model": ErrorOut, "description": "the order's state does not allow it"},
}


class OrderEventOut(BaseModel):
    type: str
    at: datetime
    by: str
    crew_id: str | None
    data: dict[str, Any]


class OrderOut(BaseModel):
    order_id: str
    type: str
    status: str
    unit_id: str | None
    area_class: str | None
    crew_id: str | None
    incident_id: str | None
    call_id: str | None
    call_ids: list[str]
    first_call_at: datetime
    lon: float | None
    lat: float | None
    summary: str | None


class OrderDetail(OrderOut):
    events: list[OrderEventOut]


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crew_id: str = Field(min_length=1)
    reason: str | None = None


class OrderEventIn(BaseModel):
    """A step of the repair as the crew reports it (through the dispatcher)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["accepted", "departed", "arrived", "cause_found", "repaired", "closed", "note"]
    at: AwareDatetime | None = Field(None, description="when it happened (default: now)")
    cause: str | None = Field(None, description="for cause_found")
    note: str | None = None


def _out(order: WorkOrder) -> dict[str, Any]:
    state = order.state
    return {
        "order_id": order.order_id,
        "type": order.type.value,
        "status": order.status.value,
        "unit_id": order.current_unit_id,
        "area_class": state.area_class.value if state.area_class else None,
        "crew_id": order.crew_id,
        "incident_id": order.incident_id,
        "call_id": order.call_id,
        "call_ids": list(state.call_ids),
        "first_call_at": order.first_call_at,
        "lon": order.lon,
        "lat": order.lat,
        "summary": order.summary,
    }


def _detail(order: WorkOrder) -> OrderDetail:
    events = [
        OrderEventOut(type=e.type.value, at=e.at, by=e.by, crew_id=e.crew_id, data=dict(e.data))
        for e in order.events
    ]
    return OrderDetail(**_out(order), events=events)


def _order(service: DispatchService, order_id: str) -> WorkOrder:
    order = service.repo.get_order(order_id)
    if order is None:
        raise UnknownOrderError(order_id)
    return order


def _dispatch_context(context: AppContext) -> DispatchContext:
    return context.services.dispatch if context.services is not None else DispatchContext()


@contextmanager
def _service(context: AppContext, write: bool) -> Iterator[DispatchService]:
    opened = write_transaction(context.engine) if write else context.engine.connect()
    with opened as conn:
        yield dispatch_on(conn, _dispatch_context(context))


@router.get(
    "", summary="Open work orders, oldest first", response_model=list[OrderOut], responses=_ERRORS
)
def open_orders(
    user: DispatcherUser,
    context: ContextDep,
    unit_id: Annotated[str | None, Query(description="only this unit's orders")] = None,
) -> list[OrderOut]:
    with _service(context, write=False) as service:
        orders = service.repo.open_orders(unit_id=unit_id)
    return [OrderOut(**_out(o)) for o in orders]


@router.get(
    "/{order_id}",
    summary="One work order with its event log",
    response_model=OrderDetail,
    responses=_ERRORS,
)
def get_order(order_id: str, user: AgentUser, context: ContextDep) -> OrderDetail:
    """Agents read orders too: a caller asks where the crew is."""
    with _service(context, write=False) as service:
        order = _order(service, order_id)
    return _detail(order)


@router.post(
    "/{order_id}/assign",
    summary="Give the order to a crew (or to another crew)",
    response_model=OrderDetail,
    responses=_ERRORS,
)
def assign(
    order_id: str,
    body: AssignIn,
    user: DispatcherUser,
    context: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> OrderDetail:
    with _service(context, write=True) as service:
        result = service.assign(
            order_id,
            body.crew_id,
            user.name,
            context.now(),
            reason=body.reason,
            key=idempotency_key,
        )
        order = _order(service, result.order.order_id)
    return _detail(order)


@router.post(
    "/{order_id}/events",
    summary="Record a step of the repair (arrived, repaired...)",
    response_model=OrderDetail,
    responses=_ERRORS,
)
def record_event(
    order_id: str,
    body: OrderEventIn,
    user: DispatcherUser,
    context: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> OrderDetail:
    at = body.at or context.now()
    data: dict[str, Any] = {}
    if body.cause:
        data["cause"] = body.cause
    if body.note:
        data["note" if body.type != "closed" else "reason"] = body.note
    with write_transaction(context.engine) as conn:
        service = dispatch_on(conn, _dispatch_context(context))
        service.record(
            order_id, EventType(body.type), at, user.name, data=data, key=idempotency_key
        )
        order = _order(service, order_id)
        if body.type in ("repaired", "closed") and order.incident_id is not None:
            # supply is back (or the dispatcher ended the order): the fault is over
            restore_incident(conn, order.incident_id, at, user.name)
        elif body.type == "cause_found" and order.incident_id is not None:
            # the crew found the fault: the incident is confirmed
            confirm_incident(conn, order.incident_id, at, user.name, body.cause)
    return _detail(order)
