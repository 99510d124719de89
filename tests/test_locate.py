"""The locator on small grids: each method, conflicts between methods, and calls it cannot place.

Two grids: a synthetic grid as the generator makes it (English names, no admin areas, no
gazetteer: a utility that hands over only its network), and the same grid relabelled the way
a Chinese county writes it (10kV城关Ⅰ线, 城关镇张庄村1组3号, admin areas, a gazetteer with
aliases), with shapes the demo county never has: one village name in two townships, a seat
village named like its township, interleaved low-voltage networks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from gis.crs import haversine_m, wgs84_to_gcj02
from layers.grid import GridData
from layers.importer import prepare
from layers.network import NetworkModel
from layers.synthetic import synthetic_grid
from outages.calls import Call, CoordSys, parse_call
from outages.locate import Location, Locator, Method

NOW = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)

FEEDERS = {"Feeder 1": "10kV城关Ⅰ线", "Feeder 2": "10kV城关Ⅱ线", "Feeder 3": "10kV谷营Ⅰ线"}
BRANCHES = iter(
    [
        "张庄支线",
        "李庄支线",
        "胡楼支线",
        "王寨支线",
        "东赵支线",
        "后李支线",
        "何庄支线",
        "谷营支线",
        "北卢支线",
        "小秦支线",
        "段庄支线",
        "梁楼支线",
    ]
)
# transformer -> (township, village, group)
VILLAGES = {
    "T0001": ("城关镇", "张庄村", 1),
    "T0002": ("城关镇", "张庄村", 2),
    "T0003": ("城关镇", "李庄村", 1),
    "T0004": ("城关镇", "胡楼村", 1),
    "T0005": ("城关镇", "王寨村", 1),
    "T0006": ("城关镇", "王寨村", 2),
    "T0007": ("城关镇", "东赵村", 1),
    "T0008": ("城关镇", "后李村", 1),
    "T0009": ("谷营镇", "李庄村", 1),  # the same village name in another township
    "T0010": ("谷营镇", "何庄村", 1),
    "T0011": ("谷营镇", "何庄村", 2),
    "T0012": ("谷营镇", "谷营村", 1),  # the seat village, named like its township
}
ALIASES = {"张庄村": "张庄;张家庄", "何庄村": "何庄;何家庄", "王寨村": "王寨;王家寨"}


def call(**fields: Any) -> Call:
    return Call("c1", NOW, **fields)


def likelihood_sum(loc: Location) -> float:
    return sum(c.likelihood for c in loc.candidates)


@dataclass
class Grid:
    data: GridData
    model: NetworkModel
    locator: Locator

    def sp(self, sp_id: str) -> pd.Series:
        sps = self.data.layer("service_points")
        return sps[sps["id"] == sp_id].iloc[0]

    def sps_of(self, tr_id: str) -> pd.DataFrame:
        sps = self.data.layer("service_points")
        return sps[sps["transformer_id"] == tr_id]

    def pole(self, line_name: str, number: str) -> pd.Series:
        p = self.data.layer("poles")
        return p[(p["line_name"] == line_name) & (p["number"] == number)].iloc[0]


def _import_synthetic(path: Path) -> tuple[GridData, NetworkModel]:
    g = synthetic_grid(
        3,
        feeders_per_bus=3,
        sections_per_feeder=16,
        transformers_per_feeder=4,
        service_points_per_transformer=6,
        branch_probability=0.3,
    )
    data, model, problems = prepare(g.write(path))
    assert data is not None and model is not None
    assert not [p for p in problems if p.severity == "error"]
    return data, model


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Grid:
    data, model = _import_synthetic(tmp_path_factory.mktemp("en") / "grid.gpkg")
    return Grid(data, model, Locator(data, model))


def _chinese(data: GridData) -> GridData:
    """The synthetic grid relabelled as a county would label it."""
    frames = {k: v.copy() for k, v in data.frames.items()}
    out = GridData(frames)
    branch_names: dict[str, str] = {}

    def line_name(name: Any) -> Any:
        if not isinstance(name, str):
            return name
        for en, cn in FEEDERS.items():
            if name == en:
                return cn
            if name.startswith(en + " lateral "):
                if name not in branch_names:
                    branch_names[name] = cn + next(BRANCHES)
                return branch_names[name]
            if name.startswith(en + " "):
                return cn
        return name

    for layer, cols in (
        ("mv_lines", ("feeder", "name")),
        ("switches", ("feeder",)),
        ("transformers", ("feeder",)),
        ("poles", ("line_name",)),
    ):
        for col in cols:
            out.set_column(layer, col, [line_name(v) for v in frames[layer][col].tolist()])
    tr = frames["transformers"]
    names = []
    for tid in tr["id"].tolist():
        _town, village, group = VILLAGES[tid]
        names.append(f"{village}{group}号台区")
    out.set_column("transformers", "name", names)
    sps = frames["service_points"]
    addresses = []
    count: dict[str, int] = {}
    for tid in sps["transformer_id"].tolist():
        town, village, group = VILLAGES[tid]
        count[tid] = count.get(tid, 0) + 1
        addresses.append(f"{town}{village}{group}组{count[tid]}号")
    out.set_column("service_points", "address", addresses)

    # admin areas and the gazetteer, drawn around the customers
    pts = {
        tid: shapely.multipoints(list(sps.loc[sps["transformer_id"] == tid, "geometry"]))
        for tid in VILLAGES
    }
    rows: list[dict[str, Any]] = []
    all_pts = shapely.union_all(list(pts.values()))
    rows.append(
        {
            "id": "C1",
            "name": "兰考县",
            "level": "county",
            "parent_id": None,
            "geometry": shapely.convex_hull(all_pts).buffer(0.02),
        }
    )
    town_ids = {"城关镇": "T01", "谷营镇": "T02"}
    for town, tid in town_ids.items():
        members = [pts[t] for t, v in VILLAGES.items() if v[0] == town]
        rows.append(
            {
                "id": tid,
                "name": town,
                "level": "township",
                "parent_id": "C1",
                "geometry": shapely.convex_hull(shapely.union_all(members)).buffer(0.003),
            }
        )
    village_ids: dict[tuple[str, str], str] = {}
    for t, (town, village, _g) in VILLAGES.items():
        key = (town, village)
        if key in village_ids:
            continue
        vid = village_ids[key] = f"V{len(village_ids) + 1:02d}"
        members = [pts[x] for x, v in VILLAGES.items() if (v[0], v[1]) == key]
        rows.append(
            {
                "id": vid,
                "name": village,
                "level": "village",
                "parent_id": town_ids[town],
                "geometry": shapely.convex_hull(shapely.union_all(members)).buffer(0.001),
            }
        )
        del t
    admin = pd.DataFrame(rows)
    admin["attrs"] = [{} for _ in range(len(admin))]
    frames["admin_areas"] = admin
    places: list[dict[str, Any]] = []
    for (town, village), vid in village_ids.items():
        centre = admin.loc[admin["id"] == vid, "geometry"].iloc[0].centroid
        places.append(
            {
                "name": village,
                "kind": "village",
                "aliases": ALIASES.get(village)
                if town == "城关镇" or village != "李庄村"
                else None,
                "admin_id": vid,
                "geometry": centre,
            }
        )
    shop_at = sps[sps["transformer_id"] == "T0002"]["geometry"].iloc[2]
    places.append(
        {
            "name": "张庄便民超市",
            "kind": "supermarket",
            "aliases": "老张超市",
            "admin_id": village_ids[("城关镇", "张庄村")],
            "geometry": shop_at,
        }
    )
    places.append(
        {
            "name": "城关镇",
            "kind": "town",
            "aliases": "城关;县城",
            "admin_id": "T01",
            "geometry": admin.loc[admin["id"] == "T01", "geometry"].iloc[0].centroid,
        }
    )
    gaz = pd.DataFrame(places)
    gaz["attrs"] = [{} for _ in range(len(gaz))]
    frames["places"] = gaz
    return out


@pytest.fixture(scope="module")
def chinese(english: Grid) -> Grid:
    data = _chinese(english.data)
    model = NetworkModel(data)  # the feeders are renamed
    return Grid(data, model, Locator(data, model))


@pytest.fixture(scope="module")
def interleaved(chinese: Grid) -> Iterator[Grid]:
    """王寨村: the houses of its two transformers alternate along one street."""
    frames = {k: v.copy() for k, v in chinese.data.frames.items()}
    data = GridData(frames)
    sps = frames["service_points"]
    a = sps.index[sps["transformer_id"] == "T0005"].tolist()
    b = sps.index[sps["transformer_id"] == "T0006"].tolist()
    start = sps.loc[a[0], "geometry"]
    geoms = sps["geometry"].copy()
    for k, (ia, ib) in enumerate(zip(a, b, strict=True)):
        # 15 m apart along the street, a and b in turn
        geoms[ia] = shapely.Point(start.x + (2 * k) * 0.000165, start.y)
        geoms[ib] = shapely.Point(start.x + (2 * k + 1) * 0.000165, start.y)
    sps["geometry"] = geoms
    yield Grid(data, chinese.model, Locator(data, chinese.model))


# -- account number ---------------------------------------------------------------------------


def test_account_number_said_any_way(chinese: Grid) -> None:
    sp = chinese.sps_of("T0004").iloc[1]
    acc = str(sp["account_no"])
    wide = acc.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for said in (acc, f" {acc[:4]} {acc[4:]} ", f"{acc[:3]}-{acc[3:]}", wide, f"户号：{acc}"):
        loc = chinese.locator.locate(call(account_no=said))
        assert loc.method == Method.ACCOUNT
        assert loc.service_point_id == sp["id"]
        assert loc.transformer_id == "T0004"
        assert loc.confidence >= 0.95
        assert (loc.lon, loc.lat) == pytest.approx((sp["geometry"].x, sp["geometry"].y))
    assert loc.evidence[0] == f"户号 {acc} → 胡楼村1号台区"


def test_unknown_account_says_so(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(account_no="0000000001"))
    assert loc.method == Method.NONE
    assert loc.reason is not None and "0000000001 not found" in loc.reason


def test_unknown_account_falls_back_on_the_callers_registered_phone(chinese: Grid) -> None:
    sp = chinese.sps_of("T0007").iloc[2]
    loc = chinese.locator.locate(call(account_no="0000000001", caller_phone=str(sp["phone"])))
    assert loc.method == Method.ACCOUNT
    assert loc.service_point_id == sp["id"]
    assert loc.transformer_id == "T0007"
    assert any("0000000001 not found" in e for e in loc.evidence)
    # an unknown number as well: nothing to go on
    lost = chinese.locator.locate(call(account_no="0000000001", caller_phone="13000000000"))
    assert lost.method == Method.NONE


def test_a_call_with_nothing_but_the_holders_name_is_placed_at_their_accounts(
    chinese: Grid, monkeypatch: pytest.MonkeyPatch
) -> None:
    sps = chinese.locator.data.layer("service_points")
    names = sps["name"].tolist()
    counts = {n: names.count(n) for n in names if n}
    rare = next(n for n, k in counts.items() if k == 1)
    row = names.index(rare)
    loc = chinese.locator.locate(call(caller_name=f" {rare} "))
    assert loc.service_point_id == sps["id"].iat[row]
    assert loc.confidence < 0.85  # below a caller id: the caller may not be the holder
    # named as weak as it is: an agent reads "account" as the customer's own number
    assert loc.method == Method.ADMIN
    assert any("户主姓名" in e for e in loc.evidence)
    # a name on more accounts than NAME_MAX_ACCOUNTS is too common to say where one is
    monkeypatch.setitem(chinese.locator._names, "王伟", list(range(9)))
    common = chinese.locator.locate(call(caller_name="王伟"))
    assert common.method == Method.NONE and "9 accounts" in str(common.reason)
    monkeypatch.setitem(chinese.locator._names, "王伟", [row, row + 1])
    two = chinese.locator.locate(call(caller_name="王伟"))
    assert two.method == Method.ADMIN and len(two.candidates) == 2
    assert chinese.locator.locate(call(caller_name="欧阳不存在")).method == Method.NONE


@pytest.fixture(scope="module")
def zero_led(chinese: Grid) -> Grid:
    """Account numbers with leading zeros, as many billing systems write them, and one
    that is another's with its zeros dropped."""
    frames = {k: v.copy() for k, v in chinese.data.frames.items()}
    sps = frames["service_points"]
    accounts = [f"00{row:08d}" for row in range(len(sps))]
    accounts[-1] = str(int(accounts[-2]))  # 0000000123 beside 123 (kept by the utility)
    sps["account_no"] = accounts
    data = GridData(frames)
    return Grid(data, chinese.model, Locator(data, chinese.model))


