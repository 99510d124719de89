"""Nearest-crew queries per second on a county's roads, beside a brute-force baseline.

``python -m bench.bench_dispatch [--queries N] [--seed S] [--synthetic] [--units STORMS]``

Uses the demo county's ``roads`` layer and crews when :mod:`layers.demo.county` is there,
else a synthetic road net (:func:`dispatch.routing.synthetic_roads`). Prints one JSON
object: the network's size, the fast router's queries per second (warm: crews in place; cold: every
crew moved before every query), the brute-force baseline's queries per second on a sample
of the same queries, and whether every answer agreed.

``--units STORMS`` also measures the responsible unit on simulated storms on the demo
county (:mod:`outages.storm`): for each fault, the unit of its true device against the
truth's ``expected_unit_id``, and the unit chosen from its located calls before any device
is known (the first call alone, and all of them), by kind of fault.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import shapely

from dispatch.routing import (
    CrewRouter,
    CrewStart,
    ReferenceRouter,
    RoadGraph,
    RoutingSettings,
    random_crews,
    random_places,
    synthetic_roads,
)
from gis.crs import LocalFrame


def _demo_network(
    seed: int,
) -> tuple[pd.DataFrame, LocalFrame, list[CrewStart], list[tuple[float, float]]] | str:
    """The demo county's roads, crews and transformers (where faults are), or why not."""
    try:
        from layers.demo.county import build_county
    except ImportError as exc:
        return f"no demo county ({exc})"
    try:
        layers = build_county(seed=seed)
    except Exception as exc:  # the generator is someone else's work in progress
        return f"demo county failed: {type(exc).__name__}: {exc}"
    if "roads" not in layers or len(layers["roads"]) == 0:
        return "demo county has no roads"
    # CGCS2000 lon/lat agrees with WGS84 to centimetres (gis.crs): used as is
    roads = pd.DataFrame(layers["roads"].drop(columns="geometry"))
    roads["geometry"] = pd.Series(list(layers["roads"].geometry), dtype=object)
    coords = shapely.get_coordinates(np.asarray(roads["geometry"].to_numpy(), dtype=object))
    frame = LocalFrame.around(coords[:, 0], coords[:, 1])
    crews = layers["crews"]
    starts = [
        CrewStart(str(i), float(g.x), float(g.y), 0.0, str(u))
        for i, u, g in zip(crews["id"], crews["unit_id"], crews.geometry, strict=True)
    ]
    transformers = layers["transformers"].geometry
    places = [(float(g.x), float(g.y)) for g in transformers]
    return roads, frame, starts, places


def _agree(a: list[Any], b: list[Any], tolerance: float = 1e-6) -> bool:
    """Same nearest crew and the same time (a tie may name either crew)."""
    if not a or not b:
        return not a and not b
    if not math.isclose(a[0].eta_s, b[0].eta_s, rel_tol=tolerance, abs_tol=1e-6):
        return False
    return a[0].crew_id == b[0].crew_id or math.isclose(
        a[0].eta_s, a[1].eta_s if len(a) > 1 else math.inf, rel_tol=tolerance
    )


