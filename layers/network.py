"""The network model: a radial directed graph from each substation bus to the service points.

Built once from the layers (and rebuilt when a switch changes state), it answers the
questions every other part asks, in microseconds: the feeder and substation of an element,
its upstream devices, its nearest protective device, and everything downstream of it.

A line is one edge from its ``from_node`` to its ``to_node``; a line cut inside by a tee
(``via_nodes``, see :mod:`layers.topology`) is several edges, its sections, that all carry its
id: the first is the line's own edge, the others follow the edges of the four layers. As an
element, such a line is answered at the section where supply enters it, so that everything
fed through it is downstream of it, as when the sections were separate lines.

Each node of the graph gets a position in a depth-first order of the supply tree, so that a
subtree is a contiguous range of positions: downstream transformers and service points are a
binary search and a slice, and counts are differences of prefix sums.
"""

from __future__ import annotations

import bisect
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, depth_first_order

from layers.grid import GridData
from layers.reader import Problem
from layers.schema import PROTECTIVE_SWITCH_KINDS, VIA_COLUMN

IntArray = npt.NDArray[np.int64]

MV_LINE, LV_LINE, SWITCH, TRANSFORMER = 0, 1, 2, 3
EDGE_LAYERS = {
    MV_LINE: "mv_lines",
    LV_LINE: "lv_lines",
    SWITCH: "switches",
    TRANSFORMER: "transformers",
}
SUBSTATION, POLE, SERVICE_POINT = 10, 11, 12
KIND_NAMES = {
    MV_LINE: "mv_line",
    LV_LINE: "lv_line",
    SWITCH: "switch",
    TRANSFORMER: "transformer",
    SUBSTATION: "substation",
    POLE: "pole",
    SERVICE_POINT: "service_point",
}


class UnknownElementError(KeyError):
    def __str__(self) -> str:
        return f"unknown element id {self.args[0]!r}"


@dataclass(frozen=True)
class Trace:
    element_id: str
    kind: str
    feeder: str | None
    substation_id: str | None
    upstream_devices: list[str]
    protective_device_id: str | None
    downstream_transformers: list[str]
    downstream_service_points: int
    energised: bool

    def contract_dict(self) -> dict[str, Any]:
        """The object printed by ``gridcall network trace`` (CONTRACT section 4)."""
        return {
            "element_id": self.element_id,
            "feeder": self.feeder,
            "substation_id": self.substation_id,
            "upstream_devices": self.upstream_devices,
            "protective_device_id": self.protective_device_id,
            "downstream_transformers": self.downstream_transformers,
            "downstream_service_points": self.downstream_service_points,
        }


