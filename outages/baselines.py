"""Two baselines for repeat grouping, measured beside gridcall in the same run.

* ``same_transformer``: calls located on the same transformer are one fault; the device is
  that transformer. What a ticket system with a transformer field does.
* ``dbscan``: pure space-time clustering of the located positions (DBSCAN on metres and
  minutes scaled to metres), blind to the network; the device is the deepest protective
  device above the cluster's transformers (a generous reading).

Both produce the replay output format (CONTRACT section 3), so that one evaluator scores
all three.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import DBSCAN

from layers.network import NetworkModel, UnknownElementError
from outages.calls import Call
from outages.locate.model import Location


@dataclass(frozen=True)
class LocatedCall:
    call: Call
    location: Location


def _lca(model: NetworkModel, transformers: Sequence[str]) -> str | None:
    chains = []
    for t in transformers:
        try:
            chains.append(model.protective_chain(t))
        except UnknownElementError:
            continue
    if not chains:
        return None
    common = set(chains[0])
    for c in chains[1:]:
        common &= set(c)
    return next((d for d in chains[0] if d in common), None)


def _output(
    groups: dict[str, list[LocatedCall]], devices: dict[str, str | None], method: str
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for gid, members in groups.items():
        for i, lc in enumerate(sorted(members, key=lambda m: m.call.received_at)):
            lines.append(
                {
                    "call_id": lc.call.call_id,
                    "status": "new" if i == 0 else "merged",
                    "incident_id": gid,
                    "work_order_id": None,
                    "predicted_device_id": devices[gid],
                    "unit_id": None,
                    "location": lc.location.contract_dict(),
                    "reason": method,
                }
            )
    lines.append(
        {
            "final": {
                "incidents": [
                    {
                        "incident_id": gid,
                        "predicted_device_id": devices[gid],
                        "unit_id": None,
                        "call_ids": sorted(m.call.call_id for m in members),
                    }
                    for gid, members in groups.items()
                ]
            }
        }
    )
    return lines


def same_transformer(calls: Sequence[LocatedCall]) -> list[dict[str, Any]]:
    groups: dict[str, list[LocatedCall]] = defaultdict(list)
    for lc in calls:
        key = lc.location.transformer_id or f"~alone:{lc.call.call_id}"
        groups[f"T:{key}"].append(lc)
    devices = {g: (g[2:] if not g.startswith("T:~") else None) for g in groups}
    return _output(groups, devices, "baseline: same transformer")


def dbscan(
    calls: Sequence[LocatedCall],
    model: NetworkModel,
    *,
    eps_m: float = 800.0,
    metres_per_minute: float = 40.0,
) -> list[dict[str, Any]]:
    located: list[LocatedCall] = []
    alone: list[LocatedCall] = []
    for lc in calls:
        placed = lc.location.lon is not None and lc.location.lat is not None
        (located if placed else alone).append(lc)
    groups: dict[str, list[LocatedCall]] = defaultdict(list)
    if located:
        frame = model.data.frame
        x, y = frame.forward(
            [float(lc.location.lon or 0.0) for lc in located],
            [float(lc.location.lat or 0.0) for lc in located],
        )
        t0 = min(lc.call.received_at for lc in located)
        minutes = np.asarray([(lc.call.received_at - t0).total_seconds() / 60 for lc in located])
        features = np.column_stack([x, y, minutes * metres_per_minute])
        labels = DBSCAN(eps=eps_m, min_samples=1).fit_predict(features)
        for lc, label in zip(located, labels.tolist(), strict=True):
            groups[f"D:{label}"].append(lc)
    for lc in alone:
        groups[f"D:~{lc.call.call_id}"].append(lc)
    devices = {
        g: _lca(model, [m.location.transformer_id for m in ms if m.location.transformer_id])
        for g, ms in groups.items()
    }
    return _output(groups, devices, "baseline: space-time DBSCAN")
