"""The 10 kV network: substation buses, feeders with trunks along the roads, laterals (支线)
and sub-laterals (分支线) to every settlement, transformer drops, switches and ties.

A feeder's trunk follows the roads from its bus; each settlement's lateral leaves the nearest
straight pole of the trunk (or of another lateral) square to it, with a fuse at the tap, and
runs along the settlement's main street; transformers hang off the nearest pole of that run
by a short drop. A switch stands at a pole, between the sections either side of it.

Pole numbering (杆号), as Chinese line crews paint it: trunk poles are ``1``, ``2``, ... from
the substation; a lateral tapped at trunk pole 45 numbers its poles ``45-1``, ``45-2``, ...;
a sub-lateral tapped at lateral pole ``45-12`` numbers ``45-12-1``, ... A pole's
``line_name`` is the name of the line it carries (the feeder for trunk poles, the lateral's
name for lateral poles). A tie line continues the numbering of the line it extends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

from layers.demo import names as nm
from layers.demo.geography import Geography, RoadNetwork
from layers.demo.settlements import MV_RUN_T, Cluster, LowVoltage

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_TAP_TURN = math.radians(25.0)  # a lateral is tapped only where the line runs straight


# -- 10 kV -----------------------------------------------------------------------------------


@dataclass
class MVLine:
    name: str
    feeder: int
    depth: int  # 0 trunk, 1 lateral (支线), 2 sub-lateral (分支线)
    prefix: str  # pole-number prefix: "" for the trunk, "45-" for a lateral tapped at 45
    start: int  # the node its first section leaves from
    poles: list[int] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    turn: list[float] = field(default_factory=list)
    cluster: int = -1

    def number_of(self, node: int) -> str:
        """The number painted on one of this line's poles."""
        return self.numbers[self.poles.index(node)]


@dataclass
class Feeder:
    idx: int
    substation: int
    bus: int  # 0 or 1
    name: str = ""  # 10kV城关Ⅰ线
    breaker_no: int = 0
    rank: int = 0  # among its substation's feeders
    clusters: list[int] = field(default_factory=list)
    target: int = -1  # the cluster its trunk heads for
    trunk_pts: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    trunk: int = -1  # line index


class MediumVoltage:
    """The 10 kV side: nodes, sections, poles and switches."""

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []
        self.site: list[int] = []  # nodes that stand together on purpose share a site
        self.tap: list[bool] = []
        self.drop: list[bool] = []
        self.switched: list[bool] = []
        self.sec_a: list[int] = []
        self.sec_b: list[int] = []
        self.sec_line: list[int] = []
        self.lines: list[MVLine] = []
        self.pole_node: list[int] = []
        self.pole_line: list[int] = []
        self.pole_number: list[str] = []
        self.sw_a: list[int] = []
        self.sw_b: list[int] = []
        self.sw_kind: list[str] = []
        self.sw_state: list[str] = []
        self.sw_feeder: list[int] = []
        self.sw_name: list[str] = []
        self.tr_hv: dict[int, int] = {}  # transformer -> its high-voltage node

    def node(self, xy: FloatArray) -> int:
        self.x.append(float(xy[0]))
        self.y.append(float(xy[1]))
        self.site.append(len(self.site))
        self.tap.append(False)
        self.drop.append(False)
        self.switched.append(False)
        return len(self.x) - 1

    def xy(self, node: int) -> FloatArray:
        return np.asarray([self.x[node], self.y[node]])

    def section(self, a: int, b: int, line: int) -> None:
        self.sec_a.append(a)
        self.sec_b.append(b)
        self.sec_line.append(line)

    def switch(self, a: int, kind: str, feeder: int, name: str, state: str = "closed") -> int:
        """A switch at node ``a``: returns its load-side node (same place)."""
        b = self.node(self.xy(a))
        self.site[b] = self.site[a]
        self.sw_a.append(a)
        self.sw_b.append(b)
        self.sw_kind.append(kind)
        self.sw_state.append(state)
        self.sw_feeder.append(feeder)
        self.sw_name.append(name)
        self.switched[a] = True
        self.switched[b] = True
        return b

    def add_line(self, line: MVLine, points: FloatArray, numbers_from: int = 1) -> list[int]:
        """Poles at ``points`` (in order), sections between them from ``line.start``."""
        idx = len(self.lines)
        self.lines.append(line)
        prev = line.start
        pts = np.vstack([self.xy(prev)[None, :], points])
        nodes = []
        for k, p in enumerate(points):
            n = self.node(p)
            self.section(prev, n, idx)
            self.pole(n, idx, f"{line.prefix}{numbers_from + k}")
            nodes.append(n)
            prev = n
        line.turn.extend(_turns(pts).tolist())
        return nodes

    def pole(self, node: int, line: int, number: str) -> None:
        self.pole_node.append(node)
        self.pole_line.append(line)
        self.pole_number.append(number)
        self.lines[line].poles.append(node)
        self.lines[line].numbers.append(number)


