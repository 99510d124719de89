#!/usr/bin/env python3
"""Screenshots for the README: the dispatcher's board during a storm and the storm map.

Builds the demo county in a temporary SpatiaLite database, replays a simulated storm that
ended a moment ago through the live intake, serves the app on a free localhost port and
photographs it with the system's headless Chromium (never a downloaded browser). Nothing
leaves this machine.

    .venv/bin/python scripts/screenshots.py [--out docs] [--scale 0.05] [--faults 14]
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gis  # noqa: E402, F401  (pyproj/pyogrio before SpatiaLite: PLATFORM.md)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "screenshot-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--faults", type=int, default=14)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.app import create_app
    from api.auth import Role, create_user
    from api.bootstrap import intake_services
    from api.dbadmin import upgrade
    from api.settings import Settings
    from dispatch.intake import Intake
    from dispatch.replay import read_calls
    from dispatch.store import dispatch_on
    from gis.db import make_engine, write_transaction
    from layers.demo.county import write_county
    from layers.importer import import_package
    from map_ui.storm_map import incidents_from_db, write_storm_map
    from outages.storm import simulate_storm

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gridcall-shots-") as tmp:
        work = Path(tmp)
        write_county(work / "county.gpkg", seed=0, scale=args.scale)
        engine = make_engine(str(work / "gridcall.db"))
        upgrade(engine)
        report = import_package(engine, work / "county.gpkg")
        if not report.ok:
            print("\n".join(str(p) for p in report.errors), file=sys.stderr)
            return 2
        services = intake_services(engine)
        data, model = services.data, services.model
        now = datetime.now(UTC)
        with write_transaction(engine) as conn:
            dispatch_on(conn, services.dispatch).load_roster(services.dispatch.roster, now)
        storm = simulate_storm(data, model, faults=args.faults, hours=2.5, seed=args.seed,
                               start=now - timedelta(hours=2.6))  # fmt: skip
        calls_path, _truth = storm.write(work / "storm")
        intake = Intake(engine, services, taken_by="replay")
        for _answer in intake.take_many(read_calls(calls_path), batch=200):
            pass
        create_user(engine, "dispatcher", PASSWORD, Role.DISPATCHER, by="screenshots", rounds=4)
        with engine.connect() as conn:
            incidents = incidents_from_db(conn)
        storm_page = write_storm_map(work / "storm-map", data, model, incidents)

        settings = Settings(database_url=str(work / "gridcall.db"), environment="screenshots",
                            secret_key="s" * 48)  # fmt: skip
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, services, engine=engine), host="127.0.0.1",
                           port=port, log_level="warning", ws="none")
        )  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 960}, locale="zh-CN")
                page.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if route.request.url.startswith((base, "file:", "data:"))
                        else route.abort()
                    ),
                )
                page.goto(f"{base}/login?next=/dispatch")
                page.fill("#username", "dispatcher")
                page.fill("#password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_selector("body[data-board-loaded='1']")
                busiest = max(incidents, key=lambda i: len(i.calls), default=None)
                if busiest is not None:
                    page.click(f"#incident-table tr[data-id='{busiest.id}']")
                    page.locator("#incident-detail li").first.wait_for()
                    page.wait_for_timeout(600)
                    # the whole storm around the chosen incident, the board from its top
                    page.evaluate("() => { const m = gridcallMap.map; m.zoomOut(2); }")
                page.evaluate("document.querySelector('.gc-side').scrollTop = 0")
                page.wait_for_timeout(1200)
                page.screenshot(path=str(args.out / "screenshot-dispatch.png"))
                page.goto(storm_page.as_uri())
                page.wait_for_function(
                    "document.querySelectorAll('.leaflet-marker-icon').length > 0"
                )
                page.wait_for_timeout(1200)
                page.screenshot(path=str(args.out / "screenshot-storm.png"))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            engine.dispose()
    print(f"wrote {args.out / 'screenshot-dispatch.png'} and {args.out / 'screenshot-storm.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
