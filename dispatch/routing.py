"""Travel time on the roads layer: which crew reaches a place first, and the way it drives.

The ``roads`` layer becomes a directed graph whose nodes are junctions only: road ends,
and vertices that several roads share. Segments are joined where a road's end lies within
``join_tolerance_m`` of another road (a vertex of it, or a point on one of its segments,
which is then split), because digitised roads rarely meet exactly; two roads that merely
cross without a shared vertex are a bridge, not a junction. Each stretch of road between
two junctions is one link, so the graph is a fraction of the vertex count and a full
Dijkstra search over a county takes about a millisecond.

Speeds come from ``speed_kmh``, else from the road's ``kind`` (a configurable table that
knows both OSM classes and Chinese road grades), else a default. ``oneway`` yes/true/1
allows travel in the digitised direction only, ``-1`` the opposite direction only.

A crew or an incident is snapped to the nearest road segment within ``max_snap_m``, and
to every other segment at most ``snap_tie_m`` farther (a house between two lanes can be
reached from either; an arbitrary tie-break must not decide the time); the leg from the
place to the road is covered at ``snap_speed_kmh`` (off-road, at walking pace). Where there
is no road near either end, or no path between them, the travel time is the straight-line
distance times ``detour_factor`` at ``fallback_speed_kmh``.

Precomputation: the shortest travel times from a crew's road exits to every junction are
computed once per crew position and cached, so a nearest-crew query is a snap and a few
array operations over all crews at once (about 0.1 ms on the demo county); when several
crews have just moved, one search backwards from the place serves them all instead.
:class:`ReferenceRouter` is the deliberately plain search that the fast path is tested and
benchmarked against. :func:`synthetic_roads` draws road layers for tests and benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pyproj import Transformer
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from shapely.ops import substring

from gis.crs import INTERNAL_CRS, LocalFrame
from layers.grid import GridData

__all__ = [
    "DEFAULT_KIND_SPEEDS_KMH",
    "CrewEta",
    "CrewRouter",
    "CrewStart",
    "ReferenceRouter",
    "RoadGraph",
    "Route",
    "RoutingSettings",
    "parse_oneway",
    "random_crews",
    "random_places",
    "synthetic_roads",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_KIND_SPEEDS_KMH: dict[str, float] = {
    # OSM highway classes
    "motorway": 90.0,
    "trunk": 60.0,
    "primary": 50.0,
    "secondary": 40.0,
    "tertiary": 30.0,
    "unclassified": 25.0,
    "residential": 20.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 10.0,
    "path": 5.0,
    # Chinese road grades (公路技术等级 / 行政等级) and common words in attribute tables
    "expressway": 90.0,
    "highway": 60.0,
    "national": 60.0,
    "provincial": 50.0,
    "county": 40.0,
    "township": 30.0,
    "village": 20.0,
    "urban": 30.0,
    "street": 25.0,
    "高速": 90.0,
    "高速公路": 90.0,
    "国道": 60.0,
    "省道": 50.0,
    "县道": 40.0,
    "乡道": 30.0,
    "村道": 20.0,
    "城市道路": 30.0,
    "街道": 25.0,
    "机耕路": 10.0,
}
"""Typical travel speeds of a repair vehicle by road kind, used where ``speed_kmh`` is empty."""

_ONEWAY_FORWARD = frozenset({"yes", "true", "1", "y", "t", "forward", "是"})
_ONEWAY_REVERSE = frozenset({"-1", "reverse", "backward"})

# Direction codes of a road part and its links.
BOTH, FORWARD, REVERSE = 0, 1, -1

_MIN_SECONDS = 1e-6  # csgraph reads a zero weight as "no edge"; joined vertices cost ~nothing
_EXACT_M = 1e-3  # vertices this close are the same point (a shared vertex)


class RoutingSettings(BaseSettings):
    """Road routing parameters; environment variables ``GRIDCALL_ROUTING_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="GRIDCALL_ROUTING_", frozen=True)

    join_tolerance_m: float = Field(2.0, ge=0, description="road ends this close are joined")
    max_snap_m: float = Field(2_000.0, gt=0, description="farthest road a place snaps to")
    snap_tie_m: float = Field(
        5.0, ge=0, description="roads this little farther than the nearest are tried too"
    )
    snap_speed_kmh: float = Field(10.0, gt=0, description="speed from a place to its road")
    fallback_speed_kmh: float = Field(30.0, gt=0, description="speed when there is no road path")
    detour_factor: float = Field(1.4, ge=1, description="road distance / straight distance")
    default_speed_kmh: float = Field(30.0, gt=0, description="roads of an unknown kind")
    kind_speeds_kmh: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_KIND_SPEEDS_KMH),
        description="speed by road kind (lower-case), where speed_kmh is empty",
    )

    def speed_for(self, kind: object, speed_kmh: object) -> float:
        """km/h of one road: its own speed, else its kind's, else the default."""
        speed = _positive_float(speed_kmh)
        if speed is not None:
            return speed
        if isinstance(kind, str) and kind.strip():
            key = kind.strip().lower()
            table = self.kind_speeds_kmh
            if key in table:
                return table[key]
            if key.endswith("_link") and key[:-5] in table:  # OSM ramps: motorway_link
                return table[key[:-5]]
        return self.default_speed_kmh


