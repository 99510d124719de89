"""Parsers and converters of the locator, on real examples of what callers say and agents type."""

from __future__ import annotations

import math

import pytest

from gis.crs import gcj02_to_wgs84, haversine_m, wgs84_to_gcj02
from outages.locate import normalise_account
from outages.locate.address import parse_address, strip_suffix
from outages.locate.poles import (
    LineIndex,
    PoleLabel,
    line_key,
    parse_pole_label,
    pole_label_readings,
)
from outages.locate.position import Plane, gcj_to_wgs
from outages.locate.text import (
    cn_to_int,
    nfkc,
    number_text,
    numbered_label,
    roman_to_int,
    spell,
    split_pinyin,
)

# -- numerals and width ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("四十五", 45),
        ("十五", 15),
        ("二十", 20),
        ("一百零五", 105),
        ("四五", 45),
        ("一零五", 105),
        ("两百", 200),
        ("三", 3),
        ("十", 10),
        ("幺五", 15),
        ("洞拐", 7),
    ],
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert cn_to_int(text) == value


def test_chinese_numeral_rejects_other_characters() -> None:
    assert cn_to_int("四十五号") is None
    assert cn_to_int("") is None


@pytest.mark.parametrize(
    ("text", "value"), [("I", 1), ("ii", 2), ("IV", 4), ("ix", 9), ("XII", 12)]
)
def test_roman_numerals(text: str, value: int) -> None:
    assert roman_to_int(text) == value


def test_numbers_said_any_way() -> None:
    assert number_text("０４５") == "45"  # full-width digits, leading zero
    assert number_text("Ⅳ") == "4"  # the Roman numeral sign
    assert number_text("四十五") == "45"
    assert numbered_label("四十五-三") == "45-3"
    assert numbered_label("45－3") == "45-3"  # full-width dash
    assert numbered_label("45-abc") is None


# -- account numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "said",
    [
        "0412345678",
        " 0412 345 678 ",
        "0412-345-678",
        "０４１２３４５６７８",
        "户号：0412345678",
        "户号 0412.345.678",
        "account no. 0412345678",
    ],
)
def test_account_normalisation(said: str) -> None:
    assert normalise_account(said) == "0412345678"


# -- pole labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "line", "number"),
    [
        ("城关Ⅰ线45号杆", "城关Ⅰ线", "45"),
        ("城关1线 45", "城关1线", "45"),
        ("城关一线第45基", "城关一线", "45"),
        ("10kV城关Ⅰ线45#", "10kV城关Ⅰ线", "45"),
        ("城关Ⅰ线四十五号杆", "城关Ⅰ线", "45"),
        ("城关Ⅰ线45-3号杆", "城关Ⅰ线", "45-3"),
        ("城关Ⅰ线45之3", "城关Ⅰ线", "45-3"),
        ("城关Ⅰ线幺五号杆", "城关Ⅰ线", "15"),  # read out radio-style: 幺 for 1
        ("城关Ⅰ线四拐号杆", "城关Ⅰ线", "47"),
        ("45号杆", None, "45"),
        ("45-3", None, "45-3"),
        ("#45", None, "45"),
        ("城关1号线 45号", "城关1号线", "45"),  # a line itself numbered with 号
        ("Feeder 1 #4-1", "Feeder 1", "4-1"),
        ("Feeder 2 pole 7", "Feeder 2", "7"),
    ],
)
def test_pole_labels(said: str, line: str | None, number: str) -> None:
    label = parse_pole_label(said)
    assert label.number == number
    assert label.line == (nfkc(line) if line else None)  # Ⅰ is read as I


