"""Repeat detection and outage inference on small grids, scenario by scenario."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from layers.importer import prepare
from layers.network import NetworkModel
from layers.synthetic import synthetic_grid
from outages.config import GroupingSettings
from outages.grouping import MERGED, NEW, DeviceTree, GroupingEngine, Incident, Member, Observation

T0 = datetime(2026, 7, 15, 20, 0, tzinfo=UTC)


def _grid_model(
    tmp_path_factory: pytest.TempPathFactory, name: str, seed: int, **shape: object
) -> NetworkModel:
    grid = synthetic_grid(seed, substations=1, **shape)  # type: ignore[arg-type]
    path = grid.write(tmp_path_factory.mktemp(name) / "grid.gpkg")
    _data, m, problems = prepare(path)
    assert m is not None and not [p for p in problems if p.severity == "error"]
    return m


# three feeders of 30 transformers of 30 customers, some laterals, one tie (seed 4)
GROUPING_GRID: dict[str, object] = {
    "feeders_per_bus": 3,
    "sections_per_feeder": 70,
    "branch_probability": 0.2,
    "transformers_per_feeder": 30,
    "service_points_per_transformer": 30,
    "ties": 1,
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> NetworkModel:
    return _grid_model(tmp_path_factory, "grouping", 4, **GROUPING_GRID)


def _fuse_with_transformers(model: NetworkModel, at_least: int) -> tuple[str, list[str]]:
    for sw in model.switch_ids:
        if model.switch_kind[sw] == "fuse":
            trs = model.downstream_transformers(sw)
            if len(trs) >= at_least:
                return sw, trs
    raise AssertionError("no fuse with enough transformers")


def _plain_transformers(model: NetworkModel) -> list[str]:
    """Transformers whose upstream device feeds more than them (calls can name them)."""
    out = []
    for t in model.transformer_ids:
        chain = model.protective_chain(t)
        if len(chain) > 1 and model.downstream_service_point_count(
            chain[1]
        ) > model.downstream_service_point_count(t):
            out.append(t)
    return out


def _customers(model: NetworkModel, transformer: str) -> list[str]:
    return model.downstream_service_points(transformer)


def _obs(
    call_id: str,
    minutes: float,
    transformer: str,
    customer: str | None = None,
    likelihood: float = 1.0,
    **kw: object,
) -> Observation:
    return Observation(
        call_id,
        T0 + timedelta(minutes=minutes),
        ((transformer, likelihood),),
        customer=customer,
        **kw,  # type: ignore[arg-type]
    )


def test_calls_under_one_transformer_make_one_incident_at_it(model: NetworkModel) -> None:
    engine = GroupingEngine(model)
    t = _plain_transformers(model)[3]
    sps = _customers(model, t)
    first = engine.process(_obs("a", 0, t, sps[0]))
    second = engine.process(_obs("b", 4, t, sps[1]))
    assert first.status == NEW and second.status == MERGED
    assert second.incident_id == first.incident_id
    assert engine.incidents[first.incident_id].device == t


def test_calls_across_a_fuse_roll_up_to_it(model: NetworkModel) -> None:
    fuse, transformers = _fuse_with_transformers(model, 3)
    engine = GroupingEngine(model)
    n = 0
    # the fuse's customers call: about a tenth of them, soon after the fault
    for t in transformers:
        for sp in _customers(model, t)[::8]:
            engine.process(_obs(f"c{n}", 1 + n * 0.7, t, sp))
            n += 1
    open_incidents = engine.open_incidents()
    assert len(open_incidents) == 1
    incident = open_incidents[0]
    assert incident.device == fuse
    assert any("roll-up" in e and "transformers below it calling" in e for e in incident.evidence)


def test_the_re_examination_rolls_up_what_no_call_could(model: NetworkModel) -> None:
    """A fault's calls spread over its branches may each leave the roll-up short of
    ``roll_up_margin`` (here out of reach): once they are in, the re-examination asks
    less, merges the incidents at the fuse and hands over the merges for their orders."""
    fuse, transformers = _fuse_with_transformers(model, 3)
    settings = GroupingSettings(roll_up_margin=1000.0)
    engine = GroupingEngine(model, settings)
    n = 0
    for t in transformers:
        for sp in _customers(model, t)[::8]:
            engine.process(_obs(f"c{n}", 1 + n * 0.7, t, sp), sweep=False)
            n += 1
    apart = engine.open_incidents()
    assert len(apart) == len(transformers)
    assert engine.take_merges() == []
    engine.settle(T0 + timedelta(minutes=60), force=True)
    together = engine.open_incidents()
    assert [i.device for i in together] == [fuse]
    merges = engine.take_merges()
    assert sorted(gone for gone, _into in merges) == sorted(
        i.id for i in apart if i.id != together[0].id
    )
    assert {into for _gone, into in merges} == {together[0].id}
    assert any("roll-up" in e for e in together[0].evidence)


def test_devices_feeding_the_same_customers_are_named_together(model: NetworkModel) -> None:
    """A transformer behind a fuse of its own: every call fits a fault at either, so the
    incident names both for the crew to check; a transformer whose fuse feeds others too
    is named alone."""
    count = model.downstream_service_point_count
    tied = next(
        t
        for t in model.transformer_ids
        if len(c := model.protective_chain(t)) > 1 and count(c[1]) == count(t) > 0
    )
    fuse = model.protective_chain(tied)[1]
    engine = GroupingEngine(model)
    alike = engine.tree.alike(tied)
    assert alike[:2] == (tied, fuse) and engine.tree.alike(fuse) == alike
    assert all(count(d) == count(tied) for d in alike)
    sps = _customers(model, tied)
    first = engine.process(_obs("a", 0, tied, sps[0]))
    engine.process(_obs("b", 3, tied, sps[1]))
    incident = engine.incidents[first.incident_id]
    assert incident.device in alike
    named = [e for e in incident.evidence if "feed the same" in e]
    assert named and tied in named[-1] and fuse in named[-1]
    assert f"{count(tied)} customers" in named[-1]

    plain = _plain_transformers(model)[3]
    assert engine.tree.alike(plain) == (plain,)
    alone = engine.process(_obs("c", 5, plain, _customers(model, plain)[0]))
    assert not any("feed the same" in e for e in engine.incidents[alone.incident_id].evidence)


def test_two_faults_at_once_on_one_feeder_stay_two(model: NetworkModel) -> None:
    """Calls under two transformers of a large feeder, at the same time, with the rest of the
    feeder silent for an hour: two faults, not the feeder breaker."""
    breaker = next(s for s in model.switch_ids if model.switch_kind[s] == "breaker")
    below = model.downstream_transformers(breaker)
    a, b = below[0], below[-1]
    engine = GroupingEngine(model)
    for i, sp in enumerate(_customers(model, a)[:4]):
        engine.process(_obs(f"a{i}", 1 + i * 3, a, sp))
    for i, sp in enumerate(_customers(model, b)[:4]):
        engine.process(_obs(f"b{i}", 2 + i * 3, b, sp))
    # an hour later the rest of the feeder still has not called
    later = engine.process(_obs("late", 70, a, _customers(model, a)[5]))
    devices = sorted(str(i.device) for i in engine.open_incidents())
    assert breaker not in devices
    assert len(engine.open_incidents()) == 2
    assert later.incident_id in {i.id for i in engine.open_incidents()}


def test_uncertain_call_goes_where_the_other_calls_are(model: NetworkModel) -> None:
    fuse, transformers = _fuse_with_transformers(model, 2)
    inside = transformers[0]
    outside = next(t for t in model.transformer_ids if fuse not in model.protective_chain(t))
    engine = GroupingEngine(model)
    for i, sp in enumerate(_customers(model, inside)[:3]):
        engine.process(_obs(f"k{i}", i, inside, sp))
    # a phone position between two transformers' customers: 55 % outside, 45 % inside
    decision = engine.process(
        Observation("u", T0 + timedelta(minutes=6), ((outside, 0.55), (inside, 0.45)))
    )
    assert decision.status == MERGED
    assert decision.transformer_id == inside


def test_a_second_customer_makes_an_incident_probable_and_a_third_hears_of_it(
    model: NetworkModel,
) -> None:
    """One caller's word is unconfirmed; a second customer makes the outage probable;
    from then on a caller below it is told of the known outage (article 25). A repeat
    call of the first customer proves nothing new."""
    t = _plain_transformers(model)[5]
    sps = _customers(model, t)
    engine = GroupingEngine(model)
    first = engine.process(_obs("p1", 0, t, sps[0]))
    inc = engine.incidents[first.incident_id]
    assert inc.state == "unconfirmed" and not first.known
    repeat = engine.process(_obs("p1b", 1, t, sps[0]))
    assert inc.state == "unconfirmed" and not repeat.known
    second = engine.process(_obs("p2", 2, t, sps[1]))
    assert second.status == MERGED and not second.known
    assert inc.state == "probable"
    assert any("probable: 2 customers calling" in e for e in inc.evidence)
    third = engine.process(_obs("p3", 3, t, sps[2]))
    assert (third.status, third.incident_id, third.known) == (MERGED, inc.id, True)


def test_after_restoration_calls_below_start_a_new_incident(model: NetworkModel) -> None:
    t = _plain_transformers(model)[5]
    sps = _customers(model, t)
    engine = GroupingEngine(model)
    first = engine.process(_obs("x1", 0, t, sps[0]))
    engine.restore(first.incident_id, T0 + timedelta(minutes=50))
    again = engine.process(_obs("x2", 60, t, sps[1]))
    assert again.status == NEW and again.incident_id != first.incident_id


def test_a_lone_call_with_quiet_neighbours_is_flagged(model: NetworkModel) -> None:
    t = _plain_transformers(model)[7]
    engine = GroupingEngine(model, GroupingSettings(customer_side_quiet_minutes=30))
    d = engine.process(_obs("lone", 0, t, _customers(model, t)[0]))
    assert d.customer_side_suspect
    assert engine.customer_side_suspects(T0 + timedelta(minutes=10)) == []
    assert engine.customer_side_suspects(T0 + timedelta(minutes=31)) == [d.incident_id]
    # said once in the incident's evidence, however many sweeps see it
    assert engine.flag_customer_side(T0 + timedelta(minutes=10)) == []
    assert engine.flag_customer_side(T0 + timedelta(minutes=31)) == [d.incident_id]
    assert engine.flag_customer_side(T0 + timedelta(minutes=36)) == []
    notes = [e for e in engine.incidents[d.incident_id].evidence if "article 22" in e]
    assert len(notes) == 1 and "30 min" in notes[0]


def _feeder_outage(
    model: NetworkModel, mean_delay: float
) -> tuple[str, list[str], str, list[tuple[float, str, str]]]:
    """A fuse with two transformers or more, its feeder's breaker, and the calls (minute,
    transformer, customer) of a tenth of the breaker's customers after it trips, the
    delays exponential of ``mean_delay`` minutes."""
    fuse, transformers = _fuse_with_transformers(model, 2)
    breaker = model.protective_chain(fuse)[-1]
    rng = random.Random(3)
    calls = [
        (rng.expovariate(1 / mean_delay), t, sp)
        for t in model.downstream_transformers(breaker)
        for sp in _customers(model, t)[::10]
    ]
    return fuse, transformers, breaker, calls


def test_a_branch_that_calls_long_after_is_split_off(model: NetworkModel) -> None:
    """The feeder's fault is repaired (no one told us); an hour and a half later one lateral
    calls again, together: a nested fault still out, a new incident."""
    fuse, transformers, breaker, calls = _feeder_outage(model, 10)
    engine = GroupingEngine(model)
    for n, (minute, t, sp) in enumerate(sorted(calls)):
        engine.process(_obs(f"f{n}", minute, t, sp))
    assert {i.device for i in engine.open_incidents()} == {breaker}
    late = []
    for i, t in enumerate(transformers * 3):
        sp = _customers(model, t)[-(i + 1)]
        late.append(engine.process(_obs(f"late{i}", 95 + i * 0.8, t, sp)))
    final_incidents = {i.id: i for i in engine.open_incidents()}
    late_incident = engine.survivor(engine.incidents[late[-1].incident_id])
    assert late_incident.device in (fuse, *transformers)
    assert len(final_incidents) == 2


def test_a_late_branch_takes_its_first_calls_from_before_the_hour(model: NetworkModel) -> None:
    """The late lateral's customers were cut off again when the feeder's fault was repaired,
    at no set age of the incident: its calls from just before ``new_burst_minutes`` go
    with the rest of its burst, not with the repaired fault."""
    fuse, transformers, breaker, calls = _feeder_outage(model, 8)
    engine = GroupingEngine(model)
    for n, (minute, t, sp) in enumerate(sorted(calls)):
        engine.process(_obs(f"f{n}", minute, t, sp))
    onset = min(minute for minute, _t, _sp in calls)
    burst = []
    for i, t in enumerate(transformers * 6):
        sp = _customers(model, t)[-(i + 1)]
        minute = onset + 53 + i * 0.9  # from 53 minutes after the fault on
        burst.append(engine.process(_obs(f"late{i}", minute, t, sp)).call_id)
    holders = {engine._member_incident[c] for c in burst}
    assert len(holders) == 1
    holder = engine.incidents[holders.pop()]
    assert holder.device in (fuse, *transformers)
    assert holder.device != breaker


def _lateral_and_breaker_calls(
    model: NetworkModel, transformers_at_least: int
) -> tuple[str, list[str], str, random.Random, list[tuple[float, str, str]]]:
    """A lateral's fuse blows; ten minutes later the feeder's breaker trips. Returns the
    fuse, its transformers, the breaker, the random source (for the calls after), and the
    calls of both outages (minute, transformer, customer)."""
    fuse, transformers = _fuse_with_transformers(model, transformers_at_least)
    breaker = model.protective_chain(fuse)[-1]
    rng = random.Random(5)
    lateral = [
        (rng.expovariate(1 / 6), t, sp) for t in transformers for sp in _customers(model, t)[::6]
    ]
    rest = [
        (10 + rng.expovariate(1 / 8), t, sp)
        for t in model.downstream_transformers(breaker)
        if t not in transformers
        for sp in _customers(model, t)[::10]
    ]
    return fuse, transformers, breaker, rng, lateral + rest


def _holder_ids(engine: GroupingEngine, call_ids: Iterable[str]) -> set[str]:
    """The incidents that now hold these calls."""
    return {engine.survivor(engine.incidents[engine._member_incident[c]]).id for c in call_ids}


def _before_calling_again(
    model: NetworkModel, again_at: float
) -> tuple[
    str, list[str], str, GroupingEngine, dict[str | None, Incident], list[tuple[float, str, str]]
]:
    """A lateral's fuse blows; ten minutes later the feeder's breaker trips. Returns the
    fuse, its transformers, the breaker, the engine that took their calls, the open
    incidents by device, and the calls (minute, transformer, customer) of the lateral's
    customers calling again from minute ``again_at``, once it is repaired, not yet taken."""
    fuse, transformers, breaker, rng, calls = _lateral_and_breaker_calls(model, 2)
    again = [
        (again_at + rng.expovariate(1 / 6), t, sp)
        for t in transformers
        for sp in _customers(model, t)[3::6]
    ]
    engine = GroupingEngine(model)
    for n, (minute, t, sp) in enumerate(sorted(calls)):
        engine.process(_obs(f"f{n}", minute, t, sp))
    by_device = {i.device: i for i in engine.open_incidents()}
    assert set(by_device) == {fuse, breaker}
    return fuse, transformers, breaker, engine, by_device, sorted(again)


def _lateral_then_breaker(
    model: NetworkModel,
) -> tuple[str, list[str], str, GroupingEngine, dict[str | None, Incident], list[str]]:
    """As :func:`_before_calling_again`, with the lateral's customers calling again a
    hundred minutes on; returns the ids of those calls, taken and settled."""
    fuse, transformers, breaker, engine, by_device, again = _before_calling_again(model, 100)
    for n, (minute, t, sp) in enumerate(again):
        engine.process(_obs(f"again{n}", minute, t, sp))
    engine.settle(T0 + timedelta(minutes=160), force=True)
    return fuse, transformers, breaker, engine, by_device, [f"again{n}" for n in range(len(again))]


def test_a_repaired_nested_faults_customers_calling_again_join_the_outage_above(
    model: NetworkModel,
) -> None:
    """A lateral's fuse blows; ten minutes later the feeder's breaker trips. Once the
    lateral is repaired its customers are still dark, because of the breaker: when they
    call again, their calls go to the breaker's outage, not to a new fault."""
    fuse, _transformers, breaker, engine, by_device, again = _lateral_then_breaker(model)
    outage = by_device[breaker]
    holders = Counter(
        engine.survivor(engine.incidents[engine._member_incident[c]]).id for c in again
    )
    # a straggler or two may stay with the lateral's fault (too few to tell a burst)
    assert holders[outage.id] >= 0.8 * len(again), holders
    assert {i.id for i in engine.open_incidents()} == {outage.id, by_device[fuse].id}
    assert outage.device == breaker
    assert any("still out under" in e for e in outage.evidence)


