"""A storm night at the hotline, simulated on any grid, with the truth beside it.

Nobody can tune locating and grouping without knowing which fault each call is about, and
no utility can rehearse a typhoon on its own feeders without calls that look like a real
storm's. :func:`simulate_storm` places faults on the network (breakers, reclosers, fuses,
transformers, and line sections whose nearest upstream protective device operates), spread
over the night with a storm's rise and fall, several on one feeder at once and some nested
below others. The customers behind each fault come from the network model; 5 to 15 % of
them call, most within half an hour, and say where they are the way callers do
(:mod:`outages.callers`). Around them come the calls every storm brings: customers whose
own wiring failed, questions, complaints, new-connection requests, calls again, resubmitted
rows and malformed rows. :meth:`Storm.write` gives ``calls.csv`` and ``truth.csv``
(CONTRACT section 2).

Who is out, and why, follows the physics: a customer is out while any fault above them is
unrepaired, and the fault they report is the one that took their power first; when an
upstream fault is repaired and a nested one below it is not, the customers still dark call
again, about the nested fault. A repair they cannot see (the fault below them repaired
while one above still holds them dark) brings no new calls: calls after it are about the
fault above.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from layers.grid import GridData
from layers.network import NetworkModel, UnknownElementError
from layers.units import ResponsibleUnits
from outages.callers import CallerBook, CallerMix, Said, random_mobile, random_person
from outages.calls import CALL_COLUMNS

TRUTH_COLUMNS = (
    "call_id",
    "fault_id",
    "device_id",
    "true_service_point_id",
    "true_transformer_id",
    "expected_unit_id",
)
FAULT_COLUMNS = (
    "fault_id",
    "kind",
    "element_id",
    "device_id",
    "device_kind",
    "feeder",
    "start",
    "restore",
    "lon",
    "lat",
    "customers",
    "single_phase",
    "pattern",
    "parent_id",
    "unit_id",
)
FAULT_KINDS = ("breaker", "recloser", "fuse", "transformer", "line_section")
PROTECTIVE_SWITCHES = ("breaker", "recloser", "fuse")
CHINA_TZ = timezone(timedelta(hours=8))
# A July typhoon night, local time: the default, so that a seed alone fixes a storm.
DEFAULT_START = datetime(2024, 7, 15, 20, 0, tzinfo=CHINA_TZ)

# Kinds of simulated rows (``SimulatedCall.kind``).
FAULT_CALL, CALLBACK, PASSERBY = "fault", "callback", "passerby"
CUSTOMER_SIDE, MALFORMED, DUPLICATE = "customer_side", "malformed", "duplicate"
NETWORK_KINDS = frozenset({FAULT_CALL, CALLBACK, PASSERBY})


@dataclass(frozen=True)
class StormMix:
    """What a storm is made of. Shares of non-fault calls are relative to the number of
    calls about network faults (so a bigger storm brings more of everything); malformed and
    duplicate rows are shares of all rows. The defaults look like a county's typhoon night."""

    # which kind of element fails (renormalised over the kinds the grid has)
    breaker: float = 0.07
    recloser: float = 0.08
    fuse: float = 0.20
    transformer: float = 0.25
    line_section: float = 0.40
    # how faults cluster
    same_feeder: float = 0.30  # joins an earlier fault's feeder within a quarter of an hour
    nested: float = 0.12  # a fuse or transformer fault below an earlier fault's device
    single_phase: float = 0.10  # of fuse and transformer faults: callers keep partial power
    # who calls and when
    call_share_min: float = 0.05
    call_share_max: float = 0.15
    delay_median_min: float = 8.0  # lognormal delay from losing power to calling
    delay_sigma: float = 0.9  # 0.9 puts about 90 % of first calls within 30 minutes
    callback: float = 0.06  # a caller calls again about the same fault (new call_id)
    passerby: float = 0.5  # per line-section fault: someone reports the downed line
    # calls that report no network fault, per network-fault call
    customer_side: float = 0.05
    query: float = 0.05
    consult: float = 0.02
    complaint: float = 0.012
    report: float = 0.004
    new_connection: float = 0.004
    suggestion: float = 0.002
    praise: float = 0.002
    # rows
    duplicate: float = 0.015
    malformed: float = 0.01
    callers: CallerMix = field(default_factory=CallerMix)

    @classmethod
    def parse(cls, text: str) -> StormMix:
        """``"customer_side=0.1,malformed=0,callers.gps=0.5"``: the defaults with some
        changed (for the command line)."""
        mix = cls()
        storm_changes: dict[str, float] = {}
        caller_changes: dict[str, float] = {}
        storm_names = {f.name for f in fields(cls)} - {"callers"}
        caller_names = {f.name for f in fields(CallerMix)}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"mix item {part!r} is not NAME=VALUE")
            number = float(value)
            if not (math.isfinite(number) and number >= 0):
                raise ValueError(f"mix item {part!r}: the value must be a number >= 0")
            if key.startswith("callers."):
                if key[8:] not in caller_names:
                    raise ValueError(f"unknown caller mix item {key!r}")
                caller_changes[key[8:]] = number
            elif key in storm_names:
                storm_changes[key] = number
            else:
                known = ", ".join(sorted(storm_names))
                raise ValueError(f"unknown mix item {key!r}; known: {known}")
        return replace(mix, callers=replace(mix.callers, **caller_changes), **storm_changes)


