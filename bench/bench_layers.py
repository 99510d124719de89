"""Import of the demo county (features per second, peak memory) and network traces per
second, beside baselines in the same run: reading the package alone (the floor of any
import), and a trace computed by walking the graph with networkx (no precomputation)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, county, run_child


def _import_child(package: str, url: str) -> dict[str, float]:
    """In a child process: the whole `gridcall layers import` path, timed, with peak memory."""
    code = (
        "import json, time, resource\n"
        "import gis\n"
        "from gis.db import make_engine\n"
        "from api.dbadmin import upgrade\n"
        "from layers.importer import import_package\n"
        "from layers.reader import read_package\n"
        f"engine = make_engine({url!r}); upgrade(engine)\n"
        "t = time.perf_counter()\n"
        f"layers, _ = read_package({package!r})\n"
        "read_s = time.perf_counter() - t\n"
        "t = time.perf_counter()\n"
        f"report = import_package(engine, {package!r})\n"
        "total = time.perf_counter() - t\n"
        "assert report.ok, [str(p) for p in report.errors][:5]\n"
        "print(json.dumps({'seconds': total, 'read_s': read_s,\n"
        "  'features': sum(report.counts.values()),\n"
        "  'service_points': report.counts.get('service_points', 0),\n"
        "  'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    result: dict[str, float] = json.loads(
        run_child([sys.executable, "-c", code]).strip().splitlines()[-1]
    )
    return result


def bench_import(scale: float, postgres_url: str | None) -> list[Row]:
    package = str(county(scale))
    rows: list[Row] = []
    targets: list[tuple[str, str | None]] = [("SpatiaLite", None)]
    if postgres_url:
        targets.append(("PostGIS", postgres_url))
    for name, url in targets:
        if url is None:
            tmp = tempfile.mkdtemp()
            db = str(Path(tmp) / "bench.db")
        else:
            db = _fresh_pg(url, f"bench_import_{os.getpid()}")
        r = _import_child(package, db)
        sps = int(r["service_points"])
        rows.append(
            Row(
                "import",
                f"{name}, {sps:,} service points",
                r["features"] / r["seconds"],
                "features/s",
                "read only",
                r["features"] / r["read_s"],
                goal="500k SP < 120 s" if sps >= 400_000 else "",
            )
        )
        rows.append(
            Row(
                "import",
                f"{name}, {sps:,} SP: total time, peak memory",
                r["seconds"],
                f"s ({r['peak_mib']:.0f} MiB peak)",
                "read only",
                r["read_s"],
            )
        )
    return rows


def _fresh_pg(base: str, name: str) -> str:
    from sqlalchemy import text

    from gis.db import make_engine

    admin = make_engine(base.rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for attempt in range(100):
            try:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{base.rsplit("/", 1)[1]}"'))
                break
            except Exception:
                if attempt == 99:
                    raise
                time.sleep(0.3)
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def bench_trace(scale: float, queries: int = 20_000) -> list[Row]:
    import networkx as nx

    from layers.importer import prepare

    data, model, _problems = prepare(county(scale))
    assert model is not None and data is not None
    rng = random.Random(1)
    ids = (
        model.sp_ids[:: max(1, len(model.sp_ids) // 5000)]
        + model.transformer_ids
        + model.switch_ids
        + list(data.layer("mv_lines")["id"][::7])
    )
    sample = [rng.choice(ids) for _ in range(queries)]
    t = time.perf_counter()
    for eid in sample:
        model.trace(eid)
    per_s = queries / (time.perf_counter() - t)
    # baseline: walk up the graph from the element with networkx, no precomputed answers
    graph = nx.Graph()
    for e in range(len(model.edge_u)):
        if model.edge_closed[e]:
            graph.add_edge(int(model.edge_u[e]), int(model.edge_v[e]), e=e)
    roots = list(model.root_substation)
    small = sample[:300]
    t = time.perf_counter()
    for eid in small:
        _kind, _edge, upper, lower = model._anchor(eid)
        start = lower if lower >= 0 else upper
        if start >= 0:
            nx.multi_source_dijkstra(graph, roots, target=start)
            if lower >= 0:
                nx.descendants(nx.bfs_tree(graph, start), start)
    base_per_s = len(small) / (time.perf_counter() - t)
    return [
        Row(
            "trace",
            f"{len(model.sp_ids):,} service points",
            per_s,
            "traces/s",
            "networkx walk",
            base_per_s,
            goal="< 1 ms each",
        )
    ]


def main(argv: list[str] | None = None) -> None:
    from bench.common import format_table

    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--postgres")
    a = p.parse_args(argv)
    rows = bench_import(a.scale, a.postgres) + bench_trace(a.scale)
    print(format_table(rows))


if __name__ == "__main__":
    main()