def test_customers_calling_again_long_after_do_not_open_a_second_incident_at_the_fuse(
    model: NetworkModel,
) -> None:
    """As above, with the lateral's customers calling again over two hours after its fault:
    too late for each call to join the lateral's incident, each first opens an incident of
    its own. That is not a second fault at the fuse while the first is still open (two
    incidents, one device): the breaker's outage, which began in between, holds them."""
    fuse, _transformers, breaker, engine, by_device, again = _before_calling_again(model, 140)
    answered = []
    for n, (minute, t, sp) in enumerate(again):
        answered.append(engine.process(_obs(f"again{n}", minute, t, sp)).incident_id)
        at_fuse = [i.id for i in engine.open_incidents() if i.device == fuse]
        assert at_fuse == [by_device[fuse].id]
    # the first calls of the wave open an incident at their transformer, until it covers
    # the fuse; from then on the wave goes to the breaker's outage as it calls
    assert answered[3:] == [by_device[breaker].id] * (len(again) - 3)
    engine.settle(T0 + timedelta(minutes=200), force=True)
    assert {i.id for i in engine.open_incidents()} == {by_device[fuse].id, by_device[breaker].id}
    holders = _holder_ids(engine, (f"again{n}" for n in range(len(again))))
    assert holders == {by_device[breaker].id}
    assert any("calling again" in e for e in by_device[breaker].evidence)


