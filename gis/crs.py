"""Coordinate reference systems: the internal CRS, a local metric frame, and GCJ-02.

Everything is stored in WGS84 longitude/latitude (EPSG:4326). CGCS2000 (EPSG:4490) agrees
with WGS84 to a few centimetres, far below any tolerance that matters for a distribution
grid, so PROJ's ballpark transformation between them is exact enough. Distances, snapping
and nearest-neighbour searches run in a local transverse Mercator frame in metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

INTERNAL_EPSG = 4326
INTERNAL_CRS = CRS.from_epsg(INTERNAL_EPSG)

FloatArray = npt.NDArray[np.float64]

_CRS_ALIASES = {
    "WGS84": "EPSG:4326",
    "WGS-84": "EPSG:4326",
    "CGCS2000": "EPSG:4490",
    "CGCS-2000": "EPSG:4490",
}


class UnknownCRSError(ValueError):
    """A CRS text that PROJ does not know."""


def parse_crs(text: str | int | CRS) -> CRS:
    """Reads an EPSG code (``4490``, ``EPSG:4490``), an alias (``CGCS2000``), WKT or PROJ text."""
    if isinstance(text, CRS):
        return text
    if isinstance(text, int):
        text = f"EPSG:{text}"
    cleaned = text.strip()
    cleaned = _CRS_ALIASES.get(cleaned.upper(), cleaned)
    if cleaned.isdigit():
        cleaned = f"EPSG:{cleaned}"
    try:
        return CRS.from_user_input(cleaned)
    except CRSError as exc:
        raise UnknownCRSError(f"unknown CRS {text!r}: {exc}") from exc


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def to_internal(xs: npt.ArrayLike, ys: npt.ArrayLike, crs: CRS) -> tuple[FloatArray, FloatArray]:
    """Transforms x/y arrays in ``crs`` (east, north order) to WGS84 lon/lat."""
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if crs == INTERNAL_CRS:
        return x, y
    lon, lat = _transformer(crs.to_wkt(), INTERNAL_CRS.to_wkt()).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


@dataclass(frozen=True)
class LocalFrame:
    """A transverse Mercator frame in metres centred on the data.

    Over a county (a hundred kilometres) its scale error stays below 0.02 %, and its
    forward and inverse functions are vectorised and cheap: the right frame for snapping,
    nearest-neighbour search and distances on the hot path.
    """

    lon0: float
    lat0: float

    @classmethod
    def around(cls, lon: npt.ArrayLike, lat: npt.ArrayLike) -> LocalFrame:
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        finite = np.isfinite(lon_a) & np.isfinite(lat_a)
        if not finite.any():
            return cls(0.0, 0.0)
        return cls(
            round(float(np.median(lon_a[finite])), 4), round(float(np.median(lat_a[finite])), 4)
        )

    @property
    def crs(self) -> CRS:
        return CRS.from_proj4(
            f"+proj=tmerc +lat_0={self.lat0} +lon_0={self.lon0} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs"
        )

    @cached_property
    def _to_local(self) -> Transformer:
        return Transformer.from_crs(INTERNAL_CRS, self.crs, always_xy=True)

    @cached_property
    def _to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.crs, INTERNAL_CRS, always_xy=True)

    def forward(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        x, y = self._to_local.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def inverse(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        lon, lat = self._to_lonlat.transform(
            np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        )
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def forward_one(self, lon: float, lat: float) -> tuple[float, float]:
        """One point, for the hot path: no arrays (a few microseconds)."""
        x, y = self._to_local.transform(lon, lat)
        return float(x), float(y)

    def inverse_one(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._to_lonlat.transform(x, y)
        return float(lon), float(lat)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


# --- GCJ-02 -----------------------------------------------------------------------------
# The offset that Chinese map apps apply to WGS84 positions. The forward formula is public
# (Krasovsky ellipsoid, a fixed polynomial-and-sine perturbation); its inverse has no closed
# form, so it is found by fixed-point iteration to well under a centimetre.

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def in_china(lon: float, lat: float) -> bool:
    """The rough bounding box inside which GCJ-02 differs from WGS84."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lon: float, lat: float) -> tuple[float, float]:
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _GCJ_EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if not in_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Inverse of :func:`wgs84_to_gcj02` by iteration (converges in a few steps)."""
    if not in_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(10):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon -= dlon
        wlat -= dlat
        if abs(dlon) < 1e-10 and abs(dlat) < 1e-10:
            break
    return wlon, wlat
