"""Derives connectivity from geometry where the node columns are empty (CONTRACT section 1).

Line ends, switches, transformers, poles and service points within the snap tolerance of each
other share a node. Two planes are kept apart: 10 kV (lines, switches, substations, the
transformers' high-voltage side, poles) and 400 V (low-voltage lines, the transformers'
low-voltage side, service points), so a transformer standing where both end never shorts them.

A switch is a two-node element. Where its nodes are not given it stands in a junction of line
ends; it takes the line ends on its load side (found by a first trace from the substations,
then by the feeder names on either side of a tie, then by the angle of the lines: a fuse takes
the branching lateral, other switches the straight run) and leaves the rest at the junction.
"""

from __future__ import annotations

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

AUTO = "~"  # prefix of derived node names; utilities' own node codes never start with it


@dataclass
class _Plane:
    """Junction members of one voltage plane: line ends and switches, clustered by distance."""

    name: str
    xy: list[tuple[float, float]] = field(default_factory=list)
    # member kinds: ("line", layer, row, end) / ("switch", row) / ("substation", row)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    explicit: list[str | None] = field(default_factory=list)
    node: list[str] = field(default_factory=list)
    cluster: np.ndarray[Any, Any] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tree: cKDTree | None = None
    load_nodes: set[str] = field(default_factory=set)  # switches' load sides

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


def _direction(line: Any, end: str, frame_local: Any) -> tuple[float, float]:
    """Unit vector of a line leaving its ``end`` (``from`` or ``to``)."""
    coords = shapely.get_coordinates(line)
    if end == "to":
        coords = coords[::-1]
    x, y = frame_local.forward(coords[:2, 0], coords[:2, 1])
    dx, dy = float(x[1] - x[0]), float(y[1] - y[0])
    norm = math.hypot(dx, dy) or 1.0
    return dx / norm, dy / norm


def derive_nodes(data: GridData, tolerance: float) -> list[Problem]:
    """Fills the empty node columns in place; returns the problems found on the way."""
    problems: list[Problem] = []
    local = data.frame
    sw = data.layer("switches")
    tr = data.layer("transformers")
    subs = data.layer("substations")

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

    planes = {"m": _Plane("m"), "l": _Plane("l")}
    line_member: dict[tuple[str, int, str], tuple[str, int]] = {}
    for layer, key in (("mv_lines", "m"), ("lv_lines", "l")):
        frame = data.layer(layer)
        if not len(frame):
            continue
        starts, ends = _line_ends(data, layer)
        plane = planes[key]
        given = {"from_node": frame["from_node"].tolist(), "to_node": frame["to_node"].tolist()}
        finite = np.isfinite(starts).all(axis=1).tolist()
        start_xy, end_xy = starts.tolist(), ends.tolist()
        for row in range(len(frame)):
            if not finite[row]:
                continue  # a line without usable geometry (already reported)
            for end, pts, col in (("from", start_xy, "from_node"), ("to", end_xy, "to_node")):
                m = plane.add(pts[row][0], pts[row][1], ("line", layer, row, end), given[col][row])
                line_member[(layer, row, end)] = (key, m)

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

    _cluster(planes["m"], tolerance, sub_links)
    _cluster(planes["l"], tolerance, [])
    for plane in planes.values():
        _name_nodes(plane, used)
        used.update(plane.node)

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
    _split_switches(data, planes, sw_member, tr_in_cluster, line_member, claimed, (tx, ty))

    # Write the line and switch nodes back.
    for layer in ("mv_lines", "lv_lines"):
        if layer not in data.frames:
            continue
        columns = {
            "from_node": data.frames[layer]["from_node"].tolist(),
            "to_node": data.frames[layer]["to_node"].tolist(),
        }
        for (lyr, row, end), (key, m) in line_member.items():
            if lyr == layer:
                columns["from_node" if end == "from" else "to_node"][row] = planes[key].node[m]
        for col, values in columns.items():
            data.set_column(layer, col, values)

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
    line_member: dict[tuple[str, int, str], tuple[str, int]],
    claimed_transformers: dict[int, str],
    transformer_xy: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]],
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

    adjacency: dict[str, list[tuple[str, tuple[str, int]]]] = defaultdict(list)
    for layer, _key in (("mv_lines", "m"), ("lv_lines", "l")):
        for row in range(len(layers[layer])):
            if (layer, row, "from") not in line_member:
                continue
            a = line_member[(layer, row, "from")]
            b = line_member[(layer, row, "to")]
            na, nb = phase_node(*a), phase_node(*b)
            adjacency[na].append((nb, (layer, row)))
            adjacency[nb].append((na, (layer, row)))
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
    parent_line: dict[str, tuple[str, int] | None] = {}
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

    claimed_ends: set[tuple[str, int, str]] = set()

    def feeder_of(e: tuple[str, int, str]) -> str | None:
        return str(mv["feeder"].iat[e[1]]) if e[0] == "mv_lines" else None

    # Open switches first: a tie's far side must not be taken by a switch beside it.
    ordered = sorted(sw_member, key=lambda r: (r not in open_rows, str(sw["id"].iat[r])))
    for row in ordered:
        key, m = sw_member[row]
        plane = planes[key]
        cluster = int(plane.cluster[m])
        junction = plane.node[m]
        ends_keyed = [
            (mem[1], mem[2], mem[3])
            for mem in (plane.members[i] for i in np.flatnonzero(plane.cluster == cluster))
            if mem[0] == "line" and (mem[1], mem[2], mem[3]) not in claimed_ends
        ]
        switch_feeder = sw["feeder"].iat[row]
        # The line ends by which the first trace reached this junction (one per side of a tie).
        upstream = [
            e for e in ends_keyed if parent_line.get(phase_node(*line_member[e])) == (e[0], e[1])
        ]
        if len(upstream) > 1:
            same = [e for e in upstream if switch_feeder and feeder_of(e) == switch_feeder]
            upstream = same[:1] or upstream[:1]
        candidates = [e for e in ends_keyed if e not in upstream]
        chosen: list[tuple[str, int, str]] = []
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
                chosen = [_by_angle(layers, upstream[0], candidates, sw["kind"].iat[row], local)]
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
    incoming: tuple[str, int, str],
    candidates: list[tuple[str, int, str]],
    kind: str | None,
    local: Any,
) -> tuple[str, int, str]:
    """A fuse takes the lateral that turns away most; other switches the straightest run."""
    layer, row, end = incoming
    ix, iy = _direction(layers[layer]["geometry"].iat[row], end, local)
    # The incoming line arrives: reverse its leaving direction.
    ix, iy = -ix, -iy

    def turn(e: tuple[str, int, str]) -> float:
        dx, dy = _direction(layers[e[0]]["geometry"].iat[e[1]], e[2], local)
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
