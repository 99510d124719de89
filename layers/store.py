"""Layer tables in the spatial database, and moving a :class:`GridData` in and out of them.

One table per layer (``layer_<name>``): the schema's columns, ``attrs`` (the extra columns,
JSON), and ``geom`` in WGS84 (SRID 4326; the one-line diagram's ``schematic`` has no CRS).
An import replaces every layer in one transaction and is recorded in ``layer_imports``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    text,
)

from gis.db import UTCDateTime, metadata
from gis.spatial_sql import (
    bulk_insert,
    empty_table,
    geometry_as_wkb,
    spatial_index_suspended,
)
from layers.grid import GridData
from layers.schema import LAYERS, VIA_COLUMN, LayerSpec

GEOMETRY_TYPES: dict[tuple[str, ...], str] = {
    ("Point",): "POINT",
    ("LineString",): "LINESTRING",
    ("Polygon",): "POLYGON",
}
# Derived columns the import adds to a layer (the line a pole stands on when it has no node; a
# line's nodes inside it where a tee cuts it).
DERIVED_COLUMNS = {
    "poles": ("line_id",),
    "mv_lines": (VIA_COLUMN,),
    "lv_lines": (VIA_COLUMN,),
}


def _layer_table(spec: LayerSpec) -> Table:
    columns: list[Column[Any]] = [Column("fid", Integer, primary_key=True, autoincrement=True)]
    for name in spec.columns:
        kind = Float if name in spec.numeric else Text
        columns.append(Column(name, kind, nullable=True))
    for name in DERIVED_COLUMNS.get(spec.name, ()):
        columns.append(Column(name, Text, nullable=True))
    columns.append(Column("attrs", JSON, nullable=True))
    geom_type = GEOMETRY_TYPES.get(spec.geometry, "GEOMETRY")
    srid = 4326 if spec.has_crs else -1
    columns.append(Column("geom", Geometry(geom_type, srid=srid, spatial_index=True)))
    table = Table(f"layer_{spec.name}", metadata, *columns)
    if spec.id_column:
        Index(f"ix_layer_{spec.name}_{spec.id_column}", table.c[spec.id_column])
    return table


LAYER_TABLES: dict[str, Table] = {name: _layer_table(spec) for name, spec in LAYERS.items()}
Index("ix_layer_service_points_account_no", LAYER_TABLES["service_points"].c.account_no)
Index("ix_layer_service_points_transformer_id", LAYER_TABLES["service_points"].c.transformer_id)

layer_imports = Table(
    "layer_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("snap_tolerance_m", Float, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("imported_by", String(100), nullable=True),
)


def _rows(name: str, frame: pd.DataFrame) -> tuple[list[str], Iterator[list[Any]]]:
    spec = LAYERS[name]
    columns = list(spec.columns) + [c for c in DERIVED_COLUMNS.get(name, ()) if c in frame]
    columns_out = [*columns, "attrs"]
    values = {c: frame[c].tolist() if c in frame else [None] * len(frame) for c in columns}
    numeric = set(spec.numeric)
    geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
    wkb = shapely.to_wkb(geoms, include_srid=False)
    attrs = frame["attrs"].tolist()

    def generate() -> Iterator[list[Any]]:
        for i in range(len(frame)):
            row: list[Any] = []
            for c in columns:
                v = values[c][i]
                row.append(float(v) if c in numeric and v is not None else v)
            a = attrs[i]
            row.append(json.dumps(a, ensure_ascii=False) if a else None)
            row.append(wkb[i])
            yield row

    return columns_out, generate()


def save_grid(
    conn: Connection,
    data: GridData,
    *,
    source: str,
    snap_tolerance: float,
    warnings: list[str],
    progress: Callable[[str, int], object] | None = None,
) -> int:
    """Replaces every layer with ``data`` inside the caller's transaction; returns the
    import id."""
    for table in LAYER_TABLES.values():
        empty_table(conn, table)
    counts: dict[str, int] = {}
    for name, frame in data.frames.items():
        columns, rows = _rows(name, frame)
        srid = 4326 if LAYERS[name].has_crs else -1
        with spatial_index_suspended(conn, LAYER_TABLES[name]):
            counts[name] = bulk_insert(conn, LAYER_TABLES[name], columns, rows, srid=srid)
        if progress:
            progress(name, counts[name])
    result = conn.execute(
        layer_imports.insert().values(
            imported_at=datetime.now(UTC),
            source=source,
            snap_tolerance_m=snap_tolerance,
            counts=counts,
            warnings=warnings[:1000],
        )
    )
    pk = result.inserted_primary_key
    return int(pk[0]) if pk else 0


def load_grid(
    engine: Engine | Connection,
    *,
    layers: tuple[str, ...] | None = None,
    geometry: bool = True,
) -> GridData:
    """Reads layers back into memory (what the network model and the locator use).

    ``geometry=False`` skips the geometry, for callers that need the topology only (the
    network trace reads half a million service points in a fraction of the time)."""
    frames: dict[str, pd.DataFrame] = {}
    with engine.connect() if isinstance(engine, Engine) else nullcontext(engine) as conn:
        for name, table in LAYER_TABLES.items():
            if layers is not None and name not in layers:
                continue
            spec = LAYERS[name]
            cols = list(spec.columns) + list(DERIVED_COLUMNS.get(name, ()))
            quoted = ", ".join(f'"{c}"' for c in cols)
            geom_sql = geometry_as_wkb(conn, "geom") if geometry else "NULL"
            sql = f'SELECT {quoted}, attrs, {geom_sql} FROM "{table.name}" ORDER BY fid'

            result = conn.execute(text(sql)).all()
            if not result:
                continue
            data: dict[str, list[Any]] = {c: [] for c in cols}
            attrs: list[dict[str, Any]] = []
            wkbs: list[Any] = []
            for row in result:
                for i, c in enumerate(cols):
                    v = row[i]
                    if v is not None and c not in spec.numeric:
                        v = str(v)
                    data[c].append(v)
                a = row[len(cols)]
                if isinstance(a, str):
                    a = json.loads(a)
                attrs.append(a or {})
                wkbs.append(bytes(row[len(cols) + 1]) if row[len(cols) + 1] is not None else None)
            frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in data.items()})
            frame["geometry"] = shapely.from_wkb(np.asarray(wkbs, dtype=object))
            frame["attrs"] = pd.Series(attrs, dtype=object)
            for c in spec.numeric:
                frame[c] = pd.Series(
                    [None if v is None else _num_text(v) for v in frame[c].tolist()], dtype=object
                )
            frames[name] = frame
    return GridData(frames)


def _num_text(v: Any) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def latest_import(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(layer_imports).order_by(layer_imports.c.id.desc()).limit(1))
            .mappings()
            .first()
        )
        return dict(row) if row else None
