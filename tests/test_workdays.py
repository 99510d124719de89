"""China's working-day calendar: statutory data, adjusted weekends, fallback, extra file."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dispatch.workdays import (
    LOCAL_TZ,
    CalendarOverrides,
    HolidayFileError,
    WorkCalendar,
    load_overrides,
)

# 2026 as chinesecalendar 1.11.0 records it (constants.py): 中秋 9-25..27 (Fri-Sun),
# 国庆 10-01..07, adjusted working days Sunday 9-20 and Saturday 10-10.
ADJUSTED_WORKING_SUNDAY = date(2026, 9, 20)
ADJUSTED_WORKING_SATURDAY = date(2026, 10, 10)
MID_AUTUMN_2026 = [date(2026, 9, d) for d in (25, 26, 27)]
NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]
UNCOVERED_YEAR = 2099  # far beyond any chinesecalendar release


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999_000, tzinfo=LOCAL_TZ)


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


def test_2026_national_day_holidays_and_adjusted_weekends(calendar: WorkCalendar) -> None:
    assert ADJUSTED_WORKING_SUNDAY.weekday() == 6
    assert ADJUSTED_WORKING_SATURDAY.weekday() == 5
    assert calendar.is_working_day(ADJUSTED_WORKING_SUNDAY)
    assert calendar.is_working_day(ADJUSTED_WORKING_SATURDAY)
    for day in MID_AUTUMN_2026 + NATIONAL_DAY_2026:
        assert not calendar.is_working_day(day), day
    assert not calendar.is_working_day(date(2026, 9, 19))  # an ordinary Saturday
    assert not calendar.is_working_day(date(2026, 10, 11))  # the Sunday after
    assert calendar.is_working_day(date(2026, 9, 30))  # Wednesday, eve of the holiday
    assert calendar.is_year_covered(2026)


def test_one_working_day_after_the_holiday_eve_is_the_end_of_october_8th(
    calendar: WorkCalendar,
) -> None:
    completed = local(2026, 9, 30, 16, 0)
    assert calendar.add_working_days(completed, 1) == end_of(date(2026, 10, 8))
    assert calendar.next_working_day(completed) == date(2026, 10, 8)


def test_three_working_days_land_on_the_adjusted_working_saturday(
    calendar: WorkCalendar,
) -> None:
    deadline = calendar.add_working_days(local(2026, 9, 30, 16, 0), 3)
    assert deadline == end_of(ADJUSTED_WORKING_SATURDAY)
    assert deadline.microsecond == 999_000
    assert deadline.utcoffset() == timedelta(hours=8)


def test_adjusted_working_sunday_counts_as_the_next_working_day(calendar: WorkCalendar) -> None:
    friday = local(2026, 9, 18, 9, 0)
    assert calendar.add_working_days(friday, 1) == end_of(ADJUSTED_WORKING_SUNDAY)


def test_the_starting_date_never_counts_even_at_midnight(calendar: WorkCalendar) -> None:
    assert calendar.add_working_days(local(2026, 9, 28, 0, 0), 1) == end_of(date(2026, 9, 29))
    assert calendar.add_working_days(local(2026, 9, 28, 23, 59), 1) == end_of(date(2026, 9, 29))


def test_the_local_date_decides_not_the_utc_date(calendar: WorkCalendar) -> None:
    # 2026-09-29 17:00 UTC is 2026-09-30 01:00 in Beijing: the eve of the holiday.
    instant = datetime(2026, 9, 29, 17, 0, tzinfo=UTC)
    assert calendar.add_working_days(instant, 1) == end_of(date(2026, 10, 8))
    # 2026-09-30 17:00 UTC is already 10-01 in Beijing: a holiday
    assert not calendar.is_working_day(datetime(2026, 9, 30, 17, 0, tzinfo=UTC))
    assert calendar.is_working_day(datetime(2026, 9, 30, 15, 0, tzinfo=UTC))
    assert calendar.working_days_between(instant, datetime(2026, 10, 7, 17, 0, tzinfo=UTC)) == 1


def test_naive_datetimes_and_non_positive_counts_are_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar.add_working_days(datetime(2026, 9, 30, 16, 0), 1)
    with pytest.raises(ValueError, match="at least 1"):
        calendar.add_working_days(local(2026, 9, 30, 16, 0), 0)


def test_working_days_between_counts_like_the_deadlines(calendar: WorkCalendar) -> None:
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert calendar.working_days_between(date(2026, 10, 10), date(2026, 9, 30)) == -3
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 7)) == 0
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 9, 30)) == 0
    start = local(2026, 9, 17, 15, 30)
    for n in range(1, 12):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


def test_uncovered_year_falls_back_to_weekends_and_fixed_holidays(
    calendar: WorkCalendar, caplog: pytest.LogCaptureFixture
) -> None:
    assert not calendar.is_year_covered(UNCOVERED_YEAR)
    with caplog.at_level(logging.WARNING, logger="dispatch.workdays"):
        assert not calendar.is_working_day(date(2099, 1, 1))  # Thursday, 元旦
    assert str(UNCOVERED_YEAR) in caplog.text
    assert calendar.is_working_day(date(2099, 1, 2))  # Friday
    assert not calendar.is_working_day(date(2099, 5, 1))  # Friday, 劳动节
    assert not calendar.is_working_day(date(2099, 10, 1))  # Thursday, 国庆
    assert not calendar.is_working_day(date(2099, 10, 2))  # Friday, 国庆
    assert calendar.is_working_day(date(2099, 10, 5))  # Monday after: only 1-3 Oct assumed
    assert not calendar.is_working_day(date(2099, 1, 3))  # Saturday
    assert calendar.add_working_days(local(2099, 9, 30, 16, 0), 1) == end_of(date(2099, 10, 5))
    assert not calendar.are_dates_covered(date(2026, 12, 30), date(2099, 1, 5))
    assert calendar.are_dates_covered(date(2026, 9, 30), date(2026, 10, 10))


def test_text_file_completes_a_year_and_overrides_a_covered_one(tmp_path: Path) -> None:
    path = tmp_path / "calendar.txt"
    path.write_text(
        "# 2099 schedule, as the State Council would publish it\n"
        "year 2099\n"
        "holiday 2099-01-01..2099-01-02   # 元旦 and a bridge day\n"
        "workday 2099-01-03               # adjusted working Saturday\n"
        "休 2099-10-01..2099-10-07\n"
        "\n"
        "班 2099-10-10\n"
        "holiday 2026-10-09               # a local correction in a packaged year\n",
        encoding="utf-8",
    )
    calendar = WorkCalendar.from_file(path)
    assert calendar.is_year_covered(UNCOVERED_YEAR)
    assert not calendar.is_working_day(date(2099, 1, 2))  # Friday, declared holiday
    assert calendar.is_working_day(date(2099, 1, 3))  # Saturday, declared workday
    assert not calendar.is_working_day(date(2099, 10, 6))  # Tuesday, declared holiday
    assert calendar.is_working_day(date(2099, 10, 10))  # Saturday, declared workday
    # a complete year uses only the weekend rule beyond the file: 1 May is not assumed
    assert calendar.is_working_day(date(2099, 5, 1))
    # the override beats chinesecalendar: the 2nd working day after 9-30 moves past 10-09
    assert calendar.add_working_days(local(2026, 9, 30, 16, 0), 2) == end_of(date(2026, 10, 10))
    assert WorkCalendar().add_working_days(local(2026, 9, 30, 16, 0), 2) == end_of(
        date(2026, 10, 9)
    )


def test_json_file_is_read_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(
        json.dumps(
            {
                "complete_years": [2099],
                "holidays": ["2099-01-01..2099-01-02"],
                "workdays": ["2099-01-03"],
            }
        ),
        encoding="utf-8",
    )
    overrides = load_overrides(path)
    assert overrides == CalendarOverrides(
        holidays=frozenset({date(2099, 1, 1), date(2099, 1, 2)}),
        workdays=frozenset({date(2099, 1, 3)}),
        complete_years=frozenset({2099}),
    )
    calendar = WorkCalendar(overrides)
    assert calendar.add_working_days(local(2098, 12, 31, 10, 0), 1) == end_of(date(2099, 1, 3))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.txt", "year 2099\nholiday 2099-02-30\n", r"bad\.txt:2: not a date"),
        ("bad.txt", "holiday 2099-01-05..2099-01-01\n", "range must run forwards"),
        ("bad.txt", "vacation 2099-01-01\n", "unknown keyword"),
        ("bad.txt", "holiday 2099-01-01\nworkday 2099-01-01\n", "both holiday and workday"),
        ("bad.json", '{"holidays": "2099-01-01"}', "must be a list"),
        ("bad.json", '{"holiday": ["2099-01-01"]}', "unknown keys"),
        ("bad.json", "[1, 2", "invalid JSON"),
    ],
)
def test_malformed_files_stop_start_up(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HolidayFileError, match=message):
        WorkCalendar.from_file(path)


def test_a_configured_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HolidayFileError, match="cannot read"):
        WorkCalendar.from_file(tmp_path / "absent.txt")
    assert WorkCalendar.from_file(None).overrides == CalendarOverrides()