def test_a_line_said_right_before_a_dashed_number_may_own_its_first_parts() -> None:
    assert pole_label_readings("Feeder 8-57") == [
        PoleLabel("Feeder", "8-57"),
        PoleLabel("Feeder 8", "57"),
    ]
    assert pole_label_readings("城关1-45")[1] == PoleLabel("城关 1", "45")
    assert len(pole_label_readings("Feeder 8 lateral 23-4-23-4-1")) == 5
    # the line has its ordinal already, or comes after the number: one reading
    assert pole_label_readings("城关1线 45-3") == [PoleLabel("城关1线", "45-3")]
    assert pole_label_readings("45-3号杆 城关线") == [PoleLabel("城关线", "45-3")]


def test_pole_label_without_number() -> None:
    assert parse_pole_label("城关一线").number is None
    assert parse_pole_label("城关一").number is None  # the ordinal, not a pole


@pytest.mark.parametrize(
    "name",
    ["10kV城关Ⅰ线", "城关1线", "城关一线", "城关Ⅰ", "10千伏城关Ⅰ线", "城关1回线", "城关Ｉ线"],
)
def test_line_names_reduce_to_stem_and_ordinal(name: str) -> None:
    assert line_key(name) == ("城关", "1")


def test_branch_line_keeps_its_branch_in_the_stem() -> None:
    stem, ordinal = line_key("10kV考城Ⅱ线小秦分支线")
    assert ordinal == "2"
    assert "小秦" in stem
    assert line_key("10kV张庄线") == ("张庄", None)


def test_line_index_matches_homophones_but_not_other_ordinals() -> None:
    index = LineIndex([line_key(n) for n in ("10kV城关Ⅰ线", "10kV城关Ⅱ线", "10kV堌阳Ⅰ线")])
    assert index.match("固阳1线")[0].key == ("堌阳", "1")  # 固 for 堌: same syllable
    assert index.match("城关二线")[0].key == ("城关", "2")
    assert all(m.key != ("城关", "1") for m in index.match("城关二线"))
    both = {m.key for m in index.match("城关线")}  # no ordinal said: both fit
    assert both == {("城关", "1"), ("城关", "2")}
    assert index.match("人民路") == []


def test_a_branch_line_said_without_its_feeder_matches_every_feeder_that_has_it() -> None:
    """Callers read the branch's own name off the pole (钱家支线13号杆); the line name of
    the pole layer starts with the feeder's. A long part scored under the threshold as a
    fuzzy match of the whole name."""
    names = ("10kV桥头Ⅲ线钱家支线", "10kV桥头Ⅱ线钱家支线", "10kV杨柳Ⅲ线钱家支线", "10kV桥头Ⅲ线")
    index = LineIndex([line_key(n) for n in names])
    got = {m.key for m in index.match("钱家支线")}
    assert got == {("桥头钱家支", "3"), ("桥头钱家支", "2"), ("杨柳钱家支", "3")}
    assert {m.key for m in index.match("桥头3线钱家支线")} == {("桥头钱家支", "3")}


# -- addresses --------------------------------------------------------------------------------


def test_address_parts() -> None:
    q = parse_address("城关镇张庄村3组15号")
    assert (q.name, q.group, q.house, q.pinyin) == ("城关镇张庄村", "3", "15", False)
    q = parse_address("张庄村三组十五号")
    assert (q.name, q.group, q.house) == ("张庄村", "3", "15")
    q = parse_address("张庄村第三村民小组15号附近")
    assert (q.name, q.group, q.house) == ("张庄村", "3", "15")
    q = parse_address("张庄村3 15")  # bare numbers: group, then house
    assert (q.group, q.house) == ("3", "15")
    q = parse_address("张庄村 3 组 15 号")
    assert (q.name, q.group, q.house) == ("张庄村", "3", "15")
    q = parse_address("张庄村15号")
    assert (q.group, q.house) == (None, "15")
    q = parse_address("城关镇黄河路1304号")
    assert (q.name, q.group, q.house) == ("城关镇黄河路", None, "1304")


def test_pinyin_address() -> None:
    q = parse_address("zhangzhuang cun 3 zu 15 hao")
    assert q.pinyin
    assert (q.name, q.group, q.house) == ("zhangzhuangcun", "3", "15")
    assert parse_address("Zhangzhuang 3zu 15hao").group == "3"


