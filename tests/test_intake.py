"""The intake and the replay on both databases: answers, idempotency, concurrency."""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.cli import main
from gis.db import json_value, make_engine
from layers.synthetic import synthetic_grid
from outages.calls import CALL_COLUMNS

T0 = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)


@pytest.fixture
def imported(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    grid = synthetic_grid(
        9,
        substations=1,
        feeders_per_bus=2,
        sections_per_feeder=20,
        branch_probability=0.3,
        transformers_per_feeder=8,
        service_points_per_transformer=12,
    )
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    assert main(["layers", "import", str(grid.write(tmp_path / "grid.gpkg"))]) == 0
    return grid


def _row(call_id: str, minutes: float, account: str | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "received_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "account_no": account,
        **kw,
    }


def _grouping_grid(
    db_url: str, tmp_path: Path, shape: dict[str, object] | None = None
) -> tuple[dict[str, str], Any, Any, Any]:
    """A grouping tests' grid (by default feeders of 30 transformers), prepared and saved
    in the database: its account numbers by service point, its layers, its network model
    and the engine."""
    from test_grouping import GROUPING_GRID

    from gis.db import write_transaction
    from layers.importer import prepare
    from layers.store import save_grid

    grid = synthetic_grid(4, substations=1, **(shape or GROUPING_GRID))  # type: ignore[arg-type]
    data, model, _problems = prepare(grid.write(tmp_path / "grid.gpkg"))
    assert data is not None and model is not None
    engine = make_engine(db_url)
    with write_transaction(engine) as conn:
        save_grid(conn, data, source="test", snap_tolerance=1.0, warnings=[])
    account = {sp["id"]: sp["account_no"] for sp in grid.rows["service_points"]}
    return account, data, model, engine


def _stored_call_ids(conn: Any, incident_id: str) -> set[str]:
    """The calls an incident's stored row holds."""
    from outages.store import incidents

    members = conn.execute(
        select(incidents.c.members).where(incidents.c.id == incident_id)
    ).scalar_one()
    return {m["call_id"] for m in json_value(members)}


def _write_calls(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    columns = list(CALL_COLUMNS)
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c) or "" for c in columns})
    return path


