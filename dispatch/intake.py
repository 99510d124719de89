"""The intake: every call goes through here, live from an agent or replayed from a file.

One call, in one database transaction: the intake lock is taken (see :mod:`outages.store`),
the call is checked and answered once (a repeated ``call_id`` or idempotency key returns the
first answer), located, checked against published outages, grouped with the calls of the
same fault, given to the responsible unit as a work order (a new one, or the incident's
existing one), and written. The replay runs exactly this, with several calls per
transaction for speed; the live intake commits each call before it answers.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from dispatch.clocks import AreaClass
from dispatch.orders import TransitionError
from dispatch.service import DispatchContext, DispatchService
from dispatch.store import BufferedDispatchRepository, HeldOrderConflictError
from gis.db import write_transaction
from layers.grid import GridData
from layers.network import NetworkModel
from layers.units import ResponsibleUnits
from outages import store
from outages.calls import POWER_PRESENT, Call, Category, Rejection, parse_call, sighting
from outages.config import GroupingSettings
from outages.grouping import (
    CONFIRMED,
    MERGED,
    NEW,
    Decision,
    GroupingEngine,
    Incident,
    Observation,
)
from outages.locate.locator import Locator
from outages.locate.model import Location, Method

logger = logging.getLogger(__name__)

T = TypeVar("T")

TICKET_CATEGORIES = frozenset(
    {
        Category.COMPLAINT,
        Category.REPORT,
        Category.NEW_CONNECTION,
        Category.SUGGESTION,
        Category.PRAISE,
    }
)
CONSULT_CATEGORIES = frozenset({Category.CONSULT, Category.QUERY})


@dataclass
class IntakeServices:
    """What the intake needs that lives as long as the process: built once at start-up."""

    data: GridData
    model: NetworkModel
    locator: Locator
    units: ResponsibleUnits
    grouping: GroupingSettings = field(default_factory=GroupingSettings)
    dispatch: DispatchContext = field(default_factory=DispatchContext)

    @classmethod
    def build(cls, data: GridData, model: NetworkModel, **kwargs: Any) -> IntakeServices:
        kwargs.setdefault("dispatch", DispatchContext.from_grid(data))
        data.index_elements()
        return cls(data, model, Locator(data, model), ResponsibleUnits(data, model), **kwargs)


def _answer(
    call_id: str | None,
    status: str,
    *,
    reason: str,
    incident_id: str | None = None,
    work_order_id: str | None = None,
    device: str | None = None,
    unit_id: str | None = None,
    location: Location | None = None,
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "status": status,
        "incident_id": incident_id,
        "work_order_id": work_order_id,
        "predicted_device_id": device,
        "unit_id": unit_id,
        "location": location.contract_dict() if location is not None else None,
        "reason": reason,
    }


@dataclass(frozen=True)
class ReadyCall:
    """A row parsed and located ahead of its turn. Locating asks the network alone, not
    the calls before it, so a replay has it done in a second process (see
    :mod:`dispatch.replay`) while the intake groups the calls before."""

    parsed: Call | Rejection
    location: Location | None  # None for a rejected row


def ready_call(locator: Locator, row: dict[str, Any], row_number: int | None) -> ReadyCall:
    parsed = parse_call(row, row_number)
    return ReadyCall(parsed, None if isinstance(parsed, Rejection) else locator.locate(parsed))


def observation(call: Call, location: Location, settings: GroupingSettings) -> Observation:
    """The grouping's view of a located call: its candidate transformers with likelihoods."""
    weights: dict[str, float] = {}
    if location.transformer_id and location.confidence >= settings.certain_likelihood:
        weights[location.transformer_id] = 1.0
    else:
        for c in location.candidates:
            if c.transformer_id:
                weights[c.transformer_id] = weights.get(c.transformer_id, 0.0) + c.likelihood
        if not weights and location.transformer_id:
            weights[location.transformer_id] = max(location.confidence, 0.05)
    total = sum(weights.values())
    candidates = (
        tuple(sorted(((t, w / total) for t, w in weights.items()), key=lambda x: -x[1]))
        if total > 0
        else ()
    )
    customer = location.service_point_id if location.method in (Method.ACCOUNT,) else None
    if customer is None and call.account_no:
        customer = f"account:{call.account_no}"
    return Observation(
        call_id=call.call_id,
        at=call.received_at,
        candidates=candidates[:6],
        customer=customer,
        phone=call.caller_phone,
        lon=location.lon,
        lat=location.lat,
        power_present=call.symptom in POWER_PRESENT,
        sighting=sighting(call.symptom, call.description),
    )


