"""Checks a read package against the schema and normalises it to the internal CRS.

Every problem is collected (layer, feature id, what is wrong); nothing stops at the first.
The result is a :class:`~layers.grid.GridData` with text columns, WGS84 geometries and the
extra columns kept as attributes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import INTERNAL_CRS, to_internal
from layers.grid import GridData
from layers.reader import Problem, RawLayer, is_unreadable, unreadable_message
from layers.schema import LAYERS, NETWORK_LAYERS, REQUIRED_LAYERS, LayerSpec

# Values that must be present in a row when their column is (an empty feeder name cannot
# be traced, an empty transformer_id cannot be fed).
NON_EMPTY = {
    "substations": ("id", "node"),
    "mv_lines": ("id", "feeder"),
    "switches": ("id", "kind"),
    "transformers": ("id",),
    "lv_lines": ("id",),
    "poles": ("id", "number"),
    "service_points": ("id", "transformer_id"),
    "units": ("id", "name"),
    "territories": ("unit_id",),
    "crews": ("id", "unit_id"),
    "admin_areas": ("id", "name", "level"),
    "places": ("name",),
    "roads": ("id",),
    "schematic": ("element_id",),
}


def _single_part(geom: Any) -> Any:
    """A Multi* geometry with one part is that part; utilities' exports often wrap them."""
    if isinstance(geom, shapely.MultiPoint | shapely.MultiLineString | shapely.MultiPolygon):
        if len(geom.geoms) == 1:
            return geom.geoms[0]
        if isinstance(geom, shapely.MultiLineString):
            merged = shapely.line_merge(geom)
            if isinstance(merged, shapely.LineString):
                return merged
    return geom


