"""The pages in a real headless Chromium, against the app served on a localhost port with a
small imported county in SpatiaLite: nothing leaves this machine, the public search finds a
published outage, the login works, the agent console takes a call, the board lists it."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import gis  # noqa: F401  (pyproj/pyogrio before SpatiaLite)

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-long-test-password"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}


@dataclass
class Site:
    """The running app and what the tests need to know about its county."""

    url: str
    data: Any
    model: Any
    engine: Any
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, body: Any = None, *, user: str | None = None,
            form: dict[str, str] | None = None) -> Any:  # fmt: skip
        headers = {"Accept": "application/json"}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if user is not None:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def token(self, user: str) -> str:
        if user not in self.tokens:
            answer = self.api("POST", "/api/auth/token",
                              form={"username": user, "password": PASSWORD})  # fmt: skip
            self.tokens[user] = answer["access_token"]
        return self.tokens[user]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, spatialite_template: Path) -> Iterator[Site]:
    import uvicorn

    from api.app import create_app
    from api.auth import Role, create_user
    from api.settings import Settings
    from dispatch.crews import crews_from_layer
    from dispatch.intake import IntakeServices
    from dispatch.store import dispatch_on
    from gis.db import make_engine, write_transaction
    from layers.demo.county import write_county
    from layers.importer import import_package
    from layers.state import load_network

    folder = tmp_path_factory.mktemp("site")
    package = folder / "county.gpkg"
    write_county(package, seed=0, scale=0.01)
    db = folder / "gridcall.db"
    shutil.copy(spatialite_template, db)
    engine = make_engine(str(db))
    report = import_package(engine, package)
    assert report.ok, report.errors
    for name, role in (("agent1", Role.AGENT), ("disp1", Role.DISPATCHER)):
        create_user(engine, name, PASSWORD, role, by="test", rounds=4)
    model = load_network(engine, geometry=True)
    assert model is not None
    services = IntakeServices.build(model.data, model)
    with write_transaction(engine) as conn:
        dispatch_on(conn).load_roster(
            crews_from_layer(model.data.layer("crews")), datetime.now(UTC)
        )
    settings = Settings(database_url=str(db), environment="test", secret_key="k" * 40)
    app = create_app(settings, services, engine=engine)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none",
                       lifespan="on")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", model.data, model, engine)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    page: Any
    outside: list[str]
    errors: list[str]


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A fresh tab (own sessionStorage) that refuses any request leaving this machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    outside: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield Tab(page, outside, errors)
    context.close()


def _login(tab: Tab, site: Site, user: str, path: str) -> None:
    page = tab.page
    page.goto(site.url + path)
    page.wait_for_url("**/login?next=*")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"**{path}")


def _account_below(site: Site, kind: str) -> tuple[str, str]:
    """(account number, device) of a customer below a device of ``kind`` that has others."""
    sw = site.data.layer("switches")
    sp = site.data.layer("service_points").set_index("id")
    for device in sw[sw["kind"] == kind]["id"].tolist():
        below = site.model.downstream_service_points(device)
        if len(below) >= 3:
            return str(sp.loc[below[0], "account_no"]), str(device)
    raise AssertionError(f"no {kind} with customers")


def test_public_page_loads_everything_from_this_machine(site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(site.url + "/")
    page.wait_for_function("window.gridcallMap !== undefined")
    # vector layers are drawn on a canvas (a county has thousands of features)
    assert page.locator(".leaflet-overlay-pane canvas").count() == 1
    counts = page.evaluate(
        """() => { const n = {layers: 0, overlays: 0};
                   gridcallMap.map.eachLayer(() => { n.layers += 1; });
                   n.overlays = document.querySelectorAll(
                       '.leaflet-control-layers-overlays input').length;
                   return n; }"""
    )
    assert counts["layers"] > 100 and counts["overlays"] >= 6, counts
    assert page.locator(".leaflet-marker-icon").count() > 5
    assert page.locator(".leaflet-control-layers").count() == 1
    assert page.locator(".leaflet-control-scale").count() == 1
    assert page.locator(".leaflet-tile").count() == 0
    township = site.data.layer("admin_areas").query("level == 'township'")["name"].iat[0]
    assert page.locator(".gc-label-township", has_text=township).count() == 1
    page.wait_for_load_state("networkidle")
    assert tab.outside == []
    assert tab.errors == []
    html = page.content()
    account = str(site.data.layer("service_points")["account_no"].iat[0])
    assert account not in html


def test_search_finds_a_published_outage(site: Site, tab: Tab) -> None:
    _account, device = _account_below(site, "fuse")
    now = datetime.now(UTC)
    notice = site.api("POST", "/api/planned-outages", {
        "switch_ids": [device], "kind": "temporary", "reason": "线路迁改临时停电",
        "start": (now + timedelta(minutes=30)).isoformat(),
        "end": (now + timedelta(hours=4)).isoformat(),
    }, user="disp1")  # fmt: skip
    assert notice["areas"], notice
    village = notice["areas"][-1]
    page = tab.page
    page.goto(site.url + "/")
    page.fill("#search-text", village)
    page.click("#search-submit")
    card = page.locator(".gc-outage", has_text="线路迁改临时停电")
    card.wait_for()
    assert "临时停电" in card.inner_text()
    assert int(page.locator("#map-box").get_attribute("data-outages-drawn") or 0) >= 1
    assert tab.outside == []


def test_staff_pages_need_a_login(site: Site, tab: Tab) -> None:
    page = tab.page
    page.goto(site.url + "/agent")
    page.wait_for_url("**/login?next=%2Fagent")
    page.fill("#username", "agent1")
    page.fill("#password", "wrong password")
    page.click("#login-submit")
    page.locator("#login-error").wait_for(state="visible")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/agent")
    assert page.evaluate("sessionStorage.getItem('gridcall.token')")
    assert "agent1" in page.locator("#gc-user").inner_text()


def test_agent_console_takes_a_call_and_shows_the_answer(site: Site, tab: Tab) -> None:
    account, _device = _account_below(site, "recloser")
    _login(tab, site, "agent1", "/agent")
    page = tab.page
    page.wait_for_function("window.gridcallMap !== undefined")
    page.fill("#f-account_no", account)
    page.select_option("#f-symptom", "no_power")
    page.fill("#f-caller_phone", "13800000000")
    with page.expect_request("**/api/calls") as sent:
        page.click("#call-submit")
    assert sent.value.headers.get("idempotency-key")
    status = page.locator("#answer-status")
    status.wait_for()
    assert status.get_attribute("data-status") in ("new", "merged", "known_outage")
    assert page.locator("#answer-incident").inner_text().startswith("INC")
    assert "户号" in page.locator("#answer-method").inner_text()
    page.locator("#answer-evidence li").first.wait_for()
    assert page.locator(".leaflet-marker-pane .leaflet-marker-icon").count() > 0
    assert tab.outside == [] and tab.errors == []


def test_dispatch_board_lists_the_incident(site: Site, tab: Tab) -> None:
    account, _device = _account_below(site, "breaker")
    answer = site.api("POST", "/api/calls", {
        "call_id": "BOARD-1", "received_at": datetime.now(UTC).isoformat(),
        "account_no": account, "symptom": "no_power",
    }, user="agent1")  # fmt: skip
    incident = answer["incident_id"]
    assert incident
    _login(tab, site, "disp1", "/dispatch")
    page = tab.page
    page.wait_for_selector("body[data-board-loaded='1']")
    row = page.locator(f"#incident-table tr[data-id='{incident}']")
    assert row.count() == 1
    assert page.locator("#order-table tbody tr", has_text=answer["work_order_id"]).count() == 1
    assert page.locator("#crew-table tbody tr").count() == len(site.data.layer("crews"))
    row.click()
    page.locator("#incident-detail li").first.wait_for()
    assert tab.outside == [] and tab.errors == []


def test_one_line_diagram_of_a_feeder(site: Site, tab: Tab) -> None:
    feeder = site.model.feeders()[0]
    _login(tab, site, "disp1", "/schematic")
    page = tab.page
    page.wait_for_function("document.getElementById('schematic-info').textContent.length > 0")
    assert feeder in page.locator("#schematic-info").inner_text()
    assert page.locator("#schematic-map .leaflet-overlay-pane path").count() > 10  # SVG here
    assert tab.outside == [] and tab.errors == []