class Intake:
    """Answers calls. ``batch`` calls share one transaction (1 for the live intake)."""

    def __init__(
        self,
        engine: Engine,
        services: IntakeServices,
        *,
        auto_dispatch: bool = False,
        taken_by: str | None = None,
    ) -> None:
        self.db = engine
        self.services = services
        self.auto_dispatch = auto_dispatch
        self.taken_by = taken_by
        self.grouping = GroupingEngine(
            services.model, services.grouping, new_id=self._new_incident_id
        )
        self._version = -1
        self._seq = 0
        self._answers: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, dict[str, Any]] = {}
        self._orders: dict[str, str] = {}  # incident id -> work order id
        self._units: dict[str, tuple[str | None, str]] = {}
        # what this transaction changed in _units, to put back if it is run again
        self._units_undo: list[tuple[str, tuple[str | None, str] | None]] = []
        self._device_units: dict[str, tuple[str | None, str]] = {}  # device -> unit, area
        self._member_rows = store.MemberRows()
        # per-call timings in milliseconds, when a benchmark asks for them
        self.timings: dict[str, list[float]] | None = None
        self._notices: list[dict[str, Any]] = []

    # -- ids and state ---------------------------------------------------------------------

    def _set_unit(self, key: str, value: tuple[str | None, str]) -> None:
        self._units_undo.append((key, self._units.get(key)))
        self._units[key] = value

    def _new_incident_id(self) -> str:
        self._seq += 1
        return f"INC{self._seq:06d}"

    def _sync(self, conn: Connection) -> None:
        """Under the intake lock: reload the open incidents if another process moved on."""
        version, seq = store.lock_intake(conn)
        if version != self._version:
            self._reload(conn)
        self._version = version
        self._seq = max(self._seq, seq)
        # published notices are few: read once per transaction, matched per call in memory
        self._notices = store.published_notices(conn)

    def _reload(self, conn: Connection) -> None:
        fresh = GroupingEngine(
            self.services.model,
            self.services.grouping,
            new_id=self._new_incident_id,
            tree=self.grouping.tree,
        )
        for inc in store.load_intake_incidents(conn):
            fresh.adopt(inc)
        fresh.recall_recent()
        fresh.examine_later(self.grouping.pending_examinations())
        self.grouping = fresh
        self._member_rows.clear()
        self._answers = store.known_call_ids(conn)
        self._orders = store.incident_orders(conn)

    # -- the call ----------------------------------------------------------------------------

    def take(
        self,
        row: dict[str, Any],
        *,
        row_number: int | None = None,
        idempotency_key: str | None = None,
        sweep: bool = True,
    ) -> dict[str, Any]:
        """The live intake: one call, one transaction, committed before the answer. Then,
        with ``sweep``, the re-examination of the open incidents that the call made due, in
        a transaction of its own; a server answers first and calls :meth:`sweep` after."""
        answer = self._transaction(
            lambda conn, pending: self._take(conn, row, row_number, idempotency_key, pending)
        )
        if sweep:
            try:
                self.sweep()
            except Exception:
                # the call is stored and its answer stands; the incidents are read again
                logger.exception("re-examining the open incidents after call %s", answer["call_id"])
        return answer

    def sweep(self, now: datetime | None = None) -> None:
        """Runs the re-examination left by the calls taken, or asked for at ``now`` (see
        ``GroupingEngine.sweep``), when one is due. Should it fail, the open incidents are
        read again from the database at the next transaction (the memory may be ahead of
        it)."""
        if not self.grouping.sweep_due(now):
            return
        try:
            self._transaction(lambda _conn, pending: self._sweep(pending, now))
        except Exception:
            self._version = -1
            raise

    def take_many(
        self,
        rows: Iterable[tuple[int | None, dict[str, Any]]],
        *,
        batch: int = 500,
        ready: Iterable[ReadyCall] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The replay: the same path, ``batch`` calls per transaction. ``ready``: the rows
        parsed and located already, one per row in the same order (see :func:`ready_call`)."""
        ahead: Iterator[ReadyCall | None] = iter(ready) if ready is not None else repeat(None)
        buffer: list[tuple[int | None, dict[str, Any], ReadyCall | None]] = []
        for n, row in rows:
            buffer.append((n, row, next(ahead)))
            if len(buffer) >= batch:
                yield from self._take_batch(buffer)
                buffer = []
        if buffer:
            yield from self._take_batch(buffer)

    def _take_batch(
        self, items: list[tuple[int | None, dict[str, Any], ReadyCall | None]]
    ) -> list[dict[str, Any]]:
        def work(conn: Connection, pending: _Pending) -> list[dict[str, Any]]:
            answers = []
            for n, row, ready in items:
                answers.append(self._take(conn, row, n, None, pending, ready))
                self._sweep(pending)
            return answers

        return self._transaction(work)

    def _transaction(self, work: Callable[[Connection, _Pending], T]) -> T:
        """``work`` in one transaction with everything it leaves to write.

        New orders are held and written at the end with the rest (see
        :class:`BufferedDispatchRepository`). Should one of them be stored already, the
        transaction rolls back; what it changed in memory is forgotten (the open incidents
        and answers are read again) and it runs once more, each new order written at once."""
        seq = self._seq
        self._units_undo = []
        pending: _Pending | None = None
        try:
            with write_transaction(self.db) as conn:
                self._sync(conn)
                pending = _Pending(BufferedDispatchRepository(conn, hold_orders=True))
                result = work(conn, pending)
                self._write(conn, pending)
            return result
        except HeldOrderConflictError:
            logger.warning("a held new order was stored already: the transaction runs again")
            self._seq = seq
            for unit_key, old in reversed(self._units_undo):
                if old is None:
                    self._units.pop(unit_key, None)
                else:
                    self._units[unit_key] = old
            for key in pending.keys if pending is not None else ():
                self._keys.pop(key, None)
            self._version = -1  # reload the open incidents, answers and orders
        with write_transaction(self.db) as conn:
            self._sync(conn)
            pending = _Pending(BufferedDispatchRepository(conn))
            result = work(conn, pending)
            self._write(conn, pending)
        return result

    def _take(
        self,
        conn: Connection,
        row: dict[str, Any],
        row_number: int | None,
        key: str | None,
        pending: _Pending,
        ready: ReadyCall | None = None,
    ) -> dict[str, Any]:
        started = time.perf_counter() if self.timings is not None else 0.0
        try:
            return self._take_timed(conn, row, row_number, key, pending, ready)
        finally:
            if self.timings is not None:
                self.timings.setdefault("call", []).append((time.perf_counter() - started) * 1000)

    def _take_timed(
        self,
        conn: Connection,
        row: dict[str, Any],
        row_number: int | None,
        key: str | None,
        pending: _Pending,
        ready: ReadyCall | None,
    ) -> dict[str, Any]:
        parsed = ready.parsed if ready is not None else parse_call(row, row_number)
        call_id = parsed.call_id
        if key is not None and key in self._keys:
            return self._keys[key]
        if call_id is not None and call_id in self._answers:
            return self._answers[call_id]
        if key is not None:
            hit = store.stored_answer(conn, None, key)
            if hit is not None:
                return hit
        if isinstance(parsed, Rejection):
            where = f"row {row_number}: " if row_number is not None else ""
            answer = _answer(call_id, "rejected", reason=f"{where}{parsed.reason}")
            self._remember(answer, key, pending, None, None, row)
            return answer
        call = parsed
        location = (
            ready.location
            if ready is not None and ready.location is not None
            else self.services.locator.locate(call)
        )
        if call.category in CONSULT_CATEGORIES:
            unit = self._unit_for(location, None)
            answer = _answer(
                call.call_id,
                "consult",
                reason=f"{call.category.value}: answered by the agent, no order",
                unit_id=unit[0],
                location=location,
            )
        elif call.category in TICKET_CATEGORIES:
            answer = self._ticket(pending, call, location)
        else:
            answer = self._repair(conn, call, location, pending)
        if call.notes:
            answer["reason"] += "; " + "; ".join(call.notes)
        self._remember(answer, key, pending, call, location, row)
        return answer

    def _remember(
        self,
        answer: dict[str, Any],
        key: str | None,
        pending: _Pending,
        call: Call | None,
        location: Location | None,
        row: dict[str, Any],
    ) -> None:
        call_id = answer["call_id"]
        if call_id is not None:
            self._answers[call_id] = answer
            pending.calls.append(self._call_row(answer, key, call, location, row))
        if key is not None:
            self._keys[key] = answer
            pending.keys.append(key)

    def _unit_for(self, location: Location | None, device: str | None) -> tuple[str | None, str]:
        if device is not None:
            known = self._device_units.get(device)
            if known is None:
                hit = self.services.data.element_location(device)
                if hit is not None:  # placed by the device alone: the same answer every time
                    r = self.services.units.responsible(hit[0], hit[1], device)
                    known = self._device_units[device] = (r.unit_id, r.area_class)
            if known is not None:
                return known
        lon, lat = (location.lon, location.lat) if location is not None else (None, None)
        r = self.services.units.responsible(lon, lat, device)
        return r.unit_id, r.area_class

    def _unit_of_the_storm(self, at: datetime) -> tuple[str | None, str]:
        """The unit for a call placed nowhere: the one most of the last minutes' located
        calls went to (a storm calls from where it struck), else the layers' answer (the
        unit serving the most customers)."""
        votes: Counter[tuple[str | None, str]] = Counter()
        for inc_id, n in self.grouping.recent_outages(at).items():
            held = self._units.get(inc_id)
            if held is not None and held[0] is not None:
                votes[held] += n
        if votes:
            return max(votes.items(), key=lambda kv: (kv[1], kv[0][0] or ""))[0]
        return self._unit_for(None, None)

    def _ticket(self, pending: _Pending, call: Call, location: Location) -> dict[str, Any]:
        unit, _area = self._unit_for(location, None)
        service = DispatchService(pending.repo, self.services.dispatch)
        order = service.open_ticket(
            call, call.received_at, unit_id=unit, by=self.taken_by or "intake"
        )
        order_id = order.order_id if order is not None else None
        return _answer(
            call.call_id,
            "ticket",
            reason=f"{call.category.value} ticket forwarded",
            work_order_id=order_id,
            unit_id=unit,
            location=location,
        )

    def _repair(
        self, conn: Connection, call: Call, location: Location, pending: _Pending
    ) -> dict[str, Any]:
        obs = observation(call, location, self.services.grouping)
        notice = self._planned(call, obs)
        if notice is not None:
            unit, _ = self._unit_for(location, None)
            return _answer(
                call.call_id,
                "known_outage",
                unit_id=unit,
                location=location,
                reason=f"planned outage notice {notice['id']} "
                f"({notice['start']:%m-%d %H:%M}–{notice['end']:%m-%d %H:%M}): "
                f"{notice.get('reason') or 'scheduled work'}",
            )
        started = time.perf_counter()
        decision = self.grouping.process(obs, sweep=False)
        if self.timings is not None:
            self.timings.setdefault("grouping", []).append((time.perf_counter() - started) * 1000)
        inc = self.grouping.incidents[decision.incident_id]
        status = decision.status
        reason = decision.reason
        if status == MERGED and (decision.known or inc.state == CONFIRMED):
            status = "known_outage"
            reason = f"known outage ({inc.state}): {reason}"
        if inc.device is None and (location.lon is None or location.lat is None):
            unit, area = self._unit_of_the_storm(call.received_at)
        else:
            unit, area = self._unit_for(location, inc.device)
        self._set_unit(inc.id, (unit, area))
        order_id = self._orders_for(conn, pending, call, decision, inc, unit, area, location)
        if decision.customer_side_suspect:
            reason += (
                "; a lone call so far: if its neighbours stay quiet it may be the "
                "customer's own wiring (article 22)"
            )
        pending.touch(decision)
        return _answer(
            call.call_id,
            status,
            reason=reason,
            incident_id=inc.id,
            work_order_id=order_id,
            device=inc.device,
            unit_id=unit,
            location=location,
        )

    def _planned(self, call: Call, obs: Observation) -> dict[str, Any] | None:
        """The published notice in effect now whose area holds the call's likeliest
        transformer."""
        if not obs.candidates:
            return None
        best, at = obs.candidates[0][0], call.received_at
        for notice in self._notices:
            if notice["start"] <= at <= notice["end"] and best in (
                notice.get("affected_transformers") or ()
            ):
                return notice
        return None

    def _orders_for(
        self,
        conn: Connection,
        pending: _Pending,
        call: Call,
        decision: Decision,
        inc: Incident,
        unit: str | None,
        area: str,
        location: Location,
    ) -> str:
        service = DispatchService(pending.repo, self.services.dispatch)
        by = self.taken_by or "intake"
        # Calls reach the intake out of order (across agents, or typed in late): an event
        # is never dated before the first call of the order it is written to.
        at = max(call.received_at, inc.opened_at)

        def when(order_id: str) -> datetime:
            head = pending.repo.order_head(order_id)
            if head is None:
                return at
            return max(at, head.first_call_at, head.last_at or at)

        position = (
            (location.lon, location.lat)
            if location.lon is not None and location.lat is not None
            else None
        )
        survivor_order = self._orders.get(inc.id)
        for absorbed in decision.absorbed:
            old = self._orders.get(absorbed)
            if old is None:
                continue
            if survivor_order is None:
                # the survivor never had an order of its own: it takes the absorbed one's
                survivor_order = old
                self._orders[inc.id] = old
                continue
            _merge_orders(
                pending, service, old, survivor_order, max(when(old), when(survivor_order)), by
            )
        if survivor_order is None:
            order = service.open_repair_order(
                inc.id,
                unit,
                AreaClass(area),
                inc.onset,
                position,
                max(at, inc.onset),
                by=by,
                call_id=call.call_id,
                summary=f"incident {inc.id} at {inc.device}",
            )
            survivor_order = order.order_id
            self._orders[inc.id] = survivor_order
            if self.auto_dispatch:
                try:
                    with pending.repo.savepoint():  # a failed proposal must not lose the call
                        service.auto_dispatch(survivor_order, at)
                except Exception:
                    logger.exception("auto-dispatch of %s failed", survivor_order)
        else:
            service.attach_call(survivor_order, call.call_id, when(survivor_order), by=by)
            previous = self._units.get(f"order:{survivor_order}")
            if previous is not None and unit is not None and previous[0] != unit:
                # the inferred device moved into another unit's territory: 转派
                try:
                    with pending.repo.savepoint():
                        service.transfer(
                            survivor_order,
                            unit,
                            when(survivor_order),
                            by,
                            area_class=area,
                            reason=f"faulted device now inferred at {inc.device}",
                        )
                except TransitionError:
                    logger.exception("transferring order %s to %s", survivor_order, unit)
        if unit is not None:
            self._set_unit(f"order:{survivor_order}", (unit, area))
        self._write_parts(pending, decision.split_into, at, by, f" (split from {inc.id})")
        return survivor_order

    def _sweep(self, pending: _Pending, now: datetime | None = None) -> None:
        started = time.perf_counter()
        swept = self.grouping.sweep(now)
        if swept is None:
            return
        self._write_parts(pending, swept.split, swept.at, self.taken_by or "intake")
        self._merge_late(pending, swept.at, self.taken_by or "intake")
        pending.incidents.update(swept.flagged)
        if self.timings is not None:
            self.timings.setdefault("sweep", []).append((time.perf_counter() - started) * 1000)

    def _write_parts(
        self, pending: _Pending, split: list[str], at: datetime, by: str, note: str = ""
    ) -> None:
        """Incidents split off others (in a call, a sweep, the settling at the end) get
        their orders; they, the incidents they were cut from and those that took them over
        are written."""
        if not split:
            return
        service = DispatchService(pending.repo, self.services.dispatch)
        self._open_parts(service, split, at, by, note or " (re-examined)")
        pending.incidents.update(split)
        for part_id in split:
            part = self.grouping.incidents[part_id]
            pending.incidents.add(self.grouping.survivor(part).id)
            if part.split_from is not None:
                pending.incidents.add(part.split_from)

    def _merge_late(self, pending: _Pending, at: datetime, by: str) -> None:
        """Incidents a re-examination merged into others (not a call): their orders go
        into the survivors', and both incidents are written."""
        merges = self.grouping.take_merges()
        if not merges:
            return
        service = DispatchService(pending.repo, self.services.dispatch)
        for merged_id, into_id in merges:
            into = self.grouping.survivor(self.grouping.incidents[into_id])
            pending.incidents.update((merged_id, into.id))
            old, survivor_order = self._orders.get(merged_id), self._orders.get(into.id)
            if old is None or survivor_order is None or old == survivor_order:
                continue
            _merge_orders(pending, service, old, survivor_order, at, by)

    def _open_parts(
        self,
        service: DispatchService,
        part_ids: Iterable[str],
        at: datetime,
        by: str,
        note: str = "",
    ) -> None:
        """Incidents split off another get orders of their own, holding their calls; a part
        handed over to the outage above it (still open) adds its calls to that one's order."""
        for part_id in part_ids:
            part = self.grouping.incidents[part_id]
            part_at = max(at, part.opened_at, part.onset)
            holder = self.grouping.survivor(part)
            if holder is not part:
                order_id = self._orders.get(holder.id)
                if order_id is not None:
                    self._move_calls(service, part, order_id, part_at, by)
                continue
            unit, area = self._unit_for(None, part.device)
            order = service.open_repair_order(
                part.id,
                unit,
                AreaClass(area),
                part.onset,
                None,
                part_at,
                by=by,
                summary=f"incident {part.id} at {part.device}{note}",
            )
            self._orders[part.id] = order.order_id
            self._set_unit(part.id, (unit, area))
            self._move_calls(service, part, order.order_id, part_at, by)

    def _move_calls(
        self, service: DispatchService, part: Incident, order_id: str, at: datetime, by: str
    ) -> None:
        """The calls of a part split off an incident go to ``order_id`` and leave the order
        of the incident they were cut from: that order's crew and callback answer for its
        own fault's calls only."""
        source = self._orders.get(part.split_from) if part.split_from is not None else None
        for cid in part.members:
            if source is not None and source != order_id:
                service.detach_call(source, cid, at, by=by, moved_to=order_id)
            service.attach_call(order_id, cid, at, by=by)

    # -- writing -----------------------------------------------------------------------------

    def _call_row(
        self,
        answer: dict[str, Any],
        key: str | None,
        call: Call | None,
        location: Location | None,
        row: dict[str, Any],
    ) -> dict[str, Any]:
        base: dict[str, Any] = (
            call.as_row()
            if call is not None
            else {
                k: (str(row.get(k)) if row.get(k) not in (None, "") else None)
                for k in (
                    "source",
                    "category",
                    "caller_phone",
                    "caller_name",
                    "account_no",
                    "pole_no",
                    "address",
                    "coord_sys",
                    "symptom",
                    "description",
                )
            }
        )
        base.pop("call_id", None)
        base["received_at"] = call.received_at if call is not None else None
        for k in ("lon", "lat"):
            v = base.get(k)
            base[k] = float(v) if isinstance(v, (int, float)) else None
        loc = None
        if location is not None:
            loc = {
                **(answer["location"] or location.contract_dict()),
                "evidence": list(location.evidence),
                "reason": location.reason,
                "candidates": [
                    {
                        "transformer_id": c.transformer_id,
                        "service_point_id": c.service_point_id,
                        "likelihood": round(c.likelihood, 4),
                        "lon": c.lon,
                        "lat": c.lat,
                        "method": c.method.value,
                        "evidence": list(c.evidence),
                    }
                    for c in location.candidates[:8]
                ],
            }
        return {
            **base,
            "call_id": answer["call_id"],
            "status": answer["status"],
            "incident_id": answer["incident_id"],
            "work_order_id": answer["work_order_id"],
            "unit_id": answer["unit_id"],
            "feeder": None,
            "location": loc,
            "answer": answer,
            "idempotency_key": key,
            "taken_by": self.taken_by,
            "created_at": datetime.now(UTC),
        }

    def _write(self, conn: Connection, pending: _Pending) -> None:
        pending.repo.flush()
        now = datetime.now(UTC)
        rows = []
        for inc_id in sorted(pending.incidents):
            inc = self.grouping.incidents[inc_id]
            unit, area = self._units.get(inc_id, (None, "rural"))
            rows.append(
                store.incident_row(
                    inc,
                    now,
                    {
                        "unit_id": unit,
                        "area_class": area,
                        "work_order_id": self._orders.get(inc_id),
                        "affected_customers": (
                            self.grouping.tree.customers(inc.device) if inc.device else None
                        ),
                    },
                    self._member_rows,
                )
            )
        store.insert_calls(conn, pending.calls)
        store.upsert_incidents(conn, rows)
        store.insert_events(conn, pending.events)
        self._version += 1
        store.bump_intake(conn, self._version, self._seq)

    # -- the end of a replay -------------------------------------------------------------

    def settle(self, now: datetime) -> list[str]:
        """Re-examines every open incident with all the silence up to ``now`` (the end of a
        replay): split-off incidents get their own orders, and everything is written."""
        with write_transaction(self.db) as conn:
            self._sync(conn)
            split = self.grouping.settle(now, force=True)
            pending = _Pending(BufferedDispatchRepository(conn))
            self._write_parts(pending, split, now, "settle")
            self._merge_late(pending, now, "settle")
            pending.incidents.update(self.grouping.flag_customer_side(now))
            pending.incidents.update(
                i.id
                for i in self.grouping.incidents.values()
                if i.merged_into is None and i.checked is not None and i.checked[0] == now
            )
            self._write(conn, pending)
        return split

    def final(self) -> dict[str, Any]:
        incidents = []
        for inc in sorted(self.grouping.final(), key=lambda i: i.id):
            if not inc.members:
                continue
            unit, _area = (
                self._unit_for(None, inc.device)
                if inc.device
                else self._units.get(inc.id, (None, "rural"))
            )
            incidents.append(
                {
                    "incident_id": inc.id,
                    "predicted_device_id": inc.device,
                    "unit_id": unit,
                    "call_ids": sorted(inc.members),
                }
            )
        return {"final": {"incidents": incidents}}


def _merge_orders(
    pending: _Pending, service: DispatchService, old: str, into: str, at: datetime, by: str
) -> None:
    """The order of an incident merged into another goes into that one's order."""
    try:
        with pending.repo.savepoint():
            service.merge_orders(old, into, at, by=by)
    except TransitionError:
        # an order's log refuses the step (closed meanwhile by a dispatcher): the
        # incidents are merged all the same, the orders are left for the dispatcher
        logger.exception("merging order %s into %s", old, into)


@dataclass
class _Pending:
    repo: BufferedDispatchRepository
    calls: list[dict[str, Any]] = field(default_factory=list)
    incidents: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # idempotency keys answered

    def touch(self, decision: Decision) -> None:
        self.incidents.add(decision.incident_id)
        self.incidents.update(decision.absorbed)
        self.incidents.update(decision.split_into)
        kind = "opened" if decision.status == NEW else "call_merged"
        self.events.append(
            {
                "incident_id": decision.incident_id,
                "at": datetime.now(UTC),
                "kind": kind,
                "actor": "intake",
                "details": {
                    "call_id": decision.call_id,
                    "device": decision.device_id,
                    "reason": decision.reason,
                    "absorbed": decision.absorbed,
                    "split_into": decision.split_into,
                },
            }
        )
