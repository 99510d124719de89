"""The ``gridcall`` command line (CONTRACT section 4)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import gis  # noqa: F401  (pyproj/pyogrio before any SpatiaLite connection: PLATFORM.md)
from api.settings import load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a tool its pipe closed on


@contextmanager
def _engine() -> Iterator[Engine]:
    """The configured database for one command, its connections closed at the end."""
    from gis.db import make_engine

    engine = make_engine(load_settings().database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def cmd_db_init(args: argparse.Namespace) -> int:
    from api.dbadmin import current_revision, upgrade

    with _engine() as engine:
        upgrade(engine)
        revision = current_revision(engine)
        print(f"database schema at revision {revision} ({engine.url.render_as_string()})")
    return EXIT_OK


def cmd_layers_import(args: argparse.Namespace) -> int:
    from api.dbadmin import upgrade
    from gis.crs import UnknownCRSError, parse_crs
    from layers.importer import import_package

    crs = None
    if args.crs:
        try:
            crs = parse_crs(args.crs)
        except UnknownCRSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
    with _engine() as engine:
        upgrade(engine)
        report = import_package(
            engine,
            args.path,
            snap_tolerance=args.snap_tolerance,
            crs=crs,
            progress=sys.stderr.isatty() or args.progress,
        )
    for problem in report.warnings:
        print(problem, file=sys.stderr)
    if not report.ok:
        for problem in report.errors:
            print(problem, file=sys.stderr)
        print(
            f"import failed: {len(report.errors)} error(s) in {args.path}; nothing was imported",
            file=sys.stderr,
        )
        return EXIT_INPUT
    counts = ", ".join(f"{n} {name}" for name, n in report.counts.items())
    print(f"imported {args.path} in {report.seconds:.1f} s: {counts}")
    return EXIT_OK


def cmd_network_trace(args: argparse.Namespace) -> int:
    from api.dbadmin import upgrade
    from layers.network import UnknownElementError
    from layers.state import load_network

    with _engine() as engine:
        upgrade(engine)  # a database of an earlier release lacks columns the model reads
        model = load_network(engine, geometry=False)
    if model is None:
        print("error: no network imported yet (gridcall layers import PATH)", file=sys.stderr)
        return EXIT_INPUT
    try:
        trace = model.trace(args.element_id)
    except UnknownElementError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(json.dumps(trace.contract_dict(), ensure_ascii=False))
    return EXIT_OK


def _unreadable(*paths: str) -> int | None:
    """EXIT_INPUT with a message for the first of the files a command reads that is not
    there or is a directory (before it loads a network for nothing), else None. A pipe
    (``<(zcat calls.csv.gz)``) is read."""
    for path in map(Path, paths):
        if path.is_dir() or not path.exists():
            why = "is a directory" if path.is_dir() else "no such file"
            print(f"error: {path}: {why}", file=sys.stderr)
            return EXIT_INPUT
    return None


def cmd_replay(args: argparse.Namespace) -> int:
    from api.bootstrap import NoNetworkError, intake_services, keep_network_out_of_gc
    from api.dbadmin import upgrade
    from dispatch.intake import Intake
    from dispatch.replay import replay

    if (missing := _unreadable(args.calls)) is not None:
        return missing
    with _engine() as engine:
        upgrade(engine)
        try:
            services = intake_services(engine)
        except NoNetworkError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        keep_network_out_of_gc()
        intake = Intake(engine, services, taken_by="replay")
        workers = load_settings().replay_workers
        if args.out:
            with Path(args.out).open("w", encoding="utf-8") as out:
                stats = replay(intake, args.calls, out, batch=args.batch, workers=workers)
        else:
            stats = replay(intake, args.calls, sys.stdout, batch=args.batch, workers=workers)
    print(
        f"replayed {stats.calls} calls ({stats.rejected} rejected) in {stats.seconds:.1f} s, "
        f"{stats.per_second:.0f} calls/s",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_simulate_storm(args: argparse.Namespace) -> int:
    from layers.state import load_network
    from outages.storm import StormMix, simulate_storm

    with _engine() as engine:
        model = load_network(engine, geometry=True)
    if model is None:
        print("error: no network imported yet (gridcall layers import PATH)", file=sys.stderr)
        return EXIT_INPUT
    mix = StormMix.parse(args.mix) if args.mix else None
    storm = simulate_storm(
        model.data, model, faults=args.faults, hours=args.hours, seed=args.seed, mix=mix
    )
    calls_path, truth_path = storm.write(args.dir)
    summary = storm.summary()
    print(
        f"wrote {calls_path} and {truth_path}: {summary.get('rows', len(storm.calls))} rows, "
        f"{len(storm.faults)} faults"
    )
    for note in storm.notes:
        print(f"note: {note}", file=sys.stderr)
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from outages.evaluate import evaluate, format_table

    if (missing := _unreadable(args.result, args.truth)) is not None:
        return missing
    report = evaluate(args.result, args.truth)
    print(json.dumps(report, ensure_ascii=False, default=str))
    if args.table:
        print(format_table(report), file=sys.stderr)
    return EXIT_OK


def cmd_demo_data(args: argparse.Namespace) -> int:
    from layers.demo.county import write_county
    from layers.importer import prepare
    from outages.storm import simulate_storm

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "county.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    summary = write_county(gpkg, seed=args.seed, scale=args.scale, progress=sys.stderr.isatty())
    print(f"wrote {gpkg}: {summary}")
    data, model, problems = prepare(gpkg)
    errors = [p for p in problems if p.severity == "error"]
    if data is None or model is None or errors:
        for p in errors[:20]:
            print(p, file=sys.stderr)
        return EXIT_INPUT
    storm = simulate_storm(data, model, faults=args.faults, hours=args.hours, seed=args.seed)
    calls_path, truth_path = storm.write(out)
    print(f"wrote {calls_path} and {truth_path} ({len(storm.faults)} faults)")
    return EXIT_OK


def _read_password() -> str:
    """The password from standard input: asked twice on a terminal, else the first line
    (so that ``printf '%s\\n' "$PW" | gridcall users add ...`` works in scripts)."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("password: ")
        if first and getpass.getpass("again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def cmd_users_add(args: argparse.Namespace) -> int:
    from api.auth import PasswordPolicyError, Role, create_user
    from api.auth_store import UserExistsError
    from api.dbadmin import upgrade

    try:
        password = _read_password()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if not password.strip():
        print(
            "error: empty password: give the password on standard input, e.g.\n"
            f"  printf '%s\\n' 'a-long-secret' | gridcall users add {args.name} --role {args.role}",
            file=sys.stderr,
        )
        return EXIT_INPUT
    settings = load_settings()
    with _engine() as engine:
        upgrade(engine)
        try:
            user = create_user(
                engine,
                args.name,
                password,
                Role(args.role),
                by="cli",
                rounds=settings.bcrypt_rounds,
            )
        except (PasswordPolicyError, UserExistsError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
    print(f"added user {user.name} ({user.role.value})")
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace) -> int:
    from api.auth_store import list_users
    from api.dbadmin import upgrade

    with _engine() as engine:
        upgrade(engine)
        with engine.connect() as conn:
            rows = list_users(conn)
    for row in rows:
        state = "disabled" if row["disabled"] else "enabled"
        print(f"{row['name']}\t{row['role']}\t{state}\t{row['created_at']:%Y-%m-%d %H:%M}")
    return EXIT_OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    from api.auth_store import UnknownUserError, set_disabled
    from api.dbadmin import upgrade

    with _engine() as engine:
        upgrade(engine)
        try:
            with engine.begin() as conn:
                set_disabled(conn, args.name, not args.enable, by="cli")
        except UnknownUserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
    print(f"{'enabled' if args.enable else 'disabled'} user {args.name}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from api.report import run_report

    return run_report(args.dir, args.date_from, args.date_to)


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import run

    return run(args)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.dbadmin import upgrade
    from api.settings import InsecureSettingsError

    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    try:
        settings.check_for_serving()
    except InsecureSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    with _engine() as engine:
        upgrade(engine)
    app = create_app(settings)
    print(f"gridcall on http://{host}:{port} (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level=args.log_level)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridcall",
        description="GIS-centric outage and repair dispatch for a 95598 county call centre.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("init", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_db_init)

    layers = sub.add_parser("layers", help="grid layers").add_subparsers(
        dest="layers_command", required=True
    )
    p = layers.add_parser("import", help="import a layer package (GeoPackage or folder)")
    p.add_argument("path")
    p.add_argument(
        "--snap-tolerance",
        type=float,
        default=1.0,
        metavar="M",
        help="metres within which line ends and devices share a node (default 1.0)",
    )
    p.add_argument("--crs", metavar="EPSG", help="CRS of layers that declare none")
    p.add_argument("--progress", action="store_true", help="show progress bars even when piped")
    p.set_defaults(func=cmd_layers_import)

    network = sub.add_parser("network", help="questions to the network model").add_subparsers(
        dest="network_command", required=True
    )
    p = network.add_parser("trace", help="feeder, upstream devices and downstream of an element")
    p.add_argument("element_id")
    p.set_defaults(func=cmd_network_trace)

    p = sub.add_parser("replay", help="run a calls file through the intake")
    p.add_argument("calls")
    p.add_argument("--out", help="JSON lines output (default: standard output)")
    p.add_argument("--batch", type=int, default=500, help="calls per transaction (default 500)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("simulate-storm", help="simulate a storm on the imported network")
    p.add_argument("dir")
    p.add_argument("--faults", type=int, default=20)
    p.add_argument("--hours", type=float, default=6.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mix", help="shares to change, e.g. customer_side=0.1,malformed=0")
    p.set_defaults(func=cmd_simulate_storm)

    p = sub.add_parser("evaluate", help="score a replay output against the truth")
    p.add_argument("result")
    p.add_argument("truth")
    p.add_argument("--table", action="store_true", help="also print a table on stderr")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo-data", help="write the demo county and a storm's calls and truth")
    p.add_argument("dir")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--faults", type=int, default=20)
    p.add_argument("--hours", type=float, default=6.0)
    p.set_defaults(func=cmd_demo_data)

    users = sub.add_parser("users", help="staff logins").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("add", help="add a user; the password is read from standard input")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["agent", "dispatcher", "supervisor", "admin"])
    p.set_defaults(func=cmd_users_add)
    p = users.add_parser("list", help="list the users")
    p.set_defaults(func=cmd_users_list)
    p = users.add_parser("disable", help="disable a user (users are never deleted)")
    p.add_argument("name")
    p.add_argument("--enable", action="store_true", help="enable the user again")
    p.set_defaults(func=cmd_users_disable)

    p = sub.add_parser("report", help="the periodic analysis: summary.json, CSV tables, charts")
    p.add_argument("dir")
    p.add_argument(
        "--from",
        dest="date_from",
        metavar="DATE",
        help="first day (local time) or ISO datetime (default: 30 days before --to)",
    )
    p.add_argument(
        "--to",
        dest="date_to",
        metavar="DATE",
        help="last day, included (local time), or ISO datetime (default: now)",
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="build, load and serve the demo county with a storm")
    p.add_argument("--dir", default="demo-data", help="where the demo's files go")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--faults", type=int, default=20)
    p.add_argument("--hours", type=float, default=6.0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--rebuild", action="store_true", help="build the county again")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace ./gridcall.db even when it is not a demo database",
    )
    p.add_argument("--no-serve", action="store_true", help="stop before serving")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="the web app and map")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BrokenPipeError:
        # the reader went away (``gridcall replay calls.csv | head``): stop as a Unix tool
        # does, without a traceback; what was not committed is replayed by the next run
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
