"""Reads a layer package (a GeoPackage, or a folder of GeoJSON / Shapefile / GeoPackage / CSV).

Reading never fails on the content: every problem becomes a :class:`Problem`, so that the
import can list all of them at once. Attribute values come back as text (ids like ``0012``
keep their zeros), geometries as shapely objects in the file's own CRS.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.crs import UnknownCRSError, parse_crs
from layers.schema import LAYERS, LayerSpec

FILE_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".csv")
WGS84 = CRS.from_epsg(4326)


@dataclass(frozen=True)
class Problem:
    layer: str
    feature_id: str | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.layer}" + (f" [{self.feature_id}]" if self.feature_id is not None else "")
        return f"{self.severity}: {where}: {self.message}"


@dataclass
class RawLayer:
    name: str
    source: str
    frame: pd.DataFrame
    geometry: np.ndarray[Any, Any]  # shapely geometries or None
    crs: CRS | None
    problems: list[Problem] = field(default_factory=list)


class PackageError(Exception):
    """The package as a whole cannot be read (no such file, not a package)."""


def _text(value: Any) -> str | None:
    """Attribute value as text, ``None`` when empty; integral floats lose their ``.0``."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    text = str(value).strip()
    return text or None


def _normalise_columns(frame: pd.DataFrame, spec: LayerSpec | None) -> pd.DataFrame:
    """Lower-cases column names and restores the names that Shapefiles cut to 10 characters."""
    renames: dict[str, str] = {}
    expected = spec.columns if spec else ()
    for column in frame.columns:
        low = str(column).strip().lower()
        if low not in expected:
            for full in expected:
                if len(full) > 10 and low == full[:10]:
                    low = full
                    break
        renames[column] = low
    return frame.rename(columns=renames)


def _as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {col: [_text(v) for v in frame[col].tolist()] for col in frame.columns},
        index=range(len(frame)),
        dtype=object,
    )


