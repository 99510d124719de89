"""The 95598 clocks: dispatch, arrival, restoration, reply, callback, escalation, board."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from dispatch.clocks import (
    AreaClass,
    CallbackAttempt,
    CallbackOutcome,
    Clock,
    ClockKind,
    ClockState,
    Escalation,
    OrderFacts,
    OrderKind,
    arrival_clock,
    callback_clock,
    dispatch_clock,
    dispatcher_board,
    order_clocks,
    reply_clock,
    restoration_clock,
)
from dispatch.config import ClockSettings, DayKind
from dispatch.workdays import LOCAL_TZ, WorkCalendar

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999_000, tzinfo=LOCAL_TZ)


T0 = local(2026, 3, 2, 10, 0)  # an ordinary Monday morning
HOLIDAY_EVE = local(2026, 9, 30, 16, 0)  # Wednesday before 国庆 2026 (10-01..10-07)


@pytest.fixture(autouse=True)
def _no_clock_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's shell must not change the defaults under test."""
    for name in list(os.environ):
        if name.upper().startswith("GRIDCALL_CLOCK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings() -> ClockSettings:
    return ClockSettings()


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar()


def _repair(area: AreaClass = AreaClass.URBAN, order_id: str = "R1") -> OrderFacts:
    return OrderFacts(order_id=order_id, kind=OrderKind.REPAIR, first_call_at=T0, area_class=area)


def failed(at: datetime, reason: str) -> CallbackAttempt:
    return CallbackAttempt(at, "回访抢修满意度", CallbackOutcome.FAILED, reason)


def succeeded(at: datetime) -> CallbackAttempt:
    return CallbackAttempt(at, "回访抢修满意度: 满意", CallbackOutcome.SUCCESS)


def completed_repair(*attempts: CallbackAttempt, completed: datetime = HOLIDAY_EVE) -> OrderFacts:
    start = completed - timedelta(hours=3)
    return OrderFacts(
        order_id="CB1",
        kind=OrderKind.REPAIR,
        first_call_at=start,
        area_class=AreaClass.URBAN,
        dispatched_at=start + MINUTE,
        arrived_at=start + 30 * MINUTE,
        repaired_at=completed - 10 * MINUTE,
        completed_at=completed,
        callback_attempts=attempts,
    )


def must(clock: Clock | None) -> Clock:
    assert clock is not None
    return clock


# --- settings -------------------------------------------------------------------------


def test_settings_defaults_follow_the_standard(settings: ClockSettings) -> None:
    assert settings.dispatch_minutes == 5
    assert (
        settings.arrival_urban_minutes,
        settings.arrival_rural_minutes,
        settings.arrival_remote_minutes,
    ) == (45, 90, 120)
    assert (
        settings.restoration_urban_hours,
        settings.restoration_rural_hours,
        settings.restoration_remote_hours,
    ) == (3, 4, 4)
    assert (settings.complaint_reply_days, settings.report_reply_days) == (5, 10)
    assert settings.reply_day_kind is DayKind.CALENDAR
    assert (settings.callback_first_working_days, settings.callback_window_working_days) == (1, 3)
    assert settings.warn_fraction == 0.8
    assert settings.holidays_file is None


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDCALL_CLOCK_ARRIVAL_RURAL_MINUTES", "100")
    monkeypatch.setenv("GRIDCALL_CLOCK_RESTORATION_REMOTE_HOURS", "6")
    monkeypatch.setenv("GRIDCALL_CLOCK_REPLY_DAY_KIND", "working")
    monkeypatch.setenv("GRIDCALL_CLOCK_HOLIDAYS_FILE", "/etc/gridcall/holidays.txt")
    settings = ClockSettings()
    assert settings.arrival_rural_minutes == 100
    assert settings.restoration_remote_hours == 6
    assert settings.reply_day_kind is DayKind.WORKING
    assert settings.holidays_file == Path("/etc/gridcall/holidays.txt")


def test_settings_refuse_inconsistent_limits() -> None:
    with pytest.raises(ValidationError, match="callback_window_working_days"):
        ClockSettings(callback_first_working_days=4, callback_window_working_days=3)
    with pytest.raises(ValidationError, match="warn_fraction"):
        ClockSettings(warn_fraction=1.0)
    with pytest.raises(ValidationError, match="dispatch_minutes"):
        ClockSettings(dispatch_minutes=0)


# --- dispatch, warning, escalation ------------------------------------------------------


def test_dispatch_clock_runs_five_minutes_from_the_first_call(settings: ClockSettings) -> None:
    clock = must(dispatch_clock(_repair(), T0 + 3 * MINUTE, settings))
    assert clock.kind is ClockKind.DISPATCH
    assert (clock.start, clock.deadline) == (T0, T0 + 5 * MINUTE)
    assert clock.state is ClockState.RUNNING
    assert clock.remaining == 2 * MINUTE
    assert clock.escalation is Escalation.NONE


def test_warning_starts_at_eighty_percent_of_the_span(settings: ClockSettings) -> None:
    order = _repair()
    assert must(dispatch_clock(order, T0 + 4 * MINUTE - SECOND, settings)).state is (
        ClockState.RUNNING
    )
    at_80 = must(dispatch_clock(order, T0 + 4 * MINUTE, settings))
    assert at_80.warn_at == T0 + 4 * MINUTE
    assert at_80.state is ClockState.WARNING
    assert at_80.escalation is Escalation.WARNING
    # the deadline instant itself is still on time
    assert must(dispatch_clock(order, T0 + 5 * MINUTE, settings)).state is ClockState.WARNING


def test_overdue_escalates_to_the_shift_lead_then_the_supervisor(settings: ClockSettings) -> None:
    order = _repair()
    just_late = must(dispatch_clock(order, T0 + 5 * MINUTE + SECOND, settings))
    assert just_late.state is ClockState.OVERDUE
    assert just_late.escalation is Escalation.SHIFT_LEAD
    assert just_late.remaining == -SECOND
    late_by_one_span = must(dispatch_clock(order, T0 + 10 * MINUTE, settings))
    assert late_by_one_span.escalation is Escalation.SHIFT_LEAD
    later = must(dispatch_clock(order, T0 + 10 * MINUTE + SECOND, settings))
    assert later.escalation is Escalation.SUPERVISOR
    assert int(later.escalation) == 3


def test_dispatch_met_or_missed_once_stopped(settings: ClockSettings) -> None:
    on_time = replace(_repair(), dispatched_at=T0 + 4 * MINUTE + 30 * SECOND)
    met = must(dispatch_clock(on_time, T0 + 2 * 60 * MINUTE, settings))
    assert met.state is ClockState.MET
    assert met.stopped_at == T0 + 4 * MINUTE + 30 * SECOND
    assert met.remaining == 30 * SECOND
    assert met.escalation is Escalation.NONE
    late = replace(_repair(), dispatched_at=T0 + 6 * MINUTE)
    missed = must(dispatch_clock(late, T0 + 2 * 60 * MINUTE, settings))
    assert missed.state is ClockState.MISSED
    assert missed.remaining == -MINUTE
    assert not missed.is_open


def test_facts_after_now_are_not_yet_known(settings: ClockSettings) -> None:
    order = replace(_repair(), dispatched_at=T0 + 4 * MINUTE)
    assert must(dispatch_clock(order, T0 + 3 * MINUTE, settings)).state is ClockState.RUNNING
    assert must(dispatch_clock(order, T0 + 4 * MINUTE, settings)).state is ClockState.MET
    assert dispatch_clock(order, T0 - MINUTE, settings) is None


# --- arrival and restoration -------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "minutes"),
    [(AreaClass.URBAN, 45), (AreaClass.RURAL, 90), (AreaClass.REMOTE, 120)],
)
def test_arrival_commitment_by_area_class(
    settings: ClockSettings, area: AreaClass, minutes: int
) -> None:
    order = replace(_repair(area), dispatched_at=T0 + 2 * MINUTE)
    deadline = T0 + minutes * MINUTE
    on_deadline = must(arrival_clock(order, deadline, settings))
    assert on_deadline.deadline == deadline
    assert on_deadline.state is ClockState.WARNING
    assert must(arrival_clock(order, deadline + SECOND, settings)).state is ClockState.OVERDUE
    arrived = replace(order, arrived_at=deadline)
    assert must(arrival_clock(arrived, deadline + SECOND, settings)).state is ClockState.MET