def _positive_float(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def parse_oneway(value: object) -> int:
    """BOTH, FORWARD (``yes``/``true``/``1``) or REVERSE (``-1``), as OSM spells it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return BOTH
    text = str(value).strip().lower()
    if text.endswith(".0"):  # a numeric column read as float: "1.0", "-1.0"
        text = text[:-2]
    if text in _ONEWAY_FORWARD:
        return FORWARD
    if text in _ONEWAY_REVERSE:
        return REVERSE
    return BOTH


@dataclass(frozen=True)
class Snap:
    """A place on a link: ``offset_m`` from the link's start, ``distance_m`` off the road."""

    link: int
    offset_m: float
    distance_m: float
    x: float
    y: float


class RoadGraph:
    """The routable road network of one grid, in the grid's local metric frame.

    Built once (a county's roads take well under a second); immutable afterwards.
    """

    def __init__(
        self,
        roads: pd.DataFrame,
        frame: LocalFrame,
        settings: RoutingSettings | None = None,
    ) -> None:
        self.settings = settings or RoutingSettings()
        self.frame = frame
        # one transformer for the hot path (LocalFrame rebuilds its CRS on every call)
        self._to_local = Transformer.from_crs(INTERNAL_CRS, frame.crs, always_xy=True)
        self._build(roads)

    @classmethod
    def from_grid(cls, data: GridData, settings: RoutingSettings | None = None) -> RoadGraph:
        return cls(data.layer("roads"), data.frame, settings)

    # -- construction ----------------------------------------------------------------------

    def _build(self, roads: pd.DataFrame) -> None:
        settings = self.settings
        parts = self._read_parts(roads)
        parts = _split_at_t_junctions(parts, settings.join_tolerance_m)
        # global vertex arrays
        xs: list[FloatArray] = [p.xy[:, 0] for p in parts]
        ys: list[FloatArray] = [p.xy[:, 1] for p in parts]
        counts = np.asarray([len(p.xy) for p in parts], dtype=np.int64)
        self.part_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.vx = np.concatenate(xs) if xs else np.zeros(0)
        self.vy = np.concatenate(ys) if ys else np.zeros(0)
        self.v_part = np.repeat(np.arange(len(parts), dtype=np.int64), counts)
        self.part_road = [p.road for p in parts]
        self.part_speed = np.asarray([p.speed_ms for p in parts], dtype=np.float64)
        self.part_dir = np.asarray([p.direction for p in parts], dtype=np.int64)
        n = len(self.vx)
        is_end = np.zeros(n, dtype=bool)
        if len(parts):
            is_end[self.part_start[:-1]] = True
            is_end[self.part_start[1:] - 1] = True
        self.v_node = self._join(is_end, settings.join_tolerance_m)
        self.n_nodes = int(self.v_node.max()) + 1 if n else 0
        # segments: consecutive vertices of one part
        seg_a = (
            np.flatnonzero(~np.isin(np.arange(n), self.part_start[1:] - 1))
            if n
            else np.zeros(0, dtype=np.int64)
        )
        seg_len = np.hypot(self.vx[seg_a + 1] - self.vx[seg_a], self.vy[seg_a + 1] - self.vy[seg_a])
        cum = np.zeros(n, dtype=np.float64)
        if n:
            step = np.zeros(n, dtype=np.float64)
            step[seg_a + 1] = seg_len
            cum = np.cumsum(step)
        self._cum = cum
        # links: runs of a part between consecutive node vertices
        node_v = np.flatnonzero(self.v_node >= 0)
        same_part = self.v_part[node_v[:-1]] == self.v_part[node_v[1:]] if len(node_v) else []
        link_a = node_v[:-1][same_part] if len(node_v) else np.zeros(0, dtype=np.int64)
        link_b = node_v[1:][same_part] if len(node_v) else np.zeros(0, dtype=np.int64)
        self.link_a = np.asarray(link_a, dtype=np.int64)  # first vertex
        self.link_b = np.asarray(link_b, dtype=np.int64)  # last vertex
        self.link_u = self.v_node[self.link_a]
        self.link_v = self.v_node[self.link_b]
        self.link_part = self.v_part[self.link_a]
        self.link_len = cum[self.link_b] - cum[self.link_a]
        self.link_speed = self.part_speed[self.link_part]
        self.link_dir = self.part_dir[self.link_part]
        self.link_time = self.link_len / self.link_speed
        # segment -> link, offset of the segment's start along its link
        self.seg_a = seg_a
        self.seg_link = np.searchsorted(self.link_a, seg_a, side="right") - 1
        self.seg_offset = cum[seg_a] - cum[self.link_a[self.seg_link]] if len(seg_a) else cum[:0]
        self.seg_len = seg_len
        self.node_x = np.zeros(self.n_nodes)
        self.node_y = np.zeros(self.n_nodes)
        self.node_x[self.v_node[node_v]] = self.vx[node_v]
        self.node_y[self.v_node[node_v]] = self.vy[node_v]
        self._build_csr()
        segs = (
            shapely.linestrings(
                np.stack(
                    [
                        np.column_stack([self.vx[seg_a], self.vy[seg_a]]),
                        np.column_stack([self.vx[seg_a + 1], self.vy[seg_a + 1]]),
                    ],
                    axis=1,
                )
            )
            if len(seg_a)
            else np.zeros(0, dtype=object)
        )
        self._seg_tree = shapely.STRtree(segs) if len(seg_a) else None

    def _read_parts(self, roads: pd.DataFrame) -> list[_Part]:
        settings = self.settings
        if len(roads) == 0:
            return []
        geoms = np.asarray(roads["geometry"].to_numpy(), dtype=object)
        valid = np.asarray([g is not None for g in geoms], dtype=bool)
        rows = np.flatnonzero(valid)
        lines, owner = shapely.get_parts(geoms[valid], return_index=True)
        coords, line_of = shapely.get_coordinates(lines, return_index=True)
        if len(coords) == 0:
            return []
        x, y = self.local_many(coords[:, 0], coords[:, 1])
        xy = np.column_stack([x, y])
        bounds = np.searchsorted(line_of, np.arange(len(lines) + 1))
        column = {
            name: roads[name].tolist() if name in roads else [None] * len(roads)
            for name in ("kind", "speed_kmh", "oneway")
        }
        parts: list[_Part] = []
        for k in range(len(lines)):
            run = _drop_repeats(xy[bounds[k] : bounds[k + 1]])
            if len(run) < 2:
                continue
            row = int(rows[owner[k]])
            speed_ms = settings.speed_for(column["kind"][row], column["speed_kmh"][row]) / 3.6
            parts.append(_Part(row, run, speed_ms, parse_oneway(column["oneway"][row])))
        return parts

    def _join(self, is_end: npt.NDArray[np.bool_], tolerance: float) -> IntArray:
        """Node id per vertex (-1 for shape points): road ends joined within the tolerance."""
        n = len(self.vx)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        xy = np.column_stack([self.vx, self.vy])
        tree = cKDTree(xy)
        pairs: list[tuple[int, int]] = []
        ends = np.flatnonzero(is_end)
        radius = max(tolerance, _EXACT_M)
        for end, hits in zip(ends.tolist(), tree.query_ball_point(xy[ends], radius), strict=True):
            pairs.extend((end, int(h)) for h in hits if h != end)
        # shared vertices (OSM style): the very same point on two roads is a junction
        pairs.extend((int(a), int(b)) for a, b in tree.query_pairs(_EXACT_M))
        if pairs:
            arr = np.asarray(pairs, dtype=np.int64)
            adj = coo_matrix((np.ones(len(arr)), (arr[:, 0], arr[:, 1])), shape=(n, n)).tocsr()
            _count, label = connected_components(adj, directed=False)
            size = np.bincount(label)
            joined = size[label] > 1
        else:
            label = np.arange(n)
            joined = np.zeros(n, dtype=bool)
        node_mask = is_end | joined
        node = np.full(n, -1, dtype=np.int64)
        _uniq, compact = np.unique(label[node_mask], return_inverse=True)
        node[node_mask] = compact
        return node

    def _build_csr(self) -> None:
        keep = self.link_u != self.link_v
        fwd = keep & (self.link_dir != REVERSE)
        rev = keep & (self.link_dir != FORWARD)
        idx = np.concatenate([np.flatnonzero(fwd), np.flatnonzero(rev)])
        src = np.concatenate([self.link_u[fwd], self.link_v[rev]])
        dst = np.concatenate([self.link_v[fwd], self.link_u[rev]])
        weight = np.maximum(self.link_time[idx], _MIN_SECONDS)
        # parallel links: keep the fastest (a sparse matrix would add them up)
        order = np.lexsort((weight, dst, src))
        src, dst, weight, idx = src[order], dst[order], weight[order], idx[order]
        first = np.ones(len(src), dtype=bool)
        first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
        src, dst, weight, idx = src[first], dst[first], weight[first], idx[first]
        n = self.n_nodes
        self.graph = csr_matrix((weight, (src, dst)), shape=(n, n))
        self._edge_link = {(int(a), int(b)): int(k) for a, b, k in zip(src, dst, idx, strict=True)}

    # -- queries ---------------------------------------------------------------------------

    @property
    def n_links(self) -> int:
        return len(self.link_u)

    @property
    def n_vertices(self) -> int:
        return len(self.vx)

    def local(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._to_local.transform(lon, lat)
        return float(x), float(y)

    def local_many(
        self, lon: Sequence[float], lat: Sequence[float]
    ) -> tuple[FloatArray, FloatArray]:
        x, y = self._to_local.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def snap_many(self, x: FloatArray, y: FloatArray) -> list[tuple[Snap, ...]]:
        """Where each local point joins the roads: the nearest segment, and every other
        segment no more than ``snap_tie_m`` farther (empty beyond ``max_snap_m``).

        A place about as near to two roads may be reached from either, and which one is
        the first in some index must not decide the crew's time: the search tries them all.
        """
        out: list[tuple[Snap, ...]] = [() for _ in range(len(x))]
        if self._seg_tree is None or len(x) == 0:
            return out
        settings = self.settings
        points = shapely.points(x, y)
        found, distance = self._seg_tree.query_nearest(
            points, max_distance=settings.max_snap_m, return_distance=True, all_matches=False
        )
        if len(found[0]) == 0:
            return out
        nearest = np.full(len(x), np.nan)
        nearest[found[0]] = distance
        hit = found[0]
        reach = nearest[hit] + settings.snap_tie_m + _EXACT_M
        pairs = self._seg_tree.query(points[hit], predicate="dwithin", distance=reach)
        candidates: dict[int, list[Snap]] = {}
        for q, seg in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
            i = int(hit[q])
            candidates.setdefault(i, []).append(self._project(seg, float(x[i]), float(y[i])))
        for i, snaps in candidates.items():
            best = min(snap.distance_m for snap in snaps)
            if best > settings.max_snap_m:
                continue
            keep = [snap for snap in snaps if snap.distance_m <= best + settings.snap_tie_m]
            keep.sort(key=lambda snap: (snap.distance_m, snap.link, snap.offset_m))
            out[i] = tuple(keep)
        return out

    def snap(self, x: float, y: float) -> tuple[Snap, ...]:
        return self.snap_many(np.asarray([x]), np.asarray([y]))[0]

    def _project(self, seg: int, x: float, y: float) -> Snap:
        a = int(self.seg_a[seg])
        ax, ay = float(self.vx[a]), float(self.vy[a])
        dx, dy = float(self.vx[a + 1]) - ax, float(self.vy[a + 1]) - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        px, py = ax + t * dx, ay + t * dy
        offset = float(self.seg_offset[seg]) + t * float(self.seg_len[seg])
        link = int(self.seg_link[seg])
        offset = min(max(offset, 0.0), float(self.link_len[link]))
        return Snap(link, offset, math.hypot(x - px, y - py), px, py)

    def leave_costs(self, snap: Snap) -> tuple[float, float]:
        """Seconds from a snapped place to its link's start and end nodes (inf if one-way)."""
        return self._end_costs(snap, int(self.link_dir[snap.link]))

    def enter_costs(self, snap: Snap) -> tuple[float, float]:
        """Seconds from a link's start and end nodes to a snapped place on it: leaving the
        place with the link's one-way direction turned round."""
        return self._end_costs(snap, -int(self.link_dir[snap.link]))

    def _end_costs(self, snap: Snap, direction: int) -> tuple[float, float]:
        link = snap.link
        speed = float(self.link_speed[link])
        to_start = snap.offset_m
        to_end = float(self.link_len[link]) - snap.offset_m
        back = to_start / speed if direction != FORWARD or to_start <= 0 else math.inf
        ahead = to_end / speed if direction != REVERSE or to_end <= 0 else math.inf
        return back, ahead

    def along(self, origin: Snap, target: Snap) -> float:
        """Seconds from one place to another on the same link without leaving it."""
        if origin.link != target.link:
            return math.inf
        delta = target.offset_m - origin.offset_m
        d = int(self.link_dir[origin.link])
        if (delta > 0 and d == REVERSE) or (delta < 0 and d == FORWARD):
            return math.inf
        return abs(delta) / float(self.link_speed[origin.link])

    def link_nodes(self, link: int) -> tuple[int, int]:
        return int(self.link_u[link]), int(self.link_v[link])

    def edge_link(self, u: int, v: int) -> int:
        """The link a shortest path uses from node ``u`` to node ``v``."""
        return self._edge_link[(u, v)]

    def link_line(self, link: int) -> shapely.LineString:
        a, b = int(self.link_a[link]), int(self.link_b[link])
        return shapely.LineString(np.column_stack([self.vx[a : b + 1], self.vy[a : b + 1]]))

    def segments(self) -> Iterable[tuple[int, int, float, int]]:
        """(first vertex, second vertex, metres, direction) of every road segment."""
        for s, a in enumerate(self.seg_a.tolist()):
            yield a, a + 1, float(self.seg_len[s]), int(self.part_dir[self.v_part[a]])


@dataclass
class _Part:
    road: int
    xy: FloatArray
    speed_ms: float
    direction: int


def _drop_repeats(xy: FloatArray) -> FloatArray:
    if len(xy) < 2:
        return xy
    step = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    keep = np.concatenate([[True], step > _EXACT_M])
    out: FloatArray = xy[keep]
    return out


def _split_at_t_junctions(parts: list[_Part], tolerance: float) -> list[_Part]:
    """Inserts a vertex where a road ends on the middle of another road's segment.

    A road end with no vertex of another road within the tolerance, but a segment within
    it, is a T-junction drawn without a shared vertex; the segment gets a vertex at the
    foot of the perpendicular, which the joining step then merges with the end.
    """
    if tolerance <= 0 or len(parts) < 2:
        return parts
    counts = np.asarray([len(p.xy) for p in parts])
    all_xy = np.vstack([p.xy for p in parts])
    owner = np.repeat(np.arange(len(parts)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    last = first + counts - 1
    ends = np.column_stack([first, last]).ravel()
    end_part = owner[ends]
    hits = cKDTree(all_xy).query_ball_point(all_xy[ends], tolerance)
    lonely = [k for k, found in enumerate(hits) if not any(owner[h] != end_part[k] for h in found)]
    if not lonely:
        return parts
    seg_start = np.setdiff1d(np.arange(len(all_xy)), last)
    segs = shapely.linestrings(np.stack([all_xy[seg_start], all_xy[seg_start + 1]], axis=1))
    points = shapely.points(all_xy[ends[lonely]])
    pairs = shapely.STRtree(segs).query(points, predicate="dwithin", distance=tolerance)
    best: dict[int, tuple[float, int, float, FloatArray]] = {}  # lonely end -> candidate
    for q, s in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
        k = lonely[q]
        a_index = int(seg_start[s])
        if owner[a_index] == end_part[k]:
            continue
        end = all_xy[ends[k]]
        a, b = all_xy[a_index], all_xy[a_index + 1]
        d = b - a
        t = float(np.clip(np.dot(end - a, d) / float(np.dot(d, d)), 0.0, 1.0))
        foot = a + t * d
        dist = float(np.hypot(*(end - foot)))
        if dist <= tolerance and (k not in best or (dist, s) < (best[k][0], best[k][1])):
            best[k] = (dist, s, t, foot)
    inserts: dict[int, dict[int, list[tuple[float, FloatArray]]]] = {}
    for _dist, s, t, foot in best.values():
        if 0.0 < t < 1.0:
            a_index = int(seg_start[s])
            j = int(owner[a_index])
            local_k = a_index - int(first[j])
            inserts.setdefault(j, {}).setdefault(local_k, []).append((t, foot))
    out = list(parts)
    for j, by_seg in inserts.items():
        p = parts[j]
        rows: list[FloatArray] = []
        for k in range(len(p.xy)):
            rows.append(p.xy[k])
            rows.extend(foot for _t, foot in sorted(by_seg.get(k, []), key=lambda i: i[0]))
        out[j] = _Part(p.road, _drop_repeats(np.asarray(rows)), p.speed_ms, p.direction)
    return out


# -- crews ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrewStart:
    """Where a crew sets out from, and how long until it can (0 for an available crew)."""

    crew_id: str
    lon: float
    lat: float
    wait_s: float = 0.0
    unit_id: str | None = None


Method = Literal["road", "straight"]


@dataclass(frozen=True)
class CrewEta:
    """A crew's expected arrival at a place: ``wait_s`` until free plus ``travel_s``."""

    crew_id: str
    unit_id: str | None
    wait_s: float
    travel_s: float
    method: Method

    @property
    def eta_s(self) -> float:
        return self.wait_s + self.travel_s


@dataclass(frozen=True)
class Route:
    """The way a crew drives to a place, in WGS84 lon/lat, for the map to draw."""

    crew_id: str
    travel_s: float
    metres: float
    method: Method
    coordinates: tuple[tuple[float, float], ...]

    @property
    def wkt(self) -> str:
        return str(shapely.to_wkt(shapely.LineString(self.coordinates), rounding_precision=7))


@dataclass
class _Start:
    lon: float
    lat: float
    x: float
    y: float
    snaps: tuple[Snap, ...]
    exits: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    exit_cost: FloatArray = field(default_factory=lambda: np.zeros(0))  # leg + to the node
    exit_snap: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    exit_side: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rows: FloatArray | None = None  # seconds from each exit to every junction
    queries: int = 0  # queries answered with the crew at this position


@dataclass(frozen=True)
class _Target:
    x: float
    y: float
    snaps: tuple[Snap, ...]
    entries: IntArray
    entry_cost: FloatArray  # from the node, plus the leg
    entry_snap: IntArray
    entry_side: IntArray


@dataclass(frozen=True)
class _Way:
    """How the fastest road trip goes: ``exit`` and ``entry`` index the start's exits and
    the target's entries, or ``along`` names the pair of snaps on one link."""

    seconds: float
    exit: int = -1
    entry: int = -1
    along: tuple[int, int] | None = None


_NO_WAY = _Way(math.inf)


@dataclass(frozen=True)
class _Bundle:
    """Every crew's exits in one array, so that a query is a few array operations."""

    exits: IntArray
    exit_cost: FloatArray
    owners: IntArray  # the crew (index in the query) of each run of exits
    offsets: IntArray  # where each crew's run starts
    rows: FloatArray | None  # stacked cached searches, when every crew has one
    on_link: dict[int, list[tuple[int, int]]]  # link -> (crew index, snap index)


class CrewRouter:
    """Nearest crews by travel time.

    Two exact ways to the same answer, chosen per query by what is cheaper: a crew that
    stays put has its search from its road (two sources per snap) cached, so queries only
    read it; when several crews have just moved, one search backwards from the place (on
    the reversed graph) serves them all. A crew seen at the same position by two queries
    in a row gets its own cached search.
    """

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self.settings = graph.settings
        self._reverse = graph.graph.T.tocsr()
        self._starts: dict[str, _Start] = {}
        self._bundle_cache: tuple[tuple[tuple[str, int, bool], ...], _Bundle] | None = None

    def _leg_s(self, metres: float) -> float:
        return metres / (self.settings.snap_speed_kmh / 3.6)

    def _fallback_s(self, metres: float) -> float:
        return metres * self.settings.detour_factor / (self.settings.fallback_speed_kmh / 3.6)

    def _ends(
        self, snaps: tuple[Snap, ...], outward: bool
    ) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
        """Every way off (``outward``) or onto the roads: the junction, the seconds between
        it and the place (the leg included), the snap used, and the side of its link (0:
        the link's start, 1: its end)."""
        g = self.graph
        nodes: list[int] = []
        costs: list[float] = []
        which: list[int] = []
        sides: list[int] = []
        for k, snap in enumerate(snaps):
            leg = self._leg_s(snap.distance_m)
            ends = g.link_nodes(snap.link)
            pair = g.leave_costs(snap) if outward else g.enter_costs(snap)
            for side in (0, 1):
                if math.isfinite(pair[side]):
                    nodes.append(ends[side])
                    costs.append(pair[side] + leg)
                    which.append(k)
                    sides.append(side)
        return (
            np.asarray(nodes, dtype=np.int64),
            np.asarray(costs, dtype=np.float64),
            np.asarray(which, dtype=np.int64),
            np.asarray(sides, dtype=np.int64),
        )

    def _target(self, lon: float, lat: float) -> _Target:
        g = self.graph
        x, y = g.local(lon, lat)
        snaps = g.snap(x, y)
        return _Target(x, y, snaps, *self._ends(snaps, outward=False))

    def _update(self, crews: Sequence[CrewStart]) -> None:
        """Snaps crews that are new or have moved; caches searches of crews that stayed."""
        moved = [
            c
            for c in crews
            if (s := self._starts.get(c.crew_id)) is None or (s.lon, s.lat) != (c.lon, c.lat)
        ]
        g = self.graph
        if moved:
            x, y = g.local_many([c.lon for c in moved], [c.lat for c in moved])
            for i, (crew, snaps) in enumerate(zip(moved, g.snap_many(x, y), strict=True)):
                self._starts[crew.crew_id] = _Start(
                    crew.lon,
                    crew.lat,
                    float(x[i]),
                    float(y[i]),
                    snaps,
                    *self._ends(snaps, outward=True),
                )
        lacking = [s for c in crews if len((s := self._starts[c.crew_id]).exits) and s.rows is None]
        settled = lacking if len(lacking) == 1 else [s for s in lacking if s.queries > 0]
        self._search(settled)

    def _search(self, starts: Sequence[_Start]) -> None:
        if not starts or not self.graph.n_nodes:
            return
        sources = np.concatenate([s.exits for s in starts])
        unique, inverse = np.unique(sources, return_inverse=True)
        dist = dijkstra(self.graph.graph, directed=True, indices=unique)
        k = 0
        for start in starts:
            n = len(start.exits)
            start.rows = dist[inverse[k : k + n]]
            k += n

    def _backward(self, target: _Target) -> FloatArray | None:
        """Seconds from every junction to each of the place's road entries."""
        if not len(target.entries) or not self.graph.n_nodes:
            return None
        out: FloatArray = dijkstra(self._reverse, directed=True, indices=target.entries)
        return out

    def _way(self, start: _Start, target: _Target, backward: FloatArray | None) -> _Way:
        """The fastest trip on the roads (inf when there is none)."""
        best = _NO_WAY
        g = self.graph
        for i, a in enumerate(start.snaps):
            for j, b in enumerate(target.snaps):
                if a.link == b.link:
                    seconds = self._leg_s(a.distance_m) + g.along(a, b) + self._leg_s(b.distance_m)
                    if seconds < best.seconds:
                        best = _Way(seconds, along=(i, j))
        if len(start.exits) and len(target.entries):
            if start.rows is not None:
                between = start.rows[:, target.entries]
            elif backward is not None:
                between = backward[:, start.exits].T
            else:  # pragma: no cover - etas() provides one or the other
                raise RuntimeError("no search to read the travel time from")
            total = start.exit_cost[:, None] + between + target.entry_cost[None, :]
            flat = int(np.argmin(total))
            i, j = divmod(flat, total.shape[1])
            seconds = float(total[i, j])
            if seconds < best.seconds:
                best = _Way(seconds, i, j)
        return best

    def etas(self, lon: float, lat: float, crews: Sequence[CrewStart]) -> list[CrewEta]:
        """Every crew's expected arrival at the place, soonest first (ties by crew id)."""
        self._update(crews)
        target = self._target(lon, lat)
        starts = [self._starts[c.crew_id] for c in crews]
        bundle = self._bundle(crews, starts)
        road = np.full(len(crews), np.inf)
        if len(bundle.exits) and len(target.entries):
            if bundle.rows is not None:
                between = bundle.rows[:, target.entries]
            else:
                backward = self._backward(target)
                assert backward is not None  # the target has entries
                between = backward[:, bundle.exits].T
            total = bundle.exit_cost[:, None] + between + target.entry_cost[None, :]
            per_crew = np.minimum.reduceat(total.min(axis=1), bundle.offsets)
            road[bundle.owners] = per_crew
        for b in target.snaps:  # crews on the place's own stretch of road
            for k, i in bundle.on_link.get(b.link, ()):
                a = starts[k].snaps[i]
                seconds = self._leg_s(a.distance_m) + self.graph.along(a, b)
                road[k] = min(road[k], seconds + self._leg_s(b.distance_m))
        out: list[CrewEta] = []
        for k, (crew, start) in enumerate(zip(crews, starts, strict=True)):
            start.queries += 1
            travel = float(road[k])
            method: Method = "road"
            if math.isinf(travel):
                method = "straight"
                travel = self._fallback_s(math.hypot(start.x - target.x, start.y - target.y))
            out.append(CrewEta(crew.crew_id, crew.unit_id, max(crew.wait_s, 0.0), travel, method))
        out.sort(key=lambda e: (e.eta_s, e.crew_id))
        return out

    def _bundle(self, crews: Sequence[CrewStart], starts: Sequence[_Start]) -> _Bundle:
        """The crews' exits side by side (kept while no crew moves or gains its search)."""
        key = tuple(
            (c.crew_id, id(s), s.rows is not None) for c, s in zip(crews, starts, strict=True)
        )
        if self._bundle_cache is not None and self._bundle_cache[0] == key:
            return self._bundle_cache[1]
        with_exits = [k for k, s in enumerate(starts) if len(s.exits)]
        counts = [len(starts[k].exits) for k in with_exits]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        empty_i = np.zeros(0, dtype=np.int64)
        rows = None
        if with_exits and all(starts[k].rows is not None for k in with_exits):
            rows = np.vstack([starts[k].rows for k in with_exits])  # type: ignore[misc]
        on_link: dict[int, list[tuple[int, int]]] = {}
        for k, start in enumerate(starts):
            for i, snap in enumerate(start.snaps):
                on_link.setdefault(snap.link, []).append((k, i))
        bundle = _Bundle(
            exits=np.concatenate([starts[k].exits for k in with_exits]) if with_exits else empty_i,
            exit_cost=(
                np.concatenate([starts[k].exit_cost for k in with_exits])
                if with_exits
                else np.zeros(0)
            ),
            owners=np.asarray(with_exits, dtype=np.int64),
            offsets=offsets if with_exits else empty_i,
            rows=rows,
            on_link=on_link,
        )
        self._bundle_cache = (key, bundle)
        return bundle

    def nearest(
        self, lon: float, lat: float, crews: Sequence[CrewStart], k: int = 1
    ) -> list[CrewEta]:
        """The ``k`` crews that can be at the place soonest."""
        return self.etas(lon, lat, crews)[:k]

    def route(self, crew: CrewStart, lon: float, lat: float) -> Route:
        """The way ``crew`` drives to the place; a straight line where routing fell back."""
        self._update([crew])
        g = self.graph
        start = self._starts[crew.crew_id]
        target = self._target(lon, lat)
        backward = self._backward(target) if start.rows is None else None
        way = self._way(start, target, backward)
        if math.isinf(way.seconds):
            metres = math.hypot(start.x - target.x, start.y - target.y)
            xy = [(start.x, start.y), (target.x, target.y)]
            return self._route(crew.crew_id, self._fallback_s(metres), metres, "straight", xy)
        if way.along is not None:
            s, t = start.snaps[way.along[0]], target.snaps[way.along[1]]
            middle = _coords(substring(g.link_line(s.link), s.offset_m, t.offset_m))
            metres = abs(t.offset_m - s.offset_m)
        else:
            s = start.snaps[int(start.exit_snap[way.exit])]
            t = target.snaps[int(target.entry_snap[way.entry])]
            exit_node, entry_node = int(start.exits[way.exit]), int(target.entries[way.entry])
            first_end = float(g.link_len[s.link]) * int(start.exit_side[way.exit])
            last_start = float(g.link_len[t.link]) * int(target.entry_side[way.entry])
            middle = _coords(substring(g.link_line(s.link), s.offset_m, first_end))
            metres = abs(first_end - s.offset_m)
            _d, pred = dijkstra(g.graph, indices=exit_node, return_predecessors=True)
            path = [entry_node]
            while path[-1] != exit_node:
                path.append(int(pred[path[-1]]))
            path.reverse()
            for u, v in pairwise(path):
                link = g.edge_link(u, v)
                coords = _coords(g.link_line(link))
                forward = int(g.link_u[link]) == u and int(g.link_v[link]) == v
                middle.extend(coords if forward else coords[::-1])
                metres += float(g.link_len[link])
            middle.extend(_coords(substring(g.link_line(t.link), last_start, t.offset_m)))
            metres += abs(t.offset_m - last_start)
        xy = [(start.x, start.y), (s.x, s.y), *middle, (t.x, t.y), (target.x, target.y)]
        metres += s.distance_m + t.distance_m
        return self._route(crew.crew_id, way.seconds, metres, "road", xy)

    def _route(
        self,
        crew_id: str,
        travel: float,
        metres: float,
        method: Method,
        xy: Sequence[tuple[float, float]],
    ) -> Route:
        clean: list[tuple[float, float]] = []
        for point in xy:
            if not clean or math.hypot(point[0] - clean[-1][0], point[1] - clean[-1][1]) > 0.01:
                clean.append(point)
        if len(clean) == 1:
            clean.append(clean[0])
        arr = np.asarray(clean)
        lon, lat = self.graph.frame.inverse(arr[:, 0], arr[:, 1])
        coords = tuple((float(a), float(b)) for a, b in zip(lon, lat, strict=True))
        return Route(crew_id, travel, metres, method, coords)

    def forget(self, crew_ids: Iterable[str] | None = None) -> None:
        """Drops cached searches (all of them, or some crews')."""
        if crew_ids is None:
            self._starts.clear()
        else:
            for crew_id in crew_ids:
                self._starts.pop(crew_id, None)


def _coords(line: Any) -> list[tuple[float, float]]:
    if line is None or shapely.is_empty(line):
        return []
    return [(float(x), float(y)) for x, y in shapely.get_coordinates(line)]


class ReferenceRouter:
    """The plain search the fast router is checked against: no junction graph, no cache.

    It routes on the raw vertex graph (networkx, every road vertex a node), snaps by
    measuring every segment, and runs one Dijkstra search per crew. It shares only the
    vertex joining and the speeds with :class:`RoadGraph`.
    """

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        self.settings = graph.settings
        g = nx.DiGraph()
        self._seg: list[tuple[Any, Any, float, float, int]] = []  # a, b, metres, speed, dir
        for a, b, metres, direction in graph.segments():
            na, nb = self._vertex(a), self._vertex(b)
            speed = float(graph.part_speed[graph.v_part[a]])
            self._seg.append((na, nb, metres, speed, direction))
            seconds = max(metres / speed, _MIN_SECONDS)
            if direction != REVERSE and na != nb:
                _add_min(g, na, nb, seconds)
            if direction != FORWARD and na != nb:
                _add_min(g, nb, na, seconds)
        self.nx_graph = g
        empty = np.zeros(0)
        seg_a = graph.seg_a
        self._ax = graph.vx[seg_a] if len(seg_a) else empty
        self._ay = graph.vy[seg_a] if len(seg_a) else empty
        self._bx = graph.vx[seg_a + 1] if len(seg_a) else empty
        self._by = graph.vy[seg_a + 1] if len(seg_a) else empty

    def _vertex(self, v: int) -> Any:
        node = int(self.graph.v_node[v])
        return ("n", node) if node >= 0 else ("v", v)

    def _snaps(self, x: float, y: float) -> list[tuple[int, float, float]]:
        """(segment, fraction along it, distance) of the nearest segments, by brute force."""
        if len(self._ax) == 0:
            return []
        dx, dy = self._bx - self._ax, self._by - self._ay
        length2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(((x - self._ax) * dx + (y - self._ay) * dy) / length2, 0.0, 1.0)
        t = np.where(length2 > 0, t, 0.0)
        dist = np.hypot(x - (self._ax + t * dx), y - (self._ay + t * dy))
        best = float(dist.min())
        if best > self.settings.max_snap_m:
            return []
        near = np.flatnonzero(dist <= best + self.settings.snap_tie_m)
        return [(int(k), float(t[k]), float(dist[k])) for k in near]

    def travel_s(self, crew: CrewStart, lon: float, lat: float) -> tuple[float, Method]:
        """Seconds of travel (no waiting) from one crew to the place."""
        frame = self.graph.frame
        cx, cy = frame.forward_one(crew.lon, crew.lat)
        tx, ty = frame.forward_one(lon, lat)
        straight = math.hypot(cx - tx, cy - ty)
        fallback = straight * self.settings.detour_factor / (self.settings.fallback_speed_kmh / 3.6)
        crew_snaps, target_snaps = self._snaps(cx, cy), self._snaps(tx, ty)
        if not crew_snaps or not target_snaps:
            return fallback, "straight"
        leg = self.settings.snap_speed_kmh / 3.6
        g = self.nx_graph
        origin, target = ("crew",), ("target",)
        added: list[Any] = [origin, target]
        try:
            for side, snaps in (("c", crew_snaps), ("t", target_snaps)):
                for k, (seg, t, dist) in enumerate(snaps):
                    a, b, metres, speed, direction = self._seg[seg]
                    on_road = (side, k)
                    added.append(on_road)
                    to_a, to_b = t * metres / speed, (1 - t) * metres / speed
                    if side == "c":
                        g.add_edge(origin, on_road, weight=dist / leg)
                        if direction != FORWARD or to_a == 0:
                            g.add_edge(on_road, a, weight=to_a)
                        if direction != REVERSE or to_b == 0:
                            g.add_edge(on_road, b, weight=to_b)
                    else:
                        g.add_edge(on_road, target, weight=dist / leg)
                        if direction != REVERSE or to_a == 0:
                            g.add_edge(a, on_road, weight=to_a)
                        if direction != FORWARD or to_b == 0:
                            g.add_edge(b, on_road, weight=to_b)
            for i, (seg_c, t_c, _dc) in enumerate(crew_snaps):
                for j, (seg_t, t_t, _dt) in enumerate(target_snaps):
                    if seg_c != seg_t:
                        continue
                    _a, _b, metres, speed, direction = self._seg[seg_c]
                    delta = (t_t - t_c) * metres
                    if not (
                        (delta > 0 and direction == REVERSE) or (delta < 0 and direction == FORWARD)
                    ):
                        g.add_edge(("c", i), ("t", j), weight=abs(delta) / speed)
            try:
                seconds = float(nx.dijkstra_path_length(g, origin, target, weight="weight"))
            except nx.NetworkXNoPath:
                return fallback, "straight"
            return seconds, "road"
        finally:
            g.remove_nodes_from(added)

    def nearest(self, lon: float, lat: float, crews: Sequence[CrewStart]) -> list[CrewEta]:
        out = []
        for crew in crews:
            travel, method = self.travel_s(crew, lon, lat)
            out.append(CrewEta(crew.crew_id, crew.unit_id, max(crew.wait_s, 0.0), travel, method))
        out.sort(key=lambda e: (e.eta_s, e.crew_id))
        return out


def _add_min(g: Any, a: Any, b: Any, seconds: float) -> None:
    if not g.has_edge(a, b) or g[a][b]["weight"] > seconds:
        g.add_edge(a, b, weight=seconds)


# -- synthetic road nets, for tests and benchmarks ------------------------------------------


_SYNTHETIC_KINDS = ("primary", "secondary", "tertiary", "县道", "乡道", "村道", "residential", None)


@dataclass
class SyntheticRoads:
    """A road layer (WGS84, as the importer produces it) and the frame it was drawn in."""

    roads: pd.DataFrame
    frame: LocalFrame
    extent_m: float


def synthetic_roads(
    seed: int = 0,
    *,
    cells: int = 24,
    spacing_m: float = 900.0,
    center: tuple[float, float] = (113.6, 34.7),
    drop: float = 0.12,
    oneway: float = 0.15,
    reverse: float = 0.05,
    gaps: bool = True,
    island: bool = True,
) -> SyntheticRoads:
    """A jittered street lattice with what real road layers have.

    Roads run 1-4 blocks between junctions with shape points in between; some blocks are
    missing; some roads are one-way (``yes`` or ``-1``); some ends stop short of their
    junction by up to 1.5 m (joined by the tolerance); spurs end on the middle of a
    segment (T-junctions without a shared vertex); an expressway crosses the lattice on
    overpasses (no junction on the way); and a small island of roads has no connection.
    """
    rng = np.random.default_rng(seed)
    frame = LocalFrame(*center)
    half = cells * spacing_m / 2
    lattice = np.stack(
        np.meshgrid(
            np.arange(cells + 1) * spacing_m - half, np.arange(cells + 1) * spacing_m - half
        ),
        axis=-1,
    ) + rng.uniform(-80, 80, size=(cells + 1, cells + 1, 2))
    lines: list[dict[str, Any]] = []

    def add(
        points: list[tuple[float, float]],
        kind: Any = None,
        speed: Any = None,
        ow: str | None = None,
    ) -> None:
        lines.append(
            {
                "id": f"RD{len(lines) + 1:05d}",
                "name": None,
                "kind": kind,
                "speed_kmh": speed,
                "oneway": ow,
                "xy": points,
            }
        )

    drawn: list[list[tuple[float, float]]] = []  # the blocks as drawn, for the spurs

    def block(a: np.ndarray, b: np.ndarray) -> list[tuple[float, float]]:
        out = [tuple(a)]
        for f in (0.33, 0.66):
            p = a + (b - a) * f + rng.uniform(-25, 25, size=2)
            out.append(tuple(p))
        drawn.append([*out, tuple(b)])
        return out

    for horizontal in (True, False):
        for i in range(cells + 1):
            row = [lattice[i, j] if horizontal else lattice[j, i] for j in range(cells + 1)]
            present = rng.random(cells) >= drop
            j = 0
            while j < cells:
                if not present[j]:
                    j += 1
                    continue
                end = j
                limit = j + int(rng.integers(1, 5))
                while end < min(limit, cells) and present[end]:
                    end += 1
                points: list[tuple[float, float]] = []
                for q in range(j, end):
                    points.extend(block(row[q], row[q + 1]))
                points.append(tuple(row[end]))
                if gaps and rng.random() < 0.1:  # stops short of its junction
                    last = np.asarray(points[-1])
                    prev = np.asarray(points[-2])
                    direction = (prev - last) / np.hypot(*(prev - last))
                    points[-1] = tuple(last + direction * rng.uniform(0.3, 1.5))
                r = rng.random()
                ow = "yes" if r < oneway else "-1" if r < oneway + reverse else None
                kind = _SYNTHETIC_KINDS[int(rng.integers(len(_SYNTHETIC_KINDS)))]
                speed = float(rng.choice([40.0, 60.0])) if rng.random() < 0.1 else None
                add(points, kind, speed, ow)
                j = end
    if gaps:  # spurs ending on the middle of a block (no shared vertex)
        for _ in range(cells * 2):
            shape = drawn[int(rng.integers(len(drawn)))]
            a, b = np.asarray(shape[1]), np.asarray(shape[2])
            foot = a + (b - a) * 0.5
            normal = np.asarray([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
            out = foot + normal * rng.choice([-1.0, 1.0]) * spacing_m * 0.3
            add([tuple(out), tuple(foot)], "村道")
    # an expressway across the lattice: junctions only at its two ends
    add([tuple(lattice[0, 0]), tuple(lattice[cells, cells])], "高速")
    if island:
        ox = half + 6_000.0
        for k in range(3):
            add([(ox, k * 400.0), (ox + 800.0, k * 400.0)], "village")
        add([(ox, 0.0), (ox, 800.0)], "village")
    geoms = []
    for line in lines:
        xy = np.asarray(line.pop("xy"), dtype=np.float64)
        lon, lat = frame.inverse(xy[:, 0], xy[:, 1])
        geoms.append(shapely.LineString(np.column_stack([lon, lat])))
    roads = pd.DataFrame(lines)
    roads["geometry"] = pd.Series(geoms, dtype=object)
    roads["attrs"] = pd.Series([None] * len(roads), dtype=object)
    return SyntheticRoads(roads, frame, cells * spacing_m)


def random_crews(
    rng: np.random.Generator, frame: LocalFrame, extent_m: float, n: int = 30
) -> list[CrewStart]:
    """Crews at random places, a few of them busy for up to an hour."""
    half = extent_m / 2
    x = rng.uniform(-half, half, n)
    y = rng.uniform(-half, half, n)
    lon, lat = frame.inverse(x, y)
    return [
        CrewStart(
            f"CR{k + 1:02d}",
            float(lon[k]),
            float(lat[k]),
            float(rng.uniform(0, 3600)) if rng.random() < 0.3 else 0.0,
            f"U{k % 8 + 1}",
        )
        for k in range(n)
    ]


def random_places(
    rng: np.random.Generator, frame: LocalFrame, extent_m: float, n: int
) -> list[tuple[float, float]]:
    half = extent_m / 2 * 1.05
    lon, lat = frame.inverse(rng.uniform(-half, half, n), rng.uniform(-half, half, n))
    return [(float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
