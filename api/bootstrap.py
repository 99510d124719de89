"""The one place where everything is wired together: settings, database, network, intake."""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

from api.settings import Settings, load_settings
from dispatch.intake import IntakeServices
from gis.db import make_engine
from layers.state import load_network

logger = logging.getLogger(__name__)


class NoNetworkError(RuntimeError):
    def __str__(self) -> str:
        return "no network imported yet: run `gridcall layers import PATH` first"


def database(settings: Settings | None = None) -> Engine:
    settings = settings or load_settings()
    return make_engine(settings.database_url)


def intake_services(engine: Engine) -> IntakeServices:
    """Loads the network of the last import and builds the indexes the intake needs."""
    started = time.perf_counter()
    model = load_network(engine, geometry=True)
    if model is None:
        raise NoNetworkError
    services = IntakeServices.build(model.data, model)
    logger.info("network and indexes ready in %.1f s", time.perf_counter() - started)
    return services