def _turns(pts: FloatArray) -> FloatArray:
    """The turn at each point after the first (radians); the last point gets +inf."""
    d = np.diff(pts, axis=0)
    ang = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    return np.concatenate([turn, [np.inf]])


def _along(route: FloatArray, s: FloatArray) -> FloatArray:
    seg = np.hypot(*np.diff(route, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = np.clip(s, 0.0, cum[-1])
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    frac = np.where(seg[i] > 0, (s - cum[i]) / np.where(seg[i] > 0, seg[i], 1.0), 0.0)
    out: FloatArray = route[i] + (route[i + 1] - route[i]) * frac[:, None]
    return out


def _simplify(route: FloatArray, tol: float) -> FloatArray:
    """Douglas-Peucker, so that a line follows a road without every kink of it."""
    line = shapely.simplify(shapely.LineString(route), tol)
    return np.asarray(shapely.get_coordinates(line), dtype=np.float64)


def pole_positions(
    rng: np.random.Generator, route: FloatArray, offset: float, first_gap: float = 0.0
) -> FloatArray:
    """Poles every 50 to 80 m along ``route`` (not at its start), ``offset`` metres to its
    left."""
    seg = np.hypot(*np.diff(route, axis=0).T)
    total = float(seg.sum())
    if total < 1.0:
        return np.zeros((0, 2))
    n_max = int(total / 50.0) + 2
    gaps = rng.uniform(50.0, 80.0, n_max)
    if first_gap > 0:
        gaps[0] = first_gap
    s = np.cumsum(gaps)
    s = s[s < total]
    if len(s) and total - s[-1] < 30.0:
        s[-1] = total
    else:
        s = np.concatenate([s, [total]])
    pts = _along(route, s)
    if offset:
        ahead = _along(route, s + 10.0)
        behind = _along(route, s - 10.0)
        d = ahead - behind
        norm = np.hypot(d[:, 0], d[:, 1])
        norm[norm == 0] = 1.0
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / norm[:, None]
        pts = pts + offset * normal
    keep = [0]
    for i in range(1, len(pts)):
        if np.hypot(*(pts[i] - pts[keep[-1]])) >= 25.0:
            keep.append(i)
    if keep[-1] != len(pts) - 1:
        keep[-1] = len(pts) - 1
    kept: FloatArray = pts[keep]
    start = route[0]
    if len(kept) > 1 and np.hypot(*(kept[0] - start)) < 20.0:
        kept = kept[1:]
    return kept


def _straight(rng: np.random.Generator, a: FloatArray, b: FloatArray) -> FloatArray:
    """Poles from ``a`` (exclusive) to ``b`` (inclusive) about 50 to 80 m apart."""
    d = float(np.hypot(*(b - a)))
    n = max(1, round(d / rng.uniform(55.0, 72.0)))
    k = np.arange(1, n + 1, dtype=np.float64)[:, None] / n
    out: FloatArray = a + (b - a) * k
    return out


TRUNK_REACH = 14_000.0  # trunks end within this road distance of their substation


def bus_xy(geo: Geography, substation: int, bus: int) -> FloatArray:
    """Where a substation's 10 kV bus stands (bus 0 west, bus 1 east of the centre)."""
    out: FloatArray = geo.substations[substation].xy + np.asarray([30.0 * bus - 15.0, 0.0])
    return out


def plan_feeders(
    rng: np.random.Generator, geo: Geography, roads: RoadNetwork, clusters: list[Cluster]
) -> list[Feeder]:
    """Decides each feeder's trunk route and the clusters it serves, and names it.

    First the clusters are split among substations (nearest) and among each substation's
    feeders (angular sectors of about equal load); each feeder's trunk follows the roads to
    the farthest of its clusters within :data:`TRUNK_REACH`. Then every cluster goes to the
    trunk nearest to it, so that laterals stay short, and the feeders are named after the
    townships they mostly serve, as the utility would.
    """
    subs = geo.substations
    sub_xy = np.asarray([s.xy for s in subs])
    feeders: list[Feeder] = []
    centre = np.asarray([c.centre for c in clusters])
    d = np.hypot(centre[:, None, 0] - sub_xy[None, :, 0], centre[:, None, 1] - sub_xy[None, :, 1])
    weight = np.asarray([1.0 if s.short == "城关" else 1.08 for s in subs])
    owner = np.argmin(d * weight[None, :], axis=1)
    for s_idx, sub in enumerate(subs):
        members = np.flatnonzero(owner == s_idx)
        if len(members) == 0:
            continue
        rel = centre[members] - sub.xy
        ang = np.arctan2(rel[:, 1], rel[:, 0])
        order = np.argsort(ang, kind="stable")
        sorted_ang = ang[order]
        gaps = np.diff(np.concatenate([sorted_ang, [sorted_ang[0] + 2 * np.pi]]))
        start = (int(np.argmax(gaps)) + 1) % len(order)
        order = np.roll(order, -start)
        load = np.asarray([clusters[int(members[i])].n_tr + 1.0 for i in order])
        cum = np.cumsum(load) / load.sum()
        k = sub.feeders
        group = np.minimum((cum * k - 1e-9).astype(int), k - 1)
        base = len(feeders)
        for rank in range(k):
            feeders.append(Feeder(base + rank, s_idx, rank % 2, rank=rank))
        for i, g in zip(order.tolist(), group.tolist(), strict=True):
            feeders[base + g].clusters.append(int(members[i]))
    feeders = [f for f in feeders if f.clusters]

    # Trunk routes along the roads.
    cluster_node = np.asarray([roads.nearest_node(c.centre) for c in clusters])
    reach: dict[int, dict[int, float]] = {}
    for f in feeders:
        start_xy = bus_xy(geo, f.substation, f.bus)
        a = roads.nearest_node(start_xy)
        if a not in reach:
            reach[a] = nx.single_source_dijkstra_path_length(roads.graph, a, weight="length")
        road = reach[a]
        far = np.asarray([road.get(int(cluster_node[ci]), np.inf) for ci in f.clusters])
        within = np.flatnonzero(far <= TRUNK_REACH)
        pick = within[np.argmax(far[within])] if len(within) else int(np.argmin(far))
        f.target = f.clusters[int(pick)]
        target = clusters[f.target]
        b = int(cluster_node[f.target])
        path = roads.path_coords(a, b) if a != b else roads.node_xy[[a]]
        route = _simplify(np.vstack([start_xy[None, :], path]), 12.0)
        side = 1.0 if f.rank % 2 == 0 else -1.0
        offset = side * (9.0 + 6.0 * (f.rank // 2)) + 1.5 * f.substation
        pts = pole_positions(rng, route, offset, first_gap=float(rng.uniform(60.0, 120.0)))
        if len(pts) < 6:
            # A short route: stretch the trunk toward the target so switches have room.
            pts = np.vstack(
                [
                    pts,
                    _straight(
                        rng,
                        pts[-1] if len(pts) else start_xy,
                        target.centre + np.asarray([30.0, 30.0]),
                    ),
                ]
            )
        f.trunk_pts = pts

    # Every cluster to the nearest trunk (a substation's own feeders preferred).
    lines = np.asarray(
        [
            shapely.LineString(np.vstack([bus_xy(geo, f.substation, f.bus)[None, :], f.trunk_pts]))
            for f in feeders
        ],
        dtype=object,
    )
    pts_geom = shapely.points(centre[:, 0], centre[:, 1])
    dist = shapely.distance(pts_geom[:, None], lines[None, :])
    home = np.zeros(len(clusters), dtype=np.int64)
    for f in feeders:
        home[f.clusters] = f.substation
    other = np.asarray([f.substation for f in feeders])[None, :] != home[:, None]
    dist = dist * np.where(other, 1.25, 1.0)
    best = np.argmin(dist, axis=1)
    targets = {f.target: fi for fi, f in enumerate(feeders)}
    for f in feeders:
        f.clusters = []
    for ci in range(len(clusters)):
        fi = targets.get(ci, int(best[ci]))
        feeders[fi].clusters.append(ci)
    feeders = [f for f in feeders if f.clusters]
    for i, f in enumerate(feeders):
        f.idx = i
        for c in f.clusters:
            clusters[c].feeder = i
    _name_feeders(geo, clusters, feeders)
    return feeders


def _name_feeders(geo: Geography, clusters: list[Cluster], feeders: list[Feeder]) -> None:
    """Names a feeder after the township it mostly serves (10kV谷营线), with Ⅰ to Ⅳ when
    several share a name; a fifth goes by its next township, or in the county seat by a
    street (10kV裕禄Ⅰ线)."""
    bases: dict[str, list[int]] = {}
    extra_urban = ("裕禄", "兰阳", "桐乡", "中州")
    for f in feeders:
        load: dict[str, float] = {}
        for ci in f.clusters:
            c = clusters[ci]
            short = geo.townships[c.township].short
            load[short] = load.get(short, 0.0) + c.n_tr + 0.5
        ranked = sorted(load, key=lambda k: (-load[k], k))
        if ranked[0] == "城关":
            ranked += [e for e in extra_urban if e not in ranked]
        for short in ranked:
            if len(bases.get(short, [])) < len(nm.ROMAN):
                bases.setdefault(short, []).append(f.idx)
                break
        else:
            bases.setdefault(ranked[0] + "新", []).append(f.idx)
    for short, members in bases.items():
        for k, fidx in enumerate(members):
            numeral = nm.ROMAN[k] if len(members) > 1 else ""
            feeders[fidx].name = f"10kV{short}{numeral}线"
    # Dispatch numbers of the feeder breakers: 511, 512, ... on bus Ⅰ; 521, ... on bus Ⅱ.
    per_bus: dict[tuple[int, int], int] = {}
    for f in feeders:
        n = per_bus[(f.substation, f.bus)] = per_bus.get((f.substation, f.bus), 0) + 1
        f.breaker_no = 500 + (f.bus + 1) * 10 + n


def build_network(
    rng: np.random.Generator,
    geo: Geography,
    clusters: list[Cluster],
    lv: LowVoltage,
    feeders: list[Feeder],
) -> tuple[MediumVoltage, list[int]]:
    """Substation buses, the planned trunks, laterals to every cluster, drops to every
    transformer, and normally-open ties. Returns the 10 kV side and the bus nodes
    (substation ``i``'s buses are ``2i`` and ``2i + 1``)."""
    mv = MediumVoltage()
    bus_nodes: list[int] = []
    for s_idx in range(len(geo.substations)):
        for b in (0, 1):
            bus_nodes.append(mv.node(bus_xy(geo, s_idx, b)))
    for f in feeders:
        _build_feeder(rng, geo, clusters, lv, mv, f, bus_nodes)
    _build_ties(rng, mv, feeders)
    return mv, bus_nodes


def _label(name: str) -> str:
    return name.removeprefix("10kV")


def _build_feeder(
    rng: np.random.Generator,
    geo: Geography,
    clusters: list[Cluster],
    lv: LowVoltage,
    mv: MediumVoltage,
    f: Feeder,
    bus_nodes: list[int],
) -> None:
    sub = geo.substations[f.substation]
    bus = bus_nodes[2 * f.substation + f.bus]
    label = _label(f.name)
    out = mv.switch(bus, "breaker", f.idx, f"{label}{f.breaker_no}断路器")
    trunk = MVLine(f.name, f.idx, 0, "", out)
    f.trunk = len(mv.lines)
    _add_trunk(rng, mv, trunk, f.trunk_pts, f, label)

    # Laterals: nearest clusters first, each from the nearest eligible pole; sites (a
    # factory, a farm) last, so that they may hang off their village's lateral.
    members = [clusters[i] for i in f.clusters]
    dist = np.asarray([np.hypot(*(c.centre - sub.xy)) for c in members])
    is_site = np.asarray([c.kind == "site" for c in members])
    used_names: dict[str, int] = {}
    for i in np.lexsort((dist, is_site)).tolist():
        _build_lateral(rng, clusters, lv, mv, f, members[i], used_names)


def _add_trunk(
    rng: np.random.Generator,
    mv: MediumVoltage,
    trunk: MVLine,
    pts: FloatArray,
    f: Feeder,
    label: str,
) -> list[int]:
    """The trunk's poles and sections, with reclosers, sectionalizers and load-break switches
    at poles along it (a switch stands at a pole, between the sections either side)."""
    n = len(pts)
    length = float(np.hypot(*np.diff(pts, axis=0).T).sum())
    plan: list[tuple[float, str]] = [(0.45, "recloser")]
    if length > 7000.0:
        plan.append((0.72, "recloser"))
    plan.append((0.25, "sectionalizer" if rng.random() < 0.5 else "load_break_switch"))
    if length > 4000.0:
        plan.append((0.6 if len(plan) < 4 else 0.88, "load_break_switch"))
    if rng.random() < 0.35:
        plan.append((0.92, "disconnector"))
    switch_at: dict[int, str] = {}
    for frac, planned in plan:
        k = min(n - 2, max(2, round(frac * (n - 1))))
        while k in switch_at and k < n - 2:
            k += 1
        if 2 <= k <= n - 2 and k not in switch_at:
            switch_at[k] = planned
    idx = len(mv.lines)
    mv.lines.append(trunk)
    prev = trunk.start
    nodes = []
    pts_all = np.vstack([mv.xy(trunk.start)[None, :], pts])
    for k, p in enumerate(pts):
        node = mv.node(p)
        mv.section(prev, node, idx)
        mv.pole(node, idx, str(k + 1))
        nodes.append(node)
        prev = node
        kind = switch_at.get(k)
        if kind is not None:
            word = {
                "recloser": "重合器",
                "sectionalizer": "分段器",
                "load_break_switch": "负荷开关",
                "disconnector": "隔离开关",
            }[kind]
            prev = mv.switch(node, kind, f.idx, f"{label}{k + 1}号杆{word}")
    trunk.turn.extend(_turns(pts_all).tolist())
    return nodes


def _candidates(
    mv: MediumVoltage, f: Feeder, max_depth: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Poles of the feeder where a new lateral may be tapped: not the first or last of their
    line, on a straight run, with no switch, tap or transformer drop yet."""
    nodes: list[int] = []
    lines: list[int] = []
    penalty: list[float] = []
    for li, line in enumerate(mv.lines):
        if line.feeder != f.idx or line.depth > max_depth:
            continue
        for k in range(1, len(line.poles) - 1):
            node = line.poles[k]
            if line.turn[k] > MAX_TAP_TURN:
                continue
            if mv.tap[node] or mv.drop[node] or mv.switched[node]:
                continue
            nodes.append(node)
            lines.append(li)
            penalty.append(1.0 if line.depth == 0 else 1.35)
    return (
        np.asarray(nodes, dtype=np.int64),
        np.asarray(lines, dtype=np.int64),
        np.asarray(penalty),
    )


def _build_lateral(
    rng: np.random.Generator,
    clusters: list[Cluster],
    lv: LowVoltage,
    mv: MediumVoltage,
    f: Feeder,
    c: Cluster,
    used_names: dict[str, int],
) -> None:
    ends = c.world(np.asarray([c.run_lo, c.run_hi]), np.asarray([MV_RUN_T, MV_RUN_T]))
    nodes, lines, penalty = _candidates(mv, f, 2 if c.kind == "site" else 1)
    if len(nodes) == 0:
        trunk = mv.lines[f.trunk]
        nodes = np.asarray(trunk.poles[1:-1] or trunk.poles, dtype=np.int64)
        lines = np.full(len(nodes), f.trunk, dtype=np.int64)
        penalty = np.ones(len(nodes))
    pxy = np.column_stack([np.asarray(mv.x)[nodes], np.asarray(mv.y)[nodes]])
    d0 = np.hypot(*(pxy - ends[0]).T)
    d1 = np.hypot(*(pxy - ends[1]).T)
    score = np.minimum(d0, d1) * penalty
    best = int(np.argmin(score))
    tap = int(nodes[best])
    parent = mv.lines[int(lines[best])]
    entry_first = d0[best] <= d1[best]
    entry = ends[0] if entry_first else ends[1]
    run_s = _run_positions(c, entry_first)
    run_pts = c.world(run_s, np.full(len(run_s), MV_RUN_T))

    # Leave the parent line square to it, then head for the cluster.
    k = parent.poles.index(tap)
    before = mv.xy(parent.poles[k - 1]) if k > 0 else mv.xy(parent.start)
    after = mv.xy(parent.poles[k + 1])
    direction = after - before
    direction /= max(1e-9, float(np.hypot(*direction)))
    normal = np.asarray([-direction[1], direction[0]])
    tap_xy = mv.xy(tap)
    to_entry = entry - tap_xy
    if float(np.dot(to_entry, normal)) < 0:
        normal = -normal
    dist = float(np.hypot(*to_entry))
    cos = abs(float(np.dot(to_entry, direction))) / max(dist, 1e-9)
    if cos < 0.5 and dist > 30.0:
        approach = _straight(rng, tap_xy, entry)
    else:
        first = tap_xy + normal * float(rng.uniform(45.0, 65.0))
        if float(np.hypot(*(entry - first))) < 25.0:
            approach = np.vstack([first, entry + normal * 25.0, entry])
        else:
            approach = np.vstack([first[None, :], _straight(rng, first, entry)])
    points = np.vstack([approach, run_pts])

    # Name it after the place it serves: 10kV城关Ⅰ线张庄支线, or 分支线 for a sub-lateral.
    depth = parent.depth + 1
    word = "支线" if depth == 1 else "分支线"
    base = f"{f.name}{c.label}"
    count = used_names.get(base + word, 0) + 1
    used_names[base + word] = count
    name = f"{base}{nm.CHINESE_ORDINALS[min(count, 6) - 1] if count > 1 else ''}{word}"
    tap_number = parent.number_of(tap)
    fuse_out = mv.switch(tap, "fuse", f.idx, f"{_label(name)}熔断器")
    mv.tap[tap] = True
    line = MVLine(name, f.idx, depth, f"{tap_number}-", fuse_out, cluster=c.idx)
    poles = mv.add_line(line, points)
    line_idx = len(mv.lines) - 1

    # Transformer drops from the nearest pole of the run along the spine.
    run_nodes = poles[len(approach) - 1 :]  # the entry pole and the run along the spine
    run_node_s = np.concatenate([[c.run_lo if entry_first else c.run_hi], run_s])
    for t in c.transformers:
        txy = lv.tr_xy[t]
        s_t = float(np.dot(txy - c.origin, c.u))
        j = int(np.argmin(np.abs(run_node_s - s_t)))
        pole = run_nodes[j]
        hv = mv.node(txy)
        mv.section(pole, hv, line_idx)
        mv.drop[pole] = True
        mv.tr_hv[t] = hv


def _run_positions(c: Cluster, entry_first: bool) -> FloatArray:
    """Poles along the spine after the entry pole, ending at the far end of the run."""
    span = c.run_hi - c.run_lo
    n = max(1, round(span / 55.0))
    steps = np.arange(1, n + 1, dtype=np.float64) * (span / n)
    out: FloatArray = c.run_lo + steps if entry_first else c.run_hi - steps
    return out


def _build_ties(rng: np.random.Generator, mv: MediumVoltage, feeders: list[Feeder]) -> None:
    """Normally-open ties between the ends of neighbouring feeders: the line ends nearest each
    other, at most two ties per feeder, one per pair of feeders."""
    ends: list[tuple[int, int]] = []  # (line, feeder)
    for li, line in enumerate(mv.lines):
        if line.poles:
            ends.append((li, line.feeder))
    xy = np.asarray([mv.xy(mv.lines[li].poles[-1]) for li, _ in ends])
    feeder_of = np.asarray([f for _, f in ends])
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    same = feeder_of[:, None] == feeder_of[None, :]
    d[same] = np.inf
    iu = np.triu_indices(len(ends), 1)
    pair_d = d[iu]
    order = np.argsort(pair_d, kind="stable")
    ties_of = [0] * len(feeders)
    paired: set[tuple[int, int]] = set()
    used_end: set[int] = set()
    chosen: list[tuple[int, int]] = []
    target = 12
    for limit in (4500.0, 9000.0):
        for k in order.tolist():
            if len(chosen) >= target or pair_d[k] > limit:
                break
            i, j = int(iu[0][k]), int(iu[1][k])
            fa, fb = int(feeder_of[i]), int(feeder_of[j])
            key = (min(fa, fb), max(fa, fb))
            if key in paired or i in used_end or j in used_end:
                continue
            if ties_of[fa] >= 2 or ties_of[fb] >= 2 or pair_d[k] < 150.0:
                continue
            paired.add(key)
            used_end.update((i, j))
            ties_of[fa] += 1
            ties_of[fb] += 1
            chosen.append((i, j))
        if len(chosen) >= 8:
            break
    for i, j in chosen:
        _tie(rng, mv, feeders, ends[i][0], ends[j][0])


def _tie(
    rng: np.random.Generator, mv: MediumVoltage, feeders: list[Feeder], la: int, lb: int
) -> None:
    line_a, line_b = mv.lines[la], mv.lines[lb]
    a_end, b_end = line_a.poles[-1], line_b.poles[-1]
    pts = _straight(rng, mv.xy(a_end), mv.xy(b_end))
    if len(pts) < 3:
        pts = np.vstack(
            [mv.xy(a_end) + (mv.xy(b_end) - mv.xy(a_end)) * k for k in (0.33, 0.66, 1.0)]
        )
    interior = pts[:-1]
    h = len(interior) // 2  # the tie switch stands at interior[h]
    a_half = interior[: h + 1]
    b_half = interior[h + 1 :][::-1]
    _extend(mv, la, a_half)
    sw_pole = line_a.poles[-1]
    name = f"{_label(feeders[line_a.feeder].name)}-{_label(feeders[line_b.feeder].name)}联络开关"
    b_side = mv.switch(sw_pole, "load_break_switch", line_a.feeder, name, state="open")
    # The other feeder's half runs from its end to the switch, its last section ending on the
    # switch's far side.
    _extend(mv, lb, b_half)
    mv.section(line_b.poles[-1], b_side, lb)


def _extend(mv: MediumVoltage, li: int, points: FloatArray) -> None:
    """More poles at the end of a line, numbered on from its last pole."""
    line = mv.lines[li]
    if len(points) == 0:
        return
    prev = line.poles[-1]
    base = int(line.numbers[-1].rsplit("-", 1)[-1])
    for k, p in enumerate(points):
        n = mv.node(p)
        mv.section(prev, n, li)
        mv.pole(n, li, f"{line.prefix}{base + k + 1}")
        line.turn.append(np.inf)
        prev = n


def separate(
    rng: np.random.Generator,
    mv: MediumVoltage,
    lv: LowVoltage,
    lv_x: FloatArray,
    lv_y: FloatArray,
    h_x: FloatArray,
    h_y: FloatArray,
    h_at: npt.NDArray[np.bool_],
    h_node: IntArray,
    fixed_mv: list[int],
    min_dist: float = 3.0,
) -> None:
    """Nudges apart points that would snap together by accident (closer than ``min_dist``):
    10 kV junctions of different places, 400 V junctions, and meters near a 400 V junction.
    Geometry-only imports then see exactly the topology of the node columns."""
    mx = np.asarray(mv.x)
    my = np.asarray(mv.y)
    hv_to_root = {hv: lv.tr_root[t] for t, hv in mv.tr_hv.items()}
    fixed = set(fixed_mv)
    _, first, inverse = np.unique(
        np.asarray(mv.site, dtype=np.int64), return_index=True, return_inverse=True
    )
    members: dict[int, list[int]] = {}
    for node, site in enumerate(inverse.reshape(-1).tolist()):
        members.setdefault(site, []).append(node)
    for _ in range(30):
        sites = np.column_stack([mx[first], my[first]])
        pairs = cKDTree(sites).query_pairs(min_dist, output_type="ndarray")
        if len(pairs) == 0:
            break
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        moved: set[int] = set()
        for i, j in pairs.tolist():
            if i in moved or j in moved:
                continue
            site = j if not any(n in fixed for n in members[j]) else i
            ang = rng.uniform(0, 2 * math.pi)
            delta = (min_dist + 1.5) * np.asarray([math.cos(ang), math.sin(ang)])
            for n in members[site]:
                mx[n] += delta[0]
                my[n] += delta[1]
                root = hv_to_root.get(n)
                if root is not None:
                    lv_x[root] += delta[0]
                    lv_y[root] += delta[1]
            moved.add(site)
    mv.x = mx.tolist()
    mv.y = my.tolist()

    roots = set(lv.tr_root)
    for _ in range(30):
        xy = np.column_stack([lv_x, lv_y])
        pairs = cKDTree(xy).query_pairs(min_dist, output_type="ndarray")
        if len(pairs) == 0:
            break
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        moved_lv: set[int] = set()
        for i, j in pairs.tolist():
            if i in moved_lv or j in moved_lv:
                continue
            node = j if j not in roots else i
            ang = rng.uniform(0, 2 * math.pi)
            lv_x[node] += (min_dist + 1.5) * math.cos(ang)
            lv_y[node] += (min_dist + 1.5) * math.sin(ang)
            moved_lv.add(node)
    # Meters at a line end follow their node; the others keep clear of every junction.
    h_x[h_at] = lv_x[h_node[h_at]]
    h_y[h_at] = lv_y[h_node[h_at]]
    tree = cKDTree(np.column_stack([lv_x, lv_y]))
    for _ in range(10):
        free = np.flatnonzero(~h_at)
        dist, near = tree.query(np.column_stack([h_x[free], h_y[free]]))
        bad = dist < min_dist
        if not bad.any():
            break
        idx = free[bad]
        nx_, ny_ = lv_x[near[bad]], lv_y[near[bad]]
        dx, dy = h_x[idx] - nx_, h_y[idx] - ny_
        norm = np.hypot(dx, dy)
        angles = rng.uniform(0, 2 * math.pi, len(idx))
        dx = np.where(norm > 1e-6, dx / np.where(norm > 1e-6, norm, 1.0), np.cos(angles))
        dy = np.where(norm > 1e-6, dy / np.where(norm > 1e-6, norm, 1.0), np.sin(angles))
        h_x[idx] = nx_ + dx * (min_dist + 1.5)
        h_y[idx] = ny_ + dy * (min_dist + 1.5)
