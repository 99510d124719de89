"""The demo county's land: outline, townships, villages, the county seat's streets, and roads.

Everything here is in a local metric frame (metres east and north of the county seat); the
caller projects to CGCS2000 at the very end, so that shared points stay bit-identical.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

from layers.demo import names as nm

FloatArray = npt.NDArray[np.float64]

COUNTY_ID = "C410225"
COUNTY_NAME = "兰考县"
COUNTY_RADIUS = 18_500.0
COUNTY_CENTRE = (0.0, 500.0)

# The county seat's street grid: east-west streets at these y, north-south streets at these x.
URBAN_EW_Y = (1500.0, 1000.0, 500.0, 0.0, -500.0, -1000.0, -1500.0)
URBAN_NS_X = (-2000.0, -1500.0, -1000.0, -500.0, 0.0, 500.0, 1000.0, 1500.0, 2000.0)
URBAN_CORE = shapely.box(-2250.0, -1750.0, 2250.0, 1750.0)

ROAD_KINDS = ("national", "provincial", "county", "township", "village")
ROAD_SPEED = {"national": 80, "provincial": 60, "county": 50, "township": 40, "village": 25}


@dataclass
class Township:
    idx: int
    id: str
    name: str
    short: str
    centre: FloatArray
    polygon: Any
    unit: str
    area_class: str


@dataclass
class Village:
    idx: int
    id: str
    name: nm.VillageName
    township: int
    centre: FloatArray
    polygon: Any
    weight: float
    angle: float  # direction of the main street, radians
    seat: bool = False  # the village around a township's government
    community: bool = False  # a 社区 of the county seat


@dataclass
class SubstationSite:
    name: str  # 110kV城关变
    short: str  # 城关
    township: int
    xy: FloatArray
    feeders: int


@dataclass
class Geography:
    outline: Any
    townships: list[Township]
    villages: list[Village]
    substations: list[SubstationSite]

    def township_of(self, short: str) -> Township:
        return next(t for t in self.townships if t.short == short)


@dataclass
class RoadLine:
    coords: FloatArray
    name: str
    kind: str
    speed: int
    oneway: bool = False


@dataclass
class RoadNetwork:
    """Road segments split at every junction, and the graph that routes along them."""

    segments: list[FloatArray]
    name: list[str]
    kind: list[str]
    speed: list[int]
    oneway: list[bool]
    graph: Any = field(default=None)
    node_xy: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))

    def nearest_node(self, xy: FloatArray) -> int:
        d = np.hypot(self.node_xy[:, 0] - xy[0], self.node_xy[:, 1] - xy[1])
        return int(np.argmin(d))

    def path_coords(self, a: int, b: int) -> FloatArray:
        """The polyline along the shortest road path from node ``a`` to node ``b``."""
        nodes = nx.shortest_path(self.graph, a, b, weight="length")
        parts: list[FloatArray] = [self.node_xy[a][None, :]]
        for u, v in itertools.pairwise(nodes):
            seg = self.segments[self.graph.edges[u, v]["seg"]]
            if not np.array_equal(seg[0], self.node_xy[u]):
                seg = seg[::-1]
            parts.append(seg[1:])
        return np.vstack(parts)


def _outline(rng: np.random.Generator) -> Any:
    """An irregular, plausible county boundary: a wobbly disc with a few lobes."""
    n = 144
    theta = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = np.ones(n)
    for k, amp in ((2, 0.07), (3, 0.045), (5, 0.025), (7, 0.015), (11, 0.008)):
        r += amp * np.sin(k * theta + rng.uniform(0, 2 * math.pi))
    noise = rng.normal(0.0, 0.012, n)
    kernel = np.ones(5) / 5
    r += np.convolve(np.concatenate([noise[-2:], noise, noise[:2]]), kernel, mode="valid")
    r *= COUNTY_RADIUS
    x = COUNTY_CENTRE[0] + r * np.cos(theta)
    y = COUNTY_CENTRE[1] + r * np.sin(theta)
    return shapely.Polygon(np.column_stack([x, y]))


def _single_polygons(cells: list[Any]) -> list[Any]:
    """Makes every cell of a partition one Polygon: stray parts (left by clipping a convex
    Voronoi cell to a concave outline) go to the neighbour that shares most boundary."""
    cells = [shapely.make_valid(c) for c in cells]
    for _ in range(3):
        changed = False
        for i, cell in enumerate(cells):
            if isinstance(cell, shapely.Polygon):
                continue
            parts = sorted(
                (g for g in getattr(cell, "geoms", []) if isinstance(g, shapely.Polygon)),
                key=lambda g: -g.area,
            )
            if not parts:
                continue
            cells[i] = parts[0]
            for part in parts[1:]:
                best, shared = -1, 0.0
                for j, other in enumerate(cells):
                    if j == i:
                        continue
                    length = part.boundary.intersection(other.buffer(0.5)).length
                    if length > shared:
                        best, shared = j, length
                if best >= 0:
                    cells[best] = shapely.union(cells[best], part).buffer(0)
                    changed = True
        if not changed:
            break
    return [
        c if isinstance(c, shapely.Polygon) else max(c.geoms, key=lambda g: g.area) for c in cells
    ]


def _voronoi(points: FloatArray, clip: Any) -> list[Any]:
    envelope = shapely.box(*clip.bounds).buffer(5000.0)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(points), extend_to=envelope, ordered=True)
    return _single_polygons([shapely.intersection(g, clip) for g in cells.geoms])


def _sample_points(
    rng: np.random.Generator,
    area: Any,
    n: int,
    min_dist: float,
    fixed: FloatArray,
) -> FloatArray:
    """``n`` points inside ``area``, at least ``min_dist`` apart and from ``fixed`` (darts)."""
    minx, miny, maxx, maxy = area.bounds
    chosen: list[FloatArray] = []
    others = fixed.reshape(-1, 2)
    dist = min_dist
    attempts = 0
    while len(chosen) < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 256), rng.uniform(miny, maxy, 256)])
        cand = cand[shapely.contains_xy(area, cand[:, 0], cand[:, 1])]
        for p in cand:
            pts = np.vstack([others, *chosen]) if chosen else others
            if len(pts) == 0 or np.min(np.hypot(*(pts - p).T)) >= dist:
                chosen.append(p[None, :])
                if len(chosen) == n:
                    break
        attempts += 1
        if attempts % 8 == 0:
            dist *= 0.93  # a crowded township takes its villages a little closer together
    return np.vstack(chosen)


def build_geography(rng: np.random.Generator, n_villages: int = 146) -> Geography:
    """Outline, townships, villages and substation sites.

    Villages come first (a Voronoi partition of the county around their settlements); a
    township is the union of its villages' cells, so township boundaries follow village
    boundaries, as they do on real maps, rather than straight lines.
    """
    outline = _outline(rng)
    centre = np.asarray(COUNTY_CENTRE)
    inner = outline.buffer(-2500.0)
    seeds = []
    for i, spec in enumerate(nm.TOWNSHIPS):
        p = np.asarray([spec.x_km * 1000.0, spec.y_km * 1000.0])
        if i > 0:
            p = p + rng.normal(0.0, 500.0, 2)
        while not inner.contains(shapely.Point(p)):
            p = centre + (p - centre) * 0.93
        seeds.append(p)
    town_xy = np.asarray(seeds)

    # Substations stand just outside their town.
    offsets = {
        "城关": (1000.0, -2300.0),
        "谷营": (900.0, -700.0),
        "堌阳": (900.0, 800.0),
        "红庙": (-900.0, 900.0),
    }
    feeders = {"城关": 10, "谷营": 7, "堌阳": 7, "红庙": 6}
    shorts = [spec.short for spec in nm.TOWNSHIPS]
    substations = []
    for short, (dx, dy) in offsets.items():
        ti = shorts.index(short)
        base = np.asarray([0.0, 0.0]) if ti == 0 else town_xy[ti]
        substations.append(
            SubstationSite(
                f"110kV{short}变", short, ti, base + np.asarray([dx, dy]), feeders[short]
            )
        )
    sub_xy = np.asarray([s.xy for s in substations])

    # Village settlements: the township seats, then darts across the countryside.
    seats = town_xy[1:]
    area = outline.buffer(-700.0).difference(URBAN_CORE.buffer(900.0))
    others = _sample_points(rng, area, n_villages - len(seats), 1900.0, np.vstack([sub_xy, seats]))
    pts = np.vstack([seats, others])
    land = outline.difference(URBAN_CORE)
    cells = _voronoi(pts, land)

    # Each village joins the nearest town, measured on a gently warped plane so that
    # township boundaries wander; seats belong to their own town.
    phase = rng.uniform(0, 2 * math.pi, 4)
    warped = pts + 1300.0 * np.column_stack(
        [
            np.sin(pts[:, 1] / 3100.0 + phase[0]) + 0.5 * np.sin(pts[:, 0] / 1700.0 + phase[1]),
            np.sin(pts[:, 0] / 2900.0 + phase[2]) + 0.5 * np.sin(pts[:, 1] / 1900.0 + phase[3]),
        ]
    )
    d = np.hypot(warped[:, None, 0] - town_xy[None, :, 0], warped[:, None, 1] - town_xy[None, :, 1])
    owner = np.argmin(d, axis=1)
    owner[: len(seats)] = np.arange(1, len(nm.TOWNSHIPS))
    owner = _contiguous(owner, cells, len(seats), URBAN_CORE)
    town_polys = []
    for ti in range(len(nm.TOWNSHIPS)):
        parts = [cells[i] for i in np.flatnonzero(owner == ti)]
        if ti == 0:
            parts.append(shapely.intersection(URBAN_CORE, outline))
        town_polys.append(_single_polygons([shapely.union_all(parts)])[0])
    townships = [
        Township(
            i,
            f"T{i + 1:02d}",
            spec.name,
            spec.short,
            town_xy[i],
            town_polys[i],
            spec.unit,
            spec.area_class,
        )
        for i, spec in enumerate(nm.TOWNSHIPS)
    ]

    taken: set[str] = {t.short + "村" for t in townships} | {t.short for t in townships}
    villages: list[Village] = []
    for t in townships:
        members = np.flatnonzero(owner == t.idx)
        # Numbered from the seat, then north to south, west to east.
        members = members[
            np.lexsort((pts[members, 0], -np.round(pts[members, 1], -3), members >= len(seats)))
        ]
        vnames = iter(nm.village_names(rng, len(members), taken))
        for i in members.tolist():
            seat = i < len(seats)
            vname = (
                nm.VillageName(f"{t.short}村", t.short + "村", (t.short + "村", f"{t.short}街"), "")
                if seat
                else next(vnames)
            )
            angle = (0.0 if rng.random() < 0.5 else math.pi / 2) + rng.normal(0.0, 0.14)
            weight = float(rng.lognormal(0.0, 0.4)) * (2.2 if seat else 1.0)
            villages.append(
                Village(len(villages), "", vname, t.idx, pts[i], cells[i], weight, angle, seat=seat)
            )
        if t.idx == 0:
            # The county seat's four communities (社区) partition the urban core.
            minx, miny, maxx, maxy = URBAN_CORE.bounds
            triangles = {
                "北关社区": [(minx, maxy), (maxx, maxy), (0.0, 0.0)],
                "东关社区": [(maxx, maxy), (maxx, miny), (0.0, 0.0)],
                "南关社区": [(maxx, miny), (minx, miny), (0.0, 0.0)],
                "西关社区": [(minx, miny), (minx, maxy), (0.0, 0.0)],
            }
            for cname, corners in triangles.items():
                poly = shapely.intersection(shapely.Polygon(corners), outline)
                c = np.asarray(poly.representative_point().coords[0])
                vn = nm.VillageName(cname, cname, (cname, cname.removesuffix("社区")), "")
                villages.append(
                    Village(len(villages), "", vn, 0, c, poly, 0.0, 0.0, community=True)
                )
    per_town: dict[int, int] = {}
    for v in villages:
        per_town[v.township] = per_town.get(v.township, 0) + 1
        v.id = f"{townships[v.township].id}V{per_town[v.township]:03d}"
    return Geography(outline, townships, villages, substations)


def _contiguous(
    owner: npt.NDArray[np.int64], cells: list[Any], fixed: int, core: Any
) -> npt.NDArray[np.int64]:
    """Reassigns villages cut off from the rest of their township (an enclave) to the
    neighbouring township they share most boundary with."""
    owner = owner.copy()
    buffered = [c.buffer(1.0) for c in cells]
    for _ in range(10):
        changed = False
        for ti in range(int(owner.max()) + 1):
            members = np.flatnonzero(owner == ti)
            parts = [cells[i] for i in members]
            if ti == 0:
                parts.append(core)
            union = shapely.union_all([p.buffer(1.0) for p in parts])
            pieces = list(getattr(union, "geoms", [union]))
            if len(pieces) <= 1:
                continue
            main = max(pieces, key=lambda g: g.area if ti else g.intersection(core).area)
            for i in members.tolist():
                if i < fixed or main.contains(cells[i].representative_point()):
                    continue
                best, shared = ti, 0.0
                for j in range(len(cells)):
                    if owner[j] == ti:
                        continue
                    length = cells[i].boundary.intersection(buffered[j]).length
                    if length > shared:
                        best, shared = int(owner[j]), length
                if best != ti:
                    owner[i] = best
                    changed = True
        if not changed:
            break
    return owner


# -- roads ------------------------------------------------------------------------------------


def _wiggle(rng: np.random.Generator, pts: FloatArray, step: float, amp: float) -> FloatArray:
    """Inserts gently displaced points every ``step`` metres: roads across a plain still bend."""
    out = [pts[0]]
    for a, b in itertools.pairwise(pts):
        d = float(np.hypot(*(b - a)))
        n = max(1, int(d // step))
        if n > 1:
            normal = np.asarray([-(b - a)[1], (b - a)[0]]) / d
            offs = rng.normal(0.0, amp, n - 1)
            for k in range(1, n):
                out.append(a + (b - a) * (k / n) + normal * offs[k - 1])
        out.append(b)
    return np.asarray(out)


def _boundary_point(outline: Any, angle_deg: float) -> FloatArray:
    """Where a ray from the seat leaves the county, a little inside the boundary."""
    rad = math.radians(angle_deg)
    ray = shapely.LineString([(0.0, 0.0), (60_000 * math.cos(rad), 60_000 * math.sin(rad))])
    hit = ray.intersection(outline.exterior)
    pts = shapely.get_coordinates(hit)
    p = pts[np.argmin(np.hypot(pts[:, 0], pts[:, 1]))]
    return np.asarray(p) * (1.0 - 80.0 / max(1.0, float(np.hypot(*p))))


def road_lines(
    rng: np.random.Generator,
    geo: Geography,
    main_streets: list[tuple[int, FloatArray]],
) -> list[RoadLine]:
    """Every road before noding: national, provincial and county roads between towns,
    township and village roads linking every village, the seat's streets, and villages'
    main streets (``main_streets``: village index and polyline through its centre)."""
    lines: list[RoadLine] = []
    for k, y in enumerate(URBAN_EW_Y):
        street = nm.URBAN_EW_STREETS[k]
        xs = np.asarray([URBAN_NS_X[0], URBAN_NS_X[-1]])
        direction = nm.URBAN_ONEWAY.get(street, 0)
        if direction < 0:
            xs = xs[::-1]
        arterial = street in nm.URBAN_ARTERIALS
        lines.append(
            RoadLine(
                np.asarray([[xs[0], y], [xs[1], y]]),
                street,
                "county" if arterial else "township",
                40 if arterial else (20 if direction else 30),
                oneway=direction != 0,
            )
        )
    for k, x in enumerate(URBAN_NS_X):
        street = nm.URBAN_NS_STREETS[k]
        arterial = street in nm.URBAN_ARTERIALS
        lines.append(
            RoadLine(
                np.asarray([[x, URBAN_EW_Y[-1]], [x, URBAN_EW_Y[0]]]),
                street,
                "county" if arterial else "township",
                40 if arterial else 30,
            )
        )

    def town(short: str) -> FloatArray:
        return geo.township_of(short).centre

    def edge(xy: tuple[float, float]) -> FloatArray:
        return np.asarray(xy)

    routes: list[tuple[str, str, list[FloatArray]]] = [
        (
            "national",
            "106国道",
            [_boundary_point(geo.outline, 80.0), town("谷营"), edge((0.0, URBAN_EW_Y[0]))],
        ),
        (
            "national",
            "106国道",
            [edge((0.0, URBAN_EW_Y[-1])), town("南彰"), _boundary_point(geo.outline, 265.0)],
        ),
        (
            "national",
            "310国道",
            [_boundary_point(geo.outline, 183.0), town("堌阳"), edge((URBAN_NS_X[0], 0.0))],
        ),
        (
            "national",
            "310国道",
            [edge((URBAN_NS_X[-1], 0.0)), town("仪封"), _boundary_point(geo.outline, 2.0)],
        ),
        (
            "provincial",
            "212省道",
            [town("东坝头"), town("三义寨"), edge((URBAN_NS_X[0], URBAN_EW_Y[1]))],
        ),
        (
            "provincial",
            "213省道",
            [town("考城"), town("仪封"), town("红庙"), _boundary_point(geo.outline, 305.0)],
        ),
        ("county", "兰张公路", [edge((URBAN_NS_X[2], URBAN_EW_Y[-1])), town("张君墓")]),
        ("county", "兰红公路", [edge((URBAN_NS_X[-2], URBAN_EW_Y[-1])), town("红庙")]),
        ("county", "兰考公路", [edge((URBAN_NS_X[-1], URBAN_EW_Y[0])), town("考城")]),
        ("county", "堌张公路", [town("堌阳"), town("张君墓")]),
        ("county", "东谷公路", [town("东坝头"), town("谷营")]),
        ("county", "南红公路", [town("南彰"), town("红庙")]),
        ("county", "三堌公路", [town("三义寨"), town("堌阳")]),
    ]
    for kind, name, stops in routes:
        coords = _wiggle(rng, np.asarray(stops), 1500.0, 90.0)
        lines.append(RoadLine(coords, name, kind, ROAD_SPEED[kind]))

    # Township and village roads: per township, a spanning tree over the villages and the
    # town (or the seat's edge streets), plus a few short cross links.
    for t in geo.townships:
        vs = [v for v in geo.villages if v.township == t.idx and not v.community]
        anchors: FloatArray
        if t.idx == 0:
            anchors = np.asarray(
                [[x, y] for x in (URBAN_NS_X[0], URBAN_NS_X[-1]) for y in URBAN_EW_Y]
                + [[x, y] for y in (URBAN_EW_Y[0], URBAN_EW_Y[-1]) for x in URBAN_NS_X[1:-1]],
                dtype=np.float64,
            )
        else:
            anchors = t.centre[None, :]
        pts = np.vstack([anchors] + [v.centre[None, :] for v in vs if not v.seat])
        names = [""] * len(anchors) + [v.name.bare for v in vs if not v.seat]
        n_anchor = len(anchors)
        d = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
        d_mst = d.copy()
        d_mst[:n_anchor, :n_anchor] = 1e-6  # anchors are already joined by other roads
        np.fill_diagonal(d_mst, 0.0)
        mst = minimum_spanning_tree(d_mst).tocoo()
        edges = {
            (min(a, b), max(a, b)) for a, b in zip(mst.row.tolist(), mst.col.tolist(), strict=True)
        }
        tri = Delaunay(pts)
        extra = set()
        for simplex in tri.simplices.tolist():
            for a, b in (
                (simplex[0], simplex[1]),
                (simplex[1], simplex[2]),
                (simplex[0], simplex[2]),
            ):
                extra.add((min(a, b), max(a, b)))
        extra_list = sorted(e for e in extra - edges if not (e[0] < n_anchor and e[1] < n_anchor))
        extra_list.sort(key=lambda e: d[e])
        chosen = sorted(e for e in edges if not (e[0] < n_anchor and e[1] < n_anchor))
        chosen += extra_list[: max(1, len(vs) // 6)]
        for a, b in chosen:
            coords = _wiggle(rng, pts[[a, b]], 700.0, 45.0)
            kind = "township" if a < n_anchor else "village"
            if kind == "township":
                name = f"{t.short}{names[b]}路" if names[b] else f"{t.short}乡道"
            else:
                name = f"{names[a]}至{names[b]}路"
            lines.append(RoadLine(coords, name, kind, ROAD_SPEED[kind]))
    for vidx, coords in main_streets:
        v = geo.villages[vidx]
        lines.append(RoadLine(coords, f"{v.name.bare}大街", "village", ROAD_SPEED["village"]))
    return lines


def node_roads(lines: list[RoadLine]) -> RoadNetwork:
    """Splits the roads at every junction (ends meet exactly) and builds the routing graph."""
    geoms = np.asarray([shapely.LineString(r.coords) for r in lines], dtype=object)
    noded = shapely.union_all(geoms, grid_size=0.01)  # snap-rounding: no slivers
    segs = list(getattr(noded, "geoms", [noded]))
    rank = {k: i for i, k in enumerate(ROAD_KINDS)}
    tree = shapely.STRtree(geoms)
    mids = shapely.line_interpolate_point(np.asarray(segs, dtype=object), 0.5, normalized=True)
    hit_seg, hit_line = tree.query(mids, predicate="dwithin", distance=0.05)
    best: dict[int, int] = {}
    for s, line in zip(hit_seg.tolist(), hit_line.tolist(), strict=True):
        cur = best.get(s)
        if cur is None or rank[lines[line].kind] < rank[lines[cur].kind]:
            best[s] = line
    net = RoadNetwork([], [], [], [], [])
    key_of: dict[tuple[float, float], int] = {}
    node_list: list[tuple[float, float]] = []
    graph = nx.Graph()

    def key(p: FloatArray) -> int:
        k = (float(p[0]), float(p[1]))
        idx = key_of.get(k)
        if idx is None:
            idx = key_of[k] = len(node_list)
            node_list.append(k)
        return idx

    for s, seg in enumerate(segs):
        coords = np.asarray(seg.coords)
        if len(coords) < 2 or seg.length <= 0.0:
            continue
        line = best.get(s)
        if line is None:
            dists = shapely.distance(geoms, mids[s])
            line = int(np.argmin(dists))
        src = lines[line]
        src_geom = geoms[line]
        if src.oneway:
            a = shapely.line_locate_point(src_geom, shapely.Point(coords[0]))
            b = shapely.line_locate_point(src_geom, shapely.Point(coords[-1]))
            if a > b:
                coords = coords[::-1].copy()
        idx = len(net.segments)
        net.segments.append(coords)
        net.name.append(src.name)
        net.kind.append(src.kind)
        net.speed.append(src.speed)
        net.oneway.append(src.oneway)
        u, v = key(coords[0]), key(coords[-1])
        length = float(seg.length)
        if u != v and (not graph.has_edge(u, v) or graph.edges[u, v]["length"] > length):
            graph.add_edge(u, v, length=length, seg=idx)
    net.graph = graph
    net.node_xy = np.asarray(node_list, dtype=np.float64)
    return net
