"""Work orders and crews in the database: the adapter between the domain and SQL.

The tables live on :data:`gis.db.metadata` (migration ``0002``). The log is append-only:
``order_events`` rows are only ever inserted (第二十九条); the few columns of
``work_orders`` and ``crews`` that change (status, crew, position) are a projection of
the logs, kept for the dispatcher's board and the map, and can be rebuilt from them.

:class:`SqlDispatchRepository` works on a connection the caller owns, inside the caller's
transaction, identically on SpatiaLite and PostGIS. Retries are harmless: a repair order
is unique per incident and a ticket per call (``INSERT ... ON CONFLICT DO NOTHING``, then
the existing row is returned), and an event with a client-supplied key is stored once.
Concurrent writers to one order are serialised by locking its row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite writers already hold the database's write lock).

:class:`MemoryDispatchRepository` keeps the same rules in dictionaries, for unit tests
and the benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import shapely
from geoalchemy2 import Geometry, WKTElement
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Select,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect

from dispatch.clocks import AreaClass
from dispatch.crews import Crew, CrewState, CrewStatus, Job
from dispatch.orders import EventType, OrderEvent, OrderHead, OrderStatus, OrderType, WorkOrder
from dispatch.routing import Route
from dispatch.service import CrewChange, DispatchContext, DispatchService, DuplicateKeyError
from gis.db import UTCDateTime, metadata
from gis.spatial_sql import INTERNAL_SRID, geometry_as_wkb
from outages.store import insert_rows, pg_arrays, unnest_insert

__all__ = [
    "HeldOrderConflictError",
    "MemoryDispatchRepository",
    "SqlDispatchRepository",
    "callback_attempts",
    "crew_events",
    "crew_positions",
    "crews",
    "dispatch_on",
    "order_calls",
    "order_events",
    "order_routes",
    "work_orders",
]


def _point() -> Geometry:
    return Geometry("POINT", srid=INTERNAL_SRID, spatial_index=True)


work_orders = Table(
    "work_orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("incident_id", Text, nullable=True, unique=True),
    Column("call_id", Text, nullable=True, unique=True),
    Column("unit_id", Text, nullable=True, index=True),
    Column("area_class", Text, nullable=True),
    Column("first_call_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("summary", Text, nullable=True),
    # projection of the log, for the board and the map
    Column("status", Text, nullable=False, index=True),
    Column("crew_id", Text, nullable=True, index=True),
    Column("department", Text, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("last_seq", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("geom", _point(), nullable=True),
)

order_events = Table(
    "order_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Text, ForeignKey("work_orders.order_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("crew_id", Text, nullable=True),
    Column("event_key", Text, nullable=True, unique=True),
    Column("data", JSON, nullable=True),
    UniqueConstraint("order_id", "seq", name="uq_order_events_order_seq"),
)

order_calls = Table(
    "order_calls",
    metadata,
    Column("order_id", Text, ForeignKey("work_orders.order_id"), nullable=False),
    Column("call_id", Text, nullable=False, index=True),
    Column("attached_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("order_id", "call_id"),
)

callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Text, ForeignKey("work_orders.order_id"), nullable=False, index=True),
    Column("event_id", Integer, ForeignKey("order_events.id"), nullable=False, unique=True),
    Column("at", UTCDateTime, nullable=False),
    Column("content", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("failure_reason", Text, nullable=True),
)

order_routes = Table(
    "order_routes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Text, ForeignKey("work_orders.order_id"), nullable=False, index=True),
    Column("crew_id", Text, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    Column("travel_s", Float, nullable=False),
    Column("metres", Float, nullable=False),
    Column("method", Text, nullable=False),
    Column("geom", Geometry("LINESTRING", srid=INTERNAL_SRID, spatial_index=True)),
)

crews = Table(
    "crews",
    metadata,
    Column("crew_id", Text, primary_key=True),
    Column("unit_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("head_count", Integer, nullable=True),
    Column("members", JSON, nullable=True),
    Column("base_lon", Float, nullable=True),
    Column("base_lat", Float, nullable=True),
    # projection of crew_events and crew_positions
    Column("status", Text, nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("position_at", UTCDateTime, nullable=True),
    Column("job_order_id", Text, nullable=True),
    Column("job_lon", Float, nullable=True),
    Column("job_lat", Float, nullable=True),
    Column("next_order_id", Text, nullable=True),
    Column("next_lon", Float, nullable=True),
    Column("next_lat", Float, nullable=True),
    Column("free_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=True),
    Column("geom", _point(), nullable=True),
)

crew_events = Table(
    "crew_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("crew_id", Text, ForeignKey("crews.crew_id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status", Text, nullable=False),
    Column("order_id", Text, nullable=True),
    Column("actor", Text, nullable=False),
    Column("note", Text, nullable=True),
)
Index("ix_crew_events_crew_at", crew_events.c.crew_id, crew_events.c.at)

crew_positions = Table(
    "crew_positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("crew_id", Text, ForeignKey("crews.crew_id"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("source", Text, nullable=True),
)
Index("ix_crew_positions_crew_at", crew_positions.c.crew_id, crew_positions.c.at)


# -- SQL ------------------------------------------------------------------------------------


def _insert_ignoring_conflicts(conn: Connection, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING``: one of the few dialect differences."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _point_wkt(lon: float | None, lat: float | None) -> WKTElement | None:
    if lon is None or lat is None:
        return None
    return WKTElement(f"POINT({float(lon)!r} {float(lat)!r})", srid=INTERNAL_SRID)


def _json_data(data: Mapping[str, Any]) -> dict[str, Any] | None:
    return dict(data) if data else None


def _loaded_json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return dict(value)


def _order_values(order: WorkOrder, at: datetime) -> dict[str, Any]:
    """The ``work_orders`` row of an order being opened."""
    state = order.state
    return {
        "order_id": order.order_id,
        "type": order.type.value,
        "incident_id": order.incident_id,
        "call_id": order.call_id,
        "unit_id": state.unit_id,
        "area_class": state.area_class.value if state.area_class else None,
        "first_call_at": order.first_call_at,
        "created_at": order.events[0].at if order.events else at,
        "lon": order.lon,
        "lat": order.lat,
        "summary": order.summary,
        "status": state.status.value,
        "crew_id": state.crew_id,
        "department": state.department,
        "closed_at": state.closed_at,
        "last_seq": len(order.events),
        "updated_at": at,
        "geom": _point_wkt(order.lon, order.lat),
    }


class SqlDispatchRepository:
    """The repository on a caller's connection and transaction (SpatiaLite or PostGIS)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- orders ----------------------------------------------------------------------------

    def add_order(self, order: WorkOrder, at: datetime) -> WorkOrder:
        return self._insert_order(order, at)[0]

    def _insert_order(self, order: WorkOrder, at: datetime) -> tuple[WorkOrder, bool]:
        """The order as stored, and whether it was inserted now (else it already existed)."""
        values = _order_values(order, at)
        # the row as parameters of one statement (compiled once), not as values of a new
        # statement each time: building a statement's parameters costs more than the insert
        inserted = self.conn.execute(
            _insert_ignoring_conflicts(self.conn, work_orders).returning(work_orders.c.order_id),
            values,
        ).first()
        if inserted is None:
            existing = self._existing(order)
            if existing is None:  # pragma: no cover - a conflict implies a row
                raise RuntimeError(f"order {order.order_id} conflicted but cannot be found")
            return existing, False
        return replace(order, events=self._insert_new_events(order, at)), True

    def _insert_new_events(self, order: WorkOrder, at: datetime) -> tuple[OrderEvent, ...]:
        """The events of an order inserted just now."""
        return tuple(self._insert_event(order.order_id, event, at) for event in order.events)

    def _existing(self, order: WorkOrder) -> WorkOrder | None:
        found = self.get_order(order.order_id)
        if found is None and order.incident_id is not None:
            found = self.order_for_incident(order.incident_id)
        if found is None and order.call_id is not None:
            found = self._one(work_orders.c.call_id == order.call_id)
        return found

    def get_order(self, order_id: str, *, lock: bool = False) -> WorkOrder | None:
        return self._one(work_orders.c.order_id == order_id, lock=lock)

    def order_for_incident(self, incident_id: str) -> WorkOrder | None:
        return self._one(work_orders.c.incident_id == incident_id)

    def order_head(self, order_id: str, *, lock: bool = False) -> OrderHead | None:
        c = work_orders.c
        query = select(
            c.order_id, c.type, c.first_call_at, c.status, c.last_seq, c.updated_at
        ).where(c.order_id == order_id)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            return None
        return OrderHead(
            row[0], OrderType(row[1]), row[2], OrderStatus(row[3]), int(row[4]), row[5]
        )

    def has_call(self, order_id: str, call_id: str) -> bool:
        return self.conn.execute(_order_calls(order_id, call_id).limit(1)).first() is not None

    def append_call(self, order_id: str, event: OrderEvent, at: datetime) -> OrderEvent:
        stored = self._insert_event(order_id, event, at)
        self.conn.execute(
            update(work_orders)
            .where(work_orders.c.order_id == order_id)
            .values(last_seq=stored.seq, updated_at=at)
        )
        return stored

    def order_for_call(self, call_id: str) -> WorkOrder | None:
        found = self._one(work_orders.c.call_id == call_id)
        if found is not None:
            return found
        order_id = self.conn.execute(
            select(order_calls.c.order_id).where(order_calls.c.call_id == call_id).limit(1)
        ).scalar()
        return self.get_order(str(order_id)) if order_id is not None else None

    def _one(self, condition: Any, *, lock: bool = False) -> WorkOrder | None:
        query = select(work_orders).where(condition)
        if lock:
            query = query.with_for_update()
        found = self._load(query)
        return found[0] if found else None

    def open_orders(
        self, *, unit_id: str | None = None, types: Sequence[OrderType] | None = None
    ) -> list[WorkOrder]:
        conditions: list[ColumnElement[bool]] = [work_orders.c.closed_at.is_(None)]
        if unit_id is not None:
            conditions.append(work_orders.c.unit_id == unit_id)
        if types is not None:
            conditions.append(work_orders.c.type.in_([t.value for t in types]))
        query = (
            select(work_orders)
            .where(and_(*conditions))
            .order_by(work_orders.c.first_call_at, work_orders.c.order_id)
        )
        return self._load(query)

    def _load(self, query: Select[Any]) -> list[WorkOrder]:
        rows = self.conn.execute(query).mappings().all()
        if not rows:
            return []
        ids = [r["order_id"] for r in rows]
        events: dict[str, list[OrderEvent]] = {i: [] for i in ids}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            for e in self.conn.execute(
                select(order_events)
                .where(order_events.c.order_id.in_(chunk))
                .order_by(order_events.c.order_id, order_events.c.seq)
            ).mappings():
                events[e["order_id"]].append(
                    OrderEvent(
                        type=EventType(e["type"]),
                        at=e["at"],
                        by=e["actor"],
                        crew_id=e["crew_id"],
                        data=_loaded_json(e["data"]),
                        key=e["event_key"],
                        seq=e["seq"],
                        recorded_at=e["recorded_at"],
                    )
                )
        return [
            WorkOrder(
                order_id=r["order_id"],
                type=OrderType(r["type"]),
                first_call_at=r["first_call_at"],
                unit_id=_opened_with(events[r["order_id"]], "unit_id", r["unit_id"]),
                area_class=_area(
                    _opened_with(events[r["order_id"]], "area_class", r["area_class"])
                ),
                incident_id=r["incident_id"],
                call_id=r["call_id"],
                lon=r["lon"],
                lat=r["lat"],
                summary=r["summary"],
                events=tuple(events[r["order_id"]]),
            )
            for r in rows
        ]

    def append_event(self, order: WorkOrder, at: datetime) -> OrderEvent:
        event = order.events[-1]
        stored = self._insert_event(order.order_id, event, at)
        state = order.state
        self.conn.execute(
            update(work_orders)
            .where(work_orders.c.order_id == order.order_id)
            .values(
                status=state.status.value,
                crew_id=state.crew_id,
                unit_id=state.unit_id,
                area_class=state.area_class.value if state.area_class else None,
                department=state.department,
                closed_at=state.closed_at,
                last_seq=stored.seq,
                updated_at=at,
            )
        )
        return stored

    def _insert_event(self, order_id: str, event: OrderEvent, at: datetime) -> OrderEvent:
        if event.key is not None:
            owner = self.conn.execute(
                select(order_events.c.order_id).where(order_events.c.event_key == event.key)
            ).scalar()
            if owner is not None:
                raise DuplicateKeyError(f"event key {event.key!r} is already used by {owner}")
        result = self.conn.execute(
            insert(order_events).values(
                order_id=order_id,
                seq=event.seq,
                type=event.type.value,
                at=event.at,
                recorded_at=at,
                actor=event.by,
                crew_id=event.crew_id,
                event_key=event.key,
                data=_json_data(event.data),
            )
        )
        event_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
        if event.type is EventType.CALLBACK:
            self.conn.execute(
                insert(callback_attempts).values(
                    order_id=order_id,
                    event_id=event_id,
                    at=event.at,
                    content=str(event.data.get("content") or ""),
                    outcome=str(event.data.get("outcome")),
                    failure_reason=event.data.get("failure_reason"),
                )
            )
        elif event.type is EventType.CALL_ATTACHED:
            self.conn.execute(
                _insert_ignoring_conflicts(self.conn, order_calls).values(
                    order_id=order_id,
                    call_id=str(event.data["call_id"]),
                    attached_at=event.at,
                )
            )
        elif event.type is EventType.CALL_DETACHED:
            self.conn.execute(
                delete(order_calls).where(
                    order_calls.c.order_id == order_id,
                    order_calls.c.call_id == str(event.data["call_id"]),
                )
            )
        return replace(event, recorded_at=at)

    # -- crews -----------------------------------------------------------------------------

    def crews(self) -> list[CrewState]:
        rows = self.conn.execute(select(crews).order_by(crews.c.crew_id)).mappings().all()
        return [_crew_from_row(r) for r in rows]

    def get_crew(self, crew_id: str, *, lock: bool = False) -> CrewState | None:
        query = select(crews).where(crews.c.crew_id == crew_id)
        if lock:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return _crew_from_row(row) if row is not None else None

    def save_crew(self, state: CrewState, change: CrewChange | None = None) -> None:
        values = _crew_values(state)
        updated = self.conn.execute(
            update(crews).where(crews.c.crew_id == state.crew_id).values(**values)
        )
        if updated.rowcount == 0:
            self.conn.execute(insert(crews).values(crew_id=state.crew_id, **values))
        if change is not None:
            self.conn.execute(
                insert(crew_events).values(
                    crew_id=state.crew_id,
                    at=change.at,
                    status=state.status.value,
                    order_id=change.order_id,
                    actor=change.actor,
                    note=change.note,
                )
            )

    def add_position(
        self, crew_id: str, lon: float, lat: float, at: datetime, source: str | None
    ) -> None:
        self.conn.execute(
            insert(crew_positions).values(crew_id=crew_id, at=at, lon=lon, lat=lat, source=source)
        )

    # -- routes ----------------------------------------------------------------------------

    def add_route(self, order_id: str, route: Route, at: datetime) -> None:
        self.conn.execute(
            insert(order_routes).values(
                order_id=order_id,
                crew_id=route.crew_id,
                computed_at=at,
                travel_s=route.travel_s,
                metres=route.metres,
                method=route.method,
                geom=WKTElement(route.wkt, srid=INTERNAL_SRID),
            )
        )

    def latest_route(self, order_id: str) -> Route | None:
        wkb = geometry_as_wkb(self.conn, "geom")
        row = self.conn.execute(
            text(
                f"SELECT crew_id, travel_s, metres, method, {wkb} FROM order_routes "
                "WHERE order_id = :order_id ORDER BY id DESC LIMIT 1"
            ),
            {"order_id": order_id},
        ).first()
        if row is None:
            return None
        line = shapely.from_wkb(bytes(row[4]))
        coords = tuple((float(x), float(y)) for x, y in shapely.get_coordinates(line))
        return Route(str(row[0]), float(row[1]), float(row[2]), row[3], coords)


