"""Random radial grids of many shapes, for tests and benchmarks.

Unlike the demo county, these grids are small and abstract: they exist to check that the
import and the network model are right for shapes, naming and CRSs that the demo county
never has. The generator keeps the true node of every element, so that a test can compare
the import (with node columns, or from geometry alone) against an independent computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import LocalFrame, parse_crs
from layers.schema import LAYERS

NODE_COLUMNS = {
    "substations": (),
    "mv_lines": ("from_node", "to_node"),
    "lv_lines": ("from_node", "to_node"),
    "switches": ("from_node", "to_node"),
    "transformers": ("hv_node", "lv_node"),
    "poles": ("node",),
    "service_points": ("node",),
}


@dataclass
class SyntheticGrid:
    """Rows per layer (with true node columns) in a local metric frame; see :meth:`write`."""

    frame: LocalFrame
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def frames(self, explicit_nodes: bool = True) -> dict[str, gpd.GeoDataFrame]:
        out: dict[str, gpd.GeoDataFrame] = {}
        for layer, rows in self.rows.items():
            if not rows:
                continue
            records = [{k: v for k, v in r.items() if k != "geometry"} for r in rows]
            frame = pd.DataFrame(records)
            if not explicit_nodes:
                for col in NODE_COLUMNS.get(layer, ()):
                    frame[col] = None
            geoms = np.asarray([r["geometry"] for r in rows], dtype=object)
            if layer != "schematic":
                geoms = shapely.transform(
                    geoms, lambda xy: np.column_stack(self.frame.inverse(xy[:, 0], xy[:, 1]))
                )
            out[layer] = gpd.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:4326")
        return out

    def write(
        self,
        path: Path,
        *,
        fmt: str = "gpkg",
        crs: str = "EPSG:4326",
        explicit_nodes: bool = True,
        shp_encoding: str = "UTF-8",
    ) -> Path:
        """Writes a package: ``gpkg`` (one file) or a folder of ``geojson``/``shp``/``csv``.

        ``shp_encoding`` is the DBF's code page, written to a ``.cpg`` beside it."""
        target = parse_crs(crs)
        frames = self.frames(explicit_nodes)
        if fmt == "gpkg":
            path.parent.mkdir(parents=True, exist_ok=True)
            for layer, gdf in frames.items():
                gdf.to_crs(target).to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
            return path
        path.mkdir(parents=True, exist_ok=True)
        for layer, gdf in frames.items():
            g = gdf.to_crs(target)
            if fmt == "geojson":
                g.to_file(path / f"{layer}.geojson", driver="GeoJSON", engine="pyogrio")
            elif fmt == "shp":
                # DBF field names hold 10 characters: cut them as utilities' exports do
                g = g.rename(columns={c: c[:10] for c in g.columns if c != "geometry"})
                g.to_file(
                    path / f"{layer}.shp",
                    driver="ESRI Shapefile",
                    engine="pyogrio",
                    encoding=shp_encoding,
                )
            elif fmt == "csv":
                table = pd.DataFrame(g.drop(columns="geometry"))
                table["wkt"] = shapely.to_wkt(np.asarray(g.geometry.values, dtype=object))
                table.to_csv(path / f"{layer}.csv", index=False)
            else:
                raise ValueError(f"unknown format {fmt!r}")
        return path


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高郭何林罗郑梁谢宋唐许韩冯邓曹彭"
_GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "建国",
    "志强",
    "桂英",
    "玉兰",
    "建华",
    "国强",
    "海燕",
    "红梅",
    "文",
    "斌",
    "平",
    "刚",
    "桂芳",
    "金凤",
    "建军",
    "春梅",
    "德明",
    "永红",
    "小红",
    "秀兰",
    "玉梅",
]


