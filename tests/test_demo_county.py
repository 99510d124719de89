"""The demo county generator: deterministic, realistic, and a valid layer package.

Most checks run on a small county (``scale=0.05``: the full geography and 10 kV network, a
twentieth of the customers), built once per module; one test builds ``scale=1`` for the
counts the demo promises.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.demo.county import CountySummary, build_county, write_county
from layers.schema import LAYERS, NETWORK_LAYERS

SEED = 3
SCALE = 0.05
METRIC = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E, in metres

HAN = r"[\u4e00-\u9fff]"
FEEDER_RE = re.compile(rf"^10kV{HAN}+[ⅠⅡⅢⅣ]?线$")
ADDRESS_RE = re.compile(
    rf"^(城关镇{HAN}+(路|街|大道)(\d+巷)?\d+号|{HAN}+(镇|乡){HAN}+村\d+组\d+号)$"
)


@pytest.fixture(scope="module")
def county() -> dict[str, gpd.GeoDataFrame]:
    return build_county(SEED, SCALE, True)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[Path, CountySummary]]:
    folder = tmp_path_factory.mktemp("demo")
    out = {}
    for explicit in (True, False):
        path = folder / f"county_{int(explicit)}.gpkg"
        out[explicit] = (path, write_county(path, seed=SEED, scale=SCALE, explicit_nodes=explicit))
    return out


def _closed_graph(layers: dict[str, gpd.GeoDataFrame]) -> nx.MultiGraph:
    """The network in its normal state, from the node columns: open switches left out."""
    graph = nx.MultiGraph()
    for layer, a, b in (
        ("mv_lines", "from_node", "to_node"),
        ("lv_lines", "from_node", "to_node"),
        ("switches", "from_node", "to_node"),
        ("transformers", "hv_node", "lv_node"),
    ):
        frame = layers[layer]
        if layer == "switches":
            frame = frame[frame["normal_state"] == "closed"]
        graph.add_edges_from(zip(frame[a], frame[b], strict=True))
    return graph


# -- determinism and shape --------------------------------------------------------------------


def test_same_seed_gives_the_same_layers(county: dict[str, gpd.GeoDataFrame]) -> None:
    again = build_county(SEED, SCALE, True)
    assert list(again) == list(county)
    for name, frame in county.items():
        other = again[name]
        pd.testing.assert_frame_equal(
            pd.DataFrame(frame.drop(columns="geometry")),
            pd.DataFrame(other.drop(columns="geometry")),
        )
        assert (
            shapely.to_wkb(frame.geometry.values) == shapely.to_wkb(other.geometry.values)
        ).all()


def _digest(layers: dict[str, gpd.GeoDataFrame]) -> str:
    h = hashlib.sha256()
    for name, frame in layers.items():
        h.update(name.encode())
        h.update(pd.DataFrame(frame.drop(columns="geometry")).to_csv(index=False).encode())
        h.update(b"".join(shapely.to_wkb(frame.geometry.values)))
    return h.hexdigest()


def test_same_seed_in_another_process_gives_the_same_layers(
    county: dict[str, gpd.GeoDataFrame],
) -> None:
    """Nothing depends on str hashing or set order, which change from one process to the
    next."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from tests.test_demo_county import _digest; "
        "from layers.demo.county import build_county; "
        f"print(_digest(build_county({SEED}, {SCALE}, True)))"
    )
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code, root], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == _digest(county)


def test_another_seed_gives_another_county(county: dict[str, gpd.GeoDataFrame]) -> None:
    other = build_county(SEED + 1, SCALE, True)
    mine = set(county["admin_areas"]["name"])
    assert mine != set(other["admin_areas"]["name"])
    assert set(county["service_points"]["account_no"]) != set(other["service_points"]["account_no"])


def test_layers_columns_and_crs(county: dict[str, gpd.GeoDataFrame]) -> None:
    assert set(county) == set(LAYERS) - {"schematic"}
    for name, frame in county.items():
        spec = LAYERS[name]
        missing = set(spec.columns) - set(frame.columns)
        assert not missing, f"{name} lacks {missing}"
        assert frame.crs.to_epsg() == 4490
        assert frame.geometry.geom_type.isin(spec.geometry).all(), name
        assert frame.geometry.is_valid.all(), name
        assert len(frame) > 0, name