def test_a_nested_areas_customers_call_again_once(model: NetworkModel) -> None:
    """After the lateral's customers called again (above), their calls stop: the breaker
    was repaired too, which nobody told us. A burst there soon after is more of the same
    calls; an hour after they stopped, it is a fault of its own that the breaker's repair
    found dark (the same customers do not call again twice about one repair)."""
    fuse, transformers, breaker, engine, by_device, again = _lateral_then_breaker(model)
    outage = by_device[breaker]
    came_back = [outage.members[c] for c in again if c in outage.members]
    assert any(m.renewed for m in came_back)
    stopped = max(m.observation.at for m in came_back)
    # a burst from all over the lateral, as its customers call again
    chains = [engine.tree.chain(t) for t in transformers] * 2
    assert engine._renewed(outage, fuse, stopped + timedelta(minutes=5), chains)
    assert not engine._renewed(outage, fuse, stopped + timedelta(minutes=60), chains)
    # an area that never called again keeps the rule as it was
    others = [t for t in model.downstream_transformers(breaker) if t not in transformers]
    assert not engine._renewed(outage, others[0], stopped, [engine.tree.chain(others[0])] * 4)


def _corner_burst(
    model: NetworkModel, spread: float, every: float, count: int, restore: float | None = None
) -> tuple[str, GroupingEngine, Incident, Incident, set[str]]:
    """The lateral's and the breaker's calls, then (after the lateral's repair at minute
    ``restore``, when told) ``count`` late calls from one of the lateral's transformers
    from minute 100, ``every`` minutes apart. Returns that transformer, the engine, the
    breaker's and the lateral's incidents, and the incidents that hold the late calls."""
    fuse, transformers, breaker, _rng, calls = _lateral_and_breaker_calls(model, 3)
    corner = transformers[0]
    late = [
        (100 + every * k, corner, sp)
        for k, sp in enumerate(_customers(model, corner)[1 : count + 1])
    ]
    engine = GroupingEngine(model, GroupingSettings(renewed_spread=spread))
    for n, (minute, t, sp) in enumerate(sorted(calls)):
        engine.process(_obs(f"f{n}", minute, t, sp))
    by_device = {i.device: i for i in engine.open_incidents()}
    if restore is not None:
        engine.restore(by_device[fuse].id, T0 + timedelta(minutes=restore))
    for n, (minute, t, sp) in enumerate(late):
        engine.process(_obs(f"late{n}", minute, t, sp))
    engine.settle(T0 + timedelta(minutes=130), force=True)
    holders = _holder_ids(engine, (f"late{n}" for n in range(len(late))))
    return corner, engine, by_device[breaker], by_device[fuse], holders


