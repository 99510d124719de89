"""Derives connectivity from geometry where the node columns are empty (CONTRACT section 1).

Line ends, switches, transformers, poles and service points within the snap tolerance of each
other share a node. Two planes are kept apart: 10 kV (lines, switches, substations, the
transformers' high-voltage side, poles) and 400 V (low-voltage lines, the transformers'
low-voltage side, service points), so a transformer standing where both end never shorts them.

A switch is a two-node element. Where its nodes are not given it stands in a junction of line
ends; it takes the line ends on its load side (found by a first trace from the substations,
then by the feeder names on either side of a tie, then by the angle of the lines: a fuse takes
the branching lateral, other switches the straight run) and leaves the rest at the junction.

Tees. CAD drawings often draw a trunk as one line through a tee pole (T接杆), the branch
starting at that pole, so the branch's end meets the trunk inside it, not at its end. Such a
line (one without node columns) is cut there: it keeps its id and its features, and gets
nodes inside it (``via_nodes``), so that the network model traces it as sections that all
carry its id. A line is cut where one of these meets its interior within the tolerance, away
from its own ends:

* another line's end of the same feeder (400 V: the same ``transformer_id``, or both empty),
* a switch or a transformer standing alone (no line end within the tolerance; of the same
  feeder, or of none given),

and only at evidence of a tee: an interior vertex of the line within the tolerance of it, or a
pole without node within the tolerance of both it and the line (the cut is the pole's foot).
A line end that merely passes near a line between its vertices (a crossing in a span), or a
line end of another feeder (feeders meet only at switches, which stand at line ends), is never
joined; a switch at the joint of a tie and a tee is not enough either. The cut joins only the
elements that justified it, not whatever else lies within the tolerance of the point.
Substations never cut a line.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from layers.grid import GridData
from layers.reader import Problem
from layers.schema import VIA_COLUMN

AUTO = "~"  # prefix of derived node names; utilities' own node codes never start with it


@dataclass
class _Plane:
    """Junction members of one voltage plane: line ends and switches, clustered by distance."""

    name: str
    xy: list[tuple[float, float]] = field(default_factory=list)
    # member kinds: ("line", layer, row, end, part) / ("switch", row) / ("substation", row);
    # a line's ends are ("from", 0) and ("to", its last part); its cuts are ("to", k) and
    # ("from", k + 1)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    explicit: list[str | None] = field(default_factory=list)
    node: list[str] = field(default_factory=list)
    cluster: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tree: cKDTree | None = None
    load_nodes: set[str] = field(default_factory=set)  # switches' load sides
    link_only: set[int] = field(default_factory=set)  # members joined by explicit links only

    def nearest_node(
        self,
        x: np.ndarray[Any, Any],
        y: np.ndarray[Any, Any],
        tolerance: float,
        skip_substations: bool = False,
    ) -> list[str | None]:
        """The node within ``tolerance`` of each point, nearest first, preferring a junction's
        supply side over a switch's load side (a pole or transformer standing at a switch
        belongs to the junction, not to the line the switch feeds)."""
        out: list[str | None] = [None] * len(x)
        if self.tree is None or len(x) == 0:
            return out
        xy = np.asarray(self.xy, dtype=np.float64)
        finite = np.isfinite(x) & np.isfinite(y)
        pts = np.column_stack([np.where(finite, x, 1e18), np.where(finite, y, 1e18)])
        hits = self.tree.query_ball_point(pts, tolerance)
        for i, members in enumerate(hits):
            if not members:
                continue
            best: tuple[int, float, int] | None = None
            for m in members:
                if skip_substations and self.members[m][0] == "substation":
                    continue
                rank = 1 if self.node[m] in self.load_nodes else 0
                d = float(np.hypot(xy[m, 0] - x[i], xy[m, 1] - y[i]))
                if best is None or (rank, d) < (best[0], best[1]):
                    best = (rank, d, m)
            if best is not None:
                out[i] = self.node[best[2]]
        return out

    def add(self, x: float, y: float, member: tuple[Any, ...], explicit: str | None) -> int:
        self.xy.append((x, y))
        self.members.append(member)
        self.explicit.append(explicit)
        return len(self.members) - 1


def _xy(frame_local: Any, geoms: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
    """Local x/y of point geometries, NaN where a geometry is missing (rejected earlier)."""
    lon = shapely.get_x(geoms)
    lat = shapely.get_y(geoms)
    x, y = frame_local.forward(lon, lat)
    return x, y


def _line_ends(data: GridData, layer: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    frame = data.layer(layer)
    geoms = np.asarray(frame["geometry"].to_numpy(), dtype=object)
    starts = shapely.get_point(geoms, 0)
    ends = shapely.get_point(geoms, -1)
    local = data.frame
    sx, sy = _xy(local, starts)
    ex, ey = _xy(local, ends)
    return np.column_stack([sx, sy]), np.column_stack([ex, ey])


def _cluster(plane: _Plane, tolerance: float, extra_links: list[tuple[int, int]]) -> None:
    n = len(plane.members)
    if n == 0:
        plane.cluster = np.zeros(0, dtype=np.int64)
        return
    xy = np.asarray(plane.xy, dtype=np.float64)
    plane.tree = cKDTree(xy)
    pairs = plane.tree.query_pairs(tolerance, output_type="ndarray")
    if plane.link_only:
        lone = np.fromiter(plane.link_only, dtype=np.int64)
        pairs = pairs[~(np.isin(pairs[:, 0], lone) | np.isin(pairs[:, 1], lone))]
    if extra_links:
        pairs = np.vstack([pairs.reshape(-1, 2), np.asarray(extra_links, dtype=np.int64)])
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    plane.cluster = labels


def _name_nodes(plane: _Plane, used: set[str]) -> None:
    """Gives every member a node name: the cluster's explicit name, or a derived one."""
    n = len(plane.members)
    plane.node = [""] * n
    by_cluster: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(plane.cluster.tolist()):
        by_cluster[c].append(i)
    xy = np.asarray(plane.xy, dtype=np.float64) if n else np.zeros((0, 2))
    for c, idx in by_cluster.items():
        names = {plane.explicit[i] for i in idx if plane.explicit[i]}
        if not names:
            name = f"{AUTO}{plane.name}{c}"
            while name in used:
                name += "'"
            for i in idx:
                plane.node[i] = name
        elif len(names) == 1:
            only = str(next(iter(names)))
            for i in idx:
                plane.node[i] = only
        else:
            anchors = [i for i in idx if plane.explicit[i]]
            for i in idx:
                if plane.explicit[i]:
                    plane.node[i] = str(plane.explicit[i])
                else:
                    d = np.hypot(*(xy[anchors] - xy[i]).T)
                    plane.node[i] = str(plane.explicit[anchors[int(np.argmin(d))]])


