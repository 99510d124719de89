"""The demo county: a deterministic, realistic county grid as a layer package (CONTRACT §1).

It stands at 兰考县, Henan (county seat about 114.82 E, 34.82 N): ten townships, about 150
villages, a county seat with a street grid, four 110/10 kV substations with two buses each,
about 30 feeders with trunks along the roads, laterals (支线) to every village, sub-laterals
(分支线), about 1,500 transformers (台区) at ``scale=1`` and 60,000 customers. Everything is
drawn from one seed, so the same seed and scale always give the same layers; ``scale``
grows transformers and customers per transformer (``scale=8.4`` gives over 500,000).

All layers are written in CGCS2000 geographic coordinates (EPSG:4490), as Chinese utilities
keep them. Shared points (a section's end and the next one's start, a switch and the junction
it stands in, a transformer and its drop and 400 V lines) are computed once and projected
once, so they are bit-identical: a geometry-only import (``explicit_nodes=False``) derives the
same topology as the node columns describe. Pole numbering is documented in
:mod:`layers.demo.feeders`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from tqdm import tqdm

from layers.demo import feeders as fd
from layers.demo import geography as geo_mod
from layers.demo import names as nm
from layers.demo import settlements as st
from layers.schema import LAYERS

CRS_EPSG = 4490  # CGCS2000 geographic
SEAT_LON, SEAT_LAT = 114.82, 34.82  # 兰考县城
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LAYER_ORDER = tuple(name for name in LAYERS if name != "schematic")


@dataclass(frozen=True)
class CountySummary:
    """What :func:`write_county` wrote: features per layer and the lon/lat bounds."""

    path: Path | None
    seed: int
    scale: float
    counts: Mapping[str, int]
    bbox: tuple[float, float, float, float]
    feeders: int

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        box = ", ".join(f"{v:.4f}" for v in self.bbox)
        return (
            f"seed {self.seed}, scale {self.scale:g}: {self.feeders} feeders; {counts}; bbox {box}"
        )


def _projector() -> Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
    """Local metres (east, north of the county seat) to CGCS2000 lon/lat."""
    local = CRS.from_proj4(
        f"+proj=tmerc +lat_0={SEAT_LAT} +lon_0={SEAT_LON} +k=1 +x_0=0 +y_0=0 "
        "+ellps=GRS80 +units=m +no_defs"
    )
    transformer = Transformer.from_crs(local, CRS.from_epsg(CRS_EPSG), always_xy=True)

    def project(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        lon, lat = transformer.transform(
            np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        )
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    return project


class _Frames:
    """Builds the GeoDataFrames, projecting coordinates on the way."""

    def __init__(self) -> None:
        self.project = _projector()
        self.crs = CRS.from_epsg(CRS_EPSG)

    def points(self, xy: FloatArray) -> npt.NDArray[np.object_]:
        lon, lat = self.project(xy[:, 0], xy[:, 1])
        out: npt.NDArray[np.object_] = shapely.points(lon, lat)
        return out

    def segments(self, a: FloatArray, b: FloatArray) -> npt.NDArray[np.object_]:
        """Two-point lines from ``a[i]`` to ``b[i]``."""
        n = len(a)
        coords = np.empty((2 * n, 2))
        coords[0::2] = a
        coords[1::2] = b
        lon, lat = self.project(coords[:, 0], coords[:, 1])
        out: npt.NDArray[np.object_] = shapely.linestrings(
            np.column_stack([lon, lat]), indices=np.repeat(np.arange(n), 2)
        )
        return out

    def geoms(self, geoms: list[Any]) -> npt.NDArray[np.object_]:
        arr = np.asarray(geoms, dtype=object)

        def fn(xy: FloatArray) -> FloatArray:
            lon, lat = self.project(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        out: npt.NDArray[np.object_] = shapely.transform(arr, fn)
        return out

    def frame(self, columns: dict[str, Any], geometry: npt.NDArray[np.object_]) -> gpd.GeoDataFrame:
        data = {}
        n = len(geometry)
        for key, values in columns.items():
            if isinstance(values, np.ndarray) and values.dtype != object:
                data[key] = values
            else:
                data[key] = pd.Series(list(values), dtype=object)
            if len(data[key]) != n:
                raise ValueError(f"column {key}: {len(data[key])} values for {n} features")
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=self.crs), crs=self.crs)


def _kva(households: IntArray, rng: np.random.Generator) -> IntArray:
    """The smallest standard rating that carries the households (about 1.6 kVA each after
    diversity), sometimes one size up."""
    need = np.maximum(50.0, households * 1.6)
    ratings = np.asarray(st.KVA_RATINGS)
    idx = np.searchsorted(ratings, need)
    idx = idx + (rng.random(len(idx)) < 0.3)
    out: IntArray = ratings[np.clip(idx, 0, len(ratings) - 1)].astype(np.int64)
    return out


def build_county(
    seed: int = 0, scale: float = 1.0, explicit_nodes: bool = True, *, progress: bool = False
) -> dict[str, gpd.GeoDataFrame]:
    """The demo county's layers (CONTRACT section 1, without ``schematic``), in EPSG:4490."""
    stages = ("geography", "villages", "roads", "feeders", "separation", "customers", "layers")
    bar = tqdm(total=len(stages), desc="demo county", unit="stage", disable=not progress)

    started: list[str] = []

    def stage(name: str) -> None:
        """Marks the previous stage done and names the one starting."""
        if started:
            bar.update(1)
        started.append(name)
        bar.set_postfix_str(name)

    def rng(k: int) -> np.random.Generator:
        return np.random.default_rng([seed, k])

    params = st.Params.for_scale(scale)
    stage("geography")
    geo = geo_mod.build_geography(rng(1))
    facilities = st.make_facilities(rng(2), geo)
    stage("villages")
    clusters, streets = st.make_clusters(rng(3), geo, params, facilities)
    lv = st.LowVoltage()
    tr_counter: dict[int, int] = {}
    layout_rng = rng(12)
    for c in clusters:
        st.layout_cluster(layout_rng, c, params, lv, tr_counter)
    stage("roads")
    roads = geo_mod.node_roads(geo_mod.road_lines(rng(4), geo, streets))
    stage("feeders")
    feeders = fd.plan_feeders(rng(5), geo, roads, clusters)
    mv, bus_nodes = fd.build_network(rng(11), geo, clusters, lv, feeders)
    stage("separation")

    lv_x = np.concatenate(lv.x)
    lv_y = np.concatenate(lv.y)
    h_x = np.concatenate(lv.h_x)
    h_y = np.concatenate(lv.h_y)
    h_at = np.concatenate(lv.h_at_node)
    h_node = np.concatenate(lv.h_node)
    fd.separate(rng(6), mv, lv, lv_x, lv_y, h_x, h_y, h_at, h_node, bus_nodes)

    stage("customers")
    frames = _Frames()
    out: dict[str, gpd.GeoDataFrame] = {}
    customers = _customers(rng(7), geo, clusters, lv, facilities)
    out["admin_areas"], out["places"] = _admin_and_places(
        frames, geo, facilities, np.column_stack([h_x, h_y]), roads
    )
    units, territories = _units(geo)
    stage("layers")

    out.update(
        _network_layers(
            frames,
            geo,
            clusters,
            lv,
            mv,
            feeders,
            bus_nodes,
            (lv_x, lv_y, h_x, h_y),
            customers,
            units,
            explicit_nodes,
            rng(8),
        )
    )
    out.update(_organisation_layers(frames, units, territories, rng(9)))
    out["roads"] = _roads_layer(frames, roads)
    bar.update(1)
    bar.close()
    return {name: out[name] for name in LAYER_ORDER}


