"""Shared fixtures: real databases (SpatiaLite and PostGIS, never mocks) and no network.

`make test` starts PostgreSQL with PostGIS and passes the template database's URL in
GRIDCALL_TEST_POSTGRES_URL; without it the PostGIS tests fail (they never skip).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gis  # noqa: F401  (pyproj/pyogrio before SpatiaLite)
from gis.db import make_engine

BACKENDS = ("spatialite", "postgis")
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network: only loopback connections are allowed."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (
            host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")
        ):
            return real_connect(self, address)
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise RuntimeError(f"test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


def create_from_template(conn: Any, name: str, template: str) -> None:
    """CREATE DATABASE ... TEMPLATE fails while another session reads the template (a
    parallel worker copying it too): retry for a while."""
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    for attempt in range(60):
        try:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            return
        except OperationalError as exc:
            if "being accessed by other users" not in str(exc) or attempt == 59:
                raise
            time.sleep(0.2 + 0.05 * attempt)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw")


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database per test worker, copied for each test."""
    base = os.environ.get("GRIDCALL_TEST_POSTGRES_URL")
    if not base:
        pytest.fail(
            "GRIDCALL_TEST_POSTGRES_URL is not set: run the tests with `make test`, which "
            "starts PostgreSQL with PostGIS"
        )
    from sqlalchemy import text

    from api.dbadmin import upgrade

    admin = make_engine(base.rsplit("/", 1)[0] + "/postgres")
    name = f"gc_tpl_{_worker()}_{os.getpid()}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        create_from_template(conn, name, base.rsplit("/", 1)[1])
    url = base.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from api.dbadmin import upgrade

    path = tmp_path_factory.mktemp("spatialite") / "template.db"
    engine = make_engine(str(path))
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each backend."""
    yield from _fresh_database(request, request.param, tmp_path / "gridcall.db")


@pytest.fixture
def other_db_url(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh database of ``db_url``'s backend: the same work done two ways."""
    backend = "spatialite" if not db_url.startswith("postgresql") else "postgis"
    yield from _fresh_database(request, backend, tmp_path / "other.db")


def _fresh_database(request: pytest.FixtureRequest, backend: str, path: Path) -> Iterator[str]:
    if backend == "spatialite":
        template: Path = request.getfixturevalue("spatialite_template")
        shutil.copy(template, path)
        yield str(path)
        return
    template_url: str = request.getfixturevalue("postgres_template")
    from sqlalchemy import text

    name = f"gc_t_{_worker()}_{os.getpid()}_{next(_counter)}"
    admin = make_engine(template_url.rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        create_from_template(conn, name, template_url.rsplit("/", 1)[1])
    yield template_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