def _opened_with(events: Sequence[OrderEvent], key: str, current: Any) -> Any:
    """A header value as the order was opened (the row holds the current one)."""
    if events and events[0].type is EventType.CREATED and key in events[0].data:
        return events[0].data[key]
    return current


def _area(value: Any) -> AreaClass | None:
    return AreaClass(str(value)) if value else None


def _crew_values(state: CrewState) -> dict[str, Any]:
    crew = state.crew
    job, nxt = state.job, state.next_job
    return {
        "unit_id": crew.unit_id,
        "name": crew.name,
        "head_count": crew.head_count,
        "members": list(crew.members) if crew.members else None,
        "base_lon": crew.base_lon,
        "base_lat": crew.base_lat,
        "status": state.status.value,
        "lon": state.lon,
        "lat": state.lat,
        "position_at": state.position_at,
        "job_order_id": job.order_id if job else None,
        "job_lon": job.lon if job else None,
        "job_lat": job.lat if job else None,
        "next_order_id": nxt.order_id if nxt else None,
        "next_lon": nxt.lon if nxt else None,
        "next_lat": nxt.lat if nxt else None,
        "free_at": state.free_at,
        "updated_at": state.updated_at,
        "geom": _point_wkt(state.lon, state.lat),
    }


def _crew_from_row(r: RowMapping) -> CrewState:
    members = r["members"]
    if isinstance(members, str):
        members = json.loads(members)
    crew = Crew(
        crew_id=r["crew_id"],
        unit_id=r["unit_id"],
        name=r["name"],
        head_count=r["head_count"],
        members=tuple(str(m) for m in members or ()),
        base_lon=r["base_lon"],
        base_lat=r["base_lat"],
    )
    job = Job(r["job_order_id"], r["job_lon"], r["job_lat"]) if r["job_order_id"] else None
    nxt = Job(r["next_order_id"], r["next_lon"], r["next_lat"]) if r["next_order_id"] else None
    return CrewState(
        crew=crew,
        status=CrewStatus(r["status"]),
        lon=r["lon"],
        lat=r["lat"],
        position_at=r["position_at"],
        job=job,
        next_job=nxt,
        free_at=r["free_at"],
        updated_at=r["updated_at"],
    )


