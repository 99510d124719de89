"""Repeat grouping on simulated storms: gridcall against two baselines in the same run
(same-transformer grouping and space-time DBSCAN), and replay throughput and per-call
latency on SpatiaLite and PostGIS."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path
from typing import Any

from bench.common import Row, county, format_table


def _prepare(scale: float) -> tuple[Any, Any]:
    from layers.importer import prepare

    data, model, problems = prepare(county(scale))
    assert data is not None and model is not None, [str(p) for p in problems][:5]
    return data, model


def _engine(url: str | None, name: str, data: Any) -> Any:
    """A fresh database (SpatiaLite when ``url`` is None) holding the grid's layers."""
    from api.dbadmin import upgrade
    from gis.db import make_engine, write_transaction
    from layers.store import save_grid

    if url is None:
        db = str(Path(tempfile.mkdtemp()) / f"{name}.db")
    else:
        from bench.bench_layers import _fresh_pg

        db = _fresh_pg(url, name)
    engine = make_engine(db)
    upgrade(engine)
    with write_transaction(engine) as conn:
        save_grid(conn, data, source="bench", snap_tolerance=1.0, warnings=[])
    return engine


# Grids of other shapes, CRSs, formats and topology sources than the demo county: what a
# utility's own package may look like.
UNSEEN: tuple[tuple[str, dict[str, Any], str, str, bool], ...] = (
    (
        "straight feeders, 2 units, CGCS2000 GK EPSG:4547, GeoPackage",
        {"substations": 2, "feeders_per_bus": 6, "branch_probability": 0.0, "units": 2},
        "gpkg",
        "EPSG:4547",
        True,
    ),
    (
        "bushy trees, 3 units, CGCS2000 EPSG:4490, GeoJSON, nodes derived",
        {"substations": 2, "feeders_per_bus": 6, "branch_probability": 0.5, "units": 3},
        "geojson",
        "EPSG:4490",
        False,
    ),
    (
        "no reclosers, 2 units, UTM 49N EPSG:32649, Shapefile",
        {"substations": 3, "feeders_per_bus": 4, "reclosers": False, "ties": 3, "units": 2},
        "shp",
        "EPSG:32649",
        True,
    ),
)

# Grids whose transformers serve far fewer or far more customers than the ones above (all
# of about 40): a village's pole-top transformers of a dozen households on long feeders,
# and a town's of 150. A call is then a larger or a smaller share of its
# transformer's customers, which the roll-up weighs.
OTHER_SIZES: tuple[tuple[str, dict[str, Any], str, str, bool], ...] = (
    (
        "rural, transformers of 12 customers, CGCS2000 GK EPSG:4547, GeoPackage",
        {
            "substations": 2,
            "feeders_per_bus": 4,
            "branch_probability": 0.35,
            "units": 2,
            "sections_per_feeder": 120,
            "transformers_per_feeder": 100,
            "service_points_per_transformer": 12,
        },
        "gpkg",
        "EPSG:4547",
        True,
    ),
    (
        "town, transformers of 150 customers, UTM 49N EPSG:32649, GeoJSON",
        {
            "substations": 2,
            "feeders_per_bus": 4,
            "branch_probability": 0.2,
            "units": 2,
            "sections_per_feeder": 40,
            "section_m": 150.0,
            "transformers_per_feeder": 15,
            "service_points_per_transformer": 150,
        },
        "geojson",
        "EPSG:32649",
        False,
    ),
)


UNSEEN_SIZES = {
    "sections_per_feeder": 60,
    "transformers_per_feeder": 40,
    "service_points_per_transformer": 40,
}


def unseen_grid(
    seed: int, shape: dict[str, Any], fmt: str, crs: str, explicit: bool
) -> tuple[Any, Any]:
    from layers.importer import prepare
    from layers.synthetic import synthetic_grid

    # feeders of about the demo county's size (some 40 transformers of 40 customers); the
    # storm's faults are then scaled to the feeder count (see quality_unseen)
    g = synthetic_grid(seed, **{**UNSEEN_SIZES, **shape})
    out = Path(tempfile.mkdtemp(prefix="bench_unseen_"))
    path = g.write(
        out / ("grid.gpkg" if fmt == "gpkg" else "grid"), fmt=fmt, crs=crs, explicit_nodes=explicit
    )
    data, model, problems = prepare(path)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert data is not None and model is not None and not errors, errors[:5]
    return data, model