def test_arrival_commitment_is_configurable() -> None:
    settings = ClockSettings(arrival_rural_minutes=100)
    clock = must(arrival_clock(_repair(AreaClass.RURAL), T0, settings))
    assert clock.deadline == T0 + 100 * MINUTE


@pytest.mark.parametrize(
    ("area", "hours"), [(AreaClass.URBAN, 3), (AreaClass.RURAL, 4), (AreaClass.REMOTE, 4)]
)
def test_restoration_clock_starts_at_arrival(
    settings: ClockSettings, area: AreaClass, hours: int
) -> None:
    dispatched = replace(_repair(area), dispatched_at=T0 + 2 * MINUTE)
    assert restoration_clock(dispatched, T0 + 30 * MINUTE, settings) is None
    arrived_at = T0 + 40 * MINUTE
    on_site = replace(dispatched, arrived_at=arrived_at)
    clock = must(restoration_clock(on_site, arrived_at + MINUTE, settings))
    assert (clock.start, clock.deadline) == (arrived_at, arrived_at + timedelta(hours=hours))
    assert clock.state is ClockState.RUNNING
    deadline = arrived_at + timedelta(hours=hours)
    assert must(restoration_clock(on_site, deadline + SECOND, settings)).state is (
        ClockState.OVERDUE
    )
    repaired_late = replace(on_site, repaired_at=deadline + MINUTE)
    assert must(restoration_clock(repaired_late, deadline + MINUTE, settings)).state is (
        ClockState.MISSED
    )
    repaired = replace(on_site, repaired_at=deadline - MINUTE)
    assert must(restoration_clock(repaired, deadline + MINUTE, settings)).state is ClockState.MET


