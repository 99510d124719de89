"""Phone positions: coordinate systems, swapped pairs, and which transformer's customers are
around the point.

A phone position is never exactly the caller's meter: the app may report GCJ-02 (offset by
hundreds of metres), the fix may be tens or hundreds of metres off, and where two
transformers' low-voltage networks interleave, the nearest meter can belong to either. So the
answer is a posterior over the transformers of the nearby meters, not one nearest meter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree

from gis.crs import in_china, wgs84_to_gcj02

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_A = 6378137.0
_E2 = 0.00669437999014


@dataclass(frozen=True)
class Plane:
    """An equirectangular plane in metres around a centre: exact enough over a county for
    nearest-neighbour questions (under 0.6 % within 50 km), and a few arithmetic operations
    a point, where a PROJ call would cost more than the whole lookup."""

    lon0: float
    lat0: float
    kx: float
    ky: float

    @classmethod
    def around(cls, lon0: float, lat0: float) -> Plane:
        phi = math.radians(lat0)
        s2 = math.sin(phi) ** 2
        n = _A / math.sqrt(1 - _E2 * s2)  # prime vertical radius
        m = _A * (1 - _E2) / (1 - _E2 * s2) ** 1.5  # meridian radius
        return cls(lon0, lat0, math.radians(1) * n * math.cos(phi), math.radians(1) * m)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def xy_arrays(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        return self.lon0 + x / self.kx, self.lat0 + y / self.ky


# Phone fixes: most within tens of metres, some hundreds (indoors, cell-tower fixes). The
# posterior mixes these error scales, so that a fix beside one meter trusts that meter and a
# fix in a field trusts the neighbourhood.
SIGMAS = (20.0, 50.0, 120.0, 300.0)
SIGMA_WEIGHTS = (0.25, 0.25, 0.25, 0.25)


def gcj_to_wgs(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 to WGS84 in three fixed-point steps, which leave under a millimetre (the
    offset varies slowly): fewer forward evaluations than iterating to a tolerance, on the
    hot path of every app call."""
    if not in_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(3):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        wlon, wlat = wlon - (glon - lon), wlat - (glat - lat)
    return wlon, wlat


def _tree(x: FloatArray, y: FloatArray) -> tuple[FloatArray, cKDTree | None]:
    """Points and their KD-tree; a point without a position (none should pass the import)
    is put out of reach, so that rows keep their numbers."""
    xy = np.column_stack([x, y])
    xy = np.where(np.isfinite(xy), xy, 1e12)
    return xy, (cKDTree(xy) if len(xy) else None)


@dataclass(frozen=True, slots=True)
class Fix:
    """A position made ready for the grid: WGS84, in the right order, or why not."""

    lon: float
    lat: float
    notes: tuple[str, ...]
    swapped: bool = False


