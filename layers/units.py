"""Which unit (供电所) is responsible for a place or a device, and the area class there.

The rule (issue 4): the unit whose territory contains the place; else the unit that owns the
10 kV line (``mv_lines.unit_id``) feeding it; else the nearest unit. The area class
(urban / rural / remote) comes from the territory, rural when there is none. A call that
nothing places still needs a unit to answer it: the one serving the most customers, where
an unplaced caller most likely lives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from scipy.spatial import cKDTree

from layers.grid import GridData
from layers.network import MV_LINE, NetworkModel, UnknownElementError


@dataclass(frozen=True)
class Responsibility:
    unit_id: str | None
    area_class: str
    reason: str


class ResponsibleUnits:
    def __init__(self, data: GridData, model: NetworkModel | None = None) -> None:
        self.model = model
        terr = data.layer("territories")
        geoms = np.asarray(terr["geometry"].to_numpy(), dtype=object)
        keep = np.asarray([g is not None for g in geoms], dtype=bool)
        self._terr_geoms = geoms[keep]
        self._terr_unit = [str(u) for u in terr["unit_id"].to_numpy()[keep]]
        self._terr_class = [str(c or "rural") for c in terr["area_class"].to_numpy()[keep]]
        self._tree = shapely.STRtree(self._terr_geoms) if len(self._terr_geoms) else None
        units = data.layer("units")
        self._unit_ids = [str(u) for u in units["id"].tolist()]
        local = data.frame
        self._frame = local
        if len(units):
            coords = shapely.get_coordinates(np.asarray(units["geometry"].to_numpy(), dtype=object))
            x, y = local.forward(coords[:, 0], coords[:, 1])
            self._unit_tree: cKDTree | None = cKDTree(np.column_stack([x, y]))
        else:
            self._unit_tree = None
        mv = data.layer("mv_lines")
        self._line_unit = {
            str(i): str(u)
            for i, u in zip(mv["id"].tolist(), mv["unit_id"].tolist(), strict=True)
            if u
        }
        self._unit_class: dict[str, str] = {}
        for unit, klass in zip(self._terr_unit, self._terr_class, strict=True):
            self._unit_class.setdefault(unit, klass)
        self._data = data

    @cached_property
    def _busiest(self) -> Responsibility | None:
        """The unit responsible for the most customers (counted by their transformers)."""
        trs = self._data.layer("transformers")
        sps = self._data.layer("service_points")
        if not len(trs) or not len(sps):
            return None
        counts = self._data.customers_by_transformer()
        served: dict[str, int] = {}
        for tid, geom in zip(trs["id"].tolist(), trs["geometry"].tolist(), strict=True):
            n = int(counts.get(str(tid), 0))
            if geom is None or n == 0:
                continue
            point = geom.centroid
            unit = self.responsible(point.x, point.y, str(tid), fallback=False).unit_id
            if unit is not None:
                served[unit] = served.get(unit, 0) + n
        if not served:
            return None
        unit = max(sorted(served), key=served.__getitem__)
        total = sum(served.values())
        return Responsibility(
            unit,
            self._unit_class.get(unit, "rural"),
            f"no place known: the unit serving the most customers ({served[unit]:,} of {total:,})",
        )

    def territory_at(self, lon: float, lat: float) -> tuple[str, str] | None:
        if self._tree is None:
            return None
        point = shapely.Point(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        if len(hits) == 0:
            return None
        i = int(min(hits))
        return self._terr_unit[i], self._terr_class[i]

    def owner_of_element(self, element_id: str) -> str | None:
        """The unit owning the 10 kV line that feeds an element (or the line itself)."""
        if element_id in self._line_unit:
            return self._line_unit[element_id]
        model = self.model
        if model is None:
            return None
        try:
            _kind, _edge, upper, _lower = model._anchor(element_id)
        except UnknownElementError:
            return None
        node = upper
        while node is not None and node >= 0:
            e = int(model.parent_edge[node])
            if e < 0:
                break
            if int(model.edge_kind[e]) == MV_LINE:
                unit = self._line_unit.get(model.edge_ids[e])
                if unit:
                    return unit
            node = int(model.parent[node])
        return None

    def nearest_unit(self, lon: float, lat: float) -> str | None:
        if self._unit_tree is None:
            return None
        x, y = self._frame.forward_one(lon, lat)
        _d, i = self._unit_tree.query([x, y])
        return self._unit_ids[int(i)]

    def responsible(
        self,
        lon: float | None,
        lat: float | None,
        element_id: str | None = None,
        *,
        fallback: bool = True,
    ) -> Responsibility:
        if lon is not None and lat is not None:
            hit = self.territory_at(lon, lat)
            if hit is not None:
                return Responsibility(hit[0], hit[1], "territory contains the place")
        if element_id is not None:
            owner = self.owner_of_element(element_id)
            if owner is not None:
                return Responsibility(
                    owner, self._unit_class.get(owner, "rural"), "owner of the 10 kV line"
                )
        if lon is not None and lat is not None:
            unit = self.nearest_unit(lon, lat)
            if unit is not None:
                return Responsibility(unit, self._unit_class.get(unit, "rural"), "nearest unit")
        if len(self._unit_ids) == 1:  # a call placed nowhere still has a unit to go to
            only = self._unit_ids[0]
            return Responsibility(only, self._unit_class.get(only, "rural"), "the only unit")
        busiest = self._busiest if fallback else None
        return busiest or Responsibility(None, "rural", "no unit known")
