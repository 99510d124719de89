"""Where people live: settlements (clusters), their 400 V networks, and the landmarks that
are also customers.

A *cluster* is a settlement served by one 10 kV lateral: a village (or one part of a big
village), one block side of a county-seat street, or a *site* (a factory, farm or public
building with its own transformer, 专变). A cluster is laid out along a *spine* (its main
street): lanes cross the spine, houses line the lanes, and each transformer (台区) feeds a
few lanes through a 400 V main along the spine and branches along the lanes.

Cluster-local coordinates are ``(s, t)``: ``s`` along the spine from its origin, ``t`` to its
left; the 10 kV run follows the spine at ``t = 9 m`` (:data:`MV_RUN_T`), transformers stand
at ``t = 20 m``, the 400 V main at ``t = -5 m``. Everything is in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely

from layers.demo import names as nm
from layers.demo.geography import (
    URBAN_EW_Y,
    URBAN_NS_X,
    Geography,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MV_RUN_T = 9.0  # the 10 kV run along a spine, metres left of the street centre
TR_T = 20.0  # transformers stand here
LV_MAIN_T = -5.0  # the 400 V main runs on the other side of the street
LV_POLE_SPACING = 38.0
KVA_RATINGS = (50, 100, 160, 200, 250, 315, 400, 500, 630)


@dataclass(frozen=True)
class Params:
    """Sizes that follow ``scale``: more transformers, more customers per transformer, and
    denser streets so that villages stay a plausible size."""

    scale: float
    n_customers: int
    per_transformer: float
    frontage: float
    lane_spacing: float
    houses_per_lane: float
    cluster_cap: int
    urban_share: float = 0.28

    @classmethod
    def for_scale(cls, scale: float) -> Params:
        if not scale > 0:
            raise ValueError(f"scale must be positive, not {scale!r}")
        spacing = float(np.clip(55.0 / scale**0.15, 30.0, 70.0))
        hpl = float(np.clip(36.0 * scale**0.3, 6.0, 120.0))
        lanes_max = int(1140.0 / spacing) + 1
        return cls(
            scale=scale,
            n_customers=max(200, round(60_000 * scale)),
            per_transformer=max(3.0, 40.0 * math.sqrt(scale)),
            frontage=float(np.clip(16.0 / scale**0.25, 7.0, 20.0)),
            lane_spacing=spacing,
            houses_per_lane=hpl,
            cluster_cap=max(60, int(lanes_max * hpl)),
        )


@dataclass
class Facility:
    """A landmark that is also a customer: a school, clinic, factory, farm, office."""

    name: str
    aliases: tuple[str, ...]
    kind: str  # the place kind (school, clinic, brick_factory, ...)
    category: str  # service point category
    village: int
    dedicated: bool  # has its own transformer (专变)
    kva: int = 0
    service_point: int = -1  # filled when the customers are made


@dataclass
class Cluster:
    idx: int
    kind: str  # village | street | site
    village: int
    township: int
    origin: FloatArray
    u: FloatArray
    length: float
    households: int
    street: str = ""
    street_pos: float = 0.0
    lane_offset: int = 0
    facility: Facility | None = None
    label: str = ""  # what a lateral to it is called after (张庄, 人民路, 张庄砖厂)
    # filled by the layout
    n_tr: int = 0
    run_lo: float = 0.0
    run_hi: float = 0.0
    transformers: list[int] = field(default_factory=list)
    feeder: int = -1

    @property
    def v(self) -> FloatArray:
        return np.asarray([-self.u[1], self.u[0]])

    def world(self, s: npt.ArrayLike, t: npt.ArrayLike) -> FloatArray:
        s_a = np.asarray(s, dtype=np.float64)[..., None]
        t_a = np.asarray(t, dtype=np.float64)[..., None]
        out: FloatArray = self.origin + s_a * self.u + t_a * self.v
        return out

    @property
    def centre(self) -> FloatArray:
        return self.world(self.length / 2, 0.0)


def _allocate(total: int, weights: FloatArray, minimum: int = 0) -> IntArray:
    """Splits ``total`` in proportion to ``weights`` (largest remainders), each at least
    ``minimum``."""
    w = np.asarray(weights, dtype=np.float64)
    base = np.full(len(w), minimum, dtype=np.int64)
    rest = max(0, total - int(base.sum()))
    if w.sum() <= 0 or rest == 0:
        return base
    share = w / w.sum() * rest
    out = np.floor(share).astype(np.int64)
    remainder = rest - int(out.sum())
    order = np.argsort(-(share - out), kind="stable")
    out[order[:remainder]] += 1
    result: IntArray = base + out
    return result


# Landmarks at every township seat: (name, aliases, place kind, customer category).
TOWN_FACILITIES = (
    ("{name}中心小学", ("{short}小学", "{short}中心校"), "school", "important"),
    ("{name}卫生院", ("{short}卫生院", "{short}医院"), "clinic", "important"),
    ("{name}人民政府", ("{short}{level}政府", "{short}政府"), "government", "important"),
    ("中石化{short}加油站", ("{short}加油站",), "gas_station", "commercial"),
    ("{short}百货超市", ("{short}超市",), "supermarket", "commercial"),
)
# Sites with their own transformer near a village: (kind, how many, name, aliases, category,
# ratings to choose from).
SITE_FACILITIES = (
    ("brick_factory", 6, "{bare}砖厂", ("{bare}窑厂",), "industrial", (200, 250, 315)),
    ("farm", 6, "{bare}养殖场", ("{bare}猪场",), "industrial", (100, 160, 200)),
    ("farm", 4, "{bare}养鸡场", ("{bare}鸡场",), "industrial", (100, 160)),
    (
        "factory",
        6,
        "兰考县{firm}木业有限公司",
        ("{bare}板材厂", "{firm}木业"),
        "industrial",
        (315, 400, 500, 630),
    ),
    (
        "factory",
        4,
        "兰考县{firm}乐器有限公司",
        ("{bare}乐器厂", "{firm}乐器"),
        "industrial",
        (200, 315, 400),
    ),
    ("water_works", 3, "{town}自来水厂", ("{short}水厂",), "important", (200, 315)),
)
# The county seat's public buildings, each with its own transformer.
URBAN_FACILITIES = (
    ("兰考县人民医院", ("县医院", "人民医院"), "hospital", "important", 630),
    ("兰考县中医院", ("中医院",), "hospital", "important", 400),
    ("兰考县第一高级中学", ("兰考一高", "一高"), "school", "important", 400),
    ("兰考县人民政府", ("县政府",), "government", "important", 500),
    ("兰考县自来水公司", ("县水厂", "自来水公司"), "water_works", "important", 630),
    ("焦裕禄纪念园", ("焦陵", "焦裕禄陵园"), "memorial", "important", 200),
    ("兰考站", ("火车站", "兰考火车站"), "station", "important", 630),
    ("兰考县汽车站", ("汽车站", "长途汽车站"), "station", "commercial", 200),
    ("城关镇人民政府", ("城关镇政府",), "government", "important", 200),
    ("兰考县城关镇第一小学", ("城关一小", "一小"), "school", "important", 200),
)


def make_facilities(rng: np.random.Generator, geo: Geography) -> list[Facility]:
    """The county's landmarks that are customers: town offices, schools, clinics, petrol
    stations, village committees, and sites with their own transformer."""
    out: list[Facility] = []
    plain = [v for v in geo.villages if not v.seat and not v.community]
    for v in (v for v in geo.villages if v.seat):
        t = geo.townships[v.township]
        words = {"name": t.name, "short": t.short, "level": t.name[-1]}
        for name, aliases, kind, category in TOWN_FACILITIES:
            out.append(
                Facility(
                    name.format(**words),
                    tuple(a.format(**words) for a in aliases),
                    kind,
                    category,
                    v.idx,
                    dedicated=False,
                )
            )
    picks = [plain[i] for i in rng.permutation(len(plain)).tolist()]
    for v in picks[:25]:
        out.append(
            Facility(
                f"{v.name.full}村委会",
                (f"{v.name.bare}村部", f"{v.name.bare}大队"),
                "village_committee",
                "commercial",
                v.idx,
                dedicated=False,
            )
        )
    for v in picks[25:35]:
        out.append(
            Facility(
                f"{v.name.full}小学",
                (f"{v.name.bare}小学",),
                "school",
                "important",
                v.idx,
                dedicated=False,
            )
        )
    hosts = iter([plain[i] for i in rng.permutation(len(plain)).tolist()] * 2)
    for kind, count, name, aliases, category, ratings in SITE_FACILITIES:
        for _ in range(count):
            v = next(hosts)
            t = geo.townships[v.township]
            words = {
                "bare": v.name.bare,
                "town": t.name,
                "short": t.short,
                "firm": nm.FIRM_WORDS[int(rng.integers(len(nm.FIRM_WORDS)))],
            }
            fac = Facility(
                name.format(**words),
                tuple(a.format(**words) for a in aliases),
                kind,
                category,
                v.idx,
                dedicated=True,
                kva=int(rng.choice(ratings)),
            )
            if any(f.name == fac.name for f in out):
                fac.name = f"{t.short}{fac.name}"
            out.append(fac)
    communities = [v for v in geo.villages if v.community]
    for i, (name, aliases_u, kind, category, kva) in enumerate(URBAN_FACILITIES):
        out.append(
            Facility(
                name, aliases_u, kind, category, communities[i % 4].idx, dedicated=True, kva=kva
            )
        )
    return out


def _village_parts(params: Params, households: int, n_tr_total: int) -> list[tuple[int, int]]:
    """Splits a big village into parts of at most ``cluster_cap`` households, each with its
    share of the transformers."""
    parts = max(1, math.ceil(households / params.cluster_cap))
    hh = _allocate(households, np.ones(parts))
    trs = _allocate(n_tr_total, hh.astype(np.float64), minimum=1 if n_tr_total >= parts else 0)
    return [(int(h), max(1, int(t))) for h, t in zip(hh, trs, strict=True)]


def make_clusters(
    rng: np.random.Generator, geo: Geography, params: Params, facilities: list[Facility]
) -> tuple[list[Cluster], list[tuple[int, FloatArray]]]:
    """All clusters, and each village's main streets (for the road network)."""
    clusters: list[Cluster] = []
    streets: list[tuple[int, FloatArray]] = []
    n_sites = sum(1 for f in facilities if f.dedicated)
    households = params.n_customers - n_sites
    urban_hh = round(households * params.urban_share)
    rural_hh = households - urban_hh

    villages = [v for v in geo.villages if not v.community]
    v_hh = _allocate(rural_hh, np.asarray([v.weight for v in villages]), minimum=4)
    sp = params.lane_spacing
    for v, hh in zip(villages, v_hh.tolist(), strict=True):
        n_tr = max(1, round(hh / params.per_transformer))
        parts = _village_parts(params, hh, n_tr)
        u = np.asarray([math.cos(v.angle), math.sin(v.angle)])
        normal = np.asarray([-u[1], u[0]])
        lane_offset = 0
        width = 0.0
        layouts = []
        for h, t in parts:
            n_lanes = max(t, round(h / params.houses_per_lane), 1)
            half = 15.0 + params.frontage * math.ceil(math.ceil(h / n_lanes) / 4) + 8.0
            width = max(width, 2 * half + 40.0)
            length = 2 * max(30.0, sp / 2 + 12.0) + (n_lanes - 1) * sp
            layouts.append((h, t, n_lanes, length))
        for p, (h, t, n_lanes, length) in enumerate(layouts):
            k = (p + 1) // 2
            off = width * k * (1 if p % 2 else -1) if p else 0.0
            mid = v.centre + off * normal
            origin = mid - (length / 2) * u
            c = Cluster(
                len(clusters),
                "village",
                v.idx,
                v.township,
                origin,
                u,
                length,
                h,
                lane_offset=lane_offset,
                label=v.name.bare,
            )
            c.n_tr = t
            lane_offset += n_lanes
            clusters.append(c)
            end = origin + length * u
            streets.append((v.idx, np.vstack([origin, mid, end])))
            if p:
                streets.append((v.idx, np.vstack([v.centre, mid])))

    # The county seat: every block side of an east-west street is a cluster.
    communities = {v.name.full: v for v in geo.villages if v.community}
    segs = []
    for k, y in enumerate(URBAN_EW_Y):
        for i in range(len(URBAN_NS_X) - 1):
            x0, x1 = URBAN_NS_X[i], URBAN_NS_X[i + 1]
            cx, cy = (x0 + x1) / 2, y
            centrality = math.exp(-math.hypot(cx, cy) / 2500.0)
            segs.append((k, i, x0, x1, y, centrality * float(rng.lognormal(0.0, 0.3))))
    s_hh = _allocate(urban_hh, np.asarray([s[5] for s in segs]))
    for (k, _i, x0, x1, y, _w), hh in zip(segs, s_hh.tolist(), strict=True):
        if hh <= 0:
            continue
        cx = (x0 + x1) / 2
        if y > 0 and abs(cx) <= abs(y) * 1.2857:
            community = "北关社区"
        elif y < 0 and abs(cx) <= abs(y) * 1.2857:
            community = "南关社区"
        else:
            community = "东关社区" if cx > 0 else "西关社区"
        v = communities[community]
        c = Cluster(
            len(clusters),
            "street",
            v.idx,
            0,
            np.asarray([x0, y]),
            np.asarray([1.0, 0.0]),
            x1 - x0,
            hh,
            street=nm.URBAN_EW_STREETS[k],
            street_pos=x0 - URBAN_NS_X[0],
            label=nm.URBAN_EW_STREETS[k],
        )
        c.n_tr = max(1, round(hh / (params.per_transformer * 1.1)))
        clusters.append(c)

    # Sites: each facility with its own transformer, a little outside its village (or in a
    # block of the county seat).
    placed: list[FloatArray] = []
    centres = np.asarray([v.centre for v in villages])
    subs = np.asarray([s.xy for s in geo.substations])
    inner = geo.outline.buffer(-400.0)
    blocks = [
        (URBAN_NS_X[i] + 250.0, URBAN_EW_Y[k] - 250.0)
        for i in range(len(URBAN_NS_X) - 1)
        for k in range(len(URBAN_EW_Y) - 1)
    ]
    block_order = rng.permutation(len(blocks)).tolist()
    for fac in facilities:
        if not fac.dedicated:
            continue
        v = geo.villages[fac.village]
        if v.community:
            bx, by = blocks[block_order.pop()]
            pos = np.asarray([bx, by])
        else:
            pos = v.centre
            for attempt in range(60):
                ang = rng.uniform(0, 2 * math.pi)
                dist = 750.0 + 15.0 * attempt
                cand = v.centre + dist * np.asarray([math.cos(ang), math.sin(ang)])
                if not inner.contains(shapely.Point(cand)):
                    continue
                if np.min(np.hypot(*(centres - cand).T)) < 600.0:
                    continue
                if np.min(np.hypot(*(subs - cand).T)) < 500.0:
                    continue
                if placed and np.min(np.hypot(*(np.asarray(placed) - cand).T)) < 300.0:
                    continue
                pos = cand
                break
        placed.append(pos)
        ang = rng.uniform(0, 2 * math.pi)
        u = np.asarray([math.cos(ang), math.sin(ang)])
        length = 60.0
        origin = pos - (length / 2) * u - TR_T * np.asarray([-u[1], u[0]])
        short = fac.aliases[0] if fac.kind in ("factory", "hospital", "government") else fac.name
        c = Cluster(
            len(clusters),
            "site",
            fac.village,
            v.township,
            origin,
            u,
            length,
            1,
            facility=fac,
            label=short,
        )
        c.n_tr = 1
        clusters.append(c)
    return clusters, streets


