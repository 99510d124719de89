"""Work orders, crews and the dispatch use cases (in memory), and the responsible unit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import shapely

from dispatch.clocks import AreaClass, ClockKind, ClockState, Escalation, OrderKind
from dispatch.config import ClockSettings
from dispatch.crews import Crew, CrewState, CrewStateError, CrewStatus, Job
from dispatch.orders import (
    DEFAULT_DEPARTMENTS,
    EventType,
    OrderEvent,
    OrderStatus,
    OrderType,
    TransitionError,
    WorkOrder,
    department_for,
    order_type_for,
)
from dispatch.routing import CrewRouter, RoadGraph
from dispatch.service import (
    DispatchContext,
    DispatchService,
    DispatchSettings,
    UnknownCrewError,
)
from dispatch.store import MemoryDispatchRepository
from dispatch.units import UnitFinder
from dispatch.workdays import LOCAL_TZ
from gis.crs import LocalFrame
from layers.grid import GridData
from layers.importer import prepare
from layers.synthetic import synthetic_grid
from outages.calls import Call, Category
from outages.locate.model import Candidate, Location, Method

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=LOCAL_TZ)  # an ordinary Monday
MIN = timedelta(minutes=1)
FRAME = LocalFrame(113.6, 34.7)


@pytest.fixture(autouse=True)
def _no_settings_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("GRIDCALL_CLOCK_", "GRIDCALL_DISPATCH_", "GRIDCALL_ROUTING_")):
            monkeypatch.delenv(name)


def repair(area: AreaClass = AreaClass.URBAN, incident: str = "INC1") -> WorkOrder:
    return WorkOrder.open_repair(
        incident, "U1", area, T0, T0, "agent7", location=FRAME.inverse_one(0, 0)
    )


def ev(kind: EventType, minutes: float, by: str = "crew-app", **kw: object) -> OrderEvent:
    crew_id = kw.pop("crew_id", None)
    return OrderEvent(kind, T0 + minutes * MIN, by, crew_id=crew_id, data=kw)  # type: ignore[arg-type]


# -- the order's log ----------------------------------------------------------------------


def test_a_repair_runs_its_lifecycle_and_the_status_follows_the_log() -> None:
    order = repair()
    assert order.status is OrderStatus.NEW
    steps = [
        (ev(EventType.DISPATCHED, 2, "dispatcher", crew_id="C1"), OrderStatus.DISPATCHED),
        (ev(EventType.ACCEPTED, 3), OrderStatus.ACCEPTED),
        (ev(EventType.DEPARTED, 4), OrderStatus.EN_ROUTE),
        (ev(EventType.ARRIVED, 30), OrderStatus.ON_SITE),
        (ev(EventType.CAUSE_FOUND, 40, cause="fuse blown by lightning"), OrderStatus.CAUSE_FOUND),
        (ev(EventType.REPAIRED, 90), OrderStatus.REPAIRED),
        (
            ev(
                EventType.CALLBACK,
                200,
                "agent3",
                content="回访",
                outcome="failed",
                failure_reason="no answer",
            ),
            OrderStatus.REPAIRED,
        ),
        (
            ev(EventType.CALLBACK, 300, "agent3", content="满意", outcome="success"),
            OrderStatus.REPAIRED,
        ),
        (ev(EventType.CLOSED, 301, "agent3"), OrderStatus.CLOSED),
    ]
    for event, status in steps:
        before = order.events
        order = order.record(event)
        assert order.status is status
        assert order.events[: len(before)] == before  # nothing is ever rewritten
        assert order.events[-1].by == event.by and order.events[-1].at == event.at
    assert [e.seq for e in order.events] == list(range(1, len(order.events) + 1))
    state = order.state
    assert state.crew_id == "C1"
    assert state.cause == "fuse blown by lightning"
    assert [a.outcome.value for a in state.callback_attempts] == ["failed", "success"]
    assert state.completed_at == T0 + 90 * MIN
    with pytest.raises(TransitionError, match="only notes"):
        order.record(ev(EventType.ARRIVED, 400))
    assert order.record(ev(EventType.NOTE, 500, "supervisor", text="audited")).status is (
        OrderStatus.CLOSED
    )


@pytest.mark.parametrize(
    ("events", "bad", "message"),
    [
        ((), ev(EventType.ARRIVED, 5), "cannot record arrived when the order is new"),
        ((ev(EventType.DISPATCHED, 1),), ev(EventType.REPAIRED, 5), "when the order is dispatched"),
        ((ev(EventType.DISPATCHED, 1),), ev(EventType.DISPATCHED, 2), "order is dispatched"),
        ((ev(EventType.DISPATCHED, 5),), ev(EventType.ARRIVED, 4), "before the previous step"),
        ((), ev(EventType.DISPATCHED, -1), "before the first call"),
        ((), ev(EventType.CALLBACK, 5, content="x", outcome="success"), "before the service"),
        ((), ev(EventType.CLOSED, 5), "needs a reason"),
        ((), ev(EventType.ANSWERED, 5), "repaired, not answered"),
        ((ev(EventType.DISPATCHED, 1),), ev(EventType.REASSIGNED, 2), "names the new crew"),
        ((), ev(EventType.REASSIGNED, 2, crew_id="C2"), "dispatch the order before"),
        ((), ev(EventType.CREATED, 2), "already created"),
        ((), ev(EventType.ESCALATED, 2), "names its clock"),
    ],
)
def test_impossible_steps_are_refused(
    events: tuple[OrderEvent, ...], bad: OrderEvent, message: str
) -> None:
    order = repair()
    for event in events:
        order = order.record(event)
    with pytest.raises(TransitionError, match=message):
        order.record(bad)


def test_events_need_an_aware_time_and_an_actor() -> None:
    with pytest.raises(ValueError, match="naive"):
        OrderEvent(EventType.NOTE, datetime(2026, 3, 2, 10, 0), "agent")
    with pytest.raises(ValueError, match="who"):
        OrderEvent(EventType.NOTE, T0, " ")


def test_a_failed_callback_must_say_why() -> None:
    order = repair()
    for event in (
        ev(EventType.DISPATCHED, 1),
        ev(EventType.ARRIVED, 20),
        ev(EventType.REPAIRED, 60),
    ):
        order = order.record(event)
    with pytest.raises(TransitionError, match="failure reason"):
        order.record(ev(EventType.CALLBACK, 70, content="回访", outcome="failed"))
    with pytest.raises(TransitionError, match="outcome"):
        order.record(ev(EventType.CALLBACK, 70, content="回访", outcome="maybe"))


def test_reassignment_changes_the_crew_and_the_clocks_keep_the_first_times() -> None:
    order = repair()
    order = order.record(ev(EventType.DISPATCHED, 2, crew_id="C1"))
    order = order.record(ev(EventType.ARRIVED, 30))
    order = order.record(ev(EventType.REASSIGNED, 35, "dispatcher", crew_id="C2"))
    assert order.status is OrderStatus.DISPATCHED
    assert order.crew_id == "C2"
    with pytest.raises(TransitionError, match="already has it"):
        order.record(ev(EventType.REASSIGNED, 36, crew_id="C2"))
    order = order.record(ev(EventType.ARRIVED, 60))
    order = order.record(ev(EventType.REPAIRED, 100))
    facts = order.facts()
    assert facts is not None
    assert facts.dispatched_at == T0 + 2 * MIN
    assert facts.arrived_at == T0 + 30 * MIN  # the first crew on site met the commitment
    with pytest.raises(TransitionError, match="already repaired"):
        order.record(ev(EventType.REASSIGNED, 110, crew_id="C3"))


def test_clocks_are_read_from_the_order() -> None:
    settings, calendar = ClockSettings(), DispatchContext().calendar
    order = repair(AreaClass.URBAN)
    order = order.record(ev(EventType.DISPATCHED, 3, crew_id="C1"))
    order = order.record(ev(EventType.ARRIVED, 50))  # urban: 45 minutes were promised
    service = DispatchService(
        MemoryDispatchRepository(), DispatchContext(clock_settings=settings, calendar=calendar)
    )
    clocks = {c.kind: c for c in service.clocks(order, T0 + 60 * MIN)}
    assert clocks[ClockKind.DISPATCH].state is ClockState.MET
    assert clocks[ClockKind.ARRIVAL].state is ClockState.MISSED
    assert clocks[ClockKind.RESTORATION].state is ClockState.RUNNING
    assert clocks[ClockKind.RESTORATION].deadline == T0 + 50 * MIN + timedelta(hours=3)
    assert ClockKind.CALLBACK not in clocks
    facts = order.facts()
    assert facts is not None and facts.kind is OrderKind.REPAIR


def test_ticket_clocks_and_routing() -> None:
    complaint = WorkOrder.open_ticket(
        OrderType.COMPLAINT, "CALL9", T0, T0, "agent", department="discipline"
    )
    assert complaint.status is OrderStatus.FORWARDED
    assert complaint.state.department == "discipline"
    service = DispatchService(MemoryDispatchRepository())
    (reply,) = service.clocks(complaint, T0 + MIN)
    assert reply.kind is ClockKind.REPLY
    assert reply.deadline.date() == (T0 + timedelta(days=5)).date()
    answered = complaint.record(ev(EventType.ANSWERED, 60, "纪检", content="处理结果"))
    kinds = {c.kind: c.state for c in service.clocks(answered, T0 + 2 * timedelta(hours=1))}
    assert kinds == {ClockKind.REPLY: ClockState.MET, ClockKind.CALLBACK: ClockState.RUNNING}
    with pytest.raises(TransitionError, match="applies to repair orders"):
        complaint.record(ev(EventType.DISPATCHED, 2, crew_id="C1"))
    moved = complaint.record(ev(EventType.REASSIGNED, 3, department="marketing"))
    assert moved.state.department == "marketing"
    praise = WorkOrder.open_ticket(
        OrderType.PRAISE, "CALL8", T0, T0, "agent", department="customer_service"
    )
    assert praise.facts() is None  # the clocks module has no kind for praise yet


@pytest.mark.parametrize(
    ("category", "department"),
    [
        ("complaint", "discipline"),
        ("report", "discipline"),
        ("new_connection", "marketing"),
        ("suggestion", "customer_service"),
        ("praise", "customer_service"),
    ],
)
def test_tickets_go_to_their_department(category: str, department: str) -> None:
    kind = order_type_for(category)
    assert kind is not None
    assert department_for(kind) == department == DEFAULT_DEPARTMENTS[kind.value]


def test_consultations_have_no_order_and_the_table_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert order_type_for("consult") is None
    assert order_type_for("Query") is None
    with pytest.raises(ValueError, match="unknown call category"):
        order_type_for("gossip")
    with pytest.raises(ValueError, match="responsible unit"):
        department_for(OrderType.REPAIR)
    monkeypatch.setenv(
        "GRIDCALL_DISPATCH_DEPARTMENTS",
        '{"complaint": "audit", "report": "audit", "praise": "office"}',
    )
    table = DispatchSettings().departments
    assert department_for(OrderType.COMPLAINT, table) == "audit"
    with pytest.raises(ValueError, match="no department configured"):
        department_for(OrderType.NEW_CONNECTION, table)


def test_attaching_a_call_twice_is_one_attachment() -> None:
    order = repair()
    order = order.attach_call("CALL1", T0 + MIN, "intake")
    again = order.attach_call("CALL1", T0 + 2 * MIN, "intake")
    assert again is order
    order = order.attach_call("CALL2", T0 + 3 * MIN, "intake")
    assert order.state.call_ids == ("CALL1", "CALL2")


# -- crews ----------------------------------------------------------------------------------


def crew(crew_id: str, unit: str, x: float, y: float) -> Crew:
    lon, lat = FRAME.inverse_one(x, y)
    return Crew(crew_id, unit, f"crew {crew_id}", 3, (), lon, lat)


def test_crew_transitions_and_where_it_starts_from() -> None:
    state = CrewState.at_base(crew("C1", "U1", 0, 0), T0)
    start = state.start(T0)
    assert start is not None and start.wait_s == 0
    job_lon, job_lat = FRAME.inverse_one(1000, 0)
    busy = state.dispatched(Job("WO-1", job_lon, job_lat), T0, T0 + 60 * MIN)
    assert busy.status is CrewStatus.DISPATCHED
    start = busy.start(T0 + 15 * MIN)
    assert start is not None
    assert start.wait_s == 45 * 60  # free in 45 minutes, from the job's place
    assert (start.lon, start.lat) == (job_lon, job_lat)
    queued = busy.dispatched(Job("WO-2"), T0 + MIN, None)
    assert queued.next_job == Job("WO-2") and queued.job == busy.job
    assert queued.start(T0) is None  # one queued job at most
    with pytest.raises(CrewStateError, match="queued"):
        queued.dispatched(Job("WO-3"), T0 + MIN, None)
    on_site = queued.departed("WO-1", T0 + 2 * MIN).arrived("WO-1", T0 + 20 * MIN, None)
    assert on_site.status is CrewStatus.ON_SITE
    with pytest.raises(CrewStateError, match="not working on order WO-2"):
        on_site.departed("WO-2", T0 + 21 * MIN)
    after = on_site.released("WO-1", T0 + 80 * MIN)
    assert after.status is CrewStatus.DISPATCHED and after.job == Job("WO-2")
    assert (after.lon, after.lat) == (job_lon, job_lat)  # left from the job's place
    free = after.released("WO-2", T0 + 90 * MIN)
    assert free.status is CrewStatus.AVAILABLE and free.job is None
    with pytest.raises(CrewStateError, match="reassign it first"):
        after.off_duty(T0)
    off = free.off_duty(T0 + 100 * MIN)
    assert off.start(T0 + 100 * MIN) is None
    assert off.on_duty(T0 + 200 * MIN).status is CrewStatus.AVAILABLE
    assert free.moved(1.0, 2.0, T0).lon == free.lon  # an older report changes nothing


# -- the use cases, in memory -------------------------------------------------------------


def _grid_roads() -> RoadGraph:
    import numpy as np
    import pandas as pd

    lines = [[(-5000, 0), (5000, 0)], [(0, -5000), (0, 0), (0, 5000)]]
    geoms = []
    for line in lines:
        xy = np.asarray(line, dtype=float)
        lon, lat = FRAME.inverse(xy[:, 0], xy[:, 1])
        geoms.append(shapely.LineString(np.column_stack([lon, lat])))
    frame = pd.DataFrame(
        {
            "id": ["R1", "R2"],
            "kind": ["county", "county"],
            "speed_kmh": ["36", "36"],
            "oneway": [None, None],
            "geometry": geoms,
        }
    )
    # the two roads cross at (0, 0): make it a junction
    frame.loc[0, "geometry"] = shapely.LineString(
        np.column_stack(FRAME.inverse(np.asarray([-5000.0, 0.0, 5000.0]), np.zeros(3)))
    )
    return RoadGraph(frame, FRAME)


@pytest.fixture
def service() -> DispatchService:
    ctx = DispatchContext(router=CrewRouter(_grid_roads()))
    svc = DispatchService(MemoryDispatchRepository(), ctx)
    svc.load_roster(
        [crew("NEAR", "U1", 1000, 0), crew("FAR", "U1", 4000, 0), crew("OTHER", "U2", 100, 0)],
        T0,
    )
    return svc


def _open(service: DispatchService, incident: str = "INC1") -> WorkOrder:
    return service.open_repair_order(
        incident, "U1", AreaClass.RURAL, T0, FRAME.inverse_one(0, 1000), T0 + MIN, call_id="C-1"
    )


def test_one_order_per_incident_and_merged_calls_attach(service: DispatchService) -> None:
    first = _open(service)
    again = _open(service)
    assert again.order_id == first.order_id == "WO-INC1"
    repo = service.repo
    assert isinstance(repo, MemoryDispatchRepository)
    assert len(repo.orders) == 1
    event = service.attach_call(first.order_id, "C-2", T0 + 2 * MIN)
    assert event is not None and event.seq == len(first.events) + 1
    assert service.attach_call(first.order_id, "C-2", T0 + 3 * MIN) is None
    stored = repo.get_order(first.order_id)
    assert stored is not None
    assert stored.state.call_ids == ("C-1", "C-2")
    assert [e.type for e in stored.events].count(EventType.CALL_ATTACHED) == 2
    assert repo.order_for_call("C-2") == stored
    service.close(first.order_id, T0 + 4 * MIN, "agent", reason="planned outage: consult")
    with pytest.raises(TransitionError, match="closed"):
        service.attach_call(first.order_id, "C-3", T0 + 5 * MIN)
    with pytest.raises(TransitionError, match="before the first call"):
        service.attach_call(_open(service, "INC9").order_id, "C-4", T0 - MIN)


def test_a_call_split_off_to_another_fault_leaves_its_first_order(
    service: DispatchService,
) -> None:
    first = _open(service)
    service.attach_call(first.order_id, "C-2", T0 + 2 * MIN)
    other = _open(service, "INC2")
    event = service.detach_call(first.order_id, "C-2", T0 + 3 * MIN, moved_to=other.order_id)
    assert event is not None and event.type is EventType.CALL_DETACHED
    assert event.data["moved_to"] == other.order_id
    service.attach_call(other.order_id, "C-2", T0 + 3 * MIN)
    repo = service.repo
    stored = repo.get_order(first.order_id)
    assert stored is not None and stored.state.call_ids == ("C-1",)
    assert repo.order_for_call("C-2") == repo.get_order(other.order_id)
    assert service.detach_call(first.order_id, "C-2", T0 + 4 * MIN) is None  # not on it
    with pytest.raises(TransitionError, match="not attached"):
        stored.record(ev(EventType.CALL_DETACHED, 5, call_id="C-2"))
    service.close(first.order_id, T0 + 5 * MIN, "agent", reason="merged")
    assert service.detach_call(first.order_id, "C-1", T0 + 6 * MIN) is None  # closed: kept


def test_tickets_from_calls(service: DispatchService) -> None:
    consult = Call("Q1", T0, category=Category.CONSULT)
    assert service.open_ticket(consult, T0) is None
    complaint = Call(
        "K1", T0, category=Category.COMPLAINT, description="态度差", lon=113.61, lat=34.71
    )
    ticket = service.open_ticket(complaint, T0 + MIN)
    assert ticket is not None
    assert ticket.order_id == "TK-K1" and ticket.type is OrderType.COMPLAINT
    assert ticket.state.department == "discipline"
    assert ticket.location == (113.61, 34.71)
    assert service.open_ticket(complaint, T0 + 2 * MIN) == ticket
    with pytest.raises(ValueError, match="incidents"):
        service.open_ticket(Call("R1", T0), T0)


def test_auto_dispatch_sends_the_nearest_crew_of_the_unit(service: DispatchService) -> None:
    order = _open(service)
    result = service.auto_dispatch(order.order_id, T0 + 2 * MIN)
    assert result.crew is not None
    assert result.crew.crew_id == "NEAR"  # OTHER is nearer but belongs to another unit
    assert result.reason == "nearest crew of the responsible unit"
    assert result.crew.travel_s == pytest.approx(200.0, rel=1e-6)  # 2 km at 10 m/s
    assert [e.crew_id for e in result.alternatives] == ["FAR"]
    assert result.order.status is OrderStatus.DISPATCHED
    assert result.order.events[-1].data["eta_s"] == pytest.approx(200.0)
    near = service.repo.get_crew("NEAR")
    assert near is not None and near.status is CrewStatus.DISPATCHED
    assert near.job is not None and near.job.order_id == order.order_id
    route = service.repo.latest_route(order.order_id)
    assert route is not None and route == result.route and route.method == "road"
    again = service.auto_dispatch(order.order_id, T0 + 3 * MIN)
    assert again.reason == "already dispatched"
    stored = service.repo.get_order(order.order_id)
    assert stored is not None
    assert [e.type for e in stored.events].count(EventType.DISPATCHED) == 1


def test_auto_dispatch_borrows_a_crew_when_the_unit_has_none(service: DispatchService) -> None:
    service.crew_off_duty("NEAR", T0, "shift lead")
    service.crew_off_duty("FAR", T0, "shift lead")
    order = _open(service)
    result = service.auto_dispatch(order.order_id, T0 + 2 * MIN)
    assert result.crew is not None and result.crew.crew_id == "OTHER"
    assert "any unit" in result.reason
    second = _open(service, "INC2")
    result2 = service.auto_dispatch(second.order_id, T0 + 3 * MIN)
    # OTHER is busy with a known free time: it is proposed again, the job queued
    assert result2.crew is not None and result2.crew.crew_id == "OTHER"
    assert result2.crew.wait_s > 0
    other = service.repo.get_crew("OTHER")
    assert other is not None and other.next_job is not None
    assert other.next_job.order_id == second.order_id
    third = _open(service, "INC3")
    result3 = service.auto_dispatch(third.order_id, T0 + 4 * MIN)
    assert result3.crew is None  # nobody left: the order still reaches the unit
    assert result3.order.status is OrderStatus.DISPATCHED
    assert "without a crew" in result3.reason


def test_manual_assignment_and_reassignment_move_the_crews(service: DispatchService) -> None:
    order = _open(service)
    first = service.assign(order.order_id, "FAR", "dispatcher1", T0 + 2 * MIN)
    assert first.order.events[-1].type is EventType.DISPATCHED
    assert first.order.events[-1].data["manual"] is True
    service.depart(order.order_id, T0 + 3 * MIN, "FAR")
    far = service.repo.get_crew("FAR")
    assert far is not None and far.status is CrewStatus.EN_ROUTE
    moved = service.assign(
        order.order_id,
        "NEAR",
        "dispatcher1",
        T0 + 5 * MIN,
        reason="closer crew free",
        key="k-reassign-1",
    )
    assert moved.order.events[-1].type is EventType.REASSIGNED
    assert moved.order.events[-1].data["from_crew_id"] == "FAR"
    assert moved.order.crew_id == "NEAR" and moved.order.status is OrderStatus.DISPATCHED
    far = service.repo.get_crew("FAR")
    near = service.repo.get_crew("NEAR")
    assert far is not None and far.status is CrewStatus.AVAILABLE and far.job is None
    assert near is not None and near.status is CrewStatus.DISPATCHED
    retry = service.assign(order.order_id, "NEAR", "dispatcher1", T0 + 6 * MIN, key="k-reassign-1")
    assert retry.reason == "retry" and len(retry.order.events) == len(moved.order.events)
    with pytest.raises(UnknownCrewError):
        service.assign(order.order_id, "GHOST", "dispatcher1", T0 + 7 * MIN)
    service.crew_off_duty("FAR", T0 + 7 * MIN, "lead")
    with pytest.raises(CrewStateError, match="off duty"):
        service.assign(order.order_id, "FAR", "dispatcher1", T0 + 8 * MIN)


def test_the_crew_follows_the_order_and_retries_are_harmless(service: DispatchService) -> None:
    order = _open(service)
    service.auto_dispatch(order.order_id, T0 + 2 * MIN)
    service.accept(order.order_id, T0 + 3 * MIN, "NEAR", key="app-1")
    service.depart(order.order_id, T0 + 4 * MIN, "NEAR", key="app-2")
    arrived = service.arrive(order.order_id, T0 + 25 * MIN, "NEAR", key="app-3")
    retried = service.arrive(order.order_id, T0 + 26 * MIN, "NEAR", key="app-3")
    assert retried.events == arrived.events
    near = service.repo.get_crew("NEAR")
    assert near is not None and near.status is CrewStatus.ON_SITE
    assert near.free_at == T0 + 25 * MIN + timedelta(minutes=120)
    service.find_cause(order.order_id, "树障", T0 + 30 * MIN, "NEAR")
    done = service.repaired(order.order_id, T0 + 70 * MIN, "NEAR")
    assert done.status is OrderStatus.REPAIRED
    near = service.repo.get_crew("NEAR")
    assert near is not None and near.status is CrewStatus.AVAILABLE
    assert (near.lon, near.lat) == pytest.approx(FRAME.inverse_one(0, 1000))
    service.callback(
        order.order_id,
        T0 + 200 * MIN,
        "agent",
        content="回访",
        success=False,
        failure_reason="关机",
    )
    service.callback(order.order_id, T0 + 300 * MIN, "agent", content="满意", success=True)
    closed = service.close(order.order_id, T0 + 301 * MIN, "agent")
    assert closed.status is OrderStatus.CLOSED
    assert service.repo.open_orders() == []


def test_a_transfer_hands_the_order_to_another_unit(service: DispatchService) -> None:
    order = _open(service)
    moved = service.transfer(
        order.order_id,
        "U2",
        T0 + 2 * MIN,
        "intake",
        area_class="urban",
        reason="inferred device in U2's territory",
    )
    assert (moved.unit_id, moved.current_unit_id) == ("U1", "U2")
    facts = moved.facts()
    assert facts is not None and facts.area_class is AreaClass.URBAN  # 45-minute commitment
    again = service.transfer(order.order_id, "U2", T0 + 3 * MIN, "intake", area_class="urban")
    assert again.events == moved.events
    assert [o.order_id for o in service.repo.open_orders(unit_id="U2")] == [order.order_id]
    assert service.repo.open_orders(unit_id="U1") == []
    result = service.auto_dispatch(order.order_id, T0 + 4 * MIN)
    assert result.crew is not None and result.crew.crew_id == "OTHER"  # U2's crew
    with pytest.raises(TransitionError, match="area class"):
        service.transfer(order.order_id, "U3", T0 + 5 * MIN, "x", area_class="suburban")


def test_escalations_are_recorded_once_per_level(service: DispatchService) -> None:
    order = _open(service)
    late = T0 + 7 * MIN  # the 5-minute dispatch clock has run out
    raised = service.escalate_due(late)
    assert [(c.kind, c.escalation) for c in raised] == [(ClockKind.DISPATCH, Escalation.SHIFT_LEAD)]
    assert service.escalate_due(late + MIN) == []
    stored = service.repo.get_order(order.order_id)
    assert stored is not None
    assert stored.state.escalations == frozenset({("dispatch", 2)})
    board = service.board(late)
    assert board and board[0].kind is ClockKind.DISPATCH and board[0].state is ClockState.OVERDUE


def test_merging_two_orders_keeps_every_call(service: DispatchService) -> None:
    a = _open(service, "INC-A")
    b = service.open_repair_order("INC-B", "U1", AreaClass.RURAL, T0, None, T0 + MIN, call_id="C-9")
    service.merge_orders(b.order_id, a.order_id, T0 + 5 * MIN)
    survivor = service.repo.get_order(a.order_id)
    assert survivor is not None and survivor.state.call_ids == ("C-1", "C-9")
    absorbed = service.repo.get_order(b.order_id)
    assert absorbed is not None and absorbed.status is OrderStatus.CLOSED
    assert absorbed.state.close_reason == f"merged into {a.order_id}"


# -- the responsible unit -----------------------------------------------------------------


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridData]:
    """Feeder 1 runs east, feeder 2 west. West is U1's urban territory, a strip east of the
    substation U2's remote one; beyond it no territory, and feeder 1's lines belong to U3."""
    g = synthetic_grid(1)
    g.rows["units"] = [
        {"id": "U1", "name": "west", "geometry": shapely.Point(-300, -300)},
        {"id": "U2", "name": "strip", "geometry": shapely.Point(150, 0)},
        {"id": "U3", "name": "far east", "geometry": shapely.Point(30_000, 0)},
    ]
    g.rows["territories"] = [
        {
            "id": "TW",
            "unit_id": "U1",
            "area_class": "urban",
            "geometry": shapely.box(-50_000, -50_000, 0, 50_000),
        },
        {
            "id": "TS",
            "unit_id": "U2",
            "area_class": "remote",
            "geometry": shapely.box(0, -50_000, 300, 50_000),
        },
    ]
    g.rows["crews"] = [
        {
            "id": "CR1",
            "unit_id": "U1",
            "name": "c",
            "members": 3,
            "geometry": shapely.Point(-300, -300),
        }
    ]
    for line in g.rows["mv_lines"]:
        line["unit_id"] = "U3" if line["feeder"] == "Feeder 1" else None
    path = g.write(tmp_path_factory.mktemp("grid") / "grid.gpkg")
    data, _model, problems = prepare(path)
    assert data is not None and not [p for p in problems if p.severity == "error"]
    yield data


def _transformer_east_of(data: GridData, x_min: float) -> str:
    tr = data.layer("transformers")
    for tid, geom in zip(tr["id"], tr["geometry"], strict=True):
        if data.frame.forward_one(geom.x, geom.y)[0] > x_min:
            return str(tid)
    raise AssertionError("no transformer there")


def _transformer_west(data: GridData) -> str:
    tr = data.layer("transformers")
    for tid, geom in zip(tr["id"], tr["geometry"], strict=True):
        if data.frame.forward_one(geom.x, geom.y)[0] < -50:
            return str(tid)
    raise AssertionError("no transformer there")


def _ll(data: GridData, x: float, y: float) -> tuple[float, float]:
    return data.frame.inverse_one(x, y)


def test_territory_then_line_owner_then_nearest(grid: GridData) -> None:
    from layers.network import NetworkModel

    finder = UnitFinder(grid, NetworkModel(grid))
    west = finder.for_place(*_ll(grid, -2000, 0))
    assert (west.unit_id, west.area_class, west.reason) == (
        "U1",
        AreaClass.URBAN,
        "territory contains the place",
    )
    strip = finder.for_place(*_ll(grid, 150, 800))
    assert (strip.unit_id, strip.area_class) == ("U2", AreaClass.REMOTE)
    east_tr = _transformer_east_of(grid, 320)
    owner = finder.for_place(*_ll(grid, 2000, 0), element_id=east_tr)
    assert (owner.unit_id, owner.reason) == ("U3", "owner of the 10 kV line")
    assert owner.area_class is AreaClass.RURAL  # U3 has no territory: the default
    nearest = finder.for_place(*_ll(grid, 2000, 0))
    assert (nearest.unit_id, nearest.reason) == ("U2", "nearest unit")
    assert nearest.area_class is AreaClass.REMOTE  # the class of U2's territory
    device = finder.for_device(east_tr)
    assert device is not None and device.unit_id == "U3" and device.basis == "device"
    assert finder.for_device("NO-SUCH-DEVICE") is None


def test_a_call_placed_nowhere_goes_to_the_only_unit_or_the_one_serving_most_customers(
    grid: GridData, tmp_path: Path
) -> None:
    from collections import Counter

    from layers.units import ResponsibleUnits

    rules = ResponsibleUnits(grid)
    sps = grid.layer("service_points")
    served = Counter(
        rules.responsible(g.x, g.y, str(tr)).unit_id
        for g, tr in zip(sps["geometry"], sps["transformer_id"], strict=True)
    )
    assert len(served) >= 2  # the customers are split between units
    several = rules.responsible(None, None, None)
    assert several.unit_id == served.most_common(1)[0][0]
    assert "serving the most customers" in several.reason
    assert rules.responsible(None, None, None, fallback=False).unit_id is None
    one = synthetic_grid(4, sections_per_feeder=6)
    package = one.write(tmp_path / "one.gpkg")
    data, _model, _problems = prepare(package)
    assert data is not None and len(data.layer("units")) == 1
    only = ResponsibleUnits(data).responsible(None, None, None)
    assert (only.unit_id, only.reason) == (data.layer("units")["id"].iat[0], "the only unit")


def test_an_incident_goes_by_its_device_else_by_its_callers(grid: GridData) -> None:
    from layers.network import NetworkModel

    finder = UnitFinder(grid, NetworkModel(grid))
    east_tr = _transformer_east_of(grid, 320)
    west_tr = _transformer_west(grid)
    lon_e, lat_e = grid.element_location(east_tr) or (0.0, 0.0)
    lon_w, lat_w = grid.element_location(west_tr) or (0.0, 0.0)

    def located(lon: float, lat: float, tr: str, confidence: float = 0.9) -> Location:
        return Location(lon, lat, Method.ACCOUNT, confidence, transformer_id=tr)

    calls = [located(lon_e, lat_e, east_tr)] * 3 + [located(lon_w, lat_w, west_tr)]
    by_calls = finder.for_incident(None, calls)
    assert (by_calls.unit_id, by_calls.basis) == ("U3", "calls")
    assert by_calls.support == pytest.approx(0.75)
    by_device = finder.for_incident(west_tr, calls)
    assert (by_device.unit_id, by_device.basis) == ("U1", "device")
    # an uncertain call votes with its candidates' likelihoods
    torn = Location(
        lon_w,
        lat_w,
        Method.GPS,
        0.5,
        candidates=(
            Candidate(lon_w, lat_w, 0.8, Method.GPS, transformer_id=west_tr),
            Candidate(lon_e, lat_e, 0.2, Method.GPS, transformer_id=east_tr),
        ),
    )
    assert (
        finder.for_calls([torn, located(lon_e, lat_e, east_tr, 0.9)]).unit_id == "U3"
    )  # 1.1 : 0.8
    assert (
        finder.for_calls([torn, located(lon_e, lat_e, east_tr, 0.5)]).unit_id == "U1"
    )  # 0.7 : 0.8
    assert finder.for_calls([torn]).unit_id == "U1"
    nobody = finder.for_calls([Location(None, None, Method.NONE, 0.0)])
    assert nobody.basis == "none" and "serving the most customers" in nobody.reason
    assert nobody.unit_id == finder.rules.responsible(None, None, None).unit_id is not None


def test_roster_from_the_crews_layer(grid: GridData) -> None:
    from dispatch.crews import crews_from_layer

    (only,) = crews_from_layer(grid.layer("crews"))
    assert (only.crew_id, only.unit_id, only.head_count, only.size) == ("CR1", "U1", 3, 3)
    assert only.base_lon is not None  # the base position is kept


def test_a_context_from_the_grid_seeds_the_roster_on_first_dispatch(grid: GridData) -> None:
    svc = DispatchService(MemoryDispatchRepository(), DispatchContext.from_grid(grid))
    assert svc.repo.crews() == []
    order = svc.open_repair_order(
        "INC-G", "U1", "urban", T0, _ll(grid, -2000, 0), T0 + MIN, call_id="C-G"
    )
    result = svc.auto_dispatch(order.order_id, T0 + 2 * MIN)
    assert [c.crew_id for c in svc.repo.crews()] == ["CR1"]
    assert result.crew is not None and result.crew.crew_id == "CR1"
    assert result.crew.method == "straight"  # the synthetic grid has no roads
    assert result.route is not None and len(result.route.coordinates) == 2
