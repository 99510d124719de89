"""Calls, incidents and planned outages in the database (the adapter for the intake).

Nothing is deleted (article 29): a call keeps the answer it was given; an incident that is
merged into another keeps its row with ``merged_into`` set; every decision about an
incident is an ``incident_events`` row. ``intake_state`` holds one version counter: the
intake of every process locks it for the length of one call's transaction, and reloads the
open incidents when another process has moved it on. That lock, taken in the database, is
what keeps two agents answering calls of one fault in two processes from opening two
incidents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    CursorResult,
    Executable,
    Float,
    Index,
    Integer,
    Table,
    Text,
    bindparam,
    select,
    text,
    update,
)

from gis.db import (
    EncodedJSON,
    UTCDateTime,
    json_text,
    json_value,
    metadata,
    sqlite_insert_many,
)
from outages.grouping import CONFIRMED, Incident, Member, Observation

calls = Table(
    "calls",
    metadata,
    Column("call_id", Text, primary_key=True),
    Column("received_at", UTCDateTime, nullable=True),
    Column("source", Text),
    Column("category", Text),
    Column("caller_phone", Text),
    Column("caller_name", Text),
    Column("account_no", Text),
    Column("pole_no", Text),
    Column("address", Text),
    Column("lon", Float),
    Column("lat", Float),
    Column("coord_sys", Text),
    Column("symptom", Text),
    Column("description", Text),
    Column("status", Text, nullable=False),
    Column("incident_id", Text),
    Column("work_order_id", Text),
    Column("unit_id", Text),
    Column("feeder", Text),
    Column("location", JSON),
    Column("answer", JSON, nullable=False),
    Column("idempotency_key", Text, unique=True),
    Column("taken_by", Text),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_calls_received_at", calls.c.received_at)
Index("ix_calls_incident_id", calls.c.incident_id)
Index("ix_calls_account_no", calls.c.account_no)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("device_id", Text),
    Column("feeder", Text),
    Column("state", Text, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("onset_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("restored_at", UTCDateTime),
    Column("merged_into", Text),
    Column("unit_id", Text),
    Column("area_class", Text),
    Column("work_order_id", Text),
    Column("affected_customers", Integer),
    Column("call_count", Integer, nullable=False),
    Column("lon", Float),
    Column("lat", Float),
    Column("members", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
)
Index("ix_incidents_state", incidents.c.state)
Index("ix_incidents_device_id", incidents.c.device_id)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", Text, nullable=False),
    Column("actor", Text),
    Column("details", JSON),
)
Index("ix_incident_events_incident_id", incident_events.c.incident_id)

intake_state = Table(
    "intake_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("incident_seq", Integer, nullable=False),
)

planned_outages = Table(
    "planned_outages",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("switch_ids", JSON, nullable=False),
    Column("start", UTCDateTime, nullable=False),
    Column("end", UTCDateTime, nullable=False),
    Column("reason", Text),
    Column("late_reason", Text),
    Column("published_at", UTCDateTime, nullable=False),
    Column("published_by", Text),
    Column("cancelled_at", UTCDateTime),
    Column("affected_transformers", JSON, nullable=False),
    Column("affected_service_points", Integer, nullable=False),
    Column("areas", JSON, nullable=False),
    Column("area_geojson", JSON),
)
Index("ix_planned_outages_start", planned_outages.c.start)


# -- (de)serialising the grouping engine's incidents --------------------------------------


def member_json(m: Member) -> dict[str, Any]:
    o = m.observation
    return {
        "call_id": o.call_id,
        "at": o.at.isoformat(),
        "transformer": m.transformer,
        "likelihood": m.likelihood,
        "candidates": [list(c) for c in o.candidates],
        "customer": o.customer,
        "phone": o.phone,
        "lon": o.lon,
        "lat": o.lat,
        "power_present": o.power_present,
        "sighting": o.sighting,
        **({"renewed": True} if m.renewed else {}),
    }


def member_from_json(d: dict[str, Any]) -> Member:
    obs = Observation(
        call_id=str(d["call_id"]),
        at=datetime.fromisoformat(d["at"]),
        candidates=tuple((str(t), float(p)) for t, p in d.get("candidates") or ()),
        customer=d.get("customer"),
        phone=d.get("phone"),
        lon=d.get("lon"),
        lat=d.get("lat"),
        power_present=bool(d.get("power_present")),
        sighting=d.get("sighting"),
    )
    return Member(
        obs, d.get("transformer"), float(d.get("likelihood", 1.0)), bool(d.get("renewed"))
    )


class MemberRows:
    """:func:`member_json` of each member, encoded once while the member stays the same.

    A storm's incident is written again by every transaction that adds a call to it (the
    live intake: every call); its hundreds of earlier members have not changed (the
    grouping replaces a member, it never alters one), and encoding them all again cost
    more than the rest of the call. Keyed by call id, so it holds one row per call at
    most."""

    LIMIT = 200_000

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Member, str]] = {}

    def of(self, m: Member) -> str:
        call_id = m.observation.call_id
        hit = self._rows.get(call_id)
        if hit is not None and hit[0] is m:
            return hit[1]
        if len(self._rows) >= self.LIMIT:
            self._rows.clear()
        row = json.dumps(member_json(m))
        self._rows[call_id] = (m, row)
        return row

    def encoded(self, members: Iterable[Member]) -> EncodedJSON:
        """The JSON list of the members, from their encoded rows."""
        return EncodedJSON("[" + ",".join(self.of(m) for m in members) + "]")

    def clear(self) -> None:
        self._rows.clear()


def incident_row(
    inc: Incident, now: datetime, extra: dict[str, Any], members: MemberRows | None = None
) -> dict[str, Any]:
    return {
        "id": inc.id,
        "device_id": inc.device,
        "feeder": inc.feeder,
        "state": inc.state if inc.merged_into is None else "merged",
        "opened_at": inc.opened_at,
        "onset_at": inc.onset if inc.members else None,
        "updated_at": now,
        "restored_at": inc.restored_at,
        "merged_into": inc.merged_into,
        "call_count": len(inc.members),
        "lon": inc.lon,
        "lat": inc.lat,
        "members": (
            members.encoded(inc.members.values())
            if members is not None
            else [member_json(m) for m in inc.members.values()]
        ),
        "evidence": inc.evidence[-200:],
        **extra,
    }


def incident_from_row(row: Any) -> Incident:
    members = json_value(row.members)
    evidence = json_value(row.evidence)
    inc = Incident(
        id=row.id,
        device=row.device_id,
        feeder=row.feeder,
        opened_at=row.opened_at,
        state=row.state,
        restored_at=row.restored_at,
        merged_into=row.merged_into,
        lon=row.lon,
        lat=row.lat,
        evidence=list(evidence or []),
    )
    for d in members or []:
        m = member_from_json(d)
        inc.members[m.observation.call_id] = m
    return inc


# -- statements the intake runs ------------------------------------------------------------


def lock_intake(conn: Connection) -> tuple[int, int]:
    """Takes the intake lock for this transaction; returns (version, incident sequence)."""
    conn.execute(
        text(
            "INSERT INTO intake_state (id, version, incident_seq) VALUES (1, 0, 0) "
            "ON CONFLICT (id) DO NOTHING"
        )
    )
    stmt = select(intake_state.c.version, intake_state.c.incident_seq).where(intake_state.c.id == 1)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one()
    return int(row.version), int(row.incident_seq)


def bump_intake(conn: Connection, version: int, incident_seq: int) -> None:
    conn.execute(
        update(intake_state)
        .where(intake_state.c.id == 1)
        .values(version=version, incident_seq=incident_seq)
    )


def stored_answer(conn: Connection, call_id: str | None, key: str | None) -> dict[str, Any] | None:
    if call_id is None and key is None:
        return None
    cond = calls.c.call_id == call_id if call_id is not None else calls.c.idempotency_key == key
    if call_id is not None and key is not None:
        cond = (calls.c.call_id == call_id) | (calls.c.idempotency_key == key)
    row = conn.execute(select(calls.c.answer).where(cond).limit(1)).first()
    if row is None:
        return None
    return dict(json_value(row.answer))


def known_call_ids(conn: Connection) -> dict[str, dict[str, Any]]:
    return {
        row.call_id: dict(json_value(row.answer))
        for row in conn.execute(select(calls.c.call_id, calls.c.answer))
    }


def insert_calls(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(conn, calls, rows)


def upsert_incidents(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Writes the incidents' rows: new ones inserted, the others updated in every column.

    On PostgreSQL one ``INSERT ... ON CONFLICT (id) DO UPDATE`` from arrays; elsewhere the
    existing ids are read, then one insert and one update ``executemany``."""
    if not rows:
        return
    if len({r["id"] for r in rows}) == len(rows) and insert_rows(
        conn, incidents, rows, update_on="id", fallback=False
    ):
        return
    ids = [r["id"] for r in rows]
    existing = {r.id for r in conn.execute(select(incidents.c.id).where(incidents.c.id.in_(ids)))}
    new = [r for r in rows if r["id"] not in existing]
    old = [r for r in rows if r["id"] in existing]
    if new:
        conn.execute(incidents.insert(), new)
    if old:  # one executemany: the SET columns are the rows' keys but the id
        conn.execute(
            update(incidents).where(incidents.c.id == bindparam("b_id")),
            [{"b_id": r["id"], **{k: v for k, v in r.items() if k != "id"}} for r in old],
        )