def test_bare_forms() -> None:
    assert strip_suffix("张庄村", ("村",)) == "张庄"
    assert strip_suffix("李村", ("村",)) == "李村"  # one character would be too little


# -- pinyin -----------------------------------------------------------------------------------


def test_homophones_spell_alike() -> None:
    assert spell("张庄").codes == spell("章庄").codes
    assert spell("张庄").chars != spell("章庄").chars
    assert spell("张庄").codes != spell("王庄").codes


def test_typed_pinyin_spells_like_the_characters() -> None:
    assert split_pinyin("zhangzhuang") == ("zhang", "zhuang")
    assert split_pinyin("xian") == ("xian",)  # fewest syllables
    assert spell("zhangzhuang").codes == spell("张庄").codes
    assert spell("Zhang Zhuang").codes == spell("张庄").codes


def test_a_stray_letter_stands_alone() -> None:
    assert split_pinyin("zhangvzhuang") == ("zhang", "v", "zhuang")


# -- GCJ-02 -----------------------------------------------------------------------------------

# Published pairs, (lon, lat) WGS84 -> (lon, lat) GCJ-02:
# - googollee/eviltransform, python/test.py and go/transform_test.go (Shanghai, Shenzhen,
#   Beijing; given there as lat, lng);
# - wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915);
# - madlogos/asesgeo, tests/testthat/test_conv_coord.R: the answer of AutoNavi's own
#   conversion API (restapi.amap.com) for WGS84 (116.42079, 39.90105), a pair from the
#   service that defines GCJ-02 rather than from a reimplementation.
WGS_GCJ_PAIRS = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]
AMAP_API_PAIR = ((116.42079, 39.90105), (116.427020941841, 39.902445203994))


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ_PAIRS)
def test_wgs84_to_gcj02_published_pairs(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-7)
    assert lat == pytest.approx(gcj[1], abs=1e-7)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ_PAIRS)
def test_gcj02_to_wgs84_published_pairs(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    for convert in (gcj02_to_wgs84, gcj_to_wgs):
        assert haversine_m(*convert(*gcj), *wgs) < 0.01


def test_gcj02_against_the_amap_api() -> None:
    wgs, gcj = AMAP_API_PAIR
    assert haversine_m(*wgs84_to_gcj02(*wgs), *gcj) < 0.5
    assert haversine_m(*gcj_to_wgs(*gcj), *wgs) < 0.5
    assert haversine_m(*gcj02_to_wgs84(*gcj), *wgs) < 0.5


def test_gcj02_to_wgs84_published_by_gcoord() -> None:
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.js: GCJ02 -> WGS84 of (123, 45), 5 decimals
    lon, lat = gcj_to_wgs(123.0, 45.0)
    assert lon == pytest.approx(122.99395597, abs=5e-6)
    assert lat == pytest.approx(44.99804071, abs=5e-6)


def test_gcj02_offset_is_hundreds_of_metres_and_none_abroad() -> None:
    wgs = (114.82, 34.85)  # 兰考
    assert 100 < haversine_m(*wgs, *wgs84_to_gcj02(*wgs)) < 1000
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # Paris
    assert gcj_to_wgs(2.35, 48.85) == (2.35, 48.85)


def test_plane_distances_match_the_sphere() -> None:
    plane = Plane.around(114.82, 34.85)
    for dlon, dlat in ((0.3, 0.0), (0.0, 0.3), (0.25, -0.2)):
        a = plane.xy(114.82 + dlon, 34.85 + dlat)
        b = plane.xy(114.82, 34.85)
        flat = math.hypot(a[0] - b[0], a[1] - b[1])
        sphere = haversine_m(114.82 + dlon, 34.85 + dlat, 114.82, 34.85)
        assert abs(flat - sphere) / sphere < 0.006
    lon, lat = plane.lonlat(*plane.xy(115.0, 35.0))
    assert (lon, lat) == pytest.approx((115.0, 35.0))
