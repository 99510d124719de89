"""The storm map: every incident's inferred faulted device, the area it cut off, the calls
that point at it, and the repair unit that answers for it, on the county's base map.

A dispatcher reads a storm from this map: where the breakers and fuses went, how many
customers each one left in the dark, which calls were merged into which fault, and which
service station has to send a crew where. Incidents come from a replay's JSON lines
(CONTRACT section 3) or from the database; both become :class:`IncidentView`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import numpy as np
import shapely
from folium.map import Layer
from folium.plugins import MarkerCluster

from layers.grid import GridData
from layers.network import NetworkModel, UnknownElementError
from map_ui import geojson, style
from map_ui.base_map import STAFF_GROUPS, add_base_layers, base_legend, map_bounds
from map_ui.elements import Legend, LegendEntry, popup_table
from map_ui.folium_offline import offline_map, write_map_folder

#: Callers' markers are clustered above this many calls: a storm brings thousands.
CLUSTER_OVER = 150
AREA_RADIUS_M = 150.0


@dataclass(frozen=True)
class CallMark:
    """One call as the map shows it: where the locator put it and how sure it was."""

    call_id: str
    lon: float | None
    lat: float | None
    status: str | None = None
    at: str | None = None
    method: str | None = None
    confidence: float | None = None


@dataclass
class IncidentView:
    """What the map needs of an incident, whatever it was read from."""

    id: str
    device_id: str | None
    unit_id: str | None
    state: str = "unconfirmed"
    calls: list[CallMark] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    feeder: str | None = None
    opened_at: str | None = None
    work_order_id: str | None = None
    affected_customers: int | None = None


# -- reading incidents -----------------------------------------------------------------------


def _mark(answer: dict[str, Any]) -> CallMark:
    loc = answer.get("location") or {}
    return CallMark(
        call_id=str(answer.get("call_id")),
        lon=loc.get("lon"),
        lat=loc.get("lat"),
        status=answer.get("status"),
        method=loc.get("method"),
        confidence=loc.get("confidence"),
    )


def incidents_from_replay(lines: Iterable[str]) -> list[IncidentView]:
    """Incidents from a replay's output: the final line names each incident's device,
    unit and calls; the per-call lines say where each call was located and why it was
    grouped as it was (the evidence)."""
    answers: dict[str, dict[str, Any]] = {}
    final: list[dict[str, Any]] | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        obj = json.loads(line)
        if "final" in obj:
            final = list(obj["final"].get("incidents") or [])
        elif obj.get("call_id") is not None:
            answers.setdefault(str(obj["call_id"]), obj)
    if final is None:  # a replay cut short: group by the answers' incident ids
        grouped: dict[str, list[str]] = {}
        last: dict[str, dict[str, Any]] = {}
        for cid, a in answers.items():
            if a.get("incident_id"):
                grouped.setdefault(a["incident_id"], []).append(cid)
                last[a["incident_id"]] = a
        final = [
            {
                "incident_id": iid,
                "predicted_device_id": last[iid].get("predicted_device_id"),
                "unit_id": last[iid].get("unit_id"),
                "call_ids": cids,
            }
            for iid, cids in grouped.items()
        ]
    out = []
    for inc in final:
        cids = [str(c) for c in inc.get("call_ids") or []]
        members = [answers[c] for c in cids if c in answers]
        statuses = {a.get("status") for a in members}
        evidence = []
        for a in members:
            reason = a.get("reason")
            if reason:
                evidence.append(f"{a['call_id']}: {reason}")
        orders = [a.get("work_order_id") for a in members if a.get("work_order_id")]
        out.append(
            IncidentView(
                id=str(inc["incident_id"]),
                device_id=inc.get("predicted_device_id"),
                unit_id=inc.get("unit_id"),
                state="probable" if "known_outage" in statuses or len(cids) > 1 else "unconfirmed",
                calls=[_mark(a) for a in members],
                evidence=evidence,
                work_order_id=orders[0] if orders else None,
            )
        )
    return out


def incidents_from_db(conn: Any, *, include_closed: bool = False) -> list[IncidentView]:
    """Open incidents (``include_closed``: all but merged ones) from the ``incidents`` and
    ``calls`` tables, with each member call's located position."""
    from sqlalchemy import select

    from outages.store import calls, incidents

    query = select(incidents).where(incidents.c.merged_into.is_(None))
    if not include_closed:
        query = query.where(incidents.c.restored_at.is_(None))
    rows = list(conn.execute(query.order_by(incidents.c.opened_at)).mappings())
    ids = [r["id"] for r in rows]
    located: dict[str, dict[str, Any]] = {}
    if ids:
        for c in conn.execute(
            select(calls.c.call_id, calls.c.status, calls.c.location, calls.c.received_at).where(
                calls.c.incident_id.in_(ids)
            )
        ).mappings():
            loc = c["location"]
            loc = json.loads(loc) if isinstance(loc, str) else (loc or {})
            located[c["call_id"]] = {"status": c["status"], "at": c["received_at"], **loc}
    out = []
    for r in rows:
        members = r["members"]
        members = json.loads(members) if isinstance(members, str) else (members or [])
        evidence = r["evidence"]
        evidence = json.loads(evidence) if isinstance(evidence, str) else (evidence or [])
        marks = []
        for m in members:
            cid = str(m["call_id"])
            loc = located.get(cid, {})
            marks.append(
                CallMark(
                    call_id=cid,
                    lon=loc.get("lon", m.get("lon")),
                    lat=loc.get("lat", m.get("lat")),
                    status=loc.get("status"),
                    at=str(m.get("at")) if m.get("at") else None,
                    method=loc.get("method"),
                    confidence=loc.get("confidence"),
                )
            )
        out.append(
            IncidentView(
                id=r["id"],
                device_id=r["device_id"],
                unit_id=r["unit_id"],
                state=r["state"] or "unconfirmed",
                calls=marks,
                evidence=[str(e) for e in evidence],
                feeder=r["feeder"],
                opened_at=r["opened_at"].isoformat() if r["opened_at"] else None,
                work_order_id=r["work_order_id"],
                affected_customers=r["affected_customers"],
            )
        )
    return out