def _network_layers(
    frames: _Frames,
    geo: geo_mod.Geography,
    clusters: list[st.Cluster],
    lv: st.LowVoltage,
    mv: fd.MediumVoltage,
    feeders: list[fd.Feeder],
    bus_nodes: list[int],
    positions: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    customers: dict[str, list[str]],
    units: list[dict[str, Any]],
    explicit_nodes: bool,
    rng: np.random.Generator,
) -> dict[str, gpd.GeoDataFrame]:
    """The seven network layers, with node columns filled when ``explicit_nodes``."""
    out: dict[str, gpd.GeoDataFrame] = {}
    lv_x, lv_y, h_x, h_y = positions
    h_node = np.concatenate(lv.h_node)
    mxy = np.column_stack([np.asarray(mv.x), np.asarray(mv.y)])
    lxy = np.column_stack([lv_x, lv_y])
    n_tr = len(lv.tr_root)

    def mv_name(nodes: IntArray) -> list[str | None]:
        return [f"M{int(n):06d}" if explicit_nodes else None for n in nodes.tolist()]

    def lv_name(nodes: IntArray) -> list[str | None]:
        return [f"L{int(n):07d}" if explicit_nodes else None for n in nodes.tolist()]

    subs_rows: dict[str, list[Any]] = {"id": [], "name": [], "node": [], "voltage_kv": []}
    for s_idx, sub in enumerate(geo.substations):
        for b in range(2):
            subs_rows["id"].append(f"SS{s_idx + 1:02d}-B{b + 1}")
            subs_rows["name"].append(f"{sub.name}10kV{nm.ROMAN[b]}段母线")
            subs_rows["node"].append(f"M{bus_nodes[2 * s_idx + b]:06d}")
            subs_rows["voltage_kv"].append(10.0)
    bus_idx = np.asarray(bus_nodes, dtype=np.int64)
    out["substations"] = frames.frame(
        {**subs_rows, "voltage_kv": np.asarray(subs_rows["voltage_kv"])},
        frames.points(mxy[bus_idx]),
    )

    sec_a = np.asarray(mv.sec_a, dtype=np.int64)
    sec_b = np.asarray(mv.sec_b, dtype=np.int64)
    sec_line = np.asarray(mv.sec_line, dtype=np.int64)
    line_feeder = [feeders[ln.feeder].name for ln in mv.lines]
    mid = (mxy[sec_a] + mxy[sec_b]) / 2
    unit_of_sec = _unit_at(mid, geo, units)
    out["mv_lines"] = frames.frame(
        {
            "id": nm.numbered("MV", len(sec_a), 6),
            "feeder": [line_feeder[i] for i in sec_line.tolist()],
            "name": [mv.lines[i].name for i in sec_line.tolist()],
            "voltage_kv": np.full(len(sec_a), 10.0),
            "unit_id": unit_of_sec,
            "from_node": mv_name(sec_a),
            "to_node": mv_name(sec_b),
        },
        frames.segments(mxy[sec_a], mxy[sec_b]),
    )
    sw_a = np.asarray(mv.sw_a, dtype=np.int64)
    sw_b = np.asarray(mv.sw_b, dtype=np.int64)
    out["switches"] = frames.frame(
        {
            "id": nm.numbered("SW", len(sw_a), 5),
            "kind": mv.sw_kind,
            "normal_state": mv.sw_state,
            "feeder": [feeders[f].name for f in mv.sw_feeder],
            "name": mv.sw_name,
            "from_node": mv_name(sw_a),
            "to_node": mv_name(sw_b),
        },
        frames.points(mxy[sw_a]),
    )
    tr_ids = nm.numbered("TR", n_tr, 5)
    tr_hv = np.asarray([mv.tr_hv[t] for t in range(n_tr)], dtype=np.int64)
    tr_root = np.asarray(lv.tr_root, dtype=np.int64)
    tr_cluster = np.asarray(lv.tr_cluster, dtype=np.int64)
    tr_hh = np.asarray(lv.tr_households, dtype=np.int64)
    kva = _kva(tr_hh, rng)
    tr_names = []
    for t in range(n_tr):
        c = clusters[int(tr_cluster[t])]
        if c.facility is not None:
            tr_names.append(f"{c.facility.name}专变")
            kva[t] = c.facility.kva
        elif c.kind == "street":
            tr_names.append(f"城关镇{c.street}{lv.tr_number[t]}号变")
        else:
            tr_names.append(f"{geo.villages[c.village].name.full}{lv.tr_number[t]}号台区")
    out["transformers"] = frames.frame(
        {
            "id": tr_ids,
            "name": tr_names,
            "kva": kva,
            "feeder": [feeders[clusters[int(c)].feeder].name for c in tr_cluster.tolist()],
            "hv_node": mv_name(tr_hv),
            "lv_node": lv_name(tr_root),
        },
        frames.points(mxy[tr_hv]),
    )
    la = np.concatenate(lv.line_a)
    lb = np.concatenate(lv.line_b)
    ltr = np.concatenate(lv.line_tr)
    out["lv_lines"] = frames.frame(
        {
            "id": nm.numbered("LV", len(la), 7),
            "transformer_id": tr_ids[ltr],
            "voltage_kv": np.full(len(la), 0.4),
            "from_node": lv_name(la),
            "to_node": lv_name(lb),
        },
        frames.segments(lxy[la], lxy[lb]),
    )
    pole_node = np.asarray(mv.pole_node, dtype=np.int64)
    out["poles"] = frames.frame(
        {
            "id": nm.numbered("P", len(pole_node), 6),
            "line_name": [mv.lines[i].name for i in mv.pole_line],
            "number": mv.pole_number,
            "node": mv_name(pole_node),
        },
        frames.points(mxy[pole_node]),
    )
    h_tr = np.concatenate(lv.h_tr)
    out["service_points"] = frames.frame(
        {
            "id": customers["id"],
            "account_no": customers["account_no"],
            "transformer_id": tr_ids[h_tr],
            "node": lv_name(h_node),
            "address": customers["address"],
            "name": customers["name"],
            "phone": customers["phone"],
            "category": customers["category"],
        },
        frames.points(np.column_stack([h_x, h_y])),
    )

    return out