def test_replay_answers_every_call_once(
    imported: Any, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sps = imported.rows["service_points"]
    same_tr = [s for s in sps if s["transformer_id"] == sps[0]["transformer_id"]]
    rows = [
        _row("c1", 0, same_tr[0]["account_no"]),
        _row("c2", 3, same_tr[1]["account_no"]),
        _row("c2", 4, same_tr[2]["account_no"]),  # the same id again: one call
        _row("c3", 5, same_tr[2]["account_no"], category="complaint", description="态度差"),
        _row("c4", 6, same_tr[2]["account_no"], category="consult"),
        {"call_id": "bad1", "received_at": "yesterday"},
        {"call_id": "", "received_at": T0.isoformat()},
        _row("bad2", 7, category="teleport"),
        _row("c5", 8, same_tr[3]["account_no"], lat="999", lon="113.6"),
    ]
    calls = _write_calls(tmp_path / "calls.csv", rows)
    out = tmp_path / "result.jsonl"
    assert main(["replay", str(calls), "--out", str(out)]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    final = lines[-1]["final"]["incidents"]
    answers = lines[:-1]
    assert len(answers) == len(rows)
    by_id: dict[str | None, list[dict[str, Any]]] = {}
    for a in answers:
        by_id.setdefault(a["call_id"], []).append(a)
    assert by_id["c1"][0]["status"] == "new"
    assert by_id["c2"][0]["status"] == "merged"
    assert by_id["c2"][0] == by_id["c2"][1]  # the repeat writes the first answer again
    assert by_id["c2"][0]["incident_id"] == by_id["c1"][0]["incident_id"]
    assert by_id["c2"][0]["work_order_id"] == by_id["c1"][0]["work_order_id"]
    assert by_id["c3"][0]["status"] == "ticket" and by_id["c3"][0]["work_order_id"]
    assert by_id["c4"][0]["status"] == "consult" and by_id["c4"][0]["work_order_id"] is None
    assert by_id["bad1"][0]["status"] == "rejected" and "received_at" in by_id["bad1"][0]["reason"]
    assert "row" in by_id["bad1"][0]["reason"]
    assert by_id[None][0]["status"] == "rejected"
    assert by_id["bad2"][0]["status"] == "rejected" and "category" in by_id["bad2"][0]["reason"]
    c5 = by_id["c5"][0]
    # a third customer below an outage that two have reported: told of it (article 25)
    assert c5["status"] == "known_outage" and "position dropped" in c5["reason"]
    incident = next(i for i in final if i["incident_id"] == by_id["c1"][0]["incident_id"])
    assert set(incident["call_ids"]) == {"c1", "c2", "c5"}
    # replaying the file again changes nothing and answers the same
    out2 = tmp_path / "again.jsonl"
    assert main(["replay", str(calls), "--out", str(out2)]) == 0
    again = [json.loads(x) for x in out2.read_text(encoding="utf-8").splitlines()[:-1]]
    assert [a for a in again if a["call_id"] == "c1"] == by_id["c1"][:1]
    engine = make_engine(db_url)
    from outages.store import calls as calls_table
    from outages.store import incidents as incidents_table

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(calls_table)).scalar() == 7
        # the members are stored as a JSON array (encoded from parts, not as a string)
        json_type = func.json_typeof if conn.dialect.name == "postgresql" else func.json_type
        members = incidents_table.c.members
        kind, stored = conn.execute(
            select(json_type(members), members).where(
                incidents_table.c.id == incident["incident_id"]
            )
        ).one()
    assert kind == "array"
    assert {m["call_id"] for m in stored} == {"c1", "c2", "c5"}
    engine.dispose()


def test_a_calls_file_in_gbk_or_with_a_broken_byte_is_replayed_whole(
    imported: Any, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Excel on a Chinese Windows saves a CSV in GBK, and a copied file may hold a broken
    byte (the contract asks for UTF-8), and a header typed by hand may have spaces and
    capitals. None of it stops a replay or loses a call: a GBK file is read as such, its
    Chinese text intact; in a UTF-8 file, a line's broken bytes are read as U+FFFD and its
    call goes through. A warning says which."""
    from outages.store import calls as calls_table

    sps = imported.rows["service_points"]
    text = "停电了，家里全黑"
    rows = [_row(f"g{k}", k, sps[k]["account_no"], description=text) for k in range(3)]
    gbk = _write_calls(tmp_path / "gbk.csv", rows, encoding="gbk")
    utf8 = _write_calls(tmp_path / "utf8.csv", [{**r, "call_id": "u" + r["call_id"]} for r in rows])
    lines = utf8.read_bytes().split(b"\n")
    lines[2] = lines[2].replace("停".encode(), b"\xff")  # the second call's line
    # a header typed by hand: spaces after the commas, a name in capitals
    lines[0] = lines[0].replace(b",", b", ").replace(b"call_id", b"Call_ID")
    utf8.write_bytes(b"\n".join(lines))
    caplog.set_level(logging.WARNING)
    for path in (gbk, utf8):
        out = tmp_path / f"{path.stem}.jsonl"
        assert main(["replay", str(path), "--out", str(out)]) == 0
        answers = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()[:-1]]
        assert len(answers) == 3 and all(a["incident_id"] for a in answers), answers
    assert "gbk.csv is not UTF-8: read as GB18030" in caplog.text
    assert "utf8.csv: line 3 is not UTF-8 text" in caplog.text
    engine = make_engine(db_url)
    with engine.connect() as conn:
        stored = {
            str(r.call_id): r.description
            for r in conn.execute(select(calls_table.c.call_id, calls_table.c.description))
        }
    engine.dispose()
    assert {stored[f"g{k}"] for k in range(3)} == {text}
    assert stored["ug0"] == stored["ug2"] == text
    assert stored["ug1"] == text.replace("停", "\ufffd")


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        # GBK, one line of which is valid UTF-8 by chance (全停 reads as two Latin letters)
        ("h\n停电了，家里全黑\n全停\n".encode("gbk"), "h\n停电了，家里全黑\n全停\n"),
        ("call_id,address\nC1,城关镇东街\n".encode("gbk"), "call_id,address\nC1,城关镇东街\n"),
        # not GBK: a Windows-1252 letter in ASCII, a cut-off character, a broken byte
        (b"h\nRen\xe9e Street\n", "h\nRen\ufffde Street\n"),
        (b"h\n" + "停电".encode()[:-1] + b"\n", "h\n停\ufffd\n"),
        ("h\n停电了\n家里\n".encode().replace("家".encode(), b"\xff"), "h\n停电了\n\ufffd里\n"),
        ("h\nRenée\n".encode() + b"bad \xff\n", "h\nRenée\nbad \ufffd\n"),
    ],
)
def test_a_calls_files_encoding_is_told_by_its_lines(tmp_path: Path, raw: bytes, read: str) -> None:
    from outages.calls import read_csv_text

    path = tmp_path / "calls.csv"
    path.write_bytes(raw)
    assert read_csv_text(path) == read


def _agent(db_url: str, rows: list[dict[str, Any]], start: Any, out: Any) -> None:
    import gis  # noqa: F401
    from api.bootstrap import intake_services
    from dispatch.intake import Intake

    engine = make_engine(db_url)
    intake = Intake(engine, intake_services(engine), taken_by="agent")
    start.wait()
    answers = [intake.take(r) for r in rows]
    out.put(answers)
    engine.dispose()


def test_two_agents_in_two_processes_open_one_incident(imported: Any, db_url: str) -> None:
    sps = imported.rows["service_points"]
    t = sps[0]["transformer_id"]
    mine = [s for s in sps if s["transformer_id"] == t]
    # many calls each, at the same moments, so that the two processes really race
    a_rows = [_row(f"a{i}", i * 0.1, mine[i % len(mine)]["account_no"]) for i in range(25)]
    b_rows = [_row(f"b{i}", i * 0.1, mine[-1 - i % len(mine)]["account_no"]) for i in range(25)]
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_agent, args=(db_url, rows, start, out)) for rows in (a_rows, b_rows)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    answers = [a for r in results for a in r]
    assert len({a["incident_id"] for a in answers}) == 1
    assert len({a["work_order_id"] for a in answers}) == 1
    assert sum(a["status"] == "new" for a in answers) == 1
    from dispatch.store import work_orders
    from outages.store import incidents

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(incidents)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(work_orders)).scalar() == 1
    engine.dispose()


def test_a_call_typed_in_late_joins_without_error(imported: Any, db_url: str) -> None:
    """An agent enters a call received before the incident's first call: it is merged, and
    the order's events are never dated before the order."""
    from api.bootstrap import intake_services
    from dispatch.intake import Intake

    sps = imported.rows["service_points"]
    mine = [s for s in sps if s["transformer_id"] == sps[0]["transformer_id"]]
    engine = make_engine(db_url)
    intake = Intake(engine, intake_services(engine), taken_by="agent")
    first = intake.take(_row("L1", 30, mine[0]["account_no"]))
    late = intake.take(_row("L2", 5, mine[1]["account_no"]))
    assert late["incident_id"] == first["incident_id"]
    assert late["work_order_id"] == first["work_order_id"]
    engine.dispose()


def test_two_storms_of_the_same_night_replay_into_one_database(
    imported: Any, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Storms overlapping in time, replayed one after the other: the second meets the
    first's open incidents and orders, and every call is still answered."""
    for seed in (1, 2):
        storm = tmp_path / f"storm{seed}"
        assert main(["simulate-storm", str(storm), "--seed", str(seed), "--faults", "6"]) == 0
        out = tmp_path / f"result{seed}.jsonl"
        assert main(["replay", str(storm / "calls.csv"), "--out", str(out)]) == 0
        lines = out.read_text(encoding="utf-8").splitlines()
        rows = (storm / "calls.csv").read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(rows)  # one answer per row (header excluded) + the final


def test_an_order_stored_unknown_to_the_intake_is_used_not_duplicated(
    imported: Any, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """New orders are held and written at the end of the transaction (PostgreSQL); one that
    turns out to be stored already (opened by another writer the intake does not know of)
    rolls the transaction back and runs it again: the stored order is used, nothing is
    written twice, and the answers are those of a plain run."""
    from api.bootstrap import intake_services
    from dispatch.clocks import AreaClass
    from dispatch.intake import Intake
    from dispatch.orders import OrderType, WorkOrder
    from dispatch.store import SqlDispatchRepository, order_calls, work_orders
    from gis.db import write_transaction

    sps = imported.rows["service_points"]
    mine = [s for s in sps if s["transformer_id"] == sps[0]["transformer_id"]]
    engine = make_engine(db_url)
    with write_transaction(engine) as conn:
        repo = SqlDispatchRepository(conn)
        repo.add_order(
            WorkOrder.open_repair("INC000001", None, AreaClass.RURAL, T0, T0, "dispatcher"), T0
        )
        repo.add_order(
            WorkOrder.open_ticket(
                OrderType.COMPLAINT, "k1", T0, T0, "dispatcher", department="service"
            ),
            T0,
        )
    intake = Intake(engine, intake_services(engine), taken_by="agent")
    rows = [
        (None, _row("r1", 1, mine[0]["account_no"])),
        (None, _row("r2", 2, mine[1]["account_no"])),
        (None, _row("k1", 3, category="complaint", description="rude agent")),
    ]
    with caplog.at_level("WARNING"):
        answers = list(intake.take_many(rows))
    assert [a["work_order_id"] for a in answers] == ["WO-INC000001"] * 2 + ["TK-k1"]
    assert answers[0]["incident_id"] == answers[1]["incident_id"] == "INC000001"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(work_orders)).scalar() == 2
        attached = conn.execute(
            select(order_calls.c.call_id).where(order_calls.c.order_id == "WO-INC000001")
        ).scalars()
        assert sorted(attached) == ["r1", "r2"]
    if engine.dialect.name == "postgresql":
        assert "runs again" in caplog.text
    # the next transaction holds its new orders again
    more = intake.take(_row("k2", 4, category="complaint", description="again"))
    assert more["work_order_id"] == "TK-k2"
    engine.dispose()


def test_customers_calling_again_after_a_nested_repair_join_the_outage_above(
    imported: Any, db_url: str
) -> None:
    """A recloser's fault, then its feeder breaker trips an hour later; the crew restores
    the recloser's fault (through the database, so the intake reloads), but its customers
    are still dark, because of the breaker, and call again. Their calls belong to the
    breaker's outage: the reloaded intake must know of the restored incident to tell them
    from a new fault at the recloser."""
    from api.bootstrap import intake_services
    from dispatch.intake import Intake
    from gis.db import write_transaction
    from outages.store import incidents, restore_incident

    engine = make_engine(db_url)
    services = intake_services(engine)
    model = services.model
    recloser = next(s for s, k in model.switch_kind.items() if k == "recloser")
    breaker = model.protective_chain(recloser)[-1]
    nested = model.downstream_transformers(recloser)
    others = [t for t in model.downstream_transformers(breaker) if t not in nested]
    assert len(nested) >= 2 and len(others) >= 3
    accounts: dict[str, list[str]] = {}
    for sp in imported.rows["service_points"]:
        accounts.setdefault(sp["transformer_id"], []).append(sp["account_no"])
    intake = Intake(engine, services, taken_by="agent")
    first = [intake.take(_row(f"n{i}", i, accounts[t][i])) for i, t in enumerate(nested * 3)]
    outage = [intake.take(_row(f"b{i}", 60 + i, accounts[t][i])) for i, t in enumerate(others * 3)]
    nested_incident, breaker_incident = first[-1]["incident_id"], outage[-1]["incident_id"]
    assert first[-1]["predicted_device_id"] == recloser
    assert outage[-1]["predicted_device_id"] == breaker
    with write_transaction(engine) as conn:
        assert restore_incident(conn, nested_incident, T0 + timedelta(minutes=90), "crew")
    again = [
        intake.take(_row(f"a{i}", 130 + i, accounts[t][-1 - i])) for i, t in enumerate(nested * 3)
    ]
    assert {a["incident_id"] for a in again} == {breaker_incident}
    intake.settle(T0 + timedelta(minutes=150))
    with engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(incidents.c.id, incidents.c.restored_at).where(
                    incidents.c.merged_into.is_(None)
                )
            ).all()
        )
        held = _stored_call_ids(conn, breaker_incident)
    # the two faults' incidents and no third; the breaker's still out, holding the calls
    assert set(rows) == {nested_incident, breaker_incident}
    assert rows[nested_incident] is not None and rows[breaker_incident] is None
    assert {a["call_id"] for a in again} <= held
    engine.dispose()


def test_calls_after_a_nested_repair_nobody_reported_go_to_the_outage_above_and_its_order(
    db_url: str, tmp_path: Path
) -> None:
    """As above, but no crew reports the lateral's repair: a burst of calls from its area
    long after its fault, under the breaker's outage that began later, tells of it. The
    calls split off the lateral's incident go to the breaker's, stored, and onto its order."""
    import random

    from test_grouping import _fuse_with_transformers

    from dispatch.intake import Intake, IntakeServices
    from dispatch.store import order_calls

    account, data, model, engine = _grouping_grid(db_url, tmp_path)
    fuse, lateral = _fuse_with_transformers(model, 2)
    breaker = model.protective_chain(fuse)[-1]
    rng = random.Random(5)
    calls = [
        (rng.expovariate(1 / 6), t, sp)
        for t in lateral
        for sp in model.downstream_service_points(t)[::6]
    ] + [
        (10 + rng.expovariate(1 / 8), t, sp)
        for t in model.downstream_transformers(breaker)
        if t not in lateral
        for sp in model.downstream_service_points(t)[::10]
    ]
    again = [
        (100 + rng.expovariate(1 / 6), t, sp)
        for t in lateral
        for sp in model.downstream_service_points(t)[3::6]
    ]
    intake = Intake(engine, IntakeServices.build(data, model), taken_by="agent")
    answers = {}
    for n, (minute, _t, sp) in enumerate(sorted(calls)):
        answers[n] = intake.take(_row(f"f{n}", minute, account[sp]))
    outage = next(a for a in answers.values() if a["predicted_device_id"] == breaker)
    for n, (minute, _t, sp) in enumerate(sorted(again)):
        intake.take(_row(f"again{n}", minute, account[sp]))
    intake.settle(T0 + timedelta(minutes=160))
    grouping = intake.grouping
    holder = grouping.survivor(grouping.incidents[outage["incident_id"]])
    held = {c for c in holder.members if c.startswith("again")}
    assert len(held) >= 0.8 * len(again)
    assert any("still out under" in e for e in holder.evidence)
    with engine.connect() as conn:
        stored = _stored_call_ids(conn, holder.id)
        on_order = set(
            conn.execute(
                select(order_calls.c.call_id).where(
                    order_calls.c.order_id == outage["work_order_id"]
                )
            ).scalars()
        )
    assert held <= stored
    assert held <= on_order
    engine.dispose()


def test_a_burst_cut_off_an_older_incident_piece_by_piece_is_one_incident_and_one_order(
    db_url: str, tmp_path: Path
) -> None:
    """Two calls below a fuse, then half an hour later a burst below it, taken live: the
    burst's calls join the older incident and are cut off it again and again; they end in
    one incident, stored, with one work order that holds them all (article 24)."""
    from test_grouping import _fuse_with_transformers

    from dispatch.intake import Intake, IntakeServices
    from dispatch.store import order_calls, work_orders

    account, data, model, engine = _grouping_grid(db_url, tmp_path)
    fuse, lateral = _fuse_with_transformers(model, 2)
    customers = [model.downstream_service_points(t) for t in lateral]
    intake = Intake(engine, IntakeServices.build(data, model), taken_by="agent")
    intake.take(_row("anchor0", 0, account[customers[0][0]]))
    intake.take(_row("anchor1", 1, account[customers[1][0]]))
    for k in range(12):
        intake.take(_row(f"burst{k}", 35 + 0.7 * k, account[customers[k % 2][1 + k]]))
    grouping = intake.grouping
    burst = {f"burst{k}" for k in range(12)}
    holders = {
        grouping.survivor(grouping.incidents[grouping._member_incident[c]]).id for c in burst
    }
    assert len(holders) == 1, holders
    holder = grouping.incidents[holders.pop()]
    assert holder.device == fuse
    assert burst <= set(holder.members)
    with engine.connect() as conn:
        stored = _stored_call_ids(conn, holder.id)
        order_of = {
            str(r.call_id): str(r.order_id)
            for r in conn.execute(select(order_calls.c.call_id, order_calls.c.order_id))
        }
        orders = conn.execute(select(work_orders.c.order_id)).scalars().all()
    assert burst <= stored
    assert len({order_of[c] for c in burst}) == 1  # one fault, one order for its calls
    assert len(orders) == 2  # the anchor's incident and the burst's
    engine.dispose()


def test_a_call_just_before_a_large_outage_keeps_its_incident_and_the_outage_takes_the_rest(
    db_url: str, tmp_path: Path
) -> None:
    """The lone call just before a breaker's outage (see the grouping test of that name),
    taken live: the lone call ends alone in its incident; the calls of its branch, which
    rolled up with it at first, are stored with the breaker's outage, and that outage's
    work order holds every call the outage holds (no call lost between the two)."""
    from test_grouping import HUNDRED_GRID, lone_call_then_breaker

    from dispatch.intake import Intake, IntakeServices
    from dispatch.store import order_calls

    account, data, model, engine = _grouping_grid(db_url, tmp_path, HUNDRED_GRID)
    breaker, lone, calls = lone_call_then_breaker(model, 4)
    intake = Intake(engine, IntakeServices.build(data, model), taken_by="agent")
    for n, (minute, _t, sp, kind) in enumerate(calls):
        intake.take(_row(f"{kind}{n}", minute, account[sp]))
    grouping = intake.grouping

    def holder(call_id: str) -> Any:
        return grouping.survivor(grouping.incidents[grouping._member_incident[call_id]])

    out = [f"{kind}{n}" for n, (*_c, kind) in enumerate(calls) if kind == "out"]
    outage = max({holder(c).id for c in out}, key=lambda i: len(grouping.incidents[i].members))
    members = set(grouping.incidents[outage].members)
    assert len(members) >= len(out) - 1 and grouping.incidents[outage].device == breaker
    apart = holder("lone0")
    assert apart.id != outage and apart.device == lone and set(apart.members) == {"lone0"}
    with engine.connect() as conn:
        assert _stored_call_ids(conn, outage) == members
        assert _stored_call_ids(conn, apart.id) == {"lone0"}
        in_order = set(
            conn.execute(
                select(order_calls.c.call_id).where(
                    order_calls.c.order_id == intake._orders[outage]
                )
            ).scalars()
        )
    assert members <= in_order
    engine.dispose()


def test_a_call_nothing_placed_joins_the_outage_that_took_the_calls_around_it(
    db_url: str, tmp_path: Path
) -> None:
    """A call in an outage's first minutes says nothing of where it is (no account, pole,
    position or address): too few calls have come yet to tell which outage is under way,
    and it opens an incident of its own, to place by hand. When the located calls of the
    minutes around it have all gone to one outage, that outage takes it: the incident and
    its order are merged into that outage's, and the call is on that order."""
    from test_grouping import _fuse_with_transformers

    from dispatch.intake import Intake, IntakeServices
    from dispatch.store import order_calls, work_orders

    account, data, model, engine = _grouping_grid(db_url, tmp_path)
    fuse, lateral = _fuse_with_transformers(model, 2)
    intake = Intake(engine, IntakeServices.build(data, model), taken_by="agent")
    customers = [sp for t in lateral for sp in model.downstream_service_points(t)[::5]]
    answers = [intake.take(_row(f"c{k}", k, account[sp])) for k, sp in enumerate(customers[:2])]
    first = intake.take(_row("nowhere", 1.5, None))
    assert first["status"] == "new" and first["predicted_device_id"] is None
    answers += [
        intake.take(_row(f"c{k}", k, account[sp])) for k, sp in enumerate(customers) if k >= 2
    ]
    outage = answers[-1]
    assert outage["predicted_device_id"] == fuse
    intake.settle(T0 + timedelta(minutes=60))
    grouping = intake.grouping
    holder = grouping.survivor(grouping.incidents[first["incident_id"]])
    assert holder.id == outage["incident_id"] and "nowhere" in holder.members
    with engine.connect() as conn:
        on_order = set(
            conn.execute(
                select(order_calls.c.call_id).where(
                    order_calls.c.order_id == outage["work_order_id"]
                )
            ).scalars()
        )
        closed = conn.execute(
            select(work_orders.c.status).where(work_orders.c.order_id == first["work_order_id"])
        ).scalar_one()
        stored = _stored_call_ids(conn, outage["incident_id"])
    assert "nowhere" in on_order and "nowhere" in stored
    assert closed == "closed"
    engine.dispose()


def test_incidents_the_re_examination_rolls_up_have_their_orders_merged(
    db_url: str, tmp_path: Path
) -> None:
    """A fault's calls under several transformers of a fuse, each left an incident and an
    order of its own when it came (the call-time roll-up set out of reach): the
    re-examination at the end rolls them up to the fuse, and one order holds every call;
    the others are closed."""
    from test_grouping import _fuse_with_transformers

    from dispatch.intake import Intake, IntakeServices
    from dispatch.store import order_calls, work_orders
    from outages.config import GroupingSettings

    account, data, model, engine = _grouping_grid(db_url, tmp_path)
    fuse, lateral = _fuse_with_transformers(model, 3)
    services = IntakeServices.build(data, model, grouping=GroupingSettings(roll_up_margin=1000))
    intake = Intake(engine, services, taken_by="agent")
    customers = [sp for t in lateral for sp in model.downstream_service_points(t)[::8]]
    answers = [intake.take(_row(f"c{k}", k * 0.7, account[sp])) for k, sp in enumerate(customers)]
    orders = {a["work_order_id"] for a in answers}
    assert len(orders) == len(lateral)
    intake.settle(T0 + timedelta(minutes=60))
    grouping = intake.grouping
    [outage] = grouping.open_incidents()
    assert outage.device == fuse and len(outage.members) == len(customers)
    kept = intake._orders[outage.id]
    with engine.connect() as conn:
        on_order = set(
            conn.execute(
                select(order_calls.c.call_id).where(order_calls.c.order_id == kept)
            ).scalars()
        )
        statuses = dict(
            conn.execute(
                select(work_orders.c.order_id, work_orders.c.status).where(
                    work_orders.c.order_id.in_(orders)
                )
            ).all()
        )
        stored = _stored_call_ids(conn, outage.id)
    assert on_order == stored == {a["call_id"] for a in answers}
    assert sorted(s for o, s in statuses.items() if o != kept) == ["closed"] * (len(orders) - 1)
    engine.dispose()


def test_a_call_placed_nowhere_goes_to_the_unit_the_storm_is_calling_from(
    db_url: str, tmp_path: Path
) -> None:
    """A call that nothing places still needs a unit: the one the last minutes' located
    calls went to, not the unit serving the most customers when the storm is elsewhere."""
    from test_grouping import GROUPING_GRID

    from dispatch.intake import Intake, IntakeServices

    account, data, model, engine = _grouping_grid(db_url, tmp_path, {**GROUPING_GRID, "units": 4})
    services = IntakeServices.build(data, model)
    busiest = services.units.responsible(None, None, None).unit_id
    assert busiest is not None

    def unit_of(transformer: str) -> str | None:
        lon, lat = data.element_location(transformer) or (None, None)
        return services.units.responsible(lon, lat, transformer).unit_id

    elsewhere = next(t for t in model.transformer_ids if unit_of(t) not in (None, busiest))
    intake = Intake(engine, services, taken_by="agent")
    customers = model.downstream_service_points(elsewhere)[:4]
    answers = [intake.take(_row(f"s{k}", k * 0.5, account[sp])) for k, sp in enumerate(customers)]
    storm_unit = answers[-1]["unit_id"]
    assert storm_unit not in (None, busiest)
    nowhere = intake.take(_row("nowhere", 3, None))
    assert nowhere["predicted_device_id"] is None
    assert nowhere["unit_id"] == storm_unit
    engine.dispose()


def test_incidents_split_at_a_sweep_are_stored_as_the_engine_holds_them(
    db_url: str, tmp_path: Path
) -> None:
    """Taken live, one call at a time, a storm's incidents are re-examined every few
    minutes after some call; one split then, while the call was about another fault, must
    be written as well as the parts cut from it: the database holds each call once."""
    from dispatch.intake import Intake, IntakeServices
    from dispatch.replay import read_calls
    from outages.store import incidents
    from outages.storm import simulate_storm

    _account, data, model, engine = _grouping_grid(db_url, tmp_path)
    intake = Intake(engine, IntakeServices.build(data, model), taken_by="agent")
    calls_path, _truth = simulate_storm(data, model, faults=20, seed=5).write(tmp_path / "s")
    orders_seen: set[str] = set()
    answered: set[str] = set()
    reused = []
    for number, row in read_calls(calls_path):
        answer = intake.take(row, row_number=number)
        order = answer.get("work_order_id")
        if answer["call_id"] in answered:
            continue  # a repeated row: the first answer again
        answered.add(answer["call_id"])
        if answer["status"] == "new" and order in orders_seen:
            reused.append(answer["call_id"])  # 'new' and yet no new order (CONTRACT 3)
        if order is not None:
            orders_seen.add(order)
    assert reused == []
    held = {
        i.id: sorted(i.members)
        for i in intake.grouping.incidents.values()
        if i.merged_into is None and i.members
    }
    assert any(i.split_from for i in intake.grouping.incidents.values())
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents.c.id, incidents.c.members).where(incidents.c.merged_into.is_(None))
        ).all()
    stored = {
        r.id: sorted(
            m["call_id"]
            for m in (json.loads(r.members) if isinstance(r.members, str) else r.members)
        )
        for r in rows
    }
    assert {k: v for k, v in stored.items() if v} == held
    with engine.connect() as conn:
        assert _open_orders_calls(conn, intake) == {
            intake._orders[k]: set(v) for k, v in held.items()
        }
    engine.dispose()


