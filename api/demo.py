"""``gridcall demo``: the demo county, a storm replayed through the intake, the app served.

It tells the whole story on a fresh machine: build 兰考县's grid, load it, simulate a storm
that ends now, replay its calls through the same intake an agent uses (orders dispatched to
the nearest crews), print how well the calls were located and grouped against the truth,
write the storm map, create demo users, and serve everything on 127.0.0.1:8000.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

DEMO_USERS = (
    ("agent", "agent-95598", "agent"),
    ("dispatcher", "dispatcher-95598", "dispatcher"),
    ("supervisor", "supervisor-95598", "supervisor"),
    ("admin", "admin-95598", "admin"),
)
DEMO_DIR = Path("demo-data")


def _is_demo_database(path: Path) -> bool:
    """Whether an existing SQLite file holds only a previous demo (safe to replace)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT source FROM layer_imports").fetchall()
    except sqlite3.Error:
        return False
    return all(str(DEMO_DIR) in str(r[0]) for r in rows)


SUMMARY_KEYS = (
    ("pairwise_f1", "repeat grouping: pairwise F1"),
    ("pairwise_precision", "  precision"),
    ("pairwise_recall", "  recall"),
    ("device_accuracy", "faulted device right (faults with 2+ calls)"),
    ("unit_accuracy", "responsible unit right (per call)"),
    ("locate_accuracy", "right transformer located (all methods)"),
)


def _summary(scores: dict[str, object]) -> str:
    """The figures a visitor asks first; all of them are in evaluation.json."""
    lines = ["", "how well the storm was handled (against the simulator's truth):"]
    for key, label in SUMMARY_KEYS:
        value = scores.get(key)
        if isinstance(value, (int, float)):
            lines.append(f"  {label:<46} {value:.3f}")
    by_method = scores.get("locate_accuracy_by_method")
    if isinstance(by_method, dict):
        for method, value in sorted(by_method.items()):
            if isinstance(value, (int, float)):
                lines.append(f"    located by {method:<34} {value:.3f}")
    for key, label in (
        ("duplicates.share", "repeated call ids answered identically"),
        ("rejects.share", "malformed rows rejected"),
    ):
        head, _, tail = key.partition(".")
        part = scores.get(head)
        if isinstance(part, dict) and isinstance(part.get(tail), (int, float)):
            lines.append(f"  {label:<46} {part[tail]:.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import uvicorn
    from fastapi.staticfiles import StaticFiles

    from api.app import create_app
    from api.auth import Role, create_user
    from api.auth_store import UserExistsError
    from api.bootstrap import database, intake_services
    from api.dbadmin import upgrade
    from api.settings import load_settings
    from dispatch.intake import Intake
    from dispatch.replay import replay
    from dispatch.store import dispatch_on
    from gis.db import DEFAULT_SQLITE_PATH, write_transaction
    from layers.demo.county import write_county
    from layers.importer import import_package
    from map_ui.storm_map import incidents_from_db, write_storm_map
    from outages.evaluate import evaluate
    from outages.storm import simulate_storm

    settings = load_settings()
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    if settings.database_url is None:
        db = Path(DEFAULT_SQLITE_PATH)
        if db.exists():
            if not (_is_demo_database(db) or args.force):
                print(
                    f"error: {db} holds data that is not the demo's; move it away, set "
                    "GRIDCALL_DATABASE_URL, or pass --force",
                    file=sys.stderr,
                )
                return 2
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)

    package = out / "county.gpkg"
    if not package.exists() or args.rebuild:
        package.unlink(missing_ok=True)
        print(f"building the demo county (scale {args.scale}) ...", flush=True)
        print(f"  {write_county(package, seed=args.seed, scale=args.scale)}")
    engine = database(settings)
    upgrade(engine)
    report = import_package(engine, package, progress=sys.stderr.isatty())
    if not report.ok:
        for p in report.errors[:20]:
            print(p, file=sys.stderr)
        return 2
    print(
        f"imported {package} in {report.seconds:.1f} s "
        f"({report.counts.get('service_points', 0):,} service points)"
    )
    services = intake_services(engine)
    model = services.model
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with write_transaction(engine) as conn:
        dispatch_on(conn, services.dispatch).load_roster(services.dispatch.roster, now)

    # a storm that ends now, so that the board's clocks are live
    storm = simulate_storm(
        model.data,
        model,
        faults=args.faults,
        hours=args.hours,
        seed=args.seed,
        start=now - timedelta(hours=args.hours),
    )
    calls_path, truth_path = storm.write(out)
    print(
        f"simulated a storm: {len(storm.faults)} faults, {len(storm.calls):,} calls ({calls_path})"
    )
    intake = Intake(engine, services, auto_dispatch=True, taken_by="replay")
    result = out / "result.jsonl"
    buffer = StringIO()
    stats = replay(intake, calls_path, buffer)
    result.write_text(buffer.getvalue(), encoding="utf-8")
    print(
        f"replayed {stats.calls:,} calls in {stats.seconds:.1f} s "
        f"({stats.per_second:.0f} calls/s) -> {result}"
    )
    scores = evaluate(result, truth_path, calls_path)
    print(_summary(scores))
    (out / "evaluation.json").write_text(
        json.dumps(scores, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )

    with engine.connect() as conn:
        incidents = incidents_from_db(conn)
    storm_dir = out / "storm-map"
    write_storm_map(storm_dir, model.data, model, incidents)

    print("\ndemo users (name / password / role):")
    for name, password, role in DEMO_USERS:
        with contextlib.suppress(UserExistsError):
            create_user(engine, name, password, Role(role), by="demo", rounds=6)
        print(f"  {name:<11} {password:<18} {role}")

    app = create_app(settings, services, engine=engine)
    app.mount("/storm", StaticFiles(directory=storm_dir, html=True), name="storm")
    base = f"http://{args.host}:{args.port}"
    if args.no_serve:
        print(f"\nready (not serving): `gridcall serve` serves the app on {base}", flush=True)
        return 0
    print(
        f"\nserving on {base}  (public map /, agent console /agent, dispatcher board "
        f"/dispatch, storm map /storm/)\n",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
