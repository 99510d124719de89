"""``/api/orders``: the open orders, one order's log, assigning a crew, recording steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from test_api_support import Api, api_fixture

from api.auth import Role

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(engine, tmp_path_factory, NOW)


def open_incident(api: Api) -> dict[str, str]:
    sps = api.services.data.layer("service_points")
    account = str(sps["account_no"].iat[0])
    r = api.client.post(
        "/api/calls",
        headers=api.headers(Role.AGENT),
        json={
            "call_id": "o1",
            "received_at": (NOW - timedelta(minutes=5)).isoformat(),
            "account_no": account,
            "symptom": "no_power",
        },
    )
    answer: dict[str, str] = r.json()
    assert answer["status"] == "new"
    return answer


def test_open_orders_and_one_order(api: Api) -> None:
    answer = open_incident(api)
    dispatcher = api.headers(Role.DISPATCHER)
    orders = api.client.get("/api/orders", headers=dispatcher)
    assert orders.status_code == 200
    [order] = orders.json()
    assert order["order_id"] == answer["work_order_id"]
    assert order["incident_id"] == answer["incident_id"]
    assert order["type"] == "repair"
    assert "o1" in order["call_ids"]
    assert api.client.get("/api/orders", headers=api.headers(Role.AGENT)).status_code == 403
    one = api.client.get(f"/api/orders/{order['order_id']}", headers=api.headers(Role.AGENT))
    assert one.status_code == 200
    assert one.json()["events"][0]["type"] == "created"
    assert api.client.get("/api/orders/WO-NOPE", headers=dispatcher).status_code == 404
    assert api.client.get("/api/orders?unit_id=elsewhere", headers=dispatcher).json() == []


def test_assign_a_crew_and_record_the_repair(api: Api) -> None:
    order_id = open_incident(api)["work_order_id"]
    crew = str(api.services.data.layer("crews")["id"].iat[0])
    headers = {**api.headers(Role.DISPATCHER), "Idempotency-Key": "assign-1"}
    r = api.client.post(f"/api/orders/{order_id}/assign", json={"crew_id": crew}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["crew_id"] == crew
    assert r.json()["status"] == "dispatched"
    again = api.client.post(
        f"/api/orders/{order_id}/assign", json={"crew_id": crew}, headers=headers
    )
    assert len(again.json()["events"]) == len(r.json()["events"])
    plain = api.headers(Role.DISPATCHER)
    unknown = api.client.post(
        f"/api/orders/{order_id}/assign", json={"crew_id": "CR-NONE"}, headers=plain
    )
    assert unknown.status_code == 404
    for step in ("accepted", "departed", "arrived"):
        r = api.client.post(f"/api/orders/{order_id}/events", json={"type": step}, headers=plain)
        assert r.status_code == 200, r.text
    r = api.client.post(
        f"/api/orders/{order_id}/events",
        json={"type": "repaired", "note": "更换熔丝"},
        headers=plain,
    )
    assert r.json()["status"] == "repaired"
    events = r.json()["events"]
    assert [e["by"] for e in events[-4:]] == ["dispatcher"] * 4
    # a step the order's state does not allow
    r = api.client.post(f"/api/orders/{order_id}/events", json={"type": "departed"}, headers=plain)
    assert r.status_code == 409
    r = api.client.post(
        f"/api/orders/{order_id}/events", json={"type": "teleported"}, headers=plain
    )
    assert r.status_code == 422


def test_a_new_order_goes_to_the_nearest_crew_at_once(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Article 23: with auto-dispatch (the default) the crews of the imported layer are on
    the roster at start-up and the new order is dispatched before the answer."""
    for api in api_fixture(engine, tmp_path_factory, NOW, auto_dispatch=True):
        answer = open_incident(api)
        order = api.client.get(
            f"/api/orders/{answer['work_order_id']}", headers=api.headers(Role.DISPATCHER)
        ).json()
        assert order["status"] == "dispatched"
        assert order["crew_id"] in set(api.services.data.layer("crews")["id"])


def test_a_crew_finding_the_cause_confirms_the_incident_and_later_callers_hear_of_it(
    api: Api,
) -> None:
    """One caller's word is unconfirmed; the crew's 查明原因 confirms the incident (its
    stored state), and the next customer below it is answered from the known outage
    (article 25), where before the crew's report they would only have been merged."""
    answer = open_incident(api)
    plain = api.headers(Role.DISPATCHER)
    detail = api.client.get(f"/api/map/incidents/{answer['incident_id']}", headers=plain)
    assert detail.json()["state"] == "unconfirmed"
    order_id = answer["work_order_id"]
    crew = str(api.services.data.layer("crews")["id"].iat[0])
    api.client.post(f"/api/orders/{order_id}/assign", json={"crew_id": crew}, headers=plain)
    for step in ("accepted", "departed", "arrived"):
        r = api.client.post(f"/api/orders/{order_id}/events", json={"type": step}, headers=plain)
        assert r.status_code == 200, r.text
    r = api.client.post(
        f"/api/orders/{order_id}/events",
        json={"type": "cause_found", "cause": "熔丝熔断"},
        headers=plain,
    )
    assert r.status_code == 200, r.text
    detail = api.client.get(f"/api/map/incidents/{answer['incident_id']}", headers=plain)
    assert detail.json()["state"] == "confirmed"
    sps = api.services.data.layer("service_points")
    first = sps.iloc[0]
    neighbour = sps[
        (sps["transformer_id"] == first["transformer_id"]) & (sps["id"] != first["id"])
    ].iloc[0]
    later = api.client.post(
        "/api/calls",
        headers=api.headers(Role.AGENT),
        json={
            "call_id": "o2",
            "received_at": NOW.isoformat(),
            "account_no": str(neighbour["account_no"]),
            "symptom": "no_power",
        },
    ).json()
    assert (later["status"], later["incident_id"]) == ("known_outage", answer["incident_id"])
    assert later["work_order_id"] == order_id


def test_a_repair_ends_the_incident_and_a_later_call_is_a_new_fault(api: Api) -> None:
    """Once the crew reports supply back, the incident is restored (it leaves the public
    outage list) and the same customer calling again is about a new fault, not merged."""
    answer = open_incident(api)
    plain = api.headers(Role.DISPATCHER)
    order_id = answer["work_order_id"]
    crew = str(api.services.data.layer("crews")["id"].iat[0])
    api.client.post(f"/api/orders/{order_id}/assign", json={"crew_id": crew}, headers=plain)
    for step in ("accepted", "departed", "arrived", "repaired"):
        r = api.client.post(f"/api/orders/{order_id}/events", json={"type": step}, headers=plain)
        assert r.status_code == 200, r.text
    still_open = api.client.get("/api/map/incidents", headers=plain).json()
    assert answer["incident_id"] not in json.dumps(still_open)
    sps = api.services.data.layer("service_points")
    again = api.client.post(
        "/api/calls",
        headers=api.headers(Role.AGENT),
        json={
            "call_id": "o2",
            "received_at": NOW.isoformat(),
            "account_no": str(sps["account_no"].iat[0]),
            "symptom": "no_power",
        },
    ).json()
    assert again["status"] == "new"
    assert again["incident_id"] != answer["incident_id"]
