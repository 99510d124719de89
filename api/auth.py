"""Staff logins: roles, password hashes (bcrypt) and signed tokens (JWT, HS256).

A token names the user and expires; what the user may do is read from the ``users`` table
at every request, so that disabling a user or lowering a role takes effect at once rather
than when the token expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import bcrypt
import jwt
from sqlalchemy import Connection, Engine

from api import auth_store
from api.settings import Settings

ISSUER = "gridcall"
ALGORITHM = "HS256"
BCRYPT_MAX_BYTES = 72


class Role(StrEnum):
    """Staff roles, each allowed everything the ones before it are (agent < ... < admin)."""

    AGENT = "agent"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: datetime
    disabled: bool = False
    password_changed_at: datetime | None = None

    def may(self, role: Role) -> bool:
        return not self.disabled and self.role.at_least(role)


class AuthError(Exception):
    """Who is asking is not known (no, bad or expired credentials): HTTP 401."""


class PasswordPolicyError(ValueError):
    """A password that cannot be stored."""


def check_password_policy(password: str) -> None:
    if not password.strip():
        raise PasswordPolicyError("the password is empty")
    if len(password.encode("utf-8")) > BCRYPT_MAX_BYTES:
        raise PasswordPolicyError(
            f"the password is longer than {BCRYPT_MAX_BYTES} bytes (UTF-8), which bcrypt cannot "
            "hash: about 24 Chinese characters or 72 Latin letters at most"
        )


def hash_password(password: str, rounds: int = 12) -> str:
    check_password_policy(password)
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


# Checked against when the user name is unknown, so that the answer takes as long as for a
# known user and the timing does not tell which names exist.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt(4))


def verify_password(password: str, password_hash: str | bytes) -> bool:
    raw = password.encode("utf-8")
    if not raw or len(raw) > BCRYPT_MAX_BYTES:
        return False
    stored = password_hash.encode("ascii") if isinstance(password_hash, str) else password_hash
    try:
        return bcrypt.checkpw(raw, stored)
    except ValueError:  # a malformed stored hash never matches
        return False


def _user(row: Any) -> User:
    return User(
        name=str(row["name"]),
        role=Role(str(row["role"])),
        created_at=row["created_at"],
        disabled=bool(row["disabled"]),
        password_changed_at=row["password_changed_at"],
    )


def load_user(conn: Connection, name: str) -> User | None:
    row = auth_store.get_user(conn, name)
    return _user(row) if row is not None else None


def create_user(
    engine: Engine, name: str, password: str, role: Role, *, by: str | None, rounds: int = 12
) -> User:
    """A new enabled user; :class:`auth_store.UserExistsError` when the name is taken."""
    name = name.strip()
    if not name:
        raise ValueError("the user name is empty")
    password_hash = hash_password(password, rounds)
    with engine.begin() as conn:
        auth_store.add_user(conn, name, password_hash, role.value, by=by)
        user = load_user(conn, name)
    assert user is not None
    return user


def authenticate(engine: Engine, name: str, password: str) -> User:
    """The user for a name and password; :class:`AuthError` for any mismatch, without
    saying which part was wrong."""
    with engine.connect() as conn:
        row = auth_store.get_user(conn, name)
    if row is None:
        verify_password(password, _DUMMY_HASH)
        raise AuthError("incorrect user name or password")
    if not verify_password(password, row["password_hash"]):
        raise AuthError("incorrect user name or password")
    user = _user(row)
    if user.disabled:
        raise AuthError("incorrect user name or password")
    return user


def create_token(user: User, settings: Settings, now: datetime | None = None) -> tuple[str, int]:
    """A signed token for the user and its lifetime in seconds."""
    now = now or datetime.now(UTC)
    lifetime = timedelta(minutes=settings.token_minutes)
    claims = {
        "sub": user.name,
        "role": user.role.value,  # informative for clients; the server reads the database
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    token = jwt.encode(claims, settings.signing_key(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def user_for_token(engine: Engine, token: str, settings: Settings) -> User:
    """The enabled user a token was issued to; :class:`AuthError` when the token is bad,
    expired, or its user is unknown or disabled."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_key(),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the login has expired: log in again") from None
    except jwt.InvalidTokenError:
        raise AuthError("invalid token") from None
    name = claims.get("sub")
    if not isinstance(name, str):
        raise AuthError("invalid token")
    with engine.connect() as conn:
        user = load_user(conn, name)
    if user is None or user.disabled:
        raise AuthError("this login is no longer valid")
    changed = user.password_changed_at
    if changed is not None and int(claims.get("iat", 0)) < int(changed.timestamp()):
        raise AuthError("the password has changed since this login: log in again")
    return user
