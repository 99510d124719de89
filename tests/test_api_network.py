"""A layer import made while the app runs is taken up without a restart, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from test_api_support import Api, api_fixture

from api.auth import Role
from api.deps import AppContext
from layers.importer import import_package
from layers.synthetic import synthetic_grid

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    # every request may look for a newer import (the default is every few seconds)
    yield from api_fixture(engine, tmp_path_factory, NOW, network_check_seconds=0)


def test_a_new_import_is_served_without_a_restart(
    api: Api, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    context: AppContext = api.client.app.state.context  # type: ignore[attr-defined]
    first_import = context.network_import
    assert first_import is not None
    old_accounts = set(api.services.data.layer("service_points")["account_no"].astype(str))

    # a larger grid: some of its accounts do not exist in the running network
    bigger = synthetic_grid(
        19,
        feeders_per_bus=3,
        sections_per_feeder=20,
        transformers_per_feeder=8,
        service_points_per_transformer=6,
        ties=1,
    )
    report = import_package(engine, bigger.write(tmp_path_factory.mktemp("newer") / "g.gpkg"))
    assert report.ok, [str(p) for p in report.errors]
    sps = bigger.rows["service_points"]
    new_sp = next(sp for sp in sps if str(sp["account_no"]) not in old_accounts)

    headers = api.headers(Role.AGENT)  # a request: the app sees the newer import
    follower = context.follow_network
    assert follower is not None
    follower.wait(120)  # type: ignore[attr-defined]
    assert context.network_import == report.import_id != first_import
    assert context.services is not None and context.services is not api.services
    assert len(context.services.model.sp_ids) == len(sps)
    # the settings the app was given stay; the roads and crews are the new grid's
    assert context.services.grouping is api.services.grouping
    assert context.services.dispatch.settings is api.services.dispatch.settings
    assert context.services.dispatch.router is not api.services.dispatch.router

    answer = api.client.post(
        "/api/calls",
        json={
            "call_id": "after-import",
            "received_at": NOW.isoformat(),
            "account_no": str(new_sp["account_no"]),
            "symptom": "no_power",
        },
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    location = answer.json()["location"]
    assert location["method"] == "account"
    assert location["service_point_id"] == new_sp["id"]
    assert location["transformer_id"] == new_sp["transformer_id"]


def test_the_network_is_kept_out_of_full_collections_and_a_replaced_one_is_freed() -> None:
    import gc
    import weakref

    from api.bootstrap import keep_network_out_of_gc

    class Network:  # a model holds reference cycles (parents and children)
        def __init__(self) -> None:
            self.me = self

    try:
        network = Network()
        ref = weakref.ref(network)
        keep_network_out_of_gc()
        assert gc.get_freeze_count() > 0
        del network  # replaced: only the collector can free a cycle
        gc.collect()
        assert ref() is not None  # frozen: the full pass did not even look at it
        keep_network_out_of_gc()  # what the app does once the new network is in place
        assert ref() is None
    finally:
        gc.unfreeze()