def test_proportions_at_small_scale(county: dict[str, gpd.GeoDataFrame]) -> None:
    c = county
    assert 6 <= len(c["substations"]) <= 8  # 3 or 4 substations, two buses each
    assert c["substations"]["id"].str.fullmatch(r"SS\d\d-B[12]").all()
    assert 25 <= c["mv_lines"]["feeder"].nunique() <= 35
    admin = c["admin_areas"]
    assert (admin["level"] == "county").sum() == 1
    assert (admin["level"] == "township").sum() == 10
    assert 140 <= (admin["level"] == "village").sum() <= 160
    assert abs(len(c["service_points"]) - 60_000 * SCALE) <= 0.05 * 60_000 * SCALE
    expected_tr = 1500 * math.sqrt(SCALE)
    assert 0.75 * expected_tr <= len(c["transformers"]) <= 1.35 * expected_tr
    assert 8 <= len(c["units"]) <= 10
    per_unit = c["crews"].groupby("unit_id").size()
    assert per_unit.between(2, 4).all() and set(per_unit.index) == set(c["units"]["id"])
    assert c["crews"]["members"].between(3, 6).all()
    landmarks = c["places"][~c["places"]["kind"].isin(["village", "community", "town", "county"])]
    assert len(landmarks) >= 80
    assert len(c["poles"]) > 5000 and len(c["mv_lines"]) > len(c["poles"])


def test_counts_at_scale_one() -> None:
    c = build_county(0, 1.0, True)
    assert len(c["service_points"]) == 60_000
    assert 1350 <= len(c["transformers"]) <= 1650
    assert 25 <= c["mv_lines"]["feeder"].nunique() <= 35
    assert len(c["lv_lines"]) > 10_000
    assert c["transformers"]["kva"].between(50, 630).all()


# -- names as the utility and the callers write them ------------------------------------------


def test_feeders_laterals_and_substations_are_named_as_utilities_do(
    county: dict[str, gpd.GeoDataFrame],
) -> None:
    mv = county["mv_lines"]
    feeders = mv["feeder"].unique()
    assert all(FEEDER_RE.fullmatch(f) for f in feeders), feeders
    assert any(re.search("[ⅡⅢⅣ]线$", f) for f in feeders)
    assert (mv["voltage_kv"] == 10).all()
    laterals = mv[mv["name"] != mv["feeder"]]
    assert len(laterals)
    assert all(
        n.startswith(f) and n.endswith("支线")
        for n, f in zip(laterals["name"], laterals["feeder"], strict=True)
    )
    assert laterals["name"].str.endswith("分支线").any()
    assert county["substations"]["name"].str.fullmatch(r"110kV\w+变10kV[ⅠⅡ]段母线").all()
    names = county["transformers"]["name"]
    assert names.str.contains(r"(?:\d+号台区|\d+号变|专变)$").all()
    assert names.str.fullmatch(rf"{HAN}+村\d+号台区").mean() > 0.5
    assert county["units"]["name"].str.endswith("供电所").all()
    assert county["crews"]["name"].str.fullmatch(r"\w+供电所抢修[一二三四]班").all()


def test_pole_numbers_run_from_the_substation_and_branch_at_their_tap(
    county: dict[str, gpd.GeoDataFrame],
) -> None:
    poles = county["poles"]
    feeders = set(county["mv_lines"]["feeder"])
    trunk = poles[poles["line_name"].isin(feeders)]
    assert trunk["number"].str.fullmatch(r"\d+").all()
    for _name, group in poles.groupby("line_name"):
        numbers = group["number"].tolist()
        last = [int(n.rsplit("-", 1)[-1]) for n in numbers]
        assert last == list(range(1, len(numbers) + 1))
        prefixes = {n.rsplit("-", 1)[0] for n in numbers if "-" in n}
        assert len(prefixes) <= 1
    # a lateral's prefix is the number of the pole it is tapped at, where its fuse stands
    fuses = county["switches"][county["switches"]["kind"] == "fuse"]
    pole_at = {
        tuple(np.round(p.coords[0], 9)): (ln, n)
        for p, ln, n in zip(poles.geometry, poles["line_name"], poles["number"], strict=True)
    }
    for fuse in fuses.geometry.iloc[:50]:
        assert tuple(np.round(fuse.coords[0], 9)) in pole_at


