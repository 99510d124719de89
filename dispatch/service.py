"""The dispatch use cases: open orders, merge calls, dispatch crews, move orders on.

Each use case runs on a :class:`DispatchRepository` (``dispatch.store``) bound to the
caller's unit of work, so the intake can open an order inside the same transaction that records
the call (a crash leaves neither), and a crew's app can post its steps with idempotency
keys. Nothing here commits, sleeps or reads the clock: every instant is passed in, so a
replay and a live shift behave the same.

Side effects on crews follow the order's log: dispatch gives the crew the job (queued if
the crew is busy), departure and arrival move it on, repair or closing frees it. The
order's log is the record; when a crew's state disagrees with it (the app posted steps
out of order), the order still records the step and the disagreement is logged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatch.clocks import AreaClass, Clock, dispatcher_board, order_clocks
from dispatch.config import ClockSettings
from dispatch.crews import Crew, CrewState, CrewStateError, CrewStatus, Job, crews_from_layer
from dispatch.orders import (
    DEFAULT_DEPARTMENTS,
    EventType,
    OrderEvent,
    OrderHead,
    OrderStatus,
    OrderType,
    TransitionError,
    WorkOrder,
    call_attachment,
    call_detachment,
    department_for,
    order_type_for,
)
from dispatch.routing import CrewEta, CrewRouter, CrewStart, RoadGraph, Route, RoutingSettings
from dispatch.workdays import WorkCalendar
from gis.crs import gcj02_to_wgs84
from layers.grid import GridData
from outages.calls import Call, CoordSys

__all__ = [
    "CrewChange",
    "DispatchContext",
    "DispatchRepository",
    "DispatchResult",
    "DispatchService",
    "DispatchSettings",
    "DuplicateKeyError",
    "UnknownCrewError",
    "UnknownOrderError",
]

logger = logging.getLogger(__name__)

AUTO = "system:auto-dispatch"


class DuplicateKeyError(ValueError):
    """An event key already used on another order: a client bug, not a retry."""


@dataclass(frozen=True)
class CrewChange:
    """One line of a crew's history: a status change, with who and why."""

    at: datetime
    actor: str
    order_id: str | None = None
    note: str | None = None


class DispatchRepository(Protocol):
    """What the dispatch use cases need from storage."""

    def add_order(self, order: WorkOrder, at: datetime) -> WorkOrder:
        """Stores a new order with its events; returns the stored one if it already exists
        (same order id, incident or source call)."""
        ...

    def get_order(self, order_id: str, *, lock: bool = False) -> WorkOrder | None: ...

    def order_for_incident(self, incident_id: str) -> WorkOrder | None: ...

    def order_head(self, order_id: str, *, lock: bool = False) -> OrderHead | None: ...

    def has_call(self, order_id: str, call_id: str) -> bool: ...

    def append_call(self, order_id: str, event: OrderEvent, at: datetime) -> OrderEvent:
        """Stores a ``call_attached`` or ``call_detached`` event (its ``seq`` set) without
        reading the log."""
        ...

    def order_for_call(self, call_id: str) -> WorkOrder | None:
        """The order a call belongs to: its ticket, or the repair order it was attached to."""
        ...

    def append_event(self, order: WorkOrder, at: datetime) -> OrderEvent:
        """Stores the order's last event (recorded by the domain) and its projection."""
        ...

    def open_orders(
        self, *, unit_id: str | None = None, types: Sequence[OrderType] | None = None
    ) -> list[WorkOrder]: ...

    def crews(self) -> list[CrewState]: ...

    def get_crew(self, crew_id: str, *, lock: bool = False) -> CrewState | None: ...

    def save_crew(self, state: CrewState, change: CrewChange | None = None) -> None: ...

    def add_position(
        self, crew_id: str, lon: float, lat: float, at: datetime, source: str | None
    ) -> None: ...

    def add_route(self, order_id: str, route: Route, at: datetime) -> None: ...

    def latest_route(self, order_id: str) -> Route | None: ...


