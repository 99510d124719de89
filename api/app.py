"""The web app: ``create_app()`` wires settings, database, network and routes together.

The lifespan opens the database engine and builds, once, everything that lives as long as
the process: the network model and the intake's indexes, the outage planner and the public
query. Routes reach them through :data:`api.deps.ContextDep`. Errors are one hierarchy
(:mod:`api.deps` and the domain's own), mapped to status codes in :data:`STATUS_CODES`.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import (
    auth_store,
    ogc,
    routes_auth,
    routes_calls,
    routes_orders,
    routes_planned,
    routes_public,
)
from api.auth import AuthError, PasswordPolicyError
from api.deps import (
    AppContext,
    BadRequest,
    Conflict,
    Forbidden,
    NoNetwork,
    NotFound,
    utc_now,
)
from api.settings import Settings, load_settings
from dispatch.crews import CrewStateError
from dispatch.intake import IntakeServices
from dispatch.orders import TransitionError
from dispatch.service import DuplicateKeyError, UnknownCrewError, UnknownOrderError
from layers.store import latest_import
from outages.planned import NoticeError, NoticeStateError, OutagePlanner, UnknownNoticeError
from outages.public import PublicOutages, UnknownAccountError, UnknownAreaError

logger = logging.getLogger(__name__)

# The one table from errors to status codes; a subclass takes its nearest listed ancestor's.
STATUS_CODES: dict[type[Exception], int] = {
    BadRequest: 400,
    AuthError: 401,
    Forbidden: 403,
    NotFound: 404,
    UnknownAccountError: 404,
    UnknownAreaError: 404,
    UnknownNoticeError: 404,
    UnknownOrderError: 404,
    UnknownCrewError: 404,
    Conflict: 409,
    TransitionError: 409,
    CrewStateError: 409,
    DuplicateKeyError: 409,
    NoticeStateError: 409,
    auth_store.UserExistsError: 409,
    NoticeError: 422,
    PasswordPolicyError: 422,
    NoNetwork: 503,
}

DESCRIPTION = """
Outage and repair dispatch for a county 95598 call centre.

* **Staff** log in at `POST /api/auth/token` (OAuth2 password flow) and send
  `Authorization: Bearer <token>`. Roles: agent < dispatcher < supervisor < admin.
* **Customers** ask `GET /api/public/outages` without logging in.
* **GIS clients** read the layers at `/ogc` (OGC API - Features, GeoJSON).
"""


def _status_of(exc: Exception) -> int:
    for klass in type(exc).__mro__:
        if klass in STATUS_CODES:
            return STATUS_CODES[klass]
    return 500


def _detail(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return detail if isinstance(detail, str) else str(exc)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    status = _status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": _detail(exc)}, status_code=status, headers=headers)


def build_context(
    settings: Settings,
    services: IntakeServices | None,
    engine: Engine | None,
    clock: Callable[[], datetime],
) -> AppContext:
    """Everything the routes share. Without an imported network the app still serves logins,
    notices' lists and the OGC layers; what needs the network answers 503."""
    from api.bootstrap import NoNetworkError, database, intake_services, keep_network_out_of_gc

    engine = engine or database(settings)
    # read before the network: an import that lands while it loads is taken up later
    latest = latest_import(engine)
    if services is None:
        try:
            services = intake_services(engine)
        except NoNetworkError as exc:
            logger.warning("%s; the app starts without it", exc)
    context = AppContext(settings=settings, engine=engine, services=services, clock=clock)
    if services is not None:
        install_network(context, services, int(latest["id"]) if latest else None)
        keep_network_out_of_gc()
    context.follow_network = NetworkFollower(settings.network_check_seconds)
    context.sweep_timer = SweepTimer(settings.sweep_seconds)
    return context


def install_network(context: AppContext, services: IntakeServices, import_id: int | None) -> None:
    """Puts a network and what is built on it in the app's context. Under the intake's lock:
    a call being taken finishes on the old network, the next builds its intake on the new."""
    planner = OutagePlanner(services.model)  # built before the lock: calls go on meanwhile
    public = PublicOutages(planner)
    with context.intake_lock:
        context.services = services
        context.planner = planner
        context.public = public
        context.intake = None  # rebuilt from the database, on the new network, at the next call
        context.network_import = import_id
    _roster(context.engine, services, context.now())


