"""The locator on a small demo county (兰考县, scale 0.05): real-looking names and numbers.

Samples calls from the county's own data with known truth, garbles them the way callers and
agents do, and checks the share located right per method.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gis.crs import wgs84_to_gcj02
from layers.grid import GridData
from layers.importer import prepare
from outages.calls import Call, CoordSys
from outages.locate import Locator, Method
from outages.locate.text import common_characters, is_cjk, pinyin_units

county = pytest.importorskip("layers.demo.county")

NOW = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
ROMAN = {"Ⅰ": ("1", "一"), "Ⅱ": ("2", "二"), "Ⅲ": ("3", "三"), "Ⅳ": ("4", "四")}


@dataclass
class Demo:
    data: GridData
    locator: Locator


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    path = Path(tmp_path_factory.mktemp("demo")) / "county.gpkg"
    county.write_county(path, seed=0, scale=0.05)
    data, model, problems = prepare(path)
    assert data is not None and model is not None
    assert not [p for p in problems if p.severity == "error"]
    return Demo(data, Locator(data, model))


def _homophone(rng: np.random.Generator, text: str) -> str:
    table = common_characters()
    for i in rng.permutation([i for i, c in enumerate(text) if is_cjk(c)]).tolist():
        options = [c for c in table.get(pinyin_units(text[i])[0], ()) if c != text[i]]
        if options:
            return text[:i] + options[int(rng.integers(len(options)))] + text[i + 1 :]
    return text


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=min(n, len(frame)), random_state=seed)


def test_build_is_quick(demo: Demo) -> None:
    assert demo.locator.build_seconds < 5.0


def test_accounts(demo: Demo) -> None:
    sps = _sample(demo.data.layer("service_points"), 60, 1)
    for acc, sp_id, tr in zip(sps["account_no"], sps["id"], sps["transformer_id"], strict=True):
        said = f"{acc[:4]} {acc[4:7]}-{acc[7:]}"
        loc = demo.locator.locate(Call("a", NOW, account_no=said))
        assert (loc.method, loc.service_point_id, loc.transformer_id) == (Method.ACCOUNT, sp_id, tr)
        assert "号台区" in loc.evidence[0] or "变" in loc.evidence[0]


def test_pole_labels(demo: Demo) -> None:
    poles = _sample(demo.data.layer("poles"), 80, 2)
    rng = np.random.default_rng(2)
    for k, (pid, line, number) in enumerate(
        zip(poles["id"], poles["line_name"], poles["number"], strict=True)
    ):
        spoken = line.removeprefix("10kV") if k % 2 else line
        roman = next((c for c in spoken if c in ROMAN), None)
        if roman and k % 3 == 1:
            spoken = spoken.replace(roman, ROMAN[roman][0], 1)
        elif roman and k % 3 == 2:
            spoken = spoken.replace(roman, ROMAN[roman][1], 1)
        if k % 4 == 0:
            spoken = _homophone(rng, spoken[: spoken.index("线")]) + spoken[spoken.index("线") :]
        said = spoken + (f"{number}号杆", f" {number}", f"第{number}基", f"{number}#")[k % 4]
        loc = demo.locator.locate(Call("p", NOW, pole_no=said))
        assert loc.pole_id == pid, said
        assert loc.element_id is not None and loc.element_id.startswith("MV"), said


def test_phone_positions_at_the_meter(demo: Demo) -> None:
    sps = _sample(demo.data.layer("service_points"), 100, 3)
    right = 0
    for k, (geom, tr) in enumerate(zip(sps["geometry"], sps["transformer_id"], strict=True)):
        lon, lat = float(geom.x), float(geom.y)
        cs = CoordSys.WGS84
        if k % 2:
            lon, lat = wgs84_to_gcj02(lon, lat)
            cs = CoordSys.GCJ02
        loc = demo.locator.locate(Call("g", NOW, lon=lon, lat=lat, coord_sys=cs))
        assert loc.method == Method.GPS
        right += loc.transformer_id == tr
    assert right >= 95


def test_addresses_with_homophones(demo: Demo) -> None:
    sps = _sample(demo.data.layer("service_points"), 100, 4)
    rng = np.random.default_rng(4)
    right = 0
    for k, (addr, tr) in enumerate(zip(sps["address"], sps["transformer_id"], strict=True)):
        m = re.match(r"^(.+?[镇乡])(.+?)(村|社区|路|街|大道)(.*)$", addr)
        assert m, addr
        town, name, suffix, rest = m.groups()
        said = ("" if k % 3 == 0 else town) + _homophone(rng, name) + suffix + rest
        loc = demo.locator.locate(Call("d", NOW, address=said))
        right += loc.transformer_id == tr
    assert right >= 90


def test_outside_the_county(demo: Demo) -> None:
    loc = demo.locator.locate(Call("o", NOW, lon=121.47, lat=31.23))  # Shanghai
    assert loc.method == Method.NONE
    assert loc.reason is not None and "outside the service area" in loc.reason
