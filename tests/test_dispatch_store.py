"""Work orders and crews in the database: round trips and retries, on SpatiaLite and PostGIS."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from dispatch.clocks import AreaClass
from dispatch.crews import Crew, CrewStatus, Job
from dispatch.orders import EventType, OrderStatus, OrderType, WorkOrder
from dispatch.routing import Route
from dispatch.service import DispatchContext, DispatchService, DuplicateKeyError
from dispatch.store import (
    SqlDispatchRepository,
    callback_attempts,
    crew_events,
    crew_positions,
    dispatch_on,
    order_calls,
    order_events,
    work_orders,
)
from dispatch.workdays import LOCAL_TZ
from gis.db import write_transaction
from outages.calls import Call, Category

pytestmark = pytest.mark.db

T0 = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=LOCAL_TZ)
MIN = timedelta(minutes=1)
HERE = (114.8123456, 34.8234567)


def count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def open_order(engine: Engine, incident: str = "INC1", call: str = "C1") -> WorkOrder:
    with write_transaction(engine) as conn:
        return dispatch_on(conn).open_repair_order(
            incident, "U1", AreaClass.URBAN, T0, HERE, T0 + MIN, call_id=call, summary="停电"
        )


def load(engine: Engine, order_id: str) -> WorkOrder:
    with engine.connect() as conn:
        order = SqlDispatchRepository(conn).get_order(order_id)
    assert order is not None
    return order


def test_an_order_and_its_log_round_trip(engine: Engine) -> None:
    opened = open_order(engine)
    with write_transaction(engine) as conn:
        svc = dispatch_on(conn)
        svc.load_roster([Crew("CR1", "U1", "一班", 4, ("张三", "李四"), 114.8, 34.8)], T0)
        svc.assign(opened.order_id, "CR1", "dispatcher", T0 + 2 * MIN)
        svc.arrive(opened.order_id, T0 + 30 * MIN, "CR1")
        svc.find_cause(opened.order_id, "树枝搭线", T0 + 40 * MIN, "CR1")
        svc.repaired(opened.order_id, T0 + 80 * MIN, "CR1")
        svc.callback(
            opened.order_id,
            T0 + 100 * MIN,
            "agent",
            content="回访",
            success=False,
            failure_reason="无人接听",
        )
        expected = svc.callback(
            opened.order_id, T0 + 120 * MIN, "agent", content="满意", success=True
        )
    loaded = load(engine, opened.order_id)
    assert loaded == expected
    assert loaded.first_call_at == T0 and loaded.first_call_at.tzinfo is not None
    assert loaded.location == pytest.approx(HERE)
    assert loaded.area_class is AreaClass.URBAN and loaded.summary == "停电"
    assert loaded.status is OrderStatus.REPAIRED and loaded.crew_id == "CR1"
    assert loaded.state.cause == "树枝搭线"
    assert loaded.facts() == expected.facts()
    assert all(e.recorded_at is not None for e in loaded.events)
    with engine.connect() as conn:
        row = (
            conn.execute(select(work_orders).where(work_orders.c.order_id == opened.order_id))
            .mappings()
            .one()
        )
        assert (row["status"], row["crew_id"], row["last_seq"]) == (
            "repaired",
            "CR1",
            len(loaded.events),
        )
        attempts = conn.execute(
            select(callback_attempts.c.outcome, callback_attempts.c.failure_reason).order_by(
                callback_attempts.c.at
            )
        ).all()
    assert [tuple(a) for a in attempts] == [("failed", "无人接听"), ("success", None)]
    assert count(engine, order_calls, order_calls.c.call_id == "C1") == 1


def test_one_order_per_incident_and_per_ticket_call(engine: Engine) -> None:
    first = open_order(engine)
    second = open_order(engine, call="C2")  # a repeat call for the same incident
    assert second.order_id == first.order_id
    assert count(engine, work_orders) == 1
    assert load(engine, first.order_id).state.call_ids == ("C1", "C2")
    # a conflicting order under another id is not stored either
    clash = replace(
        WorkOrder.open_repair("INC1", "U9", AreaClass.RURAL, T0, T0, "other"),
        order_id="WO-OTHER",
    )
    with write_transaction(engine) as conn:
        stored = SqlDispatchRepository(conn).add_order(clash, T0 + MIN)
    assert stored.order_id == first.order_id and count(engine, work_orders) == 1
    call = Call("K7", T0, category=Category.REPORT, description="窃电")
    for _ in range(2):
        with write_transaction(engine) as conn:
            ticket = dispatch_on(conn).open_ticket(call, T0 + MIN)
    assert ticket is not None and ticket.type is OrderType.REPORT
    assert count(engine, work_orders, work_orders.c.call_id == "K7") == 1
    with engine.connect() as conn:
        repo = SqlDispatchRepository(conn)
        assert repo.order_for_call("C2") == load(engine, first.order_id)
        assert repo.order_for_call("K7") == load(engine, ticket.order_id)
        assert repo.order_for_call("NOPE") is None


def test_a_retried_event_is_stored_once(engine: Engine) -> None:
    order = open_order(engine)
    with write_transaction(engine) as conn:
        dispatch_on(conn).auto_dispatch(order.order_id, T0 + 2 * MIN)
    for _ in range(3):
        with write_transaction(engine) as conn:
            dispatch_on(conn).accept(order.order_id, T0 + 3 * MIN, "crew-app", key="k-accept")
    assert count(engine, order_events, order_events.c.event_key == "k-accept") == 1
    other = open_order(engine, "INC2", "C9")
    with pytest.raises(DuplicateKeyError), write_transaction(engine) as conn:
        dispatch_on(conn).note(other.order_id, "x", T0 + 4 * MIN, "agent", key="k-accept")
    assert load(engine, other.order_id).events[-1].type is EventType.CALL_ATTACHED


def test_open_orders_by_unit(engine: Engine) -> None:
    a = open_order(engine, "INC-A", "CA")
    open_order(engine, "INC-B", "CB")
    with write_transaction(engine) as conn:
        repo = SqlDispatchRepository(conn)
        svc = DispatchService(repo)
        svc.open_repair_order("INC-C", "U2", "rural", T0, None, T0 + MIN)
        svc.close(a.order_id, T0 + 5 * MIN, "agent", reason="客户内部故障, 转咨询")
    with engine.connect() as conn:
        repo = SqlDispatchRepository(conn)
        assert [o.incident_id for o in repo.open_orders()] == ["INC-B", "INC-C"]
        assert [o.incident_id for o in repo.open_orders(unit_id="U2")] == ["INC-C"]
        assert repo.open_orders(types=[OrderType.COMPLAINT]) == []
        closed = repo.get_order(a.order_id)
    assert closed is not None and closed.state.close_reason == "客户内部故障, 转咨询"


def test_a_transferred_order_keeps_its_opening_unit_and_lists_under_the_new(
    engine: Engine,
) -> None:
    order = open_order(engine)
    with write_transaction(engine) as conn:
        dispatch_on(conn).transfer(
            order.order_id, "U7", T0 + 2 * MIN, "intake", area_class="remote"
        )
    loaded = load(engine, order.order_id)
    assert (loaded.unit_id, loaded.area_class) == ("U1", AreaClass.URBAN)
    assert (loaded.current_unit_id, loaded.state.area_class) == ("U7", AreaClass.REMOTE)
    with engine.connect() as conn:
        repo = SqlDispatchRepository(conn)
        assert [o.order_id for o in repo.open_orders(unit_id="U7")] == [order.order_id]
        assert repo.open_orders(unit_id="U1") == []


def test_crews_and_routes_round_trip(engine: Engine) -> None:
    roster = [
        Crew("CR1", "U1", "一班", 4, ("张三", "李四"), 114.80, 34.80),
        Crew("CR2", "U2", "二班", None, (), None, None),
    ]
    with write_transaction(engine) as conn:
        svc = dispatch_on(conn)
        assert svc.load_roster(roster, T0) == 2
        assert svc.load_roster(roster, T0) == 0
        svc.crew_position("CR1", 114.81, 34.81, T0 + MIN)
        repo = SqlDispatchRepository(conn)
        state = repo.get_crew("CR1")
        assert state is not None
        busy = state.dispatched(Job("WO-1", 114.9, 34.9), T0 + 2 * MIN, T0 + 90 * MIN)
        busy = busy.dispatched(Job("WO-2", 114.7, 34.7), T0 + 3 * MIN, None)
        repo.save_crew(busy)
        route = Route(
            "CR1", 321.5, 2500.25, "road", ((114.81, 34.81), (114.85, 34.8123456), (114.9, 34.9))
        )
        order = svc.open_repair_order("INC1", "U1", "urban", T0, (114.9, 34.9), T0 + MIN)
        repo.add_route(order.order_id, route, T0 + 2 * MIN)
    with engine.connect() as conn:
        repo = SqlDispatchRepository(conn)
        crews = {c.crew_id: c for c in repo.crews()}
        loaded_route = repo.latest_route("WO-INC1")
    cr1 = crews["CR1"]
    assert cr1 == busy
    assert cr1.crew.members == ("张三", "李四") and cr1.status is CrewStatus.DISPATCHED
    assert cr1.job == Job("WO-1", 114.9, 34.9) and cr1.next_job == Job("WO-2", 114.7, 34.7)
    assert cr1.free_at == T0 + 90 * MIN and cr1.free_at.utcoffset() is not None
    assert crews["CR2"].lon is None and crews["CR2"].crew.size is None
    assert count(engine, crew_positions, crew_positions.c.crew_id == "CR1") == 1
    assert count(engine, crew_events) == 2  # one roster line per crew
    assert loaded_route is not None
    assert (loaded_route.crew_id, loaded_route.method) == ("CR1", "road")
    assert loaded_route.travel_s == route.travel_s and loaded_route.metres == route.metres
    flat = [v for xy in loaded_route.coordinates for v in xy]
    assert flat == pytest.approx([v for xy in route.coordinates for v in xy], abs=1e-7)


def test_times_are_instants_whatever_the_zone(engine: Engine) -> None:
    utc_first = T0.astimezone(UTC)
    with write_transaction(engine) as conn:
        dispatch_on(conn).open_repair_order("INC-Z", "U1", "remote", utc_first, None, utc_first)
    loaded = load(engine, "WO-INC-Z")
    assert loaded.first_call_at == T0  # equal instants, though written in UTC
    assert loaded.events[0].at == T0


@pytest.mark.parametrize("what", ["open", "attach"])
def test_concurrent_writers_do_not_duplicate(engine: Engine, what: str) -> None:
    """Two agents' processes at the same moment: one order, and every call attached once."""
    if what == "attach":
        open_order(engine)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(call_id: str) -> None:
        try:
            barrier.wait(timeout=10)
            with write_transaction(engine) as conn:
                svc = DispatchService(SqlDispatchRepository(conn), DispatchContext())
                if what == "open":
                    svc.open_repair_order(
                        "INC-RACE", "U1", "urban", T0, HERE, T0 + MIN, call_id=call_id
                    )
                else:
                    svc.attach_call("WO-INC1", call_id, T0 + 2 * MIN)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"RACE-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    order_id = "WO-INC-RACE" if what == "open" else "WO-INC1"
    assert count(engine, work_orders) == 1
    order = load(engine, order_id)
    assert set(order.state.call_ids) >= {"RACE-0", "RACE-1"}
    assert [e.seq for e in order.events] == list(range(1, len(order.events) + 1))


