"""The evaluator: figures for groupings built from the truth, and robustness to bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layers.grid import GridData
from layers.importer import prepare
from layers.network import NetworkModel
from layers.synthetic import synthetic_grid
from outages.calls import Rejection, parse_call
from outages.evaluate import (
    MISS_AFTER_REPAIR,
    MISS_NESTED,
    MISS_OTHER,
    MISS_SHADOWED,
    MISS_TIE,
    classify_device_misses,
    evaluate,
    evaluate_files,
    faults_begun_together,
    format_table,
    pairwise,
    score,
)
from outages.storm import Fault, Storm, StormMix, simulate_storm

TICKET = {"complaint", "report", "new_connection", "suggestion", "praise"}


def _grid(
    tmp_path_factory: pytest.TempPathFactory, seed: int, **shape: Any
) -> tuple[GridData, NetworkModel]:
    path = tmp_path_factory.mktemp("grid") / "grid.gpkg"
    synthetic_grid(seed, **shape).write(path)
    data, model, _problems = prepare(path)
    assert data is not None and model is not None
    return data, model


T0 = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def branchy(tmp_path_factory: pytest.TempPathFactory) -> NetworkModel:
    """Branching feeders, switches nested a few deep: for faults set by hand."""
    _data, model = _grid(
        tmp_path_factory,
        7,
        feeders_per_bus=2,
        sections_per_feeder=30,
        branch_probability=0.5,
        transformers_per_feeder=12,
        service_points_per_transformer=20,
    )
    return model


def _fault(
    model: NetworkModel, fault_id: str, device: str, start: float, hours: float = 2.0
) -> Fault:
    """A fault at ``device``, ``start`` minutes after T0, repaired ``hours`` later."""
    return Fault(
        fault_id=fault_id,
        kind="transformer",
        element_id=device,
        device_id=device,
        device_kind="transformer",
        feeder=None,
        start=T0 + timedelta(minutes=start),
        restore=T0 + timedelta(minutes=start, hours=hours),
        lon=0.0,
        lat=0.0,
        customers=model.downstream_service_point_count(device),
    )


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Storm:
    data, model = _grid(
        tmp_path_factory,
        5,
        feeders_per_bus=3,
        sections_per_feeder=24,
        branch_probability=0.4,
        transformers_per_feeder=10,
        service_points_per_transformer=30,
    )
    return simulate_storm(
        data,
        model,
        faults=14,
        seed=3,
        mix=StormMix(malformed=0.03, duplicate=0.03, customer_side=0.1),
    )


def replay_from_truth(
    storm: Storm,
    incident_of: Callable[[dict[str, str]], str | None],
    *,
    device_of: Callable[[str], str] | None = None,
    located: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A replay as a system would write it if it grouped calls by ``incident_of`` (a truth
    row to an incident id, or None), answered repeats identically and rejected malformed
    rows."""
    lines: list[dict[str, Any]] = []
    answered: dict[str, dict[str, Any]] = {}
    members: dict[str, list[str]] = {}
    device: dict[str, str] = {}
    unit: dict[str, str] = {}
    for number, call in enumerate(storm.calls, start=2):
        row, truth = call.row, call.truth
        cid = row["call_id"]
        if cid in answered:
            lines.append(answered[cid])
            continue
        parsed = parse_call(row, number)
        if isinstance(parsed, Rejection):
            line: dict[str, Any] = {
                "call_id": cid or None,
                "status": "rejected",
                "incident_id": None,
                "reason": parsed.reason,
            }
        else:
            iid = incident_of(truth)
            if iid is not None:
                status = "merged" if iid in members else "new"
                members.setdefault(iid, []).append(cid)
                device.setdefault(iid, device_of(iid) if device_of else truth["device_id"])
                unit.setdefault(iid, truth["expected_unit_id"])
            elif parsed.category.value in TICKET:
                status = "ticket"
            else:
                status = "consult"
            line = {
                "call_id": cid,
                "status": status,
                "incident_id": iid,
                "work_order_id": None if iid is None else f"WO-{iid}",
                "predicted_device_id": device.get(iid or ""),
                "unit_id": unit.get(iid or "", truth["expected_unit_id"]),
                "location": {
                    "method": "account",
                    "lon": None,
                    "lat": None,
                    "confidence": 1.0,
                    "service_point_id": truth["true_service_point_id"] or None,
                    "transformer_id": truth["true_transformer_id"] if located else None,
                },
                "reason": "customer's own wiring" if status == "consult" else None,
            }
        if cid:
            answered.setdefault(cid, line)
        lines.append(line)
    final = {
        "incidents": [
            {
                "incident_id": iid,
                "predicted_device_id": device[iid],
                "unit_id": unit[iid],
                "call_ids": ids,
            }
            for iid, ids in members.items()
        ]
    }
    return lines, final