class _HolderNames:
    """Account holders' names as a county's are: a few thousand names for many more
    customers, so that a name often fits several accounts. Drawn from a generator of their
    own: the grid is the same with or without them."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng([seed, 2718])

    def next(self) -> str:
        surname = _SURNAMES[int(self._rng.integers(len(_SURNAMES)))]
        return surname + _GIVEN[int(self._rng.integers(len(_GIVEN)))]


def synthetic_grid(
    seed: int = 0,
    *,
    substations: int = 1,
    buses_per_substation: int = 1,
    feeders_per_bus: int = 2,
    sections_per_feeder: int = 12,
    branch_probability: float = 0.25,
    transformers_per_feeder: int = 4,
    service_points_per_transformer: int = 3,
    lv_lines: bool = True,
    ties: int = 1,
    reclosers: bool = True,
    section_m: float = 120.0,
    center: tuple[float, float] = (113.6, 34.7),
    prefix: str = "",
    units: int = 1,
) -> SyntheticGrid:
    """A random radial grid. ``branch_probability`` 0 gives straight feeders; 0.5 bushy trees.
    ``units`` repair units share it in strips."""
    rng = np.random.default_rng(seed)
    frame = LocalFrame(*center)
    g = SyntheticGrid(frame, {k: [] for k in LAYERS if k != "schematic"})
    p = prefix
    # ``units`` strips side by side (west to east); feeders cross their borders, as real
    # feeders cross a county's township lines, and lines keep U1 as their owner
    width = 100_000.0 / units
    for u in range(units):
        west = -50_000.0 + u * width
        home = (0.0, -300.0) if units == 1 else (west + width / 2, -300.0)
        uid = f"{p}U{u + 1}"
        g.rows["units"].append(
            {"id": uid, "name": f"{p}Unit {u + 1}", "geometry": shapely.Point(*home)}
        )
        g.rows["territories"].append(
            {
                "id": f"{p}TER{u + 1}",
                "unit_id": uid,
                "area_class": ("rural", "urban", "remote")[u % 3],
                "geometry": shapely.box(west, -50_000, west + width, 50_000),
            }
        )
        g.rows["crews"].append(
            {
                "id": f"{p}CR{u + 1}",
                "unit_id": uid,
                "name": f"crew {u + 1}",
                "members": 4,
                "geometry": shapely.Point(*home),
            }
        )
    node_xy: dict[str, tuple[float, float]] = {}
    feeder_ends: list[tuple[str, str, tuple[float, float], float]] = []  # feeder, node, xy, angle
    counter = {"line": 0, "sw": 0, "tr": 0, "sp": 0, "lv": 0, "pole": 0}

    def new_id(kind: str, stem: str) -> str:
        counter[kind] += 1
        return f"{p}{stem}{counter[kind]:04d}"

    n_feeders_total = substations * buses_per_substation * feeders_per_bus
    feeder_no = 0
    for s in range(substations):
        sx = (s - (substations - 1) / 2) * 6_000.0
        sy = float(rng.uniform(-500, 500))
        for b in range(buses_per_substation):
            bus = f"{p}S{s + 1}B{b + 1}"
            # each bus section has its own point, so that geometry alone tells them apart
            sx += 15.0 * b
            node_xy[bus] = (sx, sy)
            g.rows["substations"].append(
                {
                    "id": f"{p}SUB{s + 1}-{b + 1}",
                    "name": f"Substation {s + 1} bus {b + 1}",
                    "node": bus,
                    "voltage_kv": 10.0,
                    "geometry": shapely.Point(sx, sy),
                }
            )
            for _f in range(feeders_per_bus):
                feeder_no += 1
                feeder = f"{p}Feeder {feeder_no}"
                angle = 2 * math.pi * (feeder_no - 1) / max(n_feeders_total, 1) + rng.uniform(
                    -0.2, 0.2
                )
                head = f"{bus}F{feeder_no}H"
                node_xy[head] = (sx, sy)
                _add_switch(g, new_id("sw", "BRK"), "breaker", bus, head, feeder, (sx, sy))
                _grow_feeder(
                    g,
                    rng,
                    feeder,
                    head,
                    angle,
                    sections_per_feeder,
                    branch_probability,
                    transformers_per_feeder,
                    service_points_per_transformer,
                    lv_lines,
                    reclosers,
                    section_m,
                    node_xy,
                    new_id,
                    feeder_ends,
                    f"{p}U1",
                )
    # normally-open ties between the ends of neighbouring feeders
    for t in range(min(ties, len(feeder_ends) // 2)):
        fa, na, xa, _ = feeder_ends[2 * t]
        fb, nb, xb, _ = feeder_ends[2 * t + 1]
        if fa == fb:
            continue
        tie_node = f"{nb}T"
        node_xy[tie_node] = xa
        _add_mv_line(g, new_id("line", "L"), fb, nb, tie_node, f"{fb} tie", f"{p}U1", [xb, xa])
        _add_switch(g, new_id("sw", "TIE"), "load_break_switch", na, tie_node, fa, xa, state="open")
    names = _HolderNames(seed)
    for row in g.rows["service_points"]:
        row["name"] = names.next()
    return g


def _add_switch(
    g: SyntheticGrid,
    sid: str,
    kind: str,
    from_node: str,
    to_node: str,
    feeder: str,
    xy: tuple[float, float],
    state: str = "closed",
) -> None:
    g.rows["switches"].append(
        {
            "id": sid,
            "kind": kind,
            "from_node": from_node,
            "to_node": to_node,
            "normal_state": state,
            "feeder": feeder,
            "geometry": shapely.Point(*xy),
        }
    )


def _add_mv_line(
    g: SyntheticGrid,
    lid: str,
    feeder: str,
    from_node: str,
    to_node: str,
    name: str,
    unit_id: str,
    coords: list[tuple[float, float]],
) -> None:
    g.rows["mv_lines"].append(
        {
            "id": lid,
            "feeder": feeder,
            "from_node": from_node,
            "to_node": to_node,
            "name": name,
            "voltage_kv": 10.0,
            "unit_id": unit_id,
            "geometry": shapely.LineString(coords),
        }
    )


def _grow_feeder(
    g: SyntheticGrid,
    rng: np.random.Generator,
    feeder: str,
    head: str,
    angle: float,
    sections: int,
    branch_probability: float,
    transformers: int,
    sps_per_tr: int,
    lv_lines: bool,
    reclosers: bool,
    section_m: float,
    node_xy: dict[str, tuple[float, float]],
    new_id: Any,
    feeder_ends: list[tuple[str, str, tuple[float, float], float]],
    unit_id: str,
) -> None:
    # frontier of (node, direction, line name, pole prefix, pole number, is_trunk)
    trunk_nodes: list[str] = [head]
    all_nodes: list[tuple[str, float]] = [(head, angle)]
    tips: list[tuple[str, float, str, str, int, bool]] = [(head, angle, feeder, "", 0, True)]
    made = 0
    recloser_at = sections // 2 if reclosers else -1
    last_trunk = head
    while made < sections and tips:
        i = int(rng.integers(len(tips))) if len(tips) > 1 and rng.random() < 0.4 else 0
        node, direction, line_name, pole_prefix, pole_no, trunk = tips[i]
        x0, y0 = node_xy[node]
        direction += float(rng.uniform(-0.15, 0.15))
        x1 = x0 + section_m * math.cos(direction)
        y1 = y0 + section_m * math.sin(direction)
        nxt = f"{node}.{made}"
        node_xy[nxt] = (x1, y1)
        start = node
        if trunk and made == recloser_at:
            # a recloser splits the trunk: a junction node and its load side
            rec_to = f"{node}R"
            node_xy[rec_to] = (x0, y0)
            _add_switch(g, new_id("sw", "REC"), "recloser", node, rec_to, feeder, (x0, y0))
            start = rec_to
        _add_mv_line(
            g, new_id("line", "L"), feeder, start, nxt, line_name, unit_id, [(x0, y0), (x1, y1)]
        )
        pole_no += 1
        label = f"{pole_prefix}{pole_no}"
        g.rows["poles"].append(
            {
                "id": new_id("pole", "P"),
                "line_name": feeder if trunk else line_name,
                "number": label,
                "node": nxt,
                "geometry": shapely.Point(x1, y1),
            }
        )
        tips[i] = (nxt, direction, line_name, pole_prefix, pole_no, trunk)
        all_nodes.append((nxt, direction))
        if trunk:
            trunk_nodes.append(nxt)
            last_trunk = nxt
        made += 1
        if rng.random() < branch_probability and made < sections:
            side = 1 if rng.random() < 0.5 else -1
            bdir = direction + side * float(rng.uniform(1.1, 1.5))
            fuse_to = f"{nxt}F"
            node_xy[fuse_to] = (x1, y1)
            _add_switch(g, new_id("sw", "FUS"), "fuse", nxt, fuse_to, feeder, (x1, y1))
            lateral = f"{feeder} lateral {label}"
            # the lateral's first section at once: a fuse always protects something
            bx, by = x1 + section_m * math.cos(bdir), y1 + section_m * math.sin(bdir)
            first = f"{fuse_to}.1"
            node_xy[first] = (bx, by)
            _add_mv_line(
                g,
                new_id("line", "L"),
                feeder,
                fuse_to,
                first,
                lateral,
                unit_id,
                [(x1, y1), (bx, by)],
            )
            g.rows["poles"].append(
                {
                    "id": new_id("pole", "P"),
                    "line_name": lateral,
                    "number": f"{label}-1",
                    "node": first,
                    "geometry": shapely.Point(bx, by),
                }
            )
            all_nodes.append((first, bdir))
            made += 1
            tips.append((first, bdir, lateral, f"{label}-", 1, False))
    # a tail section, so that the feeder's end (where a tie may stand) has no other switch
    x0, y0 = node_xy[last_trunk]
    tail = f"{last_trunk}E"
    node_xy[tail] = (x0 + section_m * math.cos(angle), y0 + section_m * math.sin(angle))
    _add_mv_line(
        g, new_id("line", "L"), feeder, last_trunk, tail, feeder, unit_id, [(x0, y0), node_xy[tail]]
    )
    feeder_ends.append((feeder, tail, node_xy[tail], angle))

    # transformers on drop lines from nodes where no switch stands (a drop beside a fuse would
    # make the geometry ambiguous: which line does the fuse protect?)
    switch_nodes = {r["from_node"] for r in g.rows["switches"]}
    candidates = [n for n in all_nodes if n[0] != head and n[0] not in switch_nodes]
    picks = rng.choice(len(candidates), size=min(transformers, len(candidates)), replace=False)
    for k in sorted(picks.tolist()):
        node, direction = candidates[k]
        x0, y0 = node_xy[node]
        side = 1 if rng.random() < 0.5 else -1
        d = direction + side * math.pi / 2
        x1, y1 = x0 + 30 * math.cos(d), y0 + 30 * math.sin(d)
        # two transformers' 400 V networks must not touch (a line end of one within the snap
        # tolerance of the other's would join them)
        if any(
            math.hypot(x1 - t["geometry"].x, y1 - t["geometry"].y) < 200
            for t in g.rows["transformers"]
        ):
            continue
        drop_to = f"{node}D{k}"
        node_xy[drop_to] = (x1, y1)
        _add_mv_line(
            g,
            new_id("line", "L"),
            feeder,
            node,
            drop_to,
            f"{feeder} drop",
            unit_id,
            [(x0, y0), (x1, y1)],
        )
        tid = new_id("tr", "T")
        lv_root = f"{tid}LV"
        node_xy[lv_root] = (x1, y1)
        g.rows["transformers"].append(
            {
                "id": tid,
                "name": f"Transformer {tid}",
                "hv_node": drop_to,
                "lv_node": lv_root,
                "kva": 200.0,
                "feeder": feeder,
                "geometry": shapely.Point(x1, y1),
            }
        )
        lv_nodes = [(lv_root, d)]
        if lv_lines:
            for branch in range(2):
                bd = d + (branch - 0.5) * 1.2
                prev, (px, py) = lv_root, (x1, y1)
                for seg in range(2):
                    nx_, ny_ = px + 40 * math.cos(bd), py + 40 * math.sin(bd)
                    nn = f"{tid}LV{branch}{seg}"
                    node_xy[nn] = (nx_, ny_)
                    g.rows["lv_lines"].append(
                        {
                            "id": new_id("lv", "LV"),
                            "from_node": prev,
                            "to_node": nn,
                            "transformer_id": tid,
                            "voltage_kv": 0.4,
                            "geometry": shapely.LineString([(px, py), (nx_, ny_)]),
                        }
                    )
                    lv_nodes.append((nn, bd))
                    prev, px, py = nn, nx_, ny_
        for _j in range(sps_per_tr):
            on_node = lv_lines and rng.random() < 0.6
            if on_node:
                nn, _ = lv_nodes[1 + int(rng.integers(len(lv_nodes) - 1))]
                sx, sy = node_xy[nn]
                sp_node: str | None = nn
            else:
                sx = x1 + float(rng.uniform(-60, 60))
                sy = y1 + float(rng.uniform(-60, 60))
                sp_node = None
                # keep off every 400 V line end, so that it hangs on its transformer
                if min(math.hypot(sx - node_xy[n][0], sy - node_xy[n][1]) for n, _ in lv_nodes) < 5:
                    sx += 9.0
            spid = new_id("sp", "SP")
            g.rows["service_points"].append(
                {
                    "id": spid,
                    "account_no": f"9{len(g.rows['service_points']):09d}",
                    "transformer_id": tid,
                    "node": sp_node,
                    "address": f"Street {tid} No. {_j + 1}",
                    "name": None,  # the holder's: drawn at the end
                    "phone": f"139{len(g.rows['service_points']):08d}",
                    "category": "residential",
                    "geometry": shapely.Point(sx, sy),
                }
            )
