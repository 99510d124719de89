"""Work orders (工单): one per incident for repairs, one per call for other tickets.

Pure domain: plain frozen dataclasses, no database, no web. An order is its header (what
was known when it was opened) and an append-only log of events, each with who and when;
nothing is ever deleted (第二十九条), and the status, the crew, and every instant the 95598
clocks need are derived from the log. :meth:`WorkOrder.record` is the one way to change
an order: it checks the transition and returns the order with the event appended, or
raises :class:`TransitionError`.

Repairs (故障报修) go to the responsible unit and its crew: created, dispatched (the
electronic order reaches the unit, 第二十三条; a crew may be named at once), accepted,
departed, arrived, cause found, repaired, callback, closed. A reassignment gives the order
to another crew (or names the crew of an order dispatched to a unit without one) and the
new crew accepts, departs and arrives again; the clocks keep the first dispatch and the
first arrival, because the customer's wait is what they measure. A transfer hands the
order to another responsible unit (the unit chosen from the first calls, before the faulted
device was inferred, turned out to be the wrong one); the header keeps the unit the order
was opened for, the log the one it belongs to now.

Other tickets go to a department (:data:`DEFAULT_DEPARTMENTS`, a table the settings can
replace): complaints and reports to 纪检监察 (第二十六条), new connections to 营销/业扩,
suggestions and praise to the customer service centre (客户服务中心). They are forwarded on
creation, answered, called back and closed. Consultations and queries are answered on the
phone without an order (第二十五条).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import Any

from dispatch.clocks import (
    AreaClass,
    CallbackAttempt,
    CallbackOutcome,
    OrderFacts,
    OrderKind,
)
from dispatch.workdays import to_local

__all__ = [
    "DEFAULT_DEPARTMENTS",
    "NO_ORDER_CATEGORIES",
    "EventType",
    "OrderEvent",
    "OrderHead",
    "OrderState",
    "OrderStatus",
    "OrderType",
    "TransitionError",
    "WorkOrder",
    "call_attachment",
    "call_detachment",
    "department_for",
    "order_type_for",
    "repair_order_id",
    "ticket_order_id",
]


class OrderType(StrEnum):
    REPAIR = "repair"  # 故障报修
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    NEW_CONNECTION = "new_connection"  # 业扩报装
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬


NO_ORDER_CATEGORIES = frozenset({"consult", "query"})
"""Call categories answered on the phone, without an order (咨询, 查询)."""

DEFAULT_DEPARTMENTS: Mapping[str, str] = MappingProxyType(
    {
        OrderType.COMPLAINT: "discipline",
        OrderType.REPORT: "discipline",
        OrderType.NEW_CONNECTION: "marketing",
        OrderType.SUGGESTION: "customer_service",
        OrderType.PRAISE: "customer_service",
    }
)
"""Where each kind of ticket is forwarded; repairs go to the responsible unit instead."""


class EventType(StrEnum):
    CREATED = "created"
    DISPATCHED = "dispatched"  # 派单: the order reached the unit (and maybe a crew)
    ACCEPTED = "accepted"  # 接单
    DEPARTED = "departed"  # 出发
    ARRIVED = "arrived"  # 到达现场
    CAUSE_FOUND = "cause_found"  # 查明原因
    REPAIRED = "repaired"  # 修复送电
    ANSWERED = "answered"  # 答复 (tickets)
    CALLBACK = "callback"  # 回访 attempt
    CLOSED = "closed"  # 归档
    REASSIGNED = "reassigned"  # 改派: another crew (repairs) or department (tickets)
    TRANSFERRED = "transferred"  # 转派: another responsible unit (repairs)
    CALL_ATTACHED = "call_attached"  # 合并报修 (第二十四条)
    CALL_DETACHED = "call_detached"  # the call turned out to be about another fault
    ESCALATED = "escalated"  # 督办 / 升级
    NOTE = "note"


class OrderStatus(StrEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    CAUSE_FOUND = "cause_found"
    REPAIRED = "repaired"
    FORWARDED = "forwarded"
    ANSWERED = "answered"
    CLOSED = "closed"


class TransitionError(ValueError):
    """An event the order's current state does not allow."""