def insert_events(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    insert_rows(conn, incident_events, list(rows))


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
    update_on: str | None = None,
    fallback: bool = True,
) -> bool:
    """Inserts ``rows`` (all with the first row's keys, as an ``executemany`` takes them).

    On PostgreSQL an ``executemany`` is still one statement per row on the wire (psycopg's
    pipeline): the rows go as one array per column instead, one statement for them all,
    each value as its column's type would bind it. The arrays are sent in binary: in text
    form psycopg quotes every element, which costs more than the round trips it saves (a
    batch of calls' JSON answers). On SQLite, :func:`gis.db.sqlite_insert_many`.
    ``ignore_conflicts`` adds ``ON CONFLICT DO NOTHING``; ``update_on``
    names the unique column on which a conflicting row updates the stored one instead
    (arrays on PostgreSQL only: without them nothing is written unless ``fallback``).
    Returns whether the rows were written."""
    if not rows:
        return True
    arrays = pg_arrays(conn, table, rows) if conn.dialect.name == "postgresql" else None
    if arrays is None:
        if not fallback:
            return False
        if update_on is not None:
            raise ValueError("update_on needs PostgreSQL arrays")
        if sqlite_insert_many(conn, table, rows, ignore_conflicts=ignore_conflicts):
            return True
        statement: Executable = table.insert()
        if ignore_conflicts:
            from sqlalchemy.dialects import postgresql, sqlite

            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(table).on_conflict_do_nothing()
        conn.execute(statement, list(rows))
        return True
    quote = conn.dialect.identifier_preparer.quote
    suffix = ""
    if update_on is not None:
        suffix = f" ON CONFLICT ({quote(update_on)}) DO UPDATE SET " + ", ".join(
            f"{quote(n)} = EXCLUDED.{quote(n)}" for n in arrays if n != update_on
        )
    elif ignore_conflicts:
        suffix = " ON CONFLICT DO NOTHING"
    unnest_insert(conn, table, arrays, suffix)
    return True