class Periodic:
    """Work that a request starts now and then, ``every`` seconds at most, in a background
    thread and one at a time, so that no request waits for it. ``_work`` says, under the
    lock, what there is to do (``None``: nothing this time)."""

    name = "gridcall-periodic"

    def __init__(self, every_seconds: float, *, at_once: bool = False) -> None:
        self.every = every_seconds
        self._next = -math.inf if at_once else time.monotonic() + every_seconds
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, context: AppContext) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        with self._lock:
            if now < self._next or (self._thread is not None and self._thread.is_alive()):
                return
            self._next = now + self.every
            work = self._work(context)
            if work is not None:
                self._thread = threading.Thread(target=work, name=self.name, daemon=True)
                self._thread.start()

    def _work(self, context: AppContext) -> Callable[[], None] | None:
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> None:
        """Until the work under way has finished (tests, and a clean shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class NetworkFollower(Periodic):
    """Takes up a newer layer import while the app runs. Imports are made by `gridcall layers
    import` in another process, and a control room cannot restart the app in a storm to see
    a corrected feeder: every few seconds a request asks which import is the latest; when it
    is not the app's, the new network is loaded in a background thread (a county takes
    seconds to a minute) and swapped in when ready, while requests go on with the old one."""

    name = "gridcall-network"

    def __init__(self, every_seconds: float) -> None:
        super().__init__(every_seconds, at_once=True)
        self._failed: int | None = None  # an import whose network could not be loaded

    def _work(self, context: AppContext) -> Callable[[], None] | None:
        try:
            latest = latest_import(context.engine)
        except Exception:  # the request that happened to check must not fail for it
            logger.exception("could not look for a newer layer import")
            return None
        if latest is None or int(latest["id"]) in (context.network_import, self._failed):
            return None
        import_id = int(latest["id"])
        return lambda: self._load(context, import_id)

    def _load(self, context: AppContext, import_id: int) -> None:
        from api.bootstrap import intake_services, keep_network_out_of_gc

        logger.info("layer import %s is newer than the app's network: loading it", import_id)
        try:
            # the running services' settings are kept (those given to create_app included)
            services = intake_services(context.engine, like=context.services)
            latest = latest_import(context.engine)
            if latest is not None and int(latest["id"]) != import_id:
                # another import landed while the layers were read: they may mix the two;
                # the next check loads the newest whole
                logger.info("layer import %s landed during the load: loading again", latest["id"])
                return
            install_network(context, services, import_id)
            del services
            keep_network_out_of_gc()  # the old network is freed now
        except Exception:  # the old network stays; this import is not tried again
            logger.exception("could not load the network of layer import %s", import_id)
            self._failed = import_id
            return
        logger.info("now serving the network of layer import %s", import_id)


class SweepTimer(Periodic):
    """Re-examines the open incidents between calls. After a call the intake sweeps anyway;
    in a lull the silence still grows (a roll-up may now be several faults, a lone call's
    neighbours have stayed quiet): every ``every`` seconds a request starts a sweep at the
    app's clock."""

    name = "gridcall-sweep"

    def _work(self, context: AppContext) -> Callable[[], None] | None:
        if context.intake is None:
            return None
        return lambda: context.sweep(context.now())


def _roster(engine: Engine, services: IntakeServices, now: datetime) -> None:
    """The crews of the imported layer, registered once (a dispatcher changes them later):
    without them no order could be given to a crew."""
    from sqlalchemy import func, select

    from dispatch.store import crews, dispatch_on
    from gis.db import write_transaction

    roster = services.dispatch.roster  # the crews layer, read when the services were built
    if not roster:
        return
    with write_transaction(engine) as conn:
        if conn.execute(select(func.count()).select_from(crews)).scalar():
            return
        dispatch_on(conn, services.dispatch).load_roster(roster, now)


def _static_dir() -> Path | None:
    try:
        import map_ui
    except ModuleNotFoundError:
        return None
    static = Path(map_ui.__file__).parent / "static"
    return static if static.is_dir() else None


def create_app(
    settings: Settings | None = None,
    services: IntakeServices | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The app. ``services`` (and ``engine``) may be given to share them (tests build the
    network once); ``clock`` replaces the wall clock (tests of the 7-day rule)."""
    settings = settings or load_settings()
    settings.check_for_serving()
    own_engine = engine is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = build_context(settings, services, engine, clock or utc_now)
        app.state.context = context
        try:
            yield
        finally:
            if isinstance(context.sweep_timer, SweepTimer):
                context.sweep_timer.wait(60)
            if own_engine:
                context.engine.dispose()

    app = FastAPI(
        title="gridcall",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    for klass in STATUS_CODES:
        app.add_exception_handler(klass, _handle)
    app.include_router(routes_auth.router)
    app.include_router(routes_calls.router)
    app.include_router(routes_planned.router)
    app.include_router(routes_orders.router)
    app.include_router(routes_public.router)
    app.include_router(ogc.router)
    app.include_router(importlib.import_module("api.routes_report").router)

    static = _static_dir()
    if static is not None:
        app.mount("/static", StaticFiles(directory=static), name="static")
    try:
        pages = importlib.import_module("api.pages")
    except ModuleNotFoundError as exc:
        if exc.name != "api.pages":
            raise
    else:
        app.include_router(pages.router)
    return app