# -- memory ---------------------------------------------------------------------------------


class MemoryDispatchRepository:
    """The same repository in dictionaries: the uniqueness rules, none of the SQL."""

    def __init__(self) -> None:
        self.orders: dict[str, WorkOrder] = {}
        self.crew_states: dict[str, CrewState] = {}
        self.crew_history: list[tuple[str, CrewStatus, CrewChange]] = []
        self.positions: list[tuple[str, float, float, datetime, str | None]] = []
        self.routes: dict[str, list[Route]] = {}
        self._keys: dict[str, str] = {}

    def add_order(self, order: WorkOrder, at: datetime) -> WorkOrder:
        for existing in self.orders.values():
            if (
                existing.order_id == order.order_id
                or (order.incident_id is not None and existing.incident_id == order.incident_id)
                or (order.call_id is not None and existing.call_id == order.call_id)
            ):
                return existing
        for event in order.events:
            self._claim(order.order_id, event)
        stored = replace(order, events=tuple(replace(e, recorded_at=at) for e in order.events))
        self.orders[order.order_id] = stored
        return stored

    def _claim(self, order_id: str, event: OrderEvent) -> None:
        if event.key is None:
            return
        owner = self._keys.get(event.key)
        if owner is not None:
            raise DuplicateKeyError(f"event key {event.key!r} is already used by {owner}")
        self._keys[event.key] = order_id

    def get_order(self, order_id: str, *, lock: bool = False) -> WorkOrder | None:
        return self.orders.get(order_id)

    def order_for_incident(self, incident_id: str) -> WorkOrder | None:
        return next((o for o in self.orders.values() if o.incident_id == incident_id), None)

    def order_head(self, order_id: str, *, lock: bool = False) -> OrderHead | None:
        order = self.orders.get(order_id)
        if order is None:
            return None
        return OrderHead(
            order.order_id,
            order.type,
            order.first_call_at,
            order.status,
            len(order.events),
            max((e.at for e in order.events), default=None),
        )

    def has_call(self, order_id: str, call_id: str) -> bool:
        order = self.orders.get(order_id)
        return order is not None and call_id in order.state.call_ids

    def append_call(self, order_id: str, event: OrderEvent, at: datetime) -> OrderEvent:
        order = self.orders[order_id]
        return self.append_event(order.record(event), at)

    def order_for_call(self, call_id: str) -> WorkOrder | None:
        for order in self.orders.values():
            if order.call_id == call_id:
                return order
        for order in self.orders.values():
            if call_id in order.state.call_ids:
                return order
        return None

    def append_event(self, order: WorkOrder, at: datetime) -> OrderEvent:
        event = replace(order.events[-1], recorded_at=at)
        self._claim(order.order_id, event)
        self.orders[order.order_id] = replace(order, events=(*order.events[:-1], event))
        return event

    def open_orders(
        self, *, unit_id: str | None = None, types: Sequence[OrderType] | None = None
    ) -> list[WorkOrder]:
        found = [
            o
            for o in self.orders.values()
            if o.is_open
            and (unit_id is None or o.current_unit_id == unit_id)
            and (types is None or o.type in types)
        ]
        return sorted(found, key=lambda o: (o.first_call_at, o.order_id))

    def crews(self) -> list[CrewState]:
        return [self.crew_states[k] for k in sorted(self.crew_states)]

    def get_crew(self, crew_id: str, *, lock: bool = False) -> CrewState | None:
        return self.crew_states.get(crew_id)

    def save_crew(self, state: CrewState, change: CrewChange | None = None) -> None:
        self.crew_states[state.crew_id] = state
        if change is not None:
            self.crew_history.append((state.crew_id, state.status, change))

    def add_position(
        self, crew_id: str, lon: float, lat: float, at: datetime, source: str | None
    ) -> None:
        self.positions.append((crew_id, lon, lat, at, source))

    def add_route(self, order_id: str, route: Route, at: datetime) -> None:
        self.routes.setdefault(order_id, []).append(route)

    def latest_route(self, order_id: str) -> Route | None:
        routes = self.routes.get(order_id)
        return routes[-1] if routes else None