def write_replay(path: Path, lines: list[dict[str, Any]], final: dict[str, Any] | None) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        if final is not None:
            fh.write(json.dumps({"final": final}) + "\n")
    return path


def by_fault(truth: dict[str, str]) -> str | None:
    return f"I-{truth['fault_id']}" if truth["fault_id"] else None


def test_a_perfect_grouping_scores_one(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(storm, by_fault)
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert report["pairwise_precision"] == 1.0
    assert report["pairwise_recall"] == 1.0
    assert report["pairwise_f1"] == 1.0
    assert report["device_accuracy"] == 1.0
    assert report["unit_accuracy"] == 1.0 and report["unit_accuracy_by_fault"] == 1.0
    assert report["locate_accuracy_by_method"] == {"account": 1.0}
    assert report["grouping"]["true_pairs"] > 20
    assert report["duplicates"]["repeated_rows"] > 0
    assert report["duplicates"]["share"] == 1.0
    assert report["rejects"]["malformed_rows"] > 0 and report["rejects"]["share"] == 1.0
    assert report["rejects"]["valid_rows_rejected"] == 0
    assert report["customer_side"]["calls"] > 0
    assert report["customer_side"]["flagged_share"] == 1.0
    assert (
        report["customer_side"]["kept_out_of_network_incidents"] == report["customer_side"]["calls"]
    )
    assert report["pairwise_with_customer_side"]["f1"] == 1.0
    assert report["non_repair_answered_as_expected"] == 1.0
    assert report["work_orders_per_fault"] == 1.0
    assert report["faults_split_over_incidents"] == 0
    assert report["missing_results"] == 0


def test_an_all_singleton_grouping_has_no_recall(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(
        storm, lambda t: f"I-{t['call_id']}" if t["fault_id"] else None
    )
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert report["pairwise_recall"] == 0.0
    assert report["pairwise_f1"] == 0.0
    assert report["pairwise_precision"] == 1.0  # nothing wrongly merged
    assert report["grouping"]["predicted_pairs"] == 0
    assert report["work_orders_per_fault"] > 1


def test_calls_left_out_of_incidents_are_singletons(storm: Storm, tmp_path: Path) -> None:
    """known_outage without an incident, consult and missing lines all cost recall."""
    _calls, truth_path = storm.write(tmp_path)
    lines, _final = replay_from_truth(storm, lambda t: None)
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, None), truth_path)
    assert report["pairwise_recall"] == 0.0
    assert report["device_accuracy"] == 0.0
    none = evaluate(write_replay(tmp_path / "empty.jsonl", [], None), truth_path)
    assert none["pairwise_recall"] == 0.0
    assert none["missing_results"] == none["calls_scored"] > 0
    assert none["locate_accuracy_by_method"] == {}