@pytest.mark.parametrize("spread", [GroupingSettings().renewed_spread, math.inf])
def test_a_late_burst_in_one_corner_of_a_repaired_nested_area_is_a_fault_of_its_own(
    model: NetworkModel, spread: float
) -> None:
    """A lateral's fuse blows, then the feeder's breaker trips; the crew repairs the
    lateral. Its customers are still dark under the breaker, and those who call again call
    from all over it; calls from one of its transformers alone are a fault of that
    transformer, found dark by the lateral's repair (with no limit on the spread, they
    stay with the breaker's outage)."""
    corner, engine, outage, _lateral, holders = _corner_burst(model, spread, 2.0, 6, restore=95)
    if math.isinf(spread):
        assert outage.id in holders
    else:
        assert len(holders) == 1 and outage.id not in holders, holders
        assert engine.incidents[holders.pop()].device == corner


@pytest.mark.parametrize("spread", [GroupingSettings().renewed_spread, math.inf])
def test_a_corner_split_off_a_nested_incident_is_not_handed_to_the_outage_above(
    model: NetworkModel, spread: float
) -> None:
    """As above, but nobody told us of the lateral's repair: the late calls join the
    lateral's own incident, and its re-examination splits them off. Calls from one of its
    transformers alone are not its customers calling again under the breaker: they are not
    handed to the breaker's outage (with no limit on the spread, they are)."""
    corner, engine, outage, lateral, holders = _corner_burst(model, spread, 0.3, 8)
    if math.isinf(spread):
        assert holders == {outage.id}
    else:
        assert len(holders) == 1 and outage.id not in holders, holders
        holder = engine.incidents[holders.pop()]
        assert holder.device == corner and holder.split_from == lateral.id
        assert any("keep to" in e for e in holder.evidence)


def test_a_burst_is_confined_only_by_more_of_the_wave_than_of_the_customers(
    model: NetworkModel,
) -> None:
    fuse, transformers = _fuse_with_transformers(model, 3)
    engine = GroupingEngine(model)
    corner = transformers[0]
    share = engine.tree.customers(corner) / engine.tree.customers(fuse)
    assert share <= 0.5
    assert engine._confined(fuse, corner, 6, lambda: 6)  # the whole wave from one transformer
    assert not engine._confined(fuse, corner, 2, lambda: 20)  # less than its share: not confined
    assert not engine._confined(fuse, fuse, 6, lambda: 6)  # the whole area
    assert not engine._confined(corner, fuse, 6, lambda: 6)  # not below the area


def _transformer_then_fuse(
    model: NetworkModel,
) -> tuple[str, str, list[str], GroupingEngine, Incident, Incident]:
    """A transformer fails; half an hour later the fuse above it and two more transformers
    blows. Returns the fuse, the transformer, the fuse's other transformers, and an engine
    that took the calls of both faults with their two incidents (transformer's, fuse's)."""
    fuse, transformers = _fuse_with_transformers(model, 3)
    first, others = transformers[0], transformers[1:]
    rng = random.Random(11)
    failed = [(rng.expovariate(1 / 6), first, sp) for sp in _customers(model, first)[::5]]
    blown = [
        (30 + rng.expovariate(1 / 6), t, sp) for t in others for sp in _customers(model, t)[::5]
    ]
    engine = GroupingEngine(model)
    for n, (minute, t, sp) in enumerate(sorted(failed + blown)):
        engine.process(_obs(f"f{n}", minute, t, sp))
    engine.settle(T0 + timedelta(minutes=60), force=True)
    by_device = {i.device: i for i in engine.open_incidents()}
    assert set(by_device) == {first, fuse}, by_device
    return fuse, first, others, engine, by_device[first], by_device[fuse]


def test_calling_again_after_a_nested_repair_is_told_by_most_calls_not_all(
    model: NetworkModel,
) -> None:
    """The transformer is repaired while the fuse is still out: its customers call again,
    and a late caller of the fuse's outage elsewhere calls among them. The burst's deepest
    common device is the fuse itself, yet most of its calls are the transformer's
    customers calling again, still out under the fuse: not a second fault at the fuse."""
    fuse, first, others, engine, _nested, outage = _transformer_then_fuse(model)
    again = [(100 + 2 * k, first, sp) for k, sp in enumerate(_customers(model, first)[2::5])]
    straggler = (103, others[0], _customers(model, others[0])[3])
    calls = sorted([*again, straggler])
    for n, (minute, t, sp) in enumerate(calls):
        engine.process(_obs(f"again{n}", minute, t, sp))
    engine.settle(T0 + timedelta(minutes=130), force=True)
    holders = Counter(
        engine.survivor(engine.incidents[engine._member_incident[f"again{n}"]]).id
        for n in range(len(calls))
    )
    assert holders[outage.id] >= len(calls) - 1, holders
    assert [i.id for i in engine.open_incidents() if i.device == fuse] == [outage.id]
    # nothing was cut off the outage as a second fault at the fuse
    assert not [i.id for i in engine.incidents.values() if i.split_from == outage.id]