def _open_orders_calls(conn: Any, intake: Any) -> dict[str, set[str]]:
    """The calls stored on each open repair order of the intake's open incidents."""
    from dispatch.store import order_calls, work_orders

    rows = conn.execute(
        select(order_calls.c.order_id, order_calls.c.call_id)
        .join(work_orders, work_orders.c.order_id == order_calls.c.order_id)
        .where(work_orders.c.status != "closed", work_orders.c.incident_id.is_not(None))
    ).all()
    found: dict[str, set[str]] = {}
    for order_id, call_id in rows:
        found.setdefault(order_id, set()).add(call_id)
    return found


def _replay_storm(
    db_url: str, data: Any, model: Any, calls_path: Path, workers: int, die_after: int = 0
) -> tuple[list[str], list[int]]:
    """The replay's output lines, and the calls located in this process (by its id). With
    ``die_after``, a worker dies when it has located that many calls."""
    from dispatch.intake import Intake, IntakeServices
    from dispatch.replay import replay
    from gis.db import write_transaction
    from layers.store import save_grid

    engine = make_engine(db_url)
    with write_transaction(engine) as conn:
        save_grid(conn, data, source="test", snap_tolerance=1.0, warnings=[])
    services = IntakeServices.build(data, model)
    located_by: list[int] = []
    locate = services.locator.locate
    here = os.getpid()

    def recording(call: Any) -> Any:
        located_by.append(os.getpid())  # in a worker, its own copy of the list
        if die_after and os.getpid() != here and len(located_by) > die_after:
            os._exit(9)  # killed, out of memory...
        return locate(call)

    services.locator.locate = recording  # type: ignore[method-assign]
    out = StringIO()
    replay(Intake(engine, services, taken_by="replay"), calls_path, out, workers=workers, chunk=9)
    engine.dispose()
    return out.getvalue().splitlines(), located_by


