"""A call as the hotline receives it (CONTRACT section 2), parsed and checked.

A row whose ``call_id`` or ``received_at`` is missing or unreadable, or whose ``category``
or ``source`` is unknown, is malformed: it is rejected with the reason. An impossible value
in another field is dropped and named in ``notes``; the call goes on with what is left.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def read_csv_text(path: str | Path) -> str:
    """The text of a CSV file of calls or truth (CONTRACT: UTF-8, a BOM allowed).

    Not every file that reaches a county's call centre is UTF-8: Excel on a Chinese Windows
    saves a CSV in GBK, and a copied file may hold a broken byte. The lines with non-ASCII
    bytes decide: a line of UTF-8 Chinese decodes to characters from U+0800 up; a line of
    GBK Chinese decodes as GB2312 (both bytes of a common character from 0xA1 up), which
    UTF-8 Chinese almost never does, and when it passes for UTF-8 at all, it is as
    characters below U+0800 (a line read both ways so counts for neither). When more
    lines read only as GBK than as UTF-8, the file is read as
    GB18030 (GBK's superset); otherwise bytes that are not UTF-8 are read as U+FFFD, and
    every row still goes through (a garbled address must not lose the call). A warning
    names what was done."""
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if (text := _decoded(data, "utf-8")) is not None:
        return text
    lines = data.split(b"\n")
    utf8 = gbk = 0
    broken = []
    for n, line in enumerate(lines, 1):
        if line.isascii():
            continue
        as_utf8 = _decoded(line, "utf-8")
        as_gbk = _decoded(line, "gb2312") is not None
        if as_utf8 is None:
            broken.append(n)
            gbk += as_gbk
        elif not as_gbk or any(ord(c) >= 0x800 for c in as_utf8):
            utf8 += 1
        # else both, as two-byte characters (an accented letter, or GBK by chance): neither
    if gbk > utf8 and (text := _decoded(data, "gb18030")) is not None:
        logger.warning("%s is not UTF-8: read as GB18030 (GBK)", path)
        return text
    shown = ", ".join(map(str, broken[:10])) + (", ..." if len(broken) > 10 else "")
    logger.warning(
        "%s: line%s %s not UTF-8 text; the broken bytes are read as U+FFFD",
        path,
        "s" if len(broken) > 1 else "",
        shown + (" are" if len(broken) > 1 else " is"),
    )
    return data.decode("utf-8", errors="replace")


def csv_rows(path: str | Path) -> csv.DictReader[str]:
    """The rows of a CSV file of calls or truth (see :func:`read_csv_text`), by column
    name; header names stripped and lower-cased, as a header typed by hand may have them
    ("Call_ID, received_at")."""
    reader = csv.DictReader(io.StringIO(read_csv_text(path), newline=""))
    if reader.fieldnames is not None:
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    return reader


def _decoded(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


CALL_COLUMNS = (
    "call_id",
    "received_at",
    "source",
    "category",
    "caller_phone",
    "caller_name",
    "account_no",
    "pole_no",
    "address",
    "lon",
    "lat",
    "coord_sys",
    "symptom",
    "description",
)


class Source(StrEnum):
    PHONE = "phone"
    APP = "app"
    WECHAT = "wechat"
    HOTLINE_12345 = "12345"
    POLICE_110 = "110"
    FIRE_119 = "119"


class Category(StrEnum):
    REPAIR = "repair"
    COMPLAINT = "complaint"
    REPORT = "report"
    CONSULT = "consult"
    QUERY = "query"
    NEW_CONNECTION = "new_connection"
    SUGGESTION = "suggestion"
    PRAISE = "praise"


class Symptom(StrEnum):
    NO_POWER = "no_power"
    PARTIAL_POWER = "partial_power"
    LOW_VOLTAGE = "low_voltage"
    SPARKING = "sparking"
    LINE_DOWN = "line_down"
    POLE_DOWN = "pole_down"
    TRANSFORMER_NOISE = "transformer_noise"
    OTHER = "other"


class CoordSys(StrEnum):
    WGS84 = "WGS84"
    GCJ02 = "GCJ02"
    CGCS2000 = "CGCS2000"


# Symptoms that mean the caller still has some supply: evidence against an outage upstream.
POWER_PRESENT = frozenset({Symptom.PARTIAL_POWER, Symptom.LOW_VOLTAGE})
# Symptoms that point at equipment rather than at a customer's supply.
EQUIPMENT = frozenset(
    {Symptom.SPARKING, Symptom.LINE_DOWN, Symptom.POLE_DOWN, Symptom.TRANSFORMER_NOISE}
)

# What a caller saw of the network, as evidence of which kind of element failed: a
# transformer humming, smoking or burning points at that transformer itself; a wire or pole
# down points at a line, cleared by a switch. Agents often pick ``other`` and type what was
# said, so the description is read too.
SIGHT_TRANSFORMER = "transformer"
SIGHT_LINE = "line"
_TRANSFORMER_WORDS = re.compile(
    r"(变压器|变台|台变|配变|箱变).{0,6}?(响|冒烟|着火|起火|爆|烧|漏油)"
)
# physical damage only: "断电" (power cut) and "电压" (voltage) are not a wire down
_LINE_WORDS = re.compile(
    r"(电线杆|电线|导线|高压线|电杆|线杆|杆子|线路).{0,4}?"
    r"(断了|断掉|刮断|扯断|压断|砸断|断裂|掉地|掉在|掉下|落地|刮倒|倒了|倒在|倒塌|歪了)"
    r"|断线|倒杆|断杆"
)
_NEGATION = re.compile(r"没|不|未|无")
_CLAUSE_END = re.compile(r"[，。,.;；！!？?\s]")


def _said(pattern: re.Pattern[str], text: str) -> bool:
    """Whether the text says it rather than denies it ("没看到变压器冒烟"): no negation in
    its clause before or within it ("灯不亮，变压器冒烟了" says it)."""
    for m in pattern.finditer(text):
        ends = [e.end() for e in _CLAUSE_END.finditer(text, 0, m.start())]
        if not _NEGATION.search(text, ends[-1] if ends else 0, m.end()):
            return True
    return False


def sighting(symptom: Symptom | None, description: str | None) -> str | None:
    """What the caller saw (``SIGHT_TRANSFORMER``, ``SIGHT_LINE``) or None."""
    if symptom is Symptom.TRANSFORMER_NOISE:
        return SIGHT_TRANSFORMER
    if symptom in (Symptom.LINE_DOWN, Symptom.POLE_DOWN):
        return SIGHT_LINE
    if description:
        if _said(_TRANSFORMER_WORDS, description):
            return SIGHT_TRANSFORMER
        if _said(_LINE_WORDS, description):
            return SIGHT_LINE
    return None


@dataclass(frozen=True)
class Call:
    call_id: str
    received_at: datetime
    source: Source = Source.PHONE
    category: Category = Category.REPAIR
    caller_phone: str | None = None
    caller_name: str | None = None
    account_no: str | None = None
    pole_no: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    coord_sys: CoordSys = CoordSys.WGS84
    symptom: Symptom | None = None
    description: str | None = None
    notes: tuple[str, ...] = field(default=())

    def with_notes(self, *more: str) -> Call:
        return replace(self, notes=self.notes + tuple(more))

    def as_row(self) -> dict[str, Any]:
        """The call as CONTRACT section 2 columns (for the database and the calls file)."""
        return {
            "call_id": self.call_id,
            "received_at": self.received_at.isoformat(),
            "source": self.source.value,
            "category": self.category.value,
            "caller_phone": self.caller_phone,
            "caller_name": self.caller_name,
            "account_no": self.account_no,
            "pole_no": self.pole_no,
            "address": self.address,
            "lon": self.lon,
            "lat": self.lat,
            "coord_sys": self.coord_sys.value,
            "symptom": self.symptom.value if self.symptom else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class Rejection:
    call_id: str | None
    reason: str
    row_number: int | None = None


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def parse_datetime(text: str) -> datetime:
    """ISO 8601 with a UTC offset (``Z`` accepted); a naive time is refused."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("no UTC offset")
    return value


def _enum(enum: type[StrEnum], text: str | None, default: StrEnum | None) -> StrEnum | None:
    if text is None:
        return default
    low = text.strip()
    for member in enum:
        if member.value.lower() == low.lower():
            return member
    raise ValueError(text)


def parse_call(row: dict[str, Any], row_number: int | None = None) -> Call | Rejection:
    """Reads one row of a calls file (or one JSON call) into a :class:`Call`."""
    call_id = _clean(row.get("call_id"))
    if call_id is None:
        return Rejection(None, "missing call_id", row_number)
    received = _clean(row.get("received_at"))
    if received is None:
        return Rejection(call_id, "missing received_at", row_number)
    try:
        received_at = parse_datetime(received)
    except ValueError:
        return Rejection(
            call_id, f"received_at {received!r} is not ISO 8601 with a UTC offset", row_number
        )
    try:
        source = _enum(Source, _clean(row.get("source")), Source.PHONE)
    except ValueError as exc:
        return Rejection(call_id, f"unknown source {exc.args[0]!r}", row_number)
    try:
        category = _enum(Category, _clean(row.get("category")), Category.REPAIR)
    except ValueError as exc:
        return Rejection(call_id, f"unknown category {exc.args[0]!r}", row_number)

    notes: list[str] = []
    symptom: StrEnum | None
    try:
        symptom = _enum(Symptom, _clean(row.get("symptom")), None)
    except ValueError as exc:
        notes.append(f"unknown symptom {exc.args[0]!r} dropped")
        symptom = None
    try:
        coord_sys = _enum(
            CoordSys, _normalise_coord_sys(_clean(row.get("coord_sys"))), CoordSys.WGS84
        )
    except ValueError as exc:
        notes.append(f"unknown coord_sys {exc.args[0]!r}: position dropped")
        coord_sys = None
    lon, lat = _position(row, notes)
    if coord_sys is None:
        lon = lat = None
        coord_sys = CoordSys.WGS84
    return Call(
        call_id=call_id,
        received_at=received_at,
        source=Source(str(source)),
        category=Category(str(category)),
        caller_phone=_clean(row.get("caller_phone")),
        caller_name=_clean(row.get("caller_name")),
        account_no=_clean(row.get("account_no")),
        pole_no=_clean(row.get("pole_no")),
        address=_clean(row.get("address")),
        lon=lon,
        lat=lat,
        coord_sys=CoordSys(str(coord_sys)),
        symptom=Symptom(str(symptom)) if symptom else None,
        description=_clean(row.get("description")),
        notes=tuple(notes),
    )


def _normalise_coord_sys(text: str | None) -> str | None:
    if text is None:
        return None
    key = text.upper().replace("-", "").replace("_", "").replace(" ", "")
    return {
        "WGS84": "WGS84",
        "GCJ02": "GCJ02",
        "CGCS2000": "CGCS2000",
        "EPSG4326": "WGS84",
        "EPSG4490": "CGCS2000",
    }.get(key, text)


def _position(row: dict[str, Any], notes: list[str]) -> tuple[float | None, float | None]:
    lon_text, lat_text = _clean(row.get("lon")), _clean(row.get("lat"))
    if lon_text is None and lat_text is None:
        return None, None
    if lon_text is None or lat_text is None:
        notes.append("position dropped: lon or lat missing")
        return None, None
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        notes.append(f"position dropped: ({lon_text}, {lat_text}) is not numeric")
        return None, None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        notes.append("position dropped: not finite")
        return None, None
    # A swapped pair (lat, lon) is kept when that reading is on Earth: the locator decides
    # which order lies in the service area.
    on_earth = abs(lon) <= 180 and abs(lat) <= 90
    swapped_on_earth = abs(lat) <= 180 and abs(lon) <= 90
    if not on_earth and not swapped_on_earth:
        notes.append(f"position dropped: ({lon_text}, {lat_text}) is not on Earth")
        return None, None
    return lon, lat
