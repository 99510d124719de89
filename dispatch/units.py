"""The responsible unit (责任单位) of a place, a device or an incident, and its area class.

One rule, from :mod:`layers.units`: the unit whose territory contains the place; else the
unit that owns the 10 kV line feeding the element; else the nearest unit. What this module
adds is *which place*: for an incident, the inferred faulted device (that is where the crew
goes); before a device is inferred, the callers' supply points, each call voting for the
unit of its place with the weight of its location's likelihood, so that one badly located
call cannot pull an incident into the neighbouring unit. The area class (urban, rural,
remote), which sets the arrival commitment, comes from the territory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dispatch.clocks import AreaClass
from layers.grid import GridData
from layers.network import NetworkModel
from layers.units import Responsibility, ResponsibleUnits
from outages.locate.model import Location

__all__ = ["Basis", "UnitChoice", "UnitFinder"]

Basis = Literal["device", "caller", "calls", "none"]

_MIN_WEIGHT = 1e-3  # a located call with zero confidence still counts, barely


def _area(value: str | None) -> AreaClass:
    try:
        return AreaClass(value or AreaClass.RURAL)
    except ValueError:
        return AreaClass.RURAL


@dataclass(frozen=True)
class UnitChoice:
    """The unit an order goes to, why, and on the strength of which place.

    ``support`` is the share of the callers' weight behind the unit when it was chosen
    by the calls (1 otherwise): below 1, the callers' places span several units.
    """

    unit_id: str | None
    area_class: AreaClass
    reason: str
    basis: Basis
    lon: float | None = None
    lat: float | None = None
    element_id: str | None = None
    support: float = 1.0


@dataclass(frozen=True)
class _Place:
    lon: float | None
    lat: float | None
    element_id: str | None
    weight: float


class UnitFinder:
    """Chooses responsible units on one grid (build once; answers in microseconds)."""

    def __init__(self, data: GridData, model: NetworkModel | None = None) -> None:
        self.data = data
        self.rules = ResponsibleUnits(data, model)

    def _choice(
        self, hit: Responsibility, basis: Basis, place: _Place, support: float = 1.0
    ) -> UnitChoice:
        return UnitChoice(
            hit.unit_id,
            _area(hit.area_class),
            hit.reason,
            basis,
            place.lon,
            place.lat,
            place.element_id,
            support,
        )

    def for_place(
        self, lon: float | None, lat: float | None, element_id: str | None = None
    ) -> UnitChoice:
        """The unit for a caller's place (and the network element it is supplied by)."""
        if (lon is None or lat is None) and element_id is not None:
            where = self.data.element_location(element_id)
            if where is not None:
                lon, lat = where
        place = _Place(lon, lat, element_id, 1.0)
        hit = self.rules.responsible(lon, lat, element_id)
        basis: Basis = "caller" if hit.unit_id is not None else "none"
        return self._choice(hit, basis, place)

    def for_device(self, device_id: str) -> UnitChoice | None:
        """The unit for a device (switch or transformer), at the device's position."""
        where = self.data.element_location(device_id)
        if where is None:
            return None
        hit = self.rules.responsible(where[0], where[1], device_id)
        return self._choice(hit, "device", _Place(where[0], where[1], device_id, 1.0))

    def for_calls(self, locations: Sequence[Location]) -> UnitChoice:
        """The unit most of the callers' weight points to (ties: the earliest call's)."""
        votes: dict[str, float] = {}
        first_seen: dict[str, int] = {}
        best_place: dict[str, tuple[float, _Place, Responsibility]] = {}
        total = 0.0
        for index, location in enumerate(locations):
            for place in _places(location):
                hit = self.rules.responsible(place.lon, place.lat, place.element_id)
                if hit.unit_id is None:
                    continue
                total += place.weight
                votes[hit.unit_id] = votes.get(hit.unit_id, 0.0) + place.weight
                first_seen.setdefault(hit.unit_id, index)
                held = best_place.get(hit.unit_id)
                if held is None or place.weight > held[0]:
                    best_place[hit.unit_id] = (place.weight, place, hit)
        if not votes:  # the layers' answer for a call placed nowhere
            hit = self.rules.responsible(None, None, None)
            return self._choice(hit, "none", _Place(None, None, None, 0.0))
        unit = max(votes, key=lambda u: (votes[u], -first_seen[u]))
        _weight, place, hit = best_place[unit]
        return self._choice(hit, "calls", place, votes[unit] / total if total else 1.0)

    def for_incident(self, device_id: str | None, locations: Sequence[Location] = ()) -> UnitChoice:
        """The unit for an incident: at its inferred device, else by its calls."""
        if device_id is not None:
            choice = self.for_device(device_id)
            if choice is not None and choice.unit_id is not None:
                return choice
        return self.for_calls(locations)


def _places(location: Location) -> list[_Place]:
    """A call's candidate places with their weights (its best place if it has none)."""
    if location.candidates:
        return [
            _Place(
                c.lon,
                c.lat,
                c.service_point_id or c.transformer_id or c.element_id,
                max(c.likelihood, _MIN_WEIGHT),
            )
            for c in location.candidates
        ]
    element = location.service_point_id or location.transformer_id or location.element_id
    if location.lon is None and location.lat is None and element is None:
        return []
    return [_Place(location.lon, location.lat, element, max(location.confidence, _MIN_WEIGHT))]
