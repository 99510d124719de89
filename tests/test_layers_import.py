"""Layer packages the project never saw: other shapes, CRSs, formats, with and without nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from reference_trace import ReferenceTracer

from api.cli import main
from layers.importer import prepare
from layers.network import NetworkModel
from layers.synthetic import SyntheticGrid, synthetic_grid

SHAPES: dict[str, dict[str, Any]] = {
    "straight feeders": dict(branch_probability=0.0, sections_per_feeder=10, ties=1),
    "bushy trees": dict(branch_probability=0.5, sections_per_feeder=30, ties=2),
    "two substations, two buses": dict(
        substations=2,
        buses_per_substation=2,
        feeders_per_bus=2,
        sections_per_feeder=14,
        branch_probability=0.3,
        ties=3,
    ),
    "no 400 V lines": dict(lv_lines=False, branch_probability=0.3, sections_per_feeder=16),
    "many small feeders": dict(feeders_per_bus=6, sections_per_feeder=5, ties=3, reclosers=False),
}

NETWORK_LAYERS = ("mv_lines", "switches", "transformers", "service_points", "poles", "lv_lines")


def _compare(model: NetworkModel, grid: SyntheticGrid) -> list[str]:
    ref = ReferenceTracer(grid.rows)
    diffs = []
    for layer in NETWORK_LAYERS:
        for row in grid.rows[layer]:
            got = model.trace(row["id"]).contract_dict()
            got["downstream_transformers"] = sorted(got["downstream_transformers"])
            want = ref.trace(row["id"])
            if got != want:
                diffs.append(f"{row['id']}: got {got} want {want}")
    return diffs


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("explicit_nodes", [True, False], ids=["nodes", "geometry only"])
def test_traces_agree_with_an_independent_computation(
    tmp_path: Path, shape: str, explicit_nodes: bool
) -> None:
    grid = synthetic_grid(list(SHAPES).index(shape), prefix="X-", **SHAPES[shape])
    path = grid.write(tmp_path / "grid.gpkg", explicit_nodes=explicit_nodes)
    _data, model, problems = prepare(path)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert model is not None
    assert _compare(model, grid) == []


@pytest.mark.parametrize(
    ("fmt", "crs", "override"),
    [
        ("gpkg", "EPSG:4490", None),  # CGCS2000 geographic
        ("geojson", "EPSG:4326", None),  # RFC 7946, no crs member
        ("geojson", "EPSG:4547", None),  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
        ("shp", "EPSG:32649", None),  # UTM zone 49N, Shapefile with .prj, truncated names
        ("shp", "EPSG:4527", None),  # CGCS2000 3-degree GK zone 38 (zone number in easting)
        ("csv", "EPSG:4547", "EPSG:4547"),  # wkt column; CRS given on the command line
    ],
)
def test_formats_and_crss(tmp_path: Path, fmt: str, crs: str, override: str | None) -> None:
    from gis.crs import parse_crs

    grid = synthetic_grid(
        7, substations=2, sections_per_feeder=10, branch_probability=0.3, center=(114.3, 30.6)
    )
    target = tmp_path / ("grid.gpkg" if fmt == "gpkg" else "grid")
    path = grid.write(target, fmt=fmt, crs=crs, explicit_nodes=False)
    data, model, problems = prepare(path, crs=parse_crs(override) if override else None)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert model is not None and data is not None
    assert _compare(model, grid) == []
    # coordinates came back to WGS84 within a few centimetres
    sub = data.layer("substations")["geometry"].iat[0]
    want_lon, want_lat = grid.frame.inverse_one(
        grid.rows["substations"][0]["geometry"].x, grid.rows["substations"][0]["geometry"].y
    )
    assert abs(sub.x - want_lon) < 1e-6 and abs(sub.y - want_lat) < 1e-6


def test_layer_names_with_stray_blanks_or_capitals_are_the_layers_they_name(
    tmp_path: Path,
) -> None:
    """An export names a file ``poles .geojson`` or ``Transformers.geojson``: still the
    poles and the transformers, not an unknown layer ignored (poles lost, exit 0)."""
    grid = synthetic_grid(3, sections_per_feeder=6)
    folder = grid.write(tmp_path / "grid", fmt="geojson", crs="EPSG:4326")
    (folder / "poles.geojson").rename(folder / "poles .geojson")
    (folder / "transformers.geojson").rename(folder / "Transformers.geojson")
    data, model, problems = prepare(folder)
    assert [str(p) for p in problems if "unknown layer" in str(p)] == []
    assert data is not None and model is not None
    assert len(data.layer("poles")) == len(grid.rows["poles"]) > 0
    assert _compare(model, grid) == []


def test_measured_geometries_are_read_with_one_warning_per_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A survey export carries M values (chainage) on its points: they are dropped with one
    warning naming the layer, not the reader library's own warnings and source lines."""
    import sqlite3
    import struct

    grid = synthetic_grid(3, sections_per_feeder=6)
    path = grid.write(tmp_path / "grid.gpkg")
    con = sqlite3.connect(path)
    for (trigger,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        con.execute(f'DROP TRIGGER "{trigger}"')
    srs, column = con.execute(
        "SELECT srs_id, column_name FROM gpkg_geometry_columns WHERE table_name = 'poles'"
    ).fetchone()
    for fid, blob in con.execute(f'SELECT fid, "{column}" FROM poles').fetchall():
        envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 7]
        point = shapely.from_wkb(blob[8 + envelope :])
        measured = shapely.from_wkt(f"POINT ZM ({point.x!r} {point.y!r} 55 12.5)")
        wkb = shapely.to_wkb(measured, flavor="iso", output_dimension=4, byte_order=1)
        header = b"GP" + bytes([0, 0x01]) + struct.pack("<i", srs)
        con.execute(f'UPDATE poles SET "{column}" = ? WHERE fid = ?', (header + wkb, fid))
    con.execute("UPDATE gpkg_geometry_columns SET z = 1, m = 1 WHERE table_name = 'poles'")
    con.commit()
    con.close()
    data, model, problems = prepare(path)
    assert data is not None and model is not None
    assert len(data.layer("poles")) == len(grid.rows["poles"])
    notes = [str(p) for p in problems if p.severity == "warning" and "Measured" in str(p)]
    assert len(notes) == 1 and notes[0].startswith("warning: poles:")
    assert "UserWarning" not in capsys.readouterr().err


