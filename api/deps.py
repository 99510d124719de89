"""What routes depend on: the application context, the logged-in user and role checks, and
the errors routes raise (mapped to status codes in one table, in :mod:`api.app`).

Routes declare what they need as ``Annotated`` types (``CurrentUser``, ``DispatcherUser``,
``ContextDep``), so that each route's signature reads like its OpenAPI entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine

from api.auth import AuthError, Role, User, user_for_token
from api.settings import Settings
from dispatch.intake import Intake, IntakeServices
from outages.planned import OutagePlanner
from outages.public import PublicOutages

logger = logging.getLogger(__name__)

TOKEN_URL = "/api/auth/token"
TOKEN_COOKIE = "gridcall_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# -- errors --------------------------------------------------------------------------------


class ApiError(Exception):
    """An error a client can act on; its status code comes from the table in api.app."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ApiError):  # noqa: N818  (named like the status)
    pass


class NotFound(ApiError):  # noqa: N818  (named like the status)
    pass


class Forbidden(ApiError):  # noqa: N818  (named like the status)
    pass


class Conflict(ApiError):  # noqa: N818  (named like the status)
    pass


class NoNetwork(ApiError):  # noqa: N818
    """The app runs but no network was imported yet: nothing to locate calls on."""

    def __init__(self) -> None:
        super().__init__(
            "no network imported yet: run `gridcall layers import PATH`; the running app takes "
            "it up within seconds"
        )


# -- the application context ---------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    """What the app builds once at start-up and every request shares."""

    settings: Settings
    engine: Engine
    services: IntakeServices | None
    clock: Callable[[], datetime] = utc_now
    planner: OutagePlanner | None = None
    public: PublicOutages | None = None
    intake: Intake | None = None
    # One call at a time through the shared intake: it keeps the open incidents in memory
    # and is not thread-safe; across processes the database lock serialises calls.
    intake_lock: threading.Lock = field(default_factory=threading.Lock)
    network_import: int | None = None  # the layer import the services were built from
    # looks for a newer layer import now and then, and swaps its network in (api.app)
    follow_network: Callable[[AppContext], None] | None = None
    # re-examines the open incidents now and then between calls (api.app)
    sweep_timer: Callable[[AppContext], None] | None = None

    def now(self) -> datetime:
        return self.clock()

    def sweep(self, now: datetime | None = None) -> None:
        """The intake's re-examination of the open incidents, after an answer or on a timer
        (see ``Intake.sweep``). A failure is logged and the intake rebuilt from the database
        at the next call: the calls are stored, and nobody is waiting for this."""
        with self.intake_lock:
            intake = self.intake
            if intake is None:
                return
            try:
                intake.sweep(now)
            except Exception:
                logger.exception("re-examining the open incidents")
                self.intake = None

    def require_services(self) -> IntakeServices:
        if self.services is None:
            raise NoNetwork
        return self.services

    def require_planner(self) -> OutagePlanner:
        if self.planner is None:
            raise NoNetwork
        return self.planner

    def require_public(self) -> PublicOutages:
        if self.public is None:
            raise NoNetwork
        return self.public


def get_context(request: Request) -> AppContext:
    context = cast(AppContext, request.app.state.context)
    if context.follow_network is not None:
        context.follow_network(context)
    if context.sweep_timer is not None:
        context.sweep_timer(context)
    return context


ContextDep = Annotated[AppContext, Depends(get_context)]


# -- who is asking ---------------------------------------------------------------------------

# Declares the OAuth2 password flow in the OpenAPI document (the "Authorize" button of the
# docs); the token itself is read by current_user below.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


def current_user(
    request: Request,
    context: ContextDep,
    bearer: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The logged-in user, from ``Authorization: Bearer``; on GET also from the login cookie,
    so that pages and map layers load in a browser. Writes need the header: a cross-site
    form can make the browser send a cookie, never a header."""
    token = bearer
    if token is None and request.method in SAFE_METHODS:
        token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise AuthError("not logged in: send Authorization: Bearer <token>")
    return user_for_token(context.engine, token, context.settings)


CurrentUser = Annotated[User, Depends(current_user)]


def require(role: Role) -> Callable[[User], User]:
    """A dependency that lets through users of ``role`` or a higher one."""

    def check(user: CurrentUser) -> User:
        if not user.may(role):
            raise Forbidden(
                f"this needs the {role.value} role or higher; {user.name} is {user.role.value}"
            )
        return user

    check.__name__ = f"require_{role.value}"
    return check


AgentUser = Annotated[User, Depends(require(Role.AGENT))]
DispatcherUser = Annotated[User, Depends(require(Role.DISPATCHER))]
SupervisorUser = Annotated[User, Depends(require(Role.SUPERVISOR))]
AdminUser = Annotated[User, Depends(require(Role.ADMIN))]
