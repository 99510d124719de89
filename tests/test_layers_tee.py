"""Tees drawn as CAD draws them: a trunk as one line through the tee pole, the branch starting
at that pole, inside the trunk (layers.topology's docstring has the rule)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import shapely

from gis.db import make_engine
from layers.importer import import_package, prepare
from layers.network import NetworkModel
from layers.store import load_grid
from layers.synthetic import SyntheticGrid, synthetic_grid

SHAPES: dict[str, dict[str, Any]] = {
    "bushy": dict(branch_probability=0.5, sections_per_feeder=30, ties=2),
    "two substations": dict(
        substations=2, feeders_per_bus=2, sections_per_feeder=16, branch_probability=0.3
    ),
}


def _merge_tees(grid: SyntheticGrid, off_vertex: bool = False) -> tuple[SyntheticGrid, set[str]]:
    """The grid with, at every node where one section arrives and its continuation and a drop
    leave (no switch there), the two sections merged into one line through the pole; the drop
    starts inside it. ``off_vertex``: the merged line bends 0.7 m away from the pole and the
    drop starts 0.6 m beside it on the other side, so only the pole tells them apart."""
    merged = SyntheticGrid(grid.frame, copy.deepcopy(grid.rows))
    lines = merged.rows["mv_lines"]
    at_switch = {r[c] for r in merged.rows["switches"] for c in ("from_node", "to_node")}
    arriving: dict[str, list[dict[str, Any]]] = {}
    leaving: dict[str, list[dict[str, Any]]] = {}
    for r in lines:
        arriving.setdefault(r["to_node"], []).append(r)
        leaving.setdefault(r["from_node"], []).append(r)
    removed: set[str] = set()
    touched: set[str] = set()
    for node, ins in arriving.items():
        outs = leaving.get(node, [])
        if node in at_switch or len(ins) != 1 or len(outs) < 2:
            continue
        a = ins[0]
        going_on = [b for b in outs if b["name"] == a["name"]]
        drops = [b for b in outs if b["name"] != a["name"]]
        if len(going_on) != 1 or not drops or {a["id"], going_on[0]["id"]} & touched:
            continue
        b = going_on[0]
        ca = list(a["geometry"].coords)
        cb = list(b["geometry"].coords)
        x, y = ca[-1]
        if off_vertex:
            (x0, y0), (x1, y1) = ca[-2], cb[1]
            nx, ny = -(y1 - y0), x1 - x0
            norm = math.hypot(nx, ny)
            nx, ny = nx / norm, ny / norm
            ca[-1] = (x + 0.7 * nx, y + 0.7 * ny)
            for d in drops:
                cd = list(d["geometry"].coords)
                cd[0] = (x - 0.6 * nx, y - 0.6 * ny)
                d["geometry"] = shapely.LineString(cd)
        a["geometry"] = shapely.LineString(ca + cb[1:])
        a["to_node"] = b["to_node"]
        removed.add(b["id"])
        touched |= {a["id"], b["id"]}
    merged.rows["mv_lines"] = [r for r in lines if r["id"] not in removed]
    assert removed, "the grid has no tee to merge"
    return merged, removed


def _model(path: Path) -> NetworkModel:
    _data, model, problems = prepare(path)
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert model is not None
    return model


def _traces(model: NetworkModel, grid: SyntheticGrid, skip: set[str]) -> dict[str, Any]:
    out = {}
    for layer in ("mv_lines", "switches", "transformers", "service_points", "poles"):
        for row in grid.rows[layer]:
            if row["id"] in skip:
                continue
            got = model.trace(row["id"]).contract_dict()
            got["downstream_transformers"] = sorted(got["downstream_transformers"])
            out[row["id"]] = got
    return out


@pytest.mark.parametrize("off_vertex", [False, True], ids=["at a vertex", "at a pole only"])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_trunk_drawn_through_its_tee_poles_traces_as_its_sections(
    tmp_path: Path, shape: str, off_vertex: bool
) -> None:
    grid = synthetic_grid(list(SHAPES).index(shape) + 40, prefix="T-", **SHAPES[shape])
    merged, removed = _merge_tees(grid, off_vertex)
    want = _model(grid.write(tmp_path / "sections.gpkg", explicit_nodes=False))
    got = _model(merged.write(tmp_path / "merged.gpkg", explicit_nodes=False))
    # every element but the removed sections answers as before: the merged line as its
    # first section (everything beyond the tee is downstream of it)
    assert _traces(got, grid, removed) == _traces(want, grid, removed)
    assert len(got.line_sections) == len(removed)


def test_explicit_nodes_are_never_cut(tmp_path: Path) -> None:
    grid = synthetic_grid(40, prefix="T-", **SHAPES["bushy"])
    merged, _removed = _merge_tees(grid)
    data, model, problems = prepare(merged.write(tmp_path / "merged.gpkg", explicit_nodes=True))
    assert data is not None and model is not None
    assert model.line_sections == {}
    assert data.layer("mv_lines")["via_nodes"].isna().all()
    # the drops start at a node no line reaches: the package says so, the import believes it
    assert any("island" in p.message for p in problems)


def _with_line(grid: SyntheticGrid, feeder: str, coords: list[tuple[float, float]]) -> None:
    grid.rows["mv_lines"].append(
        {
            "id": "T-EXTRA",
            "feeder": feeder,
            "from_node": "x1",
            "to_node": "x2",
            "name": feeder,
            "voltage_kv": 10.0,
            "unit_id": "T-U1",
            "geometry": shapely.LineString(coords),
        }
    )


@pytest.mark.parametrize(
    "case",
    ["another feeder's end at a vertex", "same feeder's end between vertices", "a fed end"],
)
def test_a_line_end_merely_near_a_line_is_not_joined(tmp_path: Path, case: str) -> None:
    grid = synthetic_grid(40, prefix="T-", **SHAPES["bushy"])
    merged, removed = _merge_tees(grid)
    # a straight section of feeder 1 gets a vertex in its middle (no pole, no tee there)
    line = next(
        r
        for r in merged.rows["mv_lines"]
        if r["feeder"] == "T-Feeder 1" and len(r["geometry"].coords) == 2 and r["id"] > "T-L0005"
    )
    (x0, y0), (x1, y1) = line["geometry"].coords
    x, y = (x0 + x1) / 2, (y0 + y1) / 2
    line["geometry"] = shapely.LineString([(x0, y0), (x, y), (x1, y1)])
    if case == "another feeder's end at a vertex":
        # an unfed line of another feeder ending 0.4 m from the vertex
        _with_line(merged, "T-Feeder 2", [(x + 300.0, y + 300.0), (x + 0.4, y)])
    elif case == "same feeder's end between vertices":
        # an unfed line of the same feeder ending 0.4 m beside the span, far from its vertices
        qx, qy = (x0 + x) / 2, (y0 + y) / 2
        _with_line(merged, "T-Feeder 1", [(qx + 300.0, qy + 300.0), (qx + 0.4, qy)])
    else:
        # a fed line of the same feeder (from the section's start) ending at the vertex: two
        # circuits on the same poles, not a tee; joined, it would close a loop
        _with_line(merged, "T-Feeder 1", [(x0, y0), (x + 300.0, y), (x, y + 0.4)])
    _data, model, problems = prepare(merged.write(tmp_path / "grid.gpkg", explicit_nodes=False))
    assert model is not None
    errors = [p for p in problems if p.severity == "error"]
    if case == "a fed end":
        assert [str(p) for p in errors] == []
    else:
        assert [(p.feature_id, p.message) for p in errors] == [
            ("T-EXTRA", "island: no substation feeds it")
        ]
    # the tee itself still joins, and nothing else does
    assert len(model.line_sections) == len(removed)


def test_a_cut_line_is_stored_and_traced_the_same_from_the_database(
    tmp_path: Path, db_url: str
) -> None:
    grid = synthetic_grid(41, prefix="T-", **SHAPES["two substations"])
    merged, removed = _merge_tees(grid)
    path = merged.write(tmp_path / "merged.gpkg", explicit_nodes=False)
    engine = make_engine(db_url)
    report = import_package(engine, path)
    assert report.ok, [str(p) for p in report.errors]
    _data, before, _problems = prepare(path)
    assert before is not None
    after = NetworkModel(load_grid(engine, geometry=False))
    engine.dispose()
    assert len(after.line_sections) == len(removed)
    assert _traces(after, grid, removed) == _traces(before, grid, removed)
