"""The storm simulator and how its callers speak, on grids of several shapes and namings."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pypinyin import Style, lazy_pinyin, pinyin

from gis.crs import LocalFrame, gcj02_to_wgs84
from layers.grid import GridData
from layers.importer import prepare
from layers.network import NetworkModel
from layers.synthetic import synthetic_grid
from layers.units import ResponsibleUnits
from outages.callers import (
    HOMOPHONE_GROUPS,
    CallerMix,
    Homophones,
    chinese_number,
    full_width,
    garble_address,
    say_account,
    say_pole,
)
from outages.calls import (
    CALL_COLUMNS,
    SIGHT_LINE,
    SIGHT_TRANSFORMER,
    Call,
    Rejection,
    Symptom,
    parse_call,
    sighting,
)
from outages.storm import (
    CUSTOMER_SIDE,
    DUPLICATE,
    MALFORMED,
    NETWORK_KINDS,
    TRUTH_COLUMNS,
    Storm,
    StormMix,
    simulate_storm,
)

Grid = tuple[GridData, NetworkModel]

SHAPES: dict[str, dict[str, Any]] = {
    # laterals with fuses, a recloser mid-trunk, 400 V networks
    "branchy": {
        "seed": 1,
        "feeders_per_bus": 3,
        "sections_per_feeder": 20,
        "transformers_per_feeder": 8,
        "service_points_per_transformer": 30,
    },
    # two substations, straight feeders: no fuses, no reclosers, no 400 V lines
    "straight": {
        "seed": 2,
        "substations": 2,
        "feeders_per_bus": 2,
        "branch_probability": 0.0,
        "reclosers": False,
        "lv_lines": False,
        "transformers_per_feeder": 6,
        "service_points_per_transformer": 25,
        "prefix": "X-",
    },
    # two buses, bushy trees of laterals and sub-laterals
    "bushy": {
        "seed": 3,
        "buses_per_substation": 2,
        "feeders_per_bus": 2,
        "sections_per_feeder": 30,
        "branch_probability": 0.5,
        "transformers_per_feeder": 10,
        "service_points_per_transformer": 20,
    },
}

TOWNS = (("城关镇", "城关"), ("谷营镇", "谷营"), ("考城镇", "考城"))
VILLAGES = (
    "张庄",
    "王寨",
    "李集",
    "刘楼",
    "陈营",
    "杨岗",
    "赵屯",
    "黄庙",
    "周店",
    "吴堂",
    "东赵",
    "后李",
    "胡楼",
    "朱庄",
    "郭寨",
    "马集",
    "何营",
    "罗岗",
    "梁屯",
    "宋庄",
)


def _prepare(tmp: Path, **kwargs: Any) -> Grid:
    path = tmp / "grid.gpkg"
    synthetic_grid(**kwargs).write(path)
    data, model, problems = prepare(path)
    assert data is not None and model is not None
    assert not [p for p in problems if p.severity == "error"]
    return data, model


def _sinicise(data: GridData) -> GridData:
    """Names the synthetic grid as a Chinese county does: 10kV城关Ⅰ线, poles on it numbered
    45 and 45-3, addresses 城关镇张庄村3组15号, a gazetteer with aliases, two units."""
    feeders = sorted({f for f in data.layer("mv_lines")["feeder"].tolist() if f})
    names = {f: f"10kV{TOWNS[i % 3][1]}{'ⅠⅡⅢ'[i // 3 % 3]}线" for i, f in enumerate(feeders)}

    def rename(value: Any) -> Any:
        return names.get(" ".join(str(value).split(" ")[:2]), value) if value else value

    for layer in ("mv_lines", "switches", "transformers", "poles"):
        column = "line_name" if layer == "poles" else "feeder"
        data.set_column(layer, column, [rename(v) for v in data.layer(layer)[column].tolist()])
    tr = data.layer("transformers")
    village_of: dict[str, tuple[str, str, int]] = {}
    places = []
    for i, (tid, geom) in enumerate(zip(tr["id"].tolist(), tr["geometry"].tolist(), strict=True)):
        village = VILLAGES[i % len(VILLAGES)]
        village_of[tid] = (TOWNS[i // len(VILLAGES) % 3][0], village, i % 5 + 1)
        if i < len(VILLAGES):
            places.append(
                {
                    "name": f"{village}村",
                    "kind": "village",
                    "aliases": f"{village};{village[0]}家{village[1:]}",
                    "admin_id": None,
                    "geometry": geom,
                    "attrs": {},
                }
            )
    houses: Counter[str] = Counter()
    addresses = []
    for tid in data.layer("service_points")["transformer_id"].tolist():
        town, village, group = village_of[tid]
        houses[tid] += 1
        addresses.append(f"{town}{village}村{group}组{houses[tid]}号")
    data.set_column("service_points", "address", addresses)
    data.frames["places"] = pd.DataFrame(places)
    # a second unit: the territory of the east half
    lon0 = data.frame.lon0
    import shapely

    units = data.layer("units")
    data.frames["units"] = pd.concat(
        [
            units,
            pd.DataFrame(
                [
                    {
                        "id": "U2",
                        "name": "东区供电所",
                        "kind": None,
                        "phone": None,
                        "geometry": shapely.Point(lon0 + 0.01, data.frame.lat0),
                        "attrs": {},
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    data.frames["territories"] = pd.DataFrame(
        [
            {
                "unit_id": "U1",
                "id": "W",
                "area_class": "rural",
                "attrs": {},
                "geometry": shapely.box(lon0 - 1, -89, lon0, 89),
            },
            {
                "unit_id": "U2",
                "id": "E",
                "area_class": "urban",
                "attrs": {},
                "geometry": shapely.box(lon0, -89, lon0 + 1, 89),
            },
        ]
    )
    return data


@pytest.fixture(scope="module")
def grids(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grid]:
    out = {name: _prepare(tmp_path_factory.mktemp(name), **kw) for name, kw in SHAPES.items()}
    data, _model = _prepare(tmp_path_factory.mktemp("chinese"), **{**SHAPES["branchy"], "seed": 7})
    data = _sinicise(data)
    out["chinese"] = (data, NetworkModel(data))
    return out


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Grid:
    demo = pytest.importorskip("layers.demo.county")
    path = tmp_path_factory.mktemp("county") / "county.gpkg"
    demo.write_county(path, seed=0, scale=0.1)
    data, model, problems = prepare(path)
    assert data is not None and model is not None
    assert not [p for p in problems if p.severity == "error"]
    return data, model


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _network(storm: Storm) -> list[Any]:
    return [c for c in storm.calls if c.kind in NETWORK_KINDS]


# --- the simulator ----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_storm_and_another_seed_another(
    grids: dict[str, Grid],
) -> None:
    data, model = grids["branchy"]
    a = simulate_storm(data, model, faults=8, hours=5, seed=11)
    b = simulate_storm(data, model, faults=8, hours=5, seed=11)
    c = simulate_storm(data, model, faults=8, hours=5, seed=12)
    assert [x.row for x in a.calls] == [x.row for x in b.calls]
    assert a.truth_rows() == b.truth_rows()
    assert a.faults == b.faults
    assert [x.row for x in a.calls] != [x.row for x in c.calls]


@pytest.mark.parametrize("shape", ["branchy", "straight", "bushy", "chinese"])
def test_written_files_parse_and_only_the_malformed_rows_are_rejected(
    grids: dict[str, Grid], shape: str, tmp_path: Path
) -> None:
    data, model = grids[shape]
    storm = simulate_storm(
        data, model, faults=10, seed=4, mix=StormMix(malformed=0.05, duplicate=0.05)
    )
    calls_path, truth_path = storm.write(tmp_path / "storm")
    header, rows = _read(calls_path)
    assert header == list(CALL_COLUMNS)
    assert len(rows) == len(storm.calls)
    kinds = Counter(c.kind for c in storm.calls)
    assert kinds[MALFORMED] > 0 and kinds[DUPLICATE] > 0
    for number, (row, call) in enumerate(zip(rows, storm.calls, strict=True), start=2):
        parsed = parse_call(row, number)
        if call.kind == MALFORMED:
            assert isinstance(parsed, Rejection), row
        else:
            assert isinstance(parsed, Call), (row, parsed)
            assert (
                parsed.notes == () or call.row["coord_sys"] == "BD09" or call.row["lat"] == "999"
            ), parsed.notes
    truth_header, truth = _read(truth_path)
    assert truth_header == list(TRUTH_COLUMNS)
    ids = [t["call_id"] for t in truth]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["call_id"] for r in rows if r["call_id"]}


@pytest.mark.parametrize("shape", ["branchy", "straight", "bushy"])
def test_every_caller_is_behind_the_device_that_operated_while_it_was_out(
    grids: dict[str, Grid], shape: str
) -> None:
    data, model = grids[shape]
    storm = simulate_storm(data, model, faults=12, hours=6, seed=5)
    faults = {f.fault_id: f for f in storm.faults}
    sp_transformer = dict(
        zip(
            data.layer("service_points")["id"].tolist(),
            data.layer("service_points")["transformer_id"].tolist(),
            strict=True,
        )
    )
    checked = 0
    for call in _network(storm):
        fault = faults[call.truth["fault_id"]]
        assert call.truth["device_id"] == fault.device_id
        assert fault.start <= call.at < fault.restore
        sp = call.truth["true_service_point_id"]
        if call.kind == "passerby":
            assert sp == "" and call.truth["true_transformer_id"] == ""
            continue
        assert fault.device_id in model.protective_chain(sp)
        assert call.truth["true_transformer_id"] == sp_transformer[sp]
        checked += 1
    assert checked > 20


def test_a_line_section_fault_names_the_protective_device_upstream(grids: dict[str, Grid]) -> None:
    data, model = grids["bushy"]
    storm = simulate_storm(
        data,
        model,
        faults=15,
        seed=6,
        mix=StormMix(line_section=1.0, breaker=0, recloser=0, fuse=0, transformer=0),
    )
    assert {f.kind for f in storm.faults} == {"line_section"}
    for fault in storm.faults:
        assert model.kind_of(fault.element_id) == "mv_line"
        assert fault.device_id == model.protective_device(fault.element_id)
        assert fault.customers == model.downstream_service_point_count(fault.device_id)


def test_faults_cluster_on_feeders_and_nest_below_each_other(grids: dict[str, Grid]) -> None:
    data, model = grids["bushy"]
    storm = simulate_storm(
        data, model, faults=16, hours=4, seed=2, mix=StormMix(nested=0.3, same_feeder=0.4)
    )
    faults = storm.faults
    assert len({f.device_id for f in faults}) == len(faults)
    concurrent = [
        (a, b)
        for i, a in enumerate(faults)
        for b in faults[i + 1 :]
        if a.feeder == b.feeder and a.start < b.restore and b.start < a.restore
    ]
    assert concurrent
    nested = [f for f in faults if f.pattern == "nested"]
    assert nested
    by_id = {f.fault_id: f for f in faults}
    for f in nested:
        parent = by_id[f.parent_id or ""]
        assert parent.device_id in model.protective_chain(f.device_id)[1:]
    # every fault is noticed by someone: none is dark all its life below another
    assert {c.truth["fault_id"] for c in _network(storm)} == set(by_id)


def test_below_a_repaired_fault_the_customers_still_dark_call_about_the_nested_one(
    grids: dict[str, Grid],
) -> None:
    data, model = grids["bushy"]
    storm = simulate_storm(
        data,
        model,
        faults=20,
        hours=4,
        seed=8,
        mix=StormMix(nested=0.6, call_share_min=0.3, call_share_max=0.3),
    )
    by_id = {f.fault_id: f for f in storm.faults}
    seen = 0
    for call in _network(storm):
        fault = by_id[call.truth["fault_id"]]
        if call.kind == "passerby":
            continue
        above = [
            g
            for g in storm.faults
            if g is not fault
            and g.device_id in model.protective_chain(fault.device_id)[1:]
            and g.start <= call.at < g.restore
        ]
        # a caller is never attributed to a fault while an earlier one above keeps them dark
        assert all(g.start > fault.start for g in above), (call.truth, above)
        if call.outage_start is not None and call.outage_start > fault.start:
            seen += 1  # dark since an upstream repair, still dark: calls about the nested one
    assert seen > 0


def test_a_repair_the_customers_cannot_see_brings_no_new_wave_of_calls(
    grids: dict[str, Grid],
) -> None:
    # Customers dark behind two faults, the one below them repaired first: the one above
    # still holds them dark, nothing they can see has changed, so they do not call as if
    # their outage had just begun (only a repair above them, their neighbours' lights
    # coming back, does that).
    data, model = grids["bushy"]
    restarted = carried = 0
    for seed in range(4):
        storm = simulate_storm(
            data,
            model,
            faults=20,
            hours=4,
            seed=seed,
            mix=StormMix(nested=0.3, same_feeder=0.3, call_share_min=0.3, call_share_max=0.3),
        )
        by_id = {f.fault_id: f for f in storm.faults}
        for call in storm.calls:
            if call.kind not in ("fault", "callback") or call.outage_start is None:
                continue
            fault = by_id[call.truth["fault_id"]]
            # a call is about the fault holding the caller dark at its moment
            assert fault.start <= call.at < fault.restore, call.truth
            if call.outage_start < fault.start:
                carried += 1  # dark since a fault below, repaired unseen: about this one
            if call.kind != "fault" or call.outage_start <= fault.start:
                continue
            restarted += 1
            above = model.protective_chain(fault.device_id)[1:]
            assert any(
                g.restore == call.outage_start and g.device_id in above for g in storm.faults
            ), (call.truth, call.outage_start)
    assert restarted > 0 and carried > 0


def test_calls_are_front_loaded_after_the_fault(grids: dict[str, Grid]) -> None:
    data, model = grids["bushy"]
    storm = simulate_storm(data, model, faults=20, hours=6, seed=9)
    delays = np.asarray(
        [
            (c.at - c.outage_start).total_seconds() / 60
            for c in storm.calls
            if c.kind == "fault" and c.outage_start
        ]
    )
    assert len(delays) > 40
    assert delays.min() >= 0
    assert np.median(delays) < 15
    assert np.mean(delays <= 30) > 0.8
    summary = storm.summary()
    assert summary["first_call_minutes"]["share_within_30"] == pytest.approx(
        float(np.mean(delays <= 30)), abs=1e-3
    )


def test_faults_follow_a_storm_shaped_intensity(grids: dict[str, Grid]) -> None:
    data, model = grids["bushy"]
    starts = []
    for seed in range(6):
        storm = simulate_storm(data, model, faults=12, hours=6, seed=seed)
        starts += [(f.start - storm.start).total_seconds() / 3600 for f in storm.faults]
    hist = np.histogram(starts, bins=3, range=(0, 6))[0]
    assert all(0 <= s <= 6 for s in starts)
    assert hist[0] > hist[2] and hist[1] > hist[2]  # rises early, tails off


def test_a_share_of_customers_call_and_the_mix_is_as_asked(grids: dict[str, Grid]) -> None:
    data, model = grids["branchy"]
    mix = StormMix(
        customer_side=0.1,
        query=0.1,
        consult=0.05,
        complaint=0.05,
        malformed=0.02,
        duplicate=0.03,
        passerby=0.0,
        callback=0.0,
    )
    storm = simulate_storm(data, model, faults=15, hours=6, seed=3, mix=mix)
    kinds = Counter(c.kind for c in storm.calls)
    network = kinds["fault"]
    assert network > 50
    assert kinds[CUSTOMER_SIDE] == round(0.1 * network)
    assert kinds["query"] == round(0.1 * network)
    assert kinds["consult"] == round(0.05 * network)
    assert kinds["complaint"] == round(0.05 * network)
    assert kinds["passerby"] == 0 and kinds["callback"] == 0
    rows = len(storm.calls)
    assert kinds[MALFORMED] == pytest.approx(0.02 * rows, abs=2)
    assert kinds[DUPLICATE] == pytest.approx(0.03 * rows, abs=2)
    # 5 to 15 % of each outage's customers call (fewer when power comes back first)
    callers = Counter(c.truth["fault_id"] for c in storm.calls if c.kind == "fault")
    big = [f for f in storm.faults if f.customers >= 100]
    assert big
    for f in big:
        assert 0.02 <= callers[f.fault_id] / f.customers <= 0.2, (f, callers[f.fault_id])
    nothing = simulate_storm(
        data,
        model,
        faults=5,
        seed=3,
        mix=replace(
            mix,
            customer_side=0,
            query=0,
            consult=0,
            complaint=0,
            malformed=0,
            duplicate=0,
            report=0,
            suggestion=0,
            praise=0,
            new_connection=0,
        ),
    )
    assert {c.kind for c in nothing.calls} == {"fault"}


def test_the_truth_is_consistent(grids: dict[str, Grid]) -> None:
    data, model = grids["chinese"]
    storm = simulate_storm(
        data, model, faults=12, seed=10, mix=StormMix(customer_side=0.2, malformed=0.03)
    )
    units = ResponsibleUnits(data, model)
    faults = {f.fault_id: f for f in storm.faults}
    dark: set[str] = set()
    for f in storm.faults:
        dark.update(model.downstream_service_points(f.device_id))
    assert len({f.unit_id for f in storm.faults}) == 2  # both units have faults
    for call in storm.calls:
        t = call.truth
        if call.kind == DUPLICATE:
            continue  # the same row as its original, checked below
        if call.kind in NETWORK_KINDS:
            fault = faults[t["fault_id"]]
            lon, lat = data.element_location(fault.device_id) or (None, None)
            assert t["expected_unit_id"] == units.responsible(lon, lat, fault.device_id).unit_id
        else:
            assert t["fault_id"] == "" and t["device_id"] == ""
        if call.kind == CUSTOMER_SIDE:
            assert t["true_service_point_id"] and t["true_transformer_id"]
            assert t["true_service_point_id"] not in dark  # their neighbours have power
            assert call.row["category"] == "repair"
    duplicates = [c for c in storm.calls if c.kind == DUPLICATE]
    originals = {c.call_id: c for c in storm.calls if c.kind != DUPLICATE}
    assert duplicates
    for dup in duplicates:
        assert dup.row == originals[dup.call_id].row
        assert storm.calls.index(dup) > storm.calls.index(originals[dup.call_id])


def test_symptoms_fit_the_fault(grids: dict[str, Grid]) -> None:
    data, model = grids["bushy"]
    storm = simulate_storm(data, model, faults=30, hours=6, seed=12, mix=StormMix(single_phase=0.5))
    faults = {f.fault_id: f for f in storm.faults}
    by_kind: dict[str, Counter[str]] = {}
    for call in _network(storm):
        f = faults[call.truth["fault_id"]]
        # a passer-by sees the failed element, however many phases its customers lost
        key = "single_phase" if f.single_phase and call.kind != "passerby" else f.kind
        by_kind.setdefault(key, Counter())[call.row["symptom"]] += 1
    assert by_kind["single_phase"]["partial_power"] > 0
    for kind, counts in by_kind.items():
        if kind != "single_phase":
            assert counts["partial_power"] == 0 and counts["low_voltage"] == 0, kind
            assert counts["no_power"] > 0.5 * sum(counts.values()) or kind == "line_section"
        if kind != "transformer":
            assert counts["transformer_noise"] == 0, kind
        if kind not in ("line_section",):
            assert counts["line_down"] == 0 and counts["pole_down"] == 0, kind
    assert by_kind["line_section"]["line_down"] + by_kind["line_section"]["pole_down"] > 0


def test_works_without_poles_addresses_or_units(grids: dict[str, Grid]) -> None:
    data, _model = grids["straight"]
    bare = GridData(
        {
            k: v.copy()
            for k, v in data.frames.items()
            if k not in ("poles", "units", "territories", "crews")
        }
    )
    bare.set_column("service_points", "address", [None] * len(bare.layer("service_points")))
    bare.set_column("mv_lines", "unit_id", [None] * len(bare.layer("mv_lines")))
    model = NetworkModel(bare)
    storm = simulate_storm(bare, model, faults=6, seed=1)
    assert _network(storm)
    for call in storm.calls:
        assert call.row["pole_no"] == ""
        assert call.truth["expected_unit_id"] == ""
        assert "pole" not in call.ways and "address" not in call.ways
    assert any("account" in c.ways for c in storm.calls)
    assert any("gps" in c.ways for c in storm.calls)


def test_a_small_grid_takes_the_faults_it_has_room_for(tmp_path: Path) -> None:
    data, model = _prepare(
        tmp_path,
        seed=4,
        feeders_per_bus=1,
        sections_per_feeder=4,
        branch_probability=0.0,
        reclosers=False,
        transformers_per_feeder=2,
        service_points_per_transformer=5,
    )
    storm = simulate_storm(data, model, faults=50, seed=0)
    devices = {f.device_id for f in storm.faults}
    assert len(devices) == len(storm.faults) < 50
    assert storm.notes


def test_the_demo_county_storm(county: Grid, tmp_path: Path) -> None:
    data, model = county
    storm = simulate_storm(data, model, faults=10, hours=4, seed=1)
    _calls, truth_path = storm.write(tmp_path, with_faults=True)
    assert (tmp_path / "faults.csv").exists()
    summary = storm.summary()
    assert summary["faults"] == 10 and summary["faults_with_calls"] == 10
    ways = summary["network_calls_by_way"]
    assert {"account", "address", "pole", "gps"} <= set(ways)
    for call in _network(storm):
        sp = call.truth["true_service_point_id"]
        if sp:
            assert call.truth["device_id"] in model.protective_chain(sp)
    poles = [c.row["pole_no"] for c in storm.calls if c.row["pole_no"]]
    assert any("线" in p for p in poles)
    assert _read(truth_path)[0] == list(TRUTH_COLUMNS)


def test_mix_text_changes_the_defaults_and_refuses_unknown_names() -> None:
    mix = StormMix.parse("customer_side=0.2, malformed=0,callers.gps=0.5")
    assert mix.customer_side == 0.2 and mix.malformed == 0 and mix.callers.gps == 0.5
    assert mix.query == StormMix().query
    for bad in ("nonsense=1", "callers.nonsense=1", "malformed", "malformed=-1", "query=x"):
        with pytest.raises(ValueError):
            StormMix.parse(bad)


# --- how callers speak -------------------------------------------------------------------------


def test_every_homophone_group_shares_a_sound() -> None:
    for group in HOMOPHONE_GROUPS:
        readings = [set(pinyin(c, style=Style.NORMAL, heteronym=True)[0]) for c in group]
        common = set.intersection(*readings)
        assert common, group


def test_homophones_come_from_the_table_the_grid_and_the_common_characters() -> None:
    h = Homophones(["章庄村3组", "汪寨村"])
    assert {"桩", "装"} <= set(h.candidates("庄"))
    assert "章" in h.candidates("张")
    assert "庄" not in h.candidates("庄")
    rng = np.random.default_rng(0)
    swapped = {h.swap(rng, "张") for _ in range(200)}
    assert swapped <= set(h.candidates("张"))
    assert {lazy_pinyin(c)[0] for c in swapped} == {"zhang"}
    assert h.swap(rng, "x") == "x"


def test_numbers_as_people_say_them() -> None:
    assert [chinese_number(n) for n in (0, 3, 10, 12, 20, 45, 100, 105, 110, 2024)] == [
        "零",
        "三",
        "十",
        "十二",
        "二十",
        "四十五",
        "一百",
        "一百零五",
        "一百一十",
        "二千零二十四",
    ]
    assert full_width("0460808621") == "０４６０８０８６２１"


def test_pole_numbers_are_said_in_many_ways() -> None:
    rng = np.random.default_rng(1)
    said = {say_pole(rng, "10kV城关Ⅰ线", "45") for _ in range(400)}
    assert {"城关Ⅰ线45号杆", "城关1线45", "城关一线第45基", "城关Ⅰ线45#"} <= said
    assert any(s.startswith("10kV") for s in said)
    assert any(" " in s for s in said)
    assert any("四十五" in s for s in said)
    assert any("４５" in s for s in said)
    branch = {say_pole(rng, "10kV城关Ⅰ线", "45-3") for _ in range(100)}
    assert all("45-3" in s for s in branch)
    short = {say_pole(rng, "10kV城关Ⅰ线", "45", short=True) for _ in range(100)}
    assert "45号杆" in short and not any("线" in s for s in short)
    latin = {say_pole(rng, "Feeder 2", "7") for _ in range(50)}
    assert all("Feeder 2" in s for s in latin)
    assert {"Feeder 2 #7", "Feeder 2-7"} <= latin


def test_account_numbers_are_typed_with_spaces_and_full_width_digits() -> None:
    rng = np.random.default_rng(2)
    said = [say_account(rng, "0460808621") for _ in range(400)]
    normal = {
        re.sub(r"\s", "", (s or "").translate({0xFF10 + i: str(i) for i in range(10)}))
        for s in said
    }
    assert normal <= {"0460808621", "460808621"}
    assert "0460808621" in said
    assert any(s and " " in s.strip() for s in said)
    assert any(s and "０" in s for s in said)
    assert "460808621" in said  # the leading zero lost in a spreadsheet


def test_addresses_as_agents_type_them() -> None:
    rng = np.random.default_rng(3)
    h = Homophones(["城关镇张庄村3组15号"])
    mix = CallerMix(homophone=0.5, pinyin=0.1, typo=0.1)
    said = [
        garble_address(rng, "城关镇张庄村3组15号", h, mix, aliases={"张庄": ["张家庄"]})
        for _ in range(600)
    ]
    assert "城关镇张庄村3组15号" in said
    assert "张庄村3组15号" in said  # the township left out
    assert any("三组" in s for s in said)
    clean = [
        garble_address(rng, "城关镇张庄村3组15号", h, replace(mix, typo=0, pinyin=0))
        for _ in range(300)
    ]
    homophones = [s for s in clean if re.search(r"[桩装妆章彰樟]", s)]
    assert homophones
    for s in homophones:  # a homophone sounds the same
        village = re.search(r"(..)村", s)
        if village:
            assert lazy_pinyin(village.group(1)) == ["zhang", "zhuang"], s
    assert any("zhangzhuang" in s for s in said)
    assert any("张家庄" in s for s in said)
    assert any(s.startswith(("张村", "庄村")) or "张庄3组" in s for s in said)  # slips
    latin = {garble_address(rng, "Street T0001 No. 12", h, mix) for _ in range(200)}
    assert "Street T0001 No. 12" in latin and "street t0001 no. 12" in latin


def test_chinese_grid_callers_say_where_they_are(grids: dict[str, Grid]) -> None:
    data, model = grids["chinese"]
    storm = simulate_storm(
        data, model, faults=25, seed=13, mix=StormMix(callers=CallerMix(swapped=0.1))
    )
    sps = data.layer("service_points")
    address = dict(zip(sps["id"].tolist(), sps["address"].tolist(), strict=True))
    account = dict(zip(sps["id"].tolist(), sps["account_no"].tolist(), strict=True))
    xy = {i: (g.x, g.y) for i, g in zip(sps["id"].tolist(), sps["geometry"].tolist(), strict=True)}
    frame = LocalFrame(data.frame.lon0, data.frame.lat0)
    errors: list[float] = []
    swapped = homophone = 0
    for call in storm.calls:
        row, sp = call.row, call.truth["true_service_point_id"]
        if not sp or call.kind == MALFORMED:
            continue
        if row["account_no"]:
            digits = re.sub(r"\s", "", row["account_no"]).translate(
                {0xFF10 + i: str(i) for i in range(10)}
            )
            assert account[sp].endswith(digits)
        if (
            row["lon"]
            and row["coord_sys"] in ("WGS84", "GCJ02", "CGCS2000")
            and row["lat"] != "999"
        ):
            lon, lat = float(row["lon"]), float(row["lat"])
            if lat > 90:
                swapped += 1
                lon, lat = lat, lon
            if row["coord_sys"] == "GCJ02":
                lon, lat = gcj02_to_wgs84(lon, lat)
            x, y = frame.forward_one(lon, lat)
            tx, ty = frame.forward_one(*xy[sp])
            errors.append(math.hypot(x - tx, y - ty))
        if row["address"] and row["address"] != address[sp]:
            true_village = re.search(r"(\w\w)村", address[sp])
            said_village = re.search(r"(\w\w)村", row["address"])
            if (
                true_village
                and said_village
                and said_village.group(1) != true_village.group(1)
                and lazy_pinyin(said_village.group(1)) == lazy_pinyin(true_village.group(1))
            ):
                homophone += 1
    assert len(errors) > 20
    assert 10 < float(np.median(errors)) < 150  # tens of metres, sometimes hundreds
    assert max(errors) < 700
    assert swapped > 0
    assert homophone > 0
    systems = Counter(c.row["coord_sys"] for c in storm.calls if c.row["lon"])
    assert systems["GCJ02"] > systems["WGS84"] > 0
    ways = Counter(w for c in _network(storm) for w in c.ways)
    assert all(ways[w] > 0 for w in ("account", "address", "pole", "gps"))
    assert any(not c.ways for c in _network(storm))  # nothing usable
    combos = [c.ways for c in _network(storm) if len(c.ways) > 1]
    assert combos


def test_a_second_call_comes_from_the_same_phone(grids: dict[str, Grid]) -> None:
    data, model = grids["branchy"]
    storm = simulate_storm(data, model, faults=12, seed=14, mix=StormMix(callback=0.5))
    first: dict[tuple[str, str], Any] = {}
    callbacks = 0
    for call in storm.calls:
        sp = (call.truth["true_service_point_id"], call.truth["fault_id"])
        if call.kind == "fault":
            first.setdefault(sp, call)
        elif call.kind == "callback":
            callbacks += 1
            assert call.call_id != first[sp].call_id
            assert call.truth["fault_id"] == first[sp].truth["fault_id"]
            assert call.row["caller_phone"] == first[sp].row["caller_phone"]
            assert call.at > first[sp].at
    assert callbacks > 5


@pytest.mark.parametrize(
    ("symptom", "description", "expect"),
    [
        (Symptom.TRANSFORMER_NOISE, None, SIGHT_TRANSFORMER),
        (Symptom.LINE_DOWN, None, SIGHT_LINE),
        (Symptom.POLE_DOWN, "", SIGHT_LINE),
        (Symptom.OTHER, "村口的变压器冒烟了，还有响声", SIGHT_TRANSFORMER),
        (None, "配变着火了", SIGHT_TRANSFORMER),
        (Symptom.OTHER, "大风把电线刮断了", SIGHT_LINE),
        (None, "路边电线杆倒了", SIGHT_LINE),
        (Symptom.NO_POWER, "家里没电了", None),
        (Symptom.SPARKING, "电线冒火花", None),  # a spark says nothing of which element
        (Symptom.OTHER, "屋里插座烧了，冒烟", None),  # the customer's own wiring
        (None, "电表后面的线烧断了", None),
        (None, "电线杆被风刮倒了", SIGHT_LINE),
        (None, "电线掉地上了", SIGHT_LINE),
        # a power cut, the voltage, or a denial is not a wire down or a transformer seen
        (Symptom.OTHER, "线路电压低", None),
        (None, "小区线路断电", None),
        (None, "线路故障断电了", None),
        (None, "电线老化压不住", None),
        (None, "家里停电，电线没断", None),
        (None, "没看到变压器冒烟", None),
        (None, "灯不亮，变压器冒烟了", SIGHT_TRANSFORMER),
    ],
)
def test_what_a_caller_saw_is_read_from_the_symptom_or_the_words(
    symptom: Symptom | None, description: str | None, expect: str | None
) -> None:
    assert sighting(symptom, description) == expect
