"""Our own layers as GeoJSON with their style: the base map instead of a tile server.

Each feature carries ``properties.style`` (Leaflet path options) and a short ``label``,
so that folium (in Python) and the pages' script (in the browser) draw them the same way.
Geometry is simplified by a few metres and rounded to 1e-6 degrees (10 cm): a county's
whole 10 kV network fits in a few hundred kilobytes that way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from layers.grid import GridData
from map_ui import style

Feature = dict[str, Any]
FeatureCollection = dict[str, Any]

DIGITS = 6
SIMPLIFY_DEG = {"admin": 0.00005, "roads": 0.00002, "feeders": 0.00001, "territories": 0.00005}

#: What the public may see (no network, no customers) and what staff see besides.
PUBLIC_GROUPS = ("admin", "roads", "territories", "units")
NETWORK_GROUPS = ("feeders", "substations", "switches", "transformers")
GROUP_NAMES = {
    "admin": "行政区划",
    "roads": "道路",
    "territories": "供电所辖区",
    "units": "供电所",
    "feeders": "10kV线路（按线路着色）",
    "substations": "变电站",
    "switches": "开关设备",
    "transformers": "配电变压器（台区）",
}


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def geometries(geoms: Sequence[Any], *, simplify: float = 0.0) -> list[dict[str, Any] | None]:
    """GeoJSON geometry objects, simplified and rounded; ``None`` for missing geometry."""
    arr = np.asarray(list(geoms), dtype=object)
    present = np.asarray([g is not None for g in arr], dtype=bool)
    out: list[dict[str, Any] | None] = [None] * len(arr)
    if not present.any():
        return out
    shapes = arr[present]
    if simplify > 0:
        shapes = shapely.simplify(shapes, simplify, preserve_topology=True)
    shapes = shapely.transform(shapes, lambda c: np.round(c, DIGITS))
    texts = shapely.to_geojson(shapes)
    for i, t in zip(np.flatnonzero(present).tolist(), texts.tolist(), strict=True):
        out[i] = json.loads(t)
    return out


def geometry(geom: Any, *, simplify: float = 0.0) -> dict[str, Any] | None:
    return geometries([geom], simplify=simplify)[0]


def collection(features: Iterable[Feature]) -> FeatureCollection:
    return {"type": "FeatureCollection", "features": list(features)}


def feature(geom: dict[str, Any] | None, properties: dict[str, Any]) -> Feature:
    return {"type": "Feature", "geometry": geom, "properties": properties}


def _features(
    frame: pd.DataFrame, props: Iterable[dict[str, Any]], *, simplify: float = 0.0
) -> list[Feature]:
    geoms = geometries(frame["geometry"].tolist(), simplify=simplify)
    return [feature(g, p) for g, p in zip(geoms, props, strict=True) if g is not None]


def admin_areas(data: GridData, level: str) -> FeatureCollection:
    frame = data.layer("admin_areas")
    frame = frame[frame["level"] == level]
    props = [
        {
            "id": _text(r.id),
            "name": _text(r.name),
            "level": level,
            "label": _text(r.name),
            "style": style.ADMIN_STYLES.get(level, style.ADMIN_STYLES["village"]),
        }
        for r in frame.itertuples()
    ]
    return collection(_features(frame, props, simplify=SIMPLIFY_DEG["admin"]))


def admin_labels(data: GridData, level: str) -> list[tuple[str, float, float]]:
    """(name, lon, lat) inside each area of a level: where its label goes."""
    frame = data.layer("admin_areas")
    frame = frame[(frame["level"] == level) & frame["geometry"].notna()]
    if frame.empty:
        return []
    points = shapely.point_on_surface(np.asarray(frame["geometry"].tolist(), dtype=object))
    xy = shapely.get_coordinates(points)
    return [
        (str(name), float(x), float(y))
        for name, (x, y) in zip(frame["name"].tolist(), xy.tolist(), strict=True)
        if name
    ]


def roads(data: GridData) -> FeatureCollection:
    frame = data.layer("roads")
    props = []
    for r in frame.itertuples():
        kind = _text(r.kind) or ""
        props.append(
            {
                "id": _text(r.id),
                "name": _text(r.name),
                "kind": kind,
                "label": " ".join(x for x in (_text(r.name), style.ROAD_NAMES.get(kind)) if x),
                "style": style.ROAD_STYLES.get(kind, style.ROAD_DEFAULT),
            }
        )
    return collection(_features(frame, props, simplify=SIMPLIFY_DEG["roads"]))


def feeders(data: GridData) -> FeatureCollection:
    """One feature per feeder: its sections merged into as few lines as possible."""
    frame = data.layer("mv_lines")
    frame = frame[frame["geometry"].notna()]
    if frame.empty:
        return collection([])
    names = [str(f) if f else "（未标注线路）" for f in frame["feeder"].tolist()]
    colours = style.feeder_colours(sorted(set(names)))
    by_feeder: dict[str, list[Any]] = {}
    for name, geom in zip(names, frame["geometry"].tolist(), strict=True):
        by_feeder.setdefault(name, []).append(geom)
    out = []
    for name in sorted(by_feeder):
        parts = by_feeder[name]
        merged = shapely.line_merge(shapely.multilinestrings(parts))
        out.append(
            feature(
                geometry(merged, simplify=SIMPLIFY_DEG["feeders"]),
                {
                    "feeder": name,
                    "sections": len(parts),
                    "label": name,
                    "style": {"color": colours[name], "weight": 2.5, "opacity": 0.9},
                },
            )
        )
    return collection(out)


def _points(
    frame: pd.DataFrame, fields: Sequence[str], label: str, colour: str, radius: float
) -> FeatureCollection:
    props = []
    for row in frame.itertuples():
        p: dict[str, Any] = {f: _text(getattr(row, f, None)) for f in fields}
        p["label"] = p.get(label) or p.get("id")
        p["style"] = {
            "radius": radius,
            "color": colour,
            "weight": 1,
            "fillColor": colour,
            "fillOpacity": 0.85,
        }
        props.append(p)
    return collection(_features(frame, props))


def substations(data: GridData) -> FeatureCollection:
    frame = data.layer("substations")
    # one row per bus: draw each substation once
    frame = frame.drop_duplicates(subset=["name"]) if "name" in frame else frame
    return _points(frame, ("id", "name", "voltage_kv"), "name", style.SUBSTATION_COLOUR, 7)


def units(data: GridData) -> FeatureCollection:
    return _points(data.layer("units"), ("id", "name", "kind", "phone"), "name",
                   style.UNIT_COLOUR, 7)  # fmt: skip


def transformers(data: GridData) -> FeatureCollection:
    return _points(
        data.layer("transformers"), ("id", "name", "kva", "feeder"), "name",
        style.TRANSFORMER_COLOUR, 2.5,
    )  # fmt: skip


def switches(data: GridData) -> FeatureCollection:
    frame = data.layer("switches")
    fc = _points(frame, ("id", "name", "kind", "feeder", "normal_state"), "id", "#444", 3)
    for f in fc["features"]:
        p = f["properties"]
        _icon, _colour, kind_name = style.device_icon(p.get("kind"))
        p["label"] = f"{kind_name} {p.get('name') or p.get('id')}"
        if p.get("normal_state") == "open":
            p["style"] = {**p["style"], "fillColor": "#ffffff", "color": "#000000"}
    return collection(fc["features"])


def unit_names(data: GridData) -> dict[str, str]:
    frame = data.layer("units")
    return {str(i): str(n) for i, n in zip(frame["id"], frame["name"], strict=True) if i}


def territories(data: GridData) -> FeatureCollection:
    frame = data.layer("territories")
    names = unit_names(data)
    props = []
    for r in frame.itertuples():
        area = _text(r.area_class) or "rural"
        unit = _text(r.unit_id) or ""
        colour = style.AREA_CLASS_COLOURS.get(area, style.AREA_CLASS_COLOURS["rural"])
        props.append(
            {
                "unit_id": unit,
                "unit_name": names.get(unit, unit),
                "area_class": area,
                "label": f"{names.get(unit, unit)}辖区（{style.AREA_CLASS_NAMES.get(area, area)}）",
                "style": {
                    "color": colour,
                    "weight": 1.5,
                    "dashArray": "6 4",
                    "fillColor": colour,
                    "fillOpacity": 0.04,
                },
            }
        )
    return collection(_features(frame, props, simplify=SIMPLIFY_DEG["territories"]))


def base_layers(data: GridData, groups: Sequence[str]) -> dict[str, FeatureCollection]:
    """The named groups' collections (``admin`` gives county, township and village)."""
    builders = {
        "roads": roads,
        "territories": territories,
        "units": units,
        "feeders": feeders,
        "substations": substations,
        "switches": switches,
        "transformers": transformers,
    }
    out: dict[str, FeatureCollection] = {}
    for group in groups:
        if group == "admin":
            for level in ("village", "township", "county"):
                out[f"admin_{level}"] = admin_areas(data, level)
        elif group in builders:
            out[group] = builders[group](data)
        else:
            raise KeyError(f"unknown base layer group {group!r}")
    return out
