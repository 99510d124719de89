"""China's working-day calendar, for the 95598 clocks counted in working days.

Article 30 of the standard asks for callbacks "within 1 working day" and further attempts
"within 3 working days". A working day is a day of China's statutory calendar: Monday to
Friday, minus the statutory holidays, plus the adjusted working weekends (调休上班的周六/周日)
that the State Council publishes each year.

Sources, in order of precedence for a given date:

1. the extra-calendar file a utility maintains (``GRIDCALL_CLOCK_HOLIDAYS_FILE``): single
   dates declared ``holiday`` or ``workday``, so that next year's schedule, or a correction,
   can be entered the day the State Council publishes it, without a software update;
2. the ``chinesecalendar`` package, for the years it knows;
3. for a year the file declares complete (``year 2027``): the weekend rule alone, the file
   listing every holiday and adjusted working day of that year;
4. otherwise a fallback: weekends plus the fixed-date holidays (元旦 1 Jan, 劳动节 1 May,
   国庆 1-3 Oct). The fallback does not know the lunar holidays (春节, 清明, 端午, 中秋) nor
   the adjusted working days, so :meth:`WorkCalendar.is_year_covered` reports such a year as
   not covered and callers can mark their deadlines provisional.

Deadlines. "Within N working days after instant t" ends at the end of the N-th working day
strictly after t's local date (Asia/Shanghai), i.e. at 23:59:59.999 on that day: a service
completed on Wednesday 2026-09-30 at 16:00, the eve of the National Day holiday, is due for
its callback by 2026-10-08 23:59:59.999 (the next working day). The day of t itself never
counts, whether or not it is a working day, the way Chinese rules count periods in days
(the first day is not counted).

The extra-calendar file, text form (any name not ending in ``.json``)::

    # 2027 schedule (国务院办公厅关于2027年部分节假日安排的通知)
    year 2027                       # this file lists the whole 2027 schedule
    holiday 2027-01-01
    holiday 2027-02-06..2027-02-12  # a range, both ends included
    workday 2027-02-14              # adjusted working Sunday
    休 2027-04-05                   # 休 = holiday, 班 = workday, as printed calendars say

JSON form (a name ending in ``.json``)::

    {"complete_years": [2027],
     "holidays": ["2027-01-01", "2027-02-06..2027-02-12"],
     "workdays": ["2027-02-14"]}

``year`` only matters for years ``chinesecalendar`` does not know; single-date entries
override every other source, in any year.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "END_OF_DAY",
    "FIXED_DATE_HOLIDAYS",
    "LOCAL_TZ",
    "CalendarOverrides",
    "HolidayFileError",
    "WorkCalendar",
    "end_of_local_day",
    "load_overrides",
    "local_date",
    "to_local",
]

logger = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
"""The utility's local time: every day boundary in the clocks is a Beijing-time midnight."""

END_OF_DAY = time(23, 59, 59, 999_000)
"""The last instant of a day, to the millisecond, as the deadlines are defined."""

FIXED_DATE_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)}
)
"""(month, day) of the solar-calendar holidays assumed for a year no source covers."""

_STATUTORY_YEARS: frozenset[int] = frozenset(d.year for d in chinese_calendar.holidays)
_SATURDAY = 5
_HOLIDAY_WORDS = frozenset({"holiday", "休"})
_WORKDAY_WORDS = frozenset({"workday", "班"})
_YEAR_WORDS = frozenset({"year"})
_MAX_RANGE_DAYS = 366


class HolidayFileError(ValueError):
    """The extra-calendar file cannot be read; start-up should stop rather than guess."""


def to_local(instant: datetime) -> datetime:
    """The same instant in Asia/Shanghai; naive datetimes are refused, their zone is unknown."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: a timezone is required")
    return instant.astimezone(LOCAL_TZ)


def local_date(value: date | datetime) -> date:
    """The local (Asia/Shanghai) calendar date of an instant; a plain date is returned as is."""
    if isinstance(value, datetime):
        return to_local(value).date()
    return value


def end_of_local_day(day: date) -> datetime:
    """23:59:59.999 Asia/Shanghai on ``day``: the instant a day-counted deadline ends."""
    return datetime.combine(day, END_OF_DAY, tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class CalendarOverrides:
    """Dates a utility declared itself, overriding the packaged calendar."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    complete_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise HolidayFileError(f"dates declared both holiday and workday: {listed}")


def _parse_dates(text: str, where: str) -> Iterator[date]:
    """One ISO date, or an inclusive range ``a..b``."""
    first, sep, last = text.partition("..")
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if sep else start
    except ValueError as exc:
        raise HolidayFileError(f"{where}: not a date or date range: {text!r}") from exc
    span = (end - start).days
    if span < 0 or span >= _MAX_RANGE_DAYS:
        raise HolidayFileError(f"{where}: range must run forwards within a year: {text!r}")
    for offset in range(span + 1):
        yield start + timedelta(days=offset)