def _direction(
    line: Any, end: str, frame_local: Any, at: float | None = None
) -> tuple[float, float]:
    """Unit vector of a line leaving its ``end`` (``from`` or ``to``); with ``at``, leaving the
    cut ``at`` metres along it (forwards for ``from``, backwards for ``to``)."""
    coords = shapely.get_coordinates(line)
    if at is None:
        if end == "to":
            coords = coords[::-1]
        x, y = frame_local.forward(coords[:2, 0], coords[:2, 1])
        dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    else:
        x, y = frame_local.forward(coords[:, 0], coords[:, 1])
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        last = len(cum) - 2
        if end == "from":
            i = min(max(int(np.searchsorted(cum, at, side="right")) - 1, 0), last)
            dx, dy = float(x[i + 1] - x[i]), float(y[i + 1] - y[i])
        else:
            i = min(max(int(np.searchsorted(cum, at, side="left")) - 1, 0), last)
            dx, dy = float(x[i] - x[i + 1]), float(y[i] - y[i + 1])
    norm = math.hypot(dx, dy) or 1.0
    return dx / norm, dy / norm


@dataclass
class _Cut:
    """A point inside a line where it is cut: metres along the line, local x/y, and the
    elements that meet it there (("end", layer, row, end) / ("switch", row) /
    ("transformer", row))."""

    at: float
    x: float
    y: float
    triggers: list[tuple[Any, ...]]


