"""An independent, deliberately plain trace of a grid, to check the network model against.

It walks a networkx graph built from the generator's true node columns, with none of the
model's precomputation (no preorder ranges, no device chains).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

PROTECTIVE = {"breaker", "recloser", "fuse"}


class ReferenceTracer:
    def __init__(self, rows: dict[str, list[dict[str, Any]]], states: dict[str, str] | None = None):
        states = states or {}
        self.rows = rows
        self.graph = nx.Graph()
        self.edges: dict[str, tuple[str, str, str, dict[str, Any]]] = {}
        for layer, a, b in (
            ("mv_lines", "from_node", "to_node"),
            ("lv_lines", "from_node", "to_node"),
            ("switches", "from_node", "to_node"),
            ("transformers", "hv_node", "lv_node"),
        ):
            for r in rows.get(layer, []):
                self.edges[r["id"]] = (layer, r[a], r[b], r)
                closed = True
                if layer == "switches":
                    closed = states.get(r["id"], r.get("normal_state") or "closed") == "closed"
                if closed:
                    self.graph.add_edge(r[a], r[b], id=r["id"])
        self.root = "__root__"
        for s in rows["substations"]:
            self.graph.add_edge(self.root, s["node"], id=None)
        self.parent = dict(nx.bfs_predecessors(self.graph, self.root))
        self.children: dict[str, list[str]] = {}
        for child, par in self.parent.items():
            self.children.setdefault(par, []).append(child)
        self.sp_node = {}
        tr_lv = {r["id"]: r["lv_node"] for r in rows["transformers"]}
        for r in rows["service_points"]:
            self.sp_node[r["id"]] = r.get("node") or tr_lv[r["transformer_id"]]
        self.node_sps: dict[str, int] = {}
        for node in self.sp_node.values():
            self.node_sps[node] = self.node_sps.get(node, 0) + 1
        self.tr_by_lv = {r["lv_node"]: r["id"] for r in rows["transformers"]}

    def reached(self, node: str) -> bool:
        return node in self.parent

    def _sides(self, eid: str) -> tuple[str | None, str | None]:
        _layer, a, b, _r = self.edges[eid]
        closed_edge = self.graph.has_edge(a, b) and self.graph.edges[a, b]["id"] == eid
        if closed_edge and self.parent.get(b) == a:
            return a, b
        if closed_edge and self.parent.get(a) == b:
            return b, a
        upper = a if self.reached(a) else (b if self.reached(b) else None)
        return upper, None

    def _descendants(self, node: str) -> list[str]:
        out, stack = [], [node]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(self.children.get(n, []))
        return out

    def _path_edges(self, node: str) -> list[str]:
        """Edge ids from node up to the substation, nearest first."""
        out = []
        while node in self.parent and self.parent[node] != self.root:
            par = self.parent[node]
            out.append(self.graph.edges[node, par]["id"])
            node = par
        return out

    def trace(self, eid: str) -> dict[str, Any]:
        own_protective = False
        if eid in self.edges:
            layer, _a, _b, r = self.edges[eid]
            upper, lower = self._sides(eid)
            own_protective = layer == "transformers" or (
                layer == "switches" and r["kind"] in PROTECTIVE
            )
            own_edge = [eid] if lower is not None else []
        elif eid in self.sp_node:
            upper, lower = self.sp_node[eid], None
            own_edge = []
        else:
            pole = next(p for p in self.rows["poles"] if p["id"] == eid)
            upper = lower = pole["node"]
            own_edge = []
        path = self._path_edges(upper) if upper else []
        devices = [e for e in path if self.edges[e][0] in ("switches", "transformers")]
        protective = (
            eid
            if own_protective
            else next(
                (
                    e
                    for e in devices
                    if self.edges[e][0] == "transformers" or self.edges[e][3]["kind"] in PROTECTIVE
                ),
                None,
            )
        )
        full_path = own_edge + path
        mv = [e for e in full_path if self.edges[e][0] == "mv_lines"]
        feeder = self.edges[mv[-1]][3]["feeder"] if mv else None
        if feeder is None and lower is not None:
            # a device between the bus and the first line: the feeder it feeds
            for n in self._descendants(lower):
                par = self.parent.get(n)
                if par is not None and par != self.root and self.graph.has_edge(n, par):
                    edge = self.graph.edges[n, par]["id"]
                    if edge and self.edges[edge][0] == "mv_lines":
                        feeder = self.edges[edge][3]["feeder"]
                        break
        if feeder is None and eid in self.edges:
            feeder = self.edges[eid][3].get("feeder")  # an open switch at the bus: its own
        root_bus = None
        node = upper
        while node and node in self.parent and self.parent[node] != self.root:
            node = self.parent[node]
        if node and self.parent.get(node) == self.root:
            root_bus = node
        substation = next(
            (s["id"] for s in self.rows["substations"] if s["node"] == root_bus), None
        )
        if eid in self.sp_node:
            down_tr: list[str] = []
            count = 1
        elif lower is None:
            down_tr, count = [], 0
        else:
            desc = self._descendants(lower)
            down_tr = [self.tr_by_lv[n] for n in desc if n in self.tr_by_lv]
            count = sum(self.node_sps.get(n, 0) for n in desc)
        return {
            "element_id": eid,
            "feeder": feeder,
            "substation_id": substation,
            "upstream_devices": devices,
            "protective_device_id": protective,
            "downstream_transformers": sorted(down_tr),
            "downstream_service_points": count,
        }