def repair_order_id(incident_id: str) -> str:
    """The repair order of an incident: derived from it, so a retried open finds the same."""
    return f"WO-{incident_id}"


def ticket_order_id(call_id: str) -> str:
    """The ticket of a call: derived from the call id (the intake's idempotency key)."""
    return f"TK-{call_id}"


def order_type_for(category: str) -> OrderType | None:
    """The order type of a call category; ``None`` for those answered without an order."""
    key = category.strip().lower()
    if key in NO_ORDER_CATEGORIES:
        return None
    try:
        return OrderType(key)
    except ValueError:
        raise ValueError(f"unknown call category {category!r}") from None


def department_for(kind: OrderType, table: Mapping[str, str] = DEFAULT_DEPARTMENTS) -> str:
    """The department a ticket is forwarded to, from the routing table."""
    if kind is OrderType.REPAIR:
        raise ValueError("repair orders go to the responsible unit, not a department")
    try:
        return table[kind.value]
    except KeyError:
        raise ValueError(f"no department configured for {kind.value} tickets") from None


def _frozen(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True)
class OrderEvent:
    """One line of an order's log. ``key`` is a client's idempotency key (a retried request
    with the same key is the same event); ``seq`` is its place in the log once stored."""

    type: EventType
    at: datetime
    by: str
    crew_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    key: str | None = None
    seq: int | None = None
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        to_local(self.at)  # refuses a naive time
        if not self.by or not self.by.strip():
            raise ValueError("every order event records who did it")
        if not isinstance(self.data, MappingProxyType):
            object.__setattr__(self, "data", _frozen(self.data))


_LIFECYCLE = frozenset(
    {
        EventType.CREATED,
        EventType.DISPATCHED,
        EventType.ACCEPTED,
        EventType.DEPARTED,
        EventType.ARRIVED,
        EventType.CAUSE_FOUND,
        EventType.REPAIRED,
        EventType.ANSWERED,
        EventType.CALLBACK,
        EventType.CLOSED,
        EventType.REASSIGNED,
    }
)
"""Events that move the order on; each must be no earlier than the one before it."""

_REPAIR_ONLY = frozenset(
    {
        EventType.DISPATCHED,
        EventType.ACCEPTED,
        EventType.DEPARTED,
        EventType.ARRIVED,
        EventType.CAUSE_FOUND,
        EventType.REPAIRED,
    }
)

_ALLOWED_FROM: Mapping[EventType, frozenset[OrderStatus]] = MappingProxyType(
    {
        EventType.DISPATCHED: frozenset({OrderStatus.NEW}),
        EventType.ACCEPTED: frozenset({OrderStatus.DISPATCHED}),
        EventType.DEPARTED: frozenset({OrderStatus.DISPATCHED, OrderStatus.ACCEPTED}),
        EventType.ARRIVED: frozenset(
            {OrderStatus.DISPATCHED, OrderStatus.ACCEPTED, OrderStatus.EN_ROUTE}
        ),
        EventType.CAUSE_FOUND: frozenset({OrderStatus.ON_SITE, OrderStatus.CAUSE_FOUND}),
        EventType.REPAIRED: frozenset({OrderStatus.ON_SITE, OrderStatus.CAUSE_FOUND}),
        EventType.ANSWERED: frozenset({OrderStatus.FORWARDED}),
    }
)
"""For the step events: the statuses they may follow (skipping optional steps is allowed)."""

_STEP_STATUS: Mapping[EventType, OrderStatus] = MappingProxyType(
    {
        EventType.DISPATCHED: OrderStatus.DISPATCHED,
        EventType.ACCEPTED: OrderStatus.ACCEPTED,
        EventType.DEPARTED: OrderStatus.EN_ROUTE,
        EventType.ARRIVED: OrderStatus.ON_SITE,
        EventType.CAUSE_FOUND: OrderStatus.CAUSE_FOUND,
        EventType.REPAIRED: OrderStatus.REPAIRED,
        EventType.ANSWERED: OrderStatus.ANSWERED,
    }
)