def dispatch_on(conn: Connection, context: DispatchContext | None = None) -> DispatchService:
    """The dispatch use cases inside the caller's transaction on ``conn``."""
    return DispatchService(SqlDispatchRepository(conn), context)


class BufferedDispatchRepository(SqlDispatchRepository):
    """A SQL repository that holds the events it can write later until :meth:`flush`.

    A storm replay attaches thousands of repeat calls to a few orders; each attachment is
    an event row, an ``order_calls`` row and a head update. Held and written with
    ``executemany`` once per transaction they cost a fraction of one statement each. The
    events of an order opened here are held the same way (its row is written at once: its
    uniqueness decides whether it is new). Held events need no reading back: the order's
    head and calls are cached from what was written. A read that could see an order or a
    call with held events, and every write to such an order's log, writes them first, so
    reads always see them; reads of other orders do not wait for a flush (on PostgreSQL a
    flush is a round trip per statement). The caller flushes before its transaction
    commits, and before a savepoint that may roll back.

    With ``hold_orders`` (PostgreSQL) a new order's row is held as well and written by the
    flush, all of them in one statement, instead of one round trip each to learn whether it
    is new. An order is only opened by the intake under its lock, for an incident or a call
    it has not seen, so it is new unless the database holds what the intake does not know
    of; then the flush raises :class:`HeldOrderConflictError`, the transaction rolls back, and
    the caller runs it again without holding orders (each insert then reports the stored
    order, as ever). A read that could see a held order writes it first.
    """

    def __init__(self, conn: Connection, *, hold_orders: bool = False) -> None:
        super().__init__(conn)
        self._hold_orders = hold_orders and conn.dialect.name == "postgresql"
        self._new_orders: dict[str, dict[str, Any]] = {}  # order id -> its row
        self._new_keys: set[str] = set()  # their incident and call ids, prefixed
        self._heads: dict[str, OrderHead] = {}
        self._calls: dict[str, set[str]] = {}
        self._probed: set[str] = set()  # orders asked has_call once (see there)
        self._held: list[tuple[str, OrderEvent, datetime]] = []
        self._held_orders: set[str] = set()
        self._held_calls: dict[str, set[str]] = {}  # call id -> orders it is held for

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A savepoint that takes what this repository holds with it: the rows held inside it
        are written before it is released, and forgotten with it when it rolls back, with
        the cached heads and calls that counted them (a merge refused half-way must leave
        neither order changed)."""
        self.flush()
        heads = dict(self._heads)
        calls = {k: set(v) for k, v in self._calls.items()}
        try:
            with self.conn.begin_nested():
                yield
                self.flush()
        except BaseException:
            self._new_orders, self._new_keys = {}, set()
            self._held, self._held_orders, self._held_calls = [], set(), {}
            self._heads, self._calls = heads, calls
            raise

    def flush(self) -> None:
        """Writes the held events. The cached heads stay right: they already counted them;
        whatever else writes an order's log forgets that order's head (:meth:`_forget`)."""
        if self._new_orders:
            new, self._new_orders = list(self._new_orders.values()), {}
            self._new_keys = set()
            _write_new_orders_pg(self.conn, new)
        if not self._held:
            return
        held, self._held = self._held, []
        self._held_orders = set()
        self._held_calls = {}
        events = [
            {
                "order_id": oid,
                "seq": e.seq,
                "type": e.type.value,
                "at": e.at,
                "recorded_at": at,
                "actor": e.by,
                "crew_id": e.crew_id,
                "event_key": e.key,
                "data": _json_data(e.data),
            }
            for oid, e, at in held
        ]
        # each call's last word on each order decides its attachment row
        moves = {
            (oid, str(e.data["call_id"])): e
            for oid, e, _at in held
            if e.type in (EventType.CALL_ATTACHED, EventType.CALL_DETACHED)
        }
        attached = [
            {"order_id": oid, "call_id": cid, "attached_at": e.at}
            for (oid, cid), e in moves.items()
            if e.type is EventType.CALL_ATTACHED
        ]
        detached = [
            {"oid": oid, "cid": cid}
            for (oid, cid), e in moves.items()
            if e.type is EventType.CALL_DETACHED
        ]
        last = {oid: {"oid": oid, "seq": int(e.seq or 0), "at": at} for oid, e, at in held}
        if self.conn.dialect.name == "postgresql":
            _write_held_pg(self.conn, events, attached, detached, list(last.values()))
            return
        insert_rows(self.conn, order_events, events)
        if attached:
            insert_rows(self.conn, order_calls, attached, ignore_conflicts=True)
        if detached:
            self.conn.execute(
                delete(order_calls).where(
                    order_calls.c.order_id == bindparam("oid"),
                    order_calls.c.call_id == bindparam("cid"),
                ),
                detached,
            )
        self.conn.execute(
            update(work_orders)
            .where(work_orders.c.order_id == bindparam("oid"))
            .values(last_seq=bindparam("seq"), updated_at=bindparam("at")),
            list(last.values()),
        )

    def _hold(self, order_id: str, event: OrderEvent, at: datetime) -> OrderEvent:
        self._held.append((order_id, event, at))
        self._held_orders.add(order_id)
        if event.type is EventType.CALL_ATTACHED:
            self._held_calls.setdefault(str(event.data["call_id"]), set()).add(order_id)
        elif event.type is EventType.CALL_DETACHED:
            # kept as a key: a read of the call's order writes the held events first
            self._held_calls.setdefault(str(event.data["call_id"]), set()).discard(order_id)
        return replace(event, recorded_at=at)

    def _flush_for(self, order_id: str) -> None:
        if order_id in self._held_orders:
            self.flush()

    def _forget(self, order_id: str) -> None:
        self._heads.pop(order_id, None)
        self._calls.pop(order_id, None)

    def order_head(self, order_id: str, *, lock: bool = False) -> OrderHead | None:
        head = self._heads.get(order_id)
        if head is None:
            self._flush_for(order_id)
            head = super().order_head(order_id, lock=lock)
            if head is not None:
                self._heads[order_id] = head
        return head

    def has_call(self, order_id: str, call_id: str) -> bool:
        calls = self._calls.get(order_id)
        if calls is not None:
            return call_id in calls
        # the calls held for it are asked here, the stored ones of the database: no flush
        if order_id in self._held_calls.get(call_id, ()):
            return True
        if order_id not in self._probed:
            # the first question about this order here (the live intake's only one, a call
            # per transaction): an indexed lookup, not the order's every call
            self._probed.add(order_id)
            return super().has_call(order_id, call_id)
        # asked again (a replay's batch): all its calls, known here from now on
        return call_id in self._known_calls(order_id)

    def append_call(self, order_id: str, event: OrderEvent, at: datetime) -> OrderEvent:
        if event.key is not None:  # a client key must be checked now: write through
            self.flush()
            self._forget(order_id)
            return super().append_call(order_id, event, at)
        detached = event.type is EventType.CALL_DETACHED
        if detached:
            # a split moves hundreds of calls at once: held like attachments, against the
            # order's calls read once (written through, each one re-read them all)
            self._known_calls(order_id)
        stored = self._hold(order_id, event, at)
        head = self._heads.get(order_id)
        if head is not None:
            self._heads[order_id] = replace(
                head,
                last_seq=int(event.seq or head.last_seq),
                last_at=max(event.at, head.last_at) if head.last_at else event.at,
            )
        known = self._calls.get(order_id)
        if detached and known is not None:
            known.discard(str(event.data["call_id"]))
        elif known is not None:  # else not read yet: the next has_call reads it, this call too
            known.add(str(event.data["call_id"]))
        return stored

    def _known_calls(self, order_id: str) -> set[str]:
        """The order's calls, stored and held, cached from now on."""
        calls = self._calls.get(order_id)
        if calls is None:
            calls = {str(r[0]) for r in self.conn.execute(_order_calls(order_id))}
            calls |= {c for c, orders in self._held_calls.items() if order_id in orders}
            self._calls[order_id] = calls
        return calls

    def add_order(self, order: WorkOrder, at: datetime) -> WorkOrder:
        keys = _order_keys(order)
        if self._new_orders and (order.order_id in self._new_orders or keys & self._new_keys):
            self.flush()  # it may be one held here: the insert below then finds it
        elif self._hold_orders and not any(
            e.key is not None or e.type is EventType.CALLBACK for e in order.events
        ):
            self._new_orders[order.order_id] = _order_values(order, at)
            self._new_keys |= keys
            stored = replace(
                order, events=tuple(self._hold(order.order_id, e, at) for e in order.events)
            )
            self._cache_new(order, stored, at)
            return stored
        stored, inserted = self._insert_order(order, at)
        if inserted:
            self._cache_new(order, stored, at)
        return stored

    def _cache_new(self, order: WorkOrder, stored: WorkOrder, at: datetime) -> None:
        """A new order's head and calls, known without reading (written or held just now;
        a written one is locked by its insert, a held one cannot be seen by others)."""
        self._heads[order.order_id] = OrderHead(
            order.order_id,
            order.type,
            order.first_call_at,
            stored.status,
            len(stored.events),
            at,
        )
        self._calls[order.order_id] = set(stored.state.call_ids)

    def _insert_new_events(self, order: WorkOrder, at: datetime) -> tuple[OrderEvent, ...]:
        # a client key is checked now, and a callback's row needs its event's id: those
        # are written through (a new order's events have neither, as a rule)
        if any(e.key is not None or e.type is EventType.CALLBACK for e in order.events):
            return super()._insert_new_events(order, at)
        return tuple(self._hold(order.order_id, e, at) for e in order.events)

    def _load(self, query: Select[Any]) -> list[WorkOrder]:
        found = super()._load(query)
        if self._held_orders and any(o.order_id in self._held_orders for o in found):
            self.flush()  # read again with its held events
            found = super()._load(query)
        return found

    def order_for_call(self, call_id: str) -> WorkOrder | None:
        if call_id in self._held_calls or f"call:{call_id}" in self._new_keys:
            self.flush()
        return super().order_for_call(call_id)

    def get_order(self, order_id: str, *, lock: bool = False) -> WorkOrder | None:
        if order_id in self._new_orders:
            self.flush()
        return super().get_order(order_id, lock=lock)

    def order_for_incident(self, incident_id: str) -> WorkOrder | None:
        if f"incident:{incident_id}" in self._new_keys:
            self.flush()
        return super().order_for_incident(incident_id)

    def open_orders(
        self, *, unit_id: str | None = None, types: Sequence[OrderType] | None = None
    ) -> list[WorkOrder]:
        self.flush()
        return super().open_orders(unit_id=unit_id, types=types)

    def append_event(self, order: WorkOrder, at: datetime) -> OrderEvent:
        self._flush_for(order.order_id)
        self._forget(order.order_id)
        return super().append_event(order, at)


