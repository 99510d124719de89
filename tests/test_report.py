"""The periodic analysis, the storm alert and the shift handover, on a small known day.

The grid is a synthetic one with two townships split at the substation's meridian: 城关镇
(east, an urban territory) and 谷营镇 (west, rural). On Wednesday 2025-03-12 (local time;
T0 is 08:00) the hotline takes:

=====  ======  ==========  ========================================================
call   T0+min  category    what happens
=====  ======  ==========  ========================================================
a1-3   0/2/4   repair      incident A (T0003, east, urban): two repeats merged;
                           dispatched at 3 (in time), on site at 40 (in time),
                           incident restored at 95, repaired at 100, called back at
                           130 (success), closed at 135
k1     10      complaint   answered at 120; never called back
k2     15      complaint   never answered
r1     20      report      never answered
q1     30      consult     nobody could locate it (township unknown)
b1     60      repair      incident B (T0010, west, rural): dispatched at 72 (late),
                           on site at 140 (in time), repaired at 440 (late: 300 min
                           after arrival), callback failed at 460
c1     300     repair      incident C (T0006, west, rural): nothing done
=====  ======  ==========  ========================================================

and, the day before, a consultation and a repair call (incident X, restored and its order
closed the same day): outside the period, but in the storm's 7-day baseline.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, select, update
from test_api_support import TestClient, add_users, api_grid, login, make_app

from api.auth import Role
from api.bootstrap import intake_services
from api.cli import main
from api.report import (
    UNKNOWN,
    Geography,
    Period,
    PeriodError,
    ReportRules,
    StormSettings,
    handover,
    parse_period,
    storm_alert,
    summarize,
)
from dispatch.intake import Intake, IntakeServices
from dispatch.service import DispatchService
from dispatch.store import SqlDispatchRepository
from dispatch.workdays import LOCAL_TZ
from gis.db import write_transaction
from outages.planned import NoticeKind, NoticeRepository, OutagePlanner
from outages.store import incidents

T0 = datetime(2025, 3, 12, 0, 0, tzinfo=UTC)  # 08:00 in Beijing, a Wednesday
DAY_END = datetime(2025, 3, 13, 0, 0, tzinfo=LOCAL_TZ)  # the end of 2025-03-12, local
MONTH_END = datetime(2025, 4, 1, 0, 0, tzinfo=LOCAL_TZ)  # the end of 2025-03-31, local
EAST, WEST = "城关镇", "谷营镇"
SERVED = 40  # service points of the grid
PNG = b"\x89PNG\r\n\x1a\n"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minutes_to(end: datetime, minutes: float) -> float:
    return (end - at(minutes)).total_seconds() / 60


_packages: dict[str, Path] = {}


def grid_package(factory: pytest.TempPathFactory) -> Path:
    """Two townships; the east is an urban territory, the west a rural one."""
    if "grid" not in _packages:
        g = api_grid()
        g.rows["territories"] = [
            {
                "id": "TER-E",
                "unit_id": "U1",
                "area_class": "urban",
                "geometry": shapely.box(0, -50_000, 50_000, 50_000),
            },
            {
                "id": "TER-W",
                "unit_id": "U1",
                "area_class": "rural",
                "geometry": shapely.box(-50_000, -50_000, 0, 50_000),
            },
        ]
        assert len(g.rows["service_points"]) == SERVED
        _packages["grid"] = g.write(factory.mktemp("report_grid") / "grid.gpkg")
    return _packages["grid"]


@dataclass
class Day:
    engine: Engine
    db_url: str
    services: IntakeServices
    answers: dict[str, dict[str, Any]]
    customers: dict[str, int]  # incident letter -> affected customers
    incident: dict[str, str]  # letter -> incident id
    order: dict[str, str]  # letter -> repair order id

    def service(self, conn: Any) -> DispatchService:
        return DispatchService(SqlDispatchRepository(conn), self.services.dispatch)


def _accounts(transformer: str, n: int = 3) -> list[str]:
    """Account numbers of the synthetic grid (SP000k ↔ 9000000000 + k - 1), by transformer."""
    first = {"T0003": 9, "T0001": 1, "T0002": 5, "T0010": 37, "T0006": 21, "T0009": 33}
    return [str(9_000_000_000 + first[transformer] - 1 + i) for i in range(n)]


def _call(call_id: str, minutes: float, account: str | None, **kw: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "received_at": at(minutes).isoformat(),
        "account_no": account,
        "symptom": "no_power",
        **kw,
    }


@pytest.fixture
def day(
    engine: Engine,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Day]:
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    assert main(["layers", "import", str(grid_package(tmp_path_factory))]) == 0
    services = intake_services(engine)
    answers: dict[str, dict[str, Any]] = {}
    # the day before: a consultation, and a fault restored the same day
    before = Intake(engine, services, taken_by="agent")
    answers["x1"] = before.take(_call("x1", -24 * 60, None, category="consult"))
    answers["x2"] = before.take(_call("x2", -22 * 60, _accounts("T0009")[0]))
    with write_transaction(engine) as conn:
        conn.execute(
            update(incidents)
            .where(incidents.c.id == answers["x2"]["incident_id"])
            .values(restored_at=at(-21 * 60), state="restored")
        )
        DispatchService(SqlDispatchRepository(conn), services.dispatch).close(
            answers["x2"]["work_order_id"], at(-21 * 60), "dispatcher", reason="test: restored"
        )
    intake = Intake(engine, services, taken_by="agent")  # reads the restoration
    a, b, c = _accounts("T0003"), _accounts("T0010"), _accounts("T0006")
    rows = [
        _call("a1", 0, a[0]),
        _call("a2", 2, a[1], source="12345"),
        _call("a3", 4, a[2], source="app"),
        _call("k1", 10, _accounts("T0001")[0], category="complaint", source="wechat"),
        _call("k2", 15, _accounts("T0002")[0], category="complaint"),
        _call("r1", 20, b[1], category="report", source="110"),
        _call("q1", 30, None, category="consult"),
        _call("b1", 60, b[0], source="app"),
        _call("c1", 300, c[0]),
    ]
    for row in rows:
        answers[row["call_id"]] = intake.take(row)
    assert [answers[k]["status"] for k in ("a1", "b1", "c1")] == ["new"] * 3
    assert {answers[k]["status"] for k in ("a2", "a3")} <= {"merged", "known_outage"}
    assert len({answers[k]["incident_id"] for k in ("a1", "a2", "a3", "b1", "c1")}) == 3
    incident = {k: answers[f"{k.lower()}1"]["incident_id"] for k in "ABC"}
    order = {k: answers[f"{k.lower()}1"]["work_order_id"] for k in "ABC"}
    with write_transaction(engine) as conn:
        s = DispatchService(SqlDispatchRepository(conn), services.dispatch)
        s.auto_dispatch(order["A"], at(3))
        s.arrive(order["A"], at(40), "crew")
        s.repaired(order["A"], at(100), "crew")
        s.callback(order["A"], at(130), "agent", content="满意", success=True)
        s.close(order["A"], at(135), "agent")
        s.auto_dispatch(order["B"], at(72))
        s.arrive(order["B"], at(140), "crew")
        s.repaired(order["B"], at(440), "crew")
        s.callback(
            order["B"], at(460), "agent", content="回访", success=False, failure_reason="无人接听"
        )
        s.answer(answers["k1"]["work_order_id"], "已处理", at(120), "discipline")
        conn.execute(
            update(incidents)
            .where(incidents.c.id == incident["A"])
            .values(restored_at=at(95), state="restored")
        )
        found = dict(
            conn.execute(
                select(incidents.c.id, incidents.c.affected_customers).where(
                    incidents.c.id.in_(list(incident.values()))
                )
            ).all()
        )
    customers = {k: int(found[v]) for k, v in incident.items()}
    assert all(n >= 4 for n in customers.values())  # at least the callers' transformer
    yield Day(engine, db_url, services, answers, customers, incident, order)


# -- the period ----------------------------------------------------------------------------------


def test_dates_are_local_days_included_and_datetimes_instants() -> None:
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    p = parse_period("2025-03-12", "2025-03-12", now)
    assert p.start == datetime(2025, 3, 11, 16, 0, tzinfo=UTC)  # local midnight
    assert p.end == datetime(2025, 3, 12, 16, 0, tzinfo=UTC)  # the whole day included
    p = parse_period("2025-03-12T08:00", "2025-03-12T09:30:00+08:00", now)
    assert p.start == datetime(2025, 3, 12, 0, 0, tzinfo=UTC)  # naive: local time
    assert p.end == datetime(2025, 3, 12, 1, 30, 0, 1, tzinfo=UTC)  # the instant included
    default = parse_period(None, None, now)
    assert (default.start, default.end) == (now - timedelta(days=30), now)
    only_to = parse_period(None, "2025-03-12", now)
    assert only_to.start == datetime(2025, 3, 12, 16, 0, tzinfo=UTC) - timedelta(days=30)
    assert Period(T0, at(60)).as_of(at(30)) == at(30)
    with pytest.raises(PeriodError, match="neither a date"):
        parse_period("yesterday", None, now)
    with pytest.raises(PeriodError, match="empty"):
        parse_period("2025-03-13", "2025-03-12", now)


def test_a_bad_period_is_refused_by_the_cli(
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    assert main(["report", str(tmp_path / "r"), "--from", "2025-13-01"]) == 2
    assert "neither a date" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


# -- the report ----------------------------------------------------------------------------------


def test_the_report_of_the_day(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main(["report", str(out), "--from", "2025-03-12", "--to", "2025-03-12"]) == 0
    assert "wrote" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert datetime.fromisoformat(s["period_to"]) == DAY_END
    assert datetime.fromisoformat(s["as_of"]) == DAY_END  # a past period: judged at its end

    # calls: the day's nine, not the day before's two
    assert s["calls_total"] == 9
    assert s["calls_by_category"]["repair"] == 5
    assert s["calls_by_category"]["complaint"] == 2
    assert s["calls_by_category"]["report"] == 1
    assert s["calls_by_category"]["consult"] == 1
    assert s["calls_by_category"]["praise"] == 0  # every category is listed
    assert {k: v for k, v in s["calls_by_source"].items() if v} == {
        "phone": 4,
        "app": 2,
        "12345": 1,
        "wechat": 1,
        "110": 1,
    }
    assert s["calls_by_source"]["119"] == 0
    assert s["calls_by_township"] == {EAST: 5, WEST: 3, UNKNOWN: 1}
    # two of the five repair calls were merged into incident A (article 24)
    assert (s["repair_calls"], s["merged_repair_calls"]) == (5, 2)
    assert s["repeat_merge_rate"] == 0.4

    # clocks: A dispatched in time, B late, C never (overdue at the end of the day)
    assert s["repair_orders"] == 3
    assert s["dispatch_limit_minutes"] == 5
    assert {k: s["dispatch"][k] for k in ("met", "missed", "overdue", "pending")} == {
        "met": 1,
        "missed": 1,
        "overdue": 1,
        "pending": 0,
    }
    assert s["dispatched_within_limit"] == pytest.approx(1 / 3, abs=1e-4)
    arrival = s["arrival_compliance"]
    assert (arrival["urban"]["met"], arrival["urban"]["rate"]) == (1, 1.0)  # A: 40 ≤ 45 min
    assert (arrival["rural"]["met"], arrival["rural"]["overdue"]) == (1, 1)  # B: 80 ≤ 90; C
    assert arrival["rural"]["rate"] == 0.5
    assert arrival["remote"]["decided"] == 0 and arrival["remote"]["rate"] is None
    assert arrival["all"]["rate"] == pytest.approx(2 / 3, abs=1e-4)
    restoration = s["restoration_compliance"]
    assert (restoration["urban"]["rate"], restoration["rural"]["rate"]) == (1.0, 0.0)
    assert restoration["all"]["rate"] == 0.5
    # callbacks: A's succeeded; B's and k1's windows are still open at the end of the day
    assert (s["callback_completion"]["met"], s["callback_completion"]["pending"]) == (1, 2)
    assert s["callback_completion"]["rate"] == 1.0
    assert (s["complaint_reply_compliance"]["met"], s["complaint_reply_compliance"]["pending"]) == (
        1,
        1,
    )
    assert s["report_reply_compliance"]["pending"] == 1
    assert s["report_reply_compliance"]["rate"] is None

    # reliability: A restored after 95 min (restored_at before its order's repair), B ends
    # with its order's repair (440 - 60 min), C is still open at the end of the day
    n = day.customers
    c_minutes = minutes_to(DAY_END, 300)
    assert c_minutes == 660
    customer_minutes = n["A"] * 95 + n["B"] * 380 + n["C"] * c_minutes
    rel = s["reliability"]
    assert rel["customers_served"] == SERVED
    assert rel["incidents"] == 3
    assert rel["customer_interruptions"] == n["A"] + n["B"] + n["C"]
    assert rel["customer_minutes"] == pytest.approx(customer_minutes)
    assert s["saidi_minutes"] == pytest.approx(customer_minutes / SERVED, abs=1e-4)
    assert s["saifi"] == pytest.approx((n["A"] + n["B"] + n["C"]) / SERVED, abs=1e-6)
    assert s["caidi_minutes"] == pytest.approx(
        customer_minutes / (n["A"] + n["B"] + n["C"]), abs=1e-3
    )
    assert rel["open_at_end"] == [day.incident["C"]]
    assert "still open" in rel["note"]

    # the tables beside it
    with (out / "incidents.csv").open(encoding="utf-8-sig") as f:
        rows = {r["incident_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(day.incident.values())
    a, b, c = (rows[day.incident[k]] for k in "ABC")
    assert (a["end_source"], float(a["duration_minutes"])) == ("restored_at", 95)
    assert (b["end_source"], float(b["duration_minutes"])) == ("order_repaired", 380)
    assert (c["end_source"], float(c["duration_minutes"])) == ("period_end", 660)
    assert (a["townships"], b["townships"], c["townships"]) == (EAST, WEST, WEST)
    assert a["area_class"] == "urban" and b["area_class"] == "rural"
    with (out / "orders.csv").open(encoding="utf-8-sig") as f:
        orders = {r["order_id"]: r for r in csv.DictReader(f)}
    assert len(orders) == 6  # three repairs, two complaints, one report
    assert orders[day.order["A"]]["dispatch_state"] == "met"
    assert orders[day.order["B"]]["dispatch_state"] == "missed"
    assert float(orders[day.order["B"]]["dispatch_margin_minutes"]) == -7
    assert orders[day.order["C"]]["arrival_state"] == "overdue"
    assert orders[day.order["B"]]["restoration_state"] == "missed"
    with (out / "calls_by_township.csv").open(encoding="utf-8-sig") as f:
        towns = {r["township"]: int(r["calls"]) for r in csv.DictReader(f)}
    assert towns == s["calls_by_township"]
    with (out / "calls_by_category.csv").open(encoding="utf-8-sig") as f:
        cats = {r["category"]: (int(r["calls"]), r["name"]) for r in csv.DictReader(f)}
    assert cats["complaint"] == (2, "投诉")
    assert (out / "calls_by_source.csv").read_text(encoding="utf-8-sig").startswith("source,")
    for chart in ("calls_per_hour.png", "calls_by_township.png", "clock_compliance.png"):
        assert (out / chart).read_bytes()[:8] == PNG
        assert (out / chart).stat().st_size > 5_000
    assert set(s["files"]) >= {
        "summary.json",
        "handover.json",
        "incidents.csv",
        "orders.csv",
        "calls_by_category.csv",
        "calls_per_hour.png",
    }

    # and what was open when the day ended
    shift = json.loads((out / "handover.json").read_text(encoding="utf-8"))
    assert datetime.fromisoformat(shift["at"]) == DAY_END
    assert [i["incident_id"] for i in shift["open_incidents"]] == [day.incident["C"]]
    assert shift["open_orders"][0]["order_id"] == day.order["C"]


def test_a_month_judges_what_the_day_left_running(day: Day) -> None:
    """By the end of March the unanswered complaint and report are overdue, B's callback
    window closed without success, k1 was never called back."""
    period = parse_period("2025-03-01", "2025-03-31", datetime.now(UTC))
    with day.engine.connect() as conn:
        s, tables = summarize(conn, period, ReportRules())
    assert s.as_of == MONTH_END
    assert s.calls_total == 11  # the day before is in March too
    assert (s.complaint_reply_compliance.met, s.complaint_reply_compliance.overdue) == (1, 1)
    assert s.complaint_reply_compliance.rate == 0.5
    assert (s.report_reply_compliance.overdue, s.report_reply_compliance.rate) == (1, 0.0)
    cb = s.callback_completion
    assert (cb.met, cb.missed, cb.overdue, cb.pending) == (1, 1, 1, 0)
    # X (the day before) counts now: 60 minutes (the call at -22 h, restored at -21 h)
    x = day.answers["x2"]["incident_id"]
    assert s.reliability.incidents == 4
    row = next(r for r in tables.incidents if r["incident_id"] == x)
    assert row["duration_minutes"] == 60
    assert s.reliability.open_at_end == [day.incident["C"]]
    c = next(r for r in tables.incidents if r["incident_id"] == day.incident["C"])
    assert c["duration_minutes"] == pytest.approx(minutes_to(MONTH_END, 300))


def test_a_period_before_anything_happened_is_empty(day: Day) -> None:
    period = parse_period("2025-03-01", "2025-03-10", datetime.now(UTC))
    with day.engine.connect() as conn:
        s, tables = summarize(conn, period, ReportRules())
    assert s.calls_total == 0 and s.repair_calls == 0
    assert s.repeat_merge_rate is None and s.dispatched_within_limit is None
    assert s.reliability.incidents == 0 and s.saidi_minutes == 0 and s.caidi_minutes is None
    assert s.calls_by_township == {EAST: 0, WEST: 0}
    assert tables.orders == [] and tables.incidents == []


# -- the storm alert (article 36) --------------------------------------------------------------


def _alert(day: Day, minutes: float, **settings: Any) -> Any:
    with day.engine.connect() as conn:
        return storm_alert(
            conn,
            at(minutes),
            StormSettings(**settings),
            geography=Geography(day.services.data, day.services.model),
        )


def test_the_storm_alert_fires_when_outages_span_two_townships(day: Day) -> None:
    alert = _alert(day, 70)  # A (east) and B (west) are both open
    assert alert.active
    assert alert.townships == [EAST, WEST]
    assert alert.incident_townships == [EAST, WEST]
    assert alert.open_incidents == 2
    assert "2 townships" in alert.reasons[0]
    # A is restored at 95: from then on only the west has an open outage
    quiet = _alert(day, 200)
    assert not quiet.active and quiet.reasons == []
    assert quiet.townships == [WEST] and quiet.open_incidents == 1
    # B counts only with two calls required, and then nothing is left
    assert _alert(day, 70, incident_min_calls=2).townships == [EAST]


def test_a_planned_outage_in_another_township_within_a_day_counts(day: Day) -> None:
    planner = OutagePlanner(day.services.model)
    impact = planner.impact(["BRK0001"])  # the east feeder's breaker
    assert set(impact.transformers) >= {"T0001", "T0002", "T0003"}
    with write_transaction(day.engine) as conn:
        repo = NoticeRepository(conn)
        soon = repo.add(
            kind=NoticeKind.PLANNED,
            switch_ids=["BRK0001"],
            start=at(200 + 600),
            end=at(200 + 840),
            reason="检修",
            late_reason=None,
            published_at=at(-7 * 1440),
            published_by="dispatcher",
            impact=impact,
        )
    alert = _alert(day, 200)
    assert alert.active and alert.planned_outages == [soon.id]
    assert alert.planned_townships == [EAST] and alert.incident_townships == [WEST]
    assert "planned outage" in alert.reasons[0]
    with write_transaction(day.engine) as conn:
        NoticeRepository(conn).cancel(soon.id, at(150))
        later = NoticeRepository(conn).add(
            kind=NoticeKind.PLANNED,
            switch_ids=["BRK0001"],
            start=at(200 + 30 * 60),
            end=at(200 + 33 * 60),
            reason="检修",
            late_reason=None,
            published_at=at(-7 * 1440),
            published_by="dispatcher",
            impact=impact,
        )
    alert = _alert(day, 200)  # cancelled, and the other starts in 30 h: beyond 24 h
    assert not alert.active and alert.planned_outages == []
    assert _alert(day, 200, planned_horizon_hours=36).planned_outages == [later.id]
    # before the cancellation, the first notice still counted
    assert _alert(day, 149).planned_outages == [soon.id]


def test_the_storm_alert_fires_on_a_call_surge(day: Day) -> None:
    # (T0, T0+30]: a2, a3, k1, k2, r1, q1; the 7 days before: x1, x2 and a1
    quiet = _alert(day, 30)
    assert quiet.calls_in_window == 6
    assert quiet.baseline_calls_per_window == pytest.approx(3 / 336, abs=1e-3)
    assert quiet.townships == [EAST]
    assert not quiet.active  # six calls are fewer than the ten a surge needs
    surge = _alert(day, 30, min_surge_calls=5)
    assert surge.active
    assert surge.surge_ratio == pytest.approx(6 / (3 / 336), rel=1e-3)
    assert "6 calls in the last 30 min" in surge.reasons[0]
    assert "3×" in surge.reasons[0]
    # a ratio below the factor is no surge, however many calls
    assert not _alert(day, 30, min_surge_calls=5, surge_factor=1000).active
    absolute = _alert(day, 30, absolute_calls=6)
    assert absolute.active and "threshold of 6" in absolute.reasons[0]
    assert not _alert(day, 30, absolute_calls=7).active


# -- the handover (articles 33-34) --------------------------------------------------------------


def test_the_handover_lists_what_is_open(day: Day) -> None:
    with day.engine.connect() as conn:
        shift = handover(
            conn, at(200), ReportRules(), geography=Geography(day.services.data, day.services.model)
        )
    # A restored at 95; B open (its order is not repaired until 440); C not yet called
    [b] = shift.open_incidents
    assert b.incident_id == day.incident["B"]
    assert (b.call_count, b.age_minutes, b.townships) == (1, 140, [WEST])
    assert b.affected_customers == day.customers["B"]
    assert b.order_status == "on_site" and b.unit_id == "U1"
    orders = {o.order_id: o for o in shift.open_orders}
    # A was closed at 135; B, and the three tickets are open
    assert set(orders) == {
        day.order["B"],
        *(day.answers[k]["work_order_id"] for k in ("k1", "k2", "r1")),
    }
    first = shift.open_orders[0]
    assert first.order_id == day.order["B"]  # its restoration deadline comes first
    assert first.next_clock is not None and first.next_clock.kind == "restoration"
    assert first.next_clock.remaining_minutes == 140 + 240 - 200
    remaining = [o.next_clock.remaining_minutes for o in shift.open_orders if o.next_clock]
    assert remaining == sorted(remaining)
    dispatch = next(c for c in first.clocks if c.kind == "dispatch")
    assert (dispatch.state, dispatch.remaining_minutes) == ("missed", -7)
    tickets = {t.order_id: t for t in shift.tickets}
    k2 = tickets[day.answers["k2"]["work_order_id"]]
    assert k2.type == "complaint" and k2.clock is not None
    assert k2.clock.deadline == datetime(2025, 3, 17, 23, 59, 59, 999_000, tzinfo=LOCAL_TZ)
    r1 = tickets[day.answers["r1"]["work_order_id"]]
    assert r1.clock is not None and r1.clock.deadline.date().isoformat() == "2025-03-22"
    k1 = tickets[day.answers["k1"]["work_order_id"]]
    assert k1.clock is not None and k1.clock.state == "met"
    # k1 was answered at 120: its callback is due by the end of the next working day
    [callback] = shift.callbacks_due
    assert callback.order_id == day.answers["k1"]["work_order_id"]
    assert callback.clock.deadline.date().isoformat() == "2025-03-13"
    assert shift.counts["open_incidents"] == 1 and shift.counts["callbacks_due"] == 1
    assert not shift.storm.active

    # at the end of the day: C is open, overdue, first; B waits for its callback
    with day.engine.connect() as conn:
        late = handover(conn, DAY_END, ReportRules())
    assert [i.incident_id for i in late.open_incidents] == [day.incident["C"]]
    top = late.open_orders[0]
    assert top.order_id == day.order["C"] and top.next_clock is not None
    assert (top.next_clock.kind, top.next_clock.state) == ("dispatch", "overdue")
    assert top.next_clock.escalation == 3  # late by more than the whole span again
    due = {c.order_id: c for c in late.callbacks_due}
    assert due[day.order["B"]].last_failure_reason == "无人接听"
    assert due[day.order["B"]].attempts == 1
    assert late.counts["overdue_clocks"] >= 2


# -- the HTTP endpoints ------------------------------------------------------------------------


def test_storm_mode_handover_and_summary_over_http(day: Day) -> None:
    add_users(day.engine)
    app = make_app(day.engine, day.services, lambda: at(70))
    with TestClient(app) as client:
        dispatcher = login(client, Role.DISPATCHER)
        r = client.get("/api/storm-mode", headers=dispatcher)
        assert r.status_code == 200, r.text
        assert r.json()["active"] is True and r.json()["townships"] == [EAST, WEST]
        r = client.get("/api/storm-mode", headers=dispatcher, params={"at": at(200).isoformat()})
        assert r.json()["active"] is False
        assert client.get("/api/storm-mode", headers=login(client, Role.AGENT)).status_code == 403
        assert client.get("/api/storm-mode").status_code == 401

        r = client.get("/api/handover", headers=dispatcher)
        assert r.status_code == 200, r.text
        body = r.json()
        assert {i["incident_id"] for i in body["open_incidents"]} == {
            day.incident["A"],
            day.incident["B"],
        }
        assert body["storm"]["active"] is True
        # B's order is not dispatched yet at T0+70: five minutes late, the first to act on
        assert body["open_orders"][0]["order_id"] == day.order["B"]
        assert body["open_orders"][0]["next_clock"]["kind"] == "dispatch"
        assert body["open_orders"][0]["next_clock"]["remaining_minutes"] == -5
        assert client.get("/api/handover", headers=login(client, Role.AGENT)).status_code == 403

        supervisor = login(client, Role.SUPERVISOR)
        r = client.get(
            "/api/report/summary",
            headers=supervisor,
            params={"from": "2025-03-12", "to": "2025-03-12"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["calls_total"] == 9 and r.json()["repeat_merge_rate"] == 0.4
        assert client.get("/api/report/summary", headers=dispatcher).status_code == 403
        r = client.get("/api/report/summary", headers=supervisor, params={"from": "soon"})
        assert r.status_code == 400 and "neither a date" in r.json()["detail"]


# -- charts without a Chinese font ---------------------------------------------------------------


def test_charts_fall_back_without_a_chinese_font(
    day: Day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names show as boxes, but the charts are written and nothing warns (warnings are
    errors in this suite)."""
    from api import report

    assert report.cjk_font() == "Noto Sans CJK SC"  # installed by make install
    period = parse_period("2025-03-12", "2025-03-12", datetime.now(UTC))
    with day.engine.connect() as conn:
        summary, tables = summarize(conn, period, ReportRules())
    monkeypatch.setattr(report, "cjk_font", lambda: None)
    files = report.draw_charts(tmp_path, summary, tables, period, period.end)
    assert [f.name for f in files] == [
        "calls_per_hour.png",
        "calls_by_township.png",
        "clock_compliance.png",
    ]
    assert all(f.read_bytes()[:8] == PNG for f in files)