def quality_unseen(
    seeds: list[int],
    faults_per_feeder: float = 2 / 3,
    grids: tuple[tuple[str, dict[str, Any], str, str, bool], ...] = UNSEEN,
) -> list[Row]:
    """Grouping, device and unit accuracy on the grids above (``UNSEEN``, or
    ``OTHER_SIZES``), each beside the baselines; storms as dense as the demo county's (20
    faults on its 30 feeders). A grid is drawn with the seed 100 + its place in ``grids``:
    a grid run alone (``grids=OTHER_SIZES[1:]``) is another draw of its shape."""
    rows = []
    for i, (name, shape, fmt, crs, explicit) in enumerate(grids):
        grid = unseen_grid(100 + i, shape, fmt, crs, explicit)
        feeders = int(grid[0].layer("mv_lines")["feeder"].nunique())
        faults = max(2, round(feeders * faults_per_feeder))
        rows += quality(1.0, seeds, faults, grid=grid, label=f"{name}, {feeders} feeders")
    return rows


def quality(
    scale: float,
    seeds: list[int],
    faults: int,
    *,
    grid: tuple[Any, Any] | None = None,
    label: str | None = None,
) -> list[Row]:
    from dispatch.intake import Intake, IntakeServices
    from dispatch.replay import replay
    from outages.baselines import LocatedCall, dbscan, same_transformer
    from outages.calls import Call, Category, parse_call
    from outages.evaluate import score
    from outages.storm import simulate_storm

    data, model = grid if grid is not None else _prepare(scale)
    services = IntakeServices.build(data, model)
    sums: dict[str, list[dict[str, Any]]] = {"gridcall": [], "same transformer": [], "DBSCAN": []}
    misses: list[Counter[str]] = []
    for seed in seeds:
        storm = simulate_storm(data, model, faults=faults, hours=6, seed=seed)
        out = Path(tempfile.mkdtemp())
        calls_path, truth_path = storm.write(out)
        engine = _engine(None, f"q{seed}", data)
        intake = Intake(engine, services, taken_by="bench")
        buf = StringIO()
        replay(intake, calls_path, buf)
        truth = _csv_rows(truth_path)
        calls_rows = _csv_rows(calls_path)
        report = _score_replay(buf.getvalue(), truth, calls_rows, storm, model)
        sums["gridcall"].append(report)
        misses.append(_device_misses(report, storm, model))
        located: list[LocatedCall] = []
        seen: set[str] = set()
        for row in calls_rows:
            c = parse_call(row)
            if not isinstance(c, Call) or c.category is not Category.REPAIR or c.call_id in seen:
                continue
            seen.add(c.call_id)
            located.append(LocatedCall(c, services.locator.locate(c)))
        for name, lines_b in (
            ("same transformer", same_transformer(located)),
            ("DBSCAN", dbscan(located, model)),
        ):
            sums[name].append(score(lines_b[:-1], lines_b[-1]["final"], truth, calls_rows))
        engine.dispose()

    def mean(name: str, key: str) -> float:
        return statistics.fmean(float(r[key] or 0) for r in sums[name])

    rows = []
    label = f"{label or f'demo county scale {scale:g}'}: {len(seeds)} storms of {faults} faults"
    for key, goal in (
        ("pairwise_f1", "≥ 0.95"),
        ("pairwise_precision", ""),
        ("pairwise_recall", ""),
        ("device_accuracy", "≥ 0.90 (faults ≥ 2 calls)"),
    ):
        rows.append(
            Row(
                "grouping",
                f"{key} ({label})",
                mean("gridcall", key),
                "",
                f"same transformer {mean('same transformer', key):.3f}; DBSCAN",
                mean("DBSCAN", key),
                goal,
            )
        )
    rows.append(_told_apart_row(sums["gridcall"], label))
    rows += _device_miss_rows(misses, sums["gridcall"], label)
    for method in ("account", "pole", "gps", "address"):
        values = [r["locate_accuracy_by_method"].get(method) for r in sums["gridcall"]]
        values = [v for v in values if v is not None]
        if values:
            rows.append(
                Row(
                    "locate", f"right transformer, {method} ({label})", statistics.fmean(values), ""
                )
            )
    rows.append(
        Row("dispatch", f"unit accuracy per call ({label})", mean("gridcall", "unit_accuracy"), "")
    )
    rows.append(
        Row(
            "dispatch",
            f"unit accuracy per fault ({label})",
            mean("gridcall", "unit_accuracy_by_fault"),
            "",
            goal="≥ 0.98 of incidents",
        )
    )
    return rows