def test_merging_everything_keeps_recall_and_loses_precision(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(storm, lambda t: "I-all" if t["fault_id"] else None)
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert report["pairwise_recall"] == 1.0
    assert report["pairwise_precision"] < 0.5
    assert report["incidents_with_several_faults"] == 1
    # one device for all faults: right for the one fault whose device it is at most
    assert report["device_accuracy"] <= 1 / report["faults_with_2_calls"]


def test_a_random_grouping_scores_in_between(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    rng = np.random.default_rng(0)
    split = {c.call_id: int(rng.integers(2)) for c in storm.calls}
    lines, final = replay_from_truth(
        storm, lambda t: f"I-{t['fault_id']}-{split[t['call_id']]}" if t["fault_id"] else None
    )
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert report["pairwise_precision"] == 1.0
    assert 0.3 < report["pairwise_recall"] < 0.7
    assert 0.4 < report["pairwise_f1"] < 0.85
    assert report["faults_split_over_incidents"] > 0
    assert report["device_accuracy"] == 1.0  # each half still names the right device


def test_a_split_fault_is_judged_by_the_incident_holding_most_of_its_calls(
    tmp_path: Path,
) -> None:
    truth = [
        {
            "call_id": c,
            "fault_id": "F1",
            "device_id": "FUSE1",
            "true_service_point_id": "",
            "true_transformer_id": "",
            "expected_unit_id": "U1",
        }
        for c in ("a", "b", "c")
    ] + [
        {
            "call_id": "d",
            "fault_id": "F2",
            "device_id": "T9",
            "true_service_point_id": "",
            "true_transformer_id": "",
            "expected_unit_id": "U2",
        }
    ]
    lines = [
        {"call_id": c, "status": "new", "incident_id": i}
        for c, i in (("a", "I1"), ("b", "I2"), ("c", "I2"), ("d", "I3"))
    ]
    final = {
        "incidents": [
            {
                "incident_id": "I1",
                "predicted_device_id": "FUSE1",
                "unit_id": "U1",
                "call_ids": ["a"],
            },
            {
                "incident_id": "I2",
                "predicted_device_id": "BRK1",
                "unit_id": "U1",
                "call_ids": ["b", "c"],
            },
            {"incident_id": "I3", "predicted_device_id": "T9", "unit_id": "U9", "call_ids": ["d"]},
        ]
    }
    report = score(lines, final, truth)
    assert report["device_accuracy"] == 0.0  # I2 holds two of F1's three calls: BRK1 is wrong
    assert report["device_accuracy_single_call_faults"] == 1.0
    assert report["unit_accuracy_by_fault"] == 0.5
    assert report["pairwise_recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["pairwise_precision"] == 1.0
    final["incidents"][0]["call_ids"] = ["a", "b"]
    final["incidents"][1]["call_ids"] = ["c"]
    assert score(lines, final, truth)["device_accuracy"] == 1.0  # now I1 holds the most


def test_without_a_final_line_the_lines_decide(tmp_path: Path) -> None:
    truth = [{"call_id": c, "fault_id": "F1", "device_id": "D1"} for c in ("a", "b")]
    lines = [
        {"call_id": "a", "status": "new", "incident_id": "I1", "predicted_device_id": "T1"},
        {
            "call_id": "b",
            "status": "known_outage",
            "incident_id": "I1",
            "predicted_device_id": "D1",
        },
    ]
    report = score(lines, None, truth)
    assert report["pairwise_f1"] == 1.0
    assert report["device_accuracy"] == 1.0  # the latest prediction counts
    assert report["customer_side"] is None and report["rejects"] is None


def test_pairwise_on_a_small_example() -> None:
    figures = pairwise(
        {"a": "1", "b": "1", "c": "2", "d": "2"}, {"a": "x", "b": "y", "c": "y", "d": "y"}
    )
    assert figures["true_pairs"] == 2 and figures["predicted_pairs"] == 3
    assert figures["correct_pairs"] == 1
    assert figures["precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert figures["recall"] == 0.5
    assert figures["f1"] == pytest.approx(0.4, abs=1e-4)


def test_locating_is_scored_per_method(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(storm, by_fault, located=False)
    for i, line in enumerate(lines):
        if line.get("location") and i % 2:
            line["location"] = {**line["location"], "method": "gps", "transformer_id": "nowhere"}
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert report["locate_accuracy_by_method"]["account"] == 0.0
    assert report["locate_accuracy_by_method"]["gps"] == 0.0
    assert report["locate_calls_by_method"]["gps"] > 0
    assert report["locate_accuracy"] == 0.0


def test_wrong_repeats_and_missed_rejects_are_counted(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(storm, by_fault)
    seen: set[str | None] = set()
    changed = 0
    for i, line in enumerate(lines):
        cid = line.get("call_id")
        if cid in seen and line["status"] != "rejected":
            lines[i] = {**line, "status": "new", "incident_id": "I-again"}
            changed += 1
        seen.add(cid)
    lines = [line if line["status"] != "rejected" else {**line, "status": "new"} for line in lines]
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert changed > 0
    assert (
        report["duplicates"]["answered_identically"]
        == report["duplicates"]["repeated_rows"] - changed
    )
    assert report["rejects"]["rejected"] == 0


def test_bad_lines_and_missing_fields_do_not_stop_it(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    path = tmp_path / "result.jsonl"
    first = storm.truth_rows()[0]["call_id"]
    path.write_text(
        "not json\n[1, 2]\n\n"
        + json.dumps({"call_id": first})
        + "\n"
        + json.dumps({"status": "rejected"})
        + "\n"
        + json.dumps({"call_id": "unknown", "status": "new", "location": "nowhere"})
        + "\n"
        + json.dumps(
            {
                "final": {
                    "incidents": [
                        {"call_ids": ["x"]},
                        "junk",
                        {"incident_id": "I", "call_ids": None},
                    ]
                }
            }
        )
        + "\n",
        encoding="utf-8",
    )
    report = evaluate_files(path, truth_path)
    assert report["unreadable_result_lines"] == 2
    assert report["pairwise_recall"] == 0.0
    assert report["missing_results"] == report["calls_scored"] - 1
    assert (
        report["locate_accuracy_by_method"].get("none") == 0.0
        or report["locate_calls_by_method"].get("none", 0) <= 1
    )


def test_without_the_calls_file_the_rest_is_still_scored(storm: Storm, tmp_path: Path) -> None:
    storm.write(tmp_path / "storm")
    alone = tmp_path / "alone"
    alone.mkdir()
    truth_path = alone / "truth.csv"
    truth_path.write_bytes((tmp_path / "storm" / "truth.csv").read_bytes())
    lines, final = replay_from_truth(storm, by_fault)
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    assert report["pairwise_f1"] == 1.0
    assert report["rejects"] is None and report["customer_side"] is None
    assert report["duplicates"]["share"] == 1.0
    named = evaluate(tmp_path / "result.jsonl", truth_path, tmp_path / "storm" / "calls.csv")
    assert named["rejects"]["share"] == 1.0


def test_the_table_shows_every_figure(storm: Storm, tmp_path: Path) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(storm, by_fault)
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    table = format_table(report)
    rows = dict(line.split(None, 1) for line in table.splitlines())
    assert rows["pairwise_f1"] == "1.0000"
    assert rows["locate_accuracy_by_method.account"] == "1.0000"
    assert rows["rejects.malformed_rows"] == str(report["rejects"]["malformed_rows"])
    assert json.loads(json.dumps(report)) == report  # printable as one JSON object


def test_bcubed_weighs_calls_not_pairs() -> None:
    truth = {f"big{i}": "F1" for i in range(10)} | {"s1": "F2", "s2": "F2"}
    merged_small = {**{k: "I1" for k in truth if k.startswith("big")}, "s1": "I2", "s2": "I3"}
    figures = pairwise(truth, merged_small)
    assert figures["recall"] == pytest.approx(45 / 46, abs=1e-4)  # one pair in 46 missed
    assert figures["bcubed_recall"] == pytest.approx((10 + 0.5 + 0.5) / 12, abs=1e-4)
    assert figures["bcubed_precision"] == 1.0


def test_device_misses_no_call_can_settle_are_told_from_the_rest(branchy: NetworkModel) -> None:
    """A transformer fault read as its own fuse (both feed the same customers) is a tie, and
    so is a switch fault read as a device below it when the switch's other customers were
    out already under older faults;
    one merged into the outage of a switch above it is nested, when it began minutes
    before that outage or was called about after its repair, and a miss of the grouping
    when it began long before; a fault whose device was found is no miss."""
    model = branchy
    count = model.downstream_service_point_count
    tied = next(
        t
        for t in model.transformer_ids
        if len(c := model.protective_chain(t)) > 1 and count(c[1]) == count(t)
    )
    nested = next(
        t
        for t in model.transformer_ids
        if len(c := model.protective_chain(t)) > 1 and count(c[1]) > count(t)
    )
    switch = model.protective_chain(nested)[1]
    fault = partial(_fault, model)

    def judged(true: str, predicted: str, with_faults: list[str]) -> dict[str, Any]:
        return {"device_id": true, "predicted_device_id": predicted, "with_faults": with_faults}

    faults = [
        fault("TIE", tied, 0),
        fault("SOON", nested, 0),
        fault("ABOVE-SOON", switch, 4),
        fault("LATE", nested, 0),
        fault("ABOVE-LATE", switch, 5, hours=1.0),
        fault("EARLY", nested, 0),
        fault("ABOVE-EARLY", switch, 40),
        fault("RIGHT", nested, 0),
    ]
    device_by_fault = {
        "TIE": judged(tied, model.protective_chain(tied)[1], []),
        "SOON": judged(nested, switch, ["ABOVE-SOON"]),
        "LATE": judged(nested, switch, ["ABOVE-LATE"]),
        "EARLY": judged(nested, switch, ["ABOVE-EARLY"]),
        "RIGHT": judged(nested, nested, []),
    }
    times = {
        "SOON": [T0 + timedelta(minutes=m) for m in (10, 20)],
        "LATE": [T0 + timedelta(minutes=m) for m in (70, 75, 30)],
        "EARLY": [T0 + timedelta(minutes=m) for m in (10, 50)],
    }
    # the switch's customers outside the transformer, out under older faults until 90 min
    inside = set(model.downstream_transformers(nested))
    around = [t for t in model.downstream_transformers(switch) if t not in inside]
    assert around
    faults += [fault(f"OUT-{t}", t, -30, hours=2.0) for t in around]
    faults += [fault("SHADOWED", switch, 0), fault("AFTER", switch, 100)]
    device_by_fault["SHADOWED"] = judged(switch, nested, [])
    device_by_fault["AFTER"] = judged(switch, nested, [])  # they were back on by then
    reasons = classify_device_misses(device_by_fault, faults, model, times)
    assert reasons == {
        "TIE": MISS_TIE,
        "SOON": MISS_NESTED,
        "LATE": MISS_AFTER_REPAIR,
        "EARLY": MISS_OTHER,
        "SHADOWED": MISS_SHADOWED,
        "AFTER": MISS_OTHER,
    }


def test_nested_faults_begun_together_are_named_and_not_counted_in_told_apart_pairs(
    branchy: NetworkModel,
) -> None:
    """A fault below a switch whose fault began two minutes later, the two under a third
    switch further up that failed at the same time: all one outage to their callers. Below
    the same switch, one that began long before the switch's fault, and one after its
    repair, are told apart. The figures told apart then do not count the pairs of calls
    of the faults begun together, merged or not; the other pairs still count."""
    model = branchy
    inner = next(t for t in model.transformer_ids if len(model.protective_chain(t)) >= 3)
    middle, top = model.protective_chain(inner)[1:3]
    fault = partial(_fault, model, hours=1.0)

    faults = [
        fault("INNER", inner, 0),
        fault("MIDDLE", middle, 2),
        fault("TOP", top, -3),
        fault("BEFORE", inner, -200),
        fault("MIDDLE-LATER", middle, -150),
        fault("AFTER", inner, 100),
    ]
    assert faults_begun_together(faults, model) == {"INNER": "TOP", "MIDDLE": "TOP"}

    truth = [
        {"call_id": f"{f}{i}", "fault_id": f, "device_id": d}
        for f, d, n in (("INNER", inner, 4), ("MIDDLE", middle, 2), ("AFTER", inner, 3))
        for i in range(n)
    ]

    def scored(incidents: list[list[str]]) -> dict[str, Any]:
        final = {
            "incidents": [
                {"incident_id": f"I{k}", "predicted_device_id": top, "call_ids": ids}
                for k, ids in enumerate(incidents)
            ]
        }
        return score([], final, truth, as_one={"INNER": "TOP", "MIDDLE": "TOP"})

    inner_calls = [f"INNER{i}" for i in range(4)]
    middle_calls = ["MIDDLE0", "MIDDLE1"]
    after_calls = [f"AFTER{i}" for i in range(3)]
    merged = scored([inner_calls + middle_calls, after_calls])
    # raw: 10 true pairs, 15 + 3 predicted; told apart: the 8 INNER-MIDDLE pairs not counted
    assert merged["pairwise_precision"] == round(10 / 18, 4)
    assert merged["pairwise_told_apart"]["precision"] == 1.0
    assert merged["pairwise_told_apart"]["pairs_not_counted"] == 8
    assert merged["pairwise_told_apart"]["f1"] == 1.0
    apart = scored([inner_calls, middle_calls, after_calls])
    assert apart["pairwise_f1"] == apart["pairwise_told_apart"]["f1"] == 1.0
    # the fault after the repair is told apart: merging it costs its 12 false pairs
    wrong = scored([inner_calls + after_calls, middle_calls])
    assert wrong["pairwise_told_apart"]["precision"] == round(10 / 22, 4)
    assert wrong["pairwise_told_apart"]["pairs_not_counted"] == 0


def test_each_fault_judged_for_its_device_is_listed_with_the_faults_beside_it(
    storm: Storm, tmp_path: Path
) -> None:
    _calls, truth_path = storm.write(tmp_path)
    lines, final = replay_from_truth(storm, lambda t: "ALL" if t["fault_id"] else None)
    report = evaluate(write_replay(tmp_path / "result.jsonl", lines, final), truth_path)
    listed = report["device_by_fault"]
    assert len(listed) == report["faults_with_2_calls"] > 2
    # one incident holds every fault: beside each are all the others (single-call ones too)
    assert all(set(listed) - {f} <= set(d["with_faults"]) for f, d in listed.items())
    assert all(f not in d["with_faults"] and d["calls"] >= 2 for f, d in listed.items())
    hits = sum(d["predicted_device_id"] == d["device_id"] for d in listed.values())
    assert round(hits / len(listed), 4) == report["device_accuracy"]
    # the table shows each fault's devices on one line, not its call list
    rows = dict(line.split(None, 1) for line in format_table(report).splitlines())
    fault_id, judged = next(iter(listed.items()))
    shown = f"{judged['device_id']} → {judged['predicted_device_id']}"
    assert rows[f"device_by_fault.{fault_id}"] == shown
