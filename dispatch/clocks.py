"""The 95598 clocks: what is due when, and who must hear about it when it is late.

Pure functions over plain frozen dataclasses; no database, no web code. Give them an
order's facts (:class:`OrderFacts`), an instant ``now``, the limits (:class:`ClockSettings`)
and the working-day calendar, and they return one :class:`Clock` per applicable limit:

=============  ======================  ==========================  ===================
clock          applies to              starts at                   stops at
=============  ======================  ==========================  ===================
DISPATCH       repair                  first call                  dispatched
ARRIVAL        repair                  first call                  arrived on site
RESTORATION    repair                  arrived on site             repaired
REPLY          complaint, report       first call (receipt)        answered
CALLBACK       any completed service   completed                   successful callback
=============  ======================  ==========================  ===================

Arrival is counted from the call, not from dispatch: the commitment is made to the
customer, who waits from the moment they called.

Evaluation is "as of ``now``": facts timestamped after ``now`` are ignored, so the same
order can be replayed at any instant (handover reports, statistics, tests).

States: ``running``; ``warning`` once ``warn_fraction`` of the span (start to deadline) has
elapsed; ``overdue`` when the deadline has passed and the clock has not stopped; ``met`` /
``missed`` once stopped, on or before / after the deadline. A deadline is inclusive.

Escalation of an open clock: 0 none, 1 warning, 2 overdue (the shift lead, 值长, is told),
3 overdue by more than the clock's whole span again (the supervisor is told). Stopped
clocks no longer escalate; their outcome is for statistics.

Closing an order stops its clocks: a clock whose stop event had not happened when the
order was closed is withdrawn (not returned) if the order was closed on time, since the
limit no longer applies (a call reclassified as a consultation, 第二十五条), and ``missed``
if the order was closed after the deadline, so that closing an order cannot hide a miss.

The callback clock (第三十条): the first attempt is due within 1 working day after
completion. If an attempt within that day fails for the customer's sake (unreachable; the
failure reason is recorded), the deadline moves to 3 working days after completion and
further attempts may follow. A successful attempt stops the clock. The attempts end, and
the clock is ``missed``, when an attempt has been made but none succeeded by the end of
the 3-working-day window. With no attempt at all the clock stays ``overdue`` after its
deadline, escalating, until somebody calls the customer.

All instants are timezone-aware and reported in Asia/Shanghai (fixed UTC+8 since 1991, so
wall-clock arithmetic is exact).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from itertools import pairwise

from dispatch.config import ClockSettings, DayKind
from dispatch.workdays import WorkCalendar, end_of_local_day, to_local

__all__ = [
    "AreaClass",
    "CallbackAttempt",
    "CallbackOutcome",
    "Clock",
    "ClockKind",
    "ClockState",
    "Escalation",
    "OrderFacts",
    "OrderKind",
    "arrival_clock",
    "callback_clock",
    "dispatch_clock",
    "dispatcher_board",
    "order_clocks",
    "reply_clock",
    "restoration_clock",
]


class AreaClass(StrEnum):
    """The area class a repair commitment depends on."""

    URBAN = "urban"  # 城区
    RURAL = "rural"  # 农村
    REMOTE = "remote"  # 特殊边远地区


class OrderKind(StrEnum):
    REPAIR = "repair"  # 故障报修
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报


class ClockKind(StrEnum):
    DISPATCH = "dispatch"  # 派单
    ARRIVAL = "arrival"  # 到达现场
    RESTORATION = "restoration"  # 恢复送电
    REPLY = "reply"  # 答复
    CALLBACK = "callback"  # 回访


class ClockState(StrEnum):
    RUNNING = "running"
    WARNING = "warning"
    OVERDUE = "overdue"
    MET = "met"
    MISSED = "missed"

    @property
    def is_open(self) -> bool:
        """Still ticking: the dispatcher can still act on it."""
        return self in {ClockState.RUNNING, ClockState.WARNING, ClockState.OVERDUE}


class Escalation(IntEnum):
    NONE = 0
    WARNING = 1
    SHIFT_LEAD = 2  # 值长
    SUPERVISOR = 3  # 主任 / supervisor


class CallbackOutcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None:
        try:
            to_local(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class CallbackAttempt:
    """One callback attempt as 第三十条 asks it to be recorded: time, content, failure reason."""

    at: datetime
    content: str
    outcome: CallbackOutcome
    failure_reason: str | None = None

    def __post_init__(self) -> None:
        _require_aware("at", self.at)
        has_reason = bool(self.failure_reason and self.failure_reason.strip())
        if self.outcome is CallbackOutcome.FAILED and not has_reason:
            raise ValueError("a failed callback attempt must record its failure reason")
        if self.outcome is CallbackOutcome.SUCCESS and self.failure_reason is not None:
            raise ValueError("a successful callback attempt has no failure reason")


_CHAIN = ("first_call_at", "dispatched_at", "arrived_at", "repaired_at")


@dataclass(frozen=True)
class OrderFacts:
    """What is known about one work order; ``None`` means "has not happened"."""

    order_id: str
    kind: OrderKind
    first_call_at: datetime
    area_class: AreaClass | None = None
    dispatched_at: datetime | None = None
    arrived_at: datetime | None = None
    repaired_at: datetime | None = None
    answered_at: datetime | None = None
    completed_at: datetime | None = None
    closed_at: datetime | None = None
    callback_required: bool = True
    callback_attempts: tuple[CallbackAttempt, ...] = ()

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                _require_aware(field.name, value)
                if value < self.first_call_at:
                    raise ValueError(f"{field.name} is before first_call_at")
        if self.kind is OrderKind.REPAIR and self.area_class is None:
            raise ValueError("a repair order needs an area class for its arrival commitment")
        chain = [(name, getattr(self, name)) for name in _CHAIN if getattr(self, name) is not None]
        for (earlier, a), (later, b) in pairwise(chain):
            if b < a:
                raise ValueError(f"{later} is before {earlier}")
        if self.callback_attempts:
            if self.completed_at is None:
                raise ValueError("callback attempts recorded before the service was completed")
            if any(attempt.at < self.completed_at for attempt in self.callback_attempts):
                raise ValueError("a callback attempt is before completed_at")


@dataclass(frozen=True)
class Clock:
    """One time limit of one order, evaluated at an instant.

    ``remaining`` is deadline minus ``now`` for an open clock (negative once overdue) and
    deadline minus ``stopped_at`` for a stopped one (the margin; negative when missed).
    ``provisional`` marks a working-day deadline computed for a year whose holiday schedule
    is not known (see :mod:`dispatch.workdays`).
    """

    order_id: str
    order_kind: OrderKind
    kind: ClockKind
    start: datetime
    deadline: datetime
    warn_at: datetime
    state: ClockState
    remaining: timedelta
    escalation: Escalation
    stopped_at: datetime | None = None
    provisional: bool = False
    attempts: tuple[CallbackAttempt, ...] = ()

    @property
    def span(self) -> timedelta:
        return self.deadline - self.start

    @property
    def is_open(self) -> bool:
        return self.state.is_open


def _seen(instant: datetime | None, now: datetime) -> datetime | None:
    """The instant in local time if it has happened by ``now``, else ``None``."""
    if instant is None:
        return None
    local = to_local(instant)
    return local if local <= now else None


def _evaluate(
    order: OrderFacts,
    kind: ClockKind,
    start: datetime,
    deadline: datetime,
    stop: datetime | None,
    now: datetime,
    settings: ClockSettings,
    *,
    stop_can_meet: bool = True,
    provisional: bool = False,
    attempts: tuple[CallbackAttempt, ...] = (),
) -> Clock | None:
    closed = _seen(order.closed_at, now)
    if closed is not None and (stop is None or stop > closed):
        if closed <= deadline:
            return None
        stop, stop_can_meet = closed, False
    span = deadline - start
    warn_at = start + span * settings.warn_fraction
    escalation = Escalation.NONE
    if stop is not None:
        state = ClockState.MET if stop_can_meet and stop <= deadline else ClockState.MISSED
        remaining = deadline - stop
    else:
        remaining = deadline - now
        if now > deadline:
            state = ClockState.OVERDUE
            late = now - deadline
            escalation = Escalation.SUPERVISOR if late > span else Escalation.SHIFT_LEAD
        elif now >= warn_at:
            state, escalation = ClockState.WARNING, Escalation.WARNING
        else:
            state = ClockState.RUNNING
    return Clock(
        order_id=order.order_id,
        order_kind=order.kind,
        kind=kind,
        start=start,
        deadline=deadline,
        warn_at=warn_at,
        state=state,
        remaining=remaining,
        escalation=escalation,
        stopped_at=stop,
        provisional=provisional,
        attempts=attempts,
    )


def _area(order: OrderFacts) -> AreaClass:
    if order.area_class is None:  # OrderFacts refuses this for repairs; keeps mypy honest
        raise ValueError(f"order {order.order_id} has no area class")
    return order.area_class


def dispatch_clock(order: OrderFacts, now: datetime, settings: ClockSettings) -> Clock | None:
    """Work order to the repair unit within ``dispatch_minutes`` of the call (第二十三条)."""
    now = to_local(now)
    start = _seen(order.first_call_at, now)
    if order.kind is not OrderKind.REPAIR or start is None:
        return None
    deadline = start + timedelta(minutes=settings.dispatch_minutes)
    stop = _seen(order.dispatched_at, now)
    return _evaluate(order, ClockKind.DISPATCH, start, deadline, stop, now, settings)


def arrival_clock(order: OrderFacts, now: datetime, settings: ClockSettings) -> Clock | None:
    """Crew on site within the area's commitment, counted from the call."""
    now = to_local(now)
    start = _seen(order.first_call_at, now)
    if order.kind is not OrderKind.REPAIR or start is None:
        return None
    minutes = {
        AreaClass.URBAN: settings.arrival_urban_minutes,
        AreaClass.RURAL: settings.arrival_rural_minutes,
        AreaClass.REMOTE: settings.arrival_remote_minutes,
    }[_area(order)]
    deadline = start + timedelta(minutes=minutes)
    stop = _seen(order.arrived_at, now)
    return _evaluate(order, ClockKind.ARRIVAL, start, deadline, stop, now, settings)