# -- what an incident covers on the ground ---------------------------------------------------


def device_kind(data: GridData, device_id: str | None) -> str:
    """``breaker``, ``fuse``, ... for a switch, ``transformer`` for a transformer."""
    if not device_id:
        return "unknown"
    hit = data.element_row(device_id)
    if hit is None:
        return "unknown"
    layer, row = hit
    if layer == "transformers":
        return "transformer"
    if layer == "switches":
        kind = data.layer("switches")["kind"].iat[row]
        return str(kind) if kind else "unknown"
    return "unknown"


def downstream_lines(model: NetworkModel, device_id: str) -> list[str]:
    """The 10 kV sections a device feeds (its subtree's lines); none for an unknown id."""
    try:
        return model.downstream_lines(device_id)
    except UnknownElementError:
        return []


def affected_area(
    data: GridData, model: NetworkModel, device_id: str | None, radius_m: float = AREA_RADIUS_M
) -> Any:
    """The ground a device's outage covers: its customers (or, with none recorded, its
    transformers), each widened by ``radius_m`` and merged, in lon/lat."""
    if not device_id:
        return None
    try:
        rows = model.downstream_service_point_rows(device_id)
    except UnknownElementError:
        return None
    geoms: list[Any] = []
    if len(rows):
        geoms = data.layer("service_points")["geometry"].take(rows).tolist()
    if not geoms:
        tr = data.layer("transformers")
        ids = set(model.downstream_transformers(device_id))
        geoms = tr[tr["id"].isin(ids)]["geometry"].tolist()
    pts = shapely.get_coordinates(np.asarray([g for g in geoms if g is not None], dtype=object))
    if len(pts) == 0:
        return None
    x, y = data.frame.forward(pts[:, 0], pts[:, 1])
    xy = np.unique(np.round(np.column_stack([x, y]) / (radius_m / 3)), axis=0) * (radius_m / 3)
    blobs = shapely.buffer(shapely.points(xy), radius_m, quad_segs=4)
    area = shapely.simplify(shapely.union_all(blobs), radius_m / 6)
    return shapely.transform(area, lambda c: np.column_stack(data.frame.inverse(c[:, 0], c[:, 1])))


