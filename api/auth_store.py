"""Staff accounts and the audit log in the database.

Nothing is deleted (article 29): a user who leaves is disabled, and every change made
through the web app (a login, a notice published or cancelled, a user added) is an
``audit_events`` row with who and when, for the supervisors' review (article 37).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    Table,
    Text,
    false,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from gis.db import UTCDateTime, metadata

users = Table(
    "users",
    metadata,
    Column("name", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Text),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("disabled_at", UTCDateTime),
    Column("password_changed_at", UTCDateTime),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("details", JSON),
)
Index("ix_audit_events_at", audit_events.c.at)
Index("ix_audit_events_target", audit_events.c.target)


class UserExistsError(ValueError):
    def __str__(self) -> str:
        return f"user {self.args[0]!r} already exists"


class UnknownUserError(KeyError):
    def __str__(self) -> str:
        return f"no user {self.args[0]!r}"


def add_user(
    conn: Connection,
    name: str,
    password_hash: str,
    role: str,
    *,
    by: str | None,
    at: datetime | None = None,
) -> None:
    """Inserts a user; :class:`UserExistsError` when the name is taken (names are logins)."""
    at = at or datetime.now(UTC)
    try:
        with conn.begin_nested():
            conn.execute(
                users.insert().values(
                    name=name,
                    password_hash=password_hash,
                    role=role,
                    created_at=at,
                    created_by=by,
                    disabled=False,
                )
            )
    except IntegrityError:
        raise UserExistsError(name) from None
    record(conn, by, "user_added", name, {"role": role}, at=at)


def get_user(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(select(users).where(users.c.name == name)).mappings().first()


def list_users(conn: Connection) -> list[RowMapping]:
    return list(conn.execute(select(users).order_by(users.c.name)).mappings())


def set_disabled(
    conn: Connection, name: str, disabled: bool, *, by: str | None, at: datetime | None = None
) -> None:
    at = at or datetime.now(UTC)
    result = conn.execute(
        update(users)
        .where(users.c.name == name)
        .values(disabled=disabled, disabled_at=at if disabled else None)
    )
    if result.rowcount == 0:
        raise UnknownUserError(name)
    record(conn, by, "user_disabled" if disabled else "user_enabled", name, None, at=at)


def set_password(
    conn: Connection, name: str, password_hash: str, *, by: str | None, at: datetime | None = None
) -> None:
    at = at or datetime.now(UTC)
    result = conn.execute(
        update(users)
        .where(users.c.name == name)
        .values(password_hash=password_hash, password_changed_at=at)
    )
    if result.rowcount == 0:
        raise UnknownUserError(name)
    record(conn, by, "password_changed", name, None, at=at)


def record(
    conn: Connection,
    actor: str | None,
    action: str,
    target: str | None,
    details: Mapping[str, Any] | None,
    *,
    at: datetime | None = None,
) -> None:
    """One audit row, in the caller's transaction: the change and its record commit together."""
    conn.execute(
        audit_events.insert().values(
            at=at or datetime.now(UTC),
            actor=actor,
            action=action,
            target=target,
            details=dict(details) if details is not None else None,
        )
    )