def restoration_clock(order: OrderFacts, now: datetime, settings: ClockSettings) -> Clock | None:
    """Supply restored within the area's limit after the crew arrived."""
    now = to_local(now)
    start = _seen(order.arrived_at, now)
    if order.kind is not OrderKind.REPAIR or start is None:
        return None
    hours = {
        AreaClass.URBAN: settings.restoration_urban_hours,
        AreaClass.RURAL: settings.restoration_rural_hours,
        AreaClass.REMOTE: settings.restoration_remote_hours,
    }[_area(order)]
    deadline = start + timedelta(hours=hours)
    stop = _seen(order.repaired_at, now)
    return _evaluate(order, ClockKind.RESTORATION, start, deadline, stop, now, settings)


def reply_clock(
    order: OrderFacts, now: datetime, settings: ClockSettings, calendar: WorkCalendar
) -> Clock | None:
    """Complaint answered within 5 days, report within 10 (第二十六条).

    The deadline is the end of the N-th calendar or working day (``reply_day_kind``) after
    the day of receipt.
    """
    now = to_local(now)
    start = _seen(order.first_call_at, now)
    if start is None:
        return None
    if order.kind is OrderKind.COMPLAINT:
        days = settings.complaint_reply_days
    elif order.kind is OrderKind.REPORT:
        days = settings.report_reply_days
    else:
        return None
    provisional = False
    if settings.reply_day_kind is DayKind.WORKING:
        deadline = calendar.add_working_days(start, days)
        provisional = not calendar.are_dates_covered(start.date(), deadline.date())
    else:
        deadline = end_of_local_day(start.date() + timedelta(days=days))
    stop = _seen(order.answered_at, now)
    return _evaluate(
        order, ClockKind.REPLY, start, deadline, stop, now, settings, provisional=provisional
    )


