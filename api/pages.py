"""The web pages (public outage map, login, agent console, dispatcher's board, one-line
diagram) and the staff-only JSON they draw from (``/api/map/...``).

Pages are served to anyone: a staff page is a shell whose script sends the visitor to
``/login`` when it holds no token, and every piece of staff data comes from an
``/api/map`` endpoint that checks the bearer token and role. So nothing a customer must
not see is ever in a page's HTML, and the token stays in the tab (sessionStorage).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import AgentUser, ContextDep, DispatcherUser, NotFound
from layers.grid import GridData
from layers.network import NetworkModel
from map_ui import board, geojson
from map_ui.base_map import base_map
from map_ui.folium_offline import MapParts, map_parts

TEMPLATES = Jinja2Templates(directory=Path(__file__).parents[1] / "map_ui" / "templates")
TEMPLATES.env.globals["asset"] = lambda name: f"/static/{name}"

router = APIRouter()
_render_lock = threading.Lock()


def _grid(context: ContextDep) -> tuple[GridData, NetworkModel] | None:
    services = context.services
    if services is None:
        return None
    return services.data, services.model


def _county_name(data: GridData) -> str:
    areas = data.layer("admin_areas")
    top = areas[areas["level"] == "county"]["name"].dropna()
    return str(top.iat[0]) if len(top) else ""


def _app_cache(request: Request, name: str) -> dict[Any, Any]:
    """A dict kept on the app for its lifetime (one per network: keyed by the data's id)."""
    cache: dict[Any, Any] | None = getattr(request.app.state, name, None)
    if cache is None:
        cache = {}
        setattr(request.app.state, name, cache)
    return cache


def _shell(request: Request, data: GridData) -> tuple[MapParts, str]:
    """The base map of public layers and the county's name, made once per network and
    reused by every page (a county's layers take a moment to draw); the staff pages add the
    network to it from ``/api/map/layers`` with the token."""
    cache: dict[int, tuple[MapParts, str]] = _app_cache(request, "gridcall_map_shell")
    key = id(data)
    with _render_lock:
        if key not in cache:
            cache.clear()
            parts = map_parts(base_map(data, groups=geojson.PUBLIC_GROUPS, handle=True))
            cache[key] = parts, _county_name(data)
        return cache[key]


def _page(
    request: Request, context: ContextDep, template: str, title: str, **extra: Any
) -> HTMLResponse:
    grid = _grid(context)
    shell, county = _shell(request, grid[0]) if grid is not None else (None, "")
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "map": shell,
            "county": county,
            "network_ready": grid is not None,
            **extra,
        },
    )


# -- pages -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def public_page(request: Request, context: ContextDep) -> HTMLResponse:
    return _page(request, context, "public.html", "停电查询")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, "login.html", {"title": "登录", "map": None})


@router.get("/agent", response_class=HTMLResponse, include_in_schema=False)
def agent_page(request: Request, context: ContextDep) -> HTMLResponse:
    return _page(request, context, "agent.html", "座席受理", staff=True)


@router.get("/dispatch", response_class=HTMLResponse, include_in_schema=False)
def dispatch_page(request: Request, context: ContextDep) -> HTMLResponse:
    return _page(request, context, "dispatch.html", "抢修调度", staff=True)


@router.get("/schematic", response_class=HTMLResponse, include_in_schema=False)
@router.get("/schematic/{feeder}", response_class=HTMLResponse, include_in_schema=False)
def schematic_page(request: Request, feeder: str | None = None) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "schematic.html",
        {"title": "单线图", "map": None, "staff": True, "feeder": feeder or ""},
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(status_code=204)


# -- staff JSON for the pages --------------------------------------------------------------


def _require_grid(context: ContextDep) -> tuple[GridData, NetworkModel]:
    services = context.require_services()  # the app's "no network imported" error (503)
    return services.data, services.model


@router.get("/api/map/layers/{group}", tags=["map"])
def map_layer(group: str, request: Request, context: ContextDep, user: AgentUser) -> Any:
    """One base-map layer group as GeoJSON with each feature's style: the network layers
    (``feeders``, ``substations``, ``switches``, ``transformers``) the public page lacks."""
    data, _model = _require_grid(context)
    if group not in (*geojson.PUBLIC_GROUPS, *geojson.NETWORK_GROUPS):
        raise NotFound(f"unknown layer group {group!r}")
    cache: dict[tuple[int, str], Any] = _app_cache(request, "gridcall_layer_cache")
    key = (id(data), group)
    if key not in cache:
        layers = geojson.base_layers(data, [group])
        cache[key] = layers if group == "admin" else layers[group]
    return cache[key]


@router.get("/api/map/board", tags=["map"])
def map_board(context: ContextDep, user: DispatcherUser) -> dict[str, Any]:
    """Open incidents, open work orders with their clocks, crews, and the clocks about to
    run out (most urgent first): the dispatcher's board in one poll."""
    services = context.require_services()
    with context.engine.connect() as conn:
        return board.board(conn, services.data, context.now(), services.dispatch)


@router.get("/api/map/incidents", tags=["map"])
def map_incidents(context: ContextDep, user: AgentUser) -> list[dict[str, Any]]:
    """Open incidents (not merged, not restored), each at its inferred device."""
    data, _model = _require_grid(context)
    with context.engine.connect() as conn:
        return board.open_incidents(conn, data)


@router.get("/api/map/incidents/{incident_id}", tags=["map"])
def map_incident(incident_id: str, context: ContextDep, user: AgentUser) -> dict[str, Any]:
    """An incident's footprint (affected area, de-energised 10 kV lines), its calls and its
    evidence."""
    data, model = _require_grid(context)
    with context.engine.connect() as conn:
        found = board.incident_detail(conn, data, model, incident_id)
    if found is None:
        raise NotFound(f"no incident {incident_id!r}")
    return found


@router.get("/api/map/calls/{call_id}", tags=["map"])
def map_call(call_id: str, context: ContextDep, user: AgentUser) -> dict[str, Any]:
    """A call's answer and how it was located: method, confidence, evidence, candidates."""
    with context.engine.connect() as conn:
        found = board.call_detail(conn, call_id)
    if found is None:
        raise NotFound(f"no call {call_id!r}")
    return found


@router.get("/api/map/feeders", tags=["map"])
def map_feeders(request: Request, context: ContextDep, user: AgentUser) -> list[dict[str, Any]]:
    data, model = _require_grid(context)
    cache: dict[int, list[dict[str, Any]]] = _app_cache(request, "gridcall_feeders")
    if id(data) not in cache:
        cache[id(data)] = board.feeders(data, model)
    return cache[id(data)]


@router.get("/api/map/schematic/{feeder}", tags=["map"])
def map_schematic(feeder: str, context: ContextDep, user: AgentUser) -> dict[str, Any]:
    """A feeder's one-line diagram (diagram coordinates, for ``L.CRS.Simple``), with the
    elements cut off by open incidents marked."""
    data, model = _require_grid(context)
    with context.engine.connect() as conn:
        found = board.schematic(conn, data, model, feeder)
    if found is None:
        raise NotFound(f"no one-line diagram for feeder {feeder!r}")
    return found