@dataclass(frozen=True)
class Fault:
    """One fault: the element that failed, the protective device that operated (the truth's
    ``device_id``), when, and how many customers it cut off."""

    fault_id: str
    kind: str  # breaker | recloser | fuse | transformer | line_section
    element_id: str
    device_id: str
    device_kind: str  # breaker | recloser | fuse | transformer: what operated
    feeder: str | None
    start: datetime
    restore: datetime
    lon: float
    lat: float
    customers: int
    single_phase: bool = False
    pattern: str = "independent"  # independent | same_feeder | nested
    parent_id: str | None = None  # the earlier fault it joins (same feeder) or sits below
    unit_id: str | None = None

    def row(self) -> dict[str, str]:
        return {
            "fault_id": self.fault_id,
            "kind": self.kind,
            "element_id": self.element_id,
            "device_id": self.device_id,
            "device_kind": self.device_kind,
            "feeder": self.feeder or "",
            "start": self.start.isoformat(),
            "restore": self.restore.isoformat(),
            "lon": f"{self.lon:.6f}",
            "lat": f"{self.lat:.6f}",
            "customers": str(self.customers),
            "single_phase": "1" if self.single_phase else "0",
            "pattern": self.pattern,
            "parent_id": self.parent_id or "",
            "unit_id": self.unit_id or "",
        }


@dataclass(frozen=True)
class SimulatedCall:
    """One row of ``calls.csv`` with its truth, what kind of call it is, and the ways the
    caller described the place (for scoring the locator by what it was given)."""

    row: dict[str, str]
    truth: dict[str, str]
    kind: str
    at: datetime
    ways: tuple[str, ...] = ()
    outage_start: datetime | None = None  # when this caller lost power (network faults)

    @property
    def call_id(self) -> str:
        return self.row["call_id"]


