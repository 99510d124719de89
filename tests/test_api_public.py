"""The public outage query on both databases: by position, account and area; faults and
notices; and no customer's personal data anywhere in an answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from test_api_support import Api, api_fixture

from api.auth import Role
from api.schemas import PublicOutage
from gis.crs import wgs84_to_gcj02
from layers.network import NetworkModel

NOW = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


@dataclass
class Scene:
    api: Api
    in_effect: dict[str, Any]  # a temporary notice in effect now
    soon: dict[str, Any]  # a planned notice in 3 days
    later: dict[str, Any]  # a planned notice in 9 days: beyond the horizon
    fault_transformer: str
    incident_id: str
    responses: list[str]

    def get(self, **params: Any) -> Any:
        r = self.api.client.get("/api/public/outages", params=params)
        self.responses.append(r.text)
        return r

    def accounts(self, transformer: str) -> list[str]:
        sps = self.api.services.data.layer("service_points")
        return [str(a) for a in sps.loc[sps["transformer_id"] == transformer, "account_no"]]

    def position(self, transformer: str) -> tuple[float, float]:
        sps = self.api.services.data.layer("service_points")
        geom = sps.loc[sps["transformer_id"] == transformer, "geometry"].iloc[0]
        return float(geom.x), float(geom.y)


def disjoint_fuses(model: NetworkModel, n: int) -> list[str]:
    """Fuses with customers below them, no two sharing a transformer."""
    chosen: list[str] = []
    taken: set[str] = set()
    fuses = sorted(
        (s for s, k in model.switch_kind.items() if k == "fuse"),
        key=lambda s: -len(model.downstream_transformers(s)),
    )
    for fuse in fuses:
        below = set(model.downstream_transformers(fuse))
        if below and not below & taken:
            chosen.append(fuse)
            taken |= below
    assert len(chosen) >= n
    return chosen[:n]


def publish(api: Api, fuse: str, start: datetime, hours: float, **extra: Any) -> dict[str, Any]:
    body = {
        "switch_ids": [fuse],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        **extra,
    }
    r = api.client.post("/api/planned-outages", json=body, headers=api.headers(Role.DISPATCHER))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def build_scene(api: Api) -> Scene:
    """Three notices (in effect, in 3 days, in 9 days) on disjoint fuses, and a fault
    reported by two customers of a transformer none of them covers."""
    model = api.services.model
    f1, f2, f3 = disjoint_fuses(model, 3)
    in_effect = publish(
        api, f1, NOW - timedelta(hours=1), 5, kind="temporary", reason="抢修：更换跌落式熔断器"
    )
    soon = publish(
        api, f2, NOW + timedelta(days=3), 8, reason="10kV线路检修", late_reason="配合道路施工"
    )
    later = publish(api, f3, NOW + timedelta(days=9), 8, reason="变压器增容")
    covered = {t for f in (f1, f2, f3) for t in model.downstream_transformers(f)}
    fault = next(t for t in model.transformer_ids if t not in covered)
    agent = api.headers(Role.AGENT)
    sps = api.services.data.layer("service_points")
    accounts = [str(a) for a in sps.loc[sps["transformer_id"] == fault, "account_no"]]
    incident = None
    for i, account in enumerate(accounts[:2]):
        r = api.client.post(
            "/api/calls",
            headers=agent,
            json={
                "call_id": f"f{i}",
                "received_at": (NOW + timedelta(minutes=i)).isoformat(),
                "account_no": account,
                "caller_name": "王小明",
                "caller_phone": "13812345678",
                "symptom": "no_power",
            },
        )
        incident = r.json()["incident_id"]
    assert incident is not None
    return Scene(api, in_effect, soon, later, fault, incident, [])


@pytest.fixture
def scene(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    for api in api_fixture(engine, tmp_path_factory, NOW):
        yield build_scene(api)


def ids(response: Any) -> list[str]:
    return [o["id"] for o in response.json()["outages"]]


def test_by_account(scene: Scene) -> None:
    notice = scene.in_effect
    r = scene.get(account_no=scene.accounts(notice["affected_transformers"][0])[0])
    assert r.status_code == 200
    body = r.json()
    assert ids(r) == [notice["id"]]
    outage = body["outages"][0]
    assert outage["kind"] == "temporary"
    assert outage["status"] == "in_effect"
    assert outage["cause"] == "抢修：更换跌落式熔断器"
    assert datetime.fromisoformat(outage["start"]) == NOW - timedelta(hours=1)
    assert datetime.fromisoformat(outage["estimated_restoration"]) == NOW + timedelta(hours=4)
    assert outage["affected_area"]["type"] in ("Polygon", "MultiPolygon")
    assert outage["areas"] == notice["areas"]
    assert outage["affected_customers"] == notice["affected_service_points"]
    assert body["horizon_days"] == 7
    assert r.headers["cache-control"] == "no-store"
    # spaces inside the number, as customers type it
    spaced = " ".join(scene.accounts(notice["affected_transformers"][0])[0])
    assert ids(scene.get(account_no=spaced)) == [notice["id"]]
    # full-width digits from a Chinese input method, a label and read-out dashes, as the
    # agent console takes them
    account = scene.accounts(notice["affected_transformers"][0])[0]
    wide = "户号：" + "-".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in account)
    assert ids(scene.get(account_no=wide)) == [notice["id"]]


def test_a_fault_is_listed_with_its_cause_and_estimate(scene: Scene) -> None:
    r = scene.get(account_no=scene.accounts(scene.fault_transformer)[-1])
    assert ids(r) == [scene.incident_id]
    fault = r.json()["outages"][0]
    assert fault["kind"] == "fault"
    assert fault["cause"] == "故障停电（配电变压器）"
    assert fault["device_kind"] == "transformer"
    assert datetime.fromisoformat(fault["start"]) <= NOW
    # rural: the 90-minute arrival commitment and the 4-hour restoration limit
    assert datetime.fromisoformat(fault["estimated_restoration"]) == datetime.fromisoformat(
        fault["start"]
    ) + timedelta(minutes=90 + 240)
    assert fault["affected_customers"] == len(scene.accounts(scene.fault_transformer))
    # when that time has passed, no time rather than a time in the past
    scene.api.clock.now = NOW + timedelta(hours=7)
    late = scene.get(account_no=scene.accounts(scene.fault_transformer)[-1]).json()["outages"]
    assert late[0]["estimated_restoration"] is None


def test_upcoming_within_seven_days_only(scene: Scene) -> None:
    r = scene.get(account_no=scene.accounts(scene.soon["affected_transformers"][0])[0])
    assert ids(r) == [scene.soon["id"]]
    assert r.json()["outages"][0]["status"] == "upcoming"
    r = scene.get(account_no=scene.accounts(scene.later["affected_transformers"][0])[0])
    assert ids(r) == []
    assert "没有" in r.json()["message"]
    everything = scene.get()
    assert set(ids(everything)) == {scene.in_effect["id"], scene.soon["id"], scene.incident_id}
    scene.api.clock.now = NOW + timedelta(days=3)  # the 9-day notice comes within 7 days
    assert scene.later["id"] in ids(scene.get())


def test_an_unaffected_account_and_an_unknown_one(scene: Scene) -> None:
    model = scene.api.services.model
    affected = (
        set(scene.in_effect["affected_transformers"])
        | set(scene.soon["affected_transformers"])
        | {scene.fault_transformer}
    )
    quiet = next(t for t in model.transformer_ids if t not in affected)
    r = scene.get(account_no=scene.accounts(quiet)[0])
    assert r.status_code == 200
    assert r.json()["outages"] == []
    r = scene.get(account_no="0000000000")
    assert r.status_code == 404
    assert "户号" in r.json()["detail"]
    assert "0000000000" not in r.text


def test_by_position(scene: Scene) -> None:
    lon, lat = scene.position(scene.in_effect["affected_transformers"][0])
    r = scene.get(lon=lon, lat=lat)
    assert r.status_code == 200
    assert r.json()["in_service_area"] is True
    assert scene.in_effect["id"] in ids(r)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert scene.in_effect["id"] in ids(scene.get(lon=glon, lat=glat, coord_sys="GCJ02"))
    lon, lat = scene.position(scene.fault_transformer)
    assert scene.incident_id in ids(scene.get(lon=lon, lat=lat))


def test_a_position_outside_the_service_area(scene: Scene) -> None:
    for lon, lat in ((0.0, 0.0), (114.5, 34.7), (113.6, 36.0)):
        r = scene.get(lon=lon, lat=lat)
        assert r.status_code == 200
        body = r.json()
        assert body["outages"] == []
        assert body["in_service_area"] is False
        assert "outside the service area" in body["message"]


def test_by_area(scene: Scene) -> None:
    notice = scene.in_effect
    town = notice["areas"][0]
    assert town in ("城关镇", "谷营镇")
    assert notice["id"] in ids(scene.get(area=town))
    village = notice["areas"][1]
    assert notice["id"] in ids(scene.get(area=village))
    # a township and one of its villages, as people write it
    assert notice["id"] in ids(scene.get(area=f"{town}{village}"))
    other = "谷营镇" if town == "城关镇" else "城关镇"
    assert notice["id"] not in ids(scene.get(area=other))
    r = scene.get(area="火星村")
    assert r.status_code == 404
    assert "火星村" in r.json()["detail"]


def test_ambiguous_village_names(scene: Scene) -> None:
    admin = scene.api.client.app.state.context.planner.admin  # type: ignore[attr-defined]
    both = admin.matching("李庄村")
    assert len(both) == 2
    one = admin.matching("谷营镇李庄村")
    assert [admin.areas[i].id for i in one] == ["V4"]
    assert [admin.areas[i].id for i in admin.matching("城关镇李庄")] == ["V2"]
    assert [admin.areas[i].name for i in admin.matching("何庄")] == ["何庄村"]


def test_questions_that_cannot_be_answered(scene: Scene) -> None:
    assert scene.get(lon=113.6).status_code == 400
    assert scene.get(lon=113.6, lat=34.7, account_no="1").status_code == 400
    assert scene.get(area="城关镇", account_no="1").status_code == 400
    assert scene.get(lon="east", lat=34.7).status_code == 422
    assert scene.get(lon=113.6, lat=34.7, coord_sys="BD09").status_code == 422


def test_a_cancelled_notice_is_gone(scene: Scene) -> None:
    notice = scene.in_effect
    r = scene.api.client.post(
        f"/api/planned-outages/{notice['id']}/cancel", headers=scene.api.headers(Role.DISPATCHER)
    )
    assert r.status_code == 200
    assert notice["id"] not in ids(scene.get())


def test_no_personal_data_in_any_public_answer(scene: Scene) -> None:
    sps = scene.api.services.data.layer("service_points")
    model = scene.api.services.model
    # every kind of question, for every transformer
    for transformer in model.transformer_ids:
        scene.get(account_no=scene.accounts(transformer)[0])
        lon, lat = scene.position(transformer)
        scene.get(lon=lon, lat=lat)
    for area in ("城关镇", "谷营镇", "张庄村", "李庄村", "何庄村"):
        scene.get(area=area)
    scene.get()
    scene.get(account_no="0000000000")
    scene.get(lon=0, lat=0)
    assert len(scene.responses) > 2 * len(model.transformer_ids)
    text = "\n".join(scene.responses)
    secrets = ["王小明", "13812345678"]
    for column in ("name", "phone", "account_no", "address"):
        secrets.extend(str(v) for v in sps[column].dropna())
    assert len(secrets) > 3 * len(sps)
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    # and the answer's shape has no place for them
    allowed = set(PublicOutage.model_fields)
    for raw in scene.responses:
        body = json.loads(raw)
        for outage in body.get("outages", []):
            assert set(outage) == allowed
    assert not {"name", "phone", "account_no", "address", "caller_name", "caller_phone"} & allowed
