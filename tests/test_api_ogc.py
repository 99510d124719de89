"""OGC API - Features on both databases: collections, bbox filtering, paging, privacy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine, text
from test_api_support import Api, TestClient, api_fixture, load_grid, login, make_app

from api.auth import Role
from api.ogc import SERVED
from gis.spatial_sql import bbox_filter
from layers.store import LAYER_TABLES


@pytest.fixture
def api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(engine, tmp_path_factory)


def get(api: Api, url: str, role: Role = Role.AGENT, /, **params: Any) -> Any:
    return api.client.get(url, params=params, headers=api.headers(role))


def test_a_token_is_required(api: Api) -> None:
    for url in (
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/transformers",
        "/ogc/collections/transformers/items",
    ):
        r = api.client.get(url)
        assert r.status_code == 401, url
        assert r.headers["www-authenticate"] == "Bearer"
        assert get(api, url).status_code == 200, url


def test_landing_and_conformance(api: Api) -> None:
    landing = get(api, "/ogc").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["data"].endswith("/ogc/collections")
    assert api.client.get(rels["service-desc"]).status_code == 200
    classes = get(api, "/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes


def test_collections_are_the_layers_with_rows(api: Api) -> None:
    data = api.services.data
    body = get(api, "/ogc/collections").json()
    found = {c["id"]: c for c in body["collections"]}
    assert set(found) == {name for name in SERVED if data.has(name)}
    assert "schematic" not in found  # diagram coordinates are not on the Earth
    assert "places" not in found  # the grid has no gazetteer
    for name, collection in found.items():
        minx, miny, maxx, maxy = collection["extent"]["spatial"]["bbox"][0]
        geoms = [g for g in data.layer(name)["geometry"] if g is not None]
        bx0, by0, bx1, by1 = shapely.total_bounds(geoms)
        tolerance = 1e-5  # SpatiaLite's index keeps single-precision boxes
        assert minx <= bx0 + tolerance and miny <= by0 + tolerance
        assert maxx >= bx1 - tolerance and maxy >= by1 - tolerance
        rels = {link["rel"] for link in collection["links"]}
        assert {"self", "items"} <= rels
    one = get(api, "/ogc/collections/mv_lines").json()
    assert one["id"] == "mv_lines"
    assert get(api, "/ogc/collections/places").status_code == 404
    assert get(api, "/ogc/collections/schematic").status_code == 404
    assert get(api, "/ogc/collections/users").status_code == 404


def expected_in_box(api: Api, layer: str, box: tuple[float, float, float, float]) -> set[str]:
    frame = api.services.data.layer(layer)
    shape = shapely.box(*box)
    return {
        str(i)
        for i, g in zip(frame["id"], frame["geometry"], strict=True)
        if g is not None and g.intersects(shape)
    }


@pytest.mark.parametrize("layer", ["service_points", "mv_lines", "transformers"])
def test_bbox_is_filtered_in_the_database(api: Api, layer: str) -> None:
    x0, y0, x1, y1 = api.services.data.bounds()
    boxes = [
        (x0, y0, (x0 + x1) / 2, (y0 + y1) / 2),
        ((x0 + x1) / 2, y0, x1, y1),
        (x0 + (x1 - x0) * 0.3, y0 + (y1 - y0) * 0.3, x0 + (x1 - x0) * 0.6, y0 + (y1 - y0) * 0.6),
        (0.0, 0.0, 1.0, 1.0),
    ]
    for box in boxes:
        r = get(api, f"/ogc/collections/{layer}/items", bbox=",".join(map(str, box)), limit=10_000)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/geo+json")
        body = r.json()
        expected = expected_in_box(api, layer, box)
        assert {f["id"] for f in body["features"]} == expected
        assert body["numberMatched"] == body["numberReturned"] == len(expected)
        for f in body["features"]:
            assert shapely.geometry.shape(f["geometry"]).intersects(shapely.box(*box))


def test_the_bbox_filter_names_the_spatial_index(engine: Engine, api: Api) -> None:
    table = LAYER_TABLES["service_points"]
    with engine.connect() as conn:
        where = bbox_filter(conn, table, (113.0, 34.0, 114.0, 35.0))
        if conn.dialect.name == "sqlite":
            plan = conn.execute(
                text(f'EXPLAIN QUERY PLAN SELECT fid FROM "{table.name}" WHERE {where}')
            ).all()
            assert any("SpatialIndex" in str(row) or "VIRTUAL TABLE" in str(row) for row in plan)
        else:
            conn.execute(text("SET enable_seqscan = off"))
            plan = conn.execute(text(f'EXPLAIN SELECT fid FROM "{table.name}" WHERE {where}')).all()
            assert any("idx_layer_service_points_geom" in str(row) for row in plan)


def test_paging_with_next_links(api: Api) -> None:
    total = len(api.services.data.layer("service_points"))
    headers = api.headers(Role.AGENT)
    url: str | None = "/ogc/collections/service_points/items?limit=7"
    seen: list[str] = []
    pages = 0
    while url is not None:
        body = api.client.get(url, headers=headers).json()
        assert body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"]) <= 7
        seen.extend(f["id"] for f in body["features"])
        links = {link["rel"]: link["href"] for link in body["links"]}
        if pages:
            assert "prev" in links
        url = links.get("next")
        pages += 1
    assert pages == -(-total // 7)
    assert len(seen) == len(set(seen)) == total
    # paging keeps the bbox
    x0, y0, x1, y1 = api.services.data.bounds()
    box = f"{x0},{y0},{(x0 + x1) / 2},{y1}"
    body = get(api, "/ogc/collections/service_points/items", bbox=box, limit=3).json()
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "bbox=" in nxt and "offset=3" in nxt


def test_the_limit_is_capped(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> None:
    from test_api_support import add_users, grid_package

    services = load_grid(engine, grid_package(tmp_path_factory))
    add_users(engine)
    app = make_app(engine, services, ogc_max_limit=5, ogc_default_limit=3)
    with TestClient(app) as client:
        headers = login(client, Role.AGENT)
        body = client.get(
            "/ogc/collections/service_points/items?limit=100000", headers=headers
        ).json()
        assert body["numberReturned"] == 5
        body = client.get("/ogc/collections/service_points/items", headers=headers).json()
        assert body["numberReturned"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "1,2,3"},
        {"bbox": "a,b,c,d"},
        {"bbox": "114,34,113,35"},
        {"bbox": "0,0,500,1"},
        {"limit": "0"},
        {"limit": "many"},
        {"offset": "-1"},
        {"f": "html"},
    ],
)
def test_bad_parameters_are_400(api: Api, params: dict[str, str]) -> None:
    r = get(api, "/ogc/collections/transformers/items", **params)
    assert r.status_code == 400
    assert r.json()["detail"]


def test_personal_fields_for_supervisors_only(api: Api) -> None:
    sps = api.services.data.layer("service_points")
    for role in (Role.AGENT, Role.DISPATCHER):
        body = get(api, "/ogc/collections/service_points/items", role, limit=1000).json()
        for f in body["features"]:
            assert not {"name", "phone", "account_no"} & set(f["properties"])
            assert f["properties"]["transformer_id"]
        text_body = str(body)
        assert not any(str(a) in text_body for a in sps["account_no"])
        one = get(api, f"/ogc/collections/service_points/items/{sps['id'].iat[0]}", role).json()
        assert "phone" not in one["properties"]
    for role in (Role.SUPERVISOR, Role.ADMIN):
        body = get(api, "/ogc/collections/service_points/items", role, limit=1000).json()
        props = {f["id"]: f["properties"] for f in body["features"]}
        row = sps.iloc[0]
        assert props[row["id"]]["account_no"] == row["account_no"]
        assert props[row["id"]]["phone"] == row["phone"]
    # other layers keep their columns for everybody
    units = get(api, "/ogc/collections/units/items").json()["features"]
    assert "name" in units[0]["properties"]


def test_one_feature(api: Api) -> None:
    tr = api.services.data.layer("transformers").iloc[0]
    r = get(api, f"/ogc/collections/transformers/items/{tr['id']}")
    assert r.status_code == 200
    feature = r.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == tr["id"]
    assert feature["properties"]["name"] == tr["name"]
    assert shapely.geometry.shape(feature["geometry"]).equals_exact(tr["geometry"], 1e-9)
    assert get(api, "/ogc/collections/transformers/items/NOPE").status_code == 404
    assert get(api, "/ogc/collections/admin_areas/items/T1").json()["properties"]["level"] == (
        "township"
    )