def run(
    queries: int = 2000,
    seed: int = 0,
    synthetic: bool = False,
    baseline: int = 100,
    cells: int = 24,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    demo = "synthetic roads requested" if synthetic else _demo_network(seed)
    if not isinstance(demo, str):
        roads, frame, crews, sites = demo
        source = "demo county, queries at random transformers"
        places = [sites[int(i)] for i in rng.integers(len(sites), size=queries)]
    else:
        net = synthetic_roads(seed, cells=cells)
        roads, frame = net.roads, net.frame
        crews = random_crews(rng, frame, net.extent_m)
        source = f"synthetic county roads, {cells}x{cells} blocks ({demo})"
        places = random_places(rng, frame, net.extent_m, queries)
    settings = RoutingSettings()
    started = time.perf_counter()
    graph = RoadGraph(roads, frame, settings)
    build_s = time.perf_counter() - started
    router = CrewRouter(graph)

    started = time.perf_counter()
    router.nearest(*places[0], crews)
    warmup_s = time.perf_counter() - started
    started = time.perf_counter()
    fast = [router.etas(lon, lat, crews) for lon, lat in places]
    warm_qps = len(places) / (time.perf_counter() - started)

    moving_n = min(500, len(places))
    started = time.perf_counter()
    for lon, lat in places[:moving_n]:
        router.forget()  # as if every crew had reported a new position since the last query
        router.nearest(lon, lat, crews)
    moving_qps = moving_n / (time.perf_counter() - started)

    reference = ReferenceRouter(graph)
    sample = places[: min(baseline, len(places))]
    started = time.perf_counter()
    slow = [reference.nearest(lon, lat, crews) for lon, lat in sample]
    brute_qps = len(sample) / (time.perf_counter() - started)
    agree = sum(_agree(f, s) for f, s in zip(fast, slow, strict=False))
    fallbacks = sum(1 for f in fast if f and f[0].method == "straight")
    return {
        "network": source,
        "roads": len(roads),
        "road_vertices": graph.n_vertices,
        "junctions": graph.n_nodes,
        "links": graph.n_links,
        "crews": len(crews),
        "build_s": round(build_s, 3),
        "first_query_s": round(warmup_s, 4),
        "queries": len(places),
        "queries_per_s_warm": round(warm_qps, 1),
        "queries_per_s_all_crews_moved": round(moving_qps, 1),
        "brute_force_queries": len(sample),
        "brute_force_queries_per_s": round(brute_qps, 2),
        "speedup_warm": round(warm_qps / brute_qps, 1),
        "agree": f"{agree}/{len(sample)}",
        "nearest_by_straight_line_fallback": fallbacks,
    }


def unit_accuracy(storms: int = 5, faults: int = 40, seed: int = 0) -> dict[str, Any]:
    """How often the responsible unit is the expected one on simulated storms."""
    import tempfile
    from collections import Counter, defaultdict
    from pathlib import Path

    from dispatch.units import UnitFinder
    from layers.demo.county import write_county
    from layers.importer import prepare
    from outages.calls import Call, parse_call
    from outages.locate import Locator
    from outages.storm import NETWORK_KINDS, simulate_storm

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "county.gpkg"
        write_county(path, seed=seed)
        data, model, _problems = prepare(path)
    if data is None or model is None:
        return {"error": "the demo county did not import"}
    finder = UnitFinder(data, model)
    locator = Locator(data, model)
    tally: Counter[tuple[str, str]] = Counter()
    for storm_seed in range(storms):
        storm = simulate_storm(data, model, faults=faults, seed=seed + storm_seed)
        calls: dict[str, list[Call]] = defaultdict(list)
        for sim in storm.calls:
            if sim.kind in NETWORK_KINDS and sim.truth["fault_id"]:
                parsed = parse_call(sim.row)
                if isinstance(parsed, Call):
                    calls[sim.truth["fault_id"]].append(parsed)
        for fault in storm.faults:
            for kind in (fault.device_kind, "all"):
                tally[(kind, "faults")] += 1
                device = finder.for_device(fault.device_id)
                tally[(kind, "device")] += device is not None and device.unit_id == fault.unit_id
            fault_calls = sorted(calls.get(fault.fault_id, []), key=lambda c: c.received_at)
            if not fault_calls:
                continue
            located = [locator.locate(c) for c in fault_calls]
            first = finder.for_calls(located[:1]).unit_id == fault.unit_id
            every = finder.for_calls(located).unit_id == fault.unit_id
            for kind in (fault.device_kind, "all"):
                tally[(kind, "with_calls")] += 1
                tally[(kind, "first_call")] += first
                tally[(kind, "all_calls")] += every

    def share(kind: str, what: str, of: str) -> str:
        return f"{tally[(kind, what)]}/{tally[(kind, of)]}"

    kinds = [*sorted({k for k, _ in tally} - {"all"}), "all"]
    return {
        "storms": storms,
        "faults_per_storm": faults,
        "by_device_kind": {
            kind: {
                "device": share(kind, "device", "faults"),
                "first_call": share(kind, "first_call", "with_calls"),
                "all_calls": share(kind, "all_calls", "with_calls"),
            }
            for kind in kinds
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=100, help="queries for brute force")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", action="store_true", help="ignore the demo county")
    parser.add_argument("--cells", type=int, default=24, help="synthetic lattice size")
    parser.add_argument(
        "--units",
        type=int,
        default=0,
        metavar="STORMS",
        help="also measure the responsible unit on this many storms",
    )
    args = parser.parse_args(argv)
    result = run(args.queries, args.seed, args.synthetic, args.baseline, args.cells)
    if args.units:
        result["responsible_unit"] = unit_accuracy(args.units, seed=args.seed)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