def _transform(geoms: np.ndarray[Any, Any], crs: CRS | None) -> np.ndarray[Any, Any]:
    if crs is None or crs == INTERNAL_CRS:
        return geoms

    def project(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lon, lat = to_internal(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    out = geoms.copy()
    mask = np.array([g is not None for g in geoms], dtype=bool)
    if mask.any():
        out[mask] = shapely.transform(np.asarray(list(geoms[mask]), dtype=object), project)
    return out


_GEOM_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _check_geometry(
    spec: LayerSpec, ids: list[str], geoms: np.ndarray[Any, Any], problems: list[Problem]
) -> np.ndarray[Any, Any]:
    """Returns the geometries with bad ones set to None, after reporting each (vectorised)."""
    n = len(geoms)
    out = np.full(n, None, dtype=object)
    present = np.array([g is not None and not is_unreadable(g) for g in geoms], dtype=bool)
    for i in np.flatnonzero(~present):
        if geoms[i] is None:
            problems.append(Problem(spec.name, ids[i], "missing geometry"))
        else:
            problems.append(
                Problem(spec.name, ids[i], f"unreadable geometry: {unreadable_message(geoms[i])}")
            )
    if not present.any():
        return out
    idx = np.flatnonzero(present)
    arr = np.empty(len(idx), dtype=object)
    arr[:] = [geoms[i] for i in idx]
    types = shapely.get_type_id(arr)
    for j in np.flatnonzero(types >= 4):
        arr[j] = _single_part(arr[j])
    types = shapely.get_type_id(arr)
    empty = shapely.is_empty(arr)
    allowed = spec.geometry
    allowed_ids = {k for k, v in _GEOM_TYPE_NAMES.items() if v in allowed} if allowed else None
    type_ok = (
        np.isin(types, list(allowed_ids)) if allowed_ids is not None else np.ones(len(arr), bool)
    )
    valid = shapely.is_valid(arr)
    zero_line = (types == 1) & (shapely.length(arr) == 0)
    for j in np.flatnonzero(empty | ~type_ok | ~valid | zero_line):
        fid = ids[idx[j]]
        if empty[j]:
            problems.append(Problem(spec.name, fid, "empty geometry"))
        elif not type_ok[j]:
            kind = _GEOM_TYPE_NAMES.get(int(types[j]), "unknown")
            problems.append(
                Problem(spec.name, fid, f"geometry is {kind}, expected {' or '.join(allowed)}")
            )
        elif zero_line[j]:
            problems.append(Problem(spec.name, fid, "invalid geometry: line of zero length"))
        else:
            problems.append(
                Problem(spec.name, fid, f"invalid geometry: {shapely.is_valid_reason(arr[j])}")
            )
    good = ~(empty | ~type_ok | ~valid | zero_line)
    out[idx[good]] = arr[good]
    return out


def _check_coordinates(
    spec: LayerSpec,
    ids: list[str],
    geoms: np.ndarray[Any, Any],
    problems: list[Problem],
    *,
    on_earth: bool = True,
) -> None:
    """Flags coordinates that are not finite, or (``on_earth``) not on Earth after the
    transformation."""
    idx = np.flatnonzero([g is not None for g in geoms])
    if len(idx) == 0:
        return
    arr = np.empty(len(idx), dtype=object)
    arr[:] = [geoms[i] for i in idx]
    coords, index = shapely.get_coordinates(arr, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1)
    outside = np.zeros(len(coords), dtype=bool)
    if spec.has_crs and on_earth:
        with np.errstate(invalid="ignore"):
            outside = (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    for j in np.unique(index[bad]):
        problems.append(Problem(spec.name, ids[idx[j]], "coordinates cannot be transformed"))
        geoms[idx[j]] = None
    for j in np.unique(index[outside & ~bad]):
        problems.append(
            Problem(spec.name, ids[idx[j]], "coordinates outside lon/lat range (wrong CRS?)")
        )
        geoms[idx[j]] = None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate(
    raw_layers: dict[str, RawLayer],
) -> tuple[GridData, list[Problem]]:
    problems: list[Problem] = []
    for name in REQUIRED_LAYERS:
        if name not in raw_layers:
            problems.append(Problem(name, None, "required layer is missing"))

    frames: dict[str, pd.DataFrame] = {}
    for name, raw in raw_layers.items():
        spec = LAYERS[name]
        frame = raw.frame
        missing = [c for c in spec.required if c not in frame.columns]
        for column in missing:
            problems.append(Problem(name, None, f"missing required column {column!r}"))
        n = len(raw.geometry)
        id_col = spec.id_column
        ids: list[str | None] = (
            list(frame[id_col]) if id_col and id_col in frame.columns else [None] * n
        )
        labels = [fid if fid is not None else f"row {i + 1}" for i, fid in enumerate(ids)]

        data: dict[str, list[Any]] = {}
        for column in spec.columns:
            values = list(frame[column]) if column in frame.columns else [None] * n
            default = spec.defaults.get(column)
            if default is not None:
                values = [v if v is not None else default for v in values]
            data[column] = values

        for column in NON_EMPTY.get(name, ()):
            if column in frame.columns:
                for i, value in enumerate(data[column]):
                    if value is None:
                        problems.append(Problem(name, labels[i], f"empty {column!r}"))
        for column, allowed in spec.enums.items():
            for i, value in enumerate(data[column]):
                if value is not None:
                    low = value.strip().lower()
                    if low not in allowed:
                        problems.append(
                            Problem(
                                name,
                                labels[i],
                                f"{column} {value!r} is not one of {', '.join(allowed)}",
                            )
                        )
                    data[column][i] = low
        for column in spec.numeric:
            for i, value in enumerate(data[column]):
                if value is not None and not _is_number(value):
                    problems.append(Problem(name, labels[i], f"{column} {value!r} is not a number"))
                    data[column][i] = None

        geoms = _check_geometry(spec, labels, raw.geometry, problems)
        if spec.has_crs and raw.crs is not None:
            geoms = _transform(geoms, raw.crs)
        # a layer of no known CRS is one problem, listed already, not one per feature
        _check_coordinates(spec, labels, geoms, problems, on_earth=raw.crs is not None)

        extra = [c for c in frame.columns if c not in spec.columns and c not in ("fid", "ogc_fid")]
        attrs: list[dict[str, Any]] = (
            [
                {k: v for k, v in row.items() if v is not None}
                for row in frame[extra].to_dict("records")
            ]
            if extra
            else [{} for _ in range(n)]
        )
        out = pd.DataFrame(data, dtype=object)
        out["geometry"] = geoms
        out["attrs"] = attrs
        frames[name] = out

    # Ids: unique within a layer, and across the network layers.
    seen: dict[str, str] = {}
    for name in LAYERS:
        spec = LAYERS[name]
        if name not in frames or not spec.id_column:
            continue
        counts: dict[str, int] = defaultdict(int)
        for fid in frames[name][spec.id_column]:
            if fid is not None:
                counts[fid] += 1
        for fid, count in counts.items():
            if count > 1:
                problems.append(Problem(name, fid, f"duplicate id ({count} features)"))
        if spec.network:
            for fid in counts:
                other = seen.get(fid)
                if other is not None and other != name:
                    problems.append(Problem(name, fid, f"duplicate id: also in {other}"))
                else:
                    seen[fid] = name

    # References to ids that do not exist.
    id_sets: dict[str, set[str]] = {}
    for name, frame in frames.items():
        spec = LAYERS[name]
        if spec.id_column:
            id_sets[name] = {v for v in frame[spec.id_column] if v is not None}
    network_ids: set[str] = set().union(*(id_sets.get(n, set()) for n in NETWORK_LAYERS))
    for name, frame in frames.items():
        spec = LAYERS[name]
        labels = _labels(frame, spec)
        references = dict(spec.references)
        if name == "schematic":
            references["element_id"] = NETWORK_LAYERS
        for column, targets in references.items():
            if name == "mv_lines" and column == "unit_id" and "units" not in frames:
                targets_ids: set[str] | None = None
            else:
                targets_ids = (
                    network_ids
                    if targets == NETWORK_LAYERS
                    else set().union(*(id_sets.get(t, set()) for t in targets))
                )
            if targets_ids is None:
                continue
            for i, value in enumerate(frame[column]):
                if value is not None and value not in targets_ids:
                    problems.append(
                        Problem(
                            name,
                            labels[i],
                            f"{column} {value!r} names no feature of "
                            f"{'/'.join(targets) if targets != NETWORK_LAYERS else 'the network'}",
                        )
                    )

    return GridData(frames), problems


def _labels(frame: pd.DataFrame, spec: LayerSpec) -> list[str]:
    if spec.id_column and spec.id_column in frame.columns:
        return [
            fid if fid is not None else f"row {i + 1}"
            for i, fid in enumerate(frame[spec.id_column])
        ]
    return [f"row {i + 1}" for i in range(len(frame))]