@dataclass(frozen=True)
class OrderState:
    """What the log says: the fold of an order's events."""

    status: OrderStatus
    crew_id: str | None = None
    unit_id: str | None = None
    area_class: AreaClass | None = None
    department: str | None = None
    dispatched_at: datetime | None = None
    arrived_at: datetime | None = None
    repaired_at: datetime | None = None
    answered_at: datetime | None = None
    closed_at: datetime | None = None
    cause: str | None = None
    close_reason: str | None = None
    last_at: datetime | None = None
    call_ids: tuple[str, ...] = ()
    callback_attempts: tuple[CallbackAttempt, ...] = ()
    escalations: frozenset[tuple[str, int]] = frozenset()

    @property
    def completed_at(self) -> datetime | None:
        """When the service was completed: repaired, or the ticket answered."""
        return self.repaired_at or self.answered_at

    @property
    def is_open(self) -> bool:
        return self.status is not OrderStatus.CLOSED

    @property
    def callback_succeeded(self) -> bool:
        return any(a.outcome is CallbackOutcome.SUCCESS for a in self.callback_attempts)


@dataclass(frozen=True)
class WorkOrder:
    """An order's header and its event log; everything else is derived from the log."""

    order_id: str
    type: OrderType
    first_call_at: datetime
    unit_id: str | None = None  # as opened; see current_unit_id
    area_class: AreaClass | None = None  # as opened; the clocks use the state's
    incident_id: str | None = None
    call_id: str | None = None  # the call a ticket came from
    lon: float | None = None
    lat: float | None = None
    summary: str | None = None
    events: tuple[OrderEvent, ...] = ()

    def __post_init__(self) -> None:
        to_local(self.first_call_at)
        if self.type is OrderType.REPAIR:
            if self.incident_id is None:
                raise ValueError("a repair order belongs to an incident")
            if self.area_class is None:
                raise ValueError("a repair order needs an area class for its arrival commitment")
        elif self.call_id is None:
            raise ValueError("a ticket belongs to the call it came from")

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open_repair(
        cls,
        incident_id: str,
        unit_id: str | None,
        area_class: AreaClass,
        first_call_at: datetime,
        at: datetime,
        by: str,
        *,
        location: tuple[float, float] | None = None,
        summary: str | None = None,
    ) -> WorkOrder:
        lon, lat = location if location is not None else (None, None)
        order = cls(
            repair_order_id(incident_id),
            OrderType.REPAIR,
            first_call_at,
            unit_id,
            area_class,
            incident_id,
            None,
            lon,
            lat,
            summary,
        )
        return order.record(
            OrderEvent(
                EventType.CREATED,
                at,
                by,
                data={"unit_id": unit_id, "area_class": area_class.value},
            )
        )

    @classmethod
    def open_ticket(
        cls,
        kind: OrderType,
        call_id: str,
        received_at: datetime,
        at: datetime,
        by: str,
        *,
        department: str,
        unit_id: str | None = None,
        location: tuple[float, float] | None = None,
        summary: str | None = None,
    ) -> WorkOrder:
        if kind is OrderType.REPAIR:
            raise ValueError("repair calls open incidents and repair orders, not tickets")
        lon, lat = location if location is not None else (None, None)
        order = cls(
            ticket_order_id(call_id),
            kind,
            received_at,
            unit_id,
            None,
            None,
            call_id,
            lon,
            lat,
            summary,
        )
        return order.record(
            OrderEvent(
                EventType.CREATED, at, by, data={"department": department, "call_id": call_id}
            )
        )

    # -- derived ---------------------------------------------------------------------------

    @cached_property
    def state(self) -> OrderState:
        return _fold(self)

    @property
    def status(self) -> OrderStatus:
        return self.state.status

    @property
    def crew_id(self) -> str | None:
        return self.state.crew_id

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def current_unit_id(self) -> str | None:
        """The responsible unit now: the one it was opened for, unless transferred since."""
        return self.state.unit_id

    @property
    def location(self) -> tuple[float, float] | None:
        if self.lon is None or self.lat is None:
            return None
        return self.lon, self.lat

    def facts(self) -> OrderFacts | None:
        """The facts :mod:`dispatch.clocks` runs on.

        ``None`` for a ticket kind the clocks do not know yet (new connection, suggestion,
        praise: only the callback clock would apply to them).
        """
        try:
            kind = OrderKind(self.type.value)
        except ValueError:
            return None
        s = self.state
        return OrderFacts(
            order_id=self.order_id,
            kind=kind,
            first_call_at=self.first_call_at,
            area_class=s.area_class,
            dispatched_at=s.dispatched_at,
            arrived_at=s.arrived_at,
            repaired_at=s.repaired_at,
            answered_at=s.answered_at,
            completed_at=s.completed_at,
            closed_at=s.closed_at,
            callback_attempts=s.callback_attempts,
        )

    def event_with_key(self, key: str) -> OrderEvent | None:
        return next((e for e in self.events if e.key == key), None)

    # -- changing --------------------------------------------------------------------------

    def record(self, event: OrderEvent) -> WorkOrder:
        """The order with ``event`` appended, after checking that it may happen now."""
        self._check(event)
        seq = event.seq if event.seq is not None else len(self.events) + 1
        return replace(self, events=(*self.events, replace(event, seq=seq)))

    def _check(self, event: OrderEvent) -> None:
        kind = event.type
        if not self.events:
            if kind is not EventType.CREATED:
                raise TransitionError(f"{self.order_id}: the first event must be 'created'")
            self._check_time(event, None)
            return
        if kind is EventType.CREATED:
            raise TransitionError(f"{self.order_id}: already created")
        s = self.state
        if s.status is OrderStatus.CLOSED and kind is not EventType.NOTE:
            raise TransitionError(f"{self.order_id}: closed; only notes may be added")
        self._check_time(event, s.last_at if kind in _LIFECYCLE else None)
        repair = self.type is OrderType.REPAIR
        if kind in _REPAIR_ONLY and not repair:
            raise TransitionError(f"{self.order_id}: {kind.value} applies to repair orders")
        if kind is EventType.ANSWERED and repair:
            raise TransitionError(f"{self.order_id}: repair orders are repaired, not answered")
        allowed = _ALLOWED_FROM.get(kind)
        if allowed is not None and s.status not in allowed:
            raise TransitionError(
                f"{self.order_id}: cannot record {kind.value} when the order is {s.status.value}"
            )
        if kind is EventType.REASSIGNED:
            self._check_reassign(event, s)
        elif kind is EventType.TRANSFERRED:
            if not repair:
                raise TransitionError(f"{self.order_id}: tickets are reassigned to departments")
            if s.status is OrderStatus.REPAIRED:
                raise TransitionError(f"{self.order_id}: already repaired")
            if not event.data.get("unit_id"):
                raise TransitionError(f"{self.order_id}: a transfer names the new unit")
            try:
                AreaClass(str(event.data.get("area_class") or s.area_class))
            except ValueError:
                raise TransitionError(
                    f"{self.order_id}: unknown area class {event.data.get('area_class')!r}"
                ) from None
        elif kind is EventType.CALLBACK:
            if s.completed_at is None:
                raise TransitionError(f"{self.order_id}: callback before the service completed")
            if s.callback_succeeded:
                raise TransitionError(f"{self.order_id}: the callback already succeeded")
            _callback_attempt(event)
        elif kind is EventType.CLOSED:
            if s.completed_at is None and not str(event.data.get("reason") or "").strip():
                raise TransitionError(
                    f"{self.order_id}: closing an order that was never completed needs a reason"
                )
        elif kind is EventType.CALL_ATTACHED:
            call_id = event.data.get("call_id")
            if not call_id:
                raise TransitionError(f"{self.order_id}: call_attached names no call")
            if call_id in s.call_ids:
                raise TransitionError(f"{self.order_id}: call {call_id} is already attached")
        elif kind is EventType.CALL_DETACHED:
            call_id = event.data.get("call_id")
            if call_id not in s.call_ids:
                raise TransitionError(f"{self.order_id}: call {call_id} is not attached")
            if call_id == self.call_id:
                raise TransitionError(f"{self.order_id}: its own call {call_id} stays with it")
        elif kind is EventType.ESCALATED and not event.data.get("clock"):
            raise TransitionError(f"{self.order_id}: an escalation names its clock")

    def _check_reassign(self, event: OrderEvent, s: OrderState) -> None:
        if self.type is OrderType.REPAIR:
            if s.dispatched_at is None:
                raise TransitionError(f"{self.order_id}: dispatch the order before reassigning")
            if s.status is OrderStatus.REPAIRED:
                raise TransitionError(f"{self.order_id}: already repaired")
            if not event.crew_id:
                raise TransitionError(f"{self.order_id}: a reassignment names the new crew")
            if event.crew_id == s.crew_id:
                raise TransitionError(f"{self.order_id}: crew {event.crew_id} already has it")
        else:
            if s.status is not OrderStatus.FORWARDED:
                raise TransitionError(f"{self.order_id}: already answered")
            if not event.data.get("department"):
                raise TransitionError(f"{self.order_id}: a reassignment names the department")

    def _check_time(self, event: OrderEvent, previous: datetime | None) -> None:
        if event.at < self.first_call_at:
            raise TransitionError(
                f"{self.order_id}: {event.type.value} at {event.at.isoformat()} is before the "
                f"first call ({self.first_call_at.isoformat()})"
            )
        if previous is not None and event.at < previous:
            raise TransitionError(
                f"{self.order_id}: {event.type.value} at {event.at.isoformat()} is before the "
                f"previous step ({previous.isoformat()})"
            )

    def attach_call(self, call_id: str, at: datetime, by: str, key: str | None = None) -> WorkOrder:
        """A repeat call merged into this order (第二十四条); attaching it again is a no-op."""
        if call_id in self.state.call_ids:
            return self
        return self.record(
            OrderEvent(EventType.CALL_ATTACHED, at, by, data={"call_id": call_id}, key=key)
        )