def _to_local(frame_local: Any, geoms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(
        shapely.transform(
            geoms, lambda xy: np.column_stack(frame_local.forward(xy[:, 0], xy[:, 1]))
        ),
        dtype=object,
    )


def _interior_cuts(
    data: GridData,
    tolerance: float,
    parts: dict[tuple[str, int, str], tuple[int, bool]],
    line_ends: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
) -> dict[tuple[str, int], list[_Cut]]:
    """Where lines without node columns are cut by a tee (see the module's docstring).

    ``parts``: each line end's connected part without cuts, and whether it is fed."""
    local = data.frame
    out: dict[tuple[str, int], list[_Cut]] = {}
    poles = data.layer("poles")
    pole_xy = np.zeros((0, 2))
    if len(poles):
        px, py = _xy(local, np.asarray(poles["geometry"].to_numpy(), dtype=object))
        keep = np.isfinite(px) & np.isfinite(py) & np.asarray([not n for n in poles["node"]])
        pole_xy = np.column_stack([px[keep], py[keep]])
    for layer in ("mv_lines", "lv_lines"):
        frame = data.layer(layer)
        if not len(frame):
            continue
        starts, ends = line_ends[layer]
        finite = np.isfinite(starts).all(axis=1) & np.isfinite(ends).all(axis=1)
        from_given = frame["from_node"].tolist()
        to_given = frame["to_node"].tolist()
        keys = frame["feeder" if layer == "mv_lines" else "transformer_id"].tolist()
        line_key = [k or None for k in keys]
        cand_rows = np.flatnonzero(
            finite
            & np.asarray([not a and not b for a, b in zip(from_given, to_given, strict=True)])
        )
        if not len(cand_rows):
            continue
        # What may cut a line: line ends, and (10 kV) switches and transformers standing alone.
        t_xy: list[tuple[float, float]] = []
        t_ref: list[tuple[Any, ...]] = []
        t_key: list[str | None] = []
        t_part: list[int] = []
        # Only the ends of parts that nothing feeds otherwise: a fed end near a line is two
        # circuits on the same poles, or a feeder's end under another line, not a tee.
        for row in np.flatnonzero(finite).tolist():
            for end, pts, given in (("from", starts, from_given), ("to", ends, to_given)):
                part, fed = parts.get((layer, row, end), (-1, True))
                if not given[row] and not fed:
                    t_xy.append((float(pts[row, 0]), float(pts[row, 1])))
                    t_ref.append(("end", layer, row, end))
                    t_key.append(line_key[row])
                    t_part.append(part)
        n_ends = len(t_ref)
        if layer == "mv_lines":
            end_tree = cKDTree(np.vstack([starts[finite], ends[finite]]))
            for name, cols in (
                ("switches", ("from_node", "to_node")),
                ("transformers", ("hv_node",)),
            ):
                pts_frame = data.layer(name)
                if not len(pts_frame):
                    continue
                sx, sy = _xy(local, np.asarray(pts_frame["geometry"].to_numpy(), dtype=object))
                feeders = pts_frame["feeder"].tolist()
                given_nodes = [
                    all(v) for v in zip(*(pts_frame[c].tolist() for c in cols), strict=True)
                ]
                for row in range(len(pts_frame)):
                    if given_nodes[row]:
                        continue
                    if not (np.isfinite(sx[row]) and np.isfinite(sy[row])):
                        continue
                    if end_tree.query([sx[row], sy[row]])[0] <= tolerance:
                        continue  # it stands at a junction: the line ends there decide
                    t_xy.append((float(sx[row]), float(sy[row])))
                    t_ref.append(("switch" if name == "switches" else "transformer", row))
                    t_key.append(feeders[row] or None)
                    t_part.append(-1)
        if not t_xy:
            continue
        txy = np.asarray(t_xy, dtype=np.float64)
        lines = _to_local(local, np.asarray(frame["geometry"].to_numpy(), dtype=object))
        tree = shapely.STRtree(lines[cand_rows])
        ti, lj = tree.query(shapely.points(txy), predicate="dwithin", distance=tolerance)
        pairs_t = [ti]
        pairs_l = [cand_rows[lj]]
        pairs_p = [np.full(len(ti), -1, dtype=np.int64)]
        if len(pole_xy):
            # a tee at a pole: the element near the pole, the pole near the line
            pi, pl = tree.query(shapely.points(pole_xy), predicate="dwithin", distance=tolerance)
            lines_of_pole: dict[int, list[int]] = defaultdict(list)
            for a, b in zip(pi.tolist(), cand_rows[pl].tolist(), strict=True):
                lines_of_pole[a].append(b)
            near = cKDTree(pole_xy).query_ball_point(txy, tolerance)
            extra_t, extra_l, extra_p = [], [], []
            for i, hits in enumerate(near):
                for k in hits:
                    for j in lines_of_pole.get(k, ()):
                        extra_t.append(i)
                        extra_l.append(j)
                        extra_p.append(k)
            pairs_t.append(np.asarray(extra_t, dtype=np.int64))
            pairs_l.append(np.asarray(extra_l, dtype=np.int64))
            pairs_p.append(np.asarray(extra_p, dtype=np.int64))
        all_t = np.concatenate(pairs_t)
        all_l = np.concatenate(pairs_l)
        all_p = np.concatenate(pairs_p)
        # Not where the element is at the line's own ends: ordinary junctions.
        d_start = np.hypot(*(txy[all_t] - starts[all_l]).T)
        d_end = np.hypot(*(txy[all_t] - ends[all_l]).T)
        survive = np.flatnonzero((d_start > tolerance) & (d_end > tolerance))
        found: dict[int, list[tuple[float, float, float, tuple[Any, ...]]]] = defaultdict(list)
        for s in survive.tolist():
            i, j, k = int(all_t[s]), int(all_l[s]), int(all_p[s])
            ref = t_ref[i]
            same = t_key[i] == line_key[j]
            if not (same if i < n_ends else t_key[i] is None or same):
                continue
            if t_part[i] >= 0 and t_part[i] == parts.get((layer, j, "from"), (-2, True))[0]:
                continue  # the same part: a cut would close a loop
            line = lines[j]
            coords = shapely.get_coordinates(line)
            inner = coords[1:-1]
            point: tuple[float, float] | None = None
            if len(inner):
                d = np.hypot(inner[:, 0] - txy[i, 0], inner[:, 1] - txy[i, 1])
                v = int(np.argmin(d))
                if d[v] <= tolerance:
                    point = (float(inner[v, 0]), float(inner[v, 1]))
            if point is None and k >= 0:
                foot = shapely.line_interpolate_point(line, line.project(shapely.Point(pole_xy[k])))
                point = (float(foot.x), float(foot.y))
            if point is None:
                continue
            if (
                min(
                    math.hypot(point[0] - coords[0, 0], point[1] - coords[0, 1]),
                    math.hypot(point[0] - coords[-1, 0], point[1] - coords[-1, 1]),
                )
                <= tolerance
            ):
                continue
            found[j].append((float(line.project(shapely.Point(point))), *point, ref))
        for j, hits in found.items():
            hits.sort(key=lambda h: h[0])
            cuts: list[_Cut] = []
            for at, x, y, ref in hits:
                if cuts and at - cuts[-1].at <= tolerance:
                    if ref not in cuts[-1].triggers:
                        cuts[-1].triggers.append(ref)
                else:
                    cuts.append(_Cut(at, x, y, [ref]))
            out[(layer, j)] = cuts
    return out


@dataclass
class _Junctions:
    planes: dict[str, _Plane]
    line_member: dict[tuple[str, int, str, int], tuple[str, int]]
    sw_member: dict[int, tuple[str, int]]
    tr_cut: dict[int, int]  # transformer row -> a 10 kV cut member it stands at


def _junctions(
    data: GridData,
    tolerance: float,
    cuts: dict[tuple[str, int], list[_Cut]],
    used: set[str],
    line_ends: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
) -> _Junctions:
    """Line ends (and cuts), substations and switches clustered and named, per plane."""
    local = data.frame
    sw = data.layer("switches")
    subs = data.layer("substations")
    planes = {"m": _Plane("m"), "l": _Plane("l")}
    line_member: dict[tuple[str, int, str, int], tuple[str, int]] = {}
    for layer, key in (("mv_lines", "m"), ("lv_lines", "l")):
        frame = data.layer(layer)
        if not len(frame):
            continue
        starts, ends = line_ends[layer]
        plane = planes[key]
        given = {"from_node": frame["from_node"].tolist(), "to_node": frame["to_node"].tolist()}
        finite = np.isfinite(starts).all(axis=1).tolist()
        start_xy, end_xy = starts.tolist(), ends.tolist()
        for row in range(len(frame)):
            if not finite[row]:
                continue  # a line without usable geometry (already reported)
            line_cuts = cuts.get((layer, row), [])
            x, y = start_xy[row]
            m = plane.add(x, y, ("line", layer, row, "from", 0), given["from_node"][row])
            line_member[(layer, row, "from", 0)] = (key, m)
            for k, cut in enumerate(line_cuts):
                for end, part in (("to", k), ("from", k + 1)):
                    m = plane.add(cut.x, cut.y, ("line", layer, row, end, part), None)
                    line_member[(layer, row, end, part)] = (key, m)
                    plane.link_only.add(m)
            x, y = end_xy[row]
            last = len(line_cuts)
            m = plane.add(x, y, ("line", layer, row, "to", last), given["to_node"][row])
            line_member[(layer, row, "to", last)] = (key, m)

    # Substations: a point joins by distance; a polygon takes the line ends within it.
    sub_links: list[tuple[int, int]] = []
    if len(subs):
        plane = planes["m"]
        mv_xy = np.asarray(plane.xy, dtype=np.float64) if plane.xy else np.zeros((0, 2))
        mv_tree = cKDTree(mv_xy) if len(mv_xy) else None
        for row in range(len(subs)):
            geom = subs["geometry"].iat[row]
            if geom is None:
                continue
            if geom.geom_type == "Point":
                x, y = local.forward_one(geom.x, geom.y)
                plane.add(x, y, ("substation", row), subs["node"].iat[row])
            else:
                c = geom.representative_point()
                x, y = local.forward_one(c.x, c.y)
                m = plane.add(x, y, ("substation", row), subs["node"].iat[row])
                if mv_tree is None:
                    continue
                poly_local = shapely.transform(
                    geom, lambda xy: np.column_stack(local.forward(xy[:, 0], xy[:, 1]))
                ).buffer(tolerance)
                minx, miny, maxx, maxy = poly_local.bounds
                cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
                radius = math.hypot(maxx - minx, maxy - miny) / 2
                for j in mv_tree.query_ball_point([cx, cy], radius):
                    if poly_local.contains(shapely.Point(mv_xy[j])):
                        sub_links.append((m, j))

    # Switches without explicit nodes are junction members of the plane whose lines they touch.
    sw_member: dict[int, tuple[str, int]] = {}
    if len(sw):
        trees = {
            k: cKDTree(np.asarray(p.xy, dtype=np.float64)) if p.xy else None
            for k, p in planes.items()
        }
        geoms = np.asarray(sw["geometry"].to_numpy(), dtype=object)
        sx, sy = _xy(local, geoms)
        for row in range(len(sw)):
            if sw["from_node"].iat[row] and sw["to_node"].iat[row]:
                continue
            if not (np.isfinite(sx[row]) and np.isfinite(sy[row])):
                continue
            key = "m"
            mv_tree_k = trees["m"]
            lv_tree_k = trees["l"]
            near_mv = mv_tree_k is not None and mv_tree_k.query([sx[row], sy[row]])[0] <= tolerance
            near_lv = lv_tree_k is not None and lv_tree_k.query([sx[row], sy[row]])[0] <= tolerance
            if near_lv and not near_mv:
                key = "l"
            sw_member[row] = (
                key,
                planes[key].add(float(sx[row]), float(sy[row]), ("switch", row), None),
            )

    # A cut joins its two parts and the elements that cut the line there, nothing else.
    links: dict[str, list[tuple[int, int]]] = {"m": list(sub_links), "l": []}
    tr_cut: dict[int, int] = {}  # transformer row -> a 10 kV cut member it stands at
    for (layer, row), line_cuts in cuts.items():
        for k, cut in enumerate(line_cuts):
            key, a = line_member[(layer, row, "to", k)]
            _key, b = line_member[(layer, row, "from", k + 1)]
            links[key].append((a, b))
            for ref in cut.triggers:
                if ref[0] == "end":
                    _l, r, end = ref[1:]
                    part = 0 if end == "from" else len(cuts.get((ref[1], r), []))
                    hit = line_member.get((ref[1], r, end, part))
                elif ref[0] == "switch":
                    hit = sw_member.get(ref[1])
                else:
                    tr_cut.setdefault(ref[1], a)
                    hit = None
                if hit is not None and hit[0] == key:
                    links[key].append((a, hit[1]))

    _cluster(planes["m"], tolerance, links["m"])
    _cluster(planes["l"], tolerance, links["l"])
    for plane in planes.values():
        _name_nodes(plane, used)
        used.update(plane.node)
    return _Junctions(planes, line_member, sw_member, tr_cut)


def _fed_parts(
    data: GridData, junctions: _Junctions, tolerance: float
) -> dict[tuple[str, int, str], tuple[int, bool]]:
    """Each line end's connected part before any cut, and whether a substation feeds it (10 kV)
    or a transformer stands in it (400 V). Switches count as closed when their nodes are
    derived (a tie's two sides are one part here: a cut never joins them anyway)."""
    out: dict[tuple[str, int, str], tuple[int, bool]] = {}
    tr = data.layer("transformers")
    sw = data.layer("switches")
    ends: dict[str, list[tuple[tuple[str, int, str], int, int]]] = {"m": [], "l": []}
    for (layer, row, end, _part), (key, m) in junctions.line_member.items():
        if end == "from":
            _k, m_to = junctions.line_member[(layer, row, "to", 0)]
            ends[key].append(((layer, row, "from"), m, m_to))
    for key, plane in junctions.planes.items():
        if not plane.members:
            continue
        names: dict[str, int] = {}
        ids = np.asarray([names.setdefault(n, len(names)) for n in plane.node], dtype=np.int64)
        a = [ids[m] for _e, m, _t in ends[key]]
        b = [ids[t] for _e, _m, t in ends[key]]
        if key == "m":
            for u, v, state in zip(
                sw["from_node"].tolist(),
                sw["to_node"].tolist(),
                sw["normal_state"].tolist(),
                strict=True,
            ):
                if u in names and v in names and state != "open":
                    a.append(names[u])
                    b.append(names[v])
        n = len(names)
        graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
        _, label = connected_components(graph, directed=False)
        if key == "m":
            roots = {str(v) for v in data.layer("substations")["node"] if v}
            roots.update(
                plane.node[i] for i, mem in enumerate(plane.members) if mem[0] == "substation"
            )
        else:
            roots = {str(v) for v in tr["lv_node"] if v}
            if len(tr) and plane.tree is not None:
                tx, ty = _xy(data.frame, np.asarray(tr["geometry"].to_numpy(), dtype=object))
                ok = np.isfinite(tx) & np.isfinite(ty)
                for hits in plane.tree.query_ball_point(
                    np.column_stack([tx[ok], ty[ok]]), tolerance
                ):
                    roots.update(plane.node[i] for i in hits)
        fed = np.isin(label, [label[names[r]] for r in roots if r in names])
        for (layer, row, _end), m, m_to in ends[key]:
            part = int(label[ids[m]])
            out[(layer, row, "from")] = (part, bool(fed[ids[m]]))
            out[(layer, row, "to")] = (part, bool(fed[ids[m_to]]))
    return out


def derive_nodes(data: GridData, tolerance: float) -> list[Problem]:
    """Fills the empty node columns in place; returns the problems found on the way."""
    problems: list[Problem] = []
    local = data.frame
    tr = data.layer("transformers")

    used: set[str] = set()
    for layer, cols in (
        ("mv_lines", ("from_node", "to_node")),
        ("lv_lines", ("from_node", "to_node")),
        ("switches", ("from_node", "to_node")),
        ("transformers", ("hv_node", "lv_node")),
        ("substations", ("node",)),
        ("poles", ("node",)),
        ("service_points", ("node",)),
    ):
        frame = data.layer(layer)
        for col in cols:
            used.update(v for v in frame[col] if v)

    line_ends = {
        layer: _line_ends(data, layer)
        for layer in ("mv_lines", "lv_lines")
        if len(data.layer(layer))
    }
    scratch = set(used)
    found = _junctions(data, tolerance, {}, scratch, line_ends)
    cuts = _interior_cuts(data, tolerance, _fed_parts(data, found, tolerance), line_ends)
    if cuts:
        found = _junctions(data, tolerance, cuts, used, line_ends)
    else:
        used = scratch
    planes, line_member, sw_member, tr_cut = (
        found.planes,
        found.line_member,
        found.sw_member,
        found.tr_cut,
    )

    # Point elements to attach to the planes' clusters.
    tr_geoms = np.asarray(tr["geometry"].to_numpy(), dtype=object)
    tx, ty = _xy(local, tr_geoms) if len(tr) else (np.zeros(0), np.zeros(0))
    tr_in_cluster: dict[int, list[int]] = defaultdict(list)  # mv cluster -> transformer rows
    mplane = planes["m"]
    if len(tr) and mplane.tree is not None:
        finite = np.isfinite(tx) & np.isfinite(ty)
        dist, nearest = mplane.tree.query(
            np.column_stack([np.where(finite, tx, 1e18), np.where(finite, ty, 1e18)])
        )
        for row in range(len(tr)):
            if not tr["hv_node"].iat[row] and dist[row] <= tolerance:
                tr_in_cluster[int(mplane.cluster[nearest[row]])].append(row)

    claimed: dict[int, str] = {}
    cut_at = {line: [cut.at for cut in line_cuts] for line, line_cuts in cuts.items() if line_cuts}
    _split_switches(data, planes, sw_member, tr_in_cluster, line_member, claimed, (tx, ty), cut_at)

    # Write the line and switch nodes back; a cut line's inner nodes go to ``via_nodes``, two
    # per cut: the end of the part before it and the start of the part after it.
    for layer in ("mv_lines", "lv_lines"):
        if layer not in data.frames:
            continue
        columns = {
            "from_node": data.frames[layer]["from_node"].tolist(),
            "to_node": data.frames[layer]["to_node"].tolist(),
        }
        via: dict[int, list[str]] = {}
        for (lyr, row, end, part), (key, m) in line_member.items():
            if lyr != layer:
                continue
            n_cuts = len(cut_at.get((layer, row), ()))
            node = planes[key].node[m]
            if end == "from" and part == 0:
                columns["from_node"][row] = node
            elif end == "to" and part == n_cuts:
                columns["to_node"][row] = node
            else:
                via.setdefault(row, [""] * (2 * n_cuts))[2 * part - (end == "from")] = node
        for col, values in columns.items():
            data.set_column(layer, col, values)
        via_column: list[str | None] = [None] * len(data.frames[layer])
        for row, nodes in via.items():
            via_column[row] = json.dumps(nodes, ensure_ascii=False)
        data.set_column(layer, VIA_COLUMN, via_column)

    # Transformers: high-voltage side on the 10 kV plane, low-voltage side on the 400 V plane.
    if len(tr):
        hv = list(tr["hv_node"])
        lvn = list(tr["lv_node"])
        lplane = planes["l"]
        hv_near = mplane.nearest_node(tx, ty, tolerance, skip_substations=True)
        lv_near = lplane.nearest_node(tx, ty, tolerance)
        for row in range(len(tr)):
            if not hv[row]:
                if row in claimed:
                    hv[row] = claimed[row]
                elif hv_near[row] is not None:
                    hv[row] = hv_near[row]
                elif row in tr_cut:  # at a pole inside a line, farther than the tolerance
                    hv[row] = mplane.node[tr_cut[row]]
                else:
                    hv[row] = f"{AUTO}hv:{tr['id'].iat[row]}"
                    if not np.isfinite(tx[row]):
                        continue  # no usable geometry: reported by the feature checks
                    far = (
                        f"{mplane.tree.query([tx[row], ty[row]])[0]:.1f} m away"
                        if mplane.tree is not None
                        else "missing"
                    )
                    problems.append(
                        Problem(
                            "transformers",
                            tr["id"].iat[row],
                            f"not connected: the nearest 10 kV line end is {far} "
                            f"(snap tolerance {tolerance:g} m)",
                        )
                    )
            if not lvn[row]:
                lvn[row] = lv_near[row] or f"{AUTO}lv:{tr['id'].iat[row]}"
        data.set_column("transformers", "hv_node", hv)
        data.set_column("transformers", "lv_node", lvn)

    _attach_poles(data, planes, tolerance, problems)
    _attach_service_points(data, planes, tolerance)
    return problems


def _split_switches(
    data: GridData,
    planes: dict[str, _Plane],
    sw_member: dict[int, tuple[str, int]],
    tr_in_cluster: dict[int, list[int]],
    line_member: dict[tuple[str, int, str, int], tuple[str, int]],
    claimed_transformers: dict[int, str],
    transformer_xy: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
    cut_at: dict[tuple[str, int], list[float]],
) -> None:
    """Gives each switch without nodes its junction (from) and load-side (to) nodes.

    ``claimed_transformers`` receives the transformers that stand on a switch's load side.
    """
    sw = data.layer("switches")
    if not sw_member:
        return
    local = data.frame
    mv = data.layer("mv_lines")
    lv = data.layer("lv_lines")
    layers = {"mv_lines": mv, "lv_lines": lv}

    # First trace: every switch closed except the open ones, whose junctions are split by the
    # feeder names of the lines meeting there (a tie joins two feeders).
    open_rows = {r for r in sw_member if sw["normal_state"].iat[r] == "open"}

    def phase_node(key: str, m: int) -> str:
        plane = planes[key]
        member = plane.members[m]
        base = plane.node[m]
        cluster = int(plane.cluster[m])
        if cluster in open_clusters.get(key, set()) and member[0] == "line":
            feeder = mv["feeder"].iat[member[2]] if member[1] == "mv_lines" else ""
            return f"{base}|{feeder}"
        return base

    open_clusters: dict[str, set[int]] = defaultdict(set)
    for r in open_rows:
        key, m = sw_member[r]
        open_clusters[key].add(int(planes[key].cluster[m]))

    adjacency: dict[str, list[tuple[str, tuple[str, int, int] | tuple[str, int]]]] = defaultdict(
        list
    )
    for (layer, row, end, part), a in line_member.items():
        if end != "from":
            continue
        b = line_member[(layer, row, "to", part)]
        na, nb = phase_node(*a), phase_node(*b)
        adjacency[na].append((nb, (layer, row, part)))
        adjacency[nb].append((na, (layer, row, part)))
    # Transformers join the planes in the first trace, so 400 V switches are oriented too.
    tr = data.layer("transformers")
    mplane, lplane = planes["m"], planes["l"]
    if len(tr) and mplane.tree is not None and lplane.tree is not None:
        pts = np.column_stack(transformer_xy)
        finite = np.isfinite(pts).all(axis=1)
        pts[~finite] = 1e18
        _, m_near = mplane.tree.query(pts)
        _, l_near = lplane.tree.query(pts)
        for row in range(len(tr)):
            if not finite[row]:
                continue
            na, nb = phase_node("m", int(m_near[row])), phase_node("l", int(l_near[row]))
            adjacency[na].append((nb, ("transformers", row)))
            adjacency[nb].append((na, ("transformers", row)))
    roots = [v for v in data.layer("substations")["node"] if v]
    parent_line: dict[str, tuple[str, int, int] | tuple[str, int] | None] = {}
    queue: deque[str] = deque()
    for root in roots:
        if root not in parent_line:
            parent_line[root] = None
            queue.append(root)
    while queue:
        u = queue.popleft()
        for v, line in adjacency[u]:
            if v not in parent_line:
                parent_line[v] = line
                queue.append(v)

    claimed_ends: set[tuple[str, int, str, int]] = set()

    def feeder_of(e: tuple[str, int, str, int]) -> str | None:
        return str(mv["feeder"].iat[e[1]]) if e[0] == "mv_lines" else None

    # Open switches first: a tie's far side must not be taken by a switch beside it.
    ordered = sorted(sw_member, key=lambda r: (r not in open_rows, str(sw["id"].iat[r])))
    for row in ordered:
        key, m = sw_member[row]
        plane = planes[key]
        cluster = int(plane.cluster[m])
        junction = plane.node[m]
        ends_keyed = [
            (mem[1], mem[2], mem[3], mem[4])
            for mem in (plane.members[i] for i in np.flatnonzero(plane.cluster == cluster))
            if mem[0] == "line" and (mem[1], mem[2], mem[3], mem[4]) not in claimed_ends
        ]
        switch_feeder = sw["feeder"].iat[row]
        # The line ends by which the first trace reached this junction (one per side of a tie).
        upstream = [
            e
            for e in ends_keyed
            if parent_line.get(phase_node(*line_member[e])) == (e[0], e[1], e[3])
        ]
        if len(upstream) > 1:
            same = [e for e in upstream if switch_feeder and feeder_of(e) == switch_feeder]
            upstream = same[:1] or upstream[:1]
        candidates = [e for e in ends_keyed if e not in upstream]
        chosen: list[tuple[str, int, str, int]] = []
        if row in open_rows and candidates:
            up_feeders = {feeder_of(e) for e in upstream} - {None}
            if switch_feeder:
                up_feeders.add(switch_feeder)
            other = [e for e in candidates if e[0] == "mv_lines" and feeder_of(e) not in up_feeders]
            if other and up_feeders:
                chosen = other
        if not chosen and switch_feeder and len(candidates) > 1:
            matching = [e for e in candidates if feeder_of(e) == switch_feeder]
            if matching and len(matching) < len(candidates):
                candidates = matching
        if not chosen:
            if len(candidates) <= 1 or not upstream:
                chosen = candidates
            else:
                chosen = [
                    _by_angle(layers, upstream[0], candidates, sw["kind"].iat[row], local, cut_at)
                ]
        load_node = f"{junction}>{sw['id'].iat[row]}"
        plane.load_nodes.add(load_node)
        for e in chosen:
            claimed_ends.add(e)
            k2, m2 = line_member[e]
            planes[k2].node[m2] = load_node
        if not chosen and key == "m":
            # A switch at a line's end with nothing beyond: a transformer standing there is on
            # its load side (the drop-out fuse of a pole-mounted transformer).
            for tr_row in tr_in_cluster.get(cluster, []):
                claimed_transformers.setdefault(tr_row, load_node)
        from_given = sw["from_node"].iat[row]
        to_given = sw["to_node"].iat[row]
        sw.iat[row, sw.columns.get_loc("from_node")] = from_given or junction
        sw.iat[row, sw.columns.get_loc("to_node")] = to_given or load_node
    data.frames["switches"] = sw


def _by_angle(
    layers: dict[str, pd.DataFrame],
    incoming: tuple[str, int, str, int],
    candidates: list[tuple[str, int, str, int]],
    kind: str | None,
    local: Any,
    cut_at: dict[tuple[str, int], list[float]],
) -> tuple[str, int, str, int]:
    """A fuse takes the lateral that turns away most; other switches the straightest run."""

    def leaving(e: tuple[str, int, str, int]) -> tuple[float, float]:
        layer, row, end, part = e
        cuts = cut_at.get((layer, row), [])
        at = None
        if end == "from" and part > 0:
            at = cuts[part - 1]
        elif end == "to" and part < len(cuts):
            at = cuts[part]
        return _direction(layers[layer]["geometry"].iat[row], end, local, at)

    # The incoming line arrives: reverse its leaving direction.
    ix, iy = leaving(incoming)
    ix, iy = -ix, -iy

    def turn(e: tuple[str, int, str, int]) -> float:
        dx, dy = leaving(e)
        return math.acos(max(-1.0, min(1.0, ix * dx + iy * dy)))

    ranked = sorted(candidates, key=turn)
    return ranked[-1] if kind == "fuse" else ranked[0]


def _attach_poles(
    data: GridData, planes: dict[str, _Plane], tolerance: float, problems: list[Problem]
) -> None:
    poles = data.layer("poles")
    if not len(poles):
        return
    local = data.frame
    geoms = np.asarray(poles["geometry"].to_numpy(), dtype=object)
    px, py = _xy(local, geoms)
    nodes = list(poles["node"])
    line_ids: list[str | None] = [None] * len(poles)
    pending = [i for i in range(len(poles)) if not nodes[i]]
    for key in ("m", "l"):
        if not pending:
            break
        near = planes[key].nearest_node(px[pending], py[pending], tolerance, skip_substations=True)
        still = []
        for j, i in enumerate(pending):
            if near[j] is not None:
                nodes[i] = near[j]
            else:
                still.append(i)
        pending = still
    for layer in ("mv_lines", "lv_lines"):
        frame = data.layer(layer)
        if not len(frame) or not pending:
            continue
        lines_local = shapely.transform(
            np.asarray(frame["geometry"].to_numpy(), dtype=object),
            lambda xy: np.column_stack(local.forward(xy[:, 0], xy[:, 1])),
        )
        tree = shapely.STRtree(lines_local)
        pts = shapely.points(px[pending], py[pending])
        hits = tree.query(pts, predicate="dwithin", distance=tolerance)
        best: dict[int, tuple[float, int]] = {}
        for p_idx, l_idx in zip(hits[0].tolist(), hits[1].tolist(), strict=True):
            d = float(shapely.distance(pts[p_idx], lines_local[l_idx]))
            name = poles["line_name"].iat[pending[p_idx]]
            same_name = name is not None and name in (
                frame["feeder"].iat[l_idx] if "feeder" in frame else None,
                frame.get("name", pd.Series([None] * len(frame))).iat[l_idx],
            )
            score = d - (tolerance if same_name else 0.0)
            if p_idx not in best or score < best[p_idx][0]:
                best[p_idx] = (score, l_idx)
        still = []
        for j, i in enumerate(pending):
            if j in best:
                line_ids[i] = str(frame["id"].iat[best[j][1]])
            else:
                still.append(i)
        pending = still
    for i in pending:
        problems.append(
            Problem(
                "poles",
                poles["id"].iat[i],
                f"not connected: no line passes within {tolerance:g} m of the pole",
            )
        )
    data.set_column("poles", "node", nodes)
    data.set_column("poles", "line_id", line_ids)


def _attach_service_points(data: GridData, planes: dict[str, _Plane], tolerance: float) -> None:
    """A service point near a 400 V line end hangs there; otherwise on its transformer."""
    sps = data.layer("service_points")
    plane = planes["l"]
    if not len(sps) or plane.tree is None:
        return
    nodes = list(sps["node"])
    pending = np.asarray([i for i in range(len(sps)) if not nodes[i]], dtype=np.int64)
    if not len(pending):
        return
    geoms = np.asarray(sps["geometry"].to_numpy(), dtype=object)[pending]
    x, y = _xy(data.frame, geoms)
    near = plane.nearest_node(x, y, tolerance)
    for j, i in enumerate(pending.tolist()):
        if near[j] is not None:
            nodes[i] = near[j]
    data.set_column("service_points", "node", nodes)