# -- 400 V and customers ---------------------------------------------------------------------


@dataclass
class LowVoltage:
    """The 400 V side: nodes, lines, transformers and houses, built cluster by cluster."""

    x: list[FloatArray] = field(default_factory=list)
    y: list[FloatArray] = field(default_factory=list)
    n_nodes: int = 0
    line_a: list[IntArray] = field(default_factory=list)
    line_b: list[IntArray] = field(default_factory=list)
    line_tr: list[IntArray] = field(default_factory=list)
    # transformers
    tr_xy: list[FloatArray] = field(default_factory=list)
    tr_root: list[int] = field(default_factory=list)
    tr_cluster: list[int] = field(default_factory=list)
    tr_households: list[int] = field(default_factory=list)
    tr_number: list[int] = field(default_factory=list)  # 1号台区, 2号台区 within the village
    # houses
    h_x: list[FloatArray] = field(default_factory=list)
    h_y: list[FloatArray] = field(default_factory=list)
    h_node: list[IntArray] = field(default_factory=list)
    h_tr: list[IntArray] = field(default_factory=list)
    h_cluster: list[IntArray] = field(default_factory=list)
    h_lane: list[IntArray] = field(default_factory=list)  # village-wide lane number
    h_side: list[IntArray] = field(default_factory=list)  # -1 / +1 across the street
    h_along: list[FloatArray] = field(default_factory=list)  # s, for street numbering
    h_depth: list[FloatArray] = field(default_factory=list)  # |t|
    h_rank: list[IntArray] = field(default_factory=list)  # 0 for the house on the street
    h_at_node: list[npt.NDArray[np.bool_]] = field(default_factory=list)

    def add_nodes(self, xy: FloatArray) -> IntArray:
        start = self.n_nodes
        self.x.append(xy[:, 0].copy())
        self.y.append(xy[:, 1].copy())
        self.n_nodes += len(xy)
        return np.arange(start, self.n_nodes, dtype=np.int64)