def test_account_with_its_leading_zeros_lost(zero_led: Grid) -> None:
    sps = zero_led.data.layer("service_points")
    sp = sps[sps["transformer_id"] == "T0004"].iloc[1]
    acc = str(sp["account_no"])
    said = acc.lstrip("0")
    loc = zero_led.locator.locate(call(account_no=said))
    assert loc.method == Method.ACCOUNT
    assert loc.service_point_id == sp["id"]
    assert loc.transformer_id == "T0004"
    assert 0.9 <= loc.confidence < 0.99  # an exact number would be surer
    assert f"户号 {said} read as {acc}: its leading zeros were lost" in loc.evidence
    # a number that the billing system holds as it was said is that account, not the padded one
    kept = sps.iloc[-1]
    exact = zero_led.locator.locate(call(account_no=str(kept["account_no"])))
    assert exact.service_point_id == kept["id"] and exact.confidence >= 0.99
    # zeros put back make no account: still not found
    assert zero_led.locator.locate(call(account_no="99999999")).method == Method.NONE


# -- pole number ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "said",
    [
        "城关Ⅰ线5号杆",
        "城关1线 5",
        "城关一线第5基",
        "10kV城关Ⅰ线5#",
        "10kV城关Ⅰ线五号杆",
        "城官一线5号杆",
        "城关Ⅰ 5",
    ],
)
def test_pole_label_forms(chinese: Grid, said: str) -> None:
    pole = chinese.pole("10kV城关Ⅰ线", "5")
    loc = chinese.locator.locate(call(pole_no=said))
    assert loc.method == Method.POLE
    assert loc.pole_id == pole["id"]
    assert (loc.lon, loc.lat) == pytest.approx((pole["geometry"].x, pole["geometry"].y))
    assert loc.confidence > 0.6


