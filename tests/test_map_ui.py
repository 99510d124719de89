"""The maps without a browser: they render, reference nothing outside this machine, draw our
own layers instead of tiles, and draw every incident with its device, area, calls and unit."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import folium
import pytest
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

import gis  # noqa: F401  (pyproj/pyogrio before SpatiaLite)
from layers.grid import GridData
from layers.network import NetworkModel
from map_ui import geojson
from map_ui.base_map import base_map
from map_ui.folium_offline import (
    STATIC_DIR,
    OfflineAssetError,
    localise,
    map_parts,
    outside_urls,
    render_html,
)
from map_ui.storm_map import (
    CallMark,
    IncidentView,
    affected_area,
    device_kind,
    downstream_lines,
    incidents_from_replay,
    storm_map,
    write_storm_map,
)

LOCAL_REF = re.compile(r"""(?:src|href)=["'](/static/[^"']+)["']""")


def shows(html: str, text: str) -> bool:
    """Text in the page as HTML or inside a script (folium writes names as JSON escapes)."""
    escaped = json.dumps(text)[1:-1]
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        escaped = escaped.replace(char, code)
    return text in html or escaped in html


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[GridData, NetworkModel]:
    from layers.demo.county import write_county
    from layers.importer import prepare

    path = tmp_path_factory.mktemp("county") / "county.gpkg"
    write_county(path, seed=0, scale=0.01)
    data, model, problems = prepare(path)
    assert data is not None and model is not None
    assert not [p for p in problems if p.severity == "error"]
    return data, model


def _device(data: GridData, model: NetworkModel, kind: str) -> str:
    """A device of ``kind`` that cuts off customers."""
    if kind == "transformer":
        ids = data.layer("transformers")["id"].tolist()
    else:
        sw = data.layer("switches")
        ids = sw[sw["kind"] == kind]["id"].tolist()
    for device in ids:
        if model.downstream_service_point_count(device) >= 2:
            return str(device)
    raise AssertionError(f"no {kind} with customers")


@pytest.fixture(scope="module")
def incidents(county: tuple[GridData, NetworkModel]) -> list[IncidentView]:
    data, model = county
    sp = data.layer("service_points").set_index("id")
    out = []
    for n, kind in enumerate(("breaker", "fuse", "transformer"), start=1):
        device = _device(data, model, kind)
        callers = model.downstream_service_points(device)[:3]
        calls = [
            CallMark(f"C{n}{i}", sp.loc[c, "geometry"].x, sp.loc[c, "geometry"].y, "merged",
                     method="account", confidence=0.99)
            for i, c in enumerate(callers)
        ]  # fmt: skip
        out.append(
            IncidentView(
                id=f"INC{n:06d}",
                device_id=device,
                unit_id=str(data.layer("units")["id"].iat[0]),
                state="confirmed" if n == 1 else "unconfirmed",
                calls=calls,
                evidence=[f"call C{n}0: shares {device}", "inferred device <script>x</script>"],
            )
        )
    return out


def test_base_map_uses_only_local_assets_and_no_tiles(
    county: tuple[GridData, NetworkModel],
) -> None:
    data, _model = county
    html = render_html(base_map(data))
    assert outside_urls(html) == []
    assert "L.tileLayer" not in html
    assert 'src="/static/vendor/leaflet/leaflet.js"' in html
    assert 'href="/static/vendor/fontawesome-free/css/all.min.css"' in html
    assert 'href="/static/gridmap.css"' in html
    assert "glyphicons" not in html
    for ref in LOCAL_REF.findall(html):
        assert (STATIC_DIR / ref.removeprefix("/static/")).is_file(), ref


def test_base_map_draws_our_layers_with_chinese_labels(
    county: tuple[GridData, NetworkModel],
) -> None:
    data, model = county
    html = render_html(base_map(data))
    for title in (
        "乡镇界",
        "县界",
        "道路",
        "供电所辖区",
        "10kV线路（按线路着色）",
        "变电站",
        "供电所",
    ):
        assert shows(html, title), title
    township = data.layer("admin_areas").query("level == 'township'")["name"].iat[0]
    assert shows(html, f'<div class="gc-label gc-label-township">{township}</div>')
    assert "L.control.layers" in html
    assert "L.control.scale" in html
    for feeder in model.feeders()[:3]:
        assert shows(html, feeder)


def test_public_base_map_has_no_network(county: tuple[GridData, NetworkModel]) -> None:
    data, _model = county
    html = render_html(base_map(data, groups=geojson.PUBLIC_GROUPS))
    substation = str(data.layer("substations")["name"].iat[0])
    assert not shows(html, substation)
    assert not shows(html, "10kV线路")
    assert str(data.layer("service_points")["account_no"].iat[0]) not in html


def test_every_feeder_is_one_coloured_feature(county: tuple[GridData, NetworkModel]) -> None:
    data, model = county
    fc = geojson.feeders(data)
    names = [f["properties"]["feeder"] for f in fc["features"]]
    assert names == sorted(model.feeders())
    colours = [f["properties"]["style"]["color"] for f in fc["features"]]
    assert all(a != b for a, b in itertools.pairwise(colours))


def test_an_element_wanting_an_unknown_cdn_asset_is_refused() -> None:
    class Widget(JSCSSMixin, MacroElement):
        _template = Template("")
        default_js = [("widget", "https://cdn.example.com/widget.js")]  # noqa: RUF012

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._name = "Widget"

    m = folium.Map(tiles=None)
    Widget().add_to(m)
    with pytest.raises(OfflineAssetError, match=r"vendor-assets\.sh"):
        localise(m.get_root())


def test_folium_class_lists_are_left_alone(county: tuple[GridData, NetworkModel]) -> None:
    render_html(base_map(county[0]))
    assert folium.Map.default_js[0][1].startswith("https://")


def test_storm_map_draws_each_incident(
    county: tuple[GridData, NetworkModel], incidents: list[IncidentView]
) -> None:
    data, model = county
    html = render_html(storm_map(data, model, incidents))
    assert outside_urls(html) == []
    unit_name = str(data.layer("units")["name"].iat[0])
    for inc in incidents:
        assert shows(html, f"事件 {inc.id}")
        assert inc.device_id is not None and inc.device_id in html
        for call in inc.calls:
            assert shows(html, f"{call.call_id} → {inc.id}")
        assert shows(html, f"{unit_name} → {inc.id}")
    for marker in ("fa-power-off", "power-off", "fire", "plug"):
        assert marker in html
    assert shows(html, "停电范围") and shows(html, "故障设备（推断）")
    assert "<script>x</script>" not in html  # evidence is escaped
    assert shows(html, "&lt;script&gt;x&lt;/script&gt;")


def test_many_calls_are_clustered_from_local_assets(
    county: tuple[GridData, NetworkModel], incidents: list[IncidentView]
) -> None:
    data, model = county
    html = render_html(storm_map(data, model, incidents, cluster_over=0))
    assert "L.markerClusterGroup" in html
    assert 'src="/static/vendor/leaflet.markercluster/leaflet.markercluster.js"' in html
    assert outside_urls(html) == []


def test_written_storm_map_opens_from_disk(
    county: tuple[GridData, NetworkModel], incidents: list[IncidentView], tmp_path: Path
) -> None:
    data, model = county
    page = write_storm_map(tmp_path / "storm", data, model, incidents)
    html = page.read_text(encoding="utf-8")
    assert outside_urls(html) == []
    assert "/static/" not in html
    refs = re.findall(r"""(?:src|href)=["'](static/[^"']+)["']""", html)
    assert refs
    for ref in refs:
        assert (page.parent / ref).is_file(), ref
    css = (page.parent / "static/vendor/fontawesome-free/css/all.min.css").read_text()
    for font in re.findall(r"url\(\.\./webfonts/([^)?#]+)", css):
        assert (page.parent / "static/vendor/fontawesome-free/webfonts" / font).is_file()
    single = write_storm_map(tmp_path / "one" / "storm.html", data, model, incidents)
    assert single.name == "storm.html" and (single.parent / "static/gridmap.css").is_file()


def test_affected_area_covers_the_devices_customers(county: tuple[GridData, NetworkModel]) -> None:
    data, model = county
    device = _device(data, model, "fuse")
    area = affected_area(data, model, device)
    rows = model.downstream_service_point_rows(device)
    points = data.layer("service_points")["geometry"].take(rows).tolist()
    assert area is not None and all(area.buffer(1e-6).contains(p) for p in points)
    others = data.layer("service_points")["geometry"].tolist()
    assert sum(area.contains(p) for p in others) < len(others)


def test_downstream_lines_stay_on_the_devices_feeder(county: tuple[GridData, NetworkModel]) -> None:
    data, model = county
    device = _device(data, model, "breaker")
    lines = downstream_lines(model, device)
    assert lines
    assert {model.feeder_of(s) for s in lines} == {model.feeder_of(device)}
    assert device_kind(data, device) == "breaker"
    assert device_kind(data, "nothing") == "unknown"


def test_incidents_from_replay_lines() -> None:
    answers: list[dict[str, Any]] = [
        {"call_id": "a", "status": "new", "incident_id": "INC1", "work_order_id": "WO-INC1",
         "predicted_device_id": "TR1", "unit_id": "U1", "reason": "opened",
         "location": {"lon": 114.8, "lat": 34.8, "method": "account", "confidence": 1.0}},
        {"call_id": "b", "status": "merged", "incident_id": "INC1", "work_order_id": "WO-INC1",
         "predicted_device_id": "SW9", "unit_id": "U1", "reason": "shares SW9",
         "location": {"lon": 114.81, "lat": 34.81, "method": "pole", "confidence": 0.8}},
        {"call_id": "c", "status": "consult", "incident_id": None, "location": None,
         "reason": "consult"},
        {"final": {"incidents": [{"incident_id": "INC1", "predicted_device_id": "SW9",
                                  "unit_id": "U1", "call_ids": ["a", "b"]}]}},
    ]  # fmt: skip
    views = incidents_from_replay(json.dumps(a) for a in answers)
    assert len(views) == 1
    inc = views[0]
    assert (inc.id, inc.device_id, inc.unit_id, inc.work_order_id) == (
        "INC1",
        "SW9",
        "U1",
        "WO-INC1",
    )
    assert [(c.call_id, c.method) for c in inc.calls] == [("a", "account"), ("b", "pole")]
    assert inc.evidence == ["a: opened", "b: shares SW9"]
    cut = incidents_from_replay(json.dumps(a) for a in answers[:2])
    assert cut[0].device_id == "SW9" and len(cut[0].calls) == 2


def test_map_parts_publish_the_map_to_the_page(county: tuple[GridData, NetworkModel]) -> None:
    parts = map_parts(base_map(county[0], groups=geojson.PUBLIC_GROUPS, handle=True))
    assert f'id="{parts.name}"' in parts.html
    assert "/static/vendor/leaflet/leaflet.js" in parts.header
    assert "window.gridcallMap" in parts.script and "gridcall:map" in parts.script
    assert outside_urls(parts.header + parts.html + parts.script) == []


def test_geojson_is_rounded_and_simplified(county: tuple[GridData, NetworkModel]) -> None:
    data, _model = county
    fc = geojson.admin_areas(data, "township")
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    assert all(len(repr(x).split(".")[1]) <= 6 for x, _y in ring[:20])
    original = data.layer("admin_areas").query("level == 'township'")["geometry"].iat[0]
    drawn = shapely.geometry.shape(fc["features"][0]["geometry"])
    assert drawn.symmetric_difference(original).area < 0.01 * original.area
