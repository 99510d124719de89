"""``python -m bench`` (or ``make bench``): every benchmark the issues ask for, one table.

Each figure is printed beside a baseline measured in the same run, with the machine's
description. Small sizes by default (a few minutes); ``--large`` adds the half-million
service point county (import, locating, replay of 10,000 calls on both databases).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from bench import bench_dispatch, bench_grouping, bench_layers, bench_locate
from bench.common import Row, format_table, machine


def locate_rows(scale: float, calls: int) -> list[Row]:
    report = bench_locate.report(
        argparse.Namespace(scale=scale, calls=calls, seed=0, synthetic=False)
    )
    sps = report["service_points"]
    goals = {
        "account": "≥ 20,000/s, 99 %",
        "pole": "≥ 20,000/s, 99 % right pole",
        "gps": "≥ 20,000/s, 97 % where not interleaved",
        "gps, simulator errors": "≥ 20,000/s, 97 % where not interleaved",
        "gps + address": "97 % where not interleaved",
        "gps + address, simulator errors": "97 % where not interleaved",
        "address": "≥ 2,000/s, 90 %",
    }
    rows = []
    for m in report["methods"]:
        if not m.get("calls"):
            continue
        label = f"{m['method']}, {sps:,} SP"
        rows.append(
            Row(
                "locate",
                f"{label}: calls/s",
                m["calls_per_s"],
                "calls/s",
                "naive",
                m["baseline_calls_per_s"],
                goals.get(m["method"], ""),
            )
        )
        extra = ""
        if m["method"].startswith("gps") and "by" in m:
            sep = [v for k, v in m["by"].items() if k.startswith("separate")]
            if sep:
                n = sum(v["n"] for v in sep)
                extra = f" (not interleaved: {sum(v['n'] * v['right'] for v in sep) / n:.3f})"
        rows.append(
            Row(
                "locate",
                f"{label}: right transformer/pole{extra}",
                m["right"],
                "",
                "naive",
                m["baseline_right"],
            )
        )
        cal = m.get("calibration") or {}
        if m["method"].startswith("gps") and cal.get("right_when_confident") is not None:
            rows.append(
                Row(
                    "locate",
                    f"{label}: right when confidence ≥ 0.9"
                    f" ({cal['confident_share']:.0%} of calls;"
                    f" truth among candidates {m['truth_among_candidates']:.3f})",
                    cal["right_when_confident"],
                    "",
                )
            )
    rows.append(Row("locate", f"index build, {sps:,} SP", report["locator_build_s"], "s"))
    return rows


def dispatch_rows(queries: int) -> list[Row]:
    r = bench_dispatch.run(queries=queries, baseline=200)
    return [
        Row(
            "dispatch",
            f"nearest crew, {r['network']} ({r['crews']} crews)",
            r["queries_per_s_warm"],
            "queries/s",
            "brute-force Dijkstra",
            r["brute_force_queries_per_s"],
            "≥ 500/s, same answer",
        ),
        Row(
            "dispatch",
            "nearest crew agreeing with brute force",
            float(r["agree"].split("/")[0]) / max(1, int(r["agree"].split("/")[1])),
            "",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--large", action="store_true", help="add the 500k service point county")
    p.add_argument(
        "--postgres",
        default=os.environ.get("GRIDCALL_BENCH_POSTGRES_URL"),
        help="PostGIS template database URL (make bench passes it)",
    )
    p.add_argument(
        "--only", nargs="*", default=None, help="some of: layers locate dispatch grouping replay"
    )
    p.add_argument("--out", help="also write the table as Markdown to this file")
    a = p.parse_args(argv)
    want = set(a.only or ["layers", "locate", "dispatch", "grouping", "replay"])
    rows: list[Row] = []
    scales = [1.0] + ([8.4] if a.large else [])
    if "layers" in want:
        for s in scales:
            rows += bench_layers.bench_import(s, a.postgres)
        rows += bench_layers.bench_trace(scales[-1])
    if "locate" in want:
        for s in scales:
            rows += locate_rows(s, 3000)
    if "dispatch" in want:
        rows += dispatch_rows(2000)
    if "grouping" in want:
        rows += bench_grouping.quality(1.0, [0, 1, 2], 20)
        rows += bench_grouping.quality_unseen([0, 1, 2])
        rows += bench_grouping.quality_unseen([0, 1, 2], grids=bench_grouping.OTHER_SIZES)
    if "replay" in want:
        rows += bench_grouping.throughput(1.0, 20, a.postgres)
        if a.large:
            rows += bench_grouping.throughput(8.4, 40, a.postgres)
    command = " ".join(argv if argv is not None else sys.argv[1:])
    text = (
        f"gridcall benchmarks, {dt.datetime.now():%Y-%m-%d %H:%M}\n\n"
        f"machine: {machine()}\n\n"
        f"command: `python -m bench {command}`\n\n" + format_table(rows) + "\n"
    )
    print(text)
    if a.out:
        from pathlib import Path

        Path(a.out).write_text("# Benchmarks\n\n" + text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
