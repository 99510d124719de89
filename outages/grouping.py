"""Repeat detection and outage inference: one fault, one incident (article 24).

Calls are evidence about faults. A fault at a protective device (breaker, recloser, fuse, or
a transformer, its own fuse) puts out every customer below it; each out customer calls with
a small probability, mostly soon after the fault. Given the calls so far, the engine keeps
the explanation that is most likely: which calls share a fault, and at which device.

The decisions that matter follow from comparing likelihoods, computed from the network:

* a call joins an open incident whose device feeds it (the caller is one more of its silent
  customers who spoke up), unless the incident is much older than the call;
* incidents roll up to a common device when one fault there explains their calls better
  than separate faults: the calls must cover most of that device's customers (each customer
  below it who stays silent is evidence against it) and must have started together;
* a roll-up is undone when later silence makes it the worse explanation;
* a call whose location is uncertain (several candidate transformers) is evidence for each
  candidate in proportion to its likelihood, and goes where the other calls make it likely;
* calls that cannot be placed on the network are grouped by caller, then by space and time.

Every decision records why, in words an agent can read to the caller.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import shapely

from layers.network import NetworkModel, UnknownElementError
from outages.calls import SIGHT_LINE, SIGHT_TRANSFORMER
from outages.config import GroupingSettings

NEW = "new"
# an incident's states: one caller's word; several customers' (or a crew's, see
# outages.store.confirm_incident); then supply back
UNCONFIRMED, PROBABLE, CONFIRMED, RESTORED = "unconfirmed", "probable", "confirmed", "restored"
MERGED = "merged"


@dataclass(frozen=True)
class Observation:
    """What the grouping needs to know of a located repair call."""

    call_id: str
    at: datetime
    candidates: tuple[tuple[str, float], ...] = ()  # (transformer id, likelihood), best first
    customer: str | None = None  # service point id, when known
    phone: str | None = None
    lon: float | None = None
    lat: float | None = None
    power_present: bool = False  # partial power / low voltage: the caller is not fully out
    sighting: str | None = None  # what the caller saw: SIGHT_TRANSFORMER or SIGHT_LINE


@dataclass
class Member:
    observation: Observation
    transformer: str | None
    likelihood: float
    # handed over to the outage above after the repair of a fault nested in it (see
    # GroupingEngine._split)
    renewed: bool = False
    # what the likelihoods read of a member, computed once
    minute: float = field(init=False, repr=False)
    log_likelihood: float = field(init=False, repr=False)
    customer_key: str | None = field(init=False, repr=False)
    partial: int = field(init=False, repr=False)
    saw_transformer: int = field(init=False, repr=False)
    saw_line: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.minute = self.observation.at.timestamp() / 60.0
        self.log_likelihood = math.log(max(self.likelihood, 1e-6)) if self.likelihood < 1.0 else 0.0
        self.customer_key = self.observation.customer or None
        self.partial = int(self.observation.power_present)
        self.saw_transformer = int(self.observation.sighting == SIGHT_TRANSFORMER)
        self.saw_line = int(self.observation.sighting == SIGHT_LINE)

    @property
    def sightings(self) -> tuple[int, int]:
        return self.saw_transformer, self.saw_line


def _minutes(at: datetime) -> float:
    return at.timestamp() / 60.0


class Stats:
    """What the likelihood of a group of calls needs, kept up to date call by call."""

    __slots__ = (
        "anonymous",
        "customers",
        "first",
        "first_at",
        "last_at",
        "n",
        "partial",
        "saw_line",
        "saw_transformer",
        "sum_logf",
        "sum_loglik",
        "times",
        "transformers",
    )

    def __init__(self) -> None:
        self.first = math.inf  # minutes
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.times: list[float] = []
        self.sum_logf = 0.0  # delay densities relative to first - lead
        self.sum_loglik = 0.0
        self.customers: set[str] = set()
        self.transformers: set[str] = set()
        self.anonymous = 0
        self.partial = 0
        self.saw_transformer = 0
        self.saw_line = 0
        self.n = 0

    @property
    def callers(self) -> int:
        return len(self.customers) + self.anonymous

    @property
    def sightings(self) -> tuple[int, int]:
        """Callers who saw a transformer fail, and who saw a wire or pole down."""
        return self.saw_transformer, self.saw_line


@dataclass
class Incident:
    id: str
    device: str | None
    feeder: str | None
    opened_at: datetime
    members: dict[str, Member] = field(default_factory=dict)
    state: str = UNCONFIRMED
    evidence: list[str] = field(default_factory=list)
    restored_at: datetime | None = None
    merged_into: str | None = None
    lon: float | None = None
    lat: float | None = None
    stats: Stats = field(default_factory=Stats, repr=False)
    checked: tuple[datetime, int] | None = field(default=None, repr=False)  # repartition
    split_from: str | None = field(default=None, repr=False)  # the incident it was cut from

    @property
    def onset(self) -> datetime:
        """The first call's time (the fault was shortly before)."""
        if self.stats.first_at is not None and self.stats.n == len(self.members):
            return self.stats.first_at
        return min(m.observation.at for m in self.members.values())

    @property
    def last_call(self) -> datetime:
        if self.stats.last_at is not None and self.stats.n == len(self.members):
            return self.stats.last_at
        return max(m.observation.at for m in self.members.values())

    @property
    def is_open(self) -> bool:
        return self.restored_at is None and self.merged_into is None

    def transformers(self) -> set[str]:
        if self.stats.n == len(self.members):
            return set(self.stats.transformers)
        return {m.transformer for m in self.members.values() if m.transformer}

    def callers(self) -> int:
        """Distinct customers who called (a repeat call from one customer counts once)."""
        known = {m.observation.customer for m in self.members.values() if m.observation.customer}
        anonymous = sum(1 for m in self.members.values() if not m.observation.customer)
        return len(known) + anonymous


@dataclass(frozen=True)
class Swept:
    """What a sweep did (see ``GroupingEngine.sweep``): when, the incidents split off, and
    the lone calls newly flagged as possibly the customer's own wiring."""

    at: datetime
    split: list[str]
    flagged: list[str]


CUSTOMER_SIDE_NOTE = "possibly the customer's own wiring (article 22)"


@dataclass
class Decision:
    call_id: str
    incident_id: str
    status: str  # new | merged
    device_id: str | None
    transformer_id: str | None
    reason: str
    absorbed: list[str] = field(default_factory=list)  # incidents merged into this one now
    split_into: list[str] = field(default_factory=list)  # incidents split off this one now
    customer_side_suspect: bool = False
    # the caller is below the device of an outage already probable or confirmed when the
    # call came: answered from it (article 25)
    known: bool = False


UNLOCATED_MIN_CALLS = 3  # located calls around an unplaced one before they decide it
LARGE_INCIDENT = 100  # calls: an incident whose re-examination is throttled (see _due)
BURST_LULL_MINUTES = 10.0  # without a call from a branch before its late burst


