"""``POST /api/calls`` on both databases: new, merged, idempotent, repeated, malformed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from test_api_support import Api, api_fixture

from api.auth import Role
from outages.store import calls, incidents

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(engine, tmp_path_factory, NOW)


def accounts_of(api: Api, transformer: str) -> list[str]:
    sps = api.services.data.layer("service_points")
    return [str(a) for a in sps.loc[sps["transformer_id"] == transformer, "account_no"]]


def call(call_id: str, minutes: float = 0, **fields: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "received_at": (NOW + timedelta(minutes=minutes)).isoformat(),
        "symptom": "no_power",
        **fields,
    }


def count_calls(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(calls)).scalar_one())


def test_a_new_call_then_a_neighbour_merged(api: Api) -> None:
    headers = api.headers(Role.AGENT)
    first, second = accounts_of(api, "T0001")[:2]
    r1 = api.client.post("/api/calls", json=call("a1", account_no=first), headers=headers)
    assert r1.status_code == 200, r1.text
    a1 = r1.json()
    assert a1["status"] == "new"
    assert a1["incident_id"] and a1["work_order_id"]
    assert a1["predicted_device_id"] == "T0001"
    assert a1["location"]["method"] == "account"
    assert a1["location"]["transformer_id"] == "T0001"
    assert set(a1) == {
        "call_id",
        "status",
        "incident_id",
        "work_order_id",
        "predicted_device_id",
        "unit_id",
        "location",
        "reason",
    }
    r2 = api.client.post("/api/calls", json=call("a2", 3, account_no=second), headers=headers)
    a2 = r2.json()
    assert a2["status"] == "merged"
    assert a2["incident_id"] == a1["incident_id"]
    assert a2["work_order_id"] == a1["work_order_id"]
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 1
        taken_by = conn.execute(select(calls.c.taken_by).where(calls.c.call_id == "a1")).scalar()
    assert taken_by == "agent"
    got = api.client.get("/api/calls/a2", headers=headers)
    assert got.status_code == 200
    assert got.json() == a2


def test_the_answer_does_not_wait_for_the_re_examination(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The open incidents are re-examined after the answer is sent: should that fail, the
    call is answered and stored all the same, and the next call is taken from what the
    database holds."""
    from dispatch.intake import Intake

    swept: list[Intake] = []

    def failing_sweep(self: Intake, now: datetime | None = None) -> None:
        swept.append(self)
        raise RuntimeError("re-examination failed")

    monkeypatch.setattr(Intake, "sweep", failing_sweep)
    headers = api.headers(Role.AGENT)
    first, second = accounts_of(api, "T0003")[:2]
    with caplog.at_level("ERROR"):
        r1 = api.client.post("/api/calls", json=call("s1", account_no=first), headers=headers)
    assert r1.status_code == 200 and r1.json()["status"] == "new"
    assert len(swept) == 1 and "re-examination failed" in caplog.text
    assert count_calls(api.engine) == 1
    r2 = api.client.post("/api/calls", json=call("s2", 2, account_no=second), headers=headers)
    assert r2.status_code == 200
    assert r2.json()["status"] == "merged"
    assert r2.json()["incident_id"] == r1.json()["incident_id"]
    assert len(swept) == 2 and swept[1] is not swept[0]  # rebuilt after the failure


def test_the_idempotency_key_returns_the_first_answer(api: Api) -> None:
    headers = {**api.headers(Role.AGENT), "Idempotency-Key": "console-7f3a"}
    account = accounts_of(api, "T0002")[0]
    first = api.client.post("/api/calls", json=call("k1", account_no=account), headers=headers)
    assert first.status_code == 200
    before = count_calls(api.engine)
    # a retry of the same request, even with another call id, creates nothing new
    again = api.client.post("/api/calls", json=call("k2", 1, account_no=account), headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert count_calls(api.engine) == before
    plain = api.headers(Role.AGENT)
    assert api.client.get("/api/calls/k2", headers=plain).status_code == 404


def test_a_repeated_call_id_returns_the_first_answer_unchanged(api: Api) -> None:
    headers = api.headers(Role.AGENT)
    accounts = accounts_of(api, "T0003")
    first = api.client.post("/api/calls", json=call("r1", account_no=accounts[0]), headers=headers)
    before = count_calls(api.engine)
    # the same id with other contents (a retry after a timeout, or a client's mistake)
    again = api.client.post(
        "/api/calls",
        json=call("r1", 5, account_no=accounts[1], category="complaint"),
        headers=headers,
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert count_calls(api.engine) == before
    # the shared intake and a fresh one (another worker) agree
    api.client.app.state.context.intake = None  # type: ignore[attr-defined]
    third = api.client.post("/api/calls", json=call("r1"), headers=headers)
    assert third.json() == first.json()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"call_id": "m1"}, "missing received_at"),
        ({"received_at": NOW.isoformat()}, "missing call_id"),
        ({"call_id": "m2", "received_at": "yesterday"}, "not ISO 8601"),
        ({"call_id": "m3", "received_at": "2026-07-01T08:00:00"}, "not ISO 8601"),
        (
            {"call_id": "m4", "received_at": NOW.isoformat(), "category": "gossip"},
            "unknown category",
        ),
        ({"call_id": "m5", "received_at": NOW.isoformat(), "source": "pigeon"}, "unknown source"),
    ],
)
def test_a_malformed_call_is_rejected_with_its_reason(
    api: Api, body: dict[str, Any], why: str
) -> None:
    headers = api.headers(Role.AGENT)
    r = api.client.post("/api/calls", json=body, headers=headers)
    assert r.status_code == 422
    answer = r.json()
    assert answer["status"] == "rejected"
    assert why in answer["reason"]
    assert answer["incident_id"] is None and answer["work_order_id"] is None
    if "call_id" in body:  # recorded, and answered the same way again
        again = api.client.post("/api/calls", json=body, headers=headers)
        assert again.status_code == 422
        assert again.json() == answer