def test_pole_said_as_line_dash_number(english: Grid, chinese: Grid) -> None:
    poles = english.data.layer("poles")
    trunk = poles[(poles["line_name"] == "Feeder 2") & ~poles["number"].str.contains("-")]
    pole = trunk.iloc[len(trunk) // 2]
    loc = english.locator.locate(call(pole_no=f"Feeder 2-{pole['number']}"))
    assert loc.method == Method.POLE
    assert loc.pole_id == pole["id"]
    assert loc.confidence > 0.6
    assert (
        chinese.locator.locate(call(pole_no="城关1-5")).pole_id
        == (chinese.pole("10kV城关Ⅰ线", "5")["id"])
    )
    # the second reading must name its line exactly: there is no Feeder 2 lateral 3-9, and
    # a line that only resembles it (Feeder 2 lateral 9, which has a pole 9-1) is no answer
    assert "9-1" in set(poles["number"])
    assert english.locator.locate(call(pole_no="Feeder 2 lateral 3-9-9-1")).method == Method.NONE


def test_pole_gives_its_line_section_and_nearest_transformers(chinese: Grid) -> None:
    pole = chinese.pole("10kV城关Ⅰ线", "5")
    loc = chinese.locator.locate(call(pole_no="城关Ⅰ线5号杆"))
    mv = chinese.data.layer("mv_lines")
    section = mv[mv["id"] == loc.element_id]
    assert len(section) == 1
    # the section ends at the pole
    assert section["geometry"].iloc[0].distance(pole["geometry"]) < 1e-6
    trs = [c.transformer_id for c in loc.candidates]
    assert trs and loc.transformer_id == trs[0]
    tr_frame = chinese.data.layer("transformers").set_index("id")
    dists = [pole["geometry"].distance(tr_frame.loc[t, "geometry"]) for t in trs]
    # the nearest transformer of the pole's own feeder comes first
    same = [t for t in trs if tr_frame.loc[t, "feeder"] == "10kV城关Ⅰ线"]
    assert trs[0] == same[0]
    assert dists[0] == min(d for t, d in zip(trs, dists, strict=True) if t in same)
    assert any("nearest transformers" in e for e in loc.evidence)


def test_branch_pole(chinese: Grid) -> None:
    p = chinese.data.layer("poles")
    branch = p[p["number"].str.contains("-")].iloc[0]
    feeder = chinese.locator.pole_feeder[int(branch.name)]
    assert feeder is not None
    for said in (
        f"{branch['line_name']}{branch['number']}号杆",
        f"{feeder.removeprefix('10kV')}{branch['number']}号",
    ):
        loc = chinese.locator.locate(call(pole_no=said))
        assert loc.pole_id == branch["id"], said


def test_line_ordinals_are_not_fuzzy(chinese: Grid) -> None:
    one = chinese.locator.locate(call(pole_no="城关Ⅰ线3号杆"))
    two = chinese.locator.locate(call(pole_no="城关Ⅱ线3号杆"))
    assert one.pole_id == chinese.pole("10kV城关Ⅰ线", "3")["id"]
    assert two.pole_id == chinese.pole("10kV城关Ⅱ线", "3")["id"]


def test_pole_number_alone_needs_the_callers_area(chinese: Grid) -> None:
    alone = chinese.locator.locate(call(pole_no="3号杆"))
    assert alone.method == Method.NONE
    assert alone.reason is not None and "poles are numbered 3" in alone.reason
    # the caller says where they are: the 谷营Ⅰ线 pole 3 is the one nearest 何庄村
    pole = chinese.pole("10kV谷营Ⅰ线", "3")
    loc = chinese.locator.locate(call(pole_no="3号杆", address="谷营镇何庄村"))
    assert loc.method == Method.POLE
    assert loc.pole_id == pole["id"]


def test_pole_on_no_known_line(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(pole_no="人民路5号杆"))
    assert loc.method == Method.NONE
    assert loc.reason is not None and "matches no known line" in loc.reason


def test_english_pole_labels(english: Grid) -> None:
    pole = english.pole("Feeder 1 lateral 3", "3-2")
    for said in ("Feeder 1 3-2", "feeder 1 lateral 3 #3-2", "Feeder 1 pole 3-2"):
        assert english.locator.locate(call(pole_no=said)).pole_id == pole["id"], said


# -- phone position ---------------------------------------------------------------------------


def _at(grid: Grid, sp_id: str, east_m: float = 0.0) -> tuple[float, float]:
    g = grid.sp(sp_id)["geometry"]
    plane = grid.locator.plane
    x, y = plane.xy(g.x, g.y)
    return plane.lonlat(x + east_m, y)


def test_position_in_each_coordinate_system(chinese: Grid) -> None:
    sp = chinese.sps_of("T0010").iloc[3]
    lon, lat = _at(chinese, sp["id"], east_m=4.0)
    glon, glat = wgs84_to_gcj02(lon, lat)
    for c in (
        call(lon=lon, lat=lat),
        call(lon=lon, lat=lat, coord_sys=CoordSys.CGCS2000),
        call(lon=glon, lat=glat, coord_sys=CoordSys.GCJ02),
    ):
        loc = chinese.locator.locate(c)
        assert loc.method == Method.GPS
        assert loc.transformer_id == "T0010"
        assert loc.confidence > 0.6
        assert loc.lon is not None and loc.lat is not None
        assert haversine_m(loc.lon, loc.lat, lon, lat) < 0.5
    assert any("GCJ-02 position converted" in e for e in loc.evidence)
    # the same GCJ-02 numbers taken as WGS84 land hundreds of metres away
    assert haversine_m(glon, glat, lon, lat) > 100


def test_swapped_position_is_corrected(chinese: Grid) -> None:
    sp = chinese.sps_of("T0003").iloc[0]
    lon, lat = _at(chinese, sp["id"])
    loc = chinese.locator.locate(call(lon=lat, lat=lon))
    assert loc.method == Method.GPS
    assert loc.transformer_id == "T0003"
    assert any("swapped" in e for e in loc.evidence)
    # and through the calls file parser, which keeps a swapped pair for the locator
    parsed = parse_call(
        {
            "call_id": "x",
            "received_at": "2026-07-01T08:00:00+08:00",
            "lon": str(lat),
            "lat": str(lon),
            "coord_sys": "WGS84",
        }
    )
    assert isinstance(parsed, Call)
    assert chinese.locator.locate(parsed).transformer_id == "T0003"


def test_position_outside_the_service_area(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(lon=116.39, lat=39.91))  # Beijing
    assert loc.method == Method.NONE
    assert loc.lon is None and loc.confidence == 0.0
    assert loc.reason is not None and "outside the service area" in loc.reason
    assert "km from the nearest network element" in loc.reason


def test_interleaved_networks_give_candidates_not_one_answer(interleaved: Grid) -> None:
    sps = interleaved.sps_of("T0005")
    mid = sps["geometry"].iloc[2]
    plane = interleaved.locator.plane
    x, y = plane.xy(mid.x, mid.y)
    lon, lat = plane.lonlat(x + 7.5, y + 20.0)  # across the street, between two houses
    loc = interleaved.locator.locate(call(lon=lon, lat=lat))
    assert loc.method == Method.GPS
    trs = {c.transformer_id: c.likelihood for c in loc.candidates}
    assert {"T0005", "T0006"} <= set(trs)
    assert max(trs.values()) < 0.75
    assert min(trs["T0005"], trs["T0006"]) > 0.25
    assert loc.confidence < 0.75
    assert any("interleave" in e for e in loc.evidence)
    assert likelihood_sum(loc) <= 1.0 + 1e-9


def test_position_beside_one_meter_is_confident(chinese: Grid) -> None:
    sp = chinese.sps_of("T0007").iloc[0]
    loc = chinese.locator.locate(
        call(lon=_at(chinese, sp["id"], 3.0)[0], lat=_at(chinese, sp["id"], 3.0)[1])
    )
    assert loc.transformer_id == "T0007"
    assert loc.service_point_id == sp["id"]
    assert loc.confidence > 0.8


# -- address ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "why"),
    [
        ("城关镇张庄村2组3号", "as written"),
        ("张庄村2组3号", "no township"),
        ("城关镇章庄村2组3号", "homophone 章 for 张"),
        ("城关镇张壮村二组三号", "homophone and Chinese numerals"),
        ("张家庄2组3号", "alias from the gazetteer"),
        ("zhangzhuang cun 2 zu 3 hao", "pinyin"),
        ("城关张庄2组 3号", "no 镇, no 村, a space"),
        ("县城张庄村2组3号", "the township by its alias"),
    ],
)
def test_address_forms(chinese: Grid, said: str, why: str) -> None:
    sp = chinese.sps_of("T0002").iloc[2]
    loc = chinese.locator.locate(call(address=said))
    assert loc.method == Method.ADDRESS, why
    assert loc.transformer_id == "T0002", why
    assert loc.service_point_id == sp["id"], why
    assert loc.evidence[0].startswith("address matched 张庄村"), why