def test_remote_restoration_limit_is_configurable() -> None:
    settings = ClockSettings(restoration_remote_hours=6)
    order = replace(
        _repair(AreaClass.REMOTE), dispatched_at=T0 + MINUTE, arrived_at=T0 + 100 * MINUTE
    )
    clock = must(restoration_clock(order, T0 + 101 * MINUTE, settings))
    assert clock.deadline == T0 + 100 * MINUTE + timedelta(hours=6)


# --- complaints and reports ---------------------------------------------------------------


def complaint(
    kind: OrderKind = OrderKind.COMPLAINT, received: datetime = HOLIDAY_EVE
) -> OrderFacts:
    return OrderFacts(order_id="C1", kind=kind, first_call_at=received)


def test_complaint_answered_within_five_calendar_days(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    order = complaint()
    clock = must(reply_clock(order, HOLIDAY_EVE + MINUTE, settings, calendar))
    assert clock.kind is ClockKind.REPLY
    # calendar days: the holiday does not stop the count
    assert clock.deadline == end_of(date(2026, 10, 5))
    assert not clock.provisional
    answered = replace(order, answered_at=local(2026, 10, 5, 23, 0))
    assert must(reply_clock(answered, local(2026, 10, 9), settings, calendar)).state is (
        ClockState.MET
    )
    late = replace(order, answered_at=local(2026, 10, 6, 8, 0))
    assert must(reply_clock(late, local(2026, 10, 9), settings, calendar)).state is (
        ClockState.MISSED
    )
    assert must(reply_clock(order, clock.warn_at - SECOND, settings, calendar)).state is (
        ClockState.RUNNING
    )
    assert must(reply_clock(order, clock.warn_at, settings, calendar)).state is ClockState.WARNING


def test_complaint_days_can_be_working_days(calendar: WorkCalendar) -> None:
    settings = ClockSettings(reply_day_kind=DayKind.WORKING)
    clock = must(reply_clock(complaint(), HOLIDAY_EVE + MINUTE, settings, calendar))
    # 10-08, 10-09, 10-10 (adjusted Saturday), 10-12, 10-13
    assert clock.deadline == end_of(date(2026, 10, 13))


def test_report_answered_within_ten_days(settings: ClockSettings, calendar: WorkCalendar) -> None:
    order = complaint(OrderKind.REPORT)
    clock = must(reply_clock(order, HOLIDAY_EVE + MINUTE, settings, calendar))
    assert clock.deadline == end_of(date(2026, 10, 10))
    answered = replace(order, answered_at=local(2026, 10, 10, 18, 0))
    assert must(reply_clock(answered, local(2026, 10, 12), settings, calendar)).state is (
        ClockState.MET
    )
    overdue = must(reply_clock(order, local(2026, 10, 11, 9, 0), settings, calendar))
    assert overdue.state is ClockState.OVERDUE
    assert overdue.escalation is Escalation.SHIFT_LEAD
    # span 10-10 23:59:59.999 - 09-30 16:00 = 10 d 07:59:59.999, so twice late on 10-21 ~08:00
    assert clock.span == timedelta(days=10, hours=7, minutes=59, seconds=59, microseconds=999_000)
    before = must(reply_clock(order, local(2026, 10, 21, 7, 59), settings, calendar))
    assert before.escalation is Escalation.SHIFT_LEAD
    after = must(reply_clock(order, local(2026, 10, 21, 8, 0), settings, calendar))
    assert after.escalation is Escalation.SUPERVISOR


def test_each_kind_gets_only_its_own_clocks(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    now = HOLIDAY_EVE + MINUTE
    assert [c.kind for c in order_clocks(complaint(), now, settings, calendar)] == [ClockKind.REPLY]
    done = completed_repair()
    assert [c.kind for c in order_clocks(done, HOLIDAY_EVE + MINUTE, settings, calendar)] == [
        ClockKind.DISPATCH,
        ClockKind.ARRIVAL,
        ClockKind.RESTORATION,
        ClockKind.CALLBACK,
    ]
    no_callback = replace(done, callback_required=False)
    assert ClockKind.CALLBACK not in {
        c.kind for c in order_clocks(no_callback, now, settings, calendar)
    }


# --- callbacks --------------------------------------------------------------------------


def test_callback_due_within_one_working_day(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    order = completed_repair()
    waiting = must(callback_clock(order, local(2026, 10, 3, 12, 0), settings, calendar))
    assert waiting.deadline == end_of(date(2026, 10, 8))
    assert waiting.is_open
    overdue = must(callback_clock(order, local(2026, 10, 9, 0, 0), settings, calendar))
    assert overdue.state is ClockState.OVERDUE
    assert overdue.escalation is Escalation.SHIFT_LEAD
    reached = completed_repair(succeeded(local(2026, 10, 8, 9, 0)))
    met = must(callback_clock(reached, local(2026, 10, 8, 10, 0), settings, calendar))
    assert met.state is ClockState.MET
    assert met.deadline == end_of(date(2026, 10, 8))


def test_callback_fails_twice_and_succeeds_on_the_third_working_day(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    attempts = (
        failed(local(2026, 10, 8, 10, 0), "无人接听"),
        failed(local(2026, 10, 9, 15, 0), "关机"),
        succeeded(local(2026, 10, 10, 9, 30)),  # the adjusted working Saturday
    )
    order = completed_repair(*attempts)
    # after the second failure, past the 1-working-day deadline, the clock is not overdue:
    # the failed first attempt moved the deadline to the 3rd working day
    between = must(callback_clock(order, local(2026, 10, 9, 16, 0), settings, calendar))
    assert between.is_open
    assert between.state is not ClockState.OVERDUE
    assert between.deadline == end_of(date(2026, 10, 10))
    assert len(between.attempts) == 2
    done = must(callback_clock(order, local(2026, 10, 12, 9, 0), settings, calendar))
    assert done.state is ClockState.MET
    assert done.stopped_at == local(2026, 10, 10, 9, 30)
    assert done.attempts == attempts
    assert [a.failure_reason for a in done.attempts] == ["无人接听", "关机", None]


def test_callback_missed_when_every_attempt_fails_until_the_window_closes(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    attempts = (
        failed(local(2026, 10, 8, 10, 0), "无人接听"),
        failed(local(2026, 10, 9, 15, 0), "关机"),
        failed(local(2026, 10, 10, 11, 0), "空号"),
    )
    order = completed_repair(*attempts)
    last_evening = must(callback_clock(order, local(2026, 10, 10, 23, 0), settings, calendar))
    assert last_evening.is_open
    closed = must(callback_clock(order, local(2026, 10, 11, 0, 0), settings, calendar))
    assert closed.state is ClockState.MISSED
    assert closed.stopped_at == end_of(date(2026, 10, 10))
    assert closed.escalation is Escalation.NONE
    assert closed.attempts == attempts
    assert not dispatcher_board([order], local(2026, 10, 11, 0, 0), settings, calendar)


def test_a_late_first_attempt_does_not_extend_the_deadline(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    late_failure = completed_repair(failed(local(2026, 10, 9, 10, 0), "无人接听"))
    clock = must(callback_clock(late_failure, local(2026, 10, 9, 11, 0), settings, calendar))
    assert clock.deadline == end_of(date(2026, 10, 8))
    assert clock.state is ClockState.OVERDUE
    late_success = completed_repair(succeeded(local(2026, 10, 9, 14, 0)))
    missed = must(callback_clock(late_success, local(2026, 10, 9, 15, 0), settings, calendar))
    assert missed.state is ClockState.MISSED


def test_callback_attempts_are_recorded_completely() -> None:
    with pytest.raises(ValueError, match="failure reason"):
        CallbackAttempt(HOLIDAY_EVE, "回访", CallbackOutcome.FAILED, "  ")
    with pytest.raises(ValueError, match="no failure reason"):
        CallbackAttempt(HOLIDAY_EVE, "回访", CallbackOutcome.SUCCESS, "无人接听")
    with pytest.raises(ValueError, match="before completed_at"):
        completed_repair(succeeded(HOLIDAY_EVE - MINUTE))


# --- closing, validation, the fallback calendar -------------------------------------------


def test_closing_an_order_withdraws_or_misses_its_open_clocks(settings: ClockSettings) -> None:
    dispatched = replace(_repair(), dispatched_at=T0 + 3 * MINUTE)
    consultation = replace(dispatched, closed_at=T0 + 20 * MINUTE)  # 第二十五条
    later = T0 + 3 * 60 * MINUTE
    assert arrival_clock(consultation, later, settings) is None
    assert must(dispatch_clock(consultation, later, settings)).state is ClockState.MET
    closed_late = replace(dispatched, closed_at=T0 + 60 * MINUTE)
    missed = must(arrival_clock(closed_late, later, settings))
    assert missed.state is ClockState.MISSED
    assert missed.stopped_at == T0 + 60 * MINUTE
    # what is recorded after the order was closed does not reopen or judge the clock
    arrived_after_close = replace(consultation, arrived_at=T0 + 50 * MINUTE)
    assert arrival_clock(arrived_after_close, later, settings) is None


def test_order_facts_are_checked() -> None:
    with pytest.raises(ValueError, match="naive"):
        OrderFacts("X", OrderKind.COMPLAINT, datetime(2026, 3, 2, 10, 0))
    with pytest.raises(ValueError, match="area class"):
        OrderFacts("X", OrderKind.REPAIR, T0)
    with pytest.raises(ValueError, match="arrived_at is before dispatched_at"):
        replace(_repair(), dispatched_at=T0 + 10 * MINUTE, arrived_at=T0 + 5 * MINUTE)
    with pytest.raises(ValueError, match="before first_call_at"):
        replace(_repair(), dispatched_at=T0 - MINUTE)


def test_deadlines_in_an_uncovered_year_are_provisional(calendar: WorkCalendar) -> None:
    received = local(2099, 3, 2, 10, 0)
    working = ClockSettings(reply_day_kind=DayKind.WORKING)
    assert must(reply_clock(complaint(received=received), received, working, calendar)).provisional
    by_calendar_days = ClockSettings()
    assert not must(
        reply_clock(complaint(received=received), received, by_calendar_days, calendar)
    ).provisional
    order = completed_repair(completed=received)
    assert must(callback_clock(order, received, by_calendar_days, calendar)).provisional
    assert not must(
        callback_clock(completed_repair(), HOLIDAY_EVE, by_calendar_days, calendar)
    ).provisional


# --- the dispatcher's board ---------------------------------------------------------------


def test_board_lists_clocks_about_to_run_out_most_urgent_first(
    settings: ClockSettings, calendar: WorkCalendar
) -> None:
    now = T0 + 4 * MINUTE + 30 * SECOND
    almost_undispatched = _repair(AreaClass.URBAN, "A")  # dispatch due in 30 s
    crew_late = replace(
        _repair(AreaClass.RURAL, "B"),
        first_call_at=now - 100 * MINUTE,
        dispatched_at=now - 98 * MINUTE,
    )  # arrival overdue by 10 min
    fresh_complaint = OrderFacts("C", OrderKind.COMPLAINT, now - timedelta(days=1))
    finished = replace(
        _repair(AreaClass.URBAN, "D"),
        first_call_at=now - 4 * 60 * MINUTE,
        dispatched_at=now - 239 * MINUTE,
        arrived_at=now - 200 * MINUTE,
        repaired_at=now - 100 * MINUTE,
    )
    orders = [fresh_complaint, almost_undispatched, finished, crew_late]
    board = dispatcher_board(orders, now, settings, calendar, within=30 * MINUTE)
    assert [(c.order_id, c.kind) for c in board] == [
        ("B", ClockKind.ARRIVAL),
        ("A", ClockKind.DISPATCH),
    ]
    assert board[0].remaining == -10 * MINUTE
    assert board[0].escalation is Escalation.SHIFT_LEAD
    assert board[1].state is ClockState.WARNING
    wider = dispatcher_board(orders, now, settings, calendar, within=timedelta(hours=1))
    assert [(c.order_id, c.kind) for c in wider] == [
        ("B", ClockKind.ARRIVAL),
        ("A", ClockKind.DISPATCH),
        ("A", ClockKind.ARRIVAL),
    ]
    assert [c.remaining for c in wider] == sorted(c.remaining for c in wider)
