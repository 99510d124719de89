"""The network as it stands now: the imported layers with the switches in their current state."""

from __future__ import annotations

from sqlalchemy import Engine

from layers.network import NetworkModel
from layers.store import latest_import, load_grid


def load_network(engine: Engine, *, geometry: bool = True) -> NetworkModel | None:
    """The network model of the last import, or None when nothing was imported."""
    if latest_import(engine) is None:
        return None
    data = load_grid(engine, geometry=geometry)
    return NetworkModel(data)
