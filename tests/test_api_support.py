"""The small grid and helpers the API tests share (imported by the other test_api_* modules),
and checks that the grid has the shapes those tests rely on.

The grid is a synthetic one with admin areas drawn over it: two townships split at the
substation's meridian, each cut in two villages, with one village name (李庄村) in both
townships, as happens in real counties.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.auth import Role, create_user
from api.bootstrap import intake_services
from api.settings import Settings
from dispatch.intake import IntakeServices
from layers.importer import import_package
from layers.synthetic import SyntheticGrid, synthetic_grid

with warnings.catch_warnings():
    # Starlette 1.x wants the httpx2 package for its test client and warns when it finds
    # httpx (what pyproject's dev extra installs); the client works the same with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "PASSWORDS",
    "SECRET",
    "Api",
    "Clock",
    "TestClient",
    "add_users",
    "api_fixture",
    "grid_package",
    "load_grid",
    "login",
    "make_app",
    "settings_for",
]

PASSWORDS = {role: f"pw-{role.value}-secret" for role in Role}
SECRET = "test-secret-key-that-is-long-enough-0123456789"
# (name, level, parent, box in the synthetic grid's local metres)
ADMIN = [
    ("C1", "兰考县", "county", None, (-30_000, -30_000, 30_000, 30_000)),
    ("T1", "城关镇", "township", "C1", (0, -30_000, 30_000, 30_000)),
    ("T2", "谷营镇", "township", "C1", (-30_000, -30_000, 0, 30_000)),
    ("V1", "张庄村", "village", "T1", (0, 0, 30_000, 30_000)),
    ("V2", "李庄村", "village", "T1", (0, -30_000, 30_000, 0)),
    ("V3", "何庄村", "village", "T2", (-30_000, 0, 0, 30_000)),
    ("V4", "李庄村", "village", "T2", (-30_000, -30_000, 0, 0)),
]

_packages: dict[str, Path] = {}
_services: dict[str, IntakeServices] = {}


def api_grid() -> SyntheticGrid:
    """The small grid of the API tests, with the townships and villages of ``ADMIN``."""
    g = synthetic_grid(
        7,
        feeders_per_bus=3,
        sections_per_feeder=14,
        transformers_per_feeder=4,
        service_points_per_transformer=4,
        branch_probability=0.3,
        ties=1,
    )
    for area_id, name, level, parent, box in ADMIN:
        g.rows["admin_areas"].append(
            {
                "id": area_id,
                "name": name,
                "level": level,
                "parent_id": parent,
                "geometry": shapely.box(*box),
            }
        )
    return g


def grid_package(factory: pytest.TempPathFactory) -> Path:
    """The layer package, written once per test session."""
    if "grid" not in _packages:
        _packages["grid"] = api_grid().write(factory.mktemp("api_grid") / "grid.gpkg")
    return _packages["grid"]


def load_grid(engine: Engine, package: Path) -> IntakeServices:
    """Imports the package into the test database; the network and indexes are built once
    per session (every test imports the same package)."""
    report = import_package(engine, package)
    assert report.ok, [str(p) for p in report.errors]
    if "grid" not in _services:
        _services["grid"] = intake_services(engine)
    return _services["grid"]


def settings_for(engine: Engine, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "environment": "test",
        "secret_key": SECRET,
        "bcrypt_rounds": 4,
        # most API tests drive the order steps by hand; one test checks auto-dispatch
        "auto_dispatch": False,
    }
    values.update(overrides)
    return Settings(**values)


def add_users(engine: Engine) -> None:
    for role in Role:
        create_user(engine, role.value, PASSWORDS[role], role, by="test", rounds=4)


@dataclass
class Clock:
    """A clock the tests move."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def make_app(
    engine: Engine,
    services: IntakeServices | None,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> FastAPI:
    return create_app(settings_for(engine, **settings), services, engine=engine, clock=clock)


def login(client: TestClient, role: Role) -> dict[str, str]:
    """Authorization headers of the user of that role."""
    r = client.post("/api/auth/token", data={"username": role.value, "password": PASSWORDS[role]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@dataclass
class Api:
    client: TestClient
    engine: Engine
    services: IntakeServices
    clock: Clock

    def headers(self, role: Role) -> dict[str, str]:
        return login(self.client, role)


def api_fixture(
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
    now: datetime | None = None,
    **settings: Any,
) -> Iterator[Api]:
    """A running app on the test database with the grid and one user per role."""
    services = load_grid(engine, grid_package(tmp_path_factory))
    add_users(engine)
    clock = Clock(now or datetime.now(UTC))
    with TestClient(make_app(engine, services, clock, **settings)) as client:
        yield Api(client, engine, services, clock)


# -- the grid is what the tests expect -------------------------------------------------------


def test_the_grid_has_townships_villages_and_a_tie(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from layers.importer import prepare

    data, model, problems = prepare(grid_package(tmp_path_factory))
    assert data is not None and model is not None
    assert not [p for p in problems if p.severity == "error"]
    assert data.has("admin_areas")
    kinds = set(model.switch_kind.values())
    assert {"breaker", "fuse", "load_break_switch"} <= kinds
    # fuses with customers below them, for the outage notices
    assert (
        sum(
            1
            for s, k in model.switch_kind.items()
            if k == "fuse" and model.downstream_transformers(s)
        )
        >= 2
    )
    assert "open" in model.normal_state.values()
    # customers in both townships
    xs = [g.x for g in data.layer("transformers")["geometry"]]
    centre = data.layer("substations")["geometry"].iat[0].x
    assert min(xs) < centre < max(xs)