def _device_misses(report: dict[str, Any], storm: Any, model: Any) -> Counter[str]:
    """Why gridcall missed the devices it missed on one storm (see
    :func:`outages.evaluate.classify_device_misses`)."""
    from outages.evaluate import classify_device_misses

    times: dict[str, list[Any]] = defaultdict(list)
    seen: set[str] = set()
    for call in storm.calls:
        fault_id = call.truth.get("fault_id")
        if fault_id and call.call_id not in seen:
            seen.add(call.call_id)
            times[fault_id].append(call.at)
    reasons = classify_device_misses(report["device_by_fault"], storm.faults, model, times)
    return Counter(reasons.values())


def _device_miss_rows(
    misses: list[Counter[str]], reports: list[dict[str, Any]], label: str
) -> list[Row]:
    """The device misses that no reading of the calls could avoid, and the device accuracy
    over the faults that the calls could settle: how far the goal is reachable at all."""
    from outages.evaluate import MISS_AFTER_REPAIR, MISS_NESTED, MISS_SHADOWED, MISS_TIE

    judged = [d for r in reports for d in r["device_by_fault"].values()]
    if not judged:
        return []
    total = len(judged)
    hits = sum(d["predicted_device_id"] == d["device_id"] for d in judged)
    unsettled = {
        k: sum(m[k] for m in misses)
        for k in (MISS_TIE, MISS_SHADOWED, MISS_NESTED, MISS_AFTER_REPAIR)
    }
    rows = [
        Row("grouping", f"device misses no call can settle, {k} ({label})", n / total, "of faults")
        for k, n in unsettled.items()
    ]
    settle = total - sum(unsettled.values())
    rows.append(
        Row(
            "grouping",
            f"device accuracy over the {settle} of {total} faults the calls can settle ({label})",
            hits / settle if settle else 0.0,
            "",
        )
    )
    return rows


