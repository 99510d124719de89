"""The database engine's own helpers, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gis.db import sqlite_insert_many, write_transaction
from outages.store import calls

pytestmark = pytest.mark.db


def _call(call_id: str, minutes: int, **kw: Any) -> dict[str, Any]:
    at = datetime(2026, 7, 15, 20, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return {
        "call_id": call_id,
        "received_at": at,
        "caller_name": "张三",
        "lon": 113.5 + minutes / 1000,
        "lat": None,
        "status": "new",
        "location": kw.get("location"),
        "answer": {"status": "new", "reason": "停电 at 10 kV"},
        "created_at": datetime(2026, 7, 15, 12, 0, tzinfo=UTC),
    }


def test_rows_inserted_through_the_driver_are_stored_as_sqlalchemy_stores_them(
    engine: Any,
) -> None:
    """The SQLite batch insert binds each column as its type does: dates in UTC, JSON
    encoded (a missing location as JSON null), floats and NULLs as they are. Elsewhere, or
    for a table whose column is bound by an SQL expression, it declines and writes
    nothing."""
    located = {"method": "account", "lon": 113.5, "candidates": [{"likelihood": 0.5}]}
    fast = [_call("A1", 0, location=located), _call("A2", 7)]
    slow = [_call("B1", 0, location=located), _call("B2", 7)]
    sqlite = engine.dialect.name == "sqlite"
    with write_transaction(engine) as conn:
        assert sqlite_insert_many(conn, calls, fast) is sqlite
        conn.execute(calls.insert(), slow)
        # a second time, conflicts ignored: nothing more, no error
        assert sqlite_insert_many(conn, calls, fast, ignore_conflicts=True) is sqlite
        from dispatch.store import work_orders

        # a geometry is bound by an SQL function, not by a processor: left to SQLAlchemy
        point = {"order_id": "W1", "geom": "SRID=4326;POINT(113.5 34.8)"}
        assert sqlite_insert_many(conn, work_orders, [point]) is False
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(calls)).scalar_one()
        rows = {
            r[0]: r[1:]
            for r in conn.exec_driver_sql(
                "SELECT call_id, received_at, caller_name, lon, lat, location, answer, "
                "created_at FROM calls"
            )
        }
    if not sqlite:
        assert count == 2
        return
    assert count == 4
    assert rows["A1"] == rows["B1"] and rows["A2"] == rows["B2"]
    assert rows["A2"][4] == "null"  # as SQLAlchemy's JSON type binds None
    assert rows["A1"][0] == "2026-07-15 20:00:00.000000"