def test_an_answer_does_not_wait_for_the_re_examination_that_follows_it(
    model: NetworkModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken with ``sweep=False`` (the intake answers first), a call leaves the
    re-examination of the incident it joined to the sweep that runs right after its
    answer, at the call's time: the incidents come out as when each call waits for it."""
    _fuse, transformers, _breaker, calls = _feeder_outage(model, 10)
    calls += [
        (95 + i * 0.8, t, _customers(model, t)[-(i + 1)]) for i, t in enumerate(transformers * 3)
    ]
    inline, answered_first = GroupingEngine(model), GroupingEngine(model)
    examined_in_call = []
    split_by_sweep = []
    real = answered_first._repartition

    def spy(inc: Incident, now: datetime) -> list[str]:
        examined_in_call.append(inc.id)
        return real(inc, now)

    for n, (minute, t, sp) in enumerate(sorted(calls)):
        inline.process(_obs(f"f{n}", minute, t, sp))
        monkeypatch.setattr(answered_first, "_repartition", spy)
        answered_first.process(_obs(f"f{n}", minute, t, sp), sweep=False)
        monkeypatch.setattr(answered_first, "_repartition", real)
        swept = answered_first.sweep()
        if swept is not None:
            assert swept.at == T0 + timedelta(minutes=minute)
            split_by_sweep += swept.split
    assert examined_in_call == []
    assert split_by_sweep  # the late branch was split off by a sweep, not in its call

    def incidents(engine: GroupingEngine) -> set[tuple[str | None, frozenset[str]]]:
        return {(i.device, frozenset(i.members)) for i in engine.final() if i.members}

    assert incidents(answered_first) == incidents(inline)
    assert len(engine_open := answered_first.open_incidents()) == 2, engine_open


def test_an_engine_rebuilt_before_the_sweep_takes_over_what_the_call_left(
    model: NetworkModel,
) -> None:
    """Another process's call between an answer and its sweep makes the intake read the
    incidents again into a new engine: the re-examination the answer left is not lost."""
    fuse, transformers = _fuse_with_transformers(model, 2)
    engine = GroupingEngine(model)
    for i, t in enumerate(transformers * 2):
        engine.process(_obs(f"s{i}", i * 0.5, t, _customers(model, t)[i]), sweep=False)
        if i < len(transformers) * 2 - 1:
            engine.sweep()
    (incident,) = engine.open_incidents()
    assert incident.device == fuse and engine.pending_examinations()
    rebuilt = GroupingEngine(model, tree=engine.tree)
    for inc in engine.incidents.values():
        rebuilt.adopt(inc)
    rebuilt.examine_later(engine.pending_examinations())
    incident.checked = None  # as read from the database
    assert rebuilt.sweep_due() and rebuilt.sweep() is not None
    assert incident.checked is not None


def test_unlocated_calls_group_by_phone_and_by_place(model: NetworkModel) -> None:
    engine = GroupingEngine(model)
    a = engine.process(Observation("p1", T0, (), phone="13900000001", lon=113.6, lat=34.7))
    b = engine.process(Observation("p2", T0 + timedelta(minutes=20), (), phone="13900000001"))
    c = engine.process(Observation("p3", T0 + timedelta(minutes=25), (), lon=113.6005, lat=34.7003))
    far = engine.process(Observation("p4", T0 + timedelta(minutes=26), (), lon=113.9, lat=34.9))
    assert b.incident_id == a.incident_id and "same caller phone" in b.reason
    assert c.incident_id == a.incident_id
    assert far.incident_id != a.incident_id


def test_a_reloaded_engine_joins_a_phone_to_its_latest_incident(model: NetworkModel) -> None:
    """Incidents come back from the database in any order: a caller's phone still leads to
    the incident of their latest call, as it did in the engine that took the calls."""
    a, b = _plain_transformers(model)[:2]
    first = GroupingEngine(model)
    early = first.process(_obs("e", 0, a, _customers(model, a)[0], phone="13900000009"))
    # the same phone again the next morning, past the same-caller window: a new fault
    late = first.process(_obs("l", 13 * 60, b, _customers(model, b)[0], phone="13900000009"))
    assert early.incident_id != late.incident_id
    reloaded = GroupingEngine(model, tree=first.tree)
    for incident in sorted(first.open_incidents(), key=lambda i: i.id, reverse=True):
        reloaded.adopt(incident)
    at = T0 + timedelta(hours=13, minutes=10)
    again = reloaded.process(Observation("p", at, (), phone="13900000009"))
    assert again.incident_id == late.incident_id


def test_a_caller_calling_again_late_in_an_outage_joins_it(model: NetworkModel) -> None:
    """Five hours into a feeder outage (nobody told us it was repaired), a customer who
    called at its start calls again: the same caller, still out (a repeat call, article
    24), not a new fault, though a call that late from a customer not heard before would
    be one. A caller whose earlier incident is not above them starts one of their own."""
    _fuse, _transformers, breaker, calls = _feeder_outage(model, 8)
    engine = GroupingEngine(model)
    for n, (minute, t, sp) in enumerate(sorted(calls)):
        engine.process(_obs(f"f{n}", minute, t, sp, phone=f"phone{n}"))
    (outage,) = engine.open_incidents()
    assert outage.device == breaker
    minute, t, sp = sorted(calls)[0]
    again = engine.process(_obs("again", minute + 300, t, sp, phone="phone0"))
    assert (again.status, again.incident_id) == (MERGED, outage.id)
    assert "the same caller again" in again.reason
    # the same phone from a transformer of another feeder: a call of its own
    elsewhere = next(x for x in model.transformer_ids if breaker not in model.protective_chain(x))
    other = engine.process(
        _obs("elsewhere", minute + 301, elsewhere, _customers(model, elsewhere)[0], phone="phone1")
    )
    assert other.status == NEW and other.incident_id != outage.id


def test_repeat_caller_counts_once(model: NetworkModel) -> None:
    t = _plain_transformers(model)[2]
    sp = _customers(model, t)[0]
    engine = GroupingEngine(model)
    engine.process(_obs("r1", 0, t, sp))
    engine.process(_obs("r2", 15, t, sp))
    incident = engine.open_incidents()[0]
    assert len(incident.members) == 2 and incident.callers() == 1


def _tied_transformer(model: NetworkModel) -> tuple[str, str]:
    """A transformer and the fuse that feeds it alone: the same customers, so who called
    cannot tell a fault at one from a fault at the other."""
    for sw in model.switch_ids:
        if model.switch_kind[sw] == "fuse":
            trs = model.downstream_transformers(sw)
            if len(trs) == 1:
                return trs[0], sw
    raise AssertionError("no fuse feeding a single transformer")


@pytest.fixture(scope="module")
def tied_model(tmp_path_factory: pytest.TempPathFactory) -> NetworkModel:
    return _grid_model(
        tmp_path_factory,
        "tied",
        11,
        feeders_per_bus=2,
        sections_per_feeder=40,
        branch_probability=0.45,
        transformers_per_feeder=20,
        service_points_per_transformer=20,
        reclosers=False,
        ties=0,
    )


@pytest.mark.parametrize(
    ("sighting", "expect"), [("transformer", "transformer"), ("line", "fuse"), (None, "either")]
)
def test_what_callers_saw_decides_between_a_transformer_and_its_own_fuse(
    tied_model: NetworkModel, sighting: str | None, expect: str
) -> None:
    transformer, fuse = _tied_transformer(tied_model)
    sps = _customers(tied_model, transformer)
    engine = GroupingEngine(tied_model)
    engine.process(_obs("a", 0, transformer, sps[0]))
    engine.process(_obs("b", 3, transformer, sps[1], sighting=sighting))
    decision = engine.process(_obs("c", 6, transformer, sps[2]))
    device = engine.incidents[decision.incident_id].device
    if expect == "transformer":
        assert device == transformer
    elif expect == "fuse":
        assert device == fuse
    else:
        assert device in (transformer, fuse)


def test_a_transformer_that_failed_first_is_taken_out_of_the_larger_fault(
    model: NetworkModel,
) -> None:
    """A transformer fails; twenty minutes later a switch above it opens and the rest of its
    customers call. Calls of both were taken as one incident (the first minutes could not
    tell them apart); the re-examination takes the transformer's calls out, though they sit
    in a branch with the switch's other callers, and leaves the rest whole."""
    # the transformer sits below a fuse with others, the fuse below the switch that opens
    fuse, beside = _fuse_with_transformers(model, 3)
    nested = beside[0]
    switch = model.protective_chain(fuse)[1]
    transformers = model.downstream_transformers(switch)
    rng = random.Random(5)
    calls = [
        (m, f"n{k}", nested, sp)
        for k, (m, sp) in enumerate(zip((0.0, 9.0, 18.0), _customers(model, nested), strict=False))
    ]
    calls += [
        (20 + rng.expovariate(1 / 8), f"f{n}", t, sp)
        for n, (t, sp) in enumerate(
            (t, sp) for t in transformers if t != nested for sp in _customers(model, t)[::7]
        )
    ]
    engine = GroupingEngine(model)
    incident = Incident(id="INC-A", device=switch, feeder=None, opened_at=T0)
    for minute, call_id, t, sp in calls:
        obs = _obs(call_id, minute, t, sp)
        incident.members[call_id] = Member(obs, t, 1.0)
    engine.adopt(incident)
    engine.settle(T0 + timedelta(minutes=120), force=True)
    holders = {
        call_id: engine.survivor(engine.incidents[engine._member_incident[call_id]])
        for _m, call_id, _t, _sp in calls
    }
    own = {holders[f"n{k}"].id for k in range(3)}
    rest = {holders[c].id for _m, c, _t, _sp in calls[3:]}
    assert len(own) == 1 and len(rest) == 1 and own != rest
    assert engine.incidents[own.pop()].device == nested
    assert engine.incidents[rest.pop()].device == switch


def test_an_incident_whose_device_a_new_import_dropped_is_placed_again(
    model: NetworkModel,
) -> None:
    """The network was re-imported with a switch renamed while an incident was open there:
    the reloaded engine places it again from its calls and goes on taking calls."""
    t = _plain_transformers(model)[5]
    sps = _customers(model, t)
    incident = Incident(id="INC-OLD", device="FUSE-RENAMED", feeder=None, opened_at=T0)
    for k in range(2):
        incident.members[f"o{k}"] = Member(_obs(f"o{k}", k * 3, t, sps[k]), t, 1.0)
    engine = GroupingEngine(model)
    engine.adopt(incident)
    assert incident.device == t
    assert "re-imported without FUSE-RENAMED" in incident.evidence[-1]
    later = engine.process(_obs("o9", 8, t, sps[3]))
    assert later.incident_id == "INC-OLD" and later.status == MERGED


@pytest.fixture(scope="module")
def bushy_model(tmp_path_factory: pytest.TempPathFactory) -> NetworkModel:
    return _grid_model(tmp_path_factory, "bushy", 4, **{**GROUPING_GRID, "branch_probability": 0.5})


def test_a_split_that_no_longer_pays_once_renewed_calls_are_put_back_is_not_made(
    bushy_model: NetworkModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three branches below one device call; the third is taken as customers calling again
    about a repaired nested fault, so its calls go back to the part that keeps the incident.
    Split that way, the calls are less likely than as one fault: the incident stays whole
    (else the next roll-up merges the parts back, and large storm incidents alternated
    between split and merged at every few calls)."""
    children: dict[str, list[str]] = defaultdict(list)
    for sw in bushy_model.switch_ids:
        chain = bushy_model.protective_chain(sw)
        if len(chain) > 1 and len(bushy_model.downstream_transformers(sw)) >= 2:
            children[chain[1]].append(sw)
    parent, branches = max(children.items(), key=lambda kv: len(kv[1]))
    assert len(branches) >= 3
    engine = GroupingEngine(bushy_model)
    incident = Incident(id="INC-A", device=parent, feeder=None, opened_at=T0)
    rng = random.Random(1)
    for j, branch in enumerate(branches[:3]):
        for t in bushy_model.downstream_transformers(branch):
            for sp in _customers(bushy_model, t)[::2]:
                obs = _obs(
                    f"c{len(incident.members)}", 5.0 * (j == 2) + rng.expovariate(1 / 6), t, sp
                )
                incident.members[obs.call_id] = Member(obs, t, 1.0)
    engine.adopt(incident)
    renewed = branches[2]
    monkeypatch.setattr(
        engine,
        "_renewed",
        lambda _inc, device, _since, _chains: renewed in bushy_model.protective_chain(device),
    )
    whole = engine._incident_loglik(incident, T0 + timedelta(minutes=60))
    assert engine.settle(T0 + timedelta(minutes=60), force=True) == []
    assert [(i.id, i.device) for i in engine.open_incidents()] == [("INC-A", parent)]
    assert engine._incident_loglik(incident, T0 + timedelta(minutes=60)) == whole


@pytest.fixture(scope="module")
def big_feeder(tmp_path_factory: pytest.TempPathFactory) -> NetworkModel:
    return _grid_model(
        tmp_path_factory,
        "big",
        4,
        feeders_per_bus=1,
        sections_per_feeder=60,
        branch_probability=0.5,
        transformers_per_feeder=40,
        service_points_per_transformer=300,
        ties=0,
    )


def _largest_feeder_breaker(model: NetworkModel) -> str:
    return max(
        (sw for sw in model.switch_ids if len(model.protective_chain(sw)) == 1),
        key=model.downstream_service_point_count,
    )


def test_a_large_outage_whose_branches_call_at_different_rates_stays_one(
    big_feeder: NetworkModel,
) -> None:
    """A feeder breaker trips and 12,000 customers are out. Every other branch's customers
    call at 6 %, the rest at 12 %; some call again later. Each branch as a fault of its own
    fits its calls' rate and onset better, by an amount that grows with the calls; the
    per-call split margin keeps the outage whole (without it, it is cut into its
    branches, as the largest incidents of a 504k storm were)."""
    breaker = _largest_feeder_breaker(big_feeder)
    branches = sorted(
        {big_feeder.protective_chain(t)[-2] for t in big_feeder.downstream_transformers(breaker)}
    )
    rng = random.Random(8)
    calls = []
    for t in big_feeder.downstream_transformers(breaker):
        rate = 0.06 if branches.index(big_feeder.protective_chain(t)[-2]) % 2 else 0.12
        for sp in _customers(big_feeder, t):
            if rng.random() < rate:
                delay = rng.lognormvariate(math.log(8.0), 0.9)
                calls.append((delay, t, sp))
                if rng.random() < 0.3:
                    calls.append((delay + rng.uniform(25, 150), t, sp))
    outcomes = {}
    for per_call in (0.0, GroupingSettings().split_margin_per_call):
        engine = GroupingEngine(big_feeder, GroupingSettings(split_margin_per_call=per_call))
        for n, (minute, t, sp) in enumerate(sorted(calls)):
            engine.process(_obs(f"b{n}", minute, t, sp))
        engine.settle(T0 + timedelta(minutes=200), force=True)
        outcomes[per_call] = [
            (len(i.members), i.device) for i in engine.open_incidents() if len(i.members) > 1
        ]
    assert outcomes[GroupingSettings().split_margin_per_call] == [(len(calls), breaker)]
    assert len(outcomes[0.0]) > 2  # the same calls, cut into branches without the margin


def test_a_large_incident_is_examined_again_less_often_but_within_twenty_minutes(
    big_feeder: NetworkModel,
) -> None:
    """Re-examining a large incident is the costliest step of a storm's replay: one that
    has new calls at every minute is looked at again after 2 + calls / 10 minutes (at most
    20), not every 2 minutes as a small one is."""
    breaker = _largest_feeder_breaker(big_feeder)
    engine = GroupingEngine(big_feeder)
    sizes = {"INC-BIG": 300, "INC-SMALL": 20}
    members = [
        (t, sp)
        for t in big_feeder.downstream_transformers(breaker)
        for sp in _customers(big_feeder, t)[:10]
    ]
    for inc_id, size in sizes.items():
        incident = Incident(id=inc_id, device=breaker, feeder=None, opened_at=T0)
        for k, (t, sp) in enumerate(members[:size]):
            obs = _obs(f"{inc_id}-{k}", k * 0.01, t, sp)
            incident.members[obs.call_id] = Member(obs, t, 1.0)
        engine.adopt(incident)
        incident.checked = (T0, size - 1)  # examined at T0, one call since
    due = {
        (inc_id, minutes): engine._due(
            engine.incidents[inc_id], T0 + timedelta(minutes=minutes), 2.0
        )
        for inc_id in sizes
        for minutes in (3, 19, 21)
    }
    assert due == {
        ("INC-BIG", 3): False,
        ("INC-BIG", 19): False,
        ("INC-BIG", 21): True,
        ("INC-SMALL", 3): True,
        ("INC-SMALL", 19): True,
        ("INC-SMALL", 21): True,
    }


def test_a_call_that_leaves_the_sweep_for_later_leaves_a_large_incident_to_it(
    big_feeder: NetworkModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken with ``sweep=False`` (the intake answers first), a call to a large incident
    does not wait for the incident's re-examination: the sweep after it does that."""
    breaker = _largest_feeder_breaker(big_feeder)
    engine = GroupingEngine(big_feeder)
    members = [
        (t, sp)
        for t in big_feeder.downstream_transformers(breaker)
        for sp in _customers(big_feeder, t)[:10]
    ]
    incident = Incident(id="INC-BIG", device=breaker, feeder=None, opened_at=T0)
    for k, (t, sp) in enumerate(members[:150]):
        obs = _obs(f"big-{k}", k * 0.01, t, sp)
        incident.members[obs.call_id] = Member(obs, t, 1.0)
    engine.adopt(incident)
    examined: list[str] = []
    real = engine._repartition

    def spy(inc: Incident, now: datetime) -> list[str]:
        examined.append(inc.id)
        return real(inc, now)

    monkeypatch.setattr(engine, "_repartition", spy)
    t, sp = members[150]
    decision = engine.process(_obs("late", 30, t, sp), sweep=False)
    assert decision.incident_id == "INC-BIG" and examined == []
    assert engine.sweep_due()
    swept = engine.sweep()
    assert swept is not None and swept.at == T0 + timedelta(minutes=30)
    assert examined == ["INC-BIG"]
    assert not engine.sweep_due() and engine.sweep() is None


def test_the_deepest_common_device_is_that_of_every_chain(model: NetworkModel) -> None:
    """``DeviceTree.lca`` walks up one chain only; it must agree with intersecting all."""
    tree = DeviceTree(model)
    rng = random.Random(11)
    transformers = list(model.transformer_ids)
    for _ in range(300):
        picked = rng.sample(transformers, rng.randint(1, 6))
        chains = [model.protective_chain(t) for t in picked]
        common = set(chains[0]).intersection(*chains[1:])
        expected = next((d for d in chains[0] if d in common), None)
        assert tree.lca(picked) == expected
    assert tree.lca([]) is None


def test_an_incident_nobody_called_about_for_a_day_is_not_re_examined(
    model: NetworkModel,
) -> None:
    """A server's timer sweeps at its clock; an open incident whose last call is older than
    the rejoin window (a call below it would start a new one) is left as it stands."""
    fuse, transformers = _fuse_with_transformers(model, 3)
    engine = GroupingEngine(model)
    for i, t in enumerate(transformers * 2):
        engine.process(_obs(f"s{i}", i * 0.5, t, _customers(model, t)[i]))
    (incident,) = engine.open_incidents()
    assert incident.device == fuse
    assert engine._due(incident, T0 + timedelta(hours=20), 0.0)
    assert not engine._due(incident, T0 + timedelta(hours=25), 0.0)
    assert engine.sweep(T0 + timedelta(hours=25)) is not None  # the sweep runs, but
    assert incident.checked is None or incident.checked[0] < T0 + timedelta(hours=25)


def test_an_outage_beside_an_older_one_rolls_up_to_their_common_breaker(
    big_feeder: NetworkModel,
) -> None:
    """Half a feeder is out after a recloser's fault; an hour later the breaker trips and
    the other half calls. The customers out since the first fault cannot call about the
    second and are no evidence against it: the new calls make one incident at the breaker,
    not one per branch."""
    breaker = _largest_feeder_breaker(big_feeder)
    nested = max(
        (
            s
            for s in big_feeder.switch_ids
            if tuple(big_feeder.protective_chain(s)[1:2]) == (breaker,)
        ),
        key=big_feeder.downstream_service_point_count,
    )
    inside = big_feeder.downstream_transformers(nested)
    rest = [t for t in big_feeder.downstream_transformers(breaker) if t not in inside]
    assert len(inside) >= 3 and len(rest) >= 3
    engine = GroupingEngine(big_feeder)
    rng = random.Random(5)
    for start, transformers, name in ((0.0, inside, "r"), (70.0, rest, "b")):
        calls = sorted(
            (start + rng.expovariate(1 / 8), t, sp)
            for t in transformers
            for sp in _customers(big_feeder, t)[::20]
        )
        for n, (minute, t, sp) in enumerate(calls):
            engine.process(_obs(f"{name}{n}", minute, t, sp))
    by_device = {i.device: i for i in engine.open_incidents()}
    assert set(by_device) == {nested, breaker}
    assert all(c.startswith("b") for c in by_device[breaker].members)
    assert all(c.startswith("r") for c in by_device[nested].members)


def test_a_burst_cut_off_an_older_incident_piece_by_piece_stays_one_fault(
    model: NetworkModel,
) -> None:
    """Two calls below a fuse, then half an hour later a burst below it: the burst's calls
    join the older incident (the oldest above them) and each re-examination cuts them off
    again. The pieces are one fault at the fuse, not one incident per re-examination."""
    fuse, transformers = _fuse_with_transformers(model, 2)
    engine = GroupingEngine(model)
    engine.process(_obs("anchor0", 0, transformers[0], _customers(model, transformers[0])[0]))
    engine.process(_obs("anchor1", 1, transformers[1], _customers(model, transformers[1])[0]))
    (anchor,) = engine.open_incidents()
    assert anchor.device == fuse
    burst = [
        (35 + 0.7 * k, t, _customers(model, t)[1 + k])
        for k in range(12)
        for t in [transformers[k % len(transformers)]]
    ]
    for n, (minute, t, sp) in enumerate(burst):
        engine.process(_obs(f"burst{n}", minute, t, sp))
    holders = {
        engine.survivor(engine.incidents[engine._member_incident[f"burst{n}"]]).id
        for n in range(len(burst))
    }
    assert len(holders) == 1, holders
    (holder,) = holders
    assert engine.incidents[holder].device == fuse
    assert any("took the calls of" in e for e in engine.incidents[holder].evidence)


# one bushy feeder of 27 transformers of 100 customers below its breaker (seed 4)
HUNDRED_GRID: dict[str, object] = {
    "feeders_per_bus": 1,
    "sections_per_feeder": 80,
    "branch_probability": 0.5,
    "transformers_per_feeder": 80,
    "service_points_per_transformer": 100,
    "ties": 0,
}


@pytest.fixture(scope="module")
def hundred_per_transformer(tmp_path_factory: pytest.TempPathFactory) -> NetworkModel:
    return _grid_model(tmp_path_factory, "hundred", 4, **HUNDRED_GRID)


def lone_call_then_breaker(
    grid: NetworkModel, seed: int
) -> tuple[str, str, list[tuple[float, str, str, str]]]:
    """A customer calls about a fault at their own transformer; half a minute later the
    feeder breaker trips and a tenth of its customers call (none of the lone caller's
    transformer: they are out since its fault). The first two calls from the lone caller's
    branch (a recloser's) come before the outage elsewhere has many calls. Returns the
    breaker, the lone caller's transformer and the calls (minute, transformer, service
    point, ``lone`` or ``out``), in time order."""
    breaker = _largest_feeder_breaker(grid)
    transformers = grid.downstream_transformers(breaker)
    branches = Counter(grid.protective_chain(t)[1] for t in transformers)
    branch = max((b for b in branches if b != breaker), key=lambda b: branches[b])
    lone, first, second = [t for t in transformers if grid.protective_chain(t)[1] == branch][:3]
    rng = random.Random(seed)
    calls = [
        (0.0, lone, _customers(grid, lone)[0], "lone"),
        (1.5, first, _customers(grid, first)[0], "out"),
        (1.6, second, _customers(grid, second)[0], "out"),
    ]
    for t in transformers:
        if t != lone:
            calls += [
                (0.5 + rng.lognormvariate(math.log(8.0), 0.9), t, sp, "out")
                for sp in _customers(grid, t)[1:]
                if rng.random() < 0.1
            ]
    return breaker, lone, sorted(calls)


@pytest.mark.parametrize("seed", [0, 4, 6])
def test_a_call_just_before_a_large_outage_does_not_keep_its_branch_apart(
    hundred_per_transformer: NetworkModel, seed: int
) -> None:
    """See :func:`lone_call_then_breaker`. The branch's first calls roll up with the lone
    call; then one fault at the breaker for all of them would date the outage from the
    lone call: some 250 calls' delays measured from it cost more than a second fault, and the
    branch stayed an incident of its own (as it did in these three storms). The lone call
    is taken out as a fault of its own, and the branch's calls join the breaker's outage."""
    grid = hundred_per_transformer
    breaker, lone, calls = lone_call_then_breaker(grid, seed)
    engine = GroupingEngine(grid)
    for n, (minute, t, sp, kind) in enumerate(calls):
        engine.process(_obs(f"{kind}{n}", minute, t, sp))
    engine.settle(T0 + timedelta(minutes=120), force=True)

    def holder(n: int, kind: str) -> Incident:
        return engine.survivor(engine.incidents[engine._member_incident[f"{kind}{n}"]])

    holders = Counter(holder(n, kind).id for n, (*_c, kind) in enumerate(calls) if kind == "out")
    (outage, count), *_rest = holders.most_common()
    assert count >= len(calls) - 2, holders  # a call placed apart at most
    assert engine.incidents[outage].device == breaker
    apart = holder(0, "lone")
    assert apart.id != outage and apart.device == lone
    assert any("a fault of its own" in e for e in apart.evidence)


def test_a_callers_repeat_call_follows_their_first_call_to_the_outage_it_was_moved_to(
    hundred_per_transformer: NetworkModel,
) -> None:
    """The lone call before the breaker's outage (see :func:`lone_call_then_breaker`): the
    first caller of the branch is heard first in the lone call's incident, and their call
    is then moved to the outage. When they call again from the same phone, with nothing to
    place them by, they join the outage their call is now in, not the lone call's."""
    grid = hundred_per_transformer
    breaker, lone, calls = lone_call_then_breaker(grid, 4)
    branch_first = next(n for n, call in enumerate(calls) if call[0] == 1.5)
    engine = GroupingEngine(grid)
    for n, (minute, t, sp, kind) in enumerate(calls):
        engine.process(_obs(f"{kind}{n}", minute, t, sp, phone=f"phone-{n}"))
    apart = engine.survivor(engine.incidents[engine._member_incident["lone0"]])
    assert apart.device == lone and any("a fault of its own" in e for e in apart.evidence)
    outage = engine.survivor(engine.incidents[engine._member_incident[f"out{branch_first}"]])
    assert outage.device == breaker
    later = T0 + timedelta(minutes=30)
    again = engine.process(Observation("again", later, (), phone=f"phone-{branch_first}"))
    assert again.incident_id == outage.id
    assert "same caller phone" in again.reason
