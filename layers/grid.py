"""The validated layers of one grid, in memory: what import produces and the database stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gis.crs import LocalFrame
from layers.schema import LAYERS, NETWORK_LAYERS


def empty_layer(name: str) -> pd.DataFrame:
    spec = LAYERS[name]
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in spec.columns})
    frame["geometry"] = pd.Series([], dtype=object)
    frame["attrs"] = pd.Series([], dtype=object)
    return frame


@dataclass
class GridData:
    """One frame per layer: the schema's columns as text (``None`` when empty), ``geometry``
    (shapely, WGS84 lon/lat; diagram coordinates for ``schematic``) and ``attrs`` (a dict of
    the extra columns)."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.frames and len(self.frames[name]) > 0

    def set_column(self, name: str, column: str, values: list[Any]) -> None:
        """Sets a text column keeping ``None`` as ``None`` (pandas 3 would infer a string
        dtype and turn it into NaN)."""
        frame = self.frames[name]
        frame[column] = pd.Series(values, index=frame.index, dtype=object)

    def layer(self, name: str) -> pd.DataFrame:
        frame = self.frames.get(name)
        return frame if frame is not None else empty_layer(name)

    def customers_by_transformer(self) -> dict[str, int]:
        """Service points per ``transformer_id`` (not per node: a transformer's customers
        hang on its 400 V lines' ends as often as on itself). Counted before the few keys
        are made text, which costs a tenth of making half a million ids text first."""
        counts: dict[str, int] = {}
        for key, n in self.layer("service_points")["transformer_id"].value_counts().items():
            counts[str(key)] = counts.get(str(key), 0) + int(n)
        return counts

    @cached_property
    def frame(self) -> LocalFrame:
        """The local metric frame centred on the grid's substations and transformers."""
        points: list[Any] = []
        for name in ("transformers", "substations", "mv_lines"):
            if self.has(name):
                geoms = np.asarray(self.frames[name]["geometry"].to_numpy(), dtype=object)
                geoms = geoms[[g is not None for g in geoms]]
                if len(geoms):
                    points.append(shapely.get_coordinates(shapely.centroid(geoms)))
        if not points:
            return LocalFrame(0.0, 0.0)
        coords = np.vstack(points)
        return LocalFrame.around(coords[:, 0], coords[:, 1])

    @cached_property
    def _element_rows(self) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for name in (*NETWORK_LAYERS, "units", "crews"):
            if self.has(name):
                for row, eid in enumerate(self.frames[name]["id"].tolist()):
                    if eid is not None:
                        out.setdefault(str(eid), (name, row))
        return out

    def index_elements(self) -> None:
        """Builds the index of element ids now: a server or a replay builds it at start-up,
        not on its first call that needs a device's place (0.27 s at 504k service points)."""
        _ = self._element_rows

    def element_row(self, element_id: str) -> tuple[str, int] | None:
        """(layer, row) of a feature id of the network, units or crews."""
        return self._element_rows.get(element_id)

    def element_location(self, element_id: str) -> tuple[float, float] | None:
        """lon/lat of an element: a point's position, a line's midpoint, an area's centre."""
        hit = self._element_rows.get(element_id)
        if hit is None:
            return None
        geom = self.frames[hit[0]]["geometry"].iat[hit[1]]
        if geom is None:
            return None
        if geom.geom_type == "Point":
            return float(geom.x), float(geom.y)
        if geom.geom_type == "LineString":
            mid = shapely.line_interpolate_point(geom, 0.5, normalized=True)
            return float(mid.x), float(mid.y)
        c = geom.representative_point()
        return float(c.x), float(c.y)

    def bounds(self) -> tuple[float, float, float, float]:
        """lon/lat bounds of the network layers."""
        boxes = []
        for name in ("substations", "mv_lines", "transformers", "service_points"):
            if self.has(name):
                geoms = np.asarray(self.frames[name]["geometry"].to_numpy(), dtype=object)
                geoms = geoms[[g is not None for g in geoms]]
                if len(geoms):
                    boxes.append(shapely.total_bounds(geoms))
        if not boxes:
            return (0.0, 0.0, 0.0, 0.0)
        arr = np.vstack(boxes)
        return (
            float(arr[:, 0].min()),
            float(arr[:, 1].min()),
            float(arr[:, 2].max()),
            float(arr[:, 3].max()),
        )