def _parse_year(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise HolidayFileError(f"{where}: not a year: {text!r}") from exc


def _build(
    holidays: Iterable[date], workdays: Iterable[date], years: Iterable[int], path: Path
) -> CalendarOverrides:
    try:
        return CalendarOverrides(frozenset(holidays), frozenset(workdays), frozenset(years))
    except HolidayFileError as exc:
        raise HolidayFileError(f"{path}: {exc}") from None


def _load_text(path: Path, text: str) -> CalendarOverrides:
    holidays: list[date] = []
    workdays: list[date] = []
    years: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{number}"
        parts = line.split()
        if len(parts) != 2:
            raise HolidayFileError(f"{where}: expected '<holiday|workday|year> <value>': {raw!r}")
        word, value = parts[0].lower(), parts[1]
        if word in _HOLIDAY_WORDS:
            holidays.extend(_parse_dates(value, where))
        elif word in _WORKDAY_WORDS:
            workdays.extend(_parse_dates(value, where))
        elif word in _YEAR_WORDS:
            years.append(_parse_year(value, where))
        else:
            raise HolidayFileError(f"{where}: unknown keyword {parts[0]!r}")
    return _build(holidays, workdays, years, path)


def _json_list(document: dict[str, object], key: str, path: Path) -> list[object]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise HolidayFileError(f"{path}: {key!r} must be a list")
    return value


def _load_json(path: Path, text: str) -> CalendarOverrides:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HolidayFileError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise HolidayFileError(f"{path}: expected a JSON object with holidays/workdays lists")
    unknown = set(document) - {"holidays", "workdays", "complete_years"}
    if unknown:
        raise HolidayFileError(f"{path}: unknown keys {sorted(unknown)}")
    dates: dict[str, list[date]] = {}
    for key in ("holidays", "workdays"):
        dates[key] = []
        for index, item in enumerate(_json_list(document, key, path)):
            if not isinstance(item, str):
                raise HolidayFileError(f"{path}: {key}[{index}] must be a string")
            dates[key].extend(_parse_dates(item, f"{path}: {key}[{index}]"))
    years: list[int] = []
    for index, item in enumerate(_json_list(document, "complete_years", path)):
        if not isinstance(item, int) or isinstance(item, bool):
            raise HolidayFileError(f"{path}: complete_years[{index}] must be an integer")
        years.append(item)
    return _build(dates["holidays"], dates["workdays"], years, path)


def load_overrides(path: Path) -> CalendarOverrides:
    """Read the extra-calendar file (JSON if the name ends in ``.json``, else the text form).

    A configured file that is missing or malformed raises :class:`HolidayFileError`: a
    silently ignored schedule would shift every callback deadline around the holidays.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise HolidayFileError(f"{path}: cannot read the extra-calendar file: {exc}") from exc
    if path.suffix.lower() == ".json":
        return _load_json(path, text)
    return _load_text(path, text)


class WorkCalendar:
    """Working days of mainland China, with a utility's own additions.

    Its answers never change after construction (it only remembers which fallback years it
    has already logged); build it once at start-up and share it.
    """

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self._overrides = overrides or CalendarOverrides()
        self._warned_years: set[int] = set()

    @classmethod
    def from_file(cls, path: Path | None) -> WorkCalendar:
        """The calendar with the extra-calendar file, if one is configured."""
        return cls(load_overrides(path) if path is not None else None)

    @property
    def overrides(self) -> CalendarOverrides:
        return self._overrides

    def is_year_covered(self, year: int) -> bool:
        """Whether the year's statutory schedule is known (packaged, or declared complete).

        False means the fallback applies: weekends and fixed-date holidays only.
        """
        return year in _STATUTORY_YEARS or year in self._overrides.complete_years

    def are_dates_covered(self, first: date, last: date) -> bool:
        """Whether every year from ``first`` to ``last`` (inclusive) is covered."""
        low, high = sorted((first.year, last.year))
        return all(self.is_year_covered(year) for year in range(low, high + 1))

    def is_working_day(self, day: date | datetime) -> bool:
        """Whether ``day`` (a date, or the local date of an aware datetime) is a working day."""
        day = local_date(day)
        if day in self._overrides.workdays:
            return True
        if day in self._overrides.holidays:
            return False
        if day.year in _STATUTORY_YEARS:
            return bool(chinese_calendar.is_workday(day))
        weekday = day.weekday() < _SATURDAY
        if day.year in self._overrides.complete_years:
            return weekday
        self._warn_fallback(day.year)
        return weekday and (day.month, day.day) not in FIXED_DATE_HOLIDAYS

    def next_working_day(self, day: date | datetime) -> date:
        """The first working day strictly after ``day``'s local date."""
        return self.nth_working_day_after(day, 1)

    def nth_working_day_after(self, day: date | datetime, n: int) -> date:
        """The ``n``-th working day strictly after ``day``'s local date (``n`` ≥ 1)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        current = local_date(day)
        found = 0
        while found < n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                found += 1
        return current

    def add_working_days(self, instant: datetime, n: int) -> datetime:
        """The deadline "within ``n`` working days after ``instant``".

        It is the end (23:59:59.999 Asia/Shanghai) of the ``n``-th working day strictly after
        the local date of ``instant``, whatever the time of day of ``instant``.
        """
        return end_of_local_day(self.nth_working_day_after(to_local(instant), n))

    def working_days_between(self, a: date | datetime, b: date | datetime) -> int:
        """Working days after ``a``'s local date up to and including ``b``'s.

        Counted the way deadlines are: ``working_days_between(t, add_working_days(t, n))``
        is ``n``. Negative when ``b`` is before ``a``; 0 on the same date.
        """
        start, end = local_date(a), local_date(b)
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )

    def _warn_fallback(self, year: int) -> None:
        if year not in self._warned_years:
            self._warned_years.add(year)
            logger.warning(
                "no statutory holiday schedule for %d: using weekends and fixed-date holidays; "
                "add the year to the extra-calendar file (GRIDCALL_CLOCK_HOLIDAYS_FILE)",
                year,
            )