def test_address_evidence_names_what_matched(chinese: Grid) -> None:
    assert (
        chinese.locator.locate(call(address="城关镇张庄村2组3号")).evidence[0]
        == "address matched 张庄村 2组 3号"
    )
    homophone = chinese.locator.locate(call(address="城关镇章庄村2组3号"))
    assert "(pinyin" in homophone.evidence[0]
    assert (
        homophone.confidence < chinese.locator.locate(call(address="城关镇张庄村2组3号")).confidence
    )


def test_same_village_name_in_two_townships(chinese: Grid) -> None:
    ambiguous = chinese.locator.locate(call(address="李庄村1组2号"))
    trs = {c.transformer_id for c in ambiguous.candidates}
    assert {"T0003", "T0009"} <= trs  # both, ranked, not one confident pick
    assert ambiguous.confidence < 0.6
    assert chinese.locator.locate(call(address="谷营镇李庄村1组2号")).transformer_id == "T0009"
    assert chinese.locator.locate(call(address="城关镇李庄村1组2号")).transformer_id == "T0003"


def test_seat_village_named_like_its_township(chinese: Grid) -> None:
    for said in ("谷营镇谷营村1组4号", "谷营村1组4号", "谷营1组4号"):
        loc = chinese.locator.locate(call(address=said))
        assert loc.transformer_id == "T0012", said
        assert loc.method == Method.ADDRESS, said