def test_an_impossible_value_is_dropped_and_the_call_taken(api: Api) -> None:
    headers = api.headers(Role.AGENT)
    account = accounts_of(api, "T0004")[0]
    r = api.client.post(
        "/api/calls",
        json=call("p1", account_no=account, lon=999, lat="north", coord_sys="WGS84"),
        headers=headers,
    )
    assert r.status_code == 200
    assert r.json()["status"] == "new"
    assert "position dropped" in r.json()["reason"]
    # numbers where the contract has text are taken as text
    r = api.client.post(
        "/api/calls",
        json={
            "call_id": 12345,
            "received_at": NOW.isoformat(),
            "account_no": int(account),
            "category": "consult",
        },
        headers=headers,
    )
    assert r.status_code == 200
    assert r.json()["call_id"] == "12345"
    assert r.json()["status"] == "consult"


def test_a_body_that_is_not_a_call_is_422(api: Api) -> None:
    headers = api.headers(Role.AGENT)
    r = api.client.post("/api/calls", json=["c1", NOW.isoformat()], headers=headers)
    assert r.status_code == 422
    assert "detail" in r.json()


def test_a_call_inside_a_published_outage_is_known(api: Api) -> None:
    model = api.services.model
    fuse = next(
        s for s, k in model.switch_kind.items() if k == "fuse" and model.downstream_transformers(s)
    )
    transformer = model.downstream_transformers(fuse)[0]
    notice = api.client.post(
        "/api/planned-outages",
        json={
            "switch_ids": [fuse],
            "kind": "temporary",
            "reason": "抢修更换熔断器",
            "start": (NOW - timedelta(hours=1)).isoformat(),
            "end": (NOW + timedelta(hours=3)).isoformat(),
        },
        headers=api.headers(Role.DISPATCHER),
    )
    assert notice.status_code == 201, notice.text
    r = api.client.post(
        "/api/calls",
        json=call("n1", account_no=accounts_of(api, transformer)[0]),
        headers=api.headers(Role.AGENT),
    )
    assert r.json()["status"] == "known_outage"
    assert notice.json()["id"] in r.json()["reason"]
    assert r.json()["work_order_id"] is None


def test_an_outage_entered_after_the_fact_answers_calls_typed_in_late(api: Api) -> None:
    """A storm's outage entered after it ended (补录, with the reason): refused without a
    reason, accepted with one, and calls of that time, typed in now, are answered from it."""
    model = api.services.model
    fuse = next(
        s for s, k in model.switch_kind.items() if k == "fuse" and model.downstream_transformers(s)
    )
    transformer = model.downstream_transformers(fuse)[0]
    past = {
        "switch_ids": [fuse],
        "kind": "planned",
        "reason": "线路检修",
        "start": (NOW - timedelta(days=30, hours=4)).isoformat(),
        "end": (NOW - timedelta(days=30)).isoformat(),
    }
    headers = api.headers(Role.DISPATCHER)
    refused = api.client.post("/api/planned-outages", json=past, headers=headers)
    assert refused.status_code == 422 and "late_reason" in refused.text
    notice = api.client.post(
        "/api/planned-outages", json={**past, "late_reason": "补录"}, headers=headers
    )
    assert notice.status_code == 201, notice.text
    r = api.client.post(
        "/api/calls",
        json=call("old1", -30 * 24 * 60 - 60, account_no=accounts_of(api, transformer)[0]),
        headers=api.headers(Role.AGENT),
    )
    assert r.json()["status"] == "known_outage"
    assert notice.json()["id"] in r.json()["reason"]


def test_without_a_network_calls_are_503(engine: Engine) -> None:
    from test_api_support import TestClient, add_users, login, make_app

    add_users(engine)
    with TestClient(make_app(engine, None)) as client:
        r = client.post("/api/calls", json=call("z1"), headers=login(client, Role.AGENT))
    assert r.status_code == 503
    assert "gridcall layers import" in r.json()["detail"]


@pytest.fixture
def swept_api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(engine, tmp_path_factory, NOW, sweep_seconds=0.001)


def test_between_calls_the_open_incidents_are_still_re_examined(swept_api: Api) -> None:
    """No call comes after a lone one, yet its neighbours' silence grows: a timer started
    by any request re-examines the incidents at the app's clock, and the lone call is
    flagged as possibly the customer's own wiring (article 22) in the stored evidence."""
    from api.app import SweepTimer

    api = swept_api
    headers = api.headers(Role.AGENT)
    account = accounts_of(api, "T0004")[0]
    r = api.client.post("/api/calls", json=call("q1", account_no=account), headers=headers)
    assert r.status_code == 200
    incident = r.json()["incident_id"]
    timer = api.client.app.state.context.sweep_timer  # type: ignore[attr-defined]
    assert isinstance(timer, SweepTimer)

    def flags() -> list[str]:
        timer.wait(60)
        with api.engine.connect() as conn:
            value = conn.execute(
                select(incidents.c.evidence).where(incidents.c.id == incident)
            ).scalar_one()
        evidence = json.loads(value) if isinstance(value, str) else value
        return [e for e in evidence if "article 22" in e]

    api.clock.now = NOW + timedelta(minutes=10)
    assert api.client.get("/api/calls/q1", headers=headers).status_code == 200
    assert flags() == []  # not quiet for long enough yet
    api.clock.now = NOW + timedelta(minutes=40)
    assert api.client.get("/api/calls/q1", headers=headers).status_code == 200
    assert len(flags()) == 1