@dataclass(frozen=True)
class OrderHead:
    """What merging a call needs to know of an order, without reading its whole log (a
    storm's incident may gather hundreds of calls)."""

    order_id: str
    type: OrderType
    first_call_at: datetime
    status: OrderStatus
    last_seq: int
    last_at: datetime | None = None  # when its log was last written (an event's time)


def call_attachment(
    head: OrderHead, call_id: str, at: datetime, by: str, *, key: str | None = None
) -> OrderEvent:
    """The event that merges a call into an order, checked as :meth:`WorkOrder.record`
    would check it (the caller has made sure the call is not attached yet)."""
    return _call_event(EventType.CALL_ATTACHED, head, call_id, at, by, {}, key)


def call_detachment(
    head: OrderHead, call_id: str, at: datetime, by: str, *, moved_to: str | None = None
) -> OrderEvent:
    """The event that takes a call off an order: a re-examination found it to be about
    another fault (``moved_to`` names that fault's order), so this order's crew and its
    callback no longer answer for it. Checked as far as the head allows (the caller has
    made sure the call is attached)."""
    extra = {"moved_to": moved_to} if moved_to else {}
    return _call_event(EventType.CALL_DETACHED, head, call_id, at, by, extra, None)


def _call_event(
    kind: EventType,
    head: OrderHead,
    call_id: str,
    at: datetime,
    by: str,
    extra: dict[str, str],
    key: str | None,
) -> OrderEvent:
    """A call's attachment or detachment, checked against the order's head alone."""
    if head.status is OrderStatus.CLOSED:
        raise TransitionError(f"{head.order_id}: closed; only notes may be added")
    if not call_id:
        raise TransitionError(f"{head.order_id}: {kind.value} names no call")
    if at < head.first_call_at:
        raise TransitionError(
            f"{head.order_id}: {kind.value} at {at.isoformat()} is before the first call "
            f"({head.first_call_at.isoformat()})"
        )
    data = {"call_id": call_id, **extra}
    return OrderEvent(kind, at, by, data=data, key=key, seq=head.last_seq + 1)