class DispatchSettings(BaseSettings):
    """How orders are routed and crews proposed; environment ``GRIDCALL_DISPATCH_<FIELD>``.

    ``departments`` is the ticket routing table (order type to department code), JSON in
    the environment, e.g. ``{"complaint": "discipline", ...}``.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDCALL_DISPATCH_", frozen=True)

    departments: dict[str, str] = Field(
        default_factory=lambda: {str(k): v for k, v in DEFAULT_DEPARTMENTS.items()},
        description="ticket type -> department code",
    )
    expected_repair_minutes: float = Field(
        120.0, gt=0, description="how long a crew is expected to stay on a job"
    )
    cross_unit: bool = Field(
        True, description="propose another unit's crew when the responsible unit has none free"
    )
    alternatives: int = Field(3, ge=0, description="other crews listed with a proposal")


@dataclass
class DispatchContext:
    """What lives longer than a transaction: settings, the calendar, the road router, and
    the roster that seeds the crews table the first time a crew is needed."""

    settings: DispatchSettings = field(default_factory=DispatchSettings)
    clock_settings: ClockSettings = field(default_factory=ClockSettings)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    router: CrewRouter | None = None
    roster: tuple[Crew, ...] = ()

    @classmethod
    def from_grid(
        cls,
        data: GridData,
        *,
        settings: DispatchSettings | None = None,
        routing: RoutingSettings | None = None,
        clock_settings: ClockSettings | None = None,
        calendar: WorkCalendar | None = None,
    ) -> DispatchContext:
        """The context for one grid: its roads as the router, its crews layer as roster."""
        clocks = clock_settings or ClockSettings()
        return cls(
            settings=settings or DispatchSettings(),
            clock_settings=clocks,
            calendar=calendar or WorkCalendar.from_file(clocks.holidays_file),
            router=CrewRouter(RoadGraph.from_grid(data, routing)),
            roster=tuple(crews_from_layer(data.layer("crews"))),
        )


@dataclass(frozen=True)
class DispatchResult:
    """A dispatch or assignment: the order after it, the crew and its route, and why."""

    order: WorkOrder
    crew: CrewEta | None
    alternatives: tuple[CrewEta, ...]
    route: Route | None
    reason: str


class UnknownOrderError(KeyError):
    def __str__(self) -> str:
        return f"unknown work order {self.args[0]!r}"


class UnknownCrewError(KeyError):
    def __str__(self) -> str:
        return f"unknown crew {self.args[0]!r}"


def _eta_data(eta: CrewEta) -> dict[str, Any]:
    return {
        "crew_id": eta.crew_id,
        "unit_id": eta.unit_id,
        "eta_s": round(eta.eta_s, 1),
        "wait_s": round(eta.wait_s, 1),
        "travel_s": round(eta.travel_s, 1),
        "method": eta.method,
    }


class DispatchService:
    """The use cases, on one unit of work."""

    def __init__(self, repo: DispatchRepository, context: DispatchContext | None = None) -> None:
        self.repo = repo
        self.context = context or DispatchContext()

    @property
    def settings(self) -> DispatchSettings:
        return self.context.settings

    # -- opening ---------------------------------------------------------------------------

    def open_repair_order(
        self,
        incident_id: str,
        unit: str | None,
        area_class: AreaClass | str,
        first_call_at: datetime,
        location: tuple[float, float] | None,
        now: datetime,
        *,
        by: str = "intake",
        call_id: str | None = None,
        summary: str | None = None,
    ) -> WorkOrder:
        """The incident's repair order, opened now, or the one it already has (第二十四条).

        Not looked up first: the repository returns the stored order when one exists for
        the incident, so a new incident's order costs one statement, not two."""
        draft = WorkOrder.open_repair(
            incident_id,
            unit,
            AreaClass(area_class),
            first_call_at,
            now,
            by,
            location=location,
            summary=summary,
        )
        order = self.repo.add_order(draft, now)
        if call_id is None:
            return order
        event = self.attach_call(order.order_id, call_id, now, by=by)
        if event is None:
            return order
        if event.seq == len(order.events) + 1:  # nothing was written since it was read
            return replace(order, events=(*order.events, event))
        return self._order(order.order_id)

    def attach_call(
        self,
        order_id: str,
        call_id: str,
        at: datetime,
        *,
        by: str = "intake",
        key: str | None = None,
    ) -> OrderEvent | None:
        """Merges a repeat call into the order (第二十四条): one event, no new order.

        Returns the stored event, or ``None`` when the call was already attached. It reads
        the order's head only, not its log, so the 500th call of a storm's incident costs
        what the first did.
        """
        head = self.repo.order_head(order_id, lock=True)
        if head is None:
            raise UnknownOrderError(order_id)
        if self.repo.has_call(order_id, call_id):
            return None
        return self.repo.append_call(order_id, call_attachment(head, call_id, at, by, key=key), at)

    def detach_call(
        self,
        order_id: str,
        call_id: str,
        at: datetime,
        *,
        by: str = "intake",
        moved_to: str | None = None,
    ) -> OrderEvent | None:
        """Takes a call off an order: a re-examination split it off as another fault's, and
        the order of that fault (``moved_to``) takes it. Returns the stored event, or
        ``None`` when the call is not on the order or the order is closed (its log keeps
        what it held when it was closed)."""
        head = self.repo.order_head(order_id, lock=True)
        if head is None:
            raise UnknownOrderError(order_id)
        if head.status is OrderStatus.CLOSED or not self.repo.has_call(order_id, call_id):
            return None
        event = call_detachment(head, call_id, at, by, moved_to=moved_to)
        return self.repo.append_call(order_id, event, at)

    def open_ticket(
        self, call: Call, now: datetime, *, unit_id: str | None = None, by: str = "intake"
    ) -> WorkOrder | None:
        """A ticket for a non-repair call, forwarded to its department; ``None`` for
        consultations and queries, which are answered without an order. The call's ticket
        if it has one already: not looked up first, the repository returns the stored
        order for the same call (its id and call id are unique), so a ticket costs one
        statement, not two."""
        kind = order_type_for(call.category.value)
        if kind is None:
            return None
        if kind is OrderType.REPAIR:
            raise ValueError("repair calls open incidents; use open_repair_order")
        department = department_for(kind, self.settings.departments)
        draft = WorkOrder.open_ticket(
            kind,
            call.call_id,
            call.received_at,
            now,
            by,
            department=department,
            unit_id=unit_id,
            location=_call_position(call),
            summary=call.description,
        )
        return self.repo.add_order(draft, now)

    # -- dispatching -----------------------------------------------------------------------

    def auto_dispatch(self, order_id: str, now: datetime, *, by: str = AUTO) -> DispatchResult:
        """Sends the order to its unit with the crew that can be there first.

        The crews of the responsible unit first; if none of them can go (all off duty, or
        busy with no free time known), the nearest crew of any unit when ``cross_unit``.
        With no crew at all the order still goes to the unit, without a crew: the 5-minute
        dispatch commitment is to the unit. Dispatching an order twice changes nothing.
        """
        order = self._locked(order_id)
        if order.type is not OrderType.REPAIR:
            raise TransitionError(f"{order_id}: only repair orders are dispatched to crews")
        if order.status is not OrderStatus.NEW:
            return DispatchResult(
                order, None, (), self.repo.latest_route(order_id), "already dispatched"
            )
        etas, reason, starts = self._proposals(order, now)
        best = etas[0] if etas else None
        alternatives = tuple(etas[1 : 1 + self.settings.alternatives])
        data: dict[str, Any] = {"unit_id": order.current_unit_id, "reason": reason}
        if best is not None:
            data.update(_eta_data(best))
            data["alternatives"] = [_eta_data(e) for e in alternatives]
        event = OrderEvent(
            EventType.DISPATCHED, now, by, crew_id=best.crew_id if best else None, data=data
        )
        updated = order.record(event)
        updated = self._append(updated, now)
        route = None
        if best is not None:
            route = self._give_job(updated, best, starts[best.crew_id], now, by)
        return DispatchResult(updated, best, alternatives, route, reason)

    def _proposals(
        self, order: WorkOrder, now: datetime
    ) -> tuple[list[CrewEta], str, dict[str, CrewStart]]:
        router = self.context.router
        location = order.location
        if router is None or location is None:
            return [], "no location or no road network: sent to the unit without a crew", {}
        crews = self.repo.crews()
        if not crews and self.context.roster:
            self.load_roster(self.context.roster, now)
            crews = self.repo.crews()
        starts = [s for c in crews if (s := c.start(now)) is not None]
        unit = order.current_unit_id
        own = [s for s in starts if s.unit_id == unit]
        if own:
            pool, reason = own, "nearest crew of the responsible unit"
        elif starts and self.settings.cross_unit:
            pool = starts
            reason = f"no crew of unit {unit} can go: nearest crew of any unit"
        else:
            return [], f"no crew can go: sent to unit {unit} without a crew", {}
        etas = router.etas(location[0], location[1], pool)
        return etas, reason, {s.crew_id: s for s in pool}

    def assign(
        self,
        order_id: str,
        crew_id: str,
        by: str,
        at: datetime,
        *,
        reason: str | None = None,
        key: str | None = None,
    ) -> DispatchResult:
        """A dispatcher gives the order to a crew: the dispatch itself, or a reassignment.

        A busy crew may be given its next job (it is queued); an off-duty crew, or one
        that already has a queued job, may not.
        """
        order = self._locked(order_id)
        if key is not None and order.event_with_key(key) is not None:
            return DispatchResult(order, None, (), self.repo.latest_route(order_id), "retry")
        if order.type is not OrderType.REPAIR:
            raise TransitionError(f"{order_id}: tickets are forwarded to departments")
        crew = self.repo.get_crew(crew_id, lock=True)
        if crew is None:
            raise UnknownCrewError(crew_id)
        if crew.status is CrewStatus.OFF_DUTY:
            raise CrewStateError(f"crew {crew_id} is off duty")
        if crew.next_job is not None and crew.next_job.order_id != order_id:
            raise CrewStateError(f"crew {crew_id} already has a queued job")
        start = crew.start(at)
        if start is None and crew.lon is not None and crew.lat is not None:
            start = CrewStart(crew_id, crew.lon, crew.lat, 0.0, crew.unit_id)
        eta = self._eta(order, start) if start is not None else None
        data: dict[str, Any] = {"unit_id": order.current_unit_id, "manual": True}
        if reason:
            data["reason"] = reason
        if eta is not None:
            data.update(_eta_data(eta))
        previous = order.crew_id
        if order.status is OrderStatus.NEW:
            event = OrderEvent(EventType.DISPATCHED, at, by, crew_id=crew_id, data=data, key=key)
        else:
            data["from_crew_id"] = previous
            event = OrderEvent(EventType.REASSIGNED, at, by, crew_id=crew_id, data=data, key=key)
        updated = order.record(event)
        updated = self._append(updated, at)
        if previous is not None and previous != crew_id:
            self._crew_follow(
                previous, lambda c: c.released(order_id, at), at, by, order_id, "reassigned away"
            )
        used = eta or CrewEta(crew_id, crew.unit_id, 0.0, math.inf, "straight")
        route = self._give_job(updated, used, start, at, by)
        return DispatchResult(updated, eta, (), route, reason or "assigned by a dispatcher")

    def transfer(
        self,
        order_id: str,
        unit_id: str,
        at: datetime,
        by: str,
        *,
        area_class: AreaClass | str | None = None,
        reason: str | None = None,
    ) -> WorkOrder:
        """Hands a repair order to another responsible unit (转派), e.g. once the incident's
        faulted device is inferred and lies in another unit's territory. The crew, if any,
        keeps the job until the new unit's dispatcher reassigns it. No-op when nothing
        changes."""
        order = self._locked(order_id)
        try:
            new_class = AreaClass(area_class) if area_class is not None else order.state.area_class
        except ValueError:
            raise TransitionError(f"{order_id}: unknown area class {area_class!r}") from None
        if unit_id == order.current_unit_id and new_class == order.state.area_class:
            return order
        data: dict[str, Any] = {
            "unit_id": unit_id,
            "from_unit_id": order.current_unit_id,
            "area_class": new_class.value if new_class else None,
        }
        if reason:
            data["reason"] = reason
        updated = order.record(OrderEvent(EventType.TRANSFERRED, at, by, data=data))
        return self._append(updated, at)

    def _eta(self, order: WorkOrder, start: CrewStart) -> CrewEta | None:
        router, location = self.context.router, order.location
        if router is None or location is None:
            return None
        return router.etas(location[0], location[1], [start])[0]

    def _give_job(
        self,
        order: WorkOrder,
        eta: CrewEta,
        start: CrewStart | None,
        at: datetime,
        by: str,
    ) -> Route | None:
        """The crew takes (or queues) the job; its route is stored for the map."""
        location = order.location
        route = None
        router = self.context.router
        if router is not None and location is not None and start is not None:
            route = router.route(start, location[0], location[1])
            self.repo.add_route(order.order_id, route, at)
        job = Job(order.order_id, *(location if location else (None, None)))
        free_at = None
        if math.isfinite(eta.eta_s):
            free_at = at + timedelta(
                seconds=eta.eta_s, minutes=self.settings.expected_repair_minutes
            )
        self._crew_follow(
            eta.crew_id,
            lambda c: c.dispatched(job, at, free_at),
            at,
            by,
            order.order_id,
            "dispatched",
        )
        return route

    # -- lifecycle -------------------------------------------------------------------------

    def record(
        self,
        order_id: str,
        kind: EventType,
        at: datetime,
        by: str,
        *,
        data: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> WorkOrder:
        """Appends one lifecycle event after checking it; a retried key changes nothing."""
        if kind in (
            EventType.CREATED,
            EventType.DISPATCHED,
            EventType.REASSIGNED,
            EventType.TRANSFERRED,
        ):
            raise TransitionError(
                f"use open_*, auto_dispatch, assign, forward or transfer for {kind.value}"
            )
        return self._record(self._locked(order_id), kind, at, by, data=data, key=key)

    def _record(
        self,
        order: WorkOrder,
        kind: EventType,
        at: datetime,
        by: str,
        *,
        data: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> WorkOrder:
        """:meth:`record` on an order already read under lock."""
        if key is not None and order.event_with_key(key) is not None:
            return order
        crew_id = order.crew_id if order.type is OrderType.REPAIR else None
        event = OrderEvent(kind, at, by, crew_id=crew_id, data=data or {}, key=key)
        updated = order.record(event)
        updated = self._append(updated, at)
        if crew_id is not None:
            self._crew_after(updated, kind, crew_id, at, by)
        return updated

    def _crew_after(
        self, order: WorkOrder, kind: EventType, crew_id: str, at: datetime, by: str
    ) -> None:
        oid = order.order_id
        if kind is EventType.DEPARTED:
            self._crew_follow(crew_id, lambda c: c.departed(oid, at), at, by, oid, "departed")
        elif kind is EventType.ARRIVED:
            free_at = at + timedelta(minutes=self.settings.expected_repair_minutes)
            self._crew_follow(
                crew_id, lambda c: c.arrived(oid, at, free_at), at, by, oid, "arrived"
            )
        elif kind in (EventType.REPAIRED, EventType.CLOSED):
            self._crew_follow(crew_id, lambda c: c.released(oid, at), at, by, oid, kind.value)

    def accept(self, order_id: str, at: datetime, by: str, *, key: str | None = None) -> WorkOrder:
        return self.record(order_id, EventType.ACCEPTED, at, by, key=key)

    def depart(self, order_id: str, at: datetime, by: str, *, key: str | None = None) -> WorkOrder:
        return self.record(order_id, EventType.DEPARTED, at, by, key=key)

    def arrive(self, order_id: str, at: datetime, by: str, *, key: str | None = None) -> WorkOrder:
        return self.record(order_id, EventType.ARRIVED, at, by, key=key)

    def find_cause(
        self, order_id: str, cause: str, at: datetime, by: str, *, key: str | None = None
    ) -> WorkOrder:
        return self.record(order_id, EventType.CAUSE_FOUND, at, by, data={"cause": cause}, key=key)

    def repaired(
        self,
        order_id: str,
        at: datetime,
        by: str,
        *,
        note: str | None = None,
        key: str | None = None,
    ) -> WorkOrder:
        data = {"note": note} if note else None
        return self.record(order_id, EventType.REPAIRED, at, by, data=data, key=key)

    def answer(
        self, order_id: str, content: str, at: datetime, by: str, *, key: str | None = None
    ) -> WorkOrder:
        """The department's answer to a ticket (stops the reply clock, 第二十六条)."""
        return self.record(order_id, EventType.ANSWERED, at, by, data={"content": content}, key=key)

    def forward(
        self, order_id: str, department: str, at: datetime, by: str, *, reason: str | None = None
    ) -> WorkOrder:
        """Sends a ticket to another department (a wrong first routing)."""
        order = self._locked(order_id)
        event = OrderEvent(
            EventType.REASSIGNED, at, by, data={"department": department, "reason": reason}
        )
        updated = order.record(event)
        updated = self._append(updated, at)
        return updated

    def callback(
        self,
        order_id: str,
        at: datetime,
        by: str,
        *,
        content: str,
        success: bool,
        failure_reason: str | None = None,
        key: str | None = None,
    ) -> WorkOrder:
        """One callback attempt (回访), recorded with time, content and failure reason."""
        data = {
            "content": content,
            "outcome": "success" if success else "failed",
            "failure_reason": failure_reason,
        }
        return self.record(order_id, EventType.CALLBACK, at, by, data=data, key=key)

    def close(
        self,
        order_id: str,
        at: datetime,
        by: str,
        *,
        reason: str | None = None,
        key: str | None = None,
    ) -> WorkOrder:
        return self.record(order_id, EventType.CLOSED, at, by, data={"reason": reason}, key=key)

    def note(
        self, order_id: str, text: str, at: datetime, by: str, *, key: str | None = None
    ) -> WorkOrder:
        return self.record(order_id, EventType.NOTE, at, by, data={"text": text}, key=key)

    def merge_orders(
        self, absorbed_id: str, into_id: str, at: datetime, *, by: str = "intake"
    ) -> None:
        """Two incidents turned out to be one fault: the absorbed order is closed and its
        calls are attached to the surviving order (第二十四条). Returns nothing: the
        survivor of a storm's incident has a long log, and the intake does not read it."""
        if absorbed_id == into_id:
            return
        absorbed = self._locked(absorbed_id)
        # One attachment per call through the repository's batched path: a storm's merge
        # may move hundreds of calls, and replaying the survivor's log for each was the
        # slowest step of a large replay.
        for call_id in absorbed.state.call_ids:
            self.attach_call(into_id, call_id, at, by=by)
        if absorbed.is_open:  # still as read above: attaching wrote to the survivor only
            reason = {"reason": f"merged into {into_id}"}
            self._record(absorbed, EventType.CLOSED, at, by, data=reason)

    # -- clocks ----------------------------------------------------------------------------

    def clocks(self, order: WorkOrder, now: datetime) -> tuple[Clock, ...]:
        facts = order.facts()
        if facts is None:
            return ()
        ctx = self.context
        return order_clocks(facts, now, ctx.clock_settings, ctx.calendar)

    def board(
        self, now: datetime, *, unit_id: str | None = None, within: timedelta = timedelta(hours=1)
    ) -> list[Clock]:
        """The dispatcher's board: open clocks in warning, overdue, or due soon."""
        facts = [f for o in self.repo.open_orders(unit_id=unit_id) if (f := o.facts()) is not None]
        ctx = self.context
        return dispatcher_board(facts, now, ctx.clock_settings, ctx.calendar, within=within)

    def escalate_due(self, now: datetime, *, by: str = "system:clocks") -> list[Clock]:
        """Records an escalation event the first time each clock reaches each level."""
        raised: list[Clock] = []
        for order in self.repo.open_orders():
            for clock in self.clocks(order, now):
                level = int(clock.escalation)
                if not clock.is_open or level == 0:
                    continue
                if (clock.kind.value, level) in order.state.escalations:
                    continue
                self.record(
                    order.order_id,
                    EventType.ESCALATED,
                    now,
                    by,
                    data={
                        "clock": clock.kind.value,
                        "level": level,
                        "deadline": clock.deadline.isoformat(),
                    },
                    key=f"escalate:{order.order_id}:{clock.kind.value}:{level}",
                )
                raised.append(clock)
        return raised

    # -- crews -----------------------------------------------------------------------------

    def load_roster(self, roster: Iterable[Crew], at: datetime, *, by: str = "roster") -> int:
        """Adds crews that are new (available at their base); updates the roster details of
        known ones without touching their state. Returns the number of new crews."""
        added = 0
        for crew in roster:
            state = self.repo.get_crew(crew.crew_id, lock=True)
            if state is None:
                self.repo.save_crew(CrewState.at_base(crew, at), CrewChange(at, by, note="roster"))
                added += 1
            elif state.crew != crew:  # members named since are kept if the roster has none
                members = crew.members or state.crew.members
                self.repo.save_crew(replace(state, crew=replace(crew, members=members)))
        return added

    def crew_position(
        self, crew_id: str, lon: float, lat: float, at: datetime, *, source: str | None = "gps"
    ) -> CrewState:
        crew = self._crew(crew_id)
        self.repo.add_position(crew_id, lon, lat, at, source)
        moved = crew.moved(lon, lat, at)
        if moved is not crew:
            self.repo.save_crew(moved)
        return moved

    def crew_off_duty(self, crew_id: str, at: datetime, by: str) -> CrewState:
        crew = self._crew(crew_id).off_duty(at)
        self.repo.save_crew(crew, CrewChange(at, by, note="off duty"))
        return crew

    def crew_on_duty(self, crew_id: str, at: datetime, by: str) -> CrewState:
        crew = self._crew(crew_id).on_duty(at)
        self.repo.save_crew(crew, CrewChange(at, by, note="on duty"))
        return crew

    def crew_members(
        self, crew_id: str, members: Sequence[str], at: datetime, by: str
    ) -> CrewState:
        crew = self._crew(crew_id).with_members(tuple(members), at)
        self.repo.save_crew(crew, CrewChange(at, by, note=f"members: {', '.join(members)}"))
        return crew

    def _crew(self, crew_id: str) -> CrewState:
        crew = self.repo.get_crew(crew_id, lock=True)
        if crew is None:
            raise UnknownCrewError(crew_id)
        return crew

    def _crew_follow(
        self,
        crew_id: str,
        change: Any,
        at: datetime,
        by: str,
        order_id: str,
        note: str,
    ) -> None:
        crew = self.repo.get_crew(crew_id, lock=True)
        if crew is None:
            logger.warning("order %s names crew %s, which is not on the roster", order_id, crew_id)
            return
        try:
            after: CrewState = change(crew)
        except CrewStateError as exc:
            logger.warning("order %s: crew %s not updated: %s", order_id, crew_id, exc)
            return
        if after != crew:
            self.repo.save_crew(after, CrewChange(at, by, order_id, note))

    # -- helpers ---------------------------------------------------------------------------

    def _append(self, order: WorkOrder, at: datetime) -> WorkOrder:
        """Stores the order's new last event; the order as stored (with its record time)."""
        stored = self.repo.append_event(order, at)
        return replace(order, events=(*order.events[:-1], stored))

    def _order(self, order_id: str) -> WorkOrder:
        order = self.repo.get_order(order_id)
        if order is None:
            raise UnknownOrderError(order_id)
        return order

    def _locked(self, order_id: str) -> WorkOrder:
        order = self.repo.get_order(order_id, lock=True)
        if order is None:
            raise UnknownOrderError(order_id)
        return order


def _call_position(call: Call) -> tuple[float, float] | None:
    """A caller's phone position in WGS84 (GCJ-02 converted), if the call gave one."""
    if call.lon is None or call.lat is None:
        return None
    if call.coord_sys is CoordSys.GCJ02:
        return gcj02_to_wgs84(call.lon, call.lat)
    return call.lon, call.lat