def throughput(scale: float, faults: int, postgres: str | None, seed: int = 7) -> list[Row]:
    from api.bootstrap import keep_network_out_of_gc
    from dispatch.intake import Intake, IntakeServices
    from dispatch.replay import replay
    from outages.storm import simulate_storm

    data, model = _prepare(scale)
    services = IntakeServices.build(data, model)
    storm = simulate_storm(data, model, faults=faults, hours=6, seed=seed)
    calls_path, truth_path = storm.write(Path(tempfile.mkdtemp()))
    keep_network_out_of_gc()  # as `gridcall replay` does
    rows = []
    targets = [("SpatiaLite", None)] + ([("PostGIS", postgres)] if postgres else [])
    for name, url in targets:
        # the baseline: the intake locating each call itself, as before the worker
        engine = _engine(url, f"bench_replay_{seed}_alone", data)
        alone = replay(
            Intake(engine, services, taken_by="bench"), calls_path, StringIO(), workers=0
        )
        engine.dispose()
        engine = _engine(url, f"bench_replay_{seed}", data)
        intake = Intake(engine, services, taken_by="bench")
        intake.timings = {}
        buf = StringIO()
        stats = replay(intake, calls_path, buf)
        lat = sorted(intake.timings.get("call", [0.0]))
        grp = sorted(intake.timings.get("grouping", [0.0]))
        sweeps = sorted(intake.timings.get("sweep", [0.0]))
        sps = len(model.sp_ids)
        label = f"{name}, {sps:,} SP, {stats.calls:,} calls"
        rows.append(
            Row(
                "replay",
                f"{label}, located ahead by a second process",
                stats.per_second,
                "calls/s",
                baseline="located by the intake",
                baseline_value=alone.per_second,
                goal="≥ 1,000 calls/s",
            )
        )
        rows.append(
            Row(
                "replay",
                f"{label}: per call p50 / p99 (commit every 500; locating done ahead)",
                lat[len(lat) // 2],
                f"ms / {lat[int(len(lat) * 0.99)]:.2f} ms",
            )
        )
        rows.append(
            Row(
                "grouping",
                f"{label}: grouping per call p50 / p99",
                grp[len(grp) // 2],
                f"ms / {grp[int(len(grp) * 0.99)]:.2f} ms",
                goal="< 1 ms",
            )
        )
        rows.append(
            Row(
                "grouping",
                f"{label}: re-examination after the answer, {len(sweeps)} sweeps, p50 / max",
                sweeps[len(sweeps) // 2],
                f"ms / {sweeps[-1]:.1f} ms",
            )
        )
        if name == "SpatiaLite":
            rows += _replay_quality(buf.getvalue(), calls_path, truth_path, label, storm, model)
        engine.dispose()
        rows += _live_latency(data, services, calls_path, url, f"{name}, {sps:,} SP")
    return rows


def _live_latency(
    data: Any, services: Any, calls_path: Path, url: str | None, label: str, live: int = 1000
) -> list[Row]:
    """The live intake's answer, one call per transaction committed before it answers (as
    ``POST /api/calls`` does), for the storm's last ``live`` calls (at most half), the
    calls before them taken first (the open incidents and orders of the storm at its
    height); and the sweep that the server runs after each answer, timed on its own."""
    import time

    from dispatch.intake import Intake
    from dispatch.replay import read_calls

    engine = _engine(url, "bench_live", data)
    intake = Intake(engine, services, taken_by="bench")
    rows = read_calls(calls_path)
    live = min(live, len(rows) // 2)
    before, tail = rows[:-live], rows[-live:]
    for _answer in intake.take_many(before):
        pass
    answers, sweeps = [], []
    for n, row in tail:
        started = time.perf_counter()
        intake.take(row, row_number=n, sweep=False)
        answered = time.perf_counter()
        intake.sweep()
        answers.append((answered - started) * 1000)
        sweeps.append((time.perf_counter() - answered) * 1000)
    engine.dispose()
    answers.sort()
    sweeps.sort()
    case = f"{label}, live intake, last {len(tail):,} of {len(rows):,} calls"
    return [
        Row(
            "replay",
            f"{case}: answer p50 / p99 (a transaction per call)",
            answers[len(answers) // 2],
            f"ms / {answers[int(len(answers) * 0.99)]:.2f} ms",
        ),
        Row(
            "replay",
            f"{case}: sweep after the answer p50 / p99",
            sweeps[len(sweeps) // 2],
            f"ms / {sweeps[int(len(sweeps) * 0.99)]:.2f} ms",
        ),
    ]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _score_replay(
    output: str,
    truth: list[dict[str, str]],
    calls_rows: list[dict[str, str]],
    storm: Any = None,
    model: Any = None,
) -> dict[str, Any]:
    """A replay's output (CONTRACT section 3) scored against the storm's truth (with the
    storm and its grid, the grouping of what calls can tell apart too)."""
    from outages.evaluate import faults_begun_together, score

    lines = [json.loads(x) for x in output.splitlines()]
    as_one = None if storm is None else faults_begun_together(storm.faults, model)
    return score(lines[:-1], lines[-1]["final"], truth, calls_rows, as_one)


def _replay_quality(
    output: str, calls_path: Path, truth_path: Path, label: str, storm: Any, model: Any
) -> list[Row]:
    """Grouping quality of the throughput storm itself: the same code at this size meets
    incidents of a thousand calls and more, which the 60k storms never show."""
    report = _score_replay(output, _csv_rows(truth_path), _csv_rows(calls_path), storm, model)
    return [
        *(
            Row("grouping", f"{label}: {key}", float(report[key] or 0), "", goal=goal)
            for key, goal in (("pairwise_f1", "≥ 0.95"), ("device_accuracy", "≥ 0.90"))
        ),
        _told_apart_row([report], label),
    ]


def _told_apart_row(reports: list[dict[str, Any]], label: str) -> Row:
    """Pairwise F1 without the pairs of calls of a fault and another above it that began
    within minutes of it: no reading of the calls can tell such faults apart (see
    :func:`outages.evaluate.faults_begun_together`), so the gap to the raw F1 is what no
    grouping could make up."""
    value = statistics.fmean(float(r["pairwise_told_apart"]["f1"]) for r in reports)
    return Row(
        "grouping",
        f"pairwise_f1 without pairs of nested faults begun within minutes ({label})",
        value,
        "",
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--faults", type=int, default=20)
    p.add_argument("--throughput-scale", type=float, default=None)
    p.add_argument("--throughput-faults", type=int, default=60)
    p.add_argument("--postgres")
    p.add_argument(
        "--unseen",
        action="store_true",
        help="also synthetic grids of other shapes, CRSs and formats",
    )
    a = p.parse_args(argv)
    rows = quality(a.scale, list(range(a.seeds)), a.faults)
    if a.unseen:
        rows += quality_unseen(list(range(a.seeds)))
    if a.throughput_scale:
        rows += throughput(a.throughput_scale, a.throughput_faults, a.postgres)
    print(format_table(rows))


if __name__ == "__main__":
    main()