def _metres(data: GridData, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = data.frame.forward_one(*a)
    bx, by = data.frame.forward_one(*b)
    return math.hypot(ax - bx, ay - by)


# -- drawing -----------------------------------------------------------------------------------


def _evidence_html(inc: IncidentView, limit: int = 8) -> str:
    import html

    items = inc.evidence[-limit:]
    if not items:
        return ""
    more = len(inc.evidence) - len(items)
    head = f"<div class='gc-small'>…{more} earlier</div>" if more > 0 else ""
    lis = "".join(f"<li>{html.escape(e)}</li>" for e in items)
    title = "<div class='gc-popup-title'>依据 evidence</div>"
    return f"{title}{head}<ul class='gc-evidence'>{lis}</ul>"


def _call_icon_html(colour: str) -> str:
    return f'<div class="gc-call-dot" style="background:{colour};width:10px;height:10px"></div>'


def storm_map(
    data: GridData,
    model: NetworkModel,
    incidents: Sequence[IncidentView],
    *,
    title: str = "故障抢修地图 Storm map",
    cluster_over: int = CLUSTER_OVER,
    base_groups: Sequence[str] = STAFF_GROUPS,
) -> folium.Map:
    """The storm on the base map: per incident its device (a marker by device kind), its
    affected area and downstream 10 kV lines, its calls (clustered when many), and a line
    from the responsible unit; the responsible units' territories outlined; a legend."""
    m = offline_map(map_bounds(data))
    add_base_layers(m, data, base_groups)
    units = {
        str(r.id): r for r in data.layer("units").itertuples() if r.id and r.geometry is not None
    }
    unit_names = geojson.unit_names(data)
    territories = data.layer("territories")

    areas = folium.FeatureGroup(name="停电范围 affected area")
    lines = folium.FeatureGroup(name="停电线路 de-energised 10 kV")
    devices = folium.FeatureGroup(name="故障设备 inferred device")
    links = folium.FeatureGroup(name="责任供电所 responsible unit")
    total_calls = sum(len(i.calls) for i in incidents)
    calls_layer: Layer = (
        MarkerCluster(  # type: ignore[no-untyped-call]
            name="报修电话 calls", options={"disableClusteringAtZoom": 15,
                                                    "maxClusterRadius": 40})
        if total_calls > cluster_over
        else folium.FeatureGroup(name="报修电话 calls")
    )  # fmt: skip
    mv = data.layer("mv_lines")
    mv_geom = dict(zip(mv["id"].tolist(), mv["geometry"].tolist(), strict=True))
    kinds_seen: set[str] = set()
    states_seen: set[str] = set()
    responsible: set[str] = set()

    for inc in incidents:
        colour = style.incident_colour(inc.state)
        states_seen.add(inc.state)
        kind = device_kind(data, inc.device_id)
        kinds_seen.add(kind)
        where = data.element_location(inc.device_id) if inc.device_id else None
        if where is None:
            located = [(c.lon, c.lat) for c in inc.calls if c.lon is not None and c.lat is not None]
            if located:
                where = (
                    float(np.mean([p[0] for p in located])),
                    float(np.mean([p[1] for p in located])),
                )
        customers = inc.affected_customers
        if customers is None and inc.device_id:
            try:
                customers = model.downstream_service_point_count(inc.device_id)
            except UnknownElementError:
                customers = None
        feeder = inc.feeder
        if feeder is None and inc.device_id:
            try:
                feeder = model.feeder_of(inc.device_id)
            except UnknownElementError:
                feeder = None
        unit_name = unit_names.get(inc.unit_id or "", inc.unit_id)
        summary = popup_table(
            [
                ("故障设备", f"{inc.device_id or '未判定'}（{style.device_icon(kind)[2]}）"),
                ("线路", feeder),
                ("状态", style.STATE_NAMES.get(inc.state, inc.state)),
                ("报修电话", len(inc.calls)),
                ("停电用户", customers),
                ("责任单位", unit_name),
                ("工单", inc.work_order_id),
                ("首次受理", inc.opened_at),
            ],
            f"事件 {inc.id}",
        )
        popup_html = summary + _evidence_html(inc)

        area = affected_area(data, model, inc.device_id)
        if area is not None and not area.is_empty:
            shade = folium.GeoJson(
                geojson.geometry(area),
                style_function=lambda _f, c=colour: {
                    "color": c, "weight": 1.5, "fillColor": c, "fillOpacity": 0.3,
                },
                tooltip=f"{inc.id}：停电范围，{customers or 0} 户",
            )  # fmt: skip
            folium.Popup(popup_html, max_width=420).add_to(shade)
            shade.add_to(areas)
        if inc.device_id:
            geoms = [mv_geom[s] for s in downstream_lines(model, inc.device_id) if s in mv_geom]
            if geoms:
                merged = shapely.line_merge(shapely.multilinestrings(geoms))
                folium.GeoJson(
                    geojson.geometry(merged, simplify=geojson.SIMPLIFY_DEG["feeders"]),
                    style_function=lambda _f, c=colour: {"color": c, "weight": 6, "opacity": 0.55},
                    tooltip=f"{inc.id}：{feeder or ''} 下游 {len(geoms)} 段停电",
                ).add_to(lines)
        if where is not None:
            icon, icon_colour, _name = style.device_icon(kind)
            folium.Marker(
                [where[1], where[0]],
                icon=folium.Icon(icon=icon, prefix="fa", color=icon_colour),
                tooltip=f"{inc.id} · {inc.device_id or '未判定'} · {len(inc.calls)} 个电话",
                popup=folium.Popup(popup_html, max_width=420),
            ).add_to(devices)
        unit = units.get(inc.unit_id or "")
        if unit is not None and where is not None:
            start = (float(unit.geometry.x), float(unit.geometry.y))
            km = _metres(data, start, where) / 1000
            folium.PolyLine(  # type: ignore[no-untyped-call]
                [[start[1], start[0]], [where[1], where[0]]],
                color=style.UNIT_COLOUR,
                weight=2,
                dash_array="6 6",
                opacity=0.85,
                tooltip=f"{unit.name} → {inc.id}（直线 {km:.1f} km）",
            ).add_to(links)
            responsible.add(str(unit.id))
        for call in inc.calls:
            if call.lon is None or call.lat is None:
                continue
            conf = f"{call.confidence:.2f}" if call.confidence is not None else None
            folium.Marker(
                [call.lat, call.lon],
                icon=folium.DivIcon(html=_call_icon_html(colour), icon_size=(10, 10),
                                    icon_anchor=(5, 5), class_name="gc-label-icon"),
                tooltip=f"{call.call_id} → {inc.id}",
                popup=folium.Popup(popup_table([
                    ("事件", inc.id), ("状态", call.status), ("时间", call.at),
                    ("定位方式", call.method), ("置信度", conf),
                ], f"电话 {call.call_id}"), max_width=300),
            ).add_to(calls_layer)  # fmt: skip

    if responsible and not territories.empty:
        own = territories[territories["unit_id"].isin(responsible)]
        fc = geojson.collection(
            geojson.feature(
                geojson.geometry(g, simplify=geojson.SIMPLIFY_DEG["territories"]),
                {"label": f"{unit_names.get(str(u), u)} 辖区（有故障）"},
            )
            for u, g in zip(own["unit_id"].tolist(), own["geometry"].tolist(), strict=True)
            if g is not None
        )
        folium.GeoJson(
            fc,
            style_function=lambda _f: {
                "color": style.UNIT_COLOUR,
                "weight": 2,
                "opacity": 0.7,
                "fill": False,
            },
            tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
        ).add_to(links)
    for layer in (areas, lines, links, devices, calls_layer):
        layer.add_to(m)

    sections = [
        (
            "故障设备（推断）",
            [
                LegendEntry("icon", _ICON_CSS.get(c, "#777"), name, icon=i)
                for k, (i, c, name) in style.DEVICE_ICONS.items()
                if k in kinds_seen
            ],
        ),
        (
            "事件",
            [
                LegendEntry(
                    "area", style.incident_colour(s), f"停电范围：{style.STATE_NAMES.get(s, s)}"
                )
                for s in sorted(states_seen)
            ]
            + [
                LegendEntry("line", style.incident_colour("confirmed"), "停电的10kV线路"),
                LegendEntry("dot", style.incident_colour("confirmed"), "报修电话（定位位置）"),
                LegendEntry("dash", style.UNIT_COLOUR, "责任供电所 → 故障点"),
            ],
        ),
        *base_legend(data, base_groups),
    ]
    m.add_child(Legend(title, sections))
    counts = LegendEntry("dot", "#e31a1c", f"{len(incidents)} 个事件，{total_calls} 个电话")
    m.add_child(Legend(title, [("", [counts])], position="topleft"))
    folium.LayerControl(collapsed=True).add_to(m)
    return m


#: awesome-markers' colour names as CSS colours, for legend swatches
_ICON_CSS = {
    "darkred": "#a23336",
    "red": "#d63e2a",
    "orange": "#f69730",
    "purple": "#d252b9",
    "cadetblue": "#436978",
    "darkpurple": "#5b396b",
    "gray": "#575757",
}


def write_storm_map(
    path: str | Path,
    data: GridData,
    model: NetworkModel,
    incidents: Sequence[IncidentView],
    **kwargs: Any,
) -> Path:
    """Writes the storm map with its assets beside it: ``path`` is a folder (the page is
    ``index.html``) or an ``.html`` file (``static/`` goes next to it). Opens from disk."""
    out = Path(path)
    m = storm_map(data, model, incidents, **kwargs)
    if out.suffix.lower() in (".html", ".htm"):
        return write_map_folder(m, out.parent, name=out.name)
    return write_map_folder(m, out)