@dataclass
class Storm:
    """A simulated storm: its faults and its calls (file order, duplicates included)."""

    faults: list[Fault]
    calls: list[SimulatedCall]
    seed: int
    start: datetime
    hours: float
    notes: list[str] = field(default_factory=list)

    def truth_rows(self) -> list[dict[str, str]]:
        """One truth row per call id (a resubmitted row is one call); id-less malformed rows
        have no truth row, having nothing to key it by."""
        seen: set[str] = set()
        out = []
        for call in self.calls:
            cid = call.call_id
            if not cid or cid in seen:
                continue
            seen.add(cid)
            out.append(call.truth)
        return out

    def write(self, directory: str | Path, *, with_faults: bool = False) -> tuple[Path, Path]:
        """Writes ``calls.csv`` and ``truth.csv`` (and ``faults.csv`` when asked) into
        ``directory``; returns the two paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        calls_path, truth_path = out / "calls.csv", out / "truth.csv"
        _write_csv(calls_path, CALL_COLUMNS, [c.row for c in self.calls])
        _write_csv(truth_path, TRUTH_COLUMNS, self.truth_rows())
        if with_faults:
            _write_csv(out / "faults.csv", FAULT_COLUMNS, [f.row() for f in self.faults])
        return calls_path, truth_path

    def summary(self) -> dict[str, Any]:
        """Counts by kind of call, fault and pattern: what this storm contains."""
        kinds = Counter(c.kind for c in self.calls)
        categories = Counter(c.row["category"] for c in self.calls if c.kind != MALFORMED)
        ways = Counter(
            w for c in self.calls if c.kind in NETWORK_KINDS for w in c.ways or ("nothing",)
        )
        calls_per_fault = Counter(
            c.truth["fault_id"] for c in self.calls if c.truth["fault_id"] and c.kind != DUPLICATE
        )
        out: dict[str, Any] = {
            "rows": len(self.calls),
            "call_ids": len({c.call_id for c in self.calls if c.call_id}),
            "calls_by_kind": dict(sorted(kinds.items())),
            "calls_by_category": dict(sorted(categories.items())),
            "network_calls_by_way": dict(sorted(ways.items())),
            "faults": len(self.faults),
            "faults_by_kind": dict(sorted(Counter(f.kind for f in self.faults).items())),
            "faults_by_device_kind": dict(
                sorted(Counter(f.device_kind for f in self.faults).items())
            ),
            "faults_by_pattern": dict(sorted(Counter(f.pattern for f in self.faults).items())),
            "faults_with_calls": len(calls_per_fault),
            "faults_with_2_calls": sum(1 for n in calls_per_fault.values() if n >= 2),
            "customers_cut_off": sum(f.customers for f in self.faults),
            "first_call_minutes": None,
        }
        firsts = _first_call_delays(self)
        if firsts:
            out["first_call_minutes"] = {
                "median": round(float(np.median(firsts)), 1),
                "share_within_30": round(float(np.mean(np.asarray(firsts) <= 30)), 3),
            }
        return out


def _first_call_delays(storm: Storm) -> list[float]:
    """Minutes from losing power to the first call of each caller."""
    return [
        (c.at - c.outage_start).total_seconds() / 60
        for c in storm.calls
        if c.kind == FAULT_CALL and c.outage_start is not None
    ]


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


# --- the simulation ----------------------------------------------------------------------------


def simulate_storm(
    data: GridData,
    model: NetworkModel | None = None,
    *,
    faults: int = 20,
    hours: float = 6.0,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    mix: StormMix | None = None,
) -> Storm:
    """Simulates a storm of ``faults`` faults over ``hours`` hours from ``start`` on the
    grid; the same arguments always give the same storm."""
    if hours <= 0:
        raise ValueError("hours must be positive")
    if start.tzinfo is None:
        raise ValueError("start needs a UTC offset")
    sim = _Simulation(data, model or NetworkModel(data), seed, start, hours, mix or StormMix())
    sim.place_faults(max(0, faults))
    sim.network_calls()
    sim.other_calls()
    return sim.finish()


@dataclass
class _Draft:
    """A call before ids and rows: the moment, who, about what, and what they say."""

    minute: float
    kind: str
    category: str
    source: str
    sp_row: int | None
    fault: int | None  # index into the simulation's faults
    symptom: str | None
    description: str | None
    said: Said
    phone: str | None
    name: str | None
    unit_id: str | None
    truth_sp: str | None = None
    truth_tr: str | None = None
    broken: str | None = None  # how a malformed row is broken
    outage_minute: float | None = None  # when the caller lost power


@dataclass
class _Candidate:
    kind: str
    element_id: str
    device_id: str
    feeder: str | None
    weight: float


@dataclass
class _Placed:
    cand: _Candidate
    minute: float  # from the storm's start
    duration: float  # minutes until restored
    pattern: str
    parent: int | None


# Median hours from fault to restoration, by kind (lognormal around it).
REPAIR_HOURS = {
    "breaker": 1.5,
    "recloser": 2.0,
    "fuse": 1.5,
    "transformer": 3.0,
    "line_section": 2.5,
}


class _Simulation:
    def __init__(
        self,
        data: GridData,
        model: NetworkModel,
        seed: int,
        start: datetime,
        hours: float,
        mix: StormMix,
    ) -> None:
        self.data = data
        self.model = model
        self.seed = seed
        self.start = start
        self.hours = hours
        self.mix = mix
        self.rng = np.random.default_rng(seed)
        self.book = CallerBook(data, model)
        self.units = ResponsibleUnits(data, model)
        self.faults: list[Fault] = []
        self.fault_rows: list[npt.NDArray[np.int64]] = []
        self.drafts: list[_Draft] = []
        self.notes: list[str] = []
        self._count_cache: dict[str, int] = {}
        self._chain_cache: dict[str, list[str]] = {}
        self._rows_cache: dict[str, npt.NDArray[np.int64]] = {}
        self._sp_unit: dict[int, str | None] = {}
        self._contacts: dict[int, tuple[str, str | None]] = {}
        self.episodes: list[tuple[int, float, float, npt.NDArray[np.int64]]] = []

    # -- faults ---------------------------------------------------------------------------------

    def _count(self, device: str) -> int:
        if device not in self._count_cache:
            self._count_cache[device] = self.model.downstream_service_point_count(device)
        return self._count_cache[device]

    def _chain(self, device: str) -> list[str]:
        if device not in self._chain_cache:
            self._chain_cache[device] = self.model.protective_chain(device)
        return self._chain_cache[device]

    def _candidates(self) -> dict[str, list[_Candidate]]:
        model = self.model
        pools: dict[str, list[_Candidate]] = {k: [] for k in FAULT_KINDS}
        for sid, kind in model.switch_kind.items():
            if (
                kind in PROTECTIVE_SWITCHES
                and model.normal_state.get(sid) != "open"
                and self._count(sid) > 0
            ):
                pools[kind].append(_Candidate(kind, sid, sid, model.feeder_of(sid), 1.0))
        for tid in model.transformer_ids:
            if self._count(tid) > 0:
                pools["transformer"].append(
                    _Candidate("transformer", tid, tid, model.feeder_of(tid), 1.0)
                )
        mv = self.data.layer("mv_lines")
        lengths = shapely.length(np.asarray(mv["geometry"].to_numpy(), dtype=object))
        for lid, feeder, length in zip(
            mv["id"].tolist(), mv["feeder"].tolist(), np.nan_to_num(lengths).tolist(), strict=True
        ):
            try:
                device = model.protective_device(str(lid))
            except UnknownElementError:
                continue
            if device is None or self._count(device) == 0 or length <= 0:
                continue
            pools["line_section"].append(
                _Candidate(
                    "line_section", str(lid), device, str(feeder) if feeder else None, float(length)
                )
            )
        return pools

    def _storm_minute(self) -> float:
        """A moment of the storm, to the second: intensity rises to a peak about a third of
        the way in, then tails off (a Beta(2, 3.5) shape)."""
        return round(float(self.rng.beta(2.0, 3.5)) * self.hours * 3600.0) / 60.0

    def place_faults(self, n: int) -> None:
        rng, mix = self.rng, self.mix
        pools = self._candidates()
        weights = {k: float(getattr(mix, k)) for k in FAULT_KINDS}
        feeders = sorted({c.feeder for pool in pools.values() for c in pool if c.feeder})
        # the storm's track: some feeders take far more of it than others
        exposure = (
            dict(zip(feeders, rng.dirichlet(np.full(len(feeders), 1.5)).tolist(), strict=True))
            if feeders
            else {}
        )
        used: set[str] = set()
        placed: list[_Placed] = []
        for _ in range(n):
            pick: _Placed | None = None
            u = rng.random()
            wanted = "independent"
            if placed and u < mix.nested:
                wanted = "nested"
            elif placed and u < mix.nested + mix.same_feeder:
                wanted = "same_feeder"
            for attempt in range(40):
                # keep to the pattern drawn while it can be placed, then place it anywhere
                pattern = wanted if attempt < 25 else "independent"
                pick = self._try_fault(pools, weights, exposure, used, placed, pattern)
                if pick is not None:
                    break
            if pick is None:
                self.notes.append(f"only {len(placed)} faults placed: no free device left")
                break
            used.add(pick.cand.device_id)
            placed.append(pick)
        order = sorted(range(len(placed)), key=lambda i: (placed[i].minute, i))
        new_index = {old: new for new, old in enumerate(order)}
        for new, old in enumerate(order):
            p = placed[old]
            cand = p.cand
            loc = (
                self.data.element_location(cand.element_id)
                or self.data.element_location(cand.device_id)
                or (math.nan, math.nan)
            )
            dev_loc = self.data.element_location(cand.device_id) or loc
            unit = self._unit_at(dev_loc[0], dev_loc[1], cand.device_id)
            single = cand.kind in ("fuse", "transformer") and rng.random() < self.mix.single_phase
            self.faults.append(
                Fault(
                    fault_id=f"F{new + 1:03d}",
                    kind=cand.kind,
                    element_id=cand.element_id,
                    device_id=cand.device_id,
                    device_kind=self.model.switch_kind.get(cand.device_id, "transformer"),
                    feeder=cand.feeder,
                    start=self.start + timedelta(minutes=p.minute),
                    restore=self.start + timedelta(minutes=p.minute + p.duration),
                    lon=float(loc[0]),
                    lat=float(loc[1]),
                    customers=self._count(cand.device_id),
                    single_phase=single,
                    pattern=p.pattern,
                    parent_id=None if p.parent is None else f"F{new_index[p.parent] + 1:03d}",
                    unit_id=unit,
                )
            )
            self.fault_rows.append(self._rows(cand.device_id))

    def _try_fault(
        self,
        pools: dict[str, list[_Candidate]],
        weights: dict[str, float],
        exposure: dict[str, float],
        used: set[str],
        placed: list[_Placed],
        pattern: str,
    ) -> _Placed | None:
        rng = self.rng
        parent: int | None = None
        minute = self._storm_minute()
        feeder: str | None = None
        below: str | None = None
        kinds = list(FAULT_KINDS)
        if pattern != "independent":
            parent = int(rng.integers(len(placed)))
            anchor = placed[parent]
            spread = 45.0 if pattern == "nested" else 15.0
            minute = min(
                max(anchor.minute + round(float(rng.uniform(-spread, spread)) * 60) / 60.0, 0.0),
                self.hours * 60.0,
            )
            feeder = anchor.cand.feeder
            if pattern == "nested":
                below = anchor.cand.device_id
                kinds = ["fuse", "transformer", "line_section"]
        elif exposure:
            names = list(exposure)
            p = np.asarray([exposure[f] for f in names])
            feeder = names[int(rng.choice(len(names), p=p / p.sum()))]

        def fits(c: _Candidate) -> bool:
            if c.device_id in used or (feeder is not None and c.feeder != feeder):
                return False
            return below is None or (c.device_id != below and below in self._chain(c.device_id))

        available = {k: [c for c in pools[k] if fits(c)] for k in kinds}
        kind_names = [k for k in kinds if available[k] and weights[k] > 0]
        if not kind_names:
            return None
        p = np.asarray([weights[k] for k in kind_names])
        kind = kind_names[int(rng.choice(len(kind_names), p=p / p.sum()))]
        pool = available[kind]
        w = np.asarray([c.weight for c in pool])
        cand = pool[int(rng.choice(len(pool), p=w / w.sum()))]
        duration = max(round(float(rng.lognormal(math.log(REPAIR_HOURS[kind]), 0.45)) * 60.0), 20.0)
        pick = _Placed(cand, minute, float(duration), pattern, parent)
        if not self._visible(pick, placed):
            return None  # nobody would ever notice it: its customers are dark all along
        for i, q in enumerate(placed):
            if pick.minute < q.minute and not self._visible(
                q, [*placed[:i], *placed[i + 1 :], pick]
            ):
                return None  # it would hide an earlier fault
        return pick

    def _rows(self, device: str) -> npt.NDArray[np.int64]:
        if device not in self._rows_cache:
            self._rows_cache[device] = np.sort(self.model.downstream_service_point_rows(device))
        return self._rows_cache[device]

    def _visible(self, target: _Placed, others: list[_Placed]) -> bool:
        """Whether some customer of ``target`` is ever dark because of it: at some moment of
        its life no fault that started before it keeps that customer dark."""
        device = target.cand.device_id
        rows = self._rows(device)
        end = target.minute + target.duration
        blocked = np.full(len(rows), -math.inf)
        for g in others:
            other = g.cand.device_id
            if not (g.minute <= target.minute < g.minute + g.duration):
                continue
            if other == device or other in self._chain(device)[1:]:
                blocked[:] = np.maximum(blocked, g.minute + g.duration)
            elif device in self._chain(other)[1:]:
                inside = np.isin(rows, self._rows(other), assume_unique=True)
                blocked[inside] = np.maximum(blocked[inside], g.minute + g.duration)
        return bool(len(rows)) and bool((blocked < end).any())

    # -- who is out, and who calls --------------------------------------------------------------

    def _minutes(self, fault: Fault) -> tuple[float, float]:
        return (
            (fault.start - self.start).total_seconds() / 60,
            (fault.restore - self.start).total_seconds() / 60,
        )

    def _episodes(self) -> list[tuple[int, float, float, npt.NDArray[np.int64]]]:
        """(fault, from, to, service point rows): each stretch of time in which a set of
        customers is dark because of that fault (the earliest unrepaired one above them)."""
        covering: dict[int, list[int]] = {}
        for f, below in enumerate(self.fault_rows):
            for r in below.tolist():
                covering.setdefault(r, []).append(f)
        groups: dict[tuple[int, ...], list[int]] = {}
        for r, fs in covering.items():
            groups.setdefault(tuple(fs), []).append(r)
        out = []
        for signature, rows in groups.items():
            spans = {f: self._minutes(self.faults[f]) for f in signature}
            times = sorted({t for s in spans.values() for t in s})
            current: tuple[int, float] | None = None
            for a in times[:-1]:
                active = [f for f in signature if spans[f][0] <= a < spans[f][1]]
                cause = min(active, key=lambda f: (spans[f][0], f)) if active else None
                if current is not None and current[0] != cause:
                    out.append((current[0], current[1], a, np.asarray(rows, dtype=np.int64)))
                    current = None
                if cause is not None and current is None:
                    current = (cause, a)
            if current is not None:
                out.append((current[0], current[1], times[-1], np.asarray(rows, dtype=np.int64)))
        out.sort(key=lambda e: (e[1], e[0], int(e[3][0])))
        return out

    def _delay(self) -> float:
        return float(self.rng.lognormal(math.log(self.mix.delay_median_min), self.mix.delay_sigma))

    def _dark_spans(self) -> list[list[tuple[int, float, float, npt.NDArray[np.int64]]]]:
        """The episodes grouped into what the customers lived through: an episode that
        follows another of the same customers without a break, when the fault repaired was
        below (or at) the one still holding them dark, changed nothing that they could see,
        and so brings no new wave of first calls. (When the fault above is repaired first,
        their neighbours' lights come back, and those still dark call anew.)"""
        spans: list[list[tuple[int, float, float, npt.NDArray[np.int64]]]] = []
        open_span: dict[tuple[int, float], int] = {}  # (first row, end) -> span
        for episode in self.episodes:
            f, a, b, rows = episode
            k = open_span.pop((int(rows[0]), a), None)
            # both faults hold these customers, so one's area holds the other's (a radial
            # network): the smaller area is the one below
            if k is not None and len(self.fault_rows[spans[k][-1][0]]) <= len(self.fault_rows[f]):
                spans[k].append(episode)
            else:
                k = len(spans)
                spans.append([episode])
            open_span[(int(rows[0]), b)] = k
        return spans

    def network_calls(self) -> None:
        rng, mix = self.rng, self.mix
        shares = rng.uniform(mix.call_share_min, mix.call_share_max, size=len(self.faults))
        self.episodes = self._episodes()
        calls_of = Counter[int]()
        spans = self._dark_spans()
        dark_since = {(e[0], e[1], int(e[3][0])): span[0][1] for span in spans for e in span}
        for span in spans:
            f, a, _b, rows = span[0]
            b = span[-1][2]

            def cause(minute: float, span: list[tuple[int, float, float, Any]] = span) -> int:
                return next(e[0] for e in span if minute < e[2])

            n = int(rng.binomial(len(rows), float(shares[f])))
            if n == 0:
                continue
            callers = rng.choice(rows, size=n, replace=False)
            delays = np.asarray([self._delay() for _ in range(n)])
            for row, delay in zip(callers.tolist(), delays.tolist(), strict=True):
                if a + delay >= b:
                    continue  # power came back before they got round to calling
                about = cause(a + delay)
                self._fault_call(about, int(row), a + delay, FAULT_CALL, a)
                calls_of[about] += 1
                if rng.random() < mix.callback:
                    later = a + delay + float(rng.uniform(25, 150))
                    if later < b:
                        self._fault_call(cause(later), int(row), later, CALLBACK, a)
        # A fault that darkened anyone is reported by someone (else no one would know of it).
        for f in range(len(self.faults)):
            if calls_of[f]:
                continue
            mine = [e for e in self.episodes if e[0] == f]
            if not mine:
                continue
            _f, a, b, rows = max(mine, key=lambda e: (len(e[3]), e[2] - e[1]))
            row = int(rows[int(rng.integers(len(rows)))])
            since = dark_since[(f, a, int(rows[0]))]
            self._fault_call(f, row, a + min(self._delay(), 0.8 * (b - a)), FAULT_CALL, since)
        for f, fault in enumerate(self.faults):
            self._passersby(f, fault)

    def _fault_call(self, f: int, row: int, minute: float, kind: str, dark_since: float) -> None:
        fault = self.faults[f]
        rng = self.rng
        source = _pick(rng, {"phone": 0.84, "app": 0.05, "wechat": 0.06, "12345": 0.05})
        said = self.book.customer(rng, row, self.mix.callers, app=source in ("app", "wechat"))
        symptom = self._symptom(fault, row)
        phone, name = self._contact(row)
        self.drafts.append(
            _Draft(
                minute=minute,
                kind=kind,
                category="repair",
                source=source,
                sp_row=row,
                fault=f,
                symptom=symptom,
                description=_describe(rng, symptom, fault.customers, kind),
                said=said,
                phone=phone,
                name=name,
                unit_id=fault.unit_id,
                truth_sp=self.book.sp_ids[row],
                truth_tr=self.book.sp_transformer[row],
                outage_minute=dark_since,
            )
        )

    def _symptom(self, fault: Fault, row: int) -> str | None:
        rng = self.rng
        if fault.single_phase:
            return _pick(rng, {"partial_power": 0.45, "low_voltage": 0.15, "no_power": 0.40})
        if math.isfinite(fault.lon):
            fx, fy = self.book.frame.forward_one(fault.lon, fault.lat)
            dist = math.hypot(float(self.book.sp_x[row]) - fx, float(self.book.sp_y[row]) - fy)
            if fault.kind == "line_section" and dist < 300 and rng.random() < 0.35:
                return _pick(rng, {"line_down": 0.4, "pole_down": 0.25, "sparking": 0.35})
            if fault.kind == "transformer" and dist < 120 and rng.random() < 0.2:
                return _pick(rng, {"transformer_noise": 0.6, "sparking": 0.4})
        return _pick(rng, {"no_power": 0.95, "other": 0.03, "": 0.02}) or None

    def _passersby(self, f: int, fault: Fault) -> None:
        """People who are not customers report what they see: a line across the road, a
        pole down, a transformer on fire (often through 110 or 119)."""
        rng, mix = self.rng, self.mix
        if not math.isfinite(fault.lon):
            return
        if fault.kind == "line_section":
            count = int(rng.random() < mix.passerby) + int(rng.random() < mix.passerby / 3)
            symptoms = {"line_down": 0.5, "pole_down": 0.25, "sparking": 0.25}
        elif fault.kind == "transformer":
            count = int(rng.random() < mix.passerby * 0.3)
            symptoms = {"sparking": 0.6, "transformer_noise": 0.4}
        else:
            return
        begin, end = self._minutes(fault)
        for _ in range(count):
            minute = begin + float(rng.lognormal(math.log(12.0), 0.7))
            if minute >= end:
                continue
            symptom = _pick(rng, symptoms)
            source = _pick(
                rng,
                {
                    "phone": 0.55,
                    "110": 0.25,
                    "119": 0.1 if symptom == "sparking" else 0.02,
                    "12345": 0.1,
                },
            )
            x, y = self.book.frame.forward_one(fault.lon, fault.lat)
            jitter = float(rng.uniform(0, 50))
            ang = float(rng.uniform(0, 2 * math.pi))
            lon, lat = self.book.frame.inverse_one(
                x + jitter * math.cos(ang), y + jitter * math.sin(ang)
            )
            said = self.book.passerby(rng, lon, lat, mix.callers)
            self.drafts.append(
                _Draft(
                    minute=minute,
                    kind=PASSERBY,
                    category="repair",
                    source=source,
                    sp_row=None,
                    fault=f,
                    symptom=symptom,
                    description=_describe(rng, symptom, 0, PASSERBY),
                    said=said,
                    phone=random_mobile(rng),
                    name=random_person(rng) if rng.random() < 0.5 else None,
                    unit_id=fault.unit_id,
                    outage_minute=begin,
                )
            )

    # -- everything else a storm night brings --------------------------------------------------

    def _contact(self, row: int) -> tuple[str, str | None]:
        """The phone and name a household calls with: the same each time it calls."""
        if row not in self._contacts:
            self._contacts[row] = self.book.caller_contact(self.rng, row)
        return self._contacts[row]

    def _unit_at(self, lon: float, lat: float, element_id: str) -> str | None:
        """The unit responsible for an element at (lon, lat); NaN when it has no place."""
        if math.isfinite(lon):
            return self.units.responsible(lon, lat, element_id).unit_id
        return self.units.responsible(None, None, element_id).unit_id

    def _sp_unit_of(self, row: int) -> str | None:
        if row not in self._sp_unit:
            self._sp_unit[row] = self._unit_at(
                float(self.book.sp_lon[row]), float(self.book.sp_lat[row]), self.book.sp_ids[row]
            )
        return self._sp_unit[row]

    def _night_minute(self) -> float:
        """When a call unrelated to a fault comes: mostly with the storm, some any time."""
        if self.rng.random() < 0.7:
            return self._storm_minute() + float(self.rng.exponential(20.0))
        return float(self.rng.uniform(0, (self.hours + 1) * 60))

    def _customer_draft(
        self,
        row: int,
        minute: float,
        kind: str,
        category: str,
        symptom: str | None,
        description: str,
    ) -> _Draft:
        rng = self.rng
        source = _pick(rng, {"phone": 0.85, "app": 0.05, "wechat": 0.07, "12345": 0.03})
        said = self.book.customer(
            rng, row, self.mix.callers, app=source in ("app", "wechat"), repair=category == "repair"
        )
        phone, name = self._contact(row)
        return _Draft(
            minute=minute,
            kind=kind,
            category=category,
            source=source,
            sp_row=row,
            fault=None,
            symptom=symptom,
            description=description,
            said=said,
            phone=phone,
            name=name,
            unit_id=self._sp_unit_of(row),
            truth_sp=self.book.sp_ids[row],
            truth_tr=self.book.sp_transformer[row],
        )

    def other_calls(self) -> None:
        rng, mix = self.rng, self.mix
        n_sp = len(self.book.sp_ids)
        if n_sp == 0:
            return
        network = sum(1 for d in self.drafts if d.kind in NETWORK_KINDS)
        dark = np.zeros(n_sp, dtype=bool)
        for rows in self.fault_rows:
            dark[rows] = True
        lit = np.flatnonzero(~dark)
        anyone = np.arange(n_sp)

        def some(pool: npt.NDArray[np.int64]) -> int:
            pool = pool if len(pool) else anyone
            return int(pool[int(rng.integers(len(pool)))])

        for _ in range(round(mix.customer_side * network)):
            row, minute = some(lit), self._night_minute()
            symptom = _pick(
                rng, {"no_power": 0.7, "sparking": 0.1, "partial_power": 0.15, "other": 0.05}
            )
            text = str(rng.choice(_CUSTOMER_SIDE_TEXT))
            self.drafts.append(
                self._customer_draft(row, minute, CUSTOMER_SIDE, "repair", symptom, text)
            )
            if rng.random() < 2 * mix.callback:
                self.drafts.append(
                    self._customer_draft(
                        row,
                        minute + float(rng.uniform(30, 120)),
                        CUSTOMER_SIDE,
                        "repair",
                        symptom,
                        "刚才打过电话了，家里还是没电，怎么还没人来",
                    )
                )
        for _ in range(round(mix.query * network)):
            hit = self._dark_customer() if rng.random() < 0.7 else None
            if hit is not None:
                row, minute = hit
                text = str(rng.choice(_OUTAGE_QUERY_TEXT))
            else:
                row, minute = some(anyone), self._night_minute()
                text = str(rng.choice(_QUERY_TEXT))
            self.drafts.append(self._customer_draft(row, minute, "query", "query", None, text))
        for _ in range(round(mix.consult * network)):
            self.drafts.append(
                self._customer_draft(
                    some(anyone),
                    self._night_minute(),
                    "consult",
                    "consult",
                    None,
                    str(rng.choice(_CONSULT_TEXT)),
                )
            )
        for _ in range(round(mix.complaint * network)):
            hit = self._dark_customer(after=90.0) if rng.random() < 0.6 else None
            if hit is not None:
                row, minute = hit
                text = str(rng.choice(_OUTAGE_COMPLAINT_TEXT))
            else:
                row, minute = some(anyone), self._night_minute()
                text = str(rng.choice(_COMPLAINT_TEXT))
            self.drafts.append(
                self._customer_draft(row, minute, "complaint", "complaint", None, text)
            )
        for category, texts in (
            ("report", _REPORT_TEXT),
            ("suggestion", _SUGGESTION_TEXT),
            ("praise", _PRAISE_TEXT),
        ):
            for _ in range(round(float(getattr(mix, category)) * network)):
                self.drafts.append(
                    self._customer_draft(
                        some(anyone),
                        self._night_minute(),
                        category,
                        category,
                        None,
                        str(rng.choice(texts)),
                    )
                )
        for _ in range(round(mix.new_connection * network)):
            row = some(anyone)
            said = self.book.newcomer(rng, row, mix.callers)
            self.drafts.append(
                _Draft(
                    minute=self._night_minute(),
                    kind="new_connection",
                    category="new_connection",
                    source="phone",
                    sp_row=None,
                    fault=None,
                    symptom=None,
                    description=str(rng.choice(_NEW_CONNECTION_TEXT)),
                    said=said,
                    phone=random_mobile(rng),
                    name=random_person(rng),
                    unit_id=self._sp_unit_of(row),
                )
            )
        rows_so_far = len(self.drafts)
        breakages = (
            "missing_call_id",
            "bad_time",
            "naive_time",
            "unknown_category",
            "spoken_time",
            "unknown_source",
        )
        for i in range(round(mix.malformed * rows_so_far)):
            draft = self._customer_draft(
                some(anyone), self._night_minute(), MALFORMED, "repair", "no_power", "家里没电了"
            )
            draft.broken = breakages[(i + int(rng.integers(len(breakages)))) % len(breakages)]
            self.drafts.append(draft)

    def _dark_customer(self, after: float = 0.0) -> tuple[int, float] | None:
        """A customer in the dark at some moment of an outage (at least ``after`` minutes
        into it): the one who calls to ask or to complain."""
        spans = [e for e in self.episodes if e[2] - e[1] > after + 5]
        if not spans:
            return None
        _f, a, b, rows = spans[int(self.rng.integers(len(spans)))]
        row = int(rows[int(self.rng.integers(len(rows)))])
        return row, float(self.rng.uniform(a + after, b))

    # -- rows ------------------------------------------------------------------------------------

    def finish(self) -> Storm:
        rng = self.rng
        order = sorted(range(len(self.drafts)), key=lambda i: (self.drafts[i].minute, i))
        calls: list[SimulatedCall] = []
        # digits like a 95598 order number: the start's date and hour, the seed, a serial, so
        # that storms replayed into one database do not share ids
        stem = f"{self.start:%y%m%d%H}{self.seed % 10_000:04d}"
        for n, i in enumerate(order):
            d = self.drafts[i]
            at = self.start + timedelta(seconds=round(d.minute * 60))
            call_id = f"{stem}{n + 1:06d}"
            row = _row(d, call_id, at)
            fault = self.faults[d.fault] if d.fault is not None else None
            truth = {
                "call_id": call_id,
                "fault_id": fault.fault_id if fault else "",
                "device_id": fault.device_id if fault else "",
                "true_service_point_id": d.truth_sp or "",
                "true_transformer_id": d.truth_tr or "",
                "expected_unit_id": d.unit_id or "",
            }
            if d.broken is not None:
                _break(rng, row, d.broken, at)
                truth["call_id"] = row["call_id"]
            dark = (
                None
                if d.outage_minute is None
                else self.start + timedelta(seconds=round(d.outage_minute * 60))
            )
            calls.append(
                SimulatedCall(
                    row=row, truth=truth, kind=d.kind, at=at, ways=d.said.ways, outage_start=dark
                )
            )
        # resubmitted rows: the very same row again, a little later in the file
        eligible = [i for i, c in enumerate(calls) if c.kind != MALFORMED]
        n_dup = min(round(self.mix.duplicate * len(calls)), len(eligible))
        picks = (
            sorted(rng.choice(len(eligible), size=n_dup, replace=False).tolist()) if n_dup else []
        )
        inserts: dict[int, list[SimulatedCall]] = {}
        for k in picks:
            i = eligible[k]
            at_pos = min(i + int(rng.integers(1, 16)), len(calls) - 1)
            original = calls[i]
            inserts.setdefault(at_pos, []).append(
                SimulatedCall(
                    row=dict(original.row),
                    truth=original.truth,
                    kind=DUPLICATE,
                    at=original.at,
                    ways=original.ways,
                    outage_start=original.outage_start,
                )
            )
        rows: list[SimulatedCall] = []
        for i, call in enumerate(calls):
            rows.append(call)
            rows.extend(inserts.get(i, ()))
        return Storm(
            faults=self.faults,
            calls=rows,
            seed=self.seed,
            start=self.start,
            hours=self.hours,
            notes=self.notes,
        )


def _row(d: _Draft, call_id: str, at: datetime) -> dict[str, str]:
    s = d.said
    return {
        "call_id": call_id,
        "received_at": at.isoformat(),
        "source": d.source,
        "category": d.category,
        "caller_phone": d.phone or "",
        "caller_name": d.name or "",
        "account_no": s.account_no or "",
        "pole_no": s.pole_no or "",
        "address": s.address or "",
        "lon": s.lon or "",
        "lat": s.lat or "",
        "coord_sys": s.coord_sys or "",
        "symptom": d.symptom or "",
        "description": d.description or "",
    }


def _break(rng: np.random.Generator, row: dict[str, str], how: str, at: datetime) -> None:
    """Makes a row malformed the ways real files are (CONTRACT section 2)."""
    if how == "missing_call_id":
        row["call_id"] = ""
    elif how == "bad_time":
        row["received_at"] = f"{at:%Y-%m-%d} 25:{int(rng.integers(60, 99))}:00+08:00"
    elif how == "naive_time":
        row["received_at"] = at.replace(tzinfo=None).isoformat()
    elif how == "spoken_time":
        row["received_at"] = str(rng.choice(("昨晚十点多", "刚才", "晚上9点")))
    elif how == "unknown_category":
        row["category"] = str(rng.choice(("维修", "repiar", "emergency", "故障报修")))
    elif how == "unknown_source":
        row["source"] = str(rng.choice(("微信小程序", "fax", "wechat_mini")))


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


_SYMPTOM_TEXT = {
    "no_power": (
        "家里没电了",
        "突然停电了",
        "全家都没电",
        "听见外面砰的一声，然后就停电了",
        "刮大风，停电了",
        "一直没来电",
        "灯全灭了",
    ),
    "partial_power": ("有的屋有电有的屋没电", "空调开不了，灯还亮着", "一半电器不能用"),
    "low_voltage": ("电压很低，灯一闪一闪的", "灯特别暗，冰箱启动不了"),
    "sparking": ("电线冒火花", "线上打火，噼里啪啦的", "电线杆上有火花"),
    "line_down": ("电线断了掉在路上", "大风把电线刮断了", "树倒了压在电线上", "电线掉地上了"),
    "pole_down": ("电线杆被风刮倒了", "电线杆歪了快倒了", "电线杆断了"),
    "transformer_noise": ("变压器嗡嗡响得厉害", "变压器有异响", "变压器冒烟了"),
    "other": ("有股烧焦的味道", "电表不走了", "说不清楚，反正不正常"),
}
_WHOLE_AREA_TEXT = ("整个村都停电了", "我们这一片都没电", "邻居家也都没电")
_CUSTOMER_SIDE_TEXT = (
    "家里总闸跳了合不上，邻居家都有电",
    "家里空开一推就跳",
    "屋里插座烧了，冒烟",
    "就我家没电，邻居家都有电",
    "电表后面的线烧断了",
    "家里漏电保护器老是跳",
)
_OUTAGE_QUERY_TEXT = (
    "什么时候能来电？",
    "停电了，问一下啥时候恢复",
    "是不是在检修？什么时候送电",
    "冰箱里东西要坏了，多久能来电",
)
_QUERY_TEXT = ("查一下电费余额", "查询一下上个月电费", "问一下我家户号是多少", "查一下缴费记录")
_CONSULT_TEXT = (
    "峰谷电价怎么算",
    "阶梯电价是多少",
    "电表想挪个位置怎么办",
    "家里线路坏了你们管修吗",
    "欠费停电了交了钱多久能恢复",
)
_OUTAGE_COMPLAINT_TEXT = (
    "停电好几个小时了还没人来修",
    "抢修太慢了，一直没来电",
    "打了好几次电话都没人处理",
)
_COMPLAINT_TEXT = ("电费多收了", "抄表员态度不好", "上次报修的人没来", "电压长期偏低没人管")
_REPORT_TEXT = (
    "有人私拉乱接电线",
    "有人偷电",
    "电线杆上乱贴广告还挂了东西",
    "有人在电线下面盖房子",
)
_SUGGESTION_TEXT = ("建议停电能提前发短信通知", "希望营业厅周末也开门")
_PRAISE_TEXT = ("上次抢修师傅冒雨来修，表扬一下", "营业厅服务很好")
_NEW_CONNECTION_TEXT = (
    "新盖的房子要装电表",
    "申请新装用电",
    "开了个小超市要接电",
    "新建养殖场要用电",
)
_CALLBACK_TEXT = ("刚才打过电话了，还是没电", "又停了这么久还没来电", "第二次打了，怎么还没人来")


def _describe(rng: np.random.Generator, symptom: str | None, customers: int, kind: str) -> str:
    if kind == CALLBACK:
        return str(rng.choice(_CALLBACK_TEXT))
    text = str(rng.choice(_SYMPTOM_TEXT.get(symptom or "no_power", _SYMPTOM_TEXT["no_power"])))
    if customers > 100 and rng.random() < 0.3:
        text += "，" + str(rng.choice(_WHOLE_AREA_TEXT))
    return text