def test_customers_look_real(county: dict[str, gpd.GeoDataFrame]) -> None:
    sp = county["service_points"]
    assert sp["account_no"].str.fullmatch(r"\d{10}").all()
    assert sp["account_no"].is_unique
    assert sp["id"].is_unique
    assert sp["phone"].str.fullmatch(r"1[3-9]\d{9}|0371-\d{8}").all()
    bad = sp.loc[~sp["address"].str.fullmatch(ADDRESS_RE.pattern), "address"]
    assert bad.empty, bad.head().tolist()
    assert sp["address"].str.startswith("城关镇").any()
    assert sp["name"].str.fullmatch(rf"{HAN}{{2,}}").all()
    share = sp["category"].value_counts(normalize=True)
    assert share["residential"] > 0.8
    assert {"commercial", "industrial", "important"} <= set(share.index)
    important = sp.loc[sp["category"] == "important", "name"]
    assert important.str.contains("小学|卫生院|医院|政府|水厂|自来水|中学|纪念园|站").mean() > 0.8


def test_customers_cluster_around_their_transformer(county: dict[str, gpd.GeoDataFrame]) -> None:
    sp = county["service_points"].to_crs(METRIC)
    tr = county["transformers"].to_crs(METRIC).set_index("id")
    d = sp.geometry.distance(
        gpd.GeoSeries(tr.geometry.loc[sp["transformer_id"]].values, crs=METRIC), align=False
    )
    assert d.median() < 250.0
    assert (d < 1000.0).mean() > 0.99


def test_gazetteer_has_every_village_with_aliases(county: dict[str, gpd.GeoDataFrame]) -> None:
    places = county["places"]
    admin = county["admin_areas"]
    villages = admin[admin["level"] == "village"]
    listed = places[places["kind"].isin(["village", "community"])]
    assert set(villages["name"]) == set(listed["name"])
    assert set(listed["admin_id"]) == set(villages["id"])
    rural = listed[listed["kind"] == "village"]
    assert rural["aliases"].notna().all()
    towns = places[places["kind"] == "town"]
    town_aliases = {a for text in towns["aliases"] for a in text.split(";")}
    for name, aliases in zip(rural["name"], rural["aliases"], strict=True):
        bare = name.removesuffix("村")
        # 张庄村 is also 张庄; a seat village (谷营村) leaves 谷营 to the town
        assert bare in aliases.split(";") or bare in town_aliases, (name, aliases)
    assert rural["aliases"].str.contains("家").any()  # 张家庄 for 张庄
    school = places[places["name"].str.endswith("镇中心小学")]
    assert len(school) and school["aliases"].str.contains("小学").all()
    assert set(places["admin_id"]) <= set(admin["id"])


# -- a valid network ----------------------------------------------------------------------------


def test_ids_unique_across_network_layers(county: dict[str, gpd.GeoDataFrame]) -> None:
    ids = pd.concat([county[name]["id"] for name in NETWORK_LAYERS if name in county])
    assert ids.is_unique


def test_references_name_existing_features(county: dict[str, gpd.GeoDataFrame]) -> None:
    tr_ids = set(county["transformers"]["id"])
    assert set(county["service_points"]["transformer_id"]) <= tr_ids
    assert set(county["lv_lines"]["transformer_id"]) <= tr_ids
    units = set(county["units"]["id"])
    assert set(county["mv_lines"]["unit_id"]) <= units
    assert set(county["crews"]["unit_id"]) == units
    assert set(county["territories"]["unit_id"]) == units
    admin = county["admin_areas"]
    assert set(admin["parent_id"].dropna()) <= set(admin["id"])
    villages = admin[admin["level"] == "village"]
    assert villages["parent_id"].isin(admin.loc[admin["level"] == "township", "id"]).all()
    feeders = set(county["mv_lines"]["feeder"])
    assert set(county["switches"]["feeder"]) <= feeders
    assert set(county["transformers"]["feeder"]) <= feeders


def test_radial_in_normal_state_and_everything_fed(county: dict[str, gpd.GeoDataFrame]) -> None:
    graph = _closed_graph(county)
    buses = list(county["substations"]["node"])
    for bus in buses:
        graph.add_edge("ROOT", bus)
    # a tree: connected, and one edge fewer than nodes (no loop, no parallel path)
    assert nx.is_connected(graph)
    assert graph.number_of_edges() == graph.number_of_nodes() - 1
    fed = set(graph.nodes)
    assert set(county["service_points"]["node"]) <= fed
    assert set(county["poles"]["node"]) <= fed