def _organisation_layers(
    frames: _Frames,
    units: list[dict[str, Any]],
    territories: list[dict[str, Any]],
    rng: np.random.Generator,
) -> dict[str, gpd.GeoDataFrame]:
    """Service stations (供电所), their territories and their repair crews."""
    out: dict[str, gpd.GeoDataFrame] = {}
    out["units"] = frames.frame(
        {
            "id": [u["id"] for u in units],
            "name": [u["name"] for u in units],
            "kind": ["供电所"] * len(units),
            "phone": nm.landline_numbers(rng, len(units)),
        },
        frames.points(np.asarray([u["xy"] for u in units])),
    )
    out["territories"] = frames.frame(
        {
            "id": [t["id"] for t in territories],
            "unit_id": [t["unit_id"] for t in territories],
            "area_class": [t["area_class"] for t in territories],
        },
        frames.geoms([t["polygon"] for t in territories]),
    )
    crews: dict[str, list[Any]] = {"id": [], "unit_id": [], "name": [], "members": []}
    crew_xy = []
    for u in units:
        n = {"urban": 4, "remote": 2}.get(u["area_class"], 2 + int(rng.random() < 0.5))
        for k in range(n):
            crews["id"].append(f"{u['id']}-C{k + 1}")
            crews["unit_id"].append(u["id"])
            crews["name"].append(f"{u['name']}抢修{nm.CHINESE_ORDINALS[k]}班")
            crews["members"].append(int(rng.integers(3, 7)))
            crew_xy.append(u["xy"])
    out["crews"] = frames.frame(
        {**crews, "members": np.asarray(crews["members"], dtype=np.int64)},
        frames.points(np.asarray(crew_xy)),
    )
    return out