def test_a_shapefile_of_gbk_text_without_a_code_page_keeps_its_chinese_names(
    tmp_path: Path,
) -> None:
    """Chinese tools export GBK DBFs without a .cpg; GDAL alone reads them as Latin-1."""
    grid = synthetic_grid(5, sections_per_feeder=6, prefix="城关Ⅰ")
    folder = grid.write(tmp_path / "grid", fmt="shp", crs="EPSG:4547", shp_encoding="GBK")
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    data, model, problems = prepare(folder)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert model is not None and data is not None
    assert _compare(model, grid) == []
    want = sorted({row["feeder"] for row in grid.rows["mv_lines"]})
    assert want[0].startswith("城关Ⅰ")
    assert sorted(set(data.layer("mv_lines")["feeder"])) == want
    warnings = [str(p) for p in problems if p.severity == "warning"]
    assert any("mv_lines.dbf" in w and "gb18030" in w for w in warnings)


def test_csv_with_wkt_and_no_crs_is_refused(tmp_path: Path) -> None:
    grid = synthetic_grid(3, sections_per_feeder=6)
    path = grid.write(tmp_path / "grid", fmt="csv", crs="EPSG:4326")
    _data, _model, problems = prepare(path)
    messages = [str(p) for p in problems if p.severity == "error"]
    assert any("wkt" in m and "CRS" in m for m in messages)