def test_ties_are_open_and_join_two_feeders(county: dict[str, gpd.GeoDataFrame]) -> None:
    sw = county["switches"]
    ties = sw[sw["normal_state"] == "open"]
    assert len(ties) >= 8
    assert (ties["kind"] == "load_break_switch").all()
    graph = _closed_graph(county)
    mv = county["mv_lines"]
    feeder_of_node = dict(zip(mv["to_node"], mv["feeder"], strict=True))
    for a, b in zip(ties["from_node"], ties["to_node"], strict=True):
        assert nx.has_path(graph, a, b) is False or feeder_of_node[a] != feeder_of_node[b]
        assert feeder_of_node[a] != feeder_of_node[b]
    kinds = Counter(sw["kind"])
    assert kinds["breaker"] == mv["feeder"].nunique()
    reclosers = sw[sw["kind"] == "recloser"].groupby("feeder").size()
    assert set(reclosers.index) == set(mv["feeder"]) and reclosers.between(1, 2).all()
    assert kinds["fuse"] >= 100
    assert kinds["sectionalizer"] + kinds["load_break_switch"] > kinds["breaker"]


def test_geometry_agrees_with_the_node_columns(county: dict[str, gpd.GeoDataFrame]) -> None:
    """Every place a node is drawn is the same point, bit for bit (what a geometry-only
    import relies on)."""
    where: dict[str, tuple[float, float]] = {}

    def see(nodes: pd.Series, points: np.ndarray) -> None:
        for node, xy in zip(nodes, map(tuple, points), strict=True):
            assert where.setdefault(node, xy) == xy, node

    for layer in ("mv_lines", "lv_lines"):
        geoms = county[layer].geometry.values
        see(county[layer]["from_node"], shapely.get_coordinates(shapely.get_point(geoms, 0)))
        see(county[layer]["to_node"], shapely.get_coordinates(shapely.get_point(geoms, -1)))
    for layer, cols in (
        ("switches", ("from_node", "to_node")),
        ("transformers", ("hv_node", "lv_node")),
        ("substations", ("node",)),
        ("poles", ("node",)),
    ):
        xy = shapely.get_coordinates(county[layer].geometry.values)
        for col in cols:
            see(county[layer][col], xy)
    # meters stand at their node, or well clear of every 400 V junction
    sp = county["service_points"].to_crs(METRIC)
    lv = county["lv_lines"].to_crs(METRIC).geometry.values
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(lv, i)) for i in (0, -1)])
    tree = shapely.STRtree(shapely.points(ends))
    near = tree.query(sp.geometry.values, predicate="dwithin", distance=1.5)
    at_node = (
        sp["node"]
        .map(where)
        .eq(list(map(tuple, shapely.get_coordinates(county["service_points"].geometry.values))))
    )
    assert at_node.any() and not at_node.all()
    assert set(near[0].tolist()) <= set(np.flatnonzero(at_node.to_numpy()).tolist())


def test_roads_form_one_routable_network(county: dict[str, gpd.GeoDataFrame]) -> None:
    roads = county["roads"]
    assert set(roads["kind"]) == {"national", "provincial", "county", "township", "village"}
    speeds = roads.groupby("kind")["speed_kmh"].max()
    assert speeds["national"] > speeds["provincial"] > speeds["village"]
    assert (roads["oneway"] == "yes").any()
    graph = nx.Graph()
    coords = shapely.get_coordinates(shapely.get_point(roads.geometry.values, 0))
    ends = shapely.get_coordinates(shapely.get_point(roads.geometry.values, -1))
    graph.add_edges_from(zip(map(tuple, coords), map(tuple, ends), strict=True))
    assert nx.is_connected(graph)
    # every village and town centre is on a road
    places = county["places"]
    centres = places[places["kind"] == "village"].to_crs(METRIC)
    lines = roads.to_crs(METRIC).geometry.values
    dist = shapely.STRtree(lines).query_nearest(centres.geometry.values, return_distance=True)[1]
    assert (dist < 1.0).all()


