"""The one place where everything is wired together: settings, database, network, intake."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from sqlalchemy import Engine

from api.settings import Settings, load_settings
from dispatch.intake import IntakeServices
from dispatch.service import DispatchContext
from gis.db import make_engine
from layers.state import load_network

logger = logging.getLogger(__name__)


class NoNetworkError(RuntimeError):
    def __str__(self) -> str:
        return "no network imported yet: run `gridcall layers import PATH` first"


def database(settings: Settings | None = None) -> Engine:
    settings = settings or load_settings()
    return make_engine(settings.database_url)


def intake_services(engine: Engine, like: IntakeServices | None = None) -> IntakeServices:
    """Loads the network of the last import and builds the indexes the intake needs.

    ``like``: services of an earlier network whose settings (grouping, dispatch, clocks,
    calendar) the new ones keep; the roads and crews come from the new grid."""
    started = time.perf_counter()
    model = load_network(engine, geometry=True)
    if model is None:
        raise NoNetworkError
    kept: dict[str, Any] = {}
    if like is not None:
        kept["grouping"] = like.grouping
        kept["dispatch"] = DispatchContext.from_grid(
            model.data,
            settings=like.dispatch.settings,
            clock_settings=like.dispatch.clock_settings,
            calendar=like.dispatch.calendar,
        )
    services = IntakeServices.build(model.data, model, **kept)
    logger.info("network and indexes ready in %.1f s", time.perf_counter() - started)
    return services


def keep_network_out_of_gc() -> None:
    """Leaves the objects alive now (the network and its indexes, millions at 500k service
    points, there for the life of the process) out of the garbage collector's full passes,
    which walked them all: a pause of some 400 ms inside whichever call triggered one.
    Called once the network in use is installed; what was frozen before is unfrozen first,
    so that a network just replaced is freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