def _roads_layer(frames: _Frames, roads: geo_mod.RoadNetwork) -> gpd.GeoDataFrame:
    return frames.frame(
        {
            "id": nm.numbered("RD", len(roads.segments), 5),
            "name": roads.name,
            "kind": roads.kind,
            "speed_kmh": np.asarray(roads.speed, dtype=np.int64),
            "oneway": ["yes" if o else "no" for o in roads.oneway],
        },
        frames.geoms([shapely.LineString(s) for s in roads.segments]),
    )


def _unit_at(xy: FloatArray, geo: geo_mod.Geography, units: list[dict[str, Any]]) -> list[str]:
    """The unit whose territory holds each point (the nearest one outside the county)."""
    unit_of_town = {t: u["id"] for u in units for t in u["townships"]}
    polys = np.asarray([t.polygon for t in geo.townships], dtype=object)
    tree = shapely.STRtree(polys)
    pts = shapely.points(xy[:, 0], xy[:, 1])
    nearest = tree.query_nearest(pts, all_matches=False)[1]
    return [unit_of_town[int(i)] for i in nearest.tolist()]


def _units(geo: geo_mod.Geography) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One 供电所 per township, or per two neighbouring ones; its territory is the union of
    them (a township that does not touch its unit's others gets a unit of its own)."""
    units: list[dict[str, Any]] = []
    by_short: dict[str, dict[str, Any]] = {}
    for t in geo.townships:
        unit = by_short.get(t.unit)
        if unit is not None:
            merged = shapely.union(unit["polygon"], t.polygon)
            if isinstance(merged, shapely.Polygon):
                unit["polygon"] = merged
                unit["townships"].append(t.idx)
                continue
        short = t.unit if unit is None else t.short
        main = next((x for x in geo.townships if x.short == short), t)
        centre = main.centre if main.idx else np.asarray([-600.0, 250.0])
        unit = {
            "id": f"U{len(units) + 1:02d}",
            "name": f"{short}供电所",
            "xy": centre + np.asarray([180.0, 120.0]),
            "area_class": t.area_class,
            "polygon": t.polygon,
            "townships": [t.idx],
        }
        by_short.setdefault(short, unit)
        units.append(unit)
    territories = [
        {
            "id": f"TER{i + 1:02d}",
            "unit_id": u["id"],
            "area_class": u["area_class"],
            "polygon": u["polygon"],
        }
        for i, u in enumerate(units)
    ]
    return units, territories


def _admin_and_places(
    frames: _Frames,
    geo: geo_mod.Geography,
    facilities: list[st.Facility],
    house_xy: FloatArray,
    roads: geo_mod.RoadNetwork,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The administrative areas, and the gazetteer: towns, villages, substations and the
    landmarks people name on the phone."""
    admin: dict[str, list[Any]] = {"id": [], "name": [], "level": [], "parent_id": []}
    polys: list[Any] = []
    admin["id"].append(geo_mod.COUNTY_ID)
    admin["name"].append(geo_mod.COUNTY_NAME)
    admin["level"].append("county")
    admin["parent_id"].append(None)
    polys.append(geo.outline)
    for t in geo.townships:
        admin["id"].append(t.id)
        admin["name"].append(t.name)
        admin["level"].append("township")
        admin["parent_id"].append(geo_mod.COUNTY_ID)
        polys.append(t.polygon)
    for v in geo.villages:
        admin["id"].append(v.id)
        admin["name"].append(v.name.full)
        admin["level"].append("village")
        admin["parent_id"].append(geo.townships[v.township].id)
        polys.append(v.polygon)
    admin_frame = frames.frame(admin, frames.geoms(polys))

    places: dict[str, list[Any]] = {"name": [], "kind": [], "aliases": [], "admin_id": []}
    pxy: list[FloatArray] = []

    def add(name: str, kind: str, aliases: tuple[str, ...], admin_id: str, xy: FloatArray) -> None:
        places["name"].append(name)
        places["kind"].append(kind)
        places["aliases"].append(";".join(a for a in aliases if a != name) or None)
        places["admin_id"].append(admin_id)
        pxy.append(np.asarray(xy, dtype=np.float64))

    add(
        geo_mod.COUNTY_NAME,
        "county",
        ("兰考", "兰考县城"),
        geo_mod.COUNTY_ID,
        np.asarray([0.0, 0.0]),
    )
    for t in geo.townships:
        if t.idx == 0:
            aliases: tuple[str, ...] = ("城关", "县城")
        else:
            aliases = (t.short, f"{t.short}{'镇上' if t.name.endswith('镇') else '乡里'}")
        add(t.name, "town", aliases, t.id, t.centre + np.asarray([60.0, 40.0]))
    for v in geo.villages:
        add(v.name.full, "community" if v.community else "village", v.name.aliases, v.id, v.centre)
    for sub in geo.substations:
        add(
            sub.name,
            "substation",
            (f"{sub.short}变", f"{sub.short}变电站"),
            geo.townships[sub.township].id,
            sub.xy,
        )
    for fac in facilities:
        if fac.service_point >= 0:
            add(
                fac.name,
                fac.kind,
                fac.aliases,
                geo.villages[fac.village].id,
                house_xy[fac.service_point],
            )
    # Bridges: where a village road crosses the (notional) canals, named after the village.
    rng = np.random.default_rng(len(geo.villages))
    village_roads = [
        i
        for i, k in enumerate(roads.kind)
        if k in ("village", "township")
        and float(np.hypot(*np.diff(roads.segments[i], axis=0).T).sum()) > 400.0
    ]
    centres = np.asarray([v.centre for v in geo.villages])
    taken: set[str] = set()
    for i in rng.permutation(len(village_roads)).tolist():
        if len(taken) >= 8:
            break
        seg = roads.segments[village_roads[i]]
        p = np.asarray(shapely.LineString(seg).interpolate(0.5, normalized=True).coords[0])
        v = geo.villages[int(np.argmin(np.hypot(*(centres - p).T)))]
        name = f"{v.name.bare}桥"
        if v.community or name in taken or v.name.bare.endswith("桥"):
            continue
        taken.add(name)
        add(name, "bridge", (f"{v.name.bare}大桥",), v.id, p)
    places_frame = frames.frame(places, frames.points(np.asarray(pxy)))
    return admin_frame, places_frame


def _rank_in_runs(key: npt.NDArray[Any]) -> IntArray:
    """0, 1, 2, ... along each run of equal consecutive values of ``key``."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1])
    run_start = np.repeat(starts, np.diff(np.concatenate([starts, [len(key)]])))
    out: IntArray = np.arange(len(key)) - run_start
    return out


def _customers(
    rng: np.random.Generator,
    geo: geo_mod.Geography,
    clusters: list[st.Cluster],
    lv: st.LowVoltage,
    facilities: list[st.Facility],
) -> dict[str, list[str]]:
    """Who is behind each meter: category, name, address, phone, account and meter number.

    Addresses are written as the household registers write them: township, village, villager
    group (组, two lanes each) and house number; in the county seat, street and number (odd
    on one side, even on the other).
    """
    h_cluster = np.concatenate(lv.h_cluster)
    h_lane = np.concatenate(lv.h_lane)
    h_side = np.concatenate(lv.h_side)
    h_along = np.concatenate(lv.h_along)
    h_depth = np.concatenate(lv.h_depth)
    h_rank = np.concatenate(lv.h_rank)
    n = len(h_cluster)
    kind_code = {"village": 0, "street": 1, "site": 2}
    ckind = np.asarray([kind_code[c.kind] for c in clusters], dtype=np.int64)[h_cluster]
    village = np.asarray([c.village for c in clusters], dtype=np.int64)[h_cluster]
    street_code = np.asarray(
        [nm.URBAN_EW_STREETS.index(c.street) if c.street else -1 for c in clusters],
        dtype=np.int64,
    )[h_cluster]

    category = np.full(n, "residential", dtype=object)
    r = rng.random(n)
    category[(ckind == 1) & (r < 0.15)] = "commercial"
    category[(ckind == 1) & (r >= 0.15) & (r < 0.16)] = "industrial"
    category[(ckind == 0) & (r < 0.04)] = "commercial"
    category[(ckind == 0) & (r >= 0.04) & (r < 0.046)] = "industrial"
    names = np.full(n, "", dtype=object)

    # Landmarks that are customers: a house of their village becomes the school or clinic;
    # a site's only meter is the site.
    for fac in facilities:
        if fac.dedicated:
            c = next(c for c in clusters if c.facility is fac)
            idx = int(np.flatnonzero(h_cluster == c.idx)[0])
        else:
            pool = np.flatnonzero(
                (village == fac.village) & (ckind == 0) & (category == "residential")
            )
            if len(pool) == 0:
                continue
            idx = int(pool[int(rng.integers(len(pool)))])
        fac.service_point = idx
        category[idx] = fac.category
        names[idx] = fac.name

    # People and businesses, village by village, so that clan villages keep their surname.
    order = np.argsort(village, kind="stable")
    bounds = np.flatnonzero(np.diff(village[order])) + 1
    for chunk in np.split(order, bounds):
        v = geo.villages[int(village[chunk[0]])]
        place = v.name.bare if not v.community else nm.URBAN_EW_STREETS[0]
        res = chunk[(category[chunk] == "residential") & (names[chunk] == "")]
        names[res] = nm.person_names(rng, len(res), v.name.surname, 0.55)
        com = chunk[(category[chunk] == "commercial") & (names[chunk] == "")]
        owners = nm.person_names(rng, len(com), v.name.surname, 0.4)
        if v.community:
            streets = [nm.URBAN_EW_STREETS[int(s)] for s in street_code[com].tolist()]
            names[com] = [
                nm.shop_names(rng, [o], street.removesuffix("路").removesuffix("街"))[0]
                for o, street in zip(owners, streets, strict=True)
            ]
        else:
            names[com] = nm.shop_names(rng, owners, place)
        ind = chunk[(category[chunk] == "industrial") & (names[chunk] == "")]
        names[ind] = nm.workshop_names(rng, len(ind), place)

    # Addresses.
    address = np.full(n, "", dtype=object)
    town_name = [geo.townships[v.township].name for v in geo.villages]
    rural = np.flatnonzero(ckind == 0)
    group = h_lane // 2 + 1
    o = rural[
        np.lexsort((h_depth[rural], h_side[rural], h_lane[rural], group[rural], village[rural]))
    ]
    number = _rank_in_runs(village[o] * 100_000 + group[o]) + 1
    vil_full = [v.name.full for v in geo.villages]
    address[o] = [
        f"{town_name[v]}{vil_full[v]}{g}组{k}号"
        for v, g, k in zip(village[o].tolist(), group[o].tolist(), number.tolist(), strict=True)
    ]
    # The county seat: the first house of each lane on the street itself (人民路128号), the
    # others in the lane (巷), numbered along it (人民路3巷15号).
    urban = np.flatnonzero((ckind == 1) & (h_rank == 0))
    o = urban[np.lexsort((h_depth[urban], h_along[urban], h_side[urban], street_code[urban]))]
    k = _rank_in_runs(street_code[o] * 10 + (h_side[o] > 0))
    number = np.where(h_side[o] > 0, 2 * k + 2, 2 * k + 1)
    address[o] = [
        f"城关镇{nm.URBAN_EW_STREETS[s]}{num}号"
        for s, num in zip(street_code[o].tolist(), number.tolist(), strict=True)
    ]
    alley = np.flatnonzero((ckind == 1) & (h_rank > 0))
    street_pos = np.asarray([c.street_pos for c in clusters])[h_cluster]
    lane_key = (
        street_code[alley] * 10_000_000
        + np.round(street_pos[alley]).astype(np.int64) * 1000
        + h_lane[alley]
    )
    uniq, lane_idx = np.unique(lane_key, return_inverse=True)
    first_of_street: dict[int, int] = {}
    for i, key in enumerate(uniq.tolist()):
        first_of_street.setdefault(key // 10_000_000, i)
    alley_no = (
        lane_idx
        - np.asarray([first_of_street[int(k) // 10_000_000] for k in lane_key.tolist()])
        + 1
    )
    o = np.lexsort((h_depth[alley], h_side[alley], lane_idx))
    number = _rank_in_runs(lane_idx[o]) + 1
    address[alley[o]] = [
        f"城关镇{nm.URBAN_EW_STREETS[s]}{a}巷{num}号"
        for s, a, num in zip(
            street_code[alley[o]].tolist(), alley_no[o].tolist(), number.tolist(), strict=True
        )
    ]
    groups_of: dict[int, int] = {}
    for v, g in zip(village[rural].tolist(), group[rural].tolist(), strict=True):
        groups_of[v] = max(g, groups_of.get(v, 1))
    for j, idx in enumerate(np.flatnonzero(ckind == 2).tolist()):
        c = clusters[int(h_cluster[idx])]
        v = geo.villages[c.village]
        if v.community:
            y = float(c.centre[1])
            st = nm.URBAN_EW_STREETS[int(np.argmin(np.abs(np.asarray(geo_mod.URBAN_EW_Y) - y)))]
            address[idx] = f"城关镇{st}{801 + 2 * j}号"
        else:
            g = int(rng.integers(1, groups_of.get(v.idx, 1) + 1))
            address[idx] = f"{town_name[v.idx]}{v.name.full}{g}组{901 + j}号"

    phone = np.asarray(nm.mobile_numbers(rng, n), dtype=object)
    office = np.flatnonzero(np.isin(category, ["important", "industrial"]))
    office = office[rng.random(len(office)) < 0.6]
    phone[office] = nm.landline_numbers(rng, len(office))
    meters = rng.choice(100_000_000, size=n, replace=False)
    accounts = rng.choice(100_000_000, size=n, replace=False)
    return {
        "id": [f"410225{int(m):08d}" for m in meters.tolist()],
        "account_no": [f"04{int(a):08d}" for a in accounts.tolist()],
        "address": address.tolist(),
        "name": names.tolist(),
        "phone": phone.tolist(),
        "category": category.tolist(),
    }


def write_county(
    path: Path,
    *,
    seed: int = 0,
    scale: float = 1.0,
    explicit_nodes: bool = True,
    progress: bool = False,
) -> CountySummary:
    """Writes the demo county as a GeoPackage at ``path`` (one table per layer)."""
    path = Path(path)
    layers = build_county(seed, scale, explicit_nodes, progress=progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    for name, frame in tqdm(layers.items(), desc="writing", unit="layer", disable=not progress):
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
    bounds = np.vstack([f.total_bounds for f in layers.values() if len(f)])
    bbox = (
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    )
    return CountySummary(
        path=path,
        seed=seed,
        scale=scale,
        counts={name: len(frame) for name, frame in layers.items()},
        bbox=bbox,
        feeders=int(layers["mv_lines"]["feeder"].nunique()),
    )


__all__ = ["CountySummary", "build_county", "write_county"]
