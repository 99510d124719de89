"""Outage notices (article 31): the impact computed from the network, the 7-day rule, and
``/api/planned-outages`` on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from sqlalchemy import Engine, select
from test_api_support import Api, api_fixture, grid_package

from api.auth import Role
from api.auth_store import audit_events
from layers.importer import prepare
from layers.network import NetworkModel
from outages.planned import (
    LateNoticeError,
    NoticeKind,
    NoticeWindowError,
    OutagePlanner,
    UnknownSwitchesError,
    check_notice,
)

NOW = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> OutagePlanner:
    data, model, _problems = prepare(grid_package(tmp_path_factory))
    assert data is not None and model is not None
    return OutagePlanner(model)


def loaded_switches(model: NetworkModel) -> list[str]:
    """Normally closed switches with customers below them."""
    return [
        s
        for s in model.switch_ids
        if model.normal_state[s] == "closed" and model.downstream_service_point_count(s)
    ]


# -- the rules ----------------------------------------------------------------------------


def test_a_planned_outage_is_published_seven_days_ahead() -> None:
    start = NOW + timedelta(days=7)
    check_notice(NoticeKind.PLANNED, start, start + timedelta(hours=8), NOW, None)
    with pytest.raises(LateNoticeError, match="7 days ahead"):
        check_notice(NoticeKind.PLANNED, start - timedelta(minutes=1), start, NOW, None)
    with pytest.raises(LateNoticeError):
        check_notice(NoticeKind.PLANNED, start - timedelta(days=6), start, NOW, "   ")
    check_notice(NoticeKind.PLANNED, NOW + timedelta(days=2), start, NOW, "抢修后恢复正常方式")


def test_a_temporary_outage_needs_no_notice_period() -> None:
    check_notice(NoticeKind.TEMPORARY, NOW, NOW + timedelta(hours=2), NOW, None)
    check_notice(
        NoticeKind.TEMPORARY, NOW - timedelta(hours=1), NOW + timedelta(hours=2), NOW, None
    )


def test_windows_must_make_sense() -> None:
    start = NOW + timedelta(days=10)
    with pytest.raises(NoticeWindowError, match="before it starts"):
        check_notice(NoticeKind.PLANNED, start, start - timedelta(hours=1), NOW, None)
    with pytest.raises(NoticeWindowError, match="before it starts"):
        check_notice(NoticeKind.TEMPORARY, start, start, NOW, None)
    with pytest.raises(NoticeWindowError, match="before publication"):
        check_notice(
            NoticeKind.TEMPORARY, NOW - timedelta(hours=5), NOW - timedelta(hours=1), NOW, None
        )
    # entered after the fact (补录), with the reason recorded
    for kind in NoticeKind:
        check_notice(kind, NOW - timedelta(days=140), NOW - timedelta(days=139), NOW, "补录")
    with pytest.raises(NoticeWindowError, match="UTC offset"):
        check_notice(NoticeKind.PLANNED, start.replace(tzinfo=None), start, NOW, None)


# -- the impact ---------------------------------------------------------------------------


def test_each_switch_takes_off_what_is_below_it(planner: OutagePlanner) -> None:
    model = planner.model
    switches = loaded_switches(model)
    assert len(switches) >= 3
    for switch in switches:
        impact = planner.impact([switch])
        assert set(impact.transformers) == set(model.downstream_transformers(switch))
        assert impact.service_points == model.downstream_service_point_count(switch)
        assert impact.already_open == ()


def test_impact_is_energised_before_and_not_after(planner: OutagePlanner) -> None:
    """Against a direct computation with the model, for pairs of switches (nested or not)."""
    model = planner.model
    switches = loaded_switches(model)
    sps = model.data.layer("service_points")
    for a, b in zip(switches, switches[1:] + switches[:1], strict=True):
        impact = planner.impact([a, b, a])
        after = model.with_switch_states({a: "open", b: "open"})
        expected_tr = {
            t for t in model.transformer_ids if model.is_energised(t) and not after.is_energised(t)
        }
        expected_sp = {
            sp for sp in sps["id"] if model.is_energised(sp) and not after.is_energised(sp)
        }
        assert set(impact.transformers) == expected_tr
        assert impact.service_points == len(expected_sp)
        union = set(model.downstream_service_points(a)) | set(model.downstream_service_points(b))
        assert expected_sp == union


def test_areas_name_the_townships_and_villages_of_the_transformers(
    planner: OutagePlanner,
) -> None:
    data = planner.data
    admin = data.layer("admin_areas")
    for switch in loaded_switches(planner.model):
        impact = planner.impact([switch])
        expected: set[str] = set()
        for t in impact.transformers:
            point = shapely.Point(*data.element_location(t))  # type: ignore[misc]
            for _i, area in admin[admin["level"] != "county"].iterrows():
                if area["geometry"].intersects(point):
                    expected.add(str(area["name"]))
        assert set(impact.areas) == expected
        assert "兰考县" not in impact.areas
        # each township is followed by its villages
        if impact.areas:
            assert impact.areas[0] in ("城关镇", "谷营镇")


def test_the_area_outline_covers_every_affected_customer(planner: OutagePlanner) -> None:
    model = planner.model
    sps = model.data.layer("service_points").set_index("id")
    switch = max(loaded_switches(model), key=model.downstream_service_point_count)
    impact = planner.impact([switch])
    assert impact.area is not None
    outline = shapely.from_geojson(json.dumps(impact.area))
    assert outline.is_valid
    assert outline.geom_type in ("Polygon", "MultiPolygon")
    for sp in model.downstream_service_points(switch):
        assert outline.contains(sps.loc[sp, "geometry"])
    others = set(sps.index) - set(model.downstream_service_points(switch))
    outside = [sp for sp in others if not outline.contains(sps.loc[sp, "geometry"])]
    assert len(outside) >= len(others) * 0.8  # an outline, not the whole county


def test_unknown_switches_are_named(planner: OutagePlanner) -> None:
    some = planner.model.switch_ids[0]
    transformer = planner.model.transformer_ids[0]
    with pytest.raises(UnknownSwitchesError) as err:
        planner.impact([some, "NOPE1", transformer, "NOPE1"])
    assert err.value.ids == ["NOPE1", transformer]
    assert "NOPE1" in str(err.value)


def test_a_normally_open_tie_takes_nobody_off(planner: OutagePlanner) -> None:
    tie = next(s for s, state in planner.model.normal_state.items() if state == "open")
    impact = planner.impact([tie])
    assert impact.transformers == ()
    assert impact.service_points == 0
    assert impact.already_open == (tie,)
    assert impact.area is None


# -- the API -------------------------------------------------------------------------------


@pytest.fixture
def api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(engine, tmp_path_factory, NOW)


def notice(
    switches: list[str], start_days: float, hours: float = 8, **extra: object
) -> dict[str, object]:
    start = NOW + timedelta(days=start_days)
    return {
        "switch_ids": switches,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "reason": "10kV线路检修",
        **extra,
    }


def test_publish_a_planned_outage(api: Api) -> None:
    model = api.services.model
    switch = max(loaded_switches(model), key=model.downstream_service_point_count)
    r = api.client.post(
        "/api/planned-outages", json=notice([switch], 8), headers=api.headers(Role.DISPATCHER)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("PO20260701")
    assert body["kind"] == "planned"
    assert body["status"] == "upcoming"
    assert body["published_by"] == "dispatcher"
    assert set(body["affected_transformers"]) == set(model.downstream_transformers(switch))
    assert body["affected_service_points"] == model.downstream_service_point_count(switch)
    names = {"城关镇", "谷营镇", "张庄村", "李庄村", "何庄村"}
    assert body["areas"] and set(body["areas"]) <= names
    assert body["affected_area"]["type"] in ("Polygon", "MultiPolygon")
    assert datetime.fromisoformat(body["start"]) == NOW + timedelta(days=8)
    got = api.client.get(f"/api/planned-outages/{body['id']}", headers=api.headers(Role.SUPERVISOR))
    assert got.status_code == 200
    assert got.json() == {**body, "warnings": []}


def test_seven_day_rule_and_late_reason(api: Api) -> None:
    switch = loaded_switches(api.services.model)[0]
    headers = api.headers(Role.DISPATCHER)
    r = api.client.post("/api/planned-outages", json=notice([switch], 3), headers=headers)
    assert r.status_code == 422
    assert "7 days" in r.json()["detail"] and "late_reason" in r.json()["detail"]
    r = api.client.post(
        "/api/planned-outages",
        json=notice([switch], 3, late_reason="防汛抢修，无法提前7天公告"),
        headers=headers,
    )
    assert r.status_code == 201
    assert r.json()["late_reason"] == "防汛抢修，无法提前7天公告"
    r = api.client.post(
        "/api/planned-outages", json=notice([switch], 0.1, kind="temporary"), headers=headers
    )
    assert r.status_code == 201
    assert r.json()["kind"] == "temporary"
    assert r.json()["id"] != ""


def test_refusals_are_422_and_say_why(api: Api) -> None:
    switch = loaded_switches(api.services.model)[0]
    headers = api.headers(Role.DISPATCHER)
    r = api.client.post(
        "/api/planned-outages", json=notice([switch, "X1", "X2"], 8), headers=headers
    )
    assert r.status_code == 422
    assert "X1" in r.json()["detail"] and "X2" in r.json()["detail"]
    assert switch not in r.json()["detail"]
    bad = notice([switch], 8)
    bad["end"] = (NOW + timedelta(days=7)).isoformat()
    r = api.client.post("/api/planned-outages", json=bad, headers=headers)
    assert r.status_code == 422
    assert "before it starts" in r.json()["detail"]
    r = api.client.post("/api/planned-outages", json=notice([], 8), headers=headers)
    assert r.status_code == 422
    naive = notice([switch], 8)
    naive["start"] = "2026-07-10T08:00:00"
    assert api.client.post("/api/planned-outages", json=naive, headers=headers).status_code == 422
    r = api.client.post(
        "/api/planned-outages", json=notice([switch], 8, kind="whenever"), headers=headers
    )
    assert r.status_code == 422
    with api.engine.connect() as conn:
        from outages.store import planned_outages

        assert conn.execute(select(planned_outages)).first() is None


def test_list_get_and_cancel(api: Api) -> None:
    switches = loaded_switches(api.services.model)
    headers = api.headers(Role.DISPATCHER)
    ids = []
    for i, switch in enumerate(switches[:3]):
        r = api.client.post("/api/planned-outages", json=notice([switch], 8 + i), headers=headers)
        ids.append(r.json()["id"])
    assert len(set(ids)) == 3
    listed = api.client.get("/api/planned-outages", headers=headers).json()
    assert [n["id"] for n in listed] == ids
    r = api.client.post(
        f"/api/planned-outages/{ids[1]}/cancel", json={"reason": "施工改期"}, headers=headers
    )
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    again = api.client.post(f"/api/planned-outages/{ids[1]}/cancel", headers=headers)
    assert again.status_code == 200
    assert again.json()["cancelled_at"] == r.json()["cancelled_at"]
    listed = api.client.get("/api/planned-outages", headers=headers).json()
    assert [n["id"] for n in listed] == [ids[0], ids[2]]
    everything = api.client.get(
        "/api/planned-outages?include_cancelled=true", headers=headers
    ).json()
    assert [n["id"] for n in everything] == ids
    assert api.client.get("/api/planned-outages/PO1", headers=headers).status_code == 404
    assert api.client.post("/api/planned-outages/PO1/cancel", headers=headers).status_code == 404
    # the notice's life is in the audit log
    with api.engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.action, audit_events.c.actor, audit_events.c.details)
            .where(audit_events.c.target == ids[1])
            .order_by(audit_events.c.id)
        ).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("notice_published", "dispatcher"),
        ("notice_cancelled", "dispatcher"),
    ]
    assert rows[1].details["reason"] == "施工改期"


def test_a_notice_that_is_over_cannot_be_cancelled(api: Api) -> None:
    switch = loaded_switches(api.services.model)[0]
    headers = api.headers(Role.DISPATCHER)
    r = api.client.post(
        "/api/planned-outages", json=notice([switch], 0, 2, kind="temporary"), headers=headers
    )
    notice_id = r.json()["id"]
    api.clock.now = NOW + timedelta(hours=3)
    assert api.client.get("/api/planned-outages", headers=headers).json() == []
    past = api.client.get("/api/planned-outages?include_past=true", headers=headers).json()
    assert [n["status"] for n in past] == ["over"]
    r = api.client.post(f"/api/planned-outages/{notice_id}/cancel", headers=headers)
    assert r.status_code == 409


def test_opening_a_tie_is_published_with_a_warning(api: Api) -> None:
    tie = next(s for s, st in api.services.model.normal_state.items() if st == "open")
    r = api.client.post(
        "/api/planned-outages", json=notice([tie], 8), headers=api.headers(Role.DISPATCHER)
    )
    assert r.status_code == 201
    assert r.json()["affected_service_points"] == 0
    assert len(r.json()["warnings"]) == 2