def test_missing_house_number_gives_the_group(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(address="谷营镇何庄村2组"))
    assert loc.method == Method.ADDRESS
    assert loc.transformer_id == "T0011"
    assert loc.service_point_id is None
    assert loc.confidence < chinese.locator.locate(call(address="谷营镇何庄村2组1号")).confidence


def test_missing_group_gives_ranked_houses(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(address="何庄村3号"))  # 3号 is in 1组 and in 2组
    trs = {c.transformer_id for c in loc.candidates}
    assert {"T0010", "T0011"} <= trs
    assert loc.confidence < 0.6
    assert likelihood_sum(loc) <= 1.0 + 1e-9


def test_a_landmark_from_the_gazetteer(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(address="老张超市旁边"))
    assert loc.method == Method.ADDRESS
    assert loc.transformer_id == "T0002"
    assert "张庄便民超市" in loc.evidence[0]


def test_admin_fallback_is_the_centre_of_the_smallest_area(chinese: Grid) -> None:
    admin = chinese.data.layer("admin_areas").set_index("id")
    village = chinese.locator.locate(call(address="王寨村"))
    assert village.method == Method.ADMIN
    assert village.confidence <= 0.35
    centre = admin.loc["V04", "geometry"].centroid
    assert admin.loc["V04", "name"] == "王寨村"
    assert (village.lon, village.lat) == pytest.approx((centre.x, centre.y))
    assert {c.transformer_id for c in village.candidates} == {"T0005", "T0006"}
    town = chinese.locator.locate(call(address="谷营镇"))
    assert town.method == Method.ADMIN
    assert town.confidence < village.confidence
    assert town.admin_id == "T02"