def _read_csv(path: Path, name: str, crs_override: CRS | None) -> RawLayer:
    frame: pd.DataFrame | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
            break
        except UnicodeDecodeError:
            continue
    if frame is None:
        raise PackageError(f"{path}: neither UTF-8 nor GB18030 text")
    spec = LAYERS.get(name)
    frame = _normalise_columns(frame, spec)
    problems: list[Problem] = []
    n = len(frame)
    geometry = np.full(n, None, dtype=object)
    crs: CRS | None
    if "wkt" in frame.columns:
        crs = crs_override
        if crs is None and (spec is None or spec.has_crs):
            problems.append(
                Problem(name, None, "CSV with a wkt column declares no CRS; pass --crs EPSG:...")
            )
        for i, text in enumerate(frame["wkt"].tolist()):
            if not text:
                continue
            try:
                geometry[i] = shapely.from_wkt(text)
            except shapely.errors.GEOSException as exc:
                geometry[i] = _Unreadable(str(exc))
        frame = frame.drop(columns=["wkt"])
    elif "lon" in frame.columns and "lat" in frame.columns:
        # lon/lat columns are degrees (CONTRACT section 1): ``--crs`` names the CRS of the
        # layers that declare none, and only a geographic one (CGCS2000) can apply here
        geographic = crs_override is not None and crs_override.is_geographic
        crs = crs_override if geographic else WGS84
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(lon) & np.isfinite(lat)
        points = shapely.points(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
        geometry[ok] = points[ok]
        frame = frame.drop(columns=["lon", "lat"])
    else:
        crs = crs_override
        if spec is not None and spec.geometry:
            problems.append(Problem(name, None, "CSV layer has neither lon/lat nor wkt columns"))
    text = _as_text_frame(frame)
    return RawLayer(name, str(path), text, geometry, crs, problems)


class _Unreadable:
    """Stands in for a geometry that could not be parsed, with the parser's message."""

    def __init__(self, message: str) -> None:
        self.message = message


def _dbf_code_page_unknown(shp: Path) -> bool:
    """No ``.cpg`` beside the Shapefile and no language driver byte in the DBF header.

    GDAL then reads the text as ISO-8859-1, which turns the GBK text of a Chinese tool's
    export (feeder and village names) into mojibake that no pole or address matches.
    """
    if any(shp.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return False
    dbf = next((shp.with_suffix(s) for s in (".dbf", ".DBF") if shp.with_suffix(s).exists()), None)
    if dbf is None:
        return False
    with dbf.open("rb") as handle:
        header = handle.read(32)
    return len(header) == 32 and header[29] == 0


def _guess_dbf_encoding(shp: Path) -> str:
    """UTF-8 when every text value decodes as UTF-8, else GB18030 (a superset of GBK)."""
    try:
        pyogrio.raw.read(shp, encoding="utf-8", read_geometry=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


@contextmanager
def _reader_quiet() -> Iterator[None]:
    """Silences the reader's warnings: what it would warn of when a package is listed or a
    layer's header read, it says again, once per layer, when the layer is read (see
    _read_ogr)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="pyogrio")
        yield


def _list_layers(path: Path) -> Any:
    """The tables of a GeoPackage."""
    with _reader_quiet():
        return pyogrio.list_layers(path)


def _read_ogr(path: Path, name: str, layer: str | None, crs_override: CRS | None) -> RawLayer:
    spec = LAYERS.get(name)
    problems: list[Problem] = []
    with _reader_quiet():
        info = pyogrio.read_info(path, layer=layer)
    crs: CRS | None = None
    declared = info.get("crs")
    if declared:
        try:
            crs = parse_crs(declared)
        except UnknownCRSError as exc:
            problems.append(Problem(name, None, f"unknown CRS: {exc}"))
    if crs_override is not None and crs is None:
        crs = crs_override
    if crs is None and not problems and (spec is None or spec.has_crs):
        problems.append(
            Problem(
                name,
                None,
                "layer declares no CRS (e.g. a Shapefile without .prj); pass --crs EPSG:...",
            )
        )
    # GeoJSON field types are guessed from values: an id like "T0001" would become a time.
    options = (
        {"DATE_AS_STRING": "YES", "ARRAY_AS_STRING": "YES"}
        if path.suffix.lower() in (".geojson", ".json")
        else {}
    )
    encoding = None
    if path.suffix.lower() == ".shp" and _dbf_code_page_unknown(path):
        encoding = _guess_dbf_encoding(path)
        problems.append(
            Problem(
                name,
                None,
                f"{path.stem}.dbf declares no code page (no .cpg): its text read as"
                f" {encoding}; add a .cpg file to say otherwise",
                severity="warning",
            )
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta, _fids, geometry_wkb, field_data = pyogrio.raw.read(
            path, layer=layer, encoding=encoding, **options
        )
    # the reader's own warnings (measured M values dropped, ...) as the import's, once
    for message in dict.fromkeys(str(w.message) for w in caught):
        problems.append(Problem(name, None, message, severity="warning"))
    columns = list(meta["fields"])
    frame = pd.DataFrame({col: field_data[i] for i, col in enumerate(columns)})
    frame = _normalise_columns(frame, spec)
    n = len(frame) if columns else (len(geometry_wkb) if geometry_wkb is not None else 0)
    geometry = np.full(n, None, dtype=object)
    if geometry_wkb is not None:
        geometry[:] = shapely.from_wkb(geometry_wkb, on_invalid="ignore")
        for i in np.flatnonzero(pd.isna(geometry)):
            if geometry_wkb[i] is not None:
                geometry[i] = _Unreadable("geometry blob cannot be parsed")
    text = _as_text_frame(frame) if columns else pd.DataFrame(index=range(n))
    return RawLayer(name, f"{path}" + (f":{layer}" if layer else ""), text, geometry, crs, problems)


def read_package(
    path: str | Path, crs_override: CRS | None = None
) -> tuple[dict[str, RawLayer], list[Problem]]:
    """Reads every known layer of a package; unknown layers are reported as warnings."""
    root = Path(path)
    if not root.exists():
        raise PackageError(f"{root}: no such file or folder")
    layers: dict[str, RawLayer] = {}
    problems: list[Problem] = []
    sources: list[tuple[str, Path, str | None]] = []
    if root.is_dir():
        for file in sorted(root.iterdir()):
            suffix = file.suffix.lower()
            if suffix not in FILE_SUFFIXES:
                continue
            name = file.stem.strip().lower()  # an export's stray blank is no new layer
            if suffix == ".gpkg" and name not in LAYERS:
                # A GeoPackage in the folder may hold several layers of its own.
                for table, _geom in _list_layers(file):
                    sources.append((str(table).strip().lower(), file, str(table)))
                continue
            sources.append((name, file, None))
    elif root.suffix.lower() == ".gpkg":
        for table, _geom in _list_layers(root):
            sources.append((str(table).strip().lower(), root, str(table)))
    elif root.suffix.lower() in FILE_SUFFIXES:
        sources.append((root.stem.strip().lower(), root, None))
    else:
        raise PackageError(f"{root}: not a GeoPackage or a folder of layer files")

    for name, file, table in sources:
        if name not in LAYERS:
            problems.append(
                Problem(name, None, f"unknown layer in {file.name}, ignored", severity="warning")
            )
            continue
        if name in layers:
            problems.append(
                Problem(name, None, f"layer given twice ({layers[name].source} and {file})")
            )
            continue
        try:
            if file.suffix.lower() == ".csv":
                raw = _read_csv(file, name, crs_override)
            else:
                raw = _read_ogr(file, name, table, crs_override)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
            problems.append(Problem(name, None, f"cannot read {file.name}: {exc}"))
            continue
        layers[name] = raw
        problems.extend(raw.problems)
    return layers, problems


def is_unreadable(geom: object) -> bool:
    return isinstance(geom, _Unreadable)


def unreadable_message(geom: object) -> str:
    return geom.message if isinstance(geom, _Unreadable) else ""