def test_crs_on_the_command_line_leaves_lon_lat_csv_in_degrees(tmp_path: Path) -> None:
    """A package of wkt CSVs in a projected CRS (given by ``--crs``) beside a lon/lat CSV:
    the lon/lat columns are degrees whatever ``--crs`` says (CONTRACT section 1)."""
    import pandas as pd
    import shapely
    from pyproj import Transformer

    from gis.crs import parse_crs

    grid = synthetic_grid(3, sections_per_feeder=6, center=(114.3, 30.6))
    path = grid.write(tmp_path / "grid", fmt="csv", crs="EPSG:4547")
    units = pd.read_csv(path / "units.csv", dtype=str)
    to_degrees = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
    points = [shapely.from_wkt(w) for w in units.pop("wkt")]
    units["lon"], units["lat"] = zip(*(to_degrees.transform(p.x, p.y) for p in points), strict=True)
    units.to_csv(path / "units.csv", index=False)
    data, model, problems = prepare(path, crs=parse_crs("EPSG:4547"))
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert data is not None and model is not None
    got = data.layer("units")["geometry"].iat[0]
    want = grid.frame.inverse_one(
        grid.rows["units"][0]["geometry"].x, grid.rows["units"][0]["geometry"].y
    )
    assert abs(got.x - want[0]) < 1e-6 and abs(got.y - want[1]) < 1e-6


def _import(path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> int:
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    return main(["layers", "import", str(path), *extra])


def _trace(
    element: str, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any] | None]:
    monkeypatch.setenv("GRIDCALL_DATABASE_URL", db_url)
    capsys.readouterr()
    code = main(["network", "trace", element])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else None)


def test_cli_import_and_trace_on_both_databases(
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    grid = synthetic_grid(
        11, substations=2, sections_per_feeder=12, branch_probability=0.35, ties=2
    )
    path = grid.write(tmp_path / "grid.gpkg", explicit_nodes=False)
    assert _import(path, db_url, monkeypatch) == 0
    ref = ReferenceTracer(grid.rows)
    for layer in ("mv_lines", "switches", "transformers", "service_points", "poles"):
        for row in grid.rows[layer][::3]:
            code, got = _trace(row["id"], db_url, monkeypatch, capsys)
            assert code == 0 and got is not None
            got["downstream_transformers"] = sorted(got["downstream_transformers"])
            assert got == ref.trace(row["id"])
    code, _ = _trace("no-such-element", db_url, monkeypatch, capsys)
    assert code == 2


def test_trace_on_a_database_of_the_release_before_tee_cuts(
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A database imported by the release before lines' inner nodes (schema 0004) is
    traced after an upgrade of its schema, not read as if it had them."""
    from alembic import command

    from api.dbadmin import alembic_config
    from gis.db import make_engine

    grid = synthetic_grid(3, sections_per_feeder=6)
    assert _import(grid.write(tmp_path / "grid.gpkg"), db_url, monkeypatch) == 0
    engine = make_engine(db_url)
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    engine.dispose()
    element = grid.rows["transformers"][0]["id"]
    code, got = _trace(element, db_url, monkeypatch, capsys)
    assert code == 0 and got is not None and got["element_id"] == element


def test_reimport_replaces_the_network(
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = synthetic_grid(1, prefix="A-", sections_per_feeder=8)
    second = synthetic_grid(2, prefix="B-", sections_per_feeder=5)
    assert _import(first.write(tmp_path / "a.gpkg"), db_url, monkeypatch) == 0
    assert _import(second.write(tmp_path / "b.gpkg"), db_url, monkeypatch) == 0
    code, _ = _trace(first.rows["transformers"][0]["id"], db_url, monkeypatch, capsys)
    assert code == 2  # the old network is gone
    code, got = _trace(second.rows["transformers"][0]["id"], db_url, monkeypatch, capsys)
    assert code == 0 and got is not None
    from gis.db import make_engine
    from layers.store import load_grid

    engine = make_engine(db_url)
    data = load_grid(engine)
    engine.dispose()
    assert len(data.layer("mv_lines")) == len(second.rows["mv_lines"])