def test_the_holders_name_picks_their_meter_in_the_village_said(
    chinese: Grid, monkeypatch: pytest.MonkeyPatch
) -> None:
    """王寨村 alone is two transformers; the caller's name, on an account there, says which.
    A namesake's account elsewhere says nothing of this caller."""
    sps = chinese.locator.data.layer("service_points")
    here = int(sps.index[sps["transformer_id"] == "T0006"][1])
    elsewhere = int(sps.index[sps["transformer_id"] == "T0001"][0])
    monkeypatch.setitem(chinese.locator._names, "李秀英", [here, elsewhere])
    loc = chinese.locator.locate(call(address="王寨村", caller_name="李秀英"))
    assert loc.service_point_id == sps["id"].iat[here] and loc.transformer_id == "T0006"
    assert loc.method == Method.ADMIN  # as the village was found: by its admin area
    assert {c.transformer_id for c in loc.candidates} <= {"T0005", "T0006"}
    plain = chinese.locator.locate(call(address="王寨村", caller_name="无此人"))
    assert plain.method == Method.ADMIN and plain.service_point_id is None


def test_address_that_matches_nothing(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(address="北京市朝阳区建国路88号"))
    assert loc.method == Method.NONE
    assert loc.reason is not None and "matched no known place" in loc.reason


def test_english_addresses_without_admin_layers(english: Grid) -> None:
    sp = english.sps_of("T0005").iloc[1]
    loc = english.locator.locate(call(address=str(sp["address"])))
    assert loc.method == Method.ADDRESS
    assert loc.service_point_id == sp["id"]


def test_a_street_said_without_its_house_number(english: Grid) -> None:
    # "Street T0002" alone: its one number names a group of houses (the street), which is
    # likelier than house No. 2 of any of the streets that have one
    sps = english.sps_of("T0002")
    street = re.sub(r"\s*No\.\s*\d+$", "", str(sps.iloc[0]["address"]))
    assert street == "Street T0002"
    houses_numbered_2 = english.data.layer("service_points")["address"].str.endswith(" No. 2")
    assert houses_numbered_2.sum() > 3  # the house reading is there, on many streets
    loc = english.locator.locate(call(address=street))
    assert loc.method == Method.ADDRESS
    assert loc.transformer_id == "T0002"
    assert any("(read as 2" in e for e in loc.evidence)
    assert sum(c.likelihood for c in loc.candidates if c.transformer_id == "T0002") > 0.5
    # a number that is no house number anywhere can only be the street
    houses = english.data.layer("service_points")["address"].str.extract(r"No\. (\d+)$")[0]
    assert houses.astype(int).max() < 11
    eleventh = english.locator.locate(call(address="street T0011"))
    assert eleventh.method == Method.ADDRESS
    assert eleventh.transformer_id == "T0011"