def _branch(t_start: float, t_end: float) -> FloatArray:
    """Pole positions along a lane from the main (exclusive) to beyond the last house."""
    span = abs(t_end - t_start)
    k = max(1, math.ceil(span / LV_POLE_SPACING))
    steps = np.arange(1, k + 1, dtype=np.float64) * (span / k)
    out: FloatArray = t_start + np.sign(t_end - t_start) * steps
    return out


def layout_cluster(
    rng: np.random.Generator,
    c: Cluster,
    params: Params,
    lv: LowVoltage,
    village_tr_count: dict[int, int],
) -> None:
    """Lays out a cluster's lanes, transformers, 400 V lines and houses into ``lv``.

    Lanes hold uneven numbers of houses and houses stand a little out of line, as in a real
    village; the structure (a main along the street, branches along the lanes) stays radial.
    """
    if c.kind == "site":
        _layout_site(c, lv)
        return
    sp = params.lane_spacing
    n_lanes = max(c.n_tr, round(c.households / params.houses_per_lane), 1)
    if c.kind == "street":
        margin = 60.0
        usable = c.length - 2 * margin
        n_lanes = max(n_lanes, math.ceil(c.households / (4 * 190.0 / params.frontage)))
        sp = usable / max(1, n_lanes - 1) if n_lanes > 1 else usable
        lane_s = margin + np.arange(n_lanes) * sp if n_lanes > 1 else np.asarray([c.length / 2])
        sp = min(sp, params.lane_spacing) if n_lanes > 1 else params.lane_spacing
        c.run_lo = max(0.0, float(lane_s[0]) - 20.0)
        c.run_hi = min(c.length, float(lane_s[-1]) + sp / 2 + 20.0)
    else:
        margin = max(30.0, sp / 2 + 12.0)
        lane_s = margin + np.arange(n_lanes) * sp
        c.run_lo, c.run_hi = 0.0, c.length
    house_off = min(9.0, 0.35 * sp)
    lane_s = lane_s + rng.uniform(-0.1, 0.1, len(lane_s)) * sp
    per_lane = _allocate(c.households, rng.uniform(0.6, 1.4, n_lanes))
    groups = np.array_split(np.arange(n_lanes), c.n_tr)
    f = params.frontage
    quad_side = np.asarray([-1, 1, -1, 1])
    quad_dir = np.asarray([-1, -1, 1, 1])
    for lanes in groups:
        if len(lanes) == 0:
            continue
        mid = int(lanes[(len(lanes) - 1) // 2])
        s_tr = float(lane_s[mid]) + sp / 2
        tr_xy = c.world(s_tr, TR_T)
        tr_idx = len(lv.tr_root)
        local: list[tuple[float, float]] = [(s_tr, TR_T), (s_tr, LV_MAIN_T)]
        a_list: list[int] = [0]
        b_list: list[int] = [1]
        hx: list[FloatArray] = []
        h_node_local: list[IntArray] = []
        h_lane: list[IntArray] = []
        h_side: list[IntArray] = []
        h_along: list[FloatArray] = []
        h_depth: list[FloatArray] = []
        h_rank: list[IntArray] = []
        # 400 V main: from the transformer's pole across the street, then along it.
        junction: dict[int, int] = {}
        for direction in (-1, 1):
            prev = 1
            side_lanes = [j for j in lanes.tolist() if (lane_s[j] - s_tr) * direction > 0]
            side_lanes.sort(key=lambda j: abs(lane_s[j] - s_tr))
            for j in side_lanes:
                local.append((float(lane_s[j]), LV_MAIN_T))
                node = len(local) - 1
                a_list.append(prev)
                b_list.append(node)
                junction[j] = node
                prev = node
        households = 0
        for j in lanes.tolist():
            n = int(per_lane[j])
            households += n
            if n == 0:
                continue
            k = np.arange(n)
            q = k % 4
            depth = (15.0 + f * ((k // 4) + 0.5)).astype(np.float64)
            side = quad_side[q]
            dirn = quad_dir[q]
            hs = lane_s[j] + side * house_off + rng.uniform(-1.5, 1.5, n)
            ht = dirn * (depth + rng.uniform(-2.0, 2.0, n))
            node_of = np.zeros(n, dtype=np.int64)
            for d in (-1, 1):
                sel = dirn == d
                if not sel.any():
                    continue
                t_end = float(d * (np.abs(ht[sel]).max() + 4.0))
                ts = _branch(LV_MAIN_T, t_end)
                prev = junction[j]
                first = len(local)
                for tval in ts.tolist():
                    local.append((float(lane_s[j]), tval))
                    a_list.append(prev)
                    b_list.append(len(local) - 1)
                    prev = len(local) - 1
                cand_t = np.concatenate([[LV_MAIN_T], ts])
                cand_n = np.concatenate([[junction[j]], np.arange(first, len(local))])
                nearest = np.argmin(np.abs(ht[sel][:, None] - cand_t[None, :]), axis=1)
                node_of[sel] = cand_n[nearest]
            hx.append(np.column_stack([hs, ht]))
            h_node_local.append(node_of)
            h_lane.append(np.full(n, c.lane_offset + j, dtype=np.int64))
            h_side.append(dirn.astype(np.int64))  # across the street: odd or even
            h_along.append((c.street_pos + hs).astype(np.float64))
            h_depth.append(depth)
            h_rank.append((k // 4).astype(np.int64))
        st = np.asarray(local)
        world = c.world(st[:, 0], st[:, 1])
        world[0] = tr_xy
        ids = lv.add_nodes(world)
        lv.line_a.append(ids[np.asarray(a_list, dtype=np.int64)])
        lv.line_b.append(ids[np.asarray(b_list, dtype=np.int64)])
        lv.line_tr.append(np.full(len(a_list), tr_idx, dtype=np.int64))
        lv.tr_xy.append(tr_xy)
        lv.tr_root.append(int(ids[0]))
        lv.tr_cluster.append(c.idx)
        lv.tr_households.append(households)
        key = c.village if c.kind == "village" else -1 - _street_key(c.street)
        village_tr_count[key] = village_tr_count.get(key, 0) + 1
        lv.tr_number.append(village_tr_count[key])
        c.transformers.append(tr_idx)
        if hx:
            hst = np.vstack(hx)
            hw = c.world(hst[:, 0], hst[:, 1])
            n_h = len(hst)
            lv.h_x.append(hw[:, 0])
            lv.h_y.append(hw[:, 1])
            lv.h_node.append(ids[np.concatenate(h_node_local)])
            lv.h_tr.append(np.full(n_h, tr_idx, dtype=np.int64))
            lv.h_cluster.append(np.full(n_h, c.idx, dtype=np.int64))
            lv.h_lane.append(np.concatenate(h_lane))
            lv.h_side.append(np.concatenate(h_side))
            lv.h_along.append(np.concatenate(h_along))
            lv.h_depth.append(np.concatenate(h_depth))
            lv.h_rank.append(np.concatenate(h_rank))
            lv.h_at_node.append(np.zeros(n_h, dtype=bool))


def _street_key(street: str) -> int:
    """A stable small number for a street name (``hash`` of a str changes per process)."""
    return (nm.URBAN_EW_STREETS + nm.URBAN_NS_STREETS).index(street)


def _layout_site(c: Cluster, lv: LowVoltage) -> None:
    """A site: one transformer, one 400 V line to the customer's meter, the meter at its end."""
    c.run_lo, c.run_hi = 0.0, c.length
    s_tr = c.length / 2
    tr_xy = c.world(s_tr, TR_T)
    meter = c.world(s_tr + 6.0, TR_T + 28.0)
    ids = lv.add_nodes(np.vstack([tr_xy, meter]))
    tr_idx = len(lv.tr_root)
    lv.line_a.append(ids[:1])
    lv.line_b.append(ids[1:])
    lv.line_tr.append(np.asarray([tr_idx], dtype=np.int64))
    lv.tr_xy.append(tr_xy)
    lv.tr_root.append(int(ids[0]))
    lv.tr_cluster.append(c.idx)
    lv.tr_households.append(1)
    lv.tr_number.append(1)
    c.transformers.append(tr_idx)
    lv.h_x.append(meter[None, 0].copy())
    lv.h_y.append(meter[None, 1].copy())
    lv.h_node.append(ids[1:])
    lv.h_tr.append(np.asarray([tr_idx], dtype=np.int64))
    lv.h_cluster.append(np.asarray([c.idx], dtype=np.int64))
    lv.h_lane.append(np.asarray([0], dtype=np.int64))
    lv.h_side.append(np.asarray([1], dtype=np.int64))
    lv.h_along.append(np.asarray([c.street_pos], dtype=np.float64))
    lv.h_depth.append(np.asarray([0.0]))
    lv.h_rank.append(np.asarray([0], dtype=np.int64))
    lv.h_at_node.append(np.ones(1, dtype=bool))