def unnest_insert(
    conn: Connection,
    table: Table,
    arrays: dict[str, tuple[str, list[Any]]],
    suffix: str = "",
    *,
    geometry: str | None = None,
) -> CursorResult[Any]:
    """``INSERT ... SELECT ... FROM unnest(...)`` of one array per column (SQL type and
    values, as :func:`pg_arrays` gives them), sent in binary; ``suffix`` follows it (a
    conflict clause, ``RETURNING``). ``geometry`` names a column given as EWKT text, made a
    geometry by the server as GeoAlchemy2 would bind it."""
    quote = conn.dialect.identifier_preparer.quote
    names = list(arrays)
    columns = ", ".join(quote(n) for n in names)
    values = ", ".join(
        f"ST_GeomFromEWKT(u.{quote(n)})" if n == geometry else f"u.{quote(n)}" for n in names
    )
    casts = ", ".join(f"CAST(%({n})b AS {arrays[n][0]}[])" for n in names)
    statement = (
        f"INSERT INTO {quote(table.name)} ({columns}) "
        f"SELECT {values} FROM unnest({casts}) AS u({columns}){suffix}"
    )
    return conn.exec_driver_sql(statement, {n: v for n, (_t, v) in arrays.items()})


def pg_arrays(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> dict[str, tuple[str, list[Any]]] | None:
    """Each column's SQL type and values as bound; ``None`` where an array cannot carry them
    (a column type not known here, values of mixed types)."""
    dialect = conn.dialect
    out: dict[str, tuple[str, list[Any]]] = {}
    keys = set(rows[0])
    if any(set(r) != keys for r in rows) or not keys <= set(table.c.keys()):
        # rows of different shapes, or a key the table has not: insert() would raise, and
        # the caller falls back to it
        return None
    for name in rows[0]:
        column_type = table.c[name].type
        values = [r.get(name) for r in rows]
        if isinstance(column_type, UTCDateTime):
            sql_type = "timestamptz"
            values = [column_type.process_bind_param(v, dialect) for v in values]
        elif isinstance(column_type, JSON):
            # as SQLAlchemy's JSON type binds: serialised, None as JSON null
            sql_type = "json"
            values = [json_text(v) for v in values]
        elif isinstance(column_type, Integer):
            sql_type = "integer"
            if not all(v is None or type(v) is int for v in values):
                return None
        elif isinstance(column_type, Float):
            sql_type = "float8"
            if not all(v is None or isinstance(v, (int, float)) for v in values):
                return None
            values = [float(v) if v is not None else None for v in values]
        elif isinstance(column_type, Text):
            sql_type = "text"
            if not all(v is None or isinstance(v, str) for v in values):
                return None
        else:
            return None
        if not isinstance(name, str) or not name.isidentifier():
            return None
        out[name] = (sql_type, values)
    return out


def _mark_open_incident(
    conn: Connection,
    incident_id: str,
    event: dict[str, Any],
    values: dict[str, Any],
    *also: Any,
) -> bool:
    """Sets ``values`` on an open incident (and ``also`` holds) and logs ``event`` about it,
    under the intake lock and bumping its version, so that every intake process reloads its
    open incidents before its next call instead of writing this one back. Returns whether
    the incident changed."""
    version, seq = lock_intake(conn)
    done = conn.execute(
        update(incidents)
        .where(
            incidents.c.id == incident_id,
            incidents.c.restored_at.is_(None),
            incidents.c.merged_into.is_(None),
            *also,
        )
        .values(**values, updated_at=event["at"])
    ).rowcount
    if not done:
        return False
    insert_events(conn, [{"incident_id": incident_id, **event}])
    bump_intake(conn, version + 1, seq)
    return True


def restore_incident(conn: Connection, incident_id: str, at: datetime, actor: str) -> bool:
    """The crew reports supply back: the incident ends, so the public outage query drops it,
    the reliability figures stop its clock, and a later call there is a new fault. Returns
    whether the incident was open."""
    event = {"at": at, "kind": "restored", "actor": actor, "details": {}}
    return _mark_open_incident(conn, incident_id, event, {"restored_at": at, "state": "restored"})


def confirm_incident(
    conn: Connection, incident_id: str, at: datetime, actor: str, cause: str | None = None
) -> bool:
    """The crew on site found the fault (查明原因): the outage is confirmed, and later
    callers below it are answered from it (article 25). Returns whether an open incident
    changed state."""
    details = {"cause": cause} if cause else {}
    event = {"at": at, "kind": "confirmed", "actor": actor, "details": details}
    return _mark_open_incident(
        conn, incident_id, event, {"state": CONFIRMED}, incidents.c.state != CONFIRMED
    )


def incident_orders(conn: Connection) -> dict[str, str]:
    """Each incident's work order, for those that have one."""
    rows = conn.execute(select(incidents.c.id, incidents.c.work_order_id))
    return {r.id: r.work_order_id for r in rows if r.work_order_id}


def load_intake_incidents(conn: Connection) -> list[Incident]:
    """The open incidents, and those restored since the oldest of them began (restored
    first). The grouping needs the latter: the customers of a nested fault repaired while
    an outage above it goes on call again, about that outage, and only the restored
    incident tells their calls from a new fault."""
    unmerged = incidents.c.merged_into.is_(None)
    open_rows = conn.execute(
        select(incidents).where(unmerged, incidents.c.restored_at.is_(None))
    ).all()
    starts = [r.onset_at or r.opened_at for r in open_rows]
    restored_rows = (
        conn.execute(
            select(incidents).where(unmerged, incidents.c.restored_at >= min(starts))
        ).all()
        if starts
        else []
    )
    return [incident_from_row(r) for r in (*restored_rows, *open_rows)]


def published_notices(conn: Connection) -> list[dict[str, Any]]:
    """Every notice not cancelled, with its affected transformers as a set."""
    rows = conn.execute(
        select(planned_outages).where(planned_outages.c.cancelled_at.is_(None))
    ).mappings()
    out = []
    for r in rows:
        d = dict(r)
        d["affected_transformers"] = set(json_value(d.get("affected_transformers") or []))
        out.append(d)
    return out