def test_a_house_address_leads_a_pole_said_without_its_line(chinese: Grid) -> None:
    # The caller gives their address and the number of a pole they see, 221 m away and
    # nearer another transformer: the pole is found through the address, so the house
    # names the caller's transformer and the pole is kept as what the caller saw.
    home = chinese.sp("SP0001")
    assert (home["address"], home["transformer_id"]) == ("城关镇张庄村1组1号", "T0001")
    pole = chinese.pole("10kV城关Ⅰ线", "4")
    alone = chinese.locator.locate(call(pole_no="4号杆", address="张庄村"))
    assert alone.method == Method.POLE and alone.transformer_id == "T0002"
    loc = chinese.locator.locate(call(address=home["address"], pole_no="4号杆"))
    assert loc.method == Method.ADDRESS
    assert (loc.transformer_id, loc.service_point_id) == ("T0001", "SP0001")
    assert loc.pole_id == pole["id"]
    assert any(e.startswith("pole agrees: pole 10kV城关Ⅰ线 4") for e in loc.evidence)
    # with its line named, the pole is an answer of its own and leads
    named = chinese.locator.locate(call(address=home["address"], pole_no="城关Ⅰ线4号杆"))
    assert named.method == Method.POLE and named.pole_id == pole["id"]


# -- several kinds of information --------------------------------------------------------------


def test_conflict_is_reported_and_lowers_confidence(chinese: Grid) -> None:
    home = chinese.sps_of("T0001").iloc[0]
    sps = chinese.data.layer("service_points")
    far = sps.iloc[int(np.argmax([home["geometry"].distance(g) for g in sps["geometry"]]))]
    lon, lat = _at(chinese, far["id"])
    distance = haversine_m(home["geometry"].x, home["geometry"].y, lon, lat)
    assert distance > 1_000
    alone = chinese.locator.locate(call(account_no=home["account_no"]))
    both = chinese.locator.locate(call(account_no=home["account_no"], lon=lon, lat=lat))
    assert both.method == Method.ACCOUNT  # the most trusted, but not silently
    assert both.transformer_id == "T0001"
    assert both.confidence < 0.6 < alone.confidence
    conflict = [e for e in both.evidence if e.startswith("conflict: gps")]
    assert conflict and "from the account location" in conflict[0]
    trs = {c.transformer_id for c in both.candidates}
    assert {"T0001", far["transformer_id"]} <= trs  # the other place stays on the table
    assert likelihood_sum(both) <= 1.0 + 1e-9


def test_agreement_is_reported(chinese: Grid) -> None:
    home = chinese.sps_of("T0008").iloc[0]
    lon, lat = _at(chinese, home["id"], 5.0)
    loc = chinese.locator.locate(
        call(account_no=home["account_no"], lon=lon, lat=lat, address="城关镇后李村1组1号")
    )
    assert loc.method == Method.ACCOUNT
    assert loc.confidence >= chinese.locator.locate(call(account_no=home["account_no"])).confidence
    assert any(e.startswith("gps agrees") for e in loc.evidence)
    assert any(e.startswith("address agrees") for e in loc.evidence)
    assert not any(e.startswith("conflict") for e in loc.evidence)


def test_position_narrowed_by_address(interleaved: Grid) -> None:
    sps = interleaved.sps_of("T0005")
    mid = sps["geometry"].iloc[2]
    plane = interleaved.locator.plane
    x, y = plane.xy(mid.x, mid.y)
    lon, lat = plane.lonlat(x + 7.5, y + 20.0)
    alone = interleaved.locator.locate(call(lon=lon, lat=lat))
    helped = interleaved.locator.locate(call(lon=lon, lat=lat, address="王寨村2组"))
    assert helped.method == Method.GPS
    assert helped.transformer_id == "T0006"
    top = {c.transformer_id: c.likelihood for c in helped.candidates if c.method == Method.GPS}
    before = {c.transformer_id: c.likelihood for c in alone.candidates}
    assert top["T0006"] > before["T0006"]


def _fix_beside(grid: Grid, sp_id: str, toward: str, metres: float) -> tuple[float, float]:
    """A WGS84 fix ``metres`` from service point ``sp_id``, on the way to ``toward``."""
    plane = grid.locator.plane
    a, b = grid.sp(sp_id)["geometry"], grid.sp(toward)["geometry"]
    ax, ay = plane.xy(a.x, a.y)
    bx, by = plane.xy(b.x, b.y)
    d = float(np.hypot(bx - ax, by - ay))
    return plane.lonlat(ax + (bx - ax) * metres / d, ay + (by - ay) * metres / d)


def test_address_named_house_outweighs_the_meters_beside_the_fix(chinese: Grid) -> None:
    # the fix is 10 m from a 谷营村 meter (T0012); the caller says a 何庄村 house (T0010),
    # 130 m away: within a phone's error, so the house the text names wins, and the
    # position's transformer stays among the candidates
    house = chinese.sps_of("T0010")
    house = house[house["address"] == "谷营镇何庄村1组4号"].iloc[0]
    other = chinese.sps_of("T0012")
    other = other[other["address"] == "谷营镇谷营村1组5号"].iloc[0]
    lon, lat = _fix_beside(chinese, other["id"], house["id"], 10.0)
    alone = chinese.locator.locate(call(lon=lon, lat=lat))
    assert alone.transformer_id == "T0012"
    for said in ("谷营镇何庄村1组4号", "河庄村1组4号"):  # and with a homophone, no township
        both = chinese.locator.locate(call(lon=lon, lat=lat, address=said))
        assert both.method == Method.GPS
        assert both.transformer_id == "T0010", said
        assert both.service_point_id == house["id"]
        trs = {c.transformer_id: c.likelihood for c in both.candidates}
        assert trs["T0010"] > 0.5
        assert any(e.startswith("position and address disagree") for e in both.evidence)
        assert likelihood_sum(both) <= 1.0 + 1e-9
    # the same address with a fix beside the house: they agree, and the answer is surer
    near = _fix_beside(chinese, house["id"], other["id"], 10.0)
    agree = chinese.locator.locate(call(lon=near[0], lat=near[1], address="谷营镇何庄村1组4号"))
    assert agree.transformer_id == "T0010"
    assert any(e.startswith("position and address agree") for e in agree.evidence)
    assert agree.confidence >= 0.9
    assert agree.confidence > both.confidence