def callback_clock(
    order: OrderFacts, now: datetime, settings: ClockSettings, calendar: WorkCalendar
) -> Clock | None:
    """Callback after completion (第三十条); see the module docstring for the rules."""
    now = to_local(now)
    start = _seen(order.completed_at, now)
    if not order.callback_required or start is None:
        return None
    first_due = calendar.add_working_days(start, settings.callback_first_working_days)
    window_end = calendar.add_working_days(start, settings.callback_window_working_days)
    attempts = tuple(
        sorted((a for a in order.callback_attempts if to_local(a.at) <= now), key=lambda a: a.at)
    )
    customer_unreachable = any(
        a.outcome is CallbackOutcome.FAILED and a.at <= first_due for a in attempts
    )
    deadline = window_end if customer_unreachable else first_due
    success = next((to_local(a.at) for a in attempts if a.outcome is CallbackOutcome.SUCCESS), None)
    gave_up: datetime | None = None
    if attempts and attempts[0].outcome is CallbackOutcome.FAILED:
        gave_up = max(window_end, to_local(attempts[0].at))
        if gave_up > now:
            gave_up = None
    stop: datetime | None
    if success is not None and (gave_up is None or success <= gave_up):
        stop, stop_can_meet = success, True
    else:
        stop, stop_can_meet = gave_up, False
    return _evaluate(
        order,
        ClockKind.CALLBACK,
        start,
        deadline,
        stop,
        now,
        settings,
        stop_can_meet=stop_can_meet,
        provisional=not calendar.are_dates_covered(start.date(), window_end.date()),
        attempts=attempts,
    )


def order_clocks(
    order: OrderFacts, now: datetime, settings: ClockSettings, calendar: WorkCalendar
) -> tuple[Clock, ...]:
    """Every clock that applies to the order at ``now``, in the order the service runs."""
    candidates = (
        dispatch_clock(order, now, settings),
        arrival_clock(order, now, settings),
        restoration_clock(order, now, settings),
        reply_clock(order, now, settings, calendar),
        callback_clock(order, now, settings, calendar),
    )
    return tuple(clock for clock in candidates if clock is not None)


def dispatcher_board(
    orders: Iterable[OrderFacts],
    now: datetime,
    settings: ClockSettings,
    calendar: WorkCalendar,
    *,
    within: timedelta = timedelta(hours=1),
) -> list[Clock]:
    """The open clocks about to run out: warning, overdue, or due within ``within``.

    Sorted by remaining time, the most overdue first, so the top line is the next thing
    the dispatcher has to act on.
    """
    board = [
        clock
        for order in orders
        for clock in order_clocks(order, now, settings, calendar)
        if clock.is_open and (clock.state is not ClockState.RUNNING or clock.remaining <= within)
    ]
    board.sort(key=lambda clock: (clock.remaining, clock.order_id, clock.kind))
    return board
