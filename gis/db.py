"""The spatial database engine: SQLite + SpatiaLite embedded, or PostgreSQL + PostGIS.

Both go through SQLAlchemy 2 and GeoAlchemy2; the few statements that differ between the
two live in :mod:`gis.spatial_sql`, one function per difference. Tables of every package are
declared on the one :data:`metadata` here, so that Alembic sees the whole schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Table,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.orm import Session, sessionmaker

import gis  # noqa: F401  (imports pyproj/pyogrio before any SpatiaLite connection)

DEFAULT_SQLITE_PATH = "gridcall.db"

# Stable constraint names let Alembic migrations name what they alter.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant on both databases: stored in UTC, returned aware.

    SQLite has no time zones: SQLAlchemy stores the naive text and returns a naive value,
    so instants are normalised to UTC on the way in and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: a timezone is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def default_url() -> str:
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def normalise_url(url: str | None) -> str:
    """Accepts the forms users type: a bare path means a SpatiaLite file."""
    if not url:
        return default_url()
    if "://" not in url:
        return f"sqlite:///{url}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _init_spatialite(dbapi_conn: Any, _record: Any) -> None:
    from geoalchemy2.admin.dialects.sqlite import load_spatialite

    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    # WAL lets the web app read while an import or a replay writes; NORMAL sync is durable
    # across application crashes, which is the promise made to agents.
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    dbapi_conn.execute("PRAGMA busy_timeout=30000")
    load_spatialite(dbapi_conn, init_mode="WGS84")  # type: ignore[no-untyped-call]


def _sqlite_begin(conn: Any) -> None:
    # A writer opened with ``write_connection`` takes the write lock at BEGIN, so two processes
    # never both read a state and then both write from it (the SQLite side of "no duplicate
    # incidents under concurrency"); readers begin deferred and never wait for writers (WAL).
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


class EncodedJSON(str):
    """JSON text encoded already (a large value put together from parts encoded once): a
    JSON column takes it as it is instead of encoding it again as a string."""


def json_text(value: Any) -> str:
    """How a JSON column's value is encoded (``json.dumps``; :class:`EncodedJSON` as is)."""
    return value if isinstance(value, EncodedJSON) else json.dumps(value)


def sqlite_insert_many(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> bool:
    """Inserts ``rows`` on SQLite through the driver's ``executemany``, each column's values
    bound by its type's own processor a column at a time: what ``conn.execute(table.insert(),
    rows)`` stores, without SQLAlchemy building every row's parameters (most of the time a
    replay spent writing a batch). ``ignore_conflicts``: ``ON CONFLICT DO NOTHING``.

    Returns False, having written nothing, where the rows would not be stored the same:
    another dialect, rows of different keys or a key the table has not, a column bound by
    an SQL expression (a geometry), or one left out whose default Python computes."""
    if conn.dialect.name != "sqlite":
        return False
    if not rows:
        return True
    names = list(rows[0])
    keys = set(names)
    if not keys <= set(table.c.keys()) or any(r.keys() != keys for r in rows):
        return False
    columns = [table.c[n] for n in names]
    if any(getattr(c.type, "_has_bind_expression", True) for c in columns) or any(
        c.default is not None for c in table.c if c.key not in keys
    ):
        return False
    dialect = conn.dialect
    values = []
    for name, column in zip(names, columns, strict=True):
        bind = column.type.dialect_impl(dialect).bind_processor(dialect)
        values.append([bind(r[name]) for r in rows] if bind else [r[name] for r in rows])
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
    )
    conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
    return True


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"isolation_level": None}, json_serializer=json_text
        )
        event.listen(engine, "connect", _init_spatialite)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, echo=echo, pool_pre_ping=True, json_serializer=json_text)
    raise ValueError(
        f"unsupported database URL {url!r}: use a SQLite path or postgresql+psycopg://"
    )


def json_value(value: Any) -> Any:
    """A JSON column's value (a string of JSON when a driver leaves it undecoded)."""
    return json.loads(value) if isinstance(value, str) else value


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One writing transaction, committed on success, rolled back on any error.

    On SQLite it begins IMMEDIATE (takes the write lock first); on PostgreSQL callers that
    must serialise take row locks inside it (``SELECT ... FOR UPDATE``).
    """
    with engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        yield conn