def _event_seqs(conn: Any, order_id: str) -> list[int]:
    from dispatch.store import order_events

    query = select(order_events.c.seq).where(order_events.c.order_id == order_id)
    return [r[0] for r in conn.execute(query.order_by(order_events.c.seq))]


def test_buffered_attachments_interleave_with_other_events(engine: Any) -> None:
    """Held call attachments, then a merge and a dispatch on the same order, then more
    attachments: every event gets the next number, none is lost."""
    from dispatch.service import DispatchService
    from dispatch.store import BufferedDispatchRepository, order_events

    t0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        a = svc.open_repair_order("I1", "U1", "rural", t0, None, t0, call_id="c1")
        b = svc.open_repair_order("I2", "U1", "rural", t0, None, t0, call_id="c2")
        svc.attach_call(a.order_id, "c3", t0 + timedelta(minutes=1))
        repo.flush()
        head_before = repo.order_head(a.order_id)  # cached: the merge must not leave it stale
        assert head_before is not None
        svc.merge_orders(b.order_id, a.order_id, t0 + timedelta(minutes=2))
        svc.attach_call(a.order_id, "c4", t0 + timedelta(minutes=3))
        svc.attach_call(a.order_id, "c5", t0 + timedelta(minutes=3))
        repo.flush()
        seqs = _event_seqs(conn, a.order_id)
        assert seqs == list(range(1, len(seqs) + 1))
        calls = conn.execute(
            select(func.count())
            .select_from(order_events)
            .where(order_events.c.order_id == a.order_id, order_events.c.type == "call_attached")
        ).scalar()
        assert calls == 5  # c1 (opening), c3, c2 (merged from I2), c4, c5


