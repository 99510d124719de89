"""Scores a replay (CONTRACT section 3) against a simulated storm's truth (section 2).

What is counted, and how (the choices a reader of the figures needs):

- **Pairwise precision, recall, F1 of grouping** are over the calls that report a network
  fault in the truth (``fault_id`` set) and were not malformed. Two such calls are a true
  pair when they share a ``fault_id``, a predicted pair when they share an incident. A
  call's incident is the ``final`` line's membership; for a call that no final incident
  lists, the incident named on its own line. A call in no incident (status ``consult`` or
  ``rejected``, a ``known_outage`` answered from a planned notice, or no line at all) is a
  singleton: it never forms a predicted pair, which costs recall. With no predicted pair,
  precision is 1.0 (nothing was wrongly merged); with no true pair, recall is 1.0. So a
  perfect grouping scores F1 1.0 and an all-singleton grouping recall 0.
- Customer-side faults, consultations and other non-fault calls are kept out of those
  figures and scored on their own: ``customer_side`` (flagged, kept out of network
  incidents), ``non_fault_calls_in_incidents``. ``pairwise_with_customer_side`` repeats the
  pairwise figures with each customer-side call as a fault of its own, so that merging
  them into a network incident (or with each other) costs precision.
- ``grouping`` gives the pair counts and the B-cubed figures (per call rather than per pair,
  so that one big outage does not outweigh many small ones).
- ``pairwise_told_apart`` (when the caller names faults that calls cannot tell apart, see
  :func:`faults_begun_together`) repeats the pairwise figures without the pairs of calls
  of two such faults: merging them is no false pair, keeping them apart no loss. It
  shows how much of a shortfall no reading of the calls can make up.
- **Device accuracy**: over faults with at least two scored calls, the share whose
  incident's final predicted device equals the truth's ``device_id``. A fault split over
  several incidents is judged by the incident holding most of its calls (ties: the one
  its earliest call joined); a fault none of whose calls is in an incident counts wrong.
- **Locating accuracy by method**: per ``location.method`` of the answer, the share of
  calls with a true transformer whose located ``transformer_id`` is the true one. Calls
  answered ``rejected`` are not scored here.
- **Unit accuracy**: per call, the share of answered (not rejected) calls with an expected
  unit whose answer names that unit; ``unit_accuracy_by_fault`` judges the final unit of
  each fault's majority incident instead.
- **Duplicates and rejects** need the calls file (``calls.csv`` beside the truth unless
  named): a repeated ``call_id`` is handled when every repeat got a line identical to the
  first; a malformed row (``outages.calls.parse_call`` refuses it) is handled when its line
  says ``rejected``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layers.network import UnknownElementError
from outages.calls import Rejection, csv_rows, parse_call

if TYPE_CHECKING:
    from layers.network import NetworkModel
    from outages.storm import Fault

CUSTOMER_WORDS = ("customer", "premises", "own wiring", "客户", "用户", "内部", "产权")


def evaluate(
    result_jsonl_path: str | Path,
    truth_csv_path: str | Path,
    calls_csv_path: str | Path | None = None,
) -> dict[str, Any]:
    """Reads the three files and scores them (see the module's docstring). The calls file
    defaults to ``calls.csv`` beside the truth; without it, duplicates, rejects and the
    customer-side figures are left out (``None``)."""
    truth_path = Path(truth_csv_path)
    results, final, unreadable = read_results(result_jsonl_path)
    truth = read_csv_rows(truth_path)
    if calls_csv_path is None:
        beside = truth_path.with_name("calls.csv")
        calls = read_csv_rows(beside) if beside.exists() else None
    else:
        calls = read_csv_rows(Path(calls_csv_path))
    report = score(results, final, truth, calls)
    report["unreadable_result_lines"] = unreadable
    return report


evaluate_files = evaluate


def read_results(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None, int]:
    """(call lines in file order, the ``final`` object or None, unreadable line count)."""
    lines: list[dict[str, Any]] = []
    final: dict[str, Any] | None = None
    unreadable = 0
    with Path(path).open(encoding="utf-8") as fh:
        for text in fh:
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                unreadable += 1
                continue
            if not isinstance(obj, dict):
                unreadable += 1
            elif "final" in obj:
                final = obj["final"] if isinstance(obj["final"], dict) else {}
            else:
                lines.append(obj)
    return lines, final, unreadable


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    return [{k: (v or "") for k, v in row.items() if k is not None} for row in csv_rows(path)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(truth_label: dict[str, str], predicted_label: dict[str, str]) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of a clustering of the same items."""
    cells: Counter[tuple[str, str]] = Counter()
    true_sizes: Counter[str] = Counter()
    pred_sizes: Counter[str] = Counter()
    for item, t in truth_label.items():
        p = predicted_label[item]
        cells[(t, p)] += 1
        true_sizes[t] += 1
        pred_sizes[p] += 1
    tp = sum(_pairs(n) for n in cells.values())
    true_pairs = sum(_pairs(n) for n in true_sizes.values())
    pred_pairs = sum(_pairs(n) for n in pred_sizes.values())
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # B-cubed: the same question asked per call, so that a fault with a hundred calls does
    # not outweigh ten faults with a few each (pairs grow with the square of the calls)
    n = len(truth_label)
    b_precision = (
        sum(
            cells[(t, predicted_label[i])] / pred_sizes[predicted_label[i]]
            for i, t in truth_label.items()
        )
        / n
        if n
        else 1.0
    )
    b_recall = (
        sum(cells[(t, predicted_label[i])] / true_sizes[t] for i, t in truth_label.items()) / n
        if n
        else 1.0
    )
    b_f1 = 2 * b_precision * b_recall / (b_precision + b_recall) if b_precision + b_recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": true_pairs,
        "predicted_pairs": pred_pairs,
        "correct_pairs": tp,
        "calls": n,
        "bcubed_precision": round(b_precision, 4),
        "bcubed_recall": round(b_recall, 4),
        "bcubed_f1": round(b_f1, 4),
    }


