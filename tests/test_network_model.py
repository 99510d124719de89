"""The network model under switching: ties closed, switches opened for planned outages."""

from __future__ import annotations

import pytest
from reference_trace import ReferenceTracer

from layers.importer import prepare
from layers.network import NetworkModel, UnknownElementError
from layers.synthetic import SyntheticGrid, synthetic_grid

GridAndModel = tuple[SyntheticGrid, NetworkModel]


@pytest.fixture(scope="module")
def grid_and_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[SyntheticGrid, NetworkModel]:
    grid = synthetic_grid(
        21, substations=2, feeders_per_bus=2, sections_per_feeder=16, branch_probability=0.3, ties=2
    )
    path = grid.write(tmp_path_factory.mktemp("net") / "grid.gpkg", explicit_nodes=False)
    _data, model, problems = prepare(path)
    assert model is not None and not [p for p in problems if p.severity == "error"]
    return grid, model


def _energised_traces_agree(
    model: NetworkModel, grid: SyntheticGrid, states: dict[str, str]
) -> None:
    ref = ReferenceTracer(grid.rows, states)
    for layer in ("mv_lines", "transformers", "service_points", "switches"):
        for row in grid.rows[layer]:
            eid = row["id"]
            if not model.is_energised(eid):
                continue
            got = model.trace(eid).contract_dict()
            got["downstream_transformers"] = sorted(got["downstream_transformers"])
            assert got == ref.trace(eid), eid


def test_opening_a_recloser_deenergises_what_it_feeds(grid_and_model: GridAndModel) -> None:
    grid, model = grid_and_model
    recloser = next(s["id"] for s in grid.rows["switches"] if s["kind"] == "recloser")
    below = model.downstream_transformers(recloser)
    count = model.downstream_service_point_count(recloser)
    assert below and count > 0
    opened = model.with_switch_states({recloser: "open"})
    # the open switch feeds nothing; what it fed is dead but still knows its feeder and switch
    assert opened.downstream_transformers(recloser) == []
    assert opened.downstream_service_point_count(recloser) == 0
    for t in below:
        assert not opened.is_energised(t)
        assert recloser in opened.upstream_devices(t)
        assert opened.feeder_of(t) == model.feeder_of(t)
    # the rest is unchanged, and agrees with an independent trace in that state
    _energised_traces_agree(opened, grid, {recloser: "open"})
    # the original model is untouched
    assert model.downstream_transformers(recloser) == below


def test_closing_a_tie_and_opening_the_trunk_transfers_load(grid_and_model: GridAndModel) -> None:
    grid, model = grid_and_model
    tie = next(s for s in grid.rows["switches"] if s["normal_state"] == "open")
    feeder_a = model.feeder_of(tie["id"])
    # open feeder A's breaker and close the tie: all of feeder A is fed from the other side
    breaker_a = model.upstream_devices(tie["id"])[-1]
    assert model.kind_of(breaker_a) == "switch"
    moved = model.downstream_transformers(breaker_a)
    states = {tie["id"]: "closed", breaker_a: "open"}
    switched = model.with_switch_states(states)
    assert moved
    for t in moved:
        assert switched.is_energised(t)
        assert switched.feeder_of(t) != feeder_a
        assert tie["id"] in switched.upstream_devices(t)
        assert breaker_a not in switched.upstream_devices(t)
    _energised_traces_agree(switched, grid, states)


def test_open_tie_is_answered_for_the_side_that_feeds_it(grid_and_model: GridAndModel) -> None:
    grid, model = grid_and_model
    tie = next(s for s in grid.rows["switches"] if s["normal_state"] == "open")
    trace = model.trace(tie["id"])
    assert trace.feeder == tie["feeder"]
    assert trace.downstream_service_points == 0
    assert trace.upstream_devices  # the breaker of the side it stands on
    assert trace.protective_device_id is not None


def test_unknown_switch_state_changes_are_refused(grid_and_model: GridAndModel) -> None:
    _grid, model = grid_and_model
    with pytest.raises(UnknownElementError):
        model.with_switch_states({"NO-SUCH": "open"})
    breaker = model.switch_ids[0]
    with pytest.raises(ValueError, match="open or closed"):
        model.with_switch_states({breaker: "ajar"})


def test_protective_chain_and_substation_trace(grid_and_model: GridAndModel) -> None:
    grid, model = grid_and_model
    sp = grid.rows["service_points"][0]
    chain = model.protective_chain(sp["id"])
    assert chain[0] == sp["transformer_id"]
    assert model.kind_of(chain[-1]) == "switch"
    sub = grid.rows["substations"][0]["id"]
    trace = model.trace(sub)
    assert trace.substation_id == sub
    assert trace.downstream_service_points == sum(
        model.downstream_service_point_count(b["id"])
        for b in grid.rows["switches"]
        if b["kind"] == "breaker" and model.substation_of(b["id"]) == sub
    )