class NetworkModel:
    """Topology of one grid in one switching state. Immutable; see :meth:`with_switch_states`."""

    def __init__(self, data: GridData, switch_states: dict[str, str] | None = None) -> None:
        self.data = data
        self.switch_states = dict(switch_states or {})
        self.problems: list[Problem] = []
        self._build()

    # -- construction ----------------------------------------------------------------------

    def _build(self) -> None:
        data = self.data
        node_index: dict[str, int] = {}

        def nid(name: str) -> int:
            idx = node_index.get(name)
            if idx is None:
                idx = node_index[name] = len(node_index)
            return idx

        subs = data.layer("substations")
        mv = data.layer("mv_lines")
        lv = data.layer("lv_lines")
        sw = data.layer("switches")
        tr = data.layer("transformers")
        poles = data.layer("poles")
        sps = data.layer("service_points")

        eu: list[int] = []
        ev: list[int] = []
        ekind: list[int] = []
        erow: list[int] = []
        for kind, frame, a, b in (
            (MV_LINE, mv, "from_node", "to_node"),
            (LV_LINE, lv, "from_node", "to_node"),
            (SWITCH, sw, "from_node", "to_node"),
            (TRANSFORMER, tr, "hv_node", "lv_node"),
        ):
            us = frame[a].tolist()
            vs = frame[b].tolist()
            ids = frame["id"].tolist()
            for row in range(len(frame)):
                # an end without a node (its geometry was rejected) is a dangling node of its own
                eu.append(nid(str(us[row]) if us[row] else f"~none:{ids[row]}:{a}"))
                ev.append(nid(str(vs[row]) if vs[row] else f"~none:{ids[row]}:{b}"))
                ekind.append(kind)
                erow.append(row)
        self.edge_ids: list[str] = []
        for frame in (mv, lv, sw, tr):
            self.edge_ids.extend(str(v) for v in frame["id"].tolist())
        # Sections of lines cut by a tee: the line's own edge ends at its first inner node;
        # the other sections are edges after the transformers'.
        self.line_sections: dict[int, list[int]] = {}
        offset = 0
        for kind, frame in ((MV_LINE, mv), (LV_LINE, lv)):
            if VIA_COLUMN in frame.columns:
                for row, via in enumerate(frame[VIA_COLUMN].tolist()):
                    if not via:
                        continue
                    inner = [str(n) for n in json.loads(via)]
                    first = offset + row
                    ev[first] = nid(inner[0])
                    sections = [first]
                    ends = [*inner[1:], str(frame["to_node"].iat[row])]
                    for a, b in zip(ends[::2], ends[1::2], strict=True):
                        sections.append(len(eu))
                        eu.append(nid(a))
                        ev.append(nid(b))
                        ekind.append(kind)
                        erow.append(row)
                        self.edge_ids.append(self.edge_ids[first])
                    self.line_sections[first] = sections
            offset += len(frame)
        self.edge_u = np.asarray(eu, dtype=np.int64)
        self.edge_v = np.asarray(ev, dtype=np.int64)
        self.edge_kind = np.asarray(ekind, dtype=np.int64)
        self.edge_row = np.asarray(erow, dtype=np.int64)
        n_edges = len(eu)
        self._edge_offset = {
            MV_LINE: 0,
            LV_LINE: len(mv),
            SWITCH: len(mv) + len(lv),
            TRANSFORMER: len(mv) + len(lv) + len(sw),
        }
        self._n_elements = len(mv) + len(lv) + len(sw) + len(tr)

        # switch states
        sw_kind = sw["kind"].tolist()
        normal = sw["normal_state"].tolist()
        self.switch_kind = {str(i): str(k) for i, k in zip(sw["id"].tolist(), sw_kind, strict=True)}
        self.normal_state = {
            str(i): str(s or "closed") for i, s in zip(sw["id"].tolist(), normal, strict=True)
        }
        closed = np.ones(n_edges, dtype=bool)
        protective = np.zeros(n_edges, dtype=bool)
        device = np.zeros(n_edges, dtype=bool)
        off = self._edge_offset[SWITCH]
        for row, sid in enumerate(sw["id"].tolist()):
            state = self.switch_states.get(str(sid), self.normal_state[str(sid)])
            closed[off + row] = state == "closed"
            device[off + row] = True
            protective[off + row] = sw_kind[row] in PROTECTIVE_SWITCH_KINDS
        off_t = self._edge_offset[TRANSFORMER]
        device[off_t : off_t + len(tr)] = True
        protective[off_t : off_t + len(tr)] = True  # a transformer is its own fuse
        self.edge_closed = closed
        self.edge_device = device
        self.edge_protective = protective

        # roots
        self.root_substation: dict[int, str] = {}
        self.substation_nodes: dict[str, list[int]] = {}
        for sid, node in zip(subs["id"].tolist(), subs["node"].tolist(), strict=True):
            if node is None:
                continue
            n = nid(str(node))
            self.root_substation.setdefault(n, str(sid))
            self.substation_nodes.setdefault(str(sid), []).append(n)

        # attachments
        tr_lv = {
            str(t): nid(str(v))
            for t, v in zip(tr["id"].tolist(), tr["lv_node"].tolist(), strict=True)
        }
        sp_nodes = np.empty(len(sps), dtype=np.int64)
        sp_node_col = sps["node"].tolist()
        sp_tr = sps["transformer_id"].tolist()
        for row in range(len(sps)):
            node = sp_node_col[row]
            if node:
                sp_nodes[row] = nid(str(node))
            else:
                sp_nodes[row] = tr_lv.get(str(sp_tr[row]), nid(f"~unfed:{sp_tr[row]}"))
        self.sp_node = sp_nodes
        self.sp_ids = [str(v) for v in sps["id"].tolist()]
        pole_node_col = poles["node"].tolist()
        pole_line_col = (
            poles["line_id"].tolist() if "line_id" in poles.columns else [None] * len(poles)
        )
        self.pole_ids = [str(v) for v in poles["id"].tolist()]
        self.pole_node = [nid(str(n)) if n else -1 for n in pole_node_col]
        self.pole_line = [str(x) if x else None for x in pole_line_col]

        self.node_names = list(node_index)
        self.node_index = node_index
        self.n_nodes = len(node_index)

        # element lookup: id -> (kind, index)
        elements: dict[str, tuple[int, int]] = {}
        for i, eid in enumerate(self.edge_ids[: self._n_elements]):
            elements[eid] = (int(self.edge_kind[i]), i)
        for sid in self.substation_nodes:
            elements.setdefault(sid, (SUBSTATION, 0))
        for i, pid in enumerate(self.pole_ids):
            elements.setdefault(pid, (POLE, i))
        for i, spid in enumerate(self.sp_ids):
            elements.setdefault(spid, (SERVICE_POINT, i))
        self.elements = elements

        self._trace_tree()

    def _trace_tree(self) -> None:
        n = self.n_nodes
        root = n  # a virtual node above every substation bus
        conducting = self.edge_closed
        us, vs = self.edge_u[conducting], self.edge_v[conducting]
        bus = np.asarray(sorted(self.root_substation), dtype=np.int64)
        rows = np.concatenate([us, vs, np.full(len(bus), root), bus])
        cols = np.concatenate([vs, us, bus, np.full(len(bus), root)])
        graph = csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + 1, n + 1))
        order, pred = breadth_first_order(graph, root, directed=True, return_predecessors=True)
        parent = pred.astype(np.int64)
        parent[root] = -1
        reached = np.zeros(n + 1, dtype=bool)
        reached[order] = True

        # parent edge of each reached node
        keyspace = n + 1
        edge_idx = np.flatnonzero(conducting)
        lo = np.minimum(us, vs)
        hi = np.maximum(us, vs)
        keys = lo * keyspace + hi
        sort = np.argsort(keys, kind="stable")
        keys_sorted = keys[sort]
        parent_edge = np.full(n + 1, -1, dtype=np.int64)
        child = order[1:]
        child = child[parent[child] != root]
        pk = np.minimum(child, parent[child]) * keyspace + np.maximum(child, parent[child])
        at = np.searchsorted(keys_sorted, pk)
        parent_edge[child] = edge_idx[sort[at]]
        tree_edge = np.zeros(len(self.edge_u), dtype=bool)
        tree_edge[parent_edge[child]] = True

        # loops: conducting edges between reached nodes that the tree did not use
        self.loop_edges = np.flatnonzero(
            conducting & ~tree_edge & reached[self.edge_u] & reached[self.edge_v]
        )
        self.energised = reached[:n].copy()

        # De-energised parts (a switch opened at run time) hang below the open switch that
        # isolates them, so that their traces still name their feeder and devices.
        dead_heads, dead_order = self._hang_dead_sections(parent, parent_edge, reached, tree_edge)
        # parents before children: the supply tree, then the dead sections
        topo = np.concatenate([order, np.asarray(dead_order, dtype=np.int64)])

        # Depth-first preorder for contiguous subtrees. A dead section is its own subtree (under
        # the virtual root), so that nothing energised counts it as downstream.
        dfs_parent = parent.copy()
        if dead_heads:
            dfs_parent[np.asarray(dead_heads, dtype=np.int64)] = root
        tree_nodes = np.flatnonzero(dfs_parent >= 0)
        tree_nodes = tree_nodes[tree_nodes != root]
        tp = dfs_parent[tree_nodes]
        tree = csr_matrix(
            (np.ones(len(tree_nodes), dtype=np.int8), (tp, tree_nodes)), shape=(n + 1, n + 1)
        )
        pre = depth_first_order(tree, root, directed=True, return_predecessors=False)
        pos = np.full(n + 1, -1, dtype=np.int64)
        pos[pre] = np.arange(len(pre))
        size = np.ones(n + 1, dtype=np.int64)
        for v in pre[::-1].tolist():
            p = int(dfs_parent[v])
            if p >= 0:
                size[p] += size[v]
        self.parent = parent
        self.parent_edge = parent_edge
        self.tree_edge = tree_edge
        self.pos = pos
        self.size = size
        self.preorder = pre

        # nearest device / protective device at or above each node; feeder; substation
        near_dev = np.full(n + 1, -1, dtype=np.int64)
        near_prot = np.full(n + 1, -1, dtype=np.int64)
        root_of = np.full(n + 1, -1, dtype=np.int64)
        feeder: list[str | None] = [None] * (n + 1)
        mv_feeder = self.data.layer("mv_lines")["feeder"].tolist()
        sw_feeder = self.data.layer("switches")["feeder"].tolist()
        edge_kind = self.edge_kind
        edge_row = self.edge_row
        edge_device = self.edge_device
        edge_prot = self.edge_protective
        for v in topo[1:].tolist():
            p = int(parent[v])
            e = int(parent_edge[v])
            if p == root:
                root_of[v] = v
                continue
            root_of[v] = root_of[p]
            if e >= 0 and edge_device[e]:
                near_dev[v] = e
            else:
                near_dev[v] = near_dev[p]
            near_prot[v] = e if (e >= 0 and edge_prot[e]) else near_prot[p]
            f = feeder[p]
            if f is None and e >= 0 and edge_kind[e] == MV_LINE:
                f = mv_feeder[int(edge_row[e])]
            feeder[v] = f
        # Nodes between a bus and the first line (a breaker's load side) take the feeder below.
        for v in topo[::-1].tolist():
            if feeder[v] is None and parent[v] >= 0 and parent[v] != root:
                e = int(parent_edge[v])
                if e >= 0 and edge_kind[e] == SWITCH and sw_feeder[int(edge_row[e])]:
                    feeder[v] = sw_feeder[int(edge_row[e])]
        for v in topo[::-1].tolist():
            p = int(parent[v])
            if (
                feeder[v] is not None
                and p >= 0
                and p != root
                and feeder[p] is None
                and p not in self.root_substation
            ):
                feeder[p] = feeder[v]
        self.near_dev = near_dev
        self.near_prot = near_prot
        self.root_of = root_of
        self.feeder = feeder

        # device chains: the nearest device above each device
        dev_up = np.full(len(self.edge_u), -1, dtype=np.int64)
        prot_up = np.full(len(self.edge_u), -1, dtype=np.int64)
        upper = self._upper_nodes()
        self.upper = upper
        for e in np.flatnonzero(edge_device).tolist():
            u = int(upper[e])
            if u >= 0:
                dev_up[e] = near_dev[u]
                prot_up[e] = near_prot[u]
        self.dev_up = dev_up
        self.prot_up = prot_up
        self._line_anchor = {
            first: self._section_anchor(sections) for first, sections in self.line_sections.items()
        }

        # service points and transformers by tree position
        sp_pos = pos[self.sp_node]
        self._sp_order = np.argsort(sp_pos, kind="stable")
        self._sp_pos_sorted = sp_pos[self._sp_order]
        tr_edges = np.flatnonzero(edge_kind == TRANSFORMER)
        tr_lower = self.edge_v[tr_edges]
        tr_pos = np.where(self.tree_edge[tr_edges], pos[tr_lower], -1)
        order_t = np.argsort(tr_pos, kind="stable")
        self._tr_pos_sorted = tr_pos[order_t].tolist()
        self._tr_edges_sorted = tr_edges[order_t]

    def _section_anchor(self, sections: list[int]) -> tuple[int, int, int]:
        """(edge, supply-side node, load-side node) of a line cut into ``sections``: the
        section where supply enters it. Fed inside (two sections leave the entry), the line's
        load side is the entry node itself."""
        upper = self.upper
        lowers: set[int] = set()
        for e in sections:
            if self.tree_edge[e] and self.edge_closed[e] and upper[e] >= 0:
                u, v = int(self.edge_u[e]), int(self.edge_v[e])
                lowers.add(v if int(upper[e]) == u else u)
        entries = [e for e in sections if int(upper[e]) >= 0 and int(upper[e]) not in lowers]
        if not entries:
            return sections[0], int(upper[sections[0]]), -1
        e = entries[0]
        up = int(upper[e])
        if len({x for x in entries if int(upper[x]) == up}) > 1:
            return e, up, up
        if not (self.tree_edge[e] and self.edge_closed[e]):
            return e, up, -1
        u, v = int(self.edge_u[e]), int(self.edge_v[e])
        return e, up, v if up == u else u

    def _hang_dead_sections(
        self,
        parent: IntArray,
        parent_edge: IntArray,
        reached: npt.NDArray[np.bool_],
        tree_edge: npt.NDArray[np.bool_],
    ) -> tuple[list[int], list[int]]:
        """Returns the dead sections' head nodes and all their nodes, parents first."""
        heads: list[int] = []
        dead_order: list[int] = []
        if reached[: self.n_nodes].all():
            return heads, dead_order
        adjacency: dict[int, list[tuple[int, int]]] = {}
        for e in np.flatnonzero(self.edge_closed).tolist():
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            if not reached[u] or not reached[v]:
                adjacency.setdefault(u, []).append((v, e))
                adjacency.setdefault(v, []).append((u, e))
        queue: deque[int] = deque()
        for e in np.flatnonzero(~self.edge_closed).tolist():
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            for fed, dead in ((u, v), (v, u)):
                if reached[fed] and not reached[dead]:
                    parent[dead] = fed
                    parent_edge[dead] = e
                    tree_edge[e] = True
                    reached[dead] = True
                    queue.append(dead)
                    heads.append(dead)
                    dead_order.append(dead)
        while queue:
            a = queue.popleft()
            for b, e in adjacency.get(a, ()):
                if not reached[b]:
                    reached[b] = True
                    parent[b] = a
                    parent_edge[b] = e
                    tree_edge[e] = True
                    queue.append(b)
                    dead_order.append(b)
        return heads, dead_order

    def _upper_nodes(self) -> IntArray:
        """For each edge, the node on its supply side: the parent side when it is in the tree,
        else the side that is fed (the from side when both are)."""
        u, v = self.edge_u, self.edge_v
        upper = np.where(self.energised[u], u, np.where(self.energised[v], v, -1))
        tree = self.tree_edge
        child_is_v = self.parent[v] == u
        upper = np.where(tree & child_is_v, u, upper)
        upper = np.where(tree & ~child_is_v & (self.parent[u] == v), v, upper)
        return upper.astype(np.int64)

    # -- import checks --------------------------------------------------------------------

    def check(self) -> list[Problem]:
        """Islands and closed loops in this switching state, as import problems."""
        problems: list[Problem] = []
        reached_primary = self.energised
        sps = self.data.layer("service_points")
        customers: dict[str, int] | None = None  # counted when an island transformer needs it
        # islands
        for e in range(len(self.edge_u)):
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            kind = int(self.edge_kind[e])
            if kind == SWITCH and not self.edge_closed[e]:
                if not reached_primary[u] and not reached_primary[v]:
                    problems.append(
                        Problem(
                            "switches", self.edge_ids[e], "island: no substation feeds either side"
                        )
                    )
                continue
            if not reached_primary[u] or not reached_primary[v]:
                layer = EDGE_LAYERS[kind]
                extra = ""
                if kind == TRANSFORMER:
                    if customers is None:
                        customers = self.data.customers_by_transformer()
                    count = customers.get(self.edge_ids[e], 0)
                    extra = f", with {count} service points"
                problems.append(
                    Problem(layer, self.edge_ids[e], f"island: no substation feeds it{extra}")
                )
        unfed_tr = {
            self.edge_ids[e]
            for e in np.flatnonzero(self.edge_kind == TRANSFORMER).tolist()
            if not reached_primary[int(self.edge_v[e])]
        }
        for row, node in enumerate(self.sp_node.tolist()):
            if not reached_primary[node] and sps["transformer_id"].iat[row] not in unfed_tr:
                problems.append(
                    Problem("service_points", self.sp_ids[row], "island: no substation feeds it")
                )
        for row, node in enumerate(self.pole_node):
            if node >= 0 and not reached_primary[node]:
                problems.append(
                    Problem("poles", self.pole_ids[row], "island: no substation feeds it")
                )
        # loops
        for e in self.loop_edges.tolist():
            cycle = self._cycle_through(e)
            kind = int(self.edge_kind[e])
            names = ", ".join(cycle)
            if cycle and cycle[-1].startswith("substations "):
                msg = f"closed path between substations in the normal state: {names}"
            else:
                msg = f"closed loop in the normal state: {names}"
            problems.append(Problem(EDGE_LAYERS[kind], self.edge_ids[e], msg))
        return problems

    def _cycle_through(self, e: int) -> list[str]:
        a, b = int(self.edge_u[e]), int(self.edge_v[e])
        path_a = self._path_to_root(a)
        path_b = self._path_to_root(b)
        set_b = {node: i for i, node in enumerate(path_b)}
        cycle_edges = [self.edge_ids[e]]
        lca = None
        for node in path_a:
            if node in set_b:
                lca = node
                break
            if self.parent_edge[node] >= 0:  # a bus hangs on the virtual root by no edge
                cycle_edges.append(self.edge_ids[int(self.parent_edge[node])])
        for node in path_b:
            if node == lca:
                break
            if self.parent_edge[node] >= 0:
                cycle_edges.append(self.edge_ids[int(self.parent_edge[node])])
        if lca == self.n_nodes or lca is None:
            subs = sorted(
                {
                    self.root_substation.get(int(self.root_of[a]), "?"),
                    self.root_substation.get(int(self.root_of[b]), "?"),
                }
            )
            cycle_edges = [c for c in cycle_edges if c]
            cycle_edges.append("substations " + " and ".join(subs))
        return cycle_edges

    def _path_to_root(self, node: int) -> list[int]:
        path = []
        while node >= 0:
            path.append(node)
            node = int(self.parent[node])
        return path

    # -- questions -------------------------------------------------------------------------

    def kind_of(self, element_id: str) -> str:
        return KIND_NAMES[self._lookup(element_id)[0]]

    def _lookup(self, element_id: str) -> tuple[int, int]:
        try:
            return self.elements[element_id]
        except KeyError:
            raise UnknownElementError(element_id) from None

    def edge_index(self, element_id: str) -> int:
        kind, idx = self._lookup(element_id)
        if kind not in EDGE_LAYERS:
            raise UnknownElementError(element_id)
        return idx

    def _anchor(self, element_id: str) -> tuple[int, int, int, int]:
        """(kind, edge or -1, supply-side node, load-side node or -1) of an element."""
        kind, idx = self._lookup(element_id)
        if idx in self._line_anchor and kind in (MV_LINE, LV_LINE):
            edge, upper, lower = self._line_anchor[idx]
            return kind, edge, upper, lower
        if kind in EDGE_LAYERS:
            upper = int(self.upper[idx])
            lower = -1
            if self.tree_edge[idx] and self.edge_closed[idx]:
                u, v = int(self.edge_u[idx]), int(self.edge_v[idx])
                lower = v if upper == u else u
            elif self.tree_edge[idx]:  # an open switch in the tree: dead section below it
                lower = -1
            return kind, idx, upper, lower
        if kind == SERVICE_POINT:
            node = int(self.sp_node[idx])
            return kind, -1, node, -1
        if kind == POLE:
            node = self.pole_node[idx]
            if node >= 0:
                return kind, -1, node, node
            line = self.pole_line[idx]
            if line is None:
                return kind, -1, -1, -1
            return self._anchor(line)
        # substation: the first bus
        node = self.substation_nodes[element_id][0]
        return kind, -1, node, node

    def upstream_devices(self, element_id: str) -> list[str]:
        _kind, _edge, upper, _lower = self._anchor(element_id)
        out: list[str] = []
        if upper < 0:
            return out
        d = int(self.near_dev[upper])
        while d >= 0:
            out.append(self.edge_ids[d])
            d = int(self.dev_up[d])
        return out

    def protective_device(self, element_id: str) -> str | None:
        kind, edge, upper, _lower = self._anchor(element_id)
        if edge >= 0 and self.edge_protective[edge] and kind in (SWITCH, TRANSFORMER):
            return self.edge_ids[edge]
        if upper < 0:
            return None
        p = int(self.near_prot[upper])
        return self.edge_ids[p] if p >= 0 else None

    def protective_chain(self, element_id: str) -> list[str]:
        """Protective devices from the element (itself included) up to the substation."""
        kind, edge, upper, _lower = self._anchor(element_id)
        out: list[str] = []
        if edge >= 0 and self.edge_protective[edge] and kind in (SWITCH, TRANSFORMER):
            out.append(self.edge_ids[edge])
        if upper < 0:
            return out
        p = int(self.near_prot[upper])
        while p >= 0:
            out.append(self.edge_ids[p])
            p = int(self.prot_up[p])
        return out

    def _subtree(self, element_id: str) -> tuple[int, int] | None:
        kind, _edge, _upper, lower = self._anchor(element_id)
        if kind == SERVICE_POINT or lower < 0:
            return None
        if kind == SUBSTATION or self.pos[lower] < 0:
            return None
        start = int(self.pos[lower])
        return start, start + int(self.size[lower])

    def downstream_transformers(self, element_id: str) -> list[str]:
        kind, _idx = self._lookup(element_id)
        if kind == SUBSTATION:
            out: list[str] = []
            for node in self.substation_nodes[element_id]:
                out.extend(
                    self._transformers_in(
                        int(self.pos[node]), int(self.pos[node] + self.size[node])
                    )
                )
            return out
        span = self._subtree(element_id)
        if span is None:
            return []
        return self._transformers_in(*span)

    def downstream_lines(self, element_id: str) -> list[str]:
        """The 10 kV sections below an element (its subtree's lines), in depth-first order."""
        span = self._subtree(element_id)
        if span is None:
            return []
        edges = self.parent_edge[self.preorder[span[0] : span[1]]]
        edges = edges[edges >= 0]
        edges = edges[self.edge_kind[edges] == MV_LINE]
        return [self.edge_ids[int(e)] for e in edges.tolist()]

    def _transformers_in(self, start: int, stop: int) -> list[str]:
        i = bisect.bisect_left(self._tr_pos_sorted, start)
        j = bisect.bisect_left(self._tr_pos_sorted, stop)
        return [self.edge_ids[int(e)] for e in self._tr_edges_sorted[i:j]]

    def _sp_range(self, start: int, stop: int) -> tuple[int, int]:
        i = int(np.searchsorted(self._sp_pos_sorted, start, side="left"))
        j = int(np.searchsorted(self._sp_pos_sorted, stop, side="left"))
        return i, j

    def downstream_service_point_count(self, element_id: str) -> int:
        kind, _idx = self._lookup(element_id)
        if kind == SERVICE_POINT:
            return 1
        if kind == SUBSTATION:
            total = 0
            for node in self.substation_nodes[element_id]:
                i, j = self._sp_range(int(self.pos[node]), int(self.pos[node] + self.size[node]))
                total += j - i
            return total
        span = self._subtree(element_id)
        if span is None:
            return 0
        i, j = self._sp_range(*span)
        return j - i

    def downstream_service_points(self, element_id: str) -> list[str]:
        kind, _idx = self._lookup(element_id)
        if kind == SERVICE_POINT:
            return [element_id]
        span = self._subtree(element_id)
        if span is None:
            return []
        i, j = self._sp_range(*span)
        return [self.sp_ids[int(k)] for k in self._sp_order[i:j]]

    def downstream_service_point_rows(self, element_id: str) -> IntArray:
        """Row numbers (in the service_points layer) below an element."""
        kind, idx = self._lookup(element_id)
        if kind == SERVICE_POINT:
            return np.asarray([idx], dtype=np.int64)
        span = self._subtree(element_id)
        if span is None:
            return np.zeros(0, dtype=np.int64)
        i, j = self._sp_range(*span)
        return np.asarray(self._sp_order[i:j], dtype=np.int64)

    def feeder_of(self, element_id: str) -> str | None:
        """The feeder that supplies the element now: the feeder of the first 10 kV line below
        the substation on its supply path (its own feeder column when it is not fed)."""
        kind, edge, upper, lower = self._anchor(element_id)
        if kind == SUBSTATION:
            return None
        for node in (lower, upper):
            if node >= 0 and self.feeder[node] is not None:
                return self.feeder[node]
        if edge >= 0 and int(self.edge_kind[edge]) in (MV_LINE, SWITCH, TRANSFORMER):
            layer = EDGE_LAYERS[int(self.edge_kind[edge])]
            f = self.data.layer(layer)["feeder"].iat[int(self.edge_row[edge])]
            return str(f) if f else None
        return None

    def substation_of(self, element_id: str) -> str | None:
        kind, _edge, upper, _lower = self._anchor(element_id)
        if kind == SUBSTATION:
            return element_id
        if upper < 0:
            return None
        r = int(self.root_of[upper])
        if r < 0 and upper in self.root_substation:
            r = upper
        return self.root_substation.get(r)

    def is_energised(self, element_id: str) -> bool:
        _kind, edge, upper, lower = self._anchor(element_id)
        if edge >= 0 and int(self.edge_kind[edge]) == SWITCH and not self.edge_closed[edge]:
            return bool(upper >= 0 and self.energised[upper])
        node = lower if lower >= 0 else upper
        return bool(node >= 0 and node < self.n_nodes and self.energised[node])

    def trace(self, element_id: str) -> Trace:
        kind, _idx = self._lookup(element_id)
        return Trace(
            element_id=element_id,
            kind=KIND_NAMES[kind],
            feeder=self.feeder_of(element_id),
            substation_id=self.substation_of(element_id),
            upstream_devices=self.upstream_devices(element_id),
            protective_device_id=self.protective_device(element_id),
            downstream_transformers=self.downstream_transformers(element_id),
            downstream_service_points=self.downstream_service_point_count(element_id),
            energised=self.is_energised(element_id),
        )

    # -- switching -------------------------------------------------------------------------

    def with_switch_states(self, states: dict[str, str]) -> NetworkModel:
        """A model of the same grid with some switches in another state (a tie closed, a
        switch opened for a planned outage)."""
        for sid, state in states.items():
            if sid not in self.switch_kind:
                raise UnknownElementError(sid)
            if state not in ("open", "closed"):
                raise ValueError(f"switch state must be open or closed, not {state!r}")
        merged = {**self.switch_states, **states}
        return NetworkModel(self.data, merged)

    @property
    def transformer_ids(self) -> list[str]:
        off = self._edge_offset[TRANSFORMER]
        return self.edge_ids[off : self._n_elements]

    @property
    def switch_ids(self) -> list[str]:
        off = self._edge_offset[SWITCH]
        return self.edge_ids[off : self._edge_offset[TRANSFORMER]]

    def feeders(self) -> list[str]:
        return sorted({str(f) for f in self.data.layer("mv_lines")["feeder"].tolist() if f})
