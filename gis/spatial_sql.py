"""The statements that differ between SpatiaLite and PostGIS, one function per difference.

Everything else goes through SQLAlchemy and GeoAlchemy2 unchanged. The differences:
bulk loading (SQLite ``executemany`` with ``GeomFromWKB`` against PostgreSQL ``COPY``),
reading geometry as WKB, the bounding-box filter (SpatiaLite's R*Tree is used only when the
query names its ``SpatialIndex`` table; PostGIS uses GiST for ``&&``), and emptying a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import Connection, Table, text

INTERNAL_SRID = 4326


def _is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def bulk_insert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    geometry_column: str | None = "geom",
    srid: int = INTERNAL_SRID,
) -> int:
    """Inserts rows fast. Each row holds the values of ``columns`` then, when there is a
    geometry column, the geometry as WKB bytes (or None). Returns the number of rows."""
    raw: Any = conn.connection.driver_connection
    names = list(columns) + ([geometry_column] if geometry_column else [])
    quoted = ", ".join(f'"{n}"' for n in names)
    count = 0
    if _is_sqlite(conn):
        marks = ["?"] * len(columns)
        if geometry_column:
            marks.append(f"GeomFromWKB(?, {srid})")
        sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join(marks)})'
        cursor = raw.cursor()
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 20_000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
        return count
    # PostgreSQL: COPY in binary-safe text form; geometry as hex EWKB via a staging cast.
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy,
    ):
        for row in rows:
            values = list(row)
            if geometry_column:
                wkb = values[-1]
                values[-1] = None if wkb is None else _ewkb_hex(wkb, srid)
            copy.write_row(values)
            count += 1
    return count


def _ewkb_hex(wkb: bytes, srid: int) -> str:
    """Hex EWKB (WKB with the SRID flag) from little- or big-endian WKB, as PostGIS reads it."""
    if srid <= 0:
        return wkb.hex()
    order: Literal["little", "big"] = "little" if wkb[0] == 1 else "big"
    geom_type = int.from_bytes(wkb[1:5], order)
    flagged = (geom_type | 0x20000000).to_bytes(4, order)
    return (wkb[:1] + flagged + srid.to_bytes(4, order) + wkb[5:]).hex()


@contextmanager
def spatial_index_suspended(conn: Connection, table: Table, column: str = "geom") -> Iterator[None]:
    """Bulk loads without index upkeep row by row, the index built once afterwards.

    SpatiaLite keeps its R*Tree with a trigger per inserted row: half a million points
    load about twice as fast with the index rebuilt in one pass at the end. PostGIS's GiST
    keeps up with ``COPY`` well enough, so nothing changes there.
    """
    if not _is_sqlite(conn):
        yield
        return
    raw: Any = conn.connection.driver_connection
    enabled = raw.execute(
        "SELECT spatial_index_enabled FROM geometry_columns "
        "WHERE lower(f_table_name) = lower(?) AND lower(f_geometry_column) = lower(?)",
        (table.name, column),
    ).fetchone()
    if not enabled or not enabled[0]:
        yield
        return
    raw.execute(f"SELECT DisableSpatialIndex('{table.name}', '{column}')")
    raw.execute(f'DROP TABLE IF EXISTS "idx_{table.name}_{column}"')
    yield
    raw.execute(f"SELECT CreateSpatialIndex('{table.name}', '{column}')")


def geometry_as_wkb(conn: Connection, column: str = "geom") -> str:
    """SQL expression text reading a geometry column as WKB."""
    return f"ST_AsBinary({column})" if not _is_sqlite(conn) else f"AsBinary({column})"


def empty_table(conn: Connection, table: Table) -> None:
    if _is_sqlite(conn):
        conn.execute(text(f'DELETE FROM "{table.name}"'))
    else:
        conn.execute(text(f'TRUNCATE "{table.name}" RESTART IDENTITY CASCADE'))


def bbox_filter(
    conn: Connection, table: Table, bbox: tuple[float, float, float, float], column: str = "geom"
) -> str:
    """A WHERE clause selecting rows whose geometry meets the lon/lat box; uses the index."""
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if _is_sqlite(conn):
        return (
            f'"{table.name}".ROWID IN (SELECT ROWID FROM SpatialIndex WHERE '
            f"f_table_name = '{table.name}' AND f_geometry_column = '{column}' AND "
            f"search_frame = BuildMbr({minx}, {miny}, {maxx}, {maxy}, {INTERNAL_SRID}))"
        )
    return (
        f'"{table.name}".{column} && '
        f"ST_MakeEnvelope({minx}, {miny}, {maxx}, {maxy}, {INTERNAL_SRID})"
    )


def layer_extent(
    conn: Connection, table: Table, column: str = "geom"
) -> tuple[float, float, float, float] | None:
    """A layer's bounding box, or None when it has no rows. SpatiaLite answers from its
    R*Tree (boxes rounded outward to single precision: fine for an extent), PostGIS with
    ST_Extent."""
    if _is_sqlite(conn):
        sql = f'SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM "idx_{table.name}_{column}"'
    else:
        sql = (
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            f'(SELECT ST_Extent({column}) AS e FROM "{table.name}") AS x'
        )
    row = conn.execute(text(sql)).first()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def intersects_wkt(conn: Connection, column: str, param: str) -> str:
    """A WHERE clause: the geometry meets a WKT geometry bound to ``param`` (lon/lat).
    SpatiaLite's ST_Intersects answers 1, 0 or -1 (invalid), PostGIS's a boolean."""
    clause = f"ST_Intersects({column}, ST_GeomFromText({param}, {INTERNAL_SRID}))"
    return clause + " = 1" if _is_sqlite(conn) else clause