class PositionIndex:
    """KD-trees over service points, transformers and poles in one plane."""

    def __init__(
        self,
        plane: Plane,
        sp_lon: FloatArray,
        sp_lat: FloatArray,
        sp_tr: IntArray,
        tr_lon: FloatArray,
        tr_lat: FloatArray,
        pole_lon: FloatArray,
        pole_lat: FloatArray,
        area_polygons: list[object],
        reach_m: float = 2_000.0,
    ) -> None:
        self.plane = plane
        self.sp_xy, self.sp_tree = _tree(*plane.xy_arrays(sp_lon, sp_lat))
        _tr_xy, self.tr_tree = _tree(*plane.xy_arrays(tr_lon, tr_lat))
        _pole_xy, self.pole_tree = _tree(*plane.xy_arrays(pole_lon, pole_lat))
        self.reach_m = reach_m
        self._k = min(24, max(1, len(self.sp_xy)))
        self._sp_tr_list: list[int] = sp_tr.tolist()
        self._neg_inv_2s2 = np.asarray([-1.0 / (2 * s * s) for s in SIGMAS])
        self._mix = np.asarray([w / (s * s) for s, w in zip(SIGMAS, SIGMA_WEIGHTS, strict=True)])
        # The same weights integrated over the plane beyond a radius (2 pi sigma^2 N = 1),
        # times the share of those far meters taken to belong to other transformers than
        # the near ones: a quarter makes the likelihoods calibrated on the demo county
        # (answers given 0.3, 0.5, 0.7, 0.85 are right that often) for fixes 10-300 m off.
        self._far = np.asarray([0.25 * 2 * math.pi * w for w in SIGMA_WEIGHTS])
        self.areas = [p for p in area_polygons if p is not None]
        pts = [a for a in (sp_lon, tr_lon, pole_lon) if len(a)]
        pts_lat = [a for a in (sp_lat, tr_lat, pole_lat) if len(a)]
        if pts and np.isfinite(np.concatenate(pts)).any():
            lon_all = np.concatenate(pts)
            lat_all = np.concatenate(pts_lat)
            pad_lat = reach_m / plane.ky
            pad_lon = reach_m / plane.kx
            self.box = (
                float(np.nanmin(lon_all)) - pad_lon,
                float(np.nanmin(lat_all)) - pad_lat,
                float(np.nanmax(lon_all)) + pad_lon,
                float(np.nanmax(lat_all)) + pad_lat,
            )
        else:
            self.box = (0.0, 0.0, -1.0, -1.0)
        for a in self.areas:
            b = a.bounds  # type: ignore[attr-defined]
            self.box = (
                min(self.box[0], b[0]),
                min(self.box[1], b[1]),
                max(self.box[2], b[2]),
                max(self.box[3], b[3]),
            )

    # -- the service area -------------------------------------------------------------------

    def _in_box(self, lon: float, lat: float) -> bool:
        b = self.box
        return b[0] <= lon <= b[2] and b[1] <= lat <= b[3]

    def nearest_network_m(self, lon: float, lat: float) -> float:
        """Distance to the nearest service point, transformer or pole."""
        x, y = self.plane.xy(lon, lat)
        best = math.inf
        for tree in (self.sp_tree, self.tr_tree, self.pole_tree):
            if tree is not None:
                d, _ = tree.query((x, y), k=1)
                best = min(best, float(d))
        return best

    def _inside_outline(self, lon: float, lat: float) -> bool:
        if not self.areas:
            return False
        pt = shapely.Point(lon, lat)
        return any(a.covers(pt) for a in self.areas)  # type: ignore[attr-defined]

    def _probe(self, lon: float, lat: float) -> tuple[FloatArray, IntArray] | None:
        """The nearby meters when (lon, lat) is in the service area (within reach of the
        network, or inside the county's outline), else ``None``. One KD query in the usual
        case: the same neighbours serve the area test and the posterior."""
        if not self._in_box(lon, lat):
            return None
        if self.sp_tree is None:
            return None
        d, rows = self.sp_tree.query(self.plane.xy(lon, lat), k=self._k)
        if self._k == 1:
            d, rows = np.atleast_1d(d), np.atleast_1d(rows)
        if d[0] <= self.reach_m:
            return d, rows
        if self.nearest_network_m(lon, lat) <= self.reach_m or self._inside_outline(lon, lat):
            return d, rows
        return None

    def locate(
        self, lon: float, lat: float, coord_sys: str
    ) -> tuple[Fix, FloatArray, IntArray] | str:
        """WGS84 lon/lat of a phone position with its nearby meters, or the reason it cannot
        be used. A pair given as lat/lon is swapped back when only the swapped reading lies
        in the service area."""
        gcj = coord_sys == "GCJ02"
        notes: tuple[str, ...] = ()
        if gcj:
            notes = ("GCJ-02 position converted to WGS84",)
        elif coord_sys == "CGCS2000":
            notes = ("CGCS2000 position (same as WGS84 to centimetres)",)
        on_earth = abs(lat) <= 90 and abs(lon) <= 180
        if on_earth:
            a, b = gcj_to_wgs(lon, lat) if gcj else (lon, lat)
            near = self._probe(a, b)
            if near is not None:
                return Fix(a, b, notes), near[0], near[1]
        if abs(lon) <= 90 and abs(lat) <= 180:
            a, b = gcj_to_wgs(lat, lon) if gcj else (lat, lon)
            near = self._probe(a, b)
            if near is not None:
                note = f"lon/lat given swapped ({lon}, {lat}); read as ({lat}, {lon})"
                return Fix(a, b, (*notes, note), swapped=True), near[0], near[1]
        if on_earth:
            a, b = gcj_to_wgs(lon, lat) if gcj else (lon, lat)
            d = self.nearest_network_m(a, b)
            where = (
                f"{d / 1000:.1f} km from the nearest network element"
                if math.isfinite(d)
                else "no network loaded"
            )
            return f"position ({lon}, {lat}) is outside the service area ({where})"
        return f"position ({lon}, {lat}) is not a place on Earth"

    # -- neighbours -------------------------------------------------------------------------

    def nearest_sps(self, lon: float, lat: float, k: int) -> tuple[FloatArray, IntArray]:
        if self.sp_tree is None:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        x, y = self.plane.xy(lon, lat)
        k = min(k, len(self.sp_xy))
        d, i = self.sp_tree.query((x, y), k=k)
        return np.atleast_1d(d), np.atleast_1d(i).astype(np.int64)

    def kernel(self, d: FloatArray) -> FloatArray:
        """The likelihood of a fix ``d`` metres from the caller's meter (the mixture of the
        error scales in ``SIGMAS``, up to a constant factor)."""
        return np.exp(np.multiply.outer(d * d, self._neg_inv_2s2)) @ self._mix  # type: ignore[no-any-return]

    def posterior(self, d: FloatArray, rows: IntArray) -> list[tuple[int, float, int, float]]:
        """[(transformer, probability, its nearest meter row, that meter's distance)], best
        first, for a caller at one of the meters ``rows`` (at distances ``d``) who reported
        a position with an unknown error (a mixture of the scales in ``SIGMAS``)."""
        return self.posterior_total(d, rows)[0]

    def posterior_total(
        self, d: FloatArray, rows: IntArray
    ) -> tuple[list[tuple[int, float, int, float]], float]:
        """:meth:`posterior`, and the sum of :meth:`kernel` over every meter (the near ones,
        and the far ones estimated) it divided by: the scale on which other evidence about
        single meters (an address) is weighed against the position. Zero when the fix is
        too far from every meter for the kernel to say anything."""
        w = self.kernel(d)
        total = float(w.sum())
        scale = total
        if total <= 1e-300:  # far from every meter: the nearest decides, weakly
            w = 1.0 / (1.0 + d * d)
            total = float(w.sum())
            scale = 0.0
        elif len(d) == self._k:
            # The meters beyond the k nearest: under a wide error they are as likely to be
            # the caller's, and their transformers are unknown here. Counting them (at the
            # local density) keeps a wide error from lending the near transformers a
            # certainty it does not give.
            r = float(d[-1])
            density = len(d) / (math.pi * r * r) if r > 0 else 0.0
            total += float(self._far @ np.exp(r * r * self._neg_inv_2s2)) * density
            scale = total
        post: dict[int, float] = {}
        near: dict[int, tuple[int, float]] = {}
        sp_tr = self._sp_tr_list
        # a dict over two dozen neighbours beats numpy's grouping calls at this size
        for wi, r, di in zip(w.tolist(), rows.tolist(), d.tolist(), strict=True):
            t = sp_tr[r]
            if t in post:
                post[t] += wi
            else:
                post[t] = wi
                near[t] = (r, di)  # rows come nearest first
        out = [(t, p / total, near[t][0], near[t][1]) for t, p in post.items()]
        out.sort(key=lambda e: -e[1])
        return out, scale

    def transformer_posterior(
        self, lon: float, lat: float, k: int = 24
    ) -> tuple[list[tuple[int, float, int, float]], float, int]:
        """:meth:`posterior` around a WGS84 point, with the nearest meter's distance and
        row."""
        d, rows = self.nearest_sps(lon, lat, k)
        if not len(d):
            return [], math.inf, -1
        return self.posterior(d, rows), float(d[0]), int(rows[0])