def test_a_savepoint_that_rolls_back_takes_the_held_rows_with_it(engine: Any) -> None:
    """Attachments held inside a savepoint that rolls back (a merge refused half-way) are
    neither written later nor counted in the cached order; those before it stay."""
    from dispatch.service import DispatchService
    from dispatch.store import BufferedDispatchRepository, order_events

    t0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        a = svc.open_repair_order("I1", "U1", "rural", t0, None, t0, call_id="c1")
        svc.attach_call(a.order_id, "c2", t0 + timedelta(minutes=1))
        with pytest.raises(RuntimeError), repo.savepoint():
            svc.attach_call(a.order_id, "c3", t0 + timedelta(minutes=2))
            raise RuntimeError("the merge is refused")
        svc.attach_call(a.order_id, "c4", t0 + timedelta(minutes=3))
        assert not repo.has_call(a.order_id, "c3")  # the cache forgot it too
        repo.flush()
        attached = [
            r[0]
            for r in conn.execute(
                select(order_events.c.data)
                .where(
                    order_events.c.order_id == a.order_id, order_events.c.type == "call_attached"
                )
                .order_by(order_events.c.seq)
            )
        ]
        seqs = _event_seqs(conn, a.order_id)
    assert "c3" not in str(attached) and "c4" in str(attached) and "c2" in str(attached)
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_call_attached_twice_in_a_new_transaction_is_attached_once(engine: Any) -> None:
    """A repository asks an order's calls first with one lookup (the live intake attaches
    one call per transaction), then reads them all if asked again: either way a call
    already attached, earlier or in the same transaction, is not attached again."""
    from dispatch.service import DispatchService
    from dispatch.store import BufferedDispatchRepository, order_events

    t0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        order = svc.open_repair_order("I1", "U1", "rural", t0, None, t0, call_id="c1")
        svc.attach_call(order.order_id, "c2", t0 + timedelta(minutes=1))
        repo.flush()
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        assert svc.attach_call(order.order_id, "c2", t0 + timedelta(minutes=2)) is None
        assert svc.attach_call(order.order_id, "c3", t0 + timedelta(minutes=2)) is not None
        assert svc.attach_call(order.order_id, "c3", t0 + timedelta(minutes=3)) is None
        assert svc.attach_call(order.order_id, "c1", t0 + timedelta(minutes=3)) is None
        repo.flush()
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        assert svc.attach_call(order.order_id, "c4", t0 + timedelta(minutes=4)) is not None
        assert svc.attach_call(order.order_id, "c4", t0 + timedelta(minutes=4)) is None
        assert svc.attach_call(order.order_id, "c2", t0 + timedelta(minutes=4)) is None
        repo.flush()
        attached = conn.execute(
            select(func.count())
            .select_from(order_events)
            .where(order_events.c.order_id == order.order_id)
            .where(order_events.c.type == "call_attached")
        ).scalar()
    assert attached == 4  # c1 (opening), c2, c3, c4