def test_a_far_address_does_not_overrule_the_position(chinese: Grid) -> None:
    # a fix 3 m from a 何庄村 meter, an address in another township 900 m away: the
    # floor under the address keeps the position's transformer, and the conflict is said
    sp = chinese.sps_of("T0010").iloc[3]
    far = chinese.sps_of("T0001").iloc[0]
    lon, lat = _at(chinese, sp["id"], 3.0)
    assert haversine_m(lon, lat, far["geometry"].x, far["geometry"].y) > 800
    alone = chinese.locator.locate(call(lon=lon, lat=lat))
    both = chinese.locator.locate(call(lon=lon, lat=lat, address=str(far["address"])))
    assert both.transformer_id == "T0010"
    assert any(e.startswith("position and address disagree") for e in both.evidence)
    assert both.confidence < alone.confidence
    assert likelihood_sum(both) <= 1.0 + 1e-9


def test_an_area_address_leaves_the_position_to_decide(chinese: Grid) -> None:
    # a township names no transformer: the position's answer stands as it was
    sp = chinese.sps_of("T0010").iloc[2]
    lon, lat = _at(chinese, sp["id"], 3.0)
    alone = chinese.locator.locate(call(lon=lon, lat=lat))
    both = chinese.locator.locate(call(lon=lon, lat=lat, address="谷营镇"))
    assert both.transformer_id == alone.transformer_id == "T0010"
    assert abs(both.confidence - alone.confidence) < 0.1


def test_position_and_address_fused_only_without_an_account(chinese: Grid) -> None:
    # with an account number, the account answers and the others confirm it each in its
    # own words
    home = chinese.sps_of("T0010").iloc[3]
    lon, lat = _at(chinese, home["id"], 5.0)
    loc = chinese.locator.locate(
        call(account_no=home["account_no"], lon=lon, lat=lat, address=str(home["address"]))
    )
    assert loc.method == Method.ACCOUNT
    assert any(e.startswith("gps agrees") for e in loc.evidence)
    assert any(e.startswith("address agrees") for e in loc.evidence)


def test_nothing_usable(chinese: Grid) -> None:
    loc = chinese.locator.locate(call())
    assert loc.method == Method.NONE
    assert loc.reason == "no account number, pole number, position or address given"
    assert loc.contract_dict() == {
        "lon": None,
        "lat": None,
        "method": "none",
        "confidence": 0.0,
        "service_point_id": None,
        "transformer_id": None,
    }


def test_the_next_method_takes_over(chinese: Grid) -> None:
    loc = chinese.locator.locate(call(account_no="999", address="谷营镇何庄村1组2号"))
    assert loc.method == Method.ADDRESS
    assert loc.transformer_id == "T0010"
    assert any("999 not found" in e for e in loc.evidence)


def test_likelihoods_never_sum_past_one(chinese: Grid) -> None:
    rng = np.random.default_rng(0)
    sps = chinese.data.layer("service_points")
    for k in range(60):
        sp = sps.iloc[int(rng.integers(len(sps)))]
        far = sps.iloc[int(rng.integers(len(sps)))]
        lon, lat = _at(chinese, far["id"], float(rng.uniform(-200, 200)))
        loc = chinese.locator.locate(
            call(
                account_no=sp["account_no"] if k % 2 else None,
                lon=lon,
                lat=lat,
                address=str(sp["address"])[2:-1] if k % 3 else None,
                pole_no=f"{k % 9 + 1}号杆" if k % 5 == 0 else None,
            )
        )
        assert 0.0 <= loc.confidence <= 1.0
        assert likelihood_sum(loc) <= 1.0 + 1e-9
        assert all(c.likelihood > 0 for c in loc.candidates)


def test_answers_do_not_depend_on_the_caches(chinese: Grid) -> None:
    calls = [
        call(address="城关镇章庄村2组3号"),
        call(pole_no="城官一线5号杆"),
        call(address="zhangzhuang cun 2 zu 3 hao"),
    ]
    first = [chinese.locator.locate(c) for c in calls]
    again = [chinese.locator.locate(c) for c in calls]
    chinese.locator.clear_caches()
    cleared = [chinese.locator.locate(c) for c in calls]
    assert first == again == cleared
    assert [x.method for x in first] == [Method.ADDRESS, Method.POLE, Method.ADDRESS]
