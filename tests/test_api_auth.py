"""Logins, tokens and roles, on both databases; the settings check; the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, select
from test_api_support import (
    PASSWORDS,
    SECRET,
    Api,
    TestClient,
    add_users,
    api_fixture,
    make_app,
    settings_for,
)

from api import ogc, routes_auth, routes_calls, routes_planned, routes_public
from api.app import create_app
from api.auth import Role, User, create_token, hash_password, verify_password
from api.auth_store import audit_events, set_disabled, set_password
from api.settings import InsecureSettingsError, Settings


@pytest.fixture
def api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(engine, tmp_path_factory)


@pytest.fixture
def bare(engine: Engine) -> Iterator[TestClient]:
    """The app without a network: logins work before any import."""
    add_users(engine)
    with TestClient(make_app(engine, None)) as client:
        yield client


def test_token_from_the_oauth2_form(bare: TestClient) -> None:
    r = bare.post(
        "/api/auth/token",
        data={"grant_type": "password", "username": "agent", "password": PASSWORDS[Role.AGENT]},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["role"] == "agent"
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "agent"
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert r.headers["cache-control"] == "no-store"


def test_token_from_json(bare: TestClient) -> None:
    r = bare.post(
        "/api/auth/token",
        json={"username": "dispatcher", "password": PASSWORDS[Role.DISPATCHER]},
    )
    assert r.status_code == 200, r.text
    me = bare.get("/api/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.status_code == 200
    assert me.json()["name"] == "dispatcher"
    assert me.json()["role"] == "dispatcher"


@pytest.mark.parametrize(
    ("username", "password"),
    [("agent", "wrong"), ("nobody", "whatever"), ("agent", ""), ("agent", "x" * 200)],
)
def test_wrong_credentials_are_401(bare: TestClient, username: str, password: str) -> None:
    r = bare.post("/api/auth/token", data={"username": username, "password": password})
    assert r.status_code in (400, 401)
    if password:
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"] == "incorrect user name or password"


def test_malformed_login_requests_are_400(bare: TestClient) -> None:
    assert bare.post("/api/auth/token", json={"username": "agent"}).status_code == 400
    assert bare.post("/api/auth/token", json=["agent"]).status_code == 400
    assert (
        bare.post(
            "/api/auth/token", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        bare.post(
            "/api/auth/token", content=b"agent", headers={"content-type": "text/plain"}
        ).status_code
        == 400
    )
    r = bare.post(
        "/api/auth/token",
        data={"grant_type": "client_credentials", "username": "agent", "password": "x"},
    )
    assert r.status_code == 400


def test_no_token_bad_token_expired_token_are_401(bare: TestClient) -> None:
    assert bare.get("/api/auth/me").status_code == 401
    assert bare.get("/api/auth/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    user = User("agent", Role.AGENT, datetime.now(UTC))
    other = settings_for_key("another-secret-key-that-is-long-enough-000000")
    forged, _ = create_token(user, other)
    r = bare.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    settings = settings_for_key(SECRET)
    old, _ = create_token(user, settings, now=datetime.now(UTC) - timedelta(days=2))
    r = bare.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]
    unsigned = jwt.encode(
        {"sub": "admin", "iss": "gridcall", "exp": 9_999_999_999}, key=None, algorithm="none"
    )
    assert (
        bare.get("/api/auth/me", headers={"Authorization": f"Bearer {unsigned}"}).status_code == 401
    )


def settings_for_key(key: str) -> Settings:
    return Settings(secret_key=key, environment="test", token_minutes=60)


def test_a_disabled_user_or_a_changed_password_ends_the_token(
    bare: TestClient, engine: Engine
) -> None:
    r = bare.post("/api/auth/token", data={"username": "agent", "password": PASSWORDS[Role.AGENT]})
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert bare.get("/api/auth/me", headers=headers).status_code == 200
    with engine.begin() as conn:
        set_disabled(conn, "agent", True, by="test")
    assert bare.get("/api/auth/me", headers=headers).status_code == 401
    r = bare.post("/api/auth/token", data={"username": "agent", "password": PASSWORDS[Role.AGENT]})
    assert r.status_code == 401
    with engine.begin() as conn:
        set_disabled(conn, "agent", False, by="test")
        set_password(
            conn,
            "agent",
            hash_password("new-password", 4),
            by="test",
            at=datetime.now(UTC) + timedelta(seconds=2),
        )
    assert bare.get("/api/auth/me", headers=headers).status_code == 401


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.at_least(Role.SUPERVISOR)
    assert Role.SUPERVISOR.at_least(Role.DISPATCHER)
    assert Role.DISPATCHER.at_least(Role.AGENT)
    assert not Role.AGENT.at_least(Role.DISPATCHER)
    assert not User("x", Role.ADMIN, datetime.now(UTC), disabled=True).may(Role.AGENT)


def test_a_too_low_role_is_403(api: Api) -> None:
    notice = {
        "switch_ids": ["nope"],
        "start": "2030-01-01T08:00:00+08:00",
        "end": "2030-01-01T09:00:00+08:00",
        "reason": "test",
    }
    agent = api.headers(Role.AGENT)
    r = api.client.post("/api/planned-outages", json=notice, headers=agent)
    assert r.status_code == 403
    assert "dispatcher" in r.json()["detail"]
    assert api.client.get("/api/planned-outages", headers=agent).status_code == 403
    for role in (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN):
        r = api.client.post("/api/planned-outages", json=notice, headers=api.headers(role))
        assert r.status_code == 422  # allowed in, then refused for the unknown switch
    assert api.client.post("/api/planned-outages", json=notice).status_code == 401
    # agents take calls
    call = {"call_id": "r1", "received_at": datetime.now(UTC).isoformat(), "category": "consult"}
    assert api.client.post("/api/calls", json=call, headers=agent).status_code == 200
    assert api.client.post("/api/calls", json=call).status_code == 401


def test_the_cookie_logs_in_reads_only(engine: Engine) -> None:
    add_users(engine)
    # outside development the cookie is Secure: the browser sends it over https only
    with TestClient(make_app(engine, None), base_url="https://testserver") as client:
        r = client.post(
            "/api/auth/token", data={"username": "agent", "password": PASSWORDS[Role.AGENT]}
        )
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "gridcall_token=" in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
        assert client.get("/api/auth/me").status_code == 200  # the client sends the cookie
        call = {"call_id": "x1", "received_at": datetime.now(UTC).isoformat()}
        assert client.post("/api/calls", json=call).status_code == 401  # writes need the header
        client.post("/api/auth/logout")
        assert client.get("/api/auth/me").status_code == 401


def test_logins_are_audited(bare: TestClient, engine: Engine) -> None:
    bare.post("/api/auth/token", data={"username": "admin", "password": PASSWORDS[Role.ADMIN]})
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events.c.actor, audit_events.c.action)).all()
    assert ("admin", "login") in [tuple(r) for r in rows]


def test_passwords_are_bcrypt_hashes() -> None:
    h = hash_password("秘密password", 4)
    assert h.startswith("$2")
    assert verify_password("秘密password", h)
    assert not verify_password("秘密Password", h)
    assert not verify_password("x", "not a hash")


def test_outside_development_the_secret_key_is_required(engine: Engine) -> None:
    with pytest.raises(InsecureSettingsError, match="GRIDCALL_SECRET_KEY"):
        create_app(settings_for(engine, secret_key=None, environment="production"))
    with pytest.raises(InsecureSettingsError, match="shorter"):
        create_app(settings_for(engine, secret_key="short", environment="production"))
    dev = settings_for(engine, secret_key=None, environment="development")
    assert len(dev.signing_key()) >= 32
    assert dev.signing_key() == dev.signing_key()
    assert create_app(dev) is not None


def test_openapi_document_has_every_path_with_a_summary(bare: TestClient) -> None:
    r = bare.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    mine = ("/api/auth", "/api/calls", "/api/planned-outages", "/api/public", "/ogc")
    paths = {p: ops for p, ops in doc["paths"].items() if p.startswith(mine)}
    for contract_path in (
        "/api/auth/token",
        "/api/calls",
        "/api/public/outages",
        "/ogc/collections",
        "/ogc/collections/{layer}/items",
        "/api/planned-outages",
    ):
        assert contract_path in paths
    routers = (routes_auth, routes_calls, routes_planned, routes_public, ogc)
    routes = [r for m in routers for r in m.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 15
    for route in routes:
        assert route.summary, route.path  # written, not made up from the function's name
        assert route.path in doc["paths"]
    token = doc["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "application/json"} <= set(token)
    assert "OAuth2PasswordBearer" in doc["components"]["securitySchemes"]
