"""What the pages show, read from the database and the network model: the dispatcher's
board (open incidents, work orders, crews, the clocks about to run out), one incident's
footprint, one call's location, and a feeder's one-line diagram.

Plain functions over a connection and the grid, so that the routes in ``api.pages`` stay
thin and the tests can call them without a web server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import Connection, select

from gis.db import json_value
from layers.grid import GridData
from layers.network import MV_LINE, SWITCH, TRANSFORMER, NetworkModel, UnknownElementError
from map_ui import geojson, style
from map_ui.storm_map import affected_area, device_kind, downstream_lines


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Names:
    """Display names of units and crews, so that the board never shows bare ids."""

    units: dict[str, str]
    crews: dict[str, str]

    @classmethod
    def of(cls, data: GridData) -> Names:
        crews = data.layer("crews")
        return cls(
            geojson.unit_names(data),
            {str(i): str(n) for i, n in zip(crews["id"], crews["name"], strict=True) if i},
        )


def incident_summary(row: Any, data: GridData, names: Names) -> dict[str, Any]:
    """An incident's row for the pages, placed at its inferred device when the grid has it."""
    kind = device_kind(data, row["device_id"])
    where = data.element_location(row["device_id"]) if row["device_id"] else None
    lon, lat = where if where is not None else (row["lon"], row["lat"])
    return {
        "id": row["id"],
        "device_id": row["device_id"],
        "device_kind": kind,
        "device_kind_name": style.device_icon(kind)[2],
        "feeder": row["feeder"],
        "state": row["state"],
        "state_name": style.STATE_NAMES.get(row["state"], row["state"]),
        "unit_id": row["unit_id"],
        "unit_name": names.units.get(row["unit_id"] or "", row["unit_id"]),
        "area_class": row["area_class"],
        "call_count": row["call_count"],
        "affected_customers": row["affected_customers"],
        "opened_at": _iso(row["opened_at"]),
        "onset_at": _iso(row["onset_at"]),
        "work_order_id": row["work_order_id"],
        "lon": lon,
        "lat": lat,
        "colour": style.incident_colour(row["state"]),
    }


def open_incidents(
    conn: Connection, data: GridData, names: Names | None = None
) -> list[dict[str, Any]]:
    from outages.store import incidents

    names = names or Names.of(data)
    rows = conn.execute(
        select(incidents)
        .where(incidents.c.merged_into.is_(None), incidents.c.restored_at.is_(None))
        .order_by(incidents.c.opened_at)
    ).mappings()
    return [incident_summary(r, data, names) for r in rows]


def _clock(clock: Any) -> dict[str, Any]:
    return {
        "order_id": clock.order_id,
        "order_kind": str(clock.order_kind),
        "kind": str(clock.kind),
        "state": str(clock.state),
        "deadline": _iso(clock.deadline),
        "remaining_s": round(clock.remaining.total_seconds()),
        "escalation": int(clock.escalation),
    }


def board(
    conn: Connection, data: GridData, now: datetime, dispatch_context: Any = None
) -> dict[str, Any]:
    """Everything the dispatcher's board shows, in one answer, so that one poll refreshes
    the map and the tables together."""
    from dispatch.clocks import dispatcher_board
    from dispatch.store import crews, dispatch_on

    names = Names.of(data)
    service = dispatch_on(conn, dispatch_context)
    open_orders = service.repo.open_orders()  # read once: the rows, their clocks, the board
    orders = []
    for o in open_orders:
        state = o.state
        orders.append(
            {
                "order_id": o.order_id,
                "type": o.type.value,
                "status": o.status.value,
                "incident_id": o.incident_id,
                "call_id": o.call_id,
                "unit_id": o.current_unit_id,
                "unit_name": names.units.get(o.current_unit_id or "", o.current_unit_id),
                "crew_id": o.crew_id,
                "crew_name": names.crews.get(o.crew_id or "", o.crew_id),
                "area_class": state.area_class.value if state.area_class else None,
                "department": state.department,
                "first_call_at": _iso(o.first_call_at),
                "summary": o.summary,
                "lon": o.lon,
                "lat": o.lat,
                "clocks": [_clock(c) for c in service.clocks(o, now) if c.is_open],
            }
        )
    crew_rows = []
    for r in conn.execute(select(crews).order_by(crews.c.unit_id, crews.c.crew_id)).mappings():
        crew_rows.append(
            {
                "crew_id": r["crew_id"],
                "name": r["name"],
                "unit_id": r["unit_id"],
                "unit_name": names.units.get(r["unit_id"] or "", r["unit_id"]),
                "status": r["status"],
                "head_count": r["head_count"],
                "lon": r["lon"] if r["lon"] is not None else r["base_lon"],
                "lat": r["lat"] if r["lat"] is not None else r["base_lat"],
                "job_order_id": r["job_order_id"],
                "free_at": _iso(r["free_at"]),
            }
        )
    ctx = service.context
    facts = [f for o in open_orders if (f := o.facts()) is not None]
    urgent = dispatcher_board(facts, now, ctx.clock_settings, ctx.calendar)
    return {
        "now": now.isoformat(),
        "incidents": open_incidents(conn, data, names),
        "orders": orders,
        "crews": crew_rows,
        "clocks": [_clock(c) for c in urgent],
    }