def _complement(
    n: int, idx: np.ndarray[Any, Any], within: np.ndarray[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    """The sorted indices below ``n`` (or of ``within``) not in ``idx``: ``np.setdiff1d``
    without its sorting, which a repartition paid on every candidate split."""
    keep = np.ones(n, dtype=bool) if within is None else np.zeros(n, dtype=bool)
    if within is not None:
        keep[within] = True
    keep[idx] = False
    return np.flatnonzero(keep)


class _Scorer:
    """The likelihood of any subset of one incident's calls, from arrays built once: the
    repartition of a large incident scores hundreds of subsets."""

    def __init__(
        self, engine: GroupingEngine, members: list[Member], now: datetime, inc_id: str
    ) -> None:
        self.engine = engine
        self.members = members
        self.now = now
        self.group = {inc_id}
        self.t = np.asarray([m.minute for m in members], dtype=np.float64)
        self.ll = np.asarray([m.log_likelihood for m in members], dtype=np.float64)
        codes: dict[str, int] = {}
        cust = []
        for i, m in enumerate(members):
            key = m.customer_key
            cust.append(codes.setdefault(key, len(codes)) if key is not None else -1 - i)
        self.cust = np.asarray(cust, dtype=np.int64)
        # no customer called twice: the callers of any subset are its calls
        self.distinct = len(set(cust)) == len(cust)
        # partial power, transformer seen, line seen: one row each, summed in one call
        # (small subsets sum the lists in Python)
        self.count_lists: list[list[int]] = [
            [m.partial for m in members],
            [m.saw_transformer for m in members],
            [m.saw_line for m in members],
        ]
        self.counts = np.asarray(self.count_lists, dtype=np.int64).reshape(3, len(members))
        self.t_list: list[float] = self.t.tolist()
        self.ll_list: list[float] = self.ll.tolist()
        self.cust_list: list[int] = self.cust.tolist()
        self.any_sighting = bool(self.counts[1:].any())
        self.transformers = [str(m.transformer) for m in members]
        self.chains = [engine.tree.chain(t) for t in self.transformers]
        self._devices: dict[bytes, str | None] = {}

    def at(self, idx: np.ndarray[Any, Any]) -> datetime:
        return self.members[int(idx[np.argmin(self.t[idx])])].observation.at

    def sightings(self, idx: np.ndarray[Any, Any]) -> tuple[int, int]:
        if not self.any_sighting:
            return (0, 0)
        if len(idx) < 24:
            ids = idx.tolist()
            _partial, saw_transformer, saw_line = self.count_lists
            return sum(saw_transformer[i] for i in ids), sum(saw_line[i] for i in ids)
        seen = self.counts[1:, idx].sum(axis=1).tolist()
        return seen[0], seen[1]

    def device_of(self, idx: np.ndarray[Any, Any]) -> str | None:
        key = np.sort(idx).tobytes()
        if key not in self._devices:
            self._devices[key] = self.engine._best_device(
                {self.transformers[i] for i in idx.tolist()}, self.sightings(idx)
            )
        return self._devices[key]

    def device_at(self, device: str, idx: np.ndarray[Any, Any]) -> str:
        """:meth:`device_of` for calls known to have ``device`` as their deepest common
        device (they span several of its branches, or are all at that transformer)."""
        return self.engine._best_at(device, self.sightings(idx))

    def score(self, device: str, idx: np.ndarray[Any, Any]) -> float:
        e = self.engine
        if len(idx) < 24:  # small subsets: plain Python beats numpy's per-call overhead
            ids = idx.tolist()
            times = [self.t_list[i] for i in ids]
            first = min(times)
            total = e._delay_log_sum(times, first)
            total += sum(self.ll_list[i] for i in ids)
            callers = len({self.cust_list[i] for i in ids})
            partial = sum(self.count_lists[0][i] for i in ids)
            seen = self.sightings(idx)
        else:
            t = self.t[idx]
            first = float(t.min())
            total = e._delay_log_sum(t, first) + float(self.ll[idx].sum())
            callers = len(idx) if self.distinct else len(set(self.cust[idx].tolist()))
            partial, saw_transformer, saw_line = self.counts[:, idx].sum(axis=1).tolist()
            seen = (saw_transformer, saw_line) if self.any_sighting else (0, 0)
        return e._fault_loglik(
            device, total, first, len(idx), callers, partial, self.now, self.group, seen
        )


class DeviceTree:
    """The protective devices of the network, as the grouping sees them (cached)."""

    def __init__(self, model: NetworkModel) -> None:
        self.model = model
        self._chain: dict[str, tuple[str, ...]] = {}
        self._chain_sets: dict[str, frozenset[str]] = {}
        self._customers: dict[str, int] = {}
        self._transformer_count: dict[str, int] = {}
        self._alike: dict[str, tuple[str, ...]] = {}
        self.exposure_km = self._exposure()
        mean = sum(self.exposure_km.values()) / max(len(self.exposure_km), 1)
        self._mean_exposure = mean

    def _exposure(self) -> dict[str, float]:
        """Kilometres of 10 kV line each protective device clears: storms fault lines, so a
        fuse on a long lateral operates more often than a transformer fails."""
        mv = self.model.data.layer("mv_lines")
        out: dict[str, float] = defaultdict(float)
        geoms = np.asarray(mv["geometry"].to_numpy(), dtype=object)
        if len(geoms) and all(g is not None for g in geoms):
            local = self.model.data.frame
            projected = shapely.transform(
                geoms, lambda xy: np.column_stack(local.forward(xy[:, 0], xy[:, 1]))
            )
            lengths = shapely.length(projected) / 1000.0
        else:
            lengths = np.full(len(mv), 0.1)
        for line_id, km in zip(mv["id"].tolist(), lengths.tolist(), strict=True):
            device = self.model.protective_device(str(line_id))
            if device is not None:
                out[device] += float(km)
        return dict(out)

    def log_prior(self, device: str, base: float) -> float:
        """Prior of a fault cleared by ``device``, scaled by its line exposure (a transformer
        counts a few hundred metres for its own failures)."""
        own = self.exposure_km.get(device, 0.0) + 0.3
        return math.log(base * own / (self._mean_exposure + 0.3))

    def chain(self, transformer: str) -> tuple[str, ...]:
        """Protective devices from the transformer (itself first) up to the breaker."""
        hit = self._chain.get(transformer)
        if hit is None:
            try:
                hit = tuple(self.model.protective_chain(transformer))
            except UnknownElementError:
                hit = ()
            self._chain[transformer] = hit
        return hit

    def device_chain(self, device: str) -> tuple[str, ...]:
        hit = self._chain.get(device)
        if hit is None:
            hit = tuple(self.model.protective_chain(device))
            self._chain[device] = hit
        return hit

    def customers(self, device: str) -> int:
        n = self._customers.get(device)
        if n is None:
            n = self.model.downstream_service_point_count(device)
            self._customers[device] = n
        return n

    def transformer_count(self, device: str) -> int:
        n = self._transformer_count.get(device)
        if n is None:
            n = len(self.model.downstream_transformers(device))
            self._transformer_count[device] = n
        return n

    def alike(self, device: str) -> tuple[str, ...]:
        """The devices on ``device``'s chain, itself included, from the lowest up, that feed
        exactly its customers: no call can tell which of them operated, so the crew is
        told to check them all."""
        hit = self._alike.get(device)
        if hit is None:
            n = self.customers(device)
            # below it: on the chain of any transformer with customers, as all are below
            below: list[str] = []
            if n:
                for t in self.model.downstream_transformers(device):
                    if self.customers(t) > 0:
                        chain = self.chain(t)
                        if device in chain:
                            below = [
                                d for d in chain[: chain.index(device)] if self.customers(d) == n
                            ]
                        break
            above = []
            for d in self.device_chain(device)[1:]:
                if self.customers(d) != n:
                    break
                above.append(d)
            hit = self._alike[device] = (*below, device, *above)
        return hit

    def lca(self, devices: Iterable[str]) -> str | None:
        """The deepest protective device above (or at) all the given devices."""
        it = iter(devices)
        first = next(it, None)
        if first is None:
            return None
        chain = self.device_chain(first)
        if not chain:
            return None
        # the deepest device of the first chain that is in every other: the chains run to
        # the root, so the answer only moves up as more chains are met
        pos = 0
        for d in it:
            above = self._chain_sets.get(d)
            if above is None:
                above = self._chain_sets[d] = frozenset(self.device_chain(d))
            while chain[pos] not in above:
                pos += 1
                if pos == len(chain):
                    return None
        return chain[pos]

    def feeder(self, device: str) -> str | None:
        return self.model.feeder_of(device)


class _RecentCalls:
    """The located calls of the last minutes (time, incident), with a count per incident
    kept as calls come and go: storm mode asks which outage takes most of them at every
    unplaced call, and a storm's peak puts a thousand calls in the window."""

    def __init__(self) -> None:
        self._calls: deque[tuple[datetime, str]] = deque()
        self.counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._calls)

    def append(self, at: datetime, incident_id: str) -> None:
        self._calls.append((at, incident_id))
        self.counts[incident_id] += 1

    def forget_before(self, since: datetime) -> None:
        calls, counts = self._calls, self.counts
        while calls and calls[0][0] < since:
            _at, incident_id = calls.popleft()
            counts[incident_id] -= 1
            if not counts[incident_id]:
                del counts[incident_id]


class GroupingEngine:
    """Keeps the open incidents and decides, call by call, which fault each call reports."""

    def __init__(
        self,
        model: NetworkModel,
        settings: GroupingSettings | None = None,
        new_id: Callable[[], str] | None = None,
        tree: DeviceTree | None = None,
    ) -> None:
        # the tree depends on the network only: an engine rebuilt from the database (the
        # intake's reload) takes the old one's, with its caches
        self.tree = tree or DeviceTree(model)
        self.s = settings or GroupingSettings()
        self.incidents: dict[str, Incident] = {}
        self._at_device: dict[str, set[str]] = defaultdict(set)  # device -> open incidents there
        self._below: dict[str, set[str]] = defaultdict(set)  # device -> open incidents below it
        self._by_phone: dict[str, tuple[str, datetime]] = {}  # phone -> latest call, time
        self._member_incident: dict[str, str] = {}  # call id -> incident now holding it
        self._settled: datetime | None = None
        self._sweep_at: datetime | None = None  # the latest call whose sweep is still to run
        self._examine_next: list[tuple[str, datetime]] = []  # incidents left by the calls
        self._recent = _RecentCalls()  # located calls: time, incident
        self._kinds: dict[str, str] = {}
        self._best_cache: dict[tuple[str, tuple[int, int]], str] = {}
        self._unlocated: set[str] = set()
        self._unlocated_weighed: set[str] = set()  # see _place_unlocated
        # incidents merged into another by a re-examination, not by a call: (merged, into),
        # for the intake to merge their orders (see take_merges)
        self._late_merges: list[tuple[str, str]] = []
        self._restored: set[str] = set()  # restored incidents with a device (see _renewed)
        self._rolled: dict[str, int] = {}  # calls of an incident at its last settle roll-up
        # a repaired nested fault's area whose customers are calling again: the outage that
        # took their calls, and the time of the latest (see _wave_holder)
        self._waves: dict[str, tuple[str, datetime]] = {}
        self._counter = 0
        self._new_id = new_id or self._next_id
        s = self.s
        self._lead = timedelta(minutes=s.onset_lead_minutes)
        # The call rate is not known (5 to 15 % of customers call): a grid over its range,
        # averaged, so that a fault with few callers is not mistaken for several small ones.
        steps = 8
        self._rates = [
            s.call_rate_min + (s.call_rate_max - s.call_rate_min) * i / (steps - 1)
            for i in range(steps)
        ]
        self._log_rates = [math.log(r) for r in self._rates]
        self._log_rate_weight = -math.log(steps)
        self._not_yet: dict[float, list[float]] = {}  # see _calls_loglik
        # Each further fault must also have started when its calls say: faults spread over
        # a storm rarely start within the same few minutes by chance.
        self._log_onset = math.log(min(1.0, s.onset_resolution_minutes / s.cluster_minutes))
        self._log_saw_transformer = math.log(s.sighting_transformer_ratio)
        self._log_saw_line = math.log(s.sighting_line_ratio)

    # -- the evidence model ------------------------------------------------------------

    def _next_id(self) -> str:
        self._counter += 1
        return f"INC{self._counter:06d}"

    def _delay_pdf_log(self, minutes: float) -> float:
        s = self.s
        m = max(minutes, 0.0)
        fast = s.delay_fast_share / s.delay_fast_minutes * math.exp(-m / s.delay_fast_minutes)
        slow = (1 - s.delay_fast_share) / s.delay_slow_minutes * math.exp(-m / s.delay_slow_minutes)
        return math.log(fast + slow + 1e-300)

    def _delay_log_sum(self, times: Sequence[float] | np.ndarray[Any, Any], first: float) -> float:
        """Sum of the log delay densities of calls at ``times`` (minutes) after a fault just
        before ``first``: plain Python for a few calls (numpy's call overhead), numpy for
        many."""
        lead = self.s.onset_lead_minutes
        if len(times) < 24:
            return sum(self._delay_pdf_log(t - first + lead) for t in times)
        s = self.s
        m = np.maximum(np.asarray(times) - first + lead, 0.0)
        fast = s.delay_fast_share / s.delay_fast_minutes * np.exp(-m / s.delay_fast_minutes)
        slow = (1 - s.delay_fast_share) / s.delay_slow_minutes * np.exp(-m / s.delay_slow_minutes)
        return float(np.log(fast + slow + 1e-300).sum())

    def _delay_cdf(self, minutes: float) -> float:
        s = self.s
        m = max(minutes, 0.0)
        return s.delay_fast_share * (1 - math.exp(-m / s.delay_fast_minutes)) + (
            1 - s.delay_fast_share
        ) * (1 - math.exp(-m / s.delay_slow_minutes))

    def _calls_loglik(self, callers: int, customers: int, since_minutes: float) -> float:
        """log P(these customers called and the rest not yet | all are out), the call rate
        averaged over its range."""
        silent = max(customers - callers, 0)
        not_yet = self._not_yet.get(since_minutes)
        if not_yet is None:
            # log P(a customer has not called yet), per call rate: one repartition asks it
            # of hundreds of subsets that began with the same call
            cdf = self._delay_cdf(since_minutes)
            not_yet = [math.log(1 - r * cdf) for r in self._rates]
            if len(self._not_yet) > 10_000:
                self._not_yet.clear()
            self._not_yet[since_minutes] = not_yet
        terms = [callers * lr + silent * q for lr, q in zip(self._log_rates, not_yet, strict=True)]
        top = max(terms)
        return top + math.log(sum(math.exp(t - top) for t in terms)) + self._log_rate_weight

    def _fault_log_prior(self, device: str) -> float:
        return self.tree.log_prior(device, self.s.fault_prior) + self._log_onset

    def _already_out(self, device: str, group: set[str], onset: float) -> int:
        """Customers below ``device`` who were already out, under older open incidents that
        are not part of the group (``onset`` in minutes): a new fault there cannot make
        them call."""
        devices = set()
        for i in self._below.get(device, ()):
            if i in group:
                continue
            other = self.incidents[i]
            if other.device != device and other.stats.first < onset:
                devices.add(str(other.device))
        if not devices:
            return 0
        top = {d for d in devices if not any(a in devices for a in self.tree.device_chain(d)[1:])}
        return sum(self.tree.customers(d) for d in top)

    def _stats(self, members: Iterable[Member]) -> Stats:
        st = Stats()
        members = list(members)
        if not members:
            return st
        times = st.times
        loglik = 0.0
        customers: list[str] = []
        partial = saw_transformer = saw_line = 0
        for m in members:
            times.append(m.minute)
            loglik += m.log_likelihood
            if m.customer_key is not None:
                customers.append(m.customer_key)
            partial += m.partial
            saw_transformer += m.saw_transformer
            saw_line += m.saw_line
        st.customers = set(customers)
        st.transformers = {m.transformer for m in members if m.transformer}
        st.anonymous = len(members) - len(customers)
        st.sum_loglik = loglik
        st.partial = partial
        st.saw_transformer = saw_transformer
        st.saw_line = saw_line
        st.n = len(times)
        self._stats_recompute(st)
        first = min(members, key=lambda m: m.minute)
        st.first_at = first.observation.at
        st.last_at = max(members, key=lambda m: m.minute).observation.at
        return st

    def _stats_merge(self, st: Stats, p: Stats) -> None:
        """Adds a group's stats to ``st``: the calls of both as one group. The delays are
        measured from the first call of all, so only the side that does not hold it is
        summed again (a roll-up adds small incidents to a large one, one at a time)."""
        if p.n == 0:
            return
        if st.n == 0:
            st.sum_logf = p.sum_logf
            st.first, st.first_at = p.first, p.first_at
        elif p.first < st.first:
            st.sum_logf = p.sum_logf + self._delay_log_sum(st.times, p.first)
            st.first, st.first_at = p.first, p.first_at
        else:
            st.sum_logf += self._delay_log_sum(p.times, st.first)
        st.times.extend(p.times)
        st.sum_loglik += p.sum_loglik
        st.customers |= p.customers
        st.transformers |= p.transformers
        st.anonymous += p.anonymous
        st.partial += p.partial
        st.saw_transformer += p.saw_transformer
        st.saw_line += p.saw_line
        st.n += p.n
        if st.last_at is None or (p.last_at is not None and p.last_at > st.last_at):
            st.last_at = p.last_at

    def _stats_add(self, st: Stats, m: Member, *, recompute: bool = True) -> None:
        o = m.observation
        t = m.minute
        st.times.append(t)
        st.sum_loglik += math.log(max(m.likelihood, 1e-6)) if m.likelihood < 1.0 else 0.0
        if o.customer:
            st.customers.add(o.customer)
        else:
            st.anonymous += 1
        if m.transformer:
            st.transformers.add(m.transformer)
        st.partial += o.power_present
        st.saw_transformer += m.saw_transformer
        st.saw_line += m.saw_line
        st.n += 1
        if st.last_at is None or o.at > st.last_at:
            st.last_at = o.at
        if t < st.first:
            st.first = t
            st.first_at = o.at
            if recompute:
                self._stats_recompute(st)
        elif recompute:
            st.sum_logf += self._delay_pdf_log(t - st.first + self.s.onset_lead_minutes)

    def _stats_recompute(self, st: Stats) -> None:
        if not st.times:
            return
        st.first = min(st.times)
        st.sum_logf = self._delay_log_sum(st.times, st.first)

    def _stats_loglik(
        self,
        device: str,
        st: Stats,
        now: datetime,
        group: set[str] | None = None,
        customers: int | None = None,
    ) -> float:
        """Log-likelihood of a group's calls as one fault at ``device``, with its prior
        (``customers``: see :meth:`_fault_loglik`)."""
        if st.n == 0:
            return 0.0
        return self._fault_loglik(
            device,
            st.sum_logf + st.sum_loglik,
            st.first,
            st.n,
            st.callers,
            st.partial,
            now,
            group or set(),
            st.sightings,
            customers,
        )

    def _fault_loglik(
        self,
        device: str,
        calls_terms: float,
        first: float,
        n: int,
        callers: int,
        partial: int,
        now: datetime,
        group: set[str],
        sightings: tuple[int, int] = (0, 0),
        customers: int | None = None,
    ) -> float:
        """The calls' own terms (delays, locating) plus who called and who not yet below
        ``device``, the contradiction of callers with partial power (a full trip leaves
        nobody with some power, unless every call says so), what callers saw, and the
        prior. ``customers``: those below ``device`` who could call, when already known."""
        since = _minutes(now) - first + self.s.onset_lead_minutes
        if customers is None:
            customers = self.tree.customers(device) - self._already_out(device, group, first)
        total = calls_terms + self._calls_loglik(callers, customers, since)
        if 0 < partial < n:
            total -= 2.0 * partial
        return total + self._sighting_loglik(device, sightings) + self._fault_log_prior(device)

    def _sighting_loglik(self, device: str, sightings: tuple[int, int]) -> float:
        """What callers saw, for a fault at ``device``: a transformer humming or smoking is
        likelier when that transformer itself failed (every caller of a transformer fault
        is below it); a wire or pole down is likelier when a line failed, cleared by a
        switch. Neither says anything between two switches."""
        saw_transformer, saw_line = sightings
        if not (saw_transformer or saw_line) or not self._is_transformer(device):
            return 0.0
        return saw_transformer * self._log_saw_transformer - saw_line * self._log_saw_line

    def _group_loglik(self, device: str, members: Iterable[Member], now: datetime) -> float:
        """Log-likelihood of the calls of one fault at ``device`` (one onset), with its prior."""
        ms = list(members)
        group = {i for m in ms if (i := self._member_incident.get(m.observation.call_id))}
        return self._stats_loglik(device, self._stats(ms), now, group)

    def _incident_loglik(self, inc: Incident, now: datetime) -> float:
        return self._stats_loglik(str(inc.device), inc.stats, now, {inc.id})

    # -- indices -----------------------------------------------------------------------

    def _add(self, inc: Incident, member: Member) -> None:
        inc.members[member.observation.call_id] = member
        self._member_incident[member.observation.call_id] = inc.id
        self._stats_add(inc.stats, member)
        if inc.state == UNCONFIRMED and inc.stats.callers >= 2:
            # a second customer: no longer one caller's word (nor their own wiring)
            inc.state = PROBABLE
            inc.evidence.append(
                f"{member.observation.at:%H:%M} probable: {inc.stats.callers} customers calling"
            )

    def _rebuild_stats(self, inc: Incident) -> None:
        inc.stats = self._stats(inc.members.values())

    def _register(self, inc: Incident) -> None:
        if inc.device is None:
            self._unlocated.add(inc.id)
            return
        self._at_device[inc.device].add(inc.id)
        for d in self.tree.device_chain(inc.device):
            self._below[d].add(inc.id)

    def _unregister(self, inc: Incident) -> None:
        if inc.device is None:
            self._unlocated.discard(inc.id)
            return
        self._at_device[inc.device].discard(inc.id)
        for d in self.tree.device_chain(inc.device):
            self._below[d].discard(inc.id)

    def _set_device(self, inc: Incident, device: str | None) -> None:
        if inc.device == device:
            return
        if inc.is_open:
            self._unregister(inc)
        inc.device = device
        inc.feeder = self.tree.feeder(device) if device else inc.feeder
        if inc.is_open:
            self._register(inc)
        if device is not None and inc.members and len(alike := self.tree.alike(device)) > 1:
            others = ", ".join(d for d in alike if d != device)
            inc.evidence.append(
                f"{inc.last_call:%H:%M} {device} or {others}: they feed the same "
                f"{self.tree.customers(device)} customers, so no call can tell which operated "
                f"({device} is the likelier: more line exposed, or what callers saw)"
            )

    # -- the call-by-call decision -----------------------------------------------------

    def process(self, obs: Observation, *, sweep: bool = True) -> Decision:
        """Decides which fault the call reports. With ``sweep`` the periodic re-examination
        of the other open incidents (see :meth:`settle`) runs here too; without it, it is
        left to :meth:`sweep`, so that the call's answer need not wait for it."""
        candidates = [(t, p) for t, p in obs.candidates if self.tree.chain(t)]
        if not candidates:
            return self._process_unlocated(obs)
        now = obs.at
        best: tuple[float, str, str | None, float, str] | None = None
        # (score, transformer, incident to join or None, likelihood, reason)
        burst = timedelta(minutes=self.s.new_burst_minutes)
        for transformer, likelihood in candidates:
            log_p = math.log(max(likelihood, 1e-6))
            alone: float | None = None  # the call as a fault of its own, once per candidate
            # Below a young open incident a caller is already out: the call joins it
            # (article 24). Below an older one it may be a new fault (the old one restored):
            # the likelihoods decide, as they decide between uncertain candidates.
            joinable = self._joinable(transformer, obs)
            young = [i for i, _r in joinable if obs.at - self.incidents[i].onset <= burst]
            # A customer's outage began with the first fault that cut them off: of the young
            # incidents above the caller, the oldest is the one they report.
            first = min(young, key=lambda i: (self.incidents[i].onset, i)) if young else None
            for inc_id, reason in joinable:
                if first is not None and inc_id != first and inc_id in young:
                    continue
                inc = self.incidents[inc_id]
                if alone is None:
                    alone = self._alone_loglik(obs, transformer, now)
                score = log_p + self._join_gain(inc, obs, transformer, now, alone)
                if best is None or score > best[0]:
                    best = (score, transformer, inc_id, likelihood, reason)
            if first is None and (best is None or log_p > best[0]):
                best = (log_p, transformer, None, likelihood, "")
        assert best is not None
        _score, transformer, join_id, likelihood, reason = best
        if (going_on := self._wave_holder(transformer, likelihood, now)) is not None:
            join_id, reason = going_on
        if join_id is None and (again := self._phone_incident(obs)) is not None:
            # A caller heard before about an open outage above them calls again (article
            # 24's repeat call), however late: they are still out, not hit by a new fault.
            held = self.incidents[again]
            if held.device is not None and held.device in self.tree.chain(transformer):
                join_id = again
                reason = f"the same caller again, still below {held.id} ({held.device})"
        member = Member(obs, transformer, likelihood)
        known = False
        if join_id is not None:
            inc = self.incidents[join_id]
            known = inc.state in (PROBABLE, CONFIRMED) and reason.startswith("below open")
            self._add(inc, member)
            status = MERGED
            inc.evidence.append(f"{obs.at:%H:%M} call {obs.call_id}: {reason}")
            self._refit(inc, now)
        else:
            inc = self._open(obs, member, transformer)
            status = NEW
        self._remember_phone(obs)
        absorbed, split = self._roll_up(inc, now, obs.call_id)
        holder = self.survivor(self.incidents[self._member_incident[obs.call_id]])
        if (wave := self._calling_again(holder)) is not None:
            nested, above = wave
            why = (
                f"{nested.id}'s customers calling again: its fault at {nested.device} was "
                f"likely repaired, and they are still out under {above.id} ({above.device})"
            )
            self._give(holder, above, why, now, area=str(nested.device))
            status, reason = MERGED, why
            absorbed = [*absorbed, holder.id]  # its order, if it had one, goes with it
        if not absorbed and not split and self._due(inc, now, 2.0):
            if sweep:
                split = self._repartition(inc, now)
            elif len(inc.members) < LARGE_INCIDENT:
                # re-examined by the sweep right after the answer, which need not wait for
                # it; a large incident changes little with one more call, and is left to
                # the periodic re-examination (see _due)
                self._examine_next.append((inc.id, now))
        if sweep:
            split += self.settle(now)
        elif self._sweep_at is None or now > self._sweep_at:
            self._sweep_at = now
        # (a roll-up may have moved the call out of ``inc``: see _merge_without_stray)
        survivor = self.survivor(self.incidents[self._member_incident[obs.call_id]])
        if status == NEW and (absorbed or survivor.id != inc.id):
            # its fault was already reported: the roll-up joined it to earlier calls and their
            # order (article 24), so it is answered as a repeat, not as a new fault
            status = MERGED
            reason = f"rolled up with earlier calls into {survivor.id}"
        decision = Decision(
            call_id=obs.call_id,
            incident_id=survivor.id,
            status=status,
            device_id=survivor.device,
            transformer_id=transformer,
            reason=self._reason(survivor, status, reason, transformer, likelihood),
            absorbed=absorbed,
            split_into=split,
            known=known and status == MERGED,
        )
        decision.customer_side_suspect = self._lone(survivor)
        self._recent.append(obs.at, survivor.id)
        return decision

    def survivor(self, inc: Incident) -> Incident:
        """The incident that now holds ``inc``'s calls (itself unless merged)."""
        while inc.merged_into is not None:
            inc = self.incidents[inc.merged_into]
        return inc

    def _joinable(self, transformer: str, obs: Observation) -> list[tuple[str, str]]:
        """Open incidents whose device feeds the transformer, deepest first; and the
        incident of an earlier call from the same phone."""
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for device in self.tree.chain(transformer):
            for inc_id in sorted(self._at_device.get(device, ())):
                inc = self.incidents[inc_id]
                age = (obs.at - inc.last_call).total_seconds() / 60
                if age > self.s.rejoin_minutes:
                    continue
                if inc_id not in seen:
                    seen.add(inc_id)
                    kind = "transformer" if device == transformer else "device"
                    out.append((inc_id, f"below open incident {inc_id} ({kind} {device})"))
        hit = self._phone_incident(obs)
        if hit is not None and hit not in seen:
            out.append((hit, f"same caller phone as an earlier call of {hit}"))
        return out

    def _alone_loglik(self, obs: Observation, transformer: str, now: datetime) -> float:
        """The call as a fault of its own at its transformer's likeliest device."""
        member = Member(obs, transformer, 1.0)
        return self._stats_loglik(self._device_alone(member), self._stats([member]), now)

    def _join_gain(
        self, inc: Incident, obs: Observation, transformer: str, now: datetime, alone: float
    ) -> float:
        """How much likelier the calls are with this call in ``inc`` than with the call as a
        fault of its own (``alone``, see :meth:`_alone_loglik`). The older the incident, the
        likelier a crew has restored it, so the likelier a late call is a new fault."""
        if inc.device is None:
            # an unlocated incident reached through the caller's phone: the same caller
            # calling again is strong evidence by itself
            return 3.0
        st = inc.stats
        device = str(inc.device)
        t = _minutes(obs.at)
        lead = self.s.onset_lead_minutes
        if t < st.first or st.n == 0:
            return self._join_gain_slow(inc, obs, transformer, now, alone)
        # who is below the device and already out is asked once, for both sides
        since = _minutes(now) - st.first + lead
        customers = self.tree.customers(device) - self._already_out(device, {inc.id}, st.first)
        without = self._stats_loglik(device, st, now, {inc.id}, customers)
        new_customer = obs.customer is None or obs.customer not in st.customers
        callers = st.callers + (1 if new_customer else 0)
        with_call = (
            st.sum_logf
            + self._delay_pdf_log(t - st.first + lead)
            + st.sum_loglik
            + self._calls_loglik(callers, customers, since)
            + self._fault_log_prior(device)
        )
        partial = st.partial + obs.power_present
        if 0 < partial < st.n + 1:
            with_call -= 2.0 * partial
        member = Member(obs, transformer, 1.0)
        with_call += self._sighting_loglik(
            device, (st.saw_transformer + member.saw_transformer, st.saw_line + member.saw_line)
        )
        hazard = (t - st.first) / self.s.restore_minutes
        return with_call - without - alone - hazard

    def _join_gain_slow(
        self, inc: Incident, obs: Observation, transformer: str, now: datetime, alone: float
    ) -> float:
        member = Member(obs, transformer, 1.0)
        device = str(inc.device)
        with_call = self._group_loglik(device, [*inc.members.values(), member], now)
        without = self._incident_loglik(inc, now)
        return with_call - without - alone

    def _open(self, obs: Observation, member: Member, transformer: str) -> Incident:
        inc = Incident(
            id=self._new_id(),
            device=None,
            feeder=None,
            opened_at=obs.at,
            lon=obs.lon,
            lat=obs.lat,
        )
        self._add(inc, member)
        self.incidents[inc.id] = inc
        inc.evidence.append(
            f"{obs.at:%H:%M} call {obs.call_id}: new incident at transformer {transformer}"
        )
        self._set_device(inc, self._device_alone(member))
        if inc.device is None:
            self._register(inc)
        return inc

    def _best_device(
        self, transformers: set[str], sightings: tuple[int, int] = (0, 0)
    ) -> str | None:
        """The deepest protective device above all the calls; where devices above it feed
        exactly the same customers, who called cannot tell them apart: what the callers saw
        and the likelier one (more line exposed to the storm) decide."""
        device = self.tree.lca(transformers)
        return None if device is None else self._best_at(device, sightings)

    def _device_alone(self, member: Member) -> str:
        """The device of a call's fault when it is the only call of that fault."""
        transformer = str(member.transformer)
        return self._best_device({transformer}, member.sightings) or transformer

    def _best_at(self, device: str, sightings: tuple[int, int]) -> str:
        """:meth:`_best_device` of calls whose deepest common device is ``device`` (cached:
        a repartition asks it of every subtree it weighs)."""
        key = (device, sightings)
        best = self._best_cache.get(key)
        if best is not None:
            return best
        chain = self.tree.device_chain(device)
        n = self.tree.customers(device)
        best = device
        best_prior = self.tree.log_prior(device, self.s.fault_prior) + self._sighting_loglik(
            device, sightings
        )
        for up in chain[1:]:
            if self.tree.customers(up) != n:
                break
            prior = self.tree.log_prior(up, self.s.fault_prior) + self._sighting_loglik(
                up, sightings
            )
            if prior > best_prior:
                best, best_prior = up, prior
        if len(self._best_cache) > 100_000:
            self._best_cache.clear()
        self._best_cache[key] = best
        return best

    def _refit(self, inc: Incident, now: datetime) -> None:
        """The incident's device: see :meth:`_best_device`."""
        device = self._best_device(inc.transformers(), inc.stats.sightings)
        if device is not None and device != inc.device:
            old = inc.device
            self._set_device(inc, device)
            inc.evidence.append(f"{now:%H:%M} inferred device {old} → {device}")

    # -- roll-up and split ---------------------------------------------------------------

    def _roll_up(
        self,
        inc: Incident,
        now: datetime,
        call_id: str | None = None,
        margin: float | None = None,
        avoid: frozenset[str] = frozenset(),
    ) -> tuple[list[str], list[str]]:
        """Merges incidents below an ancestor of ``inc`` into one when one fault there
        explains their calls better; returns the ids absorbed, and those of the incidents
        split off (a stray first call's, see :meth:`_merge_without_stray`).

        At each ancestor the candidates are the open incidents below it, taken in order of
        how close their onsets are to this one's: the best such prefix is the group (faults
        far apart in time are not one fault, however close on the network)."""
        if inc.device is None:
            return [], []
        margin = self.s.roll_up_margin if margin is None else margin
        onset = inc.onset
        window = timedelta(minutes=self.s.merge_window_minutes)
        best: tuple[float, str, list[Incident], Member | None] | None = None
        chain = self.tree.device_chain(inc.device)
        own: dict[str, float] = {}  # each incident's own log-likelihood, when first needed
        for ancestor in chain[1:]:
            others = [
                self.incidents[i]
                for i in self._below.get(ancestor, ())
                if i != inc.id and i not in avoid and abs(self.incidents[i].onset - onset) <= window
            ]
            if not others:
                continue
            others.sort(key=lambda g: (abs((g.onset - onset).total_seconds()), g.id))
            # Upper bound first: merging can only add silent customers and lose time fit.
            group_all = [inc, *others]
            covered = sum(self.tree.customers(str(g.device)) for g in group_all)
            since = (now - (min(g.onset for g in group_all) - self._lead)).total_seconds() / 60
            # customers out since an older fault cannot call about this one: counting them
            # silent made the bound no bound, and kept a storm's largest outages in pieces
            first_call = min(g.stats.first for g in group_all)
            out = self._already_out(ancestor, {g.id for g in group_all}, first_call)
            extra_silent = max(self.tree.customers(ancestor) - out - covered, 0)
            bound = (
                extra_silent * math.log(1 - self._rates[0] * self._delay_cdf(since))
                + self._fault_log_prior(ancestor)
                - sum(self._fault_log_prior(str(g.device)) for g in group_all)
                # a line seen down weighs against the transformers, not against the ancestor
                + sum(
                    g.stats.saw_line * self._log_saw_line
                    for g in group_all
                    if g.stats.saw_line and self._is_transformer(str(g.device))
                )
            )
            if bound <= 0:
                continue
            together = Stats()
            self._stats_merge(together, inc.stats)
            ids = {inc.id}
            if inc.id not in own:
                own[inc.id] = self._incident_loglik(inc, now)
            separate = own[inc.id]
            # the incident holding the group's first call, and the others' earliest first
            holder, later = inc, math.inf
            for size, g in enumerate(others, 2):
                if g.id not in own:
                    own[g.id] = self._incident_loglik(g, now)
                self._stats_merge(together, g.stats)
                ids.add(g.id)
                separate += own[g.id]
                if g.stats.first < holder.stats.first:
                    holder, later = g, min(later, holder.stats.first)
                else:
                    later = min(later, g.stats.first)
                gain = self._stats_loglik(ancestor, together, now, ids) - separate
                stray = None
                if gain <= margin:
                    # one early call of another fault may hold the whole group's onset
                    stray = self._stray_first(holder, later, together, gain, call_id, margin)
                    if stray is None:
                        continue
                    gain = (
                        self._without_stray_loglik(ancestor, group_all[:size], stray, now)
                        - separate
                    )
                if gain > margin and (best is None or gain > best[0]):
                    best = (gain, ancestor, group_all[:size], stray)
        if best is None:
            return [], []
        gain, ancestor, group, stray = best
        if stray is None:
            return self._merge(group, ancestor, now, gain), []
        return self._merge_without_stray(group, stray, ancestor, now, gain)

    def _stray_first(
        self,
        holder: Incident,
        later: float,
        together: Stats,
        gain: float,
        call_id: str | None,
        margin: float,
    ) -> Member | None:
        """The group's first call, when it alone sets the onset of one fault for all of the
        group's calls, early enough that without it the roll-up might be worth it: a call
        about a small fault (or a customer's own wiring) a minute before a large outage
        above it. Measuring a thousand calls' delays from it costs more than a fault.
        None otherwise, which bounds decide cheaply for most groups (``holder``: the
        incident holding that call; ``later``: the other incidents' earliest first call;
        ``gain``: the roll-up with that call; ``call_id``: the call being taken)."""
        if len(holder.members) < 2:
            return None
        # The delay density falls at most 1/delay_fast_minutes (log) per minute: measured
        # from a later first call, each other call gains at most that much per minute.
        fall = (together.n - 1) / self.s.delay_fast_minutes
        own = -self._delay_pdf_log(self.s.onset_lead_minutes)  # the call's own delay term
        reach = margin - gain - own
        if (later - together.first) * fall <= reach:
            return None
        stray = min(holder.members.values(), key=lambda m: m.minute)
        # (not the call being taken, typed in late: its answer is the incident it keeps,
        # and the incidents merged would be reported as merged into that one)
        if not stray.transformer or stray.renewed or stray.observation.call_id == call_id:
            return None
        second = min([later, *(m.minute for m in holder.members.values() if m is not stray)])
        if (second - together.first) * fall - stray.log_likelihood <= reach:
            return None
        return stray

    def _without_stray_loglik(
        self, ancestor: str, group: list[Incident], stray: Member, now: datetime
    ) -> float:
        """Log-likelihood of the group's calls as one fault at ``ancestor`` and the stray
        first call as a fault of its own (none when other calls of the group come from
        that fault's area: they would be about it too, a fault nested in the outage)."""
        members = [m for g in group for m in g.members.values() if m is not stray]
        device = self._device_alone(stray)
        if any(m.transformer and device in self.tree.chain(m.transformer) for m in members):
            return -math.inf
        rest = self._stats(members)
        ids = {g.id for g in group}
        # the stray's fault, older, holds its area's customers: they cannot call about the rest
        customers = (
            self.tree.customers(ancestor)
            - self._already_out(ancestor, ids, rest.first)
            - self.tree.customers(device)
        )
        alone = self._stats_loglik(device, self._stats([stray]), now)
        return self._stats_loglik(ancestor, rest, now, ids, max(customers, 0)) + alone

    def _merge_without_stray(
        self, group: list[Incident], stray: Member, device: str, now: datetime, gain: float
    ) -> tuple[list[str], list[str]]:
        """The group merged at ``device`` but for its stray first call, which keeps its
        incident (the rest of that incident's calls are split off it and merged)."""
        holder = next(g for g in group if stray.observation.call_id in g.members)
        rest = [m for m in holder.members.values() if m is not stray]
        stray_device = self._device_alone(stray)
        rest_device = self._best_device({m.transformer for m in rest if m.transformer}) or str(
            holder.device
        )
        split = self._split(holder, [(stray_device, [stray]), (rest_device, rest)], now, gain)
        part = self.incidents[split[0]]
        holder.evidence.append(
            f"{now:%H:%M} its first call {stray.observation.call_id} is a fault of its own, "
            f"just before the outage at {device} that took its other calls"
        )
        if part.merged_into is not None:
            return [], split
        others = [g for g in group if g is not holder]
        # an incident of before keeps the calls: the part, new, has no order to take them
        keep = min(others, key=lambda g: (g.opened_at, g.id))
        return self._merge([part, *others], device, now, gain, keep), split

    def _absorb(self, keep: Incident, g: Incident, *, renewed: bool = False) -> None:
        """``g``'s calls into ``keep``, and ``g`` merged into it."""
        self._unregister(g)
        g.merged_into = keep.id
        for m in g.members.values():
            self._add(keep, replace(m, renewed=True) if renewed else m)

    def _merge(
        self,
        group: list[Incident],
        device: str,
        now: datetime,
        gain: float,
        keep: Incident | None = None,
    ) -> list[str]:
        keep = keep or min(group, key=lambda g: (g.opened_at, g.id))
        absorbed = []
        n_tr = len({t for g in group for t in g.transformers()})
        total_tr = self.tree.transformer_count(device)
        for g in group:
            if g is keep:
                continue
            self._absorb(keep, g)
            keep.evidence.extend(g.evidence)
            g.evidence.append(f"{now:%H:%M} merged into {keep.id}")
            absorbed.append(g.id)
        old = keep.device
        self._set_device(keep, device)
        spread = (max(g.onset for g in group) - min(g.onset for g in group)).total_seconds() / 60
        keep.evidence.append(
            f"{now:%H:%M} roll-up {old} → {device}: {n_tr} of {total_tr} transformers below it "
            f"calling, {keep.callers()} callers of {self.tree.customers(device)} customers, "
            f"onsets within {spread:.0f} min (log-likelihood +{gain:.1f}); merged "
            f"{', '.join(absorbed)}"
        )
        return absorbed

    def settle(self, now: datetime, *, force: bool = False) -> list[str]:
        """Every few minutes of calls, re-examines the open incidents: silence that has
        grown since a roll-up may now say it was several faults. ``force`` examines every
        open incident now (at the end of a replay, at a shift handover)."""
        if not force and not self._settle_due(now):
            return []
        self._settled = now
        out: list[str] = []
        for inc in list(self.incidents.values()):
            if inc.is_open and (self._due(inc, now, 0.0 if force else self.s.settle_minutes * 3)):
                out.extend(self._repartition(inc, now))
        out.extend(self._settle_roll_ups(now, force=force))
        self._place_unlocated(now, force=force)
        return out

    def _settle_roll_ups(self, now: datetime, *, force: bool = False) -> list[str]:
        """Incidents that one fault above them explains better, now that their calls are
        in: a roll-up asks for ``roll_up_margin`` when a call comes (its first minutes
        cannot yet tell one fault from several), which a few calls of a large fault spread
        over its branches may never give. Their orders are merged (see take_merges). An
        incident without a new call since it was last looked at is left (``force``: all)."""
        margin = self.s.settle_roll_up_margin
        if margin >= self.s.roll_up_margin:
            return []
        stale = timedelta(minutes=self.s.rejoin_minutes)
        # what a re-examination cut apart, it found likelier several faults: not undone here
        avoid = frozenset(
            x for i in self.incidents.values() if i.split_from for x in (i.id, i.split_from)
        )
        split: list[str] = []
        # (the merged and restored incidents of the storm so far are most of them)
        candidates = [i for i in self.incidents.values() if i.is_open and i.device is not None]
        for inc in sorted(candidates, key=lambda i: (i.onset, i.id)):
            if (
                not inc.is_open  # merged by a roll-up earlier in this loop
                or inc.id in avoid
                or now - inc.last_call > stale
                or (not force and self._rolled.get(inc.id) == len(inc.members))
            ):
                continue
            self._rolled[inc.id] = len(inc.members)
            absorbed, parts = self._roll_up(inc, now, margin=margin, avoid=avoid)
            split.extend(parts)
            for gone in absorbed:
                into = self.survivor(self.incidents[gone])
                self._late_merges.append((gone, into.id))
        return split

    def take_merges(self) -> list[tuple[str, str]]:
        """The incidents that re-examinations merged into others since the last call, as
        (merged, into): their orders are to be merged too."""
        out, self._late_merges = self._late_merges, []
        return out

    def _place_unlocated(self, now: datetime, *, force: bool = False) -> None:
        """An incident of a call that nothing placed, once the calls of the minutes after it
        are in too (all of them, ``force``): the outage that took most of the located calls
        around it takes it. When it came, the storm's calls may not yet have said which
        outage was under way (its first minute), and a call of a small storm rarely has
        enough calls before it (see _dominant_incident)."""
        window = timedelta(minutes=self.s.dominant_minutes)
        for inc_id in sorted(self._unlocated - self._unlocated_weighed):
            inc = self.incidents[inc_id]
            if not inc.is_open or inc.device is not None or not inc.members:
                continue
            at = inc.onset
            if not force and now - inc.last_call < window:
                continue
            self._unlocated_weighed.add(inc_id)
            counts: Counter[str] = Counter()
            for other in self.incidents.values():
                # (an outage whose calls began after it: its onset, measured from its first
                # call, is not to be moved by a call that says nothing of where it is)
                if (
                    other is inc
                    or not other.is_open
                    or other.device is None
                    or other.last_call < at - window
                    or other.onset > at
                ):
                    continue
                n = sum(
                    1
                    for m in other.members.values()
                    if m.transformer and abs(m.observation.at - at) <= window
                )
                if n:
                    counts[other.id] = n
            total = sum(counts.values())
            if total < UNLOCATED_MIN_CALLS:
                continue
            top, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
            if n < self.s.dominant_share * total:
                continue
            why = (
                f"not located; the outage taking {n} of the {total} located calls within "
                f"{self.s.dominant_minutes:.0f} min of it: confirm the place"
            )
            self._give(inc, self.incidents[top], why, now)
            self._late_merges.append((inc.id, top))

    def _settle_due(self, now: datetime) -> bool:
        return self._settled is None or now - self._settled >= timedelta(
            minutes=self.s.settle_minutes
        )

    def _sweep_time(self, now: datetime | None) -> datetime | None:
        at = self._sweep_at
        return now if now is not None and (at is None or now > at) else at

    def sweep_due(self, now: datetime | None = None) -> bool:
        """Whether :meth:`sweep` would re-examine anything (a transaction is worth opening)."""
        at = self._sweep_time(now)
        return bool(self._examine_next) or (at is not None and self._settle_due(at))

    def pending_examinations(self) -> list[tuple[str, datetime]]:
        """The incidents that calls left to the next sweep, with their calls' times: an
        engine rebuilt from the database (see :meth:`examine_later`) must not forget them."""
        return list(self._examine_next)

    def examine_later(self, pending: Iterable[tuple[str, datetime]]) -> None:
        """Takes over what another engine left to its next sweep (a reload between a call's
        answer and its sweep)."""
        self._examine_next += [(i, at) for i, at in pending if i in self.incidents]

    def sweep(self, now: datetime | None = None) -> Swept | None:
        """The re-examination that the calls taken with ``sweep=False`` left to run: the
        incidents they joined, when due, at the time of their call; and, every
        ``settle_minutes`` of calls or when a timer asks at ``now`` (silence grows between
        calls too), :meth:`settle` at the later of the two, and the lone calls flagged
        whose neighbours have stayed quiet since (:meth:`flag_customer_side`). None when
        none was due."""
        at = self._sweep_time(now)
        self._sweep_at = None
        split: list[str] = []
        left, self._examine_next = self._examine_next, []
        for inc_id, called in left:
            inc = self.survivor(self.incidents[inc_id])
            if inc.is_open and self._due(inc, called, 2.0):
                split += self._repartition(inc, called)
        if at is None or not self._settle_due(at):
            return Swept(at or left[-1][1], split, []) if left else None
        return Swept(at, split + self.settle(at), self.flag_customer_side(at))

    def _known(self, device: str) -> bool:
        try:
            self.tree.device_chain(device)
        except UnknownElementError:
            return False
        return True

    def _is_transformer(self, device: str) -> bool:
        kind = self._kinds.get(device)
        if kind is None:
            kind = self._kinds[device] = self.tree.model.kind_of(device)
        return kind == "transformer"

    def _due(self, inc: Incident, now: datetime, minutes: float) -> bool:
        """Whether an incident is worth re-examining: it spans several transformers, it
        has new calls or enough time has passed since it was last examined, and it is not
        stale (nobody called about it for ``rejoin_minutes``: a call below it now starts a
        new incident, and a server's timer would otherwise weigh it again and again)."""
        if inc.device is None or len(inc.members) < 2 or self._is_transformer(inc.device):
            return False
        if now - inc.last_call > timedelta(minutes=self.s.rejoin_minutes):
            return False
        if inc.checked is None:
            return True
        at, n = inc.checked
        size = len(inc.members)
        # A large incident changes little with one more call, and re-examining it costs
        # the most: look again less often, but at least every 20 minutes as silence grows
        # (a small one is also looked at again when ``minutes`` have passed).
        every = timedelta(minutes=0 if size < 8 else min(2 + size / 10, 20))
        if n != size and now - at >= every:
            return True
        quiet = timedelta(minutes=minutes)
        return now - at >= (max(quiet, every) if size >= LARGE_INCIDENT else quiet)

    def _repartition(self, inc: Incident, now: datetime) -> list[str]:
        """Splits an incident when its calls are better explained by several faults: calls
        in separate branches below its device (the subtree partition that is most likely),
        or a second burst of calls long after the first (the first fault restored, a new
        one below it)."""
        if inc.device is None or len(inc.members) < 2:
            return []
        inc.checked = (now, len(inc.members))
        # Calls placed on no transformer (joined by the caller's phone) stay with the part
        # that keeps the incident's id, and so do the calls handed over from the area of an
        # older fault nested in this one (see _split): they came after that fault's
        # repair, and their late times say nothing of this fault's onset.
        members = [m for m in inc.members.values() if m.transformer and not m.renewed]
        if len(members) < 2:
            return []
        sc = _Scorer(self, members, now, inc.id)
        everyone = np.arange(len(members))
        whole = sc.score(str(inc.device), everyone)
        late = self._late_burst(inc, sc, whole)
        if late is not None:
            return late
        parts: list[tuple[str, np.ndarray[Any, Any]]] = []
        total = 0.0
        for episode in self._episodes(sc, everyone):
            episode_score, episode_parts = self._partition(sc, episode, str(inc.device))
            total += episode_score
            parts.extend(episode_parts)
        if len(parts) < 2 or total - whole <= self._split_margin([len(p) for _d, p in parts]):
            return []
        kept = self._without_renewed(inc, sc, parts)
        if len(kept) < 2:
            return []
        if len(kept) != len(parts):
            # parts were put back together: the split must still beat one fault as it now
            # stands, or the roll-up merges it back at the next call and the two alternate
            total = sum(sc.score(d, idx) for d, idx in kept)
            if total - whole <= self._split_margin([len(idx) for _d, idx in kept]):
                return []
        member_parts = [(d, [members[i] for i in idx.tolist()]) for d, idx in kept]
        return self._split(inc, member_parts, now, total - whole)

    def _moved_margin(self, sizes: Sequence[int]) -> float:
        """What a split into parts of these sizes must gain beyond ``split_margin``: a part
        of its own fits its calls' rate and onset better by an amount that grows with its
        calls, so the calls outside the largest part pay ``split_margin_per_call`` each."""
        return self.s.split_margin_per_call * (sum(sizes) - max(sizes, default=0))

    def _split_margin(self, sizes: Sequence[int]) -> float:
        return self.s.split_margin + self._moved_margin(sizes)

    def _without_renewed(
        self, inc: Incident, sc: _Scorer, parts: list[tuple[str, np.ndarray[Any, Any]]]
    ) -> list[tuple[str, np.ndarray[Any, Any]]]:
        """Puts back the parts that are customers calling again after a nested fault was
        repaired (see :meth:`_renewed`): they are still out because of ``inc``."""
        first = min(float(sc.t[idx].min()) for _d, idx in parts)
        keep: list[np.ndarray[Any, Any]] = []
        out: list[tuple[str, np.ndarray[Any, Any]]] = []
        for device, idx in parts:
            if float(sc.t[idx].min()) > first and self._renewed(
                inc, device, sc.at(idx), [sc.chains[i] for i in idx.tolist()]
            ):
                keep.append(idx)
            else:
                out.append((device, idx))
        if keep:
            holder = next(
                (k for k, (_d, idx) in enumerate(out) if float(sc.t[idx].min()) == first), 0
            )
            device, idx = out[holder]
            merged = np.concatenate([idx, *keep])
            out[holder] = (sc.device_of(merged) or device, merged)
        return out

    def _late_burst(self, inc: Incident, sc: _Scorer, whole: float) -> list[str] | None:
        """Splits off the calls of a branch that started calling long after the incident:
        the incident's fault was likely restored, and a fault below it (a nested one, or a
        new one) is still out there. Calls of that branch from before the burst's lull stay
        where they are."""
        late_after = _minutes(inc.onset) + self.s.new_burst_minutes
        lull = BURST_LULL_MINUTES
        # the burst's first calls may come a little before ``late_after`` (its customers
        # were cut off again when the incident's own fault was repaired, not at a set
        # age), but no more than a lull before: earlier, in a large outage the branch's
        # calls are the tail of the incident's own
        lead_in = late_after - lull
        device = str(inc.device)
        by_branch: dict[str, list[int]] = defaultdict(list)
        before: dict[str, list[int]] = defaultdict(list)
        for i in np.flatnonzero(sc.t >= lead_in).tolist():
            chain = sc.chains[i]
            if device not in chain:
                continue
            into = by_branch if sc.t[i] >= late_after else before
            for d in chain[: chain.index(device)]:
                into[d].append(i)
        best: tuple[float, np.ndarray[Any, Any], str] | None = None
        n = len(sc.t)
        for branch, branch_calls in by_branch.items():
            ordered = sorted(branch_calls, key=lambda i: sc.t[i])
            # the burst starts after a lull in this branch's calls (or at its first late call)
            starts = [0] + [
                k for k in range(1, len(ordered)) if sc.t[ordered[k]] - sc.t[ordered[k - 1]] >= lull
            ]
            # the branch's calls of the lull before late_after, all less than a lull apart
            earlier = sorted(before.get(branch, ()), key=lambda i: sc.t[i])
            for start in starts[-3:]:
                burst = ordered[start:]
                if start == 0 and earlier and sc.t[burst[0]] - sc.t[earlier[-1]] < lull:
                    burst = earlier + burst  # no lull between: the same burst
                late = np.asarray(burst, dtype=np.int64)
                if len(late) < 2 or len(late) == n:
                    continue
                sub = sc.device_of(late)
                if sub is None or self._renewed(
                    inc, sub, sc.at(late), [sc.chains[i] for i in late.tolist()]
                ):
                    continue
                rest = _complement(n, late)
                rest_device = sc.device_of(rest) or device
                gain = sc.score(rest_device, rest) + sc.score(sub, late) - whole
                margin = self._split_margin([n - len(late), len(late)])
                if gain > margin and (best is None or gain > best[0]):
                    best = (gain, late, sub)
        if best is None:
            return None
        gain, late, sub = best
        rest = _complement(n, late)
        rest_device = sc.device_of(rest) or device
        return self._split(
            inc,
            [
                (rest_device, [sc.members[i] for i in rest.tolist()]),
                (sub, [sc.members[i] for i in late.tolist()]),
            ],
            sc.now,
            gain,
        )

    def _give(
        self, part: Incident, holder: Incident, why: str, now: datetime, *, area: str | None = None
    ) -> None:
        """Gives the calls of a part just split off to the incident that holds its fault,
        saying why in both; ``area``: the device of a repaired nested fault whose customers
        these are, calling again under the outage above it (see :meth:`_repartition`)."""
        if area is not None:
            latest = max(m.observation.at for m in part.members.values())
            held = self._waves.get(area)
            if held is not None and held[0] == holder.id:
                latest = max(latest, held[1])
            self._waves[area] = (holder.id, latest)
        self._absorb(holder, part, renewed=area is not None)
        holder.evidence.append(f"{now:%H:%M} took the calls of {part.id}: {why}")
        part.evidence.append(f"{now:%H:%M} merged into {holder.id}: {why}")

    def _outage_above(self, inc: Incident, since: datetime) -> Incident | None:
        """The oldest open incident above ``inc``'s device that began after ``inc`` and
        before ``since``: when ``inc``'s customers call again at ``since``, its fault was
        repaired and they are still dark because of that one (a new fault below could not
        have darkened them again while it lasts)."""
        if inc.device is None:
            return None
        found: Incident | None = None
        for device in self.tree.device_chain(inc.device)[1:]:
            for other_id in self._at_device.get(device, ()):
                other = self.incidents[other_id]
                if (
                    other.is_open
                    and other.members
                    and inc.onset <= other.onset < since
                    and (found is None or (other.onset, other.id) < (found.onset, found.id))
                ):
                    found = other
        return found

    def _wave_holder(
        self, transformer: str, likelihood: float, now: datetime
    ) -> tuple[str, str] | None:
        """The outage taking the calls of a repaired nested fault's customers, calling again,
        when the caller is one of them and the wave's last call is less than a lull ago:
        the wave goes on, and each of its calls need not open an incident first."""
        if not self._waves or likelihood < 0.5:
            return None
        lull = timedelta(minutes=BURST_LULL_MINUTES)
        for device in self.tree.chain(transformer):
            held = self._waves.get(device)
            if held is None or not timedelta(0) <= now - held[1] <= lull:
                continue
            holder = self.survivor(self.incidents[held[0]])
            if holder.is_open and holder.device in self.tree.chain(transformer):
                self._waves[device] = (holder.id, now)
                return holder.id, (
                    f"calling again with the customers of {device}, still out under "
                    f"{holder.id} ({holder.device})"
                )
        return None

    def _calling_again(self, inc: Incident) -> tuple[Incident, Incident] | None:
        """An incident of calls that began long after an older incident at or below its
        device, while an outage above both began in between: the older incident and that
        outage. The older fault was repaired, and its customers, still dark, call again
        about the outage above (a new fault there could not have darkened them again while
        it lasts). As for a late part split off (see _split), for calls that opened an
        incident of their own instead of joining the old one: one that has come to cover
        the old one's device, so not a small fault below it, and not a second fault at
        one device while the first is open; its calls keep to the old one's area."""
        if inc.device is None or not inc.is_open or len(inc.transformers()) < 2:
            # calls again from one transformer say too little: its own fault (or its fuse's)
            # found dark when an outage above was repaired reads the same; a wave of an
            # area's customers calls from all over it (see _confined)
            return None
        device = str(inc.device)
        late = inc.onset - timedelta(minutes=self.s.new_burst_minutes - BURST_LULL_MINUTES)
        calling = inc.transformers()

        def may_be_nested(other: Incident) -> bool:
            # (cheap tests first: this runs at every call, below every open incident)
            if other is inc or other.merged_into is not None or other.onset > late:
                return False
            before = other.transformers()
            # from all over the old fault's area: most of the transformers it was called
            # from are calling again (faults of their own there, found dark when an outage
            # above was repaired, keep to a few)
            return len(before) >= 2 and len(calling & before) >= self.s.renewed_share * len(before)

        open_below = (self.incidents[i] for i in self._below.get(device, ()))
        restored = (
            self.incidents[i]
            for i in self._restored
            if device in self.tree.device_chain(str(self.incidents[i].device))
        )
        candidates = [
            o
            for group in (open_below, restored)  # the open ones first, each by id
            for o in sorted((o for o in group if may_be_nested(o)), key=lambda o: o.id)
        ]
        if not candidates:
            return None
        above_inc = self.tree.device_chain(device)[1:]
        chains = [self.tree.chain(m.transformer) for m in inc.members.values() if m.transformer]
        for nested in candidates:
            # the old fault's customers, not a wider area's (a fault of its own there,
            # found dark when the outage above was repaired)
            area = str(nested.device)
            if sum(area in c for c in chains) < self.s.renewed_share * len(chains):
                continue
            above = self._outage_above(nested, inc.onset)
            if above is not None and above is not inc and above.device in above_inc:
                return nested, above
        return None

    def _renewed(
        self, inc: Incident, device: str, since: datetime, chains: Sequence[tuple[str, ...]]
    ) -> bool:
        """Whether a late burst (its deepest common device, when it began, and its calls'
        chains) comes from the area of an earlier incident nested in ``inc``: that fault
        was repaired, its customers are still dark because of ``inc``, and they call again
        about it (not about a new fault).

        Those customers call again once, after that repair: when their calls already came
        back to ``inc`` and then stopped for a lull, a later burst there is a fault of its
        own, found dark when ``inc``'s was repaired."""
        chain = set(self.tree.device_chain(device))
        lull = timedelta(minutes=BURST_LULL_MINUTES)
        by_chain: Counter[tuple[str, ...]] | None = None
        renewed: list[tuple[datetime, tuple[str, ...]]] | None = None
        before: list[tuple[datetime, tuple[str, ...]]] | None = None
        for other_id in self._below.get(str(inc.device), set()) | self._restored:
            other = self.incidents[other_id]
            if (
                other is inc
                or other.device is None
                or other.merged_into is not None
                or not other.members
                or other.onset >= since
            ):
                continue
            area = str(other.device)
            if area == inc.device or inc.device not in self.tree.device_chain(area):
                continue
            if area not in chain:
                # the burst's deepest device is above the area (a stray call): most of it
                if by_chain is None:
                    by_chain = Counter(chains)
                inside = sum(n for c, n in by_chain.items() if area in c)
                if inside < self.s.renewed_share * len(chains):
                    continue
            # (below the area, every call of the burst is: _confined weighs no other)
            wave = partial(self._late_in_area, [inc], area, since)
            if self._confined(area, device, len(chains), wave):
                continue
            if renewed is None:
                renewed = [
                    (m.observation.at, self.tree.chain(m.transformer))
                    for m in inc.members.values()
                    if m.renewed and m.transformer and m.observation.at < since
                ]
            back = min((at for at, c in renewed if area in c), default=None)
            if back is None:
                return True
            # the area's customers came back to ``inc`` at ``back``: still calling?
            if before is None:
                before = [
                    (m.observation.at, self.tree.chain(m.transformer))
                    for m in inc.members.values()
                    if m.transformer and m.observation.at < since
                ]
            if max(at for at, c in before if at >= back and area in c) >= since - lull:
                return True
        return False

    def _confined(self, area: str, device: str, burst: int, wave: Callable[[], int]) -> bool:
        """Whether a late burst of ``burst`` calls below ``device`` keeps to too small a
        part of ``area`` to be the wave of that area's customers calling again after its
        repair (``wave()``: the calls of the area since the burst began, the burst's among
        them, counted only when needed): they are all still dark, and call from all over
        it. A binomial likelihood ratio of the burst's share of the wave against its share
        of the area's customers."""
        if device == area or burst <= 0 or area not in self.tree.device_chain(device):
            return False
        share = self.tree.customers(device) / max(self.tree.customers(area), 1)
        # the ratio is largest when the burst is the whole wave
        if not 0.0 < share < 1.0 or burst * math.log(1 / share) <= self.s.renewed_spread:
            return False
        total = max(wave(), burst)
        inside = burst / total
        if inside <= share:
            return False  # no more of the wave than of the customers: not confined
        ratio = burst * math.log(inside / share)
        if inside < 1.0:
            ratio += (total - burst) * math.log((1 - inside) / (1 - share))
        return ratio > self.s.renewed_spread

    def _late_in_area(self, incidents: Iterable[Incident], area: str, since: datetime) -> int:
        """The calls of ``incidents`` from below ``area`` since ``since``."""
        return sum(
            1
            for inc in incidents
            for m in inc.members.values()
            if m.transformer
            and m.observation.at >= since
            and area in self.tree.chain(m.transformer)
        )

    def _episodes(self, sc: _Scorer, idx: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
        """Cuts the calls in time where a later burst is better explained as a new fault."""
        ordered = idx[np.argsort(sc.t[idx], kind="stable")]
        device_all = sc.device_of(ordered)
        if device_all is None or len(ordered) < 3:
            return [ordered]
        whole = sc.score(device_all, ordered)
        times = sc.t[ordered]
        best: tuple[float, int] | None = None
        for i in np.flatnonzero(np.diff(times) >= 15.0).tolist():
            cut = i + 1
            if cut >= len(ordered) - 1:
                continue
            early, late = ordered[:cut], ordered[cut:]
            d1, d2 = sc.device_of(early), sc.device_of(late)
            if d1 is None or d2 is None:
                continue
            gain = sc.score(d1, early) + sc.score(d2, late) - whole
            margin = self._split_margin([cut, len(ordered) - cut])
            if gain > margin and (best is None or gain > best[0]):
                best = (gain, cut)
        if best is None:
            return [ordered]
        return [ordered[: best[1]], ordered[best[1] :]]

    def _partition(
        self, sc: _Scorer, idx: np.ndarray[Any, Any], device: str
    ) -> tuple[float, list[tuple[str, np.ndarray[Any, Any]]]]:
        """The most likely split of the calls below ``device`` into faults, one per subtree
        (dynamic programming over the protective devices)."""
        ids = idx.tolist()
        first = sc.transformers[ids[0]]
        if all(sc.transformers[i] == first for i in ids):
            # one transformer's calls: nothing below it to split them by
            chain = sc.chains[ids[0]]
            single_device = (
                sc.device_at(first, idx) if chain and chain[0] == first else sc.device_of(idx)
            ) or device
            return sc.score(single_device, idx), [(single_device, idx)]
        groups: dict[str, list[int]] = defaultdict(list)
        flat = False
        for i in ids:
            chain = sc.chains[i]
            if device not in chain:
                flat = True
                break
            k = chain.index(device)
            if k == 0:
                flat = True
                break
            groups[chain[k - 1]].append(i)
        if not flat and len(groups) == 1:
            child, ms = next(iter(groups.items()))
            return self._partition(sc, np.asarray(ms, dtype=np.int64), child)
        if flat:
            single_device = sc.device_of(idx) or device
            return sc.score(single_device, idx), [(single_device, idx)]
        # calls under two branches of ``device`` or more: it is their deepest common device
        single_device = sc.device_at(device, idx)
        single = sc.score(single_device, idx)
        # A split is taken over one fault when it gains more than the margin on the calls
        # it moves out of its largest part (see ``split_margin_per_call``); the score
        # returned is the split's own, for the comparisons above.
        best_score, best_parts = single, [(single_device, idx)]
        best_net = single

        def consider(score: float, candidate: list[tuple[str, np.ndarray[Any, Any]]]) -> None:
            nonlocal best_score, best_parts, best_net
            net = score - self._moved_margin([len(a) for _d, a in candidate])
            if net > best_net:
                best_score, best_parts, best_net = score, candidate, net

        nested = self._nested_transformer(sc, idx)
        if nested is not None:
            consider(*nested)
        combined = 0.0
        parts: list[tuple[str, np.ndarray[Any, Any]]] = []
        child_best: dict[str, tuple[float, list[tuple[str, np.ndarray[Any, Any]]]]] = {}
        arrays = {c: np.asarray(ms, dtype=np.int64) for c, ms in groups.items()}
        for child, arr in arrays.items():
            score, ps = self._partition(sc, arr, child)
            child_best[child] = (score, ps)
            combined += score
            parts.extend(ps)
        consider(combined, parts)
        # One branch apart from the rest: a nested fault that started earlier or later, or
        # calls placed on the wrong branch, must not drag the whole incident's device.
        if len(groups) > 2:
            total = len(idx)
            start = float(sc.t[idx].min())
            # only a small branch can be the odd one out (a nested fault, misplaced calls);
            # the likeliest are those whose calls began at another time than the rest's
            small = [c for c, a in arrays.items() if len(a) * 3 <= total]
            small.sort(key=lambda c: -abs(float(sc.t[arrays[c]].min()) - start))
            for child in small[:4]:
                arr = arrays[child]
                rest = np.concatenate([a for c, a in arrays.items() if c != child])
                rest_device = sc.device_of(rest) or device
                score = sc.score(rest_device, rest) + child_best[child][0]
                consider(score, [(rest_device, rest), *child_best[child][1]])
        return best_score, best_parts

    def _nested_transformer(
        self, sc: _Scorer, idx: np.ndarray[Any, Any]
    ) -> tuple[float, list[tuple[str, np.ndarray[Any, Any]]]] | None:
        """One fault for the calls below a device, but for one transformer's calls that
        began at another time: a transformer fault nested in a larger one (it failed first,
        or its customers, back on after an earlier fault, call again later). The subtree
        partition cannot take those calls out of their branch without splitting the branch
        too. Returns the better of the likeliest two such splits (the caller weighs it
        against one fault for all)."""
        if len(idx) < 8:
            return None
        by_transformer: dict[str, list[int]] = defaultdict(list)
        for i in idx.tolist():
            by_transformer[sc.transformers[i]].append(i)
        if len(by_transformer) < 3:
            return None
        starts = {t: min(sc.t_list[i] for i in ids) for t, ids in by_transformer.items()}
        # the typical start of the transformers' calls: a nested fault's began apart from it
        typical = float(np.median(list(starts.values())))
        gaps = [
            (abs(start - typical), t)
            for t, start in starts.items()
            if len(by_transformer[t]) * 3 <= len(idx)
        ]
        gaps.sort(reverse=True)
        best: tuple[float, list[tuple[str, np.ndarray[Any, Any]]]] | None = None
        for gap, transformer in gaps[:2]:
            if gap < self.s.onset_resolution_minutes:
                break
            group = np.asarray(by_transformer[transformer], dtype=np.int64)
            rest = _complement(len(sc.t), group, within=idx)
            rest_device, group_device = sc.device_of(rest), sc.device_of(group)
            if rest_device is None or group_device is None:
                continue
            score = sc.score(rest_device, rest) + sc.score(group_device, group)
            if best is None or score > best[0]:
                best = (score, [(rest_device, rest), (group_device, group)])
        return best

    def _split(
        self, inc: Incident, parts: list[tuple[str, list[Member]]], now: datetime, gain: float
    ) -> list[str]:
        first = min(
            (m for _d, ms in parts for m in ms), key=lambda m: m.observation.at
        ).observation.call_id
        parts.sort(key=lambda p: first not in {m.observation.call_id for m in p[1]})
        keep_device, _keep_members = parts[0]
        new_ids = []
        new_parts: list[Incident] = []
        for sub, members in parts[1:]:
            part = Incident(
                id=self._new_id(),
                device=None,
                feeder=None,
                opened_at=min(m.observation.at for m in members),
                split_from=inc.id,
            )
            self.incidents[part.id] = part
            for m in members:
                inc.members.pop(m.observation.call_id, None)
                self._add(part, m)
            self._set_device(part, sub)
            part.evidence.append(f"{now:%H:%M} split from {inc.id}: a separate fault at {sub}")
            new_ids.append(part.id)
            new_parts.append(part)
        self._rebuild_stats(inc)
        old = inc.device
        self._set_device(inc, keep_device)
        inc.evidence.append(
            f"{now:%H:%M} split: the calls below {old} are likelier several faults "
            f"(log-likelihood +{gain:.1f}); now at {keep_device}; parts {', '.join(new_ids)}"
        )
        # a part whose calls began long after ``inc``'s, under an outage above ``inc`` that
        # began in between: ``inc``'s fault was repaired, and they are still out under that one
        late = inc.onset + timedelta(minutes=self.s.new_burst_minutes - BURST_LULL_MINUTES)
        for part in new_parts:
            if (sibling := self._split_sibling(inc, part, now)) is not None:
                why = f"split from {inc.id} as it was, the same fault at {sibling.device}"
                self._give(part, sibling, why, now)
            elif part.onset >= late and (above := self._outage_above(inc, part.onset)):
                # the wave of the area's calls since the part began, wherever they went:
                # what is left of ``inc``, the other parts, and what the outage above took
                area, calls = str(old), len(part.members)
                holders = [inc, above, *(p for p in new_parts if p.merged_into is None)]
                wave = partial(self._late_in_area, holders, area, part.onset)
                if self._confined(area, str(part.device), calls, wave):
                    part.evidence.append(
                        f"{now:%H:%M} not {inc.id}'s customers calling again under "
                        f"{above.device}: its {calls} calls keep to {part.device}, "
                        f"{self.tree.customers(str(part.device))} of the "
                        f"{self.tree.customers(area)} customers of {area}"
                    )
                    continue
                why = (
                    f"{inc.id}'s fault was repaired and its customers, calling again, are "
                    f"still out under {above.device}"
                )
                self._give(part, above, why, now, area=area)
        return new_ids

    def _split_sibling(self, inc: Incident, part: Incident, now: datetime) -> Incident | None:
        """An open incident split off ``inc`` before, at ``part``'s device, whose calls and
        ``part``'s are likelier one fault: new calls keep joining ``inc`` (the oldest
        incident above them), and each re-examination would otherwise cut them off into an
        incident of their own, one fault in several pieces at one device."""
        best: tuple[float, Incident] | None = None
        for other_id in self._at_device.get(str(part.device), ()):
            other = self.incidents[other_id]
            if other is part or other.split_from != inc.id or not other.is_open:
                continue
            together = Stats()
            self._stats_merge(together, other.stats)
            self._stats_merge(together, part.stats)
            gain = self._stats_loglik(str(part.device), together, now, {other.id, part.id}) - (
                self._incident_loglik(other, now) + self._incident_loglik(part, now)
            )
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, other)
        return None if best is None else best[1]

    # -- calls that are not on the network -----------------------------------------------

    def _remember_phone(self, obs: Observation) -> None:
        if obs.phone:
            self._by_phone[obs.phone] = (obs.call_id, obs.at)

    def _phone_incident(self, obs: Observation) -> str | None:
        """The open incident that now holds the latest call from the same phone (followed
        through splits and merges: a call moved to another incident takes its phone along)."""
        if not obs.phone or obs.phone not in self._by_phone:
            return None
        call_id, at = self._by_phone[obs.phone]
        if obs.at - at > timedelta(hours=self.s.same_caller_hours):
            return None
        inc_id = self._member_incident.get(call_id)
        if inc_id is None:
            return None
        inc = self.survivor(self.incidents[inc_id])
        return inc.id if inc.is_open else None

    def _process_unlocated(self, obs: Observation) -> Decision:
        """No transformer: join the same caller's incident, else one near in space and time."""
        join = self._phone_incident(obs)
        reason = f"same caller phone as an earlier call of {join}" if join else ""
        if join is None and obs.lon is not None and obs.lat is not None:
            join, reason = self._near_incident(obs)
        if join is None:
            join, reason = self._dominant_incident(obs)
        if join is not None:
            inc = self.incidents[join]
            self._add(inc, Member(obs, None, 1.0))
            inc.evidence.append(f"{obs.at:%H:%M} call {obs.call_id}: {reason}")
            self._remember_phone(obs)
            return Decision(obs.call_id, inc.id, MERGED, inc.device, None, reason)
        inc = Incident(
            id=self._new_id(), device=None, feeder=None, opened_at=obs.at, lon=obs.lon, lat=obs.lat
        )
        self._add(inc, Member(obs, None, 1.0))
        self.incidents[inc.id] = inc
        self._register(inc)
        self._remember_phone(obs)
        why = "not located on the network: a new incident to place by hand"
        inc.evidence.append(f"{obs.at:%H:%M} call {obs.call_id}: {why}")
        return Decision(obs.call_id, inc.id, NEW, None, None, why)

    def recent_outages(self, at: datetime) -> Counter[str]:
        """The located calls of the last ``dominant_minutes`` before ``at``, counted by the
        open incident that holds them now: where the storm is calling from."""
        self._recent.forget_before(at - timedelta(minutes=self.s.dominant_minutes))
        out: Counter[str] = Counter()
        for inc_id, n in self._recent.counts.items():
            holder = self.survivor(self.incidents[inc_id])
            if holder.is_open:
                out[holder.id] += n
        return out

    def _dominant_incident(self, obs: Observation) -> tuple[str | None, str]:
        """In a storm most calls are about its largest outage: a call that nothing places
        joins the outage taking most of the calls right now, when it takes most of them."""
        window = timedelta(minutes=self.s.dominant_minutes)
        self._recent.forget_before(obs.at - window)
        if len(self._recent) < 5:
            return None, ""
        counts: dict[str, int] = defaultdict(int)
        for inc_id, n in self._recent.counts.items():
            counts[self.survivor(self.incidents[inc_id]).id] += n
        top, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        share = n / len(self._recent)
        if share < self.s.dominant_share or not self.incidents[top].is_open:
            return None, ""
        return top, (
            f"not located; joined the outage taking {share:.0%} of the calls of the "
            f"last {self.s.dominant_minutes:.0f} min (storm mode): confirm the place"
        )

    def _near_incident(self, obs: Observation) -> tuple[str | None, str]:
        assert obs.lon is not None and obs.lat is not None
        best: tuple[float, str] | None = None
        frame = self.tree.model.data.frame
        x, y = frame.forward_one(obs.lon, obs.lat)
        for inc in self.incidents.values():
            if not inc.is_open or inc.lon is None or inc.lat is None:
                continue
            minutes = abs((obs.at - inc.last_call).total_seconds()) / 60
            if minutes > self.s.unlocated_minutes:
                continue
            ix, iy = frame.forward_one(inc.lon, inc.lat)
            d = math.hypot(ix - x, iy - y)
            if d <= self.s.unlocated_radius_m and (best is None or d < best[0]):
                best = (d, inc.id)
        if best is None:
            return None, ""
        return best[1], f"{best[0]:.0f} m from incident {best[1]} and within the hour"

    # -- reading -------------------------------------------------------------------------

    def _lone(self, inc: Incident) -> bool:
        return len(inc.members) == 1 and inc.device is not None

    def customer_side_suspects(self, now: datetime) -> list[str]:
        """Lone calls whose neighbours under the same transformer have stayed quiet for the
        set time: possibly the customer's own wiring (article 22)."""
        quiet = timedelta(minutes=self.s.customer_side_quiet_minutes)
        return [
            inc.id
            for inc in self.incidents.values()
            if inc.is_open
            and self._lone(inc)
            and now - inc.last_call >= quiet
            and self.tree.customers(str(inc.device)) > 1
        ]

    def flag_customer_side(self, now: datetime) -> list[str]:
        """Says so in the evidence of each customer-side suspect (see
        :meth:`customer_side_suspects`) not yet flagged, for the agent who calls the
        customer back and the dispatcher who would send a crew; returns their ids."""
        quiet = self.s.customer_side_quiet_minutes
        flagged = []
        for inc_id in self.customer_side_suspects(now):
            inc = self.incidents[inc_id]
            if any(CUSTOMER_SIDE_NOTE in e for e in inc.evidence):
                continue
            inc.evidence.append(
                f"{now:%H:%M} a lone call: nobody else under {inc.device} has called in "
                f"{quiet:.0f} min, {CUSTOMER_SIDE_NOTE}; ask the customer to check their "
                "own switch and meter box before a crew goes"
            )
            flagged.append(inc_id)
        return flagged

    def recall_recent(self) -> None:
        """After adopting the stored incidents (a reload): the located calls of the last
        ``dominant_minutes`` that storm mode counts (see :meth:`_dominant_incident`), which
        would otherwise be forgotten at every restoration."""
        located = sorted(
            (m.observation.at, inc.id)
            for inc in self.incidents.values()
            if inc.merged_into is None
            for m in inc.members.values()
            if m.transformer
        )
        if not located:
            return
        since = located[-1][0] - timedelta(minutes=self.s.dominant_minutes)
        self._recent = _RecentCalls()
        for at, inc_id in located:
            if at >= since:
                self._recent.append(at, inc_id)

    def adopt(self, inc: Incident) -> None:
        """Takes in an incident stored by another process (the intake's reload): an open
        one, or a restored one that may explain later calls (see :meth:`_renewed`)."""
        self.incidents[inc.id] = inc
        self._rebuild_stats(inc)
        if inc.device is not None and not self._known(inc.device):
            # the network was re-imported without this device (renamed, removed): place
            # the incident again from its callers' transformers that it still has
            old = inc.device
            known = {t for t in inc.transformers() if self.tree.chain(t)}
            inc.device = self._best_device(known, inc.stats.sightings) if known else None
            inc.feeder = self.tree.feeder(inc.device) if inc.device else None
            inc.evidence.append(
                f"the network was re-imported without {old}: now at {inc.device or 'no device'}"
            )
        for m in inc.members.values():
            obs = m.observation
            self._member_incident[obs.call_id] = inc.id
            latest = self._by_phone.get(obs.phone) if obs.phone else None
            if obs.phone and (latest is None or latest[1] <= obs.at):
                self._by_phone[obs.phone] = (obs.call_id, obs.at)  # the phone's latest call
        if inc.is_open:
            self._register(inc)
        elif inc.restored_at is not None and inc.merged_into is None and inc.device is not None:
            self._restored.add(inc.id)

    def restore(self, incident_id: str, at: datetime) -> None:
        """The crew restored supply: later calls below the device start a new incident."""
        inc = self.survivor(self.incidents[incident_id])
        if inc.is_open:
            self._unregister(inc)
        inc.restored_at = at
        if inc.device is not None:
            self._restored.add(inc.id)
        inc.state = RESTORED
        inc.evidence.append(f"{at:%H:%M} restored")

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.is_open]

    def final(self) -> list[Incident]:
        """Every incident that was not merged into another (open or restored)."""
        return [i for i in self.incidents.values() if i.merged_into is None]

    def _reason(
        self, inc: Incident, status: str, join_reason: str, transformer: str, likelihood: float
    ) -> str:
        where = f"transformer {transformer}"
        if likelihood < self.s.certain_likelihood:
            where += f" (likelihood {likelihood:.2f})"
        if status == MERGED:
            return f"{join_reason}; {where}; inferred device {inc.device}"
        n = len(inc.members)
        if n > 1:
            return f"new call at {where}, rolled up with {n - 1} other calls; device {inc.device}"
        return f"new incident at {where}"