def _told_apart(
    fault_label: dict[str, str],
    predicted: dict[str, str],
    as_one: Mapping[str, str],
    grouping: dict[str, Any],
) -> dict[str, Any]:
    """The pairwise figures with the pairs of calls of two faults that ``as_one`` puts
    together not counted either way: merged, they are no false pair; apart, no loss."""
    together = Counter((as_one.get(f, f), predicted[c]) for c, f in fault_label.items())
    apart = Counter((f, predicted[c]) for c, f in fault_label.items())
    ignored = sum(_pairs(n) for n in together.values()) - sum(_pairs(n) for n in apart.values())
    pred_pairs = grouping["predicted_pairs"] - ignored
    tp = grouping["correct_pairs"]
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = float(grouping["recall"])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": recall,
        "f1": round(f1, 4),
        "pairs_not_counted": ignored,
        "faults_not_told_apart": len({f for f in fault_label.values() if f in as_one}),
    }


def score(
    results: list[dict[str, Any]],
    final: dict[str, Any] | None,
    truth: list[dict[str, str]],
    calls: list[dict[str, str]] | None = None,
    as_one: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Scores replay lines against truth rows (and the calls file's rows when given).
    ``as_one`` (see :func:`faults_begun_together`): faults that no call can tell from the
    one each maps to; ``pairwise_told_apart`` leaves the pairs between them out."""
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    idless: list[dict[str, Any]] = []
    for line in results:
        cid = _text(line.get("call_id")).strip()
        if cid:
            by_call[cid].append(line)
        else:
            idless.append(line)
    first = {cid: lines[0] for cid, lines in by_call.items()}

    truth_by_id: dict[str, dict[str, str]] = {}
    for row in truth:
        cid = row.get("call_id", "").strip()
        if cid and cid not in truth_by_id:
            truth_by_id[cid] = row

    # the calls file: which rows are malformed, repeated, and of which category
    malformed_ids: set[str] = set()
    malformed_idless = 0
    malformed_rows = 0
    category: dict[str, str] = {}
    row_count: Counter[str] = Counter()
    if calls is not None:
        for number, row in enumerate(calls, start=2):
            parsed = parse_call(row, number)
            cid = row.get("call_id", "").strip()
            if cid:
                row_count[cid] += 1
                if row_count[cid] > 1:
                    continue  # a resubmitted row: judged with the duplicates
            if isinstance(parsed, Rejection):
                malformed_rows += 1
                if cid:
                    malformed_ids.add(cid)
                else:
                    malformed_idless += 1
            elif cid:
                category[cid] = parsed.category.value

    # incidents: final membership first, else the call's own line
    final_incidents: dict[str, dict[str, Any]] = {}
    member_of: dict[str, str] = {}
    for inc in (final or {}).get("incidents") or []:
        if not isinstance(inc, dict):
            continue
        iid = _text(inc.get("incident_id"))
        if not iid:
            continue
        final_incidents[iid] = inc
        for cid in inc.get("call_ids") or []:
            member_of.setdefault(_text(cid), iid)
    last_device: dict[str, str] = {}
    last_unit: dict[str, str] = {}
    for line in results:
        iid = _text(line.get("incident_id"))
        if iid:
            if line.get("predicted_device_id"):
                last_device[iid] = _text(line.get("predicted_device_id"))
            if line.get("unit_id"):
                last_unit[iid] = _text(line.get("unit_id"))

    def incident_of(cid: str) -> str | None:
        if cid in member_of:
            return member_of[cid]
        line = first.get(cid)
        if line is None or line.get("status") in ("consult", "rejected"):
            return None
        iid = _text(line.get("incident_id"))
        return iid or None

    def device_of(iid: str) -> str:
        inc = final_incidents.get(iid)
        if inc is not None and "predicted_device_id" in inc:
            return _text(inc.get("predicted_device_id"))
        return last_device.get(iid, "")

    def unit_of(iid: str) -> str:
        inc = final_incidents.get(iid)
        if inc is not None and "unit_id" in inc:
            return _text(inc.get("unit_id"))
        return last_unit.get(iid, "")

    accepted = [cid for cid in truth_by_id if cid not in malformed_ids]
    network = [cid for cid in accepted if truth_by_id[cid].get("fault_id")]
    predicted = {cid: incident_of(cid) or f"~single:{cid}" for cid in network}
    fault_label = {cid: truth_by_id[cid]["fault_id"] for cid in network}
    grouping = pairwise(fault_label, predicted)

    report: dict[str, Any] = {
        "pairwise_precision": grouping["precision"],
        "pairwise_recall": grouping["recall"],
        "pairwise_f1": grouping["f1"],
    }
    if as_one is not None:
        report["pairwise_told_apart"] = _told_apart(fault_label, predicted, as_one, grouping)

    # devices and units of each fault's majority incident
    calls_of: dict[str, list[str]] = defaultdict(list)
    for cid in network:
        calls_of[fault_label[cid]].append(cid)
    device_hits = device_total = single_hits = single_total = 0
    unit_fault_hits = unit_fault_total = split = 0
    faults_in: dict[str, set[str]] = defaultdict(set)
    for cid in network:
        if not predicted[cid].startswith("~single:"):
            faults_in[predicted[cid]].add(fault_label[cid])
    device_by_fault: dict[str, dict[str, Any]] = {}
    for fault_id, members in calls_of.items():
        incidents = [predicted[c] for c in members if not predicted[c].startswith("~single:")]
        counts = Counter(incidents)
        if len(counts) > 1:
            split += 1
        majority = None
        if counts:
            best = max(counts.values())
            majority = next(i for i in incidents if counts[i] == best)
        truth_row = truth_by_id[members[0]]
        correct = majority is not None and device_of(majority) == truth_row.get("device_id", "")
        if len(members) >= 2:
            device_total += 1
            device_hits += int(correct)
            device_by_fault[fault_id] = {
                "device_id": truth_row.get("device_id", ""),
                "predicted_device_id": device_of(majority) if majority is not None else None,
                "incident_id": majority,
                "calls": len(members),
                "with_faults": sorted(faults_in[majority] - {fault_id}) if majority else [],
            }
        else:
            single_total += 1
            single_hits += int(correct)
        expected_unit = truth_row.get("expected_unit_id", "")
        if expected_unit:
            unit_fault_total += 1
            unit_fault_hits += int(majority is not None and unit_of(majority) == expected_unit)
    report["device_accuracy"] = _ratio(device_hits, device_total)
    report["device_by_fault"] = device_by_fault

    # locating, by the method the answer names
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    sp_by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    unit_hits = unit_total = 0
    for cid in accepted:
        answer = first.get(cid)
        if answer is None or answer.get("status") == "rejected":
            continue
        row = truth_by_id[cid]
        given = answer.get("location")
        loc: dict[str, Any] = given if isinstance(given, dict) else {}
        method = _text(loc.get("method")) or "none"
        true_tr = row.get("true_transformer_id", "")
        if true_tr:
            by_method[method][1] += 1
            by_method[method][0] += int(_text(loc.get("transformer_id")) == true_tr)
        true_sp = row.get("true_service_point_id", "")
        if true_sp:
            sp_by_method[method][1] += 1
            sp_by_method[method][0] += int(_text(loc.get("service_point_id")) == true_sp)
        expected_unit = row.get("expected_unit_id", "")
        if expected_unit:
            unit_total += 1
            unit_hits += int(_text(answer.get("unit_id")) == expected_unit)
    report["locate_accuracy_by_method"] = {
        m: _ratio(hit, n) for m, (hit, n) in sorted(by_method.items())
    }
    report["unit_accuracy"] = _ratio(unit_hits, unit_total)

    located_total = sum(n for _h, n in by_method.values())
    report["locate_accuracy"] = _ratio(sum(h for h, _n in by_method.values()), located_total)
    report["locate_calls_by_method"] = {m: n for m, (_h, n) in sorted(by_method.items())}
    report["service_point_accuracy_by_method"] = {
        m: _ratio(hit, n) for m, (hit, n) in sorted(sp_by_method.items())
    }
    report["device_accuracy_single_call_faults"] = _ratio(single_hits, single_total)
    report["unit_accuracy_by_fault"] = _ratio(unit_fault_hits, unit_fault_total)
    report["grouping"] = grouping
    report["faults_with_calls"] = len(calls_of)
    report["faults_with_2_calls"] = device_total
    report["faults_split_over_incidents"] = split

    # incidents and orders
    network_incidents = {p for p in predicted.values() if not p.startswith("~single:")}
    all_incidents = set(final_incidents) | {
        _text(line.get("incident_id")) for line in results if line.get("incident_id")
    }
    orders = {_text(line.get("work_order_id")) for line in results if line.get("work_order_id")}
    network_orders = {
        _text(first[c].get("work_order_id"))
        for c in network
        if c in first and first[c].get("work_order_id")
    }
    report["incidents"] = len(final_incidents) if final is not None else len(all_incidents)
    report["incidents_holding_network_calls"] = len(network_incidents)
    report["incidents_with_several_faults"] = sum(1 for s in faults_in.values() if len(s) > 1)
    report["work_orders"] = len(orders)
    report["work_orders_per_fault"] = (
        round(len(network_orders) / len(calls_of), 4) if calls_of else None
    )

    # everything that is not a network fault
    report["non_fault_calls_in_incidents"] = sum(
        1
        for cid in accepted
        if not truth_by_id[cid].get("fault_id") and incident_of(cid) in network_incidents
    )
    if calls is not None:
        side = [
            cid
            for cid in accepted
            if not truth_by_id[cid].get("fault_id")
            and truth_by_id[cid].get("true_service_point_id")
            and category.get(cid) == "repair"
        ]
        flagged = sum(
            1
            for cid in side
            if cid in first
            and (
                first[cid].get("status") == "consult"
                or any(w in _text(first[cid].get("reason")).lower() for w in CUSTOMER_WORDS)
            )
        )
        kept_out = sum(1 for cid in side if incident_of(cid) not in network_incidents)
        report["customer_side"] = {
            "calls": len(side),
            "flagged": flagged,
            "kept_out_of_network_incidents": kept_out,
            "flagged_share": _ratio(flagged, len(side)),
        }
        with_side = dict(fault_label)
        pred_side = dict(predicted)
        for cid in side:
            with_side[cid] = "~customer:" + cid
            pred_side[cid] = incident_of(cid) or f"~single:{cid}"
        report["pairwise_with_customer_side"] = pairwise(with_side, pred_side)
        expected_status = {
            "consult": "consult",
            "query": "consult",
            "complaint": "ticket",
            "report": "ticket",
            "new_connection": "ticket",
            "suggestion": "ticket",
            "praise": "ticket",
        }
        non_repair = [cid for cid in accepted if category.get(cid, "repair") != "repair"]
        report["non_repair_answered_as_expected"] = _ratio(
            sum(
                1
                for cid in non_repair
                if cid in first and first[cid].get("status") == expected_status[category[cid]]
            ),
            len(non_repair),
        )
        repeated = {cid: n for cid, n in row_count.items() if n > 1}
        repeats = sum(n - 1 for n in repeated.values())
        handled = 0
        for cid, n in repeated.items():
            lines = by_call.get(cid, [])
            same = sum(1 for line in lines[1:n] if line == lines[0])
            handled += same
        report["duplicates"] = {
            "repeated_rows": repeats,
            "answered_identically": handled,
            "share": _ratio(handled, repeats),
        }
        rejected_ok = sum(
            1 for cid in malformed_ids if cid in first and first[cid].get("status") == "rejected"
        )
        rejected_ok += min(
            malformed_idless, sum(1 for line in idless if line.get("status") == "rejected")
        )
        valid_rejected = sum(
            1 for cid, line in first.items() if line.get("status") == "rejected" and cid in category
        )
        report["rejects"] = {
            "malformed_rows": malformed_rows,
            "rejected": rejected_ok,
            "share": _ratio(rejected_ok, malformed_rows),
            "valid_rows_rejected": valid_rejected,
        }
    else:
        report["customer_side"] = None
        report["pairwise_with_customer_side"] = None
        report["non_repair_answered_as_expected"] = None
        repeats = sum(len(v) - 1 for v in by_call.values() if len(v) > 1)
        handled = sum(
            sum(1 for line in v[1:] if line == v[0]) for v in by_call.values() if len(v) > 1
        )
        report["duplicates"] = {
            "repeated_rows": repeats,
            "answered_identically": handled,
            "share": _ratio(handled, repeats),
        }
        report["rejects"] = None

    report["status_counts"] = dict(
        sorted(Counter(_text(line.get("status")) or "(none)" for line in first.values()).items())
    )
    report["calls_in_truth"] = len(truth_by_id)
    report["calls_scored"] = len(accepted)
    report["network_fault_calls"] = len(network)
    report["missing_results"] = sum(1 for cid in accepted if cid not in first)
    report["result_lines"] = len(results)
    return report


# Why a fault's device was missed, when the calls alone could not have told (see
# classify_device_misses); anything else is MISS_OTHER.
MISS_TIE = "tie: another device feeds exactly the same customers"
MISS_NESTED = "nested: began within minutes of the outage above it"
MISS_AFTER_REPAIR = "nested: called about after the outage above it was repaired"
MISS_SHADOWED = "tie: the rest of its customers were out under an earlier fault"
MISS_OTHER = "other"


def classify_device_misses(
    device_by_fault: Mapping[str, Mapping[str, Any]],
    faults: Sequence[Fault],
    model: NetworkModel,
    call_times: Mapping[str, Sequence[datetime]],
    resolution_minutes: float = 10.0,
) -> dict[str, str]:
    """Why each fault whose device was missed was missed (``device_by_fault`` of a report,
    the storm's faults, the times of each fault's scored calls): the share of misses that
    no reading of the calls can avoid bounds the device accuracy any grouping can reach.

    - A **tie**: the predicted device lies on the true one's chain and feeds exactly the
      same customers, so that every call fits both equally; only the prior and what
      callers saw decide.
    - **Shadowed**, a tie in effect: the predicted device lies below the true one, and
      every customer of the true one outside it was out already, under an earlier fault
      not yet repaired when this one began. Only the predicted device's customers could
      call about it, just as if that device had operated.
    - **Nested**, its incident holding an outage above it: when the fault began less than
      ``resolution_minutes`` (how precisely calls date an onset) before that outage, its
      customers' calls look like the outage's own; when most of its calls came after that
      outage was repaired, telling them apart takes the repair, which a calls file (and so
      a replay) does not hold.
    """
    by_id = {f.fault_id: f for f in faults}
    window = timedelta(minutes=resolution_minutes)
    out: dict[str, str] = {}
    for fault_id, judged in device_by_fault.items():
        true, predicted = str(judged["device_id"]), judged["predicted_device_id"]
        if predicted == true:
            continue
        reason = MISS_OTHER
        chain = model.protective_chain(true)
        try:
            above_predicted = model.protective_chain(str(predicted)) if predicted else []
        except UnknownElementError:
            above_predicted = []
        if (predicted in chain or true in above_predicted) and model.downstream_service_point_count(
            str(predicted)
        ) == model.downstream_service_point_count(true):
            reason = MISS_TIE
        elif true in above_predicted[1:] and _shadowed(
            model, by_id.get(fault_id), str(predicted), faults
        ):
            reason = MISS_SHADOWED
        else:
            fault = by_id.get(fault_id)
            above = [
                by_id[g]
                for g in judged.get("with_faults", ())
                if g in by_id and by_id[g].device_id in chain[1:]
            ]
            if fault is not None and above:
                outer = min(above, key=lambda g: g.start)
                times = call_times.get(fault_id, ())
                after = sum(1 for t in times if t >= outer.restore)
                if times and after * 2 >= len(times):
                    reason = MISS_AFTER_REPAIR
                elif outer.start - fault.start < window:
                    reason = MISS_NESTED
        out[fault_id] = reason
    return out


def faults_begun_together(
    faults: Sequence[Fault], model: NetworkModel, resolution_minutes: float = 10.0
) -> dict[str, str]:
    """Faults nested below another that began within ``resolution_minutes`` of it (both
    ways), each mapped to the outermost such fault: until the outer one is repaired, the
    inner one's customers are out under both, from the same minutes, so nothing in their
    calls tells the two faults apart (the window ``MISS_NESTED`` allows a device miss). A
    storm may hide such a pair under a third outage above both: their calls then all
    begin at that outage's repair."""
    window = timedelta(minutes=resolution_minutes)
    outer: dict[str, str] = {}
    for fault in faults:
        try:
            above = model.protective_chain(fault.device_id)[1:]
        except UnknownElementError:
            continue
        rank = {device: i for i, device in enumerate(above)}
        together = [
            other
            for other in faults
            if other.device_id in rank
            and abs(other.start - fault.start) < window
            and other.start < fault.restore
            and fault.start < other.restore
        ]
        if together:
            outer[fault.fault_id] = max(together, key=lambda o: rank[o.device_id]).fault_id
    # an outer fault may itself be nested in one further up
    outermost = {}
    for fault_id, above_it in outer.items():
        top, seen = above_it, {fault_id}
        while top in outer and top not in seen:
            seen.add(top)
            top = outer[top]
        outermost[fault_id] = top
    return outermost


def _shadowed(
    model: NetworkModel, fault: Fault | None, predicted: str, faults: Sequence[Fault]
) -> bool:
    """Whether every customer below the fault's device but outside ``predicted`` was out
    when the fault began, under the devices of older faults not yet repaired then."""
    if fault is None:
        return False
    inside = set(model.downstream_transformers(predicted))
    rest = {
        t
        for t in model.downstream_transformers(fault.device_id)
        if t not in inside and model.downstream_service_point_count(t) > 0
    }
    above = set(model.protective_chain(fault.device_id))  # (an outage of them all is nesting)
    for other in faults:
        if not rest:
            break
        if other.device_id not in above and other.start <= fault.start < other.restore:
            rest -= set(model.downstream_transformers(other.device_id))
    return not rest


def format_table(report: dict[str, Any]) -> str:
    """The report as a two-column text table, nested figures flattened with dots."""
    rows: list[tuple[str, str]] = []

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            if not value:
                rows.append((prefix, "-"))
            for key, inner in value.items():
                add(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            rows.append((prefix, _show(value)))

    compact = dict(report)
    if isinstance(report.get("device_by_fault"), dict):
        compact["device_by_fault"] = {
            f: f"{d.get('device_id')} → {d.get('predicted_device_id') or '-'}"
            for f, d in report["device_by_fault"].items()
        }
    add("", compact)
    width = max((len(k) for k, _v in rows), default=0)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)