def incident_detail(
    conn: Connection, data: GridData, model: NetworkModel, incident_id: str
) -> dict[str, Any] | None:
    """One incident with its footprint (affected area, de-energised lines), its calls'
    located positions and its evidence: what an agent or dispatcher opens to judge it."""
    from outages.store import calls, incidents

    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
    if row is None:
        return None
    out = incident_summary(row, data, Names.of(data))
    device = row["device_id"]
    area = affected_area(data, model, device)
    out["area"] = geojson.geometry(area) if area is not None and not area.is_empty else None
    lines = []
    if device:
        mv = data.layer("mv_lines")
        wanted = set(downstream_lines(model, device))
        lines = mv[mv["id"].isin(wanted)]["geometry"].tolist()
    out["lines"] = (
        geojson.geometry(shapely.line_merge(shapely.multilinestrings(lines)), simplify=0.00001)
        if lines
        else None
    )
    unit = data.element_location(row["unit_id"]) if row["unit_id"] else None
    out["unit_location"] = list(unit) if unit else None
    out["evidence"] = [str(e) for e in (json_value(row["evidence"]) or [])]
    located = []
    for c in conn.execute(
        select(calls.c.call_id, calls.c.status, calls.c.received_at, calls.c.location).where(
            calls.c.incident_id == incident_id
        )
    ).mappings():
        loc = json_value(c["location"]) or {}
        located.append(
            {
                "call_id": c["call_id"],
                "status": c["status"],
                "received_at": _iso(c["received_at"]),
                "lon": loc.get("lon"),
                "lat": loc.get("lat"),
                "method": loc.get("method"),
                "confidence": loc.get("confidence"),
            }
        )
    out["calls"] = located
    return out


def call_detail(conn: Connection, call_id: str) -> dict[str, Any] | None:
    """A call's stored answer and how it was located (evidence and candidates)."""
    from outages.store import calls

    row = (
        conn.execute(
            select(calls.c.call_id, calls.c.answer, calls.c.location, calls.c.status).where(
                calls.c.call_id == call_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return {
        "call_id": row["call_id"],
        "status": row["status"],
        "answer": json_value(row["answer"]),
        "location": json_value(row["location"]),
    }


def feeders(data: GridData, model: NetworkModel) -> list[dict[str, Any]]:
    mv = data.layer("mv_lines")
    counts = mv["feeder"].value_counts().to_dict()
    subs = data.layer("substations")
    sub_names = {str(i): str(n) for i, n in zip(subs["id"], subs["name"], strict=True)}
    out = []
    for f in model.feeders():
        first = mv[mv["feeder"] == f]["id"]
        sub = None
        if len(first):
            try:
                sub = model.substation_of(str(first.iat[0]))
            except UnknownElementError:
                sub = None
        out.append(
            {
                "feeder": f,
                "sections": int(counts.get(f, 0)),
                "substation_id": sub,
                "substation_name": sub_names.get(sub or "", sub),
            }
        )
    return out


def schematic(
    conn: Connection, data: GridData, model: NetworkModel, feeder: str
) -> dict[str, Any] | None:
    """A feeder's one-line diagram in diagram coordinates: each element with its kind, and
    whether an open incident has cut it off, so the dispatcher sees the fault on the
    diagram as on the map."""
    frame = data.layer("schematic")
    frame = frame[(frame["feeder"] == feeder) & frame["geometry"].notna()]
    if frame.empty:
        return None
    dead: dict[str, str] = {}
    devices: dict[str, str] = {}
    for inc in open_incidents(conn, data):
        device = inc["device_id"]
        if not device:
            continue
        devices[device] = inc["id"]
        try:
            below = downstream_lines(model, device) + model.downstream_transformers(device)
        except UnknownElementError:
            continue
        for element in below:
            dead.setdefault(element, inc["id"])
    switches = data.layer("switches").set_index("id")
    transformers = data.layer("transformers").set_index("id")
    features = []
    for raw_id, geom in zip(frame["element_id"].tolist(), frame["geometry"].tolist(), strict=True):
        eid = str(raw_id)
        try:
            kind_code = model.elements[eid][0]
        except KeyError:
            kind_code = -1
        props: dict[str, Any] = {"element_id": eid, "kind": "line", "incident_id": None}
        if kind_code == SWITCH and eid in switches.index:
            row = switches.loc[eid]
            props["kind"] = "switch"
            props["device_kind"] = row["kind"]
            props["device_kind_name"] = style.device_icon(row["kind"])[2]
            props["name"] = row["name"]
            state = model.switch_states.get(eid, row["normal_state"] or "closed")
            props["state"] = state
        elif kind_code == TRANSFORMER and eid in transformers.index:
            row = transformers.loc[eid]
            props["kind"] = "transformer"
            props["name"] = row["name"]
            props["kva"] = row["kva"]
        elif kind_code == MV_LINE:
            props["kind"] = "line"
        props["incident_id"] = devices.get(eid) or dead.get(eid)
        props["faulted_device"] = eid in devices
        features.append(geojson.feature(geojson.geometry(geom), props))
    minx, miny, maxx, maxy = shapely.total_bounds(frame["geometry"].to_numpy())
    return {
        **geojson.collection(features),
        "feeder": feeder,
        "bounds": [float(minx), float(miny), float(maxx), float(maxy)],
    }