def test_areas_partition_the_county(county: dict[str, gpd.GeoDataFrame]) -> None:
    admin = county["admin_areas"].to_crs(METRIC)
    area = admin.geometry.area
    county_area = area[admin["level"] == "county"].iloc[0]
    assert 900e6 < county_area < 1300e6  # 兰考县 is about 1,100 km²
    for level in ("township", "village"):
        assert area[admin["level"] == level].sum() == pytest.approx(county_area, rel=0.002)
    ter = county["territories"].to_crs(METRIC)
    assert ter.geometry.area.sum() == pytest.approx(county_area, rel=0.002)
    assert set(ter["area_class"]) == {"urban", "rural", "remote"}
    assert (ter["area_class"] == "urban").sum() == 1
    outline = admin.geometry[admin["level"] == "county"].iloc[0].buffer(100.0)
    for name in ("service_points", "transformers", "poles", "substations"):
        assert county[name].to_crs(METRIC).geometry.within(outline).all(), name
    lon, lat = county["substations"].geometry.x, county["substations"].geometry.y
    assert lon.between(114.6, 115.05).all() and lat.between(34.6, 35.05).all()


# -- the written package and the import pipeline -----------------------------------------------


def test_written_package(packages: dict[bool, tuple[Path, CountySummary]]) -> None:
    path, summary = packages[True]
    listed = {str(name) for name, _ in pyogrio.list_layers(path)}
    assert listed == set(summary.counts)
    assert summary.counts["service_points"] == len(
        pyogrio.read_dataframe(path, layer="service_points")
    )
    minx, miny, maxx, maxy = summary.bbox
    assert 114.55 < minx < maxx < 115.1 and 34.55 < miny < maxy < 35.1
    assert 25 <= summary.feeders <= 35
    back = pyogrio.read_dataframe(path, layer="service_points", columns=["account_no"])
    assert back["account_no"].str.fullmatch(r"\d{10}").all()  # leading zeros kept


def test_geometry_only_package_leaves_node_columns_empty(
    packages: dict[bool, tuple[Path, CountySummary]],
) -> None:
    path, _ = packages[False]
    for layer, cols in (
        ("mv_lines", ("from_node", "to_node")),
        ("switches", ("from_node", "to_node")),
        ("transformers", ("hv_node", "lv_node")),
        ("lv_lines", ("from_node", "to_node")),
        ("poles", ("node",)),
        ("service_points", ("node",)),
    ):
        frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
        for col in cols:
            assert frame[col].isna().all(), (layer, col)
    subs = pyogrio.read_dataframe(path, layer="substations", read_geometry=False)
    assert subs["node"].notna().all()


def _import(path: Path) -> tuple[object, list[object]]:
    reader = pytest.importorskip("layers.reader")
    validate_mod = pytest.importorskip("layers.validate")
    topology = pytest.importorskip("layers.topology")
    network = pytest.importorskip("layers.network")
    raw, problems = reader.read_package(path)
    grid, more = validate_mod.validate(raw)
    problems += more
    problems += topology.derive_nodes(grid, tolerance=1.0)
    model = network.NetworkModel(grid)
    problems += model.check()
    return model, problems


@pytest.fixture(scope="module")
def imported(
    packages: dict[bool, tuple[Path, CountySummary]],
) -> dict[bool, tuple[object, list[object]]]:
    return {explicit: _import(path) for explicit, (path, _) in packages.items()}


@pytest.mark.parametrize("explicit", [True, False])
def test_import_pipeline_accepts_the_package(
    imported: dict[bool, tuple[object, list[object]]], explicit: bool
) -> None:
    _model, problems = imported[explicit]
    errors = [str(p) for p in problems if getattr(p, "severity", "error") == "error"]
    assert errors == []


def test_geometry_only_import_sees_the_same_network(
    imported: dict[bool, tuple[object, list[object]]],
) -> None:
    explicit, _ = imported[True]
    derived, _ = imported[False]
    ids = list(explicit.transformer_ids) + list(explicit.switch_ids)  # type: ignore[attr-defined]
    ids += explicit.pole_ids[::5]  # type: ignore[attr-defined]
    for eid in ids:
        a = explicit.trace(eid).contract_dict()  # type: ignore[attr-defined]
        b = derived.trace(eid).contract_dict()  # type: ignore[attr-defined]
        assert a == b, eid