class HeldOrderConflictError(RuntimeError):
    """A held order was not new after all: the transaction must run again without holding."""


def _order_calls(order_id: str, call_id: str | None = None) -> CompoundSelect[tuple[str]]:
    """The calls of an order (or that one call, if it is one of them): the attached ones and
    a ticket's own call (part of it without an attachment row), in one statement."""
    attached = select(order_calls.c.call_id).where(order_calls.c.order_id == order_id)
    own = select(work_orders.c.call_id).where(
        work_orders.c.order_id == order_id, work_orders.c.call_id.is_not(None)
    )
    if call_id is not None:
        attached = attached.where(order_calls.c.call_id == call_id)
        own = own.where(work_orders.c.call_id == call_id)
    return union_all(attached, own)


def _order_keys(order: WorkOrder) -> set[str]:
    keys = set()
    if order.incident_id is not None:
        keys.add(f"incident:{order.incident_id}")
    if order.call_id is not None:
        keys.add(f"call:{order.call_id}")
    return keys


def _write_new_orders_pg(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The held new orders in one statement; :class:`HeldOrderConflictError` if any existed."""
    arrays = pg_arrays(
        conn, work_orders, [{k: v for k, v in r.items() if k != "geom"} for r in rows]
    )
    if arrays is None:  # pragma: no cover - the rows are of the columns' types
        raise HeldOrderConflictError("held orders cannot be written as arrays")
    arrays["geom"] = (
        "text",
        [
            f"SRID={r['geom'].srid};{r['geom'].data}" if r["geom"] is not None else None
            for r in rows
        ],
    )
    written = unnest_insert(
        conn, work_orders, arrays, " ON CONFLICT DO NOTHING RETURNING order_id", geometry="geom"
    ).all()
    if len(written) != len(rows):
        raise HeldOrderConflictError(
            f"{len(rows) - len(written)} of {len(rows)} held orders were already stored"
        )


# On PostgreSQL an executemany is still one statement per row on the wire (psycopg's
# pipeline): the held rows go as one array per column instead, three statements a flush,
# the arrays in binary (see outages.store.insert_rows).
_PG_DETACH = (
    "DELETE FROM order_calls USING unnest(CAST(%(oid)b AS text[]), CAST(%(cid)b AS text[])) "
    "AS d(order_id, call_id) "
    "WHERE order_calls.order_id = d.order_id AND order_calls.call_id = d.call_id"
)
_PG_HEADS = (
    "UPDATE work_orders SET last_seq = u.seq, updated_at = u.at "
    "FROM unnest(CAST(%(oid)b AS text[]), CAST(%(seq)b AS integer[]), "
    "CAST(%(at)b AS timestamptz[])) AS u(order_id, seq, at) "
    "WHERE work_orders.order_id = u.order_id"
)


def _write_held_pg(
    conn: Connection,
    events: list[dict[str, Any]],
    attached: list[dict[str, Any]],
    detached: list[dict[str, Any]],
    heads: list[dict[str, Any]],
) -> None:
    insert_rows(conn, order_events, events)
    if attached:
        insert_rows(conn, order_calls, attached, ignore_conflicts=True)
    if detached:
        conn.exec_driver_sql(
            _PG_DETACH,
            {"oid": [d["oid"] for d in detached], "cid": [d["cid"] for d in detached]},
        )
    instant = UTCDateTime()
    conn.exec_driver_sql(
        _PG_HEADS,
        {
            "oid": [h["oid"] for h in heads],
            "seq": [int(h["seq"]) for h in heads],
            # what the column type does to a bound instant (aware, in UTC)
            "at": [instant.process_bind_param(h["at"], conn.dialect) for h in heads],
        },
    )
