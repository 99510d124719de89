"""The one-line (schematic) diagram: the package's ``schematic`` layer, or one made per feeder.

A generated diagram lays each feeder out as a tree: depth along x (one step per line
section or device), branches stacked along y so that no two subtrees overlap (the classic
tidy layout of a one-line diagram: the trunk straight, laterals hanging below it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from layers.grid import GridData
from layers.network import LV_LINE, NetworkModel

FEEDER_GAP = 4.0  # diagram units between feeders


def ensure_schematic(data: GridData, model: NetworkModel) -> None:
    """Keeps a given schematic layer; otherwise generates one for every feeder."""
    if not data.has("schematic"):
        data.frames["schematic"] = generate_schematic(model)


def generate_schematic(model: NetworkModel) -> pd.DataFrame:
    """Diagram geometry for every 10 kV element, switch and transformer (400 V omitted)."""
    n = model.n_nodes
    parent = model.parent
    pre = model.preorder
    root = n
    children: dict[int, list[int]] = {}
    for v in pre[1:].tolist():
        p = int(parent[v])
        if p >= 0:
            children.setdefault(p, []).append(v)

    # leaf counts (height of each subtree in rows), ignoring the 400 V network
    def is_mv_edge(v: int) -> bool:
        e = int(model.parent_edge[v])
        return e < 0 or int(model.edge_kind[e]) != LV_LINE

    rows: dict[int, float] = {}
    depth: dict[int, float] = {}
    leaves = np.zeros(n + 1, dtype=np.float64)
    for v in pre[::-1].tolist():
        kids = [c for c in children.get(v, []) if is_mv_edge(c)]
        leaves[v] = max(1.0, float(sum(leaves[c] for c in kids)))
    cursor = 0.0
    stack: list[tuple[int, float, float]] = []
    for bus in sorted(children.get(root, []), key=lambda b: model.node_names[b]):
        stack.append((bus, 0.0, cursor))
        cursor += leaves[bus] + FEEDER_GAP
    while stack:
        v, d, top = stack.pop()
        depth[v] = d
        rows[v] = top
        offset = top
        kids = [c for c in children.get(v, []) if is_mv_edge(c)]
        # the longest child continues straight (the trunk); the others hang below
        kids.sort(key=lambda c: -leaves[c])
        for c in kids:
            stack.append((c, d + 1.0, offset))
            offset += leaves[c]
    records: list[dict[str, Any]] = []
    for v, d in depth.items():
        e = int(model.parent_edge[v])
        p = int(parent[v])
        if e < 0 or p < 0 or p == root or p not in depth:
            continue
        a = (depth[p], -rows[p])
        b = (d, -rows[v])
        geom: Any = (
            shapely.LineString([a, (a[0], b[1]), b]) if a[1] != b[1] else shapely.LineString([a, b])
        )
        eid = model.edge_ids[e]
        records.append({"element_id": eid, "feeder": model.feeder[v], "geometry": geom})
    frame = pd.DataFrame(records, columns=["element_id", "feeder", "geometry"])
    frame = frame.astype({"element_id": object, "feeder": object})
    frame["attrs"] = pd.Series([{} for _ in range(len(frame))], dtype=object)
    return frame