def test_calls_located_ahead_in_a_worker_are_answered_as_the_intake_alone_answers(
    db_url: str, other_db_url: str, tmp_path: Path
) -> None:
    """The replay's worker parses and locates the calls while the intake groups the ones
    before: the answers, incidents and orders are the same as when the intake locates
    each call itself, and this process located none."""
    from outages.storm import simulate_storm

    _account, data, model, engine = _grouping_grid(db_url, tmp_path)
    engine.dispose()
    storm = simulate_storm(data, model, faults=6, hours=2, seed=3)
    calls_path, _truth = storm.write(tmp_path / "s")
    alone, located_alone = _replay_storm(db_url, data, model, calls_path, workers=0)
    ahead, located_here = _replay_storm(other_db_url, data, model, calls_path, workers=1)
    assert len(alone) > 40 and located_alone  # more calls than the chunks of 9
    assert ahead == alone
    assert located_here == []


def test_a_dying_locating_worker_loses_no_call(
    db_url: str, other_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that dies half-way (killed, out of memory): the calls it had not located
    are located in the intake's process, and every call is answered as without it."""
    from outages.storm import simulate_storm

    _account, data, model, engine = _grouping_grid(db_url, tmp_path)
    engine.dispose()
    calls_path, _truth = simulate_storm(data, model, faults=6, hours=2, seed=3).write(
        tmp_path / "s"
    )
    alone, _ = _replay_storm(db_url, data, model, calls_path, workers=0)
    with caplog.at_level("WARNING"):
        ahead, located_here = _replay_storm(
            other_db_url, data, model, calls_path, workers=1, die_after=20
        )
    assert "locating worker died" in caplog.text
    assert ahead == alone
    assert 0 < len(located_here) < len(alone) - 1  # the worker located the first ones


def test_a_failed_re_examination_loses_no_call(
    imported: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sweep after a call fails (say, its transaction is refused): the call is stored
    and answered all the same, and the next call is taken from what the database holds."""
    from api.bootstrap import intake_services
    from dispatch.intake import Intake
    from outages.grouping import GroupingEngine
    from outages.store import calls as calls_table

    def failing(self: GroupingEngine, now: datetime | None = None) -> None:
        raise RuntimeError("sweep refused")

    sps = imported.rows["service_points"]
    mine = [s for s in sps if s["transformer_id"] == sps[0]["transformer_id"]]
    engine = make_engine(db_url)
    intake = Intake(engine, intake_services(engine), taken_by="agent")
    with monkeypatch.context() as patch, caplog.at_level("ERROR"):
        patch.setattr(GroupingEngine, "sweep", failing)
        first = intake.take(_row("f1", 0, mine[0]["account_no"]))
    assert first["status"] == "new" and "sweep refused" in caplog.text
    with engine.connect() as conn:
        stored = conn.execute(select(calls_table.c.call_id)).scalars().all()
    assert stored == ["f1"]
    before = intake.grouping
    second = intake.take(_row("f2", 2, mine[1]["account_no"]))
    assert intake.grouping is not before  # read again from the database
    assert second["status"] == "merged" and second["incident_id"] == first["incident_id"]
    engine.dispose()


def test_a_lone_call_whose_neighbours_stay_quiet_is_flagged_in_the_stored_evidence(
    imported: Any, db_url: str
) -> None:
    """Article 22: a lone call's neighbours stay quiet; the sweep after a later call
    (about something else) says in the stored incident that it may be the customer's own
    wiring, so that the dispatcher sees it before sending a crew."""
    from api.bootstrap import intake_services
    from dispatch.intake import Intake
    from outages.store import incidents

    sps = imported.rows["service_points"]
    by_transformer: dict[str, list[str]] = {}
    for sp in sps:
        by_transformer.setdefault(sp["transformer_id"], []).append(sp["account_no"])
    lone_tr, other_tr = list(by_transformer)[:2]
    engine = make_engine(db_url)
    intake = Intake(engine, intake_services(engine), taken_by="agent")
    lone = intake.take(_row("lone", 0, by_transformer[lone_tr][0]))
    intake.take(_row("later", 40, by_transformer[other_tr][0]))

    def stored_evidence() -> list[str]:
        with engine.connect() as conn:
            value = conn.execute(
                select(incidents.c.evidence).where(incidents.c.id == lone["incident_id"])
            ).scalar_one()
        return list(json.loads(value) if isinstance(value, str) else value)

    notes = [e for e in stored_evidence() if "article 22" in e]
    assert len(notes) == 1 and "customer's own wiring" in notes[0]
    intake.take(_row("later2", 50, by_transformer[other_tr][1]))
    assert len([e for e in stored_evidence() if "article 22" in e]) == 1
    engine.dispose()


def test_storm_mode_survives_a_reload(imported: Any, db_url: str) -> None:
    """A call that nothing places joins the outage taking most of the last minutes' calls;
    an intake that has just read the incidents from the database (another process, or
    after a restoration) knows those calls as well."""
    from api.bootstrap import intake_services
    from dispatch.intake import Intake

    sps = imported.rows["service_points"]
    mine = [s for s in sps if s["transformer_id"] == sps[0]["transformer_id"]]
    engine = make_engine(db_url)
    first = Intake(engine, intake_services(engine), taken_by="agent 1")
    answers = [first.take(_row(f"d{i}", i, mine[i]["account_no"])) for i in range(6)]
    outage = answers[-1]["incident_id"]
    assert {a["incident_id"] for a in answers} == {outage}
    other = Intake(engine, intake_services(engine), taken_by="agent 2")
    unplaced = other.take(_row("u1", 8, description="停电了"))
    assert unplaced["status"] == "merged" and unplaced["incident_id"] == outage
    assert "storm mode" in unplaced["reason"]
    engine.dispose()


def test_the_intake_indexes_the_elements_at_start_up(tmp_path: Path) -> None:
    """The index of element ids (where a device is, for its unit) is built with the
    intake's services, not by the first call that needs it: at 504k service points it
    took that call a quarter of a second."""
    from dispatch.intake import IntakeServices
    from layers.importer import prepare

    grid = synthetic_grid(3, substations=1, transformers_per_feeder=6)
    data, model, _problems = prepare(grid.write(tmp_path / "grid.gpkg"))
    assert data is not None and model is not None
    assert "_element_rows" not in vars(data)
    IntakeServices.build(data, model)
    assert "_element_rows" in vars(data)