def test_held_detachments_move_calls_between_orders(engine: Any) -> None:
    """A split moves calls off an order in the replay's batch: the detachments are held
    like attachments, the order's calls answer at once without them, and the flush leaves
    each call on the order it last went to, whether its attachment was stored before or
    held in the same batch."""
    from dispatch.service import DispatchService
    from dispatch.store import BufferedDispatchRepository, order_calls

    t0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        a = svc.open_repair_order("I1", "U1", "rural", t0, None, t0, call_id="c1")
        b = svc.open_repair_order("I2", "U1", "rural", t0, None, t0, call_id="c9")
        svc.attach_call(a.order_id, "c2", t0 + timedelta(minutes=1))
        repo.flush()
    with write_transaction(engine) as conn:
        repo = BufferedDispatchRepository(conn)
        svc = DispatchService(repo)
        at = t0 + timedelta(minutes=5)
        svc.attach_call(a.order_id, "c3", at)  # held, then moved in the same batch
        for cid in ("c2", "c3"):
            assert svc.detach_call(a.order_id, cid, at, moved_to=b.order_id) is not None
            svc.attach_call(b.order_id, cid, at)
        assert not repo.has_call(a.order_id, "c2") and not repo.has_call(a.order_id, "c3")
        assert repo.has_call(b.order_id, "c2") and repo.has_call(a.order_id, "c1")
        assert svc.detach_call(a.order_id, "c2", at) is None  # gone already
        moved = repo.order_for_call("c2")  # a read of the call writes what is held
        assert moved is not None and moved.order_id == b.order_id
        svc.attach_call(a.order_id, "c4", at)
        repo.flush()
        rows = conn.execute(select(order_calls.c.order_id, order_calls.c.call_id)).all()
        seqs = _event_seqs(conn, a.order_id)
    on = {(str(o), str(c)) for o, c in rows}
    assert {c for o, c in on if o == a.order_id} == {"c1", "c4"}
    assert {c for o, c in on if o == b.order_id} == {"c9", "c2", "c3"}
    assert seqs == list(range(1, len(seqs) + 1))
    with engine.connect() as conn:
        stored = SqlDispatchRepository(conn).get_order(a.order_id)
    assert stored is not None and set(stored.state.call_ids) == {"c1", "c4"}
