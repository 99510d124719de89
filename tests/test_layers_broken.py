"""Broken layer packages: exit 2, every defect named with its feature id, nothing imported."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapely

from api.cli import main
from layers.synthetic import SyntheticGrid, synthetic_grid

Rows = dict[str, list[dict[str, Any]]]


def _grid() -> SyntheticGrid:
    return synthetic_grid(
        5,
        substations=1,
        feeders_per_bus=2,
        sections_per_feeder=10,
        branch_probability=0.3,
        ties=1,
        prefix="Q-",
    )


def duplicate_in_layer(rows: Rows) -> list[str]:
    rows["transformers"][1]["id"] = rows["transformers"][0]["id"]
    return [rows["transformers"][0]["id"], "duplicate"]


def duplicate_across_layers(rows: Rows) -> list[str]:
    rows["poles"][0]["id"] = rows["mv_lines"][0]["id"]
    return [rows["mv_lines"][0]["id"], "duplicate"]


def invalid_geometry(rows: Rows) -> list[str]:
    rows["territories"][0]["geometry"] = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    rows["territories"][0]["id"] = "BOWTIE"
    return ["BOWTIE", "invalid geometry"]


def zero_length_line(rows: Rows) -> list[str]:
    line = rows["mv_lines"][3]
    p = line["geometry"].coords[0]
    line["geometry"] = shapely.LineString([p, p])
    return [line["id"], "zero length"]


def missing_reference(rows: Rows) -> list[str]:
    rows["service_points"][2]["transformer_id"] = "NO-SUCH-T"
    return [rows["service_points"][2]["id"], "NO-SUCH-T"]


def missing_column(rows: Rows) -> list[str]:
    for r in rows["mv_lines"]:
        del r["feeder"]
    return ["mv_lines", "feeder"]


def island(rows: Rows) -> list[str]:
    x, y = 5_000.0, 5_000.0
    rows["mv_lines"].append(
        {
            "id": "ISLAND-L",
            "feeder": "Feeder 1",
            "from_node": "NOWHERE-A",
            "to_node": "NOWHERE-B",
            "name": "x",
            "voltage_kv": 10.0,
            "unit_id": "Q-U1",
            "geometry": shapely.LineString([(x, y), (x + 100, y)]),
        }
    )
    rows["transformers"].append(
        {
            "id": "ISLAND-T",
            "name": "lonely",
            "hv_node": "NOWHERE-B",
            "lv_node": "NOWHERE-LV",
            "kva": 100.0,
            "feeder": "Feeder 1",
            "geometry": shapely.Point(x + 100, y),
        }
    )
    # its customers hang on a 400 V line's end, not on the transformer itself
    rows["lv_lines"].append(
        {
            "id": "ISLAND-LV",
            "from_node": "NOWHERE-LV",
            "to_node": "NOWHERE-SP",
            "transformer_id": "ISLAND-T",
            "voltage_kv": 0.4,
            "geometry": shapely.LineString([(x + 100, y), (x + 150, y)]),
        }
    )
    for k in range(3):
        rows["service_points"].append(
            {
                "id": f"ISLAND-SP{k}",
                "account_no": f"99000{k}",
                "transformer_id": "ISLAND-T",
                "node": "NOWHERE-SP",
                "address": "",
                "name": "",
                "phone": "",
                "category": "residential",
                "geometry": shapely.Point(x + 150, y),
            }
        )
    return ["ISLAND-L", "ISLAND-T", "island", "with 3 service points"]


def closed_loop(rows: Rows) -> list[str]:
    tie = next(s for s in rows["switches"] if s["normal_state"] == "open")
    tie["normal_state"] = "closed"
    return [tie["id"], "loop"]


def bad_enum(rows: Rows) -> list[str]:
    rows["switches"][1]["kind"] = "teleporter"
    return [rows["switches"][1]["id"], "teleporter"]


DEFECTS: dict[str, Callable[[Rows], list[str]]] = {
    f.__name__: f
    for f in (
        duplicate_in_layer,
        duplicate_across_layers,
        invalid_geometry,
        zero_length_line,
        missing_reference,
        missing_column,
        island,
        closed_loop,
        bad_enum,
    )
}


def _write(grid: SyntheticGrid, rows: Rows, path: Path, **kw: Any) -> Path:
    broken = SyntheticGrid(grid.frame, rows)
    return broken.write(path, **kw)


def _counts(db_url: str) -> dict[str, int]:
    from gis.db import make_engine
    from layers.store import load_grid

    engine = make_engine(db_url)
    data = load_grid(engine, geometry=False)
    engine.dispose()
    return {name: len(frame) for name, frame in data.frames.items()}


@pytest.fixture
def imported(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, int]]:
    """A database that already holds a good network, which a failed import must not touch."""
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    assert main(["layers", "import", str(_grid().write(tmp_path / "good.gpkg"))]) == 0
    return db_url, _counts(db_url)


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_is_named_and_nothing_is_imported(
    defect: str,
    tmp_path: Path,
    imported: tuple[str, dict[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, before = imported
    grid = _grid()
    rows = copy.deepcopy(grid.rows)
    expected = DEFECTS[defect](rows)
    path = _write(grid, rows, tmp_path / "bad.gpkg")
    capsys.readouterr()
    assert main(["layers", "import", str(path)]) == 2
    err = capsys.readouterr().err
    for word in expected:
        assert word in err, f"{word!r} not in:\n{err}"
    assert "nothing was imported" in err
    assert _counts(db_url) == before


def test_several_defects_at_once_are_all_listed(
    tmp_path: Path,
    imported: tuple[str, dict[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, before = imported
    grid = _grid()
    rows = copy.deepcopy(grid.rows)
    expected = []
    for name in (
        "duplicate_in_layer",
        "missing_reference",
        "island",
        "closed_loop",
        "bad_enum",
        "invalid_geometry",
    ):
        expected.extend(DEFECTS[name](rows))
    path = _write(grid, rows, tmp_path / "bad.gpkg")
    capsys.readouterr()
    assert main(["layers", "import", str(path)]) == 2
    err = capsys.readouterr().err
    missing = [w for w in expected if w not in err]
    assert missing == [], err
    assert _counts(db_url) == before


def test_shapefile_without_prj_needs_a_crs(
    tmp_path: Path,
    imported: tuple[str, dict[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url, before = imported
    grid = _grid()
    folder = grid.write(tmp_path / "shp", fmt="shp", crs="EPSG:4547")
    (folder / "transformers.prj").unlink()
    capsys.readouterr()
    assert main(["layers", "import", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "transformers" in err and "CRS" in err
    # the missing CRS once, not each transformer's coordinates as off the Earth as well
    assert "outside lon/lat range" not in err
    assert _counts(db_url) == before
    # told what it is, the same package imports
    assert main(["layers", "import", str(folder), "--crs", "EPSG:4547"]) == 0


def test_unknown_package_path(
    tmp_path: Path, imported: tuple[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["layers", "import", str(tmp_path / "missing.gpkg")]) == 2
    assert "no such file" in capsys.readouterr().err