def _callback_attempt(event: OrderEvent) -> CallbackAttempt:
    data = event.data
    try:
        outcome = CallbackOutcome(str(data.get("outcome", "")))
    except ValueError:
        raise TransitionError(
            f"callback outcome must be 'success' or 'failed', not {data.get('outcome')!r}"
        ) from None
    reason = data.get("failure_reason")
    try:
        return CallbackAttempt(event.at, str(data.get("content") or ""), outcome, reason)
    except ValueError as exc:
        raise TransitionError(str(exc)) from None


def _fold(order: WorkOrder) -> OrderState:
    status = OrderStatus.NEW
    crew_id: str | None = None
    unit_id = order.unit_id
    area_class = order.area_class
    department: str | None = None
    first: dict[EventType, datetime] = {}
    closed_at: datetime | None = None
    cause: str | None = None
    close_reason: str | None = None
    last_at: datetime | None = None
    calls: list[str] = [order.call_id] if order.call_id else []
    attempts: list[CallbackAttempt] = []
    escalations: set[tuple[str, int]] = set()
    for event in order.events:
        kind = event.type
        if kind in _LIFECYCLE:
            last_at = event.at
        if kind in (
            EventType.DISPATCHED,
            EventType.ARRIVED,
            EventType.REPAIRED,
            EventType.ANSWERED,
        ):
            first.setdefault(kind, event.at)
        if kind is EventType.CREATED:
            department = event.data.get("department")
            if order.type is not OrderType.REPAIR:
                status = OrderStatus.FORWARDED
        elif kind in _STEP_STATUS:
            status = _STEP_STATUS[kind]
            if kind is EventType.DISPATCHED:
                crew_id = event.crew_id
            elif kind is EventType.CAUSE_FOUND:
                cause = event.data.get("cause")
        elif kind is EventType.REASSIGNED:
            if order.type is OrderType.REPAIR:
                crew_id = event.crew_id
                status = OrderStatus.DISPATCHED
            else:
                department = event.data.get("department")
        elif kind is EventType.TRANSFERRED:
            unit_id = str(event.data["unit_id"])
            if event.data.get("area_class"):
                area_class = AreaClass(str(event.data["area_class"]))
        elif kind is EventType.CALLBACK:
            attempts.append(_callback_attempt(event))
        elif kind is EventType.CLOSED:
            status = OrderStatus.CLOSED
            closed_at = event.at
            close_reason = event.data.get("reason")
        elif kind is EventType.CALL_ATTACHED:
            call_id = event.data.get("call_id")
            if call_id and call_id not in calls:
                calls.append(str(call_id))
        elif kind is EventType.CALL_DETACHED:
            call_id = event.data.get("call_id")
            if call_id in calls:
                calls.remove(str(call_id))
        elif kind is EventType.ESCALATED:
            escalations.add((str(event.data.get("clock")), int(event.data.get("level", 0))))
    return OrderState(
        status=status,
        crew_id=crew_id,
        unit_id=unit_id,
        area_class=area_class,
        department=department,
        dispatched_at=first.get(EventType.DISPATCHED),
        arrived_at=first.get(EventType.ARRIVED),
        repaired_at=first.get(EventType.REPAIRED),
        answered_at=first.get(EventType.ANSWERED),
        closed_at=closed_at,
        cause=cause,
        close_reason=close_reason,
        last_at=last_at,
        call_ids=tuple(calls),
        callback_attempts=tuple(attempts),
        escalations=frozenset(escalations),
    )
