"""The periodic analysis (第十二条, 第十四条), the storm alert (第三十六条) and the shift
handover (第三十三条, 第三十四条).

Everything here only reads: calls, incidents, work orders with their logs, outage notices
and the layers, through SQLAlchemy, so that a report says the same on SpatiaLite and
PostGIS. The 95598 rules are not written again: every compliance figure is the outcome of
:func:`dispatch.clocks.order_clocks` on :meth:`WorkOrder.facts`, evaluated *as of* one
instant (the end of the period, or now if that is earlier), so that a report of a past
period reads the same whenever it is run. An order is seen as its log stood at that
instant (events after it are left out), like the clocks see it.

Places are named by township: the township polygon (``admin_areas`` of level
``township``) that contains a call's located position; a call that was not located, or
lies outside every township, is ``unknown``. An incident is in every township where one of
its callers, its own position or a transformer below its inferred device stands.

An incident is over when its ``restored_at`` is set or, since crews report the repair on
the work order rather than on the incident, when its repair order records ``repaired``
(修复送电) or is closed. Reliability (IEEE 1366) counts the incidents that began in the
period and were not merged into another: customers interrupted are
``incidents.affected_customers`` (the service points below the inferred device), the
duration runs from onset to that end, or to the end of the period for an incident still
open then (listed in ``reliability.open_at_end``).
"""

from __future__ import annotations

import csv
import logging
import math
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from dispatch.clocks import AreaClass, Clock, ClockKind, ClockState, order_clocks
from dispatch.config import ClockSettings
from dispatch.orders import OrderType, WorkOrder
from dispatch.store import SqlDispatchRepository, work_orders
from dispatch.workdays import LOCAL_TZ, WorkCalendar, to_local
from gis.db import json_value
from layers.grid import GridData
from layers.network import NetworkModel, UnknownElementError
from layers.store import LAYER_TABLES, load_grid
from outages.calls import Category, Source
from outages.planned import Notice, NoticeRepository
from outages.store import calls, incidents

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "UNKNOWN",
    "Compliance",
    "Geography",
    "Handover",
    "Period",
    "PeriodError",
    "Reliability",
    "ReportRules",
    "StormAlert",
    "StormSettings",
    "Summary",
    "handover",
    "parse_period",
    "run_report",
    "storm_alert",
    "summarize",
    "write_report",
]

logger = logging.getLogger(__name__)

UNKNOWN = "unknown"
"""The township of a call that was not located, or lies outside every township."""

DEFAULT_DAYS = 30
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
CATEGORY_NAMES = {
    "repair": "故障报修",
    "complaint": "投诉",
    "report": "举报",
    "consult": "咨询",
    "query": "查询",
    "new_connection": "业扩报装",
    "suggestion": "建议",
    "praise": "表扬",
}
_MERGED_STATUSES = frozenset({"merged", "known_outage"})
_CHUNK = 500


# -- settings ---------------------------------------------------------------------------------


class StormSettings(BaseSettings):
    """When the centre should add agents (第三十六条); environment ``GRIDCALL_STORM_<FIELD>``.

    A surge is judged against the centre's own recent past, so a county whose nights are
    quiet and one whose hotline is always busy both get a meaningful alert; the absolute
    threshold catches a surge that the ratio would miss after an already busy week.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDCALL_STORM_", frozen=True)

    townships: int = Field(2, ge=2, description="outages over this many townships (第三十六条)")
    planned_horizon_hours: float = Field(
        24, ge=0, description="planned outages starting within this many hours count"
    )
    incident_min_calls: int = Field(
        1, ge=1, description="open incidents with fewer calls do not count for the township span"
    )
    window_minutes: float = Field(30, gt=0, description="the recent window of the call rate")
    baseline_days: float = Field(7, gt=0, description="the past the rate is compared with")
    surge_factor: float = Field(3.0, gt=1, description="window rate over baseline rate")
    min_surge_calls: int = Field(
        10, ge=1, description="a surge needs at least this many calls in the window"
    )
    absolute_calls: int | None = Field(
        60, ge=1, description="calls in the window that raise the alert whatever the past"
    )


@dataclass(frozen=True)
class ReportRules:
    """The limits a report is judged by: the clocks' settings and calendar, the storm's."""

    clocks: ClockSettings = field(default_factory=ClockSettings)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    storm: StormSettings = field(default_factory=StormSettings)

    @classmethod
    def from_environment(cls) -> ReportRules:
        """The rules as the running service reads them (``GRIDCALL_CLOCK_*``,
        ``GRIDCALL_STORM_*``, the holidays file), so a report judges like the board."""
        clocks = ClockSettings()
        return cls(clocks, WorkCalendar.from_file(clocks.holidays_file), StormSettings())


# -- the period -------------------------------------------------------------------------------


class PeriodError(ValueError):
    """A ``--from``/``--to`` that is not a date or an ISO datetime, or an empty period."""


@dataclass(frozen=True)
class Period:
    """``start <= t < end``, both aware; a ``--to`` date includes its whole local day."""

    start: datetime
    end: datetime

    def as_of(self, now: datetime) -> datetime:
        """The instant the period is judged at: its end, or now if the end is to come
        (a clock cannot be judged on what has not happened)."""
        return min(self.end, now)


def _bound(text: str, *, end: bool) -> datetime:
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), LOCAL_TZ)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise PeriodError(
            f"{value!r} is neither a date (2026-07-01) nor an ISO datetime "
            "(2026-07-01T08:00:00+08:00)"
        ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=LOCAL_TZ)  # the centre's wall clock
    return instant + timedelta(microseconds=1) if end else instant


def parse_period(date_from: str | None, date_to: str | None, now: datetime) -> Period:
    """The period of ``--from``/``--to``: local dates (inclusive) or ISO datetimes; by
    default the last 30 days up to now."""
    end = _bound(date_to, end=True) if date_to else now
    start = _bound(date_from, end=False) if date_from else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise PeriodError(
            f"the period is empty: {start.isoformat()} is not before {end.isoformat()}"
        )
    return Period(start.astimezone(UTC), end.astimezone(UTC))


# -- places -----------------------------------------------------------------------------------


class Geography:
    """Township polygons and where network elements stand: how a report names places.

    Built from the imported layers (the app's in-memory grid, or read from the database);
    with a network model an incident also covers the townships of the transformers below
    its inferred device, which is where its customers are out.
    """

    def __init__(self, data: GridData, model: NetworkModel | None = None) -> None:
        self.data = data
        self.model = model
        admin = data.layer("admin_areas")
        names: list[str] = []
        geoms: list[Any] = []
        for name, level, geom in zip(
            admin["name"].tolist(),
            admin["level"].tolist(),
            admin["geometry"].tolist(),
            strict=True,
        ):
            if geom is not None and str(level or "").strip().lower() == "township":
                names.append(str(name))
                geoms.append(geom)
        self.township_names: tuple[str, ...] = tuple(dict.fromkeys(names))
        self._names = names
        self._tree = shapely.STRtree(np.asarray(geoms, dtype=object)) if geoms else None

    @classmethod
    def load(cls, conn: Connection, model: NetworkModel | None = None) -> Geography:
        """The townships and transformers of the last import, read on ``conn``."""
        return cls(load_grid(conn, layers=("admin_areas", "transformers")), model)

    def townships(self, points: Sequence[tuple[float | None, float | None]]) -> list[str]:
        """The township of each point (``unknown`` without a position or a township);
        where townships overlap, the first one of the layer."""
        out = [UNKNOWN] * len(points)
        known = [
            (i, float(lon), float(lat))
            for i, (lon, lat) in enumerate(points)
            if lon is not None and lat is not None and math.isfinite(lon) and math.isfinite(lat)
        ]
        if self._tree is None or not known:
            return out
        xy = np.asarray([(lon, lat) for _i, lon, lat in known], dtype=float)
        hits = self._tree.query(shapely.points(xy), predicate="intersects")
        first: dict[int, int] = {}
        for p, a in zip(hits[0].tolist(), hits[1].tolist(), strict=True):
            if p not in first or a < first[p]:
                first[p] = a
        for p, a in first.items():
            out[known[p][0]] = self._names[a]
        return out

    def element_points(self, element_ids: Iterable[str]) -> list[tuple[float, float]]:
        points = []
        for element_id in element_ids:
            hit = self.data.element_location(element_id)
            if hit is not None:
                points.append(hit)
        return points

    def device_points(self, device: str | None) -> list[tuple[float, float]]:
        """The device's own position and those of the transformers below it."""
        if not device:
            return []
        ids = [device]
        if self.model is not None:
            try:
                ids.extend(self.model.downstream_transformers(device))
            except UnknownElementError:  # a device of an earlier import
                logger.debug("device %s is not in the network model", device)
        return self.element_points(ids)

    def named(self, points: Sequence[tuple[float | None, float | None]]) -> list[str]:
        """The townships the points are in, sorted, without ``unknown``."""
        return sorted({t for t in self.townships(points) if t != UNKNOWN})


# -- reading ------------------------------------------------------------------------------------


class _Orders(SqlDispatchRepository):
    """The dispatch repository's order loader, for the selections a report makes."""

    def where(self, *conditions: ColumnElement[bool]) -> list[WorkOrder]:
        query = (
            select(work_orders)
            .where(*conditions)
            .order_by(work_orders.c.first_call_at, work_orders.c.order_id)
        )
        return self._load(query)

    def first_call_in(self, period: Period) -> list[WorkOrder]:
        c = work_orders.c
        return self.where(c.first_call_at >= period.start, c.first_call_at < period.end)

    def open_at(self, at: datetime) -> list[WorkOrder]:
        """Orders created by ``at`` and not closed by then."""
        c = work_orders.c
        return self.where(c.created_at <= at, or_(c.closed_at.is_(None), c.closed_at > at))

    def for_incidents(self, incident_ids: Sequence[str]) -> dict[str, WorkOrder]:
        out: dict[str, WorkOrder] = {}
        for i in range(0, len(incident_ids), _CHUNK):
            chunk = list(incident_ids[i : i + _CHUNK])
            for order in self.where(work_orders.c.incident_id.in_(chunk)):
                if order.incident_id is not None:
                    out[order.incident_id] = order
        return out


def as_of(order: WorkOrder, at: datetime) -> WorkOrder:
    """The order as its log stood at ``at``: later events left out, so that its status,
    crew and unit are those of that instant, as the clocks see its facts."""
    kept = tuple(e for e in order.events if e.at <= at)
    return order if len(kept) == len(order.events) else replace(order, events=kept)


def _incident_rows(conn: Connection, *conditions: ColumnElement[bool]) -> list[RowMapping]:
    query = select(incidents).where(incidents.c.merged_into.is_(None), *conditions)
    return list(conn.execute(query.order_by(incidents.c.opened_at, incidents.c.id)).mappings())


def _onset(row: RowMapping) -> datetime:
    onset: datetime | None = row["onset_at"]
    opened: datetime = row["opened_at"]
    return onset if onset is not None else opened


@dataclass(frozen=True)
class _End:
    """When an incident was over, and how that is known."""

    at: datetime | None
    source: str  # restored_at | order_repaired | order_closed | open


def _incident_end(row: RowMapping, order: WorkOrder | None, at: datetime) -> _End:
    """The first sign, by ``at``, that the incident is over."""
    signs: list[tuple[datetime, str]] = []
    restored: datetime | None = row["restored_at"]
    if restored is not None:
        signs.append((restored, "restored_at"))
    if order is not None:
        state = order.state
        if state.repaired_at is not None:
            signs.append((state.repaired_at, "order_repaired"))
        if state.closed_at is not None:
            signs.append((state.closed_at, "order_closed"))
    done = sorted((s for s in signs if s[0] <= at), key=lambda s: s[0])
    return _End(done[0][0], done[0][1]) if done else _End(None, "open")


def _members(row: RowMapping) -> list[dict[str, Any]]:
    members = json_value(row["members"]) or []
    return [m for m in members if isinstance(m, dict)]


def _member_count(row: RowMapping, at: datetime) -> int:
    count = 0
    for m in _members(row):
        try:
            when = datetime.fromisoformat(str(m.get("at")))
        except ValueError:
            count += 1
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        count += when <= at
    return count


def _incident_townships(row: RowMapping, geo: Geography) -> list[str]:
    points: list[tuple[float | None, float | None]] = [(row["lon"], row["lat"])]
    points.extend((m.get("lon"), m.get("lat")) for m in _members(row))
    points.extend(geo.device_points(row["device_id"]))
    return geo.named(points)


def _open_incidents(conn: Connection, at: datetime) -> list[tuple[RowMapping, WorkOrder | None]]:
    """Incidents not merged, opened by ``at`` and not over by then, with their orders."""
    rows = _incident_rows(
        conn,
        incidents.c.opened_at <= at,
        or_(incidents.c.restored_at.is_(None), incidents.c.restored_at > at),
    )
    orders = _Orders(conn).for_incidents([r["id"] for r in rows])
    out = []
    for row in rows:
        order = orders.get(row["id"])
        order = as_of(order, at) if order is not None else None
        if _incident_end(row, order, at).at is None:
            out.append((row, order))
    return out


def _notices_around(conn: Connection, at: datetime, horizon: timedelta) -> list[Notice]:
    """Notices published by ``at``, not cancelled by then, in effect or starting within
    ``horizon``."""
    notices = NoticeRepository(conn).list(
        ending_after=at, starting_before=at + horizon, include_cancelled=True
    )
    return [
        n
        for n in notices
        if n.published_at <= at and (n.cancelled_at is None or n.cancelled_at > at)
    ]


def _notice_townships(notice: Notice, geo: Geography) -> list[str]:
    """Where the customers the notice takes off supply are; the notice's own area names
    when the transformers are not in the layers any more."""
    found = geo.named(geo.element_points(notice.affected_transformers))
    if found:
        return found
    return sorted(set(notice.areas) & set(geo.township_names))


# -- the storm alert (第三十六条) ---------------------------------------------------------------


class StormAlert(BaseModel):
    """Whether the centre should add agents now, and why (第三十六条)."""

    at: datetime
    active: bool = Field(description="add agents: at least one reason below holds")
    reasons: list[str] = Field(description="each rule that fired, in words for the shift lead")
    townships: list[str] = Field(
        description="townships with an open incident or a planned "
        "outage in effect or starting within the horizon"
    )
    incident_townships: list[str]
    planned_townships: list[str]
    open_incidents: int
    planned_outages: list[str] = Field(description="ids of the notices counted")
    calls_in_window: int
    window_minutes: float
    baseline_calls_per_window: float = Field(
        description="the average calls per window over the baseline days before the window"
    )
    surge_ratio: float | None = Field(
        description="window calls over the baseline average; null when the baseline had no calls"
    )


def _count_calls(conn: Connection, start: datetime, end: datetime) -> int:
    query = (
        select(func.count())
        .select_from(calls)
        .where(calls.c.received_at > start, calls.c.received_at <= end)
    )
    return int(conn.execute(query).scalar_one())


def storm_alert(
    conn: Connection,
    now: datetime,
    settings: StormSettings | None = None,
    *,
    geography: Geography | None = None,
) -> StormAlert:
    """Whether and why the centre should add agents at ``now``: open incidents and planned
    outages (in effect or starting within the horizon) over two or more townships, or a
    call rate in the last window ``surge_factor`` times the average of the baseline days
    before it (with at least ``min_surge_calls`` calls), or over ``absolute_calls``."""
    s = settings or StormSettings()
    geo = geography or Geography.load(conn)
    return _storm_alert(conn, now, s, geo, _open_incidents(conn, now))


def _storm_alert(
    conn: Connection,
    now: datetime,
    s: StormSettings,
    geo: Geography,
    open_incidents: Sequence[tuple[RowMapping, WorkOrder | None]],
) -> StormAlert:
    """:func:`storm_alert` on the incidents open at ``now`` (the handover has them)."""
    reasons: list[str] = []

    counted = [
        row for row, _order in open_incidents if _member_count(row, now) >= s.incident_min_calls
    ]
    incident_towns: set[str] = set()
    for row in counted:
        incident_towns.update(_incident_townships(row, geo))
    notices = _notices_around(conn, now, timedelta(hours=s.planned_horizon_hours))
    planned_towns: set[str] = set()
    for notice in notices:
        planned_towns.update(_notice_townships(notice, geo))
    towns = sorted(incident_towns | planned_towns)
    if len(towns) >= s.townships:
        what = []
        if incident_towns:
            what.append(f"{len(counted)} open incident(s) in {', '.join(sorted(incident_towns))}")
        if planned_towns:
            what.append(f"{len(notices)} planned outage(s) in {', '.join(sorted(planned_towns))}")
        reasons.append(
            f"outages span {len(towns)} townships ({', '.join(towns)}): {'; '.join(what)}"
        )

    window = timedelta(minutes=s.window_minutes)
    in_window = _count_calls(conn, now - window, now)
    baseline_span = timedelta(days=s.baseline_days)
    before = _count_calls(conn, now - window - baseline_span, now - window)
    baseline = before * (window / baseline_span)
    ratio = in_window / baseline if baseline > 0 else None
    minutes = f"{s.window_minutes:g} min"
    if s.absolute_calls is not None and in_window >= s.absolute_calls:
        reasons.append(
            f"{in_window} calls in the last {minutes}, at or over the threshold of "
            f"{s.absolute_calls}"
        )
    elif in_window >= s.min_surge_calls and (ratio is None or ratio > s.surge_factor):
        past = f"the previous {s.baseline_days:g} days"
        reasons.append(
            f"{in_window} calls in the last {minutes}, {ratio:.1f}× the average of {past} "
            f"({baseline:.2f} per {minutes}; alert above {s.surge_factor:g}×)"
            if ratio is not None
            else f"{in_window} calls in the last {minutes}, none in {past}"
        )
    return StormAlert(
        at=to_local(now),
        active=bool(reasons),
        reasons=reasons,
        townships=towns,
        incident_townships=sorted(incident_towns),
        planned_townships=sorted(planned_towns),
        open_incidents=len(counted),
        planned_outages=[n.id for n in notices],
        calls_in_window=in_window,
        window_minutes=s.window_minutes,
        baseline_calls_per_window=round(baseline, 3),
        surge_ratio=round(ratio, 3) if ratio is not None else None,
    )


# -- the shift handover (第三十三条, 第三十四条) -------------------------------------------------


class ClockOut(BaseModel):
    kind: str = Field(description="dispatch, arrival, restoration, reply or callback")
    state: str = Field(description="running, warning, overdue, met or missed")
    start: datetime
    deadline: datetime
    remaining_minutes: float = Field(
        description="to the deadline (negative: overdue); for a stopped clock, its margin"
    )
    escalation: int = Field(description="0 none, 1 warning, 2 shift lead, 3 supervisor")
    stopped_at: datetime | None
    provisional: bool = Field(
        description="a working-day deadline in a year whose holidays are not known yet"
    )


def _clock_out(clock: Clock) -> ClockOut:
    return ClockOut(
        kind=clock.kind.value,
        state=clock.state.value,
        start=to_local(clock.start),
        deadline=to_local(clock.deadline),
        remaining_minutes=round(clock.remaining.total_seconds() / 60, 1),
        escalation=int(clock.escalation),
        stopped_at=to_local(clock.stopped_at) if clock.stopped_at else None,
        provisional=clock.provisional,
    )


class HandoverIncident(BaseModel):
    incident_id: str
    device_id: str | None = Field(description="the inferred faulted device")
    feeder: str | None
    unit_id: str | None
    area_class: str | None
    state: str
    call_count: int
    affected_customers: int | None
    onset_at: datetime
    age_minutes: float = Field(description="since onset")
    work_order_id: str | None
    order_status: str | None
    townships: list[str]


class HandoverOrder(BaseModel):
    order_id: str
    type: str
    status: str
    unit_id: str | None
    area_class: str | None
    crew_id: str | None
    department: str | None
    incident_id: str | None
    call_count: int
    first_call_at: datetime
    age_minutes: float
    next_clock: ClockOut | None = Field(description="the open clock that runs out first")
    clocks: list[ClockOut]


class HandoverTicket(BaseModel):
    order_id: str
    type: str = Field(description="complaint (5 days) or report (10 days)")
    department: str | None
    status: str
    received_at: datetime
    clock: ClockOut | None = Field(description="the reply clock and its deadline")


class HandoverCallback(BaseModel):
    order_id: str
    type: str
    completed_at: datetime | None
    attempts: int
    last_failure_reason: str | None
    clock: ClockOut


class HandoverNotice(BaseModel):
    id: str
    kind: str
    status: str = Field(description="in_effect or upcoming")
    start: datetime
    end: datetime
    reason: str | None
    areas: list[str]
    affected_service_points: int
    townships: list[str]


class Handover(BaseModel):
    """Everything open at one instant, for the incoming shift to read back (第三十四条)."""

    at: datetime
    counts: dict[str, int]
    open_incidents: list[HandoverIncident]
    open_orders: list[HandoverOrder] = Field(description="the most urgent first")
    tickets: list[HandoverTicket]
    callbacks_due: list[HandoverCallback]
    planned_outages: list[HandoverNotice]
    storm: StormAlert


def _urgency(order: HandoverOrder) -> tuple[float, datetime, str]:
    clock = order.next_clock
    return (clock.remaining_minutes if clock else math.inf, order.first_call_at, order.order_id)


def handover(
    conn: Connection,
    at: datetime,
    rules: ReportRules | None = None,
    *,
    geography: Geography | None = None,
) -> Handover:
    """What is open at ``at``: incidents, orders with their clocks (most urgent first),
    complaint and report tickets with their deadlines, callbacks due, planned outages in
    effect or upcoming, and the storm alert."""
    rules = rules or ReportRules()
    geo = geography or Geography.load(conn)
    age = _minutes_since(at)

    open_incidents = _open_incidents(conn, at)
    incident_out = []
    for row, order in open_incidents:
        onset = _onset(row)
        incident_out.append(
            HandoverIncident(
                incident_id=row["id"],
                device_id=row["device_id"],
                feeder=row["feeder"],
                unit_id=row["unit_id"],
                area_class=row["area_class"],
                state=row["state"],
                call_count=_member_count(row, at),
                affected_customers=row["affected_customers"],
                onset_at=to_local(onset),
                age_minutes=age(onset),
                work_order_id=row["work_order_id"],
                order_status=order.status.value if order is not None else None,
                townships=_incident_townships(row, geo),
            )
        )
    incident_out.sort(key=lambda i: (-i.age_minutes, i.incident_id))

    orders_out: list[HandoverOrder] = []
    tickets: list[HandoverTicket] = []
    callbacks: list[HandoverCallback] = []
    for stored in _Orders(conn).open_at(at):
        order = as_of(stored, at)
        facts = order.facts()
        clocks = order_clocks(facts, at, rules.clocks, rules.calendar) if facts else ()
        open_clocks = sorted((c for c in clocks if c.is_open), key=lambda c: c.remaining)
        state = order.state
        orders_out.append(
            HandoverOrder(
                order_id=order.order_id,
                type=order.type.value,
                status=order.status.value,
                unit_id=order.current_unit_id,
                area_class=state.area_class.value if state.area_class else None,
                crew_id=order.crew_id,
                department=state.department,
                incident_id=order.incident_id,
                call_count=len(state.call_ids),
                first_call_at=to_local(order.first_call_at),
                age_minutes=age(order.first_call_at),
                next_clock=_clock_out(open_clocks[0]) if open_clocks else None,
                clocks=[_clock_out(c) for c in clocks],
            )
        )
        by_kind = {c.kind: c for c in clocks}
        if order.type in (OrderType.COMPLAINT, OrderType.REPORT):
            reply = by_kind.get(ClockKind.REPLY)
            tickets.append(
                HandoverTicket(
                    order_id=order.order_id,
                    type=order.type.value,
                    department=state.department,
                    status=order.status.value,
                    received_at=to_local(order.first_call_at),
                    clock=_clock_out(reply) if reply else None,
                )
            )
        callback = by_kind.get(ClockKind.CALLBACK)
        if callback is not None and callback.is_open:
            failures = [a.failure_reason for a in callback.attempts if a.failure_reason]
            callbacks.append(
                HandoverCallback(
                    order_id=order.order_id,
                    type=order.type.value,
                    completed_at=to_local(state.completed_at) if state.completed_at else None,
                    attempts=len(callback.attempts),
                    last_failure_reason=failures[-1] if failures else None,
                    clock=_clock_out(callback),
                )
            )
    orders_out.sort(key=_urgency)
    tickets.sort(key=lambda t: (t.clock.remaining_minutes if t.clock else math.inf, t.order_id))
    callbacks.sort(key=lambda c: (c.clock.remaining_minutes, c.order_id))

    notices = [
        HandoverNotice(
            id=n.id,
            kind=n.kind.value,
            status=n.status(at),
            start=to_local(n.start),
            end=to_local(n.end),
            reason=n.reason,
            areas=list(n.areas),
            affected_service_points=n.affected_service_points,
            townships=_notice_townships(n, geo),
        )
        for n in _notices_around(conn, at, timedelta(days=7))
    ]
    storm = _storm_alert(conn, at, rules.storm, geo, open_incidents)
    return Handover(
        at=to_local(at),
        counts={
            "open_incidents": len(incident_out),
            "open_orders": len(orders_out),
            "overdue_clocks": sum(
                c.state == ClockState.OVERDUE.value for o in orders_out for c in o.clocks
            ),
            "tickets": len(tickets),
            "callbacks_due": len(callbacks),
            "planned_outages": len(notices),
        },
        open_incidents=incident_out,
        open_orders=orders_out,
        tickets=tickets,
        callbacks_due=callbacks,
        planned_outages=notices,
        storm=storm,
    )


def _minutes_since(at: datetime) -> Callable[[datetime], float]:
    def age(since: datetime) -> float:
        return round((at - since).total_seconds() / 60, 1)

    return age


# -- the periodic analysis (第十二条, 第十四条) ---------------------------------------------------


class Compliance(BaseModel):
    """The outcomes of one clock over the orders of the period, as of its end."""

    met: int = 0
    missed: int = 0
    overdue: int = Field(0, description="deadline passed, not stopped yet: a miss")
    pending: int = Field(0, description="still running within the limit: not judged")
    decided: int = Field(0, description="met + missed + overdue")
    rate: float | None = Field(None, description="met / decided; null when nothing decided")

    def add(self, clock: Clock | None) -> None:
        """Counts one clock; ``None`` (the clock does not apply, or was withdrawn when the
        order was closed in time) counts nowhere."""
        if clock is None:
            return
        if clock.state is ClockState.MET:
            self.met += 1
        elif clock.state is ClockState.MISSED:
            self.missed += 1
        elif clock.state is ClockState.OVERDUE:
            self.overdue += 1
        else:
            self.pending += 1
        self.decided = self.met + self.missed + self.overdue
        self.rate = round(self.met / self.decided, 4) if self.decided else None


class Reliability(BaseModel):
    """IEEE 1366 indices over the unplanned incidents that began in the period."""

    customers_served: int = Field(description="service points in the imported layers")
    incidents: int = Field(description="incidents counted (not merged into another)")
    customer_interruptions: int = Field(description="Σ customers interrupted")
    customer_minutes: float = Field(description="Σ customers interrupted × minutes")
    saidi_minutes: float | None
    saifi: float | None
    caidi_minutes: float | None
    open_at_end: list[str] = Field(
        description="incidents still open at the end of the period: counted up to it"
    )
    without_customers: list[str] = Field(
        description="incidents with no inferred device, counted with no customers"
    )
    note: str


class Summary(BaseModel):
    """``summary.json``: the periodic analysis of one period."""

    period_from: datetime
    period_to: datetime = Field(description="the end of the period (exclusive)")
    as_of: datetime = Field(description="the instant the clocks and incidents are judged at")
    timezone: str = "Asia/Shanghai"
    calls_total: int
    calls_by_category: dict[str, int]
    calls_by_source: dict[str, int]
    calls_by_township: dict[str, int] = Field(
        description="by the located position; unlocated or outside every township: unknown"
    )
    calls_by_status: dict[str, int]
    repair_calls: int
    merged_repair_calls: int = Field(description="merged or known_outage")
    repeat_merge_rate: float | None = Field(description="merged_repair_calls / repair_calls")
    orders_by_type: dict[str, int]
    repair_orders: int
    dispatch_limit_minutes: int
    dispatched_within_limit: float | None = Field(
        description="share of repair orders dispatched within the limit of the first call"
    )
    dispatch: Compliance
    arrival_compliance: dict[str, Compliance] = Field(description="urban, rural, remote, all")
    restoration_compliance: dict[str, Compliance] = Field(description="urban, rural, remote, all")
    callback_completion: Compliance = Field(
        description="completed services with a successful callback within the 第三十条 window"
    )
    complaint_reply_compliance: Compliance
    report_reply_compliance: Compliance
    saidi_minutes: float | None
    saifi: float | None
    caidi_minutes: float | None
    reliability: Reliability
    files: list[str] = Field(default_factory=list)


@dataclass
class Tables:
    """The rows of the CSV files and what the charts draw."""

    calls_by_category: list[dict[str, Any]] = field(default_factory=list)
    calls_by_source: list[dict[str, Any]] = field(default_factory=list)
    calls_by_township: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    call_times: list[tuple[datetime, str]] = field(default_factory=list)


def _share_rows(key: str, counts: Mapping[str, int]) -> list[dict[str, Any]]:
    total = sum(counts.values())
    return [
        {key: k, "calls": n, "share": round(n / total, 4) if total else 0.0}
        for k, n in counts.items()
    ]


def _ordered(counter: Counter[str], known: Iterable[str]) -> dict[str, int]:
    """Every known key (0 when absent) then the others, each group by count."""
    keys = list(dict.fromkeys(known))
    rank = {k: i for i, k in enumerate(keys)}
    out = {k: counter.get(k, 0) for k in sorted(keys, key=lambda k: (-counter.get(k, 0), rank[k]))}
    for k, n in counter.most_common():
        out.setdefault(k, n)
    return out


def _local(value: datetime | None) -> str:
    return to_local(value).isoformat() if value is not None else ""


def _customers_served(conn: Connection) -> int:
    table = LAYER_TABLES["service_points"]
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _call_stats(conn: Connection, period: Period, geo: Geography, tables: Tables) -> dict[str, Any]:
    rows = conn.execute(
        select(
            calls.c.received_at, calls.c.source, calls.c.category, calls.c.status, calls.c.location
        )
        .where(calls.c.received_at >= period.start, calls.c.received_at < period.end)
        .order_by(calls.c.received_at)
    ).all()
    points: list[tuple[float | None, float | None]] = []
    for row in rows:
        location = json_value(row.location) or {}
        points.append((location.get("lon"), location.get("lat")))
    towns = geo.townships(points)
    category = Counter(str(r.category or Category.REPAIR.value) for r in rows)
    source = Counter(str(r.source or Source.PHONE.value) for r in rows)
    status = Counter(str(r.status) for r in rows)
    township = Counter(towns)
    repair = [r for r in rows if (r.category or Category.REPAIR.value) == Category.REPAIR.value]
    merged = sum(1 for r in repair if r.status in _MERGED_STATUSES)
    tables.call_times = [(r.received_at, str(r.category or Category.REPAIR.value)) for r in rows]
    by_category = _ordered(category, [c.value for c in Category])
    by_source = _ordered(source, [s.value for s in Source])
    by_township = _ordered(township, geo.township_names)
    if not township.get(UNKNOWN):
        by_township.pop(UNKNOWN, None)
    tables.calls_by_category = _share_rows("category", by_category)
    for r in tables.calls_by_category:
        r["name"] = CATEGORY_NAMES.get(r["category"], "")
    tables.calls_by_source = _share_rows("source", by_source)
    tables.calls_by_township = _share_rows("township", by_township)
    return {
        "calls_total": len(rows),
        "calls_by_category": by_category,
        "calls_by_source": by_source,
        "calls_by_township": by_township,
        "calls_by_status": dict(status.most_common()),
        "repair_calls": len(repair),
        "merged_repair_calls": merged,
        "repeat_merge_rate": round(merged / len(repair), 4) if repair else None,
    }


_ORDER_CLOCKS = (
    ClockKind.DISPATCH,
    ClockKind.ARRIVAL,
    ClockKind.RESTORATION,
    ClockKind.REPLY,
    ClockKind.CALLBACK,
)


def _order_row(order: WorkOrder, clocks: Sequence[Clock]) -> dict[str, Any]:
    s = order.state
    row: dict[str, Any] = {
        "order_id": order.order_id,
        "type": order.type.value,
        "status": order.status.value,
        "unit_id": order.current_unit_id or "",
        "area_class": s.area_class.value if s.area_class else "",
        "crew_id": order.crew_id or "",
        "department": s.department or "",
        "incident_id": order.incident_id or "",
        "calls": len(s.call_ids),
        "first_call_at": _local(order.first_call_at),
        "dispatched_at": _local(s.dispatched_at),
        "arrived_at": _local(s.arrived_at),
        "repaired_at": _local(s.repaired_at),
        "answered_at": _local(s.answered_at),
        "closed_at": _local(s.closed_at),
    }
    by_kind = {c.kind: c for c in clocks}
    for kind in _ORDER_CLOCKS:
        clock = by_kind.get(kind)
        row[f"{kind.value}_state"] = clock.state.value if clock else ""
        row[f"{kind.value}_deadline"] = _local(clock.deadline) if clock else ""
        row[f"{kind.value}_stopped_at"] = _local(clock.stopped_at) if clock else ""
        row[f"{kind.value}_margin_minutes"] = (
            round(clock.remaining.total_seconds() / 60, 1) if clock else ""
        )
    return row


def _order_stats(
    conn: Connection, period: Period, at: datetime, rules: ReportRules, tables: Tables
) -> dict[str, Any]:
    dispatch = Compliance()
    classes = [a.value for a in AreaClass]
    arrival = {k: Compliance() for k in (*classes, "all")}
    restoration = {k: Compliance() for k in (*classes, "all")}
    callback, complaint, report = Compliance(), Compliance(), Compliance()
    by_type: Counter[str] = Counter()
    for stored in _Orders(conn).first_call_in(period):
        order = as_of(stored, at)
        by_type[order.type.value] += 1
        facts = order.facts()
        clocks = order_clocks(facts, at, rules.clocks, rules.calendar) if facts else ()
        tables.orders.append(_order_row(order, clocks))
        by_kind = {c.kind: c for c in clocks}
        if order.type is OrderType.REPAIR and facts is not None and facts.area_class:
            area = facts.area_class.value
            dispatch.add(by_kind.get(ClockKind.DISPATCH))
            for table, kind in ((arrival, ClockKind.ARRIVAL), (restoration, ClockKind.RESTORATION)):
                table[area].add(by_kind.get(kind))
                table["all"].add(by_kind.get(kind))
        elif order.type is OrderType.COMPLAINT:
            complaint.add(by_kind.get(ClockKind.REPLY))
        elif order.type is OrderType.REPORT:
            report.add(by_kind.get(ClockKind.REPLY))
        callback.add(by_kind.get(ClockKind.CALLBACK))
    return {
        "orders_by_type": _ordered(by_type, [t.value for t in OrderType]),
        "repair_orders": by_type.get(OrderType.REPAIR.value, 0),
        "dispatch_limit_minutes": rules.clocks.dispatch_minutes,
        "dispatched_within_limit": dispatch.rate,
        "dispatch": dispatch,
        "arrival_compliance": arrival,
        "restoration_compliance": restoration,
        "callback_completion": callback,
        "complaint_reply_compliance": complaint,
        "report_reply_compliance": report,
    }


def _reliability(
    conn: Connection, period: Period, at: datetime, geo: Geography, tables: Tables
) -> Reliability:
    onset = func.coalesce(incidents.c.onset_at, incidents.c.opened_at)
    rows = [
        r
        for r in _incident_rows(conn, onset >= period.start, onset < period.end)
        if _onset(r) <= at
    ]
    orders = _Orders(conn).for_incidents([r["id"] for r in rows])
    served = _customers_served(conn)
    interruptions = 0
    customer_minutes = 0.0
    open_at_end: list[str] = []
    without: list[str] = []
    for row in rows:
        order = orders.get(row["id"])
        order = as_of(order, at) if order is not None else None
        end = _incident_end(row, order, at)
        start = _onset(row)
        until = end.at if end.at is not None else at
        minutes = max((until - start).total_seconds() / 60, 0.0)
        customers = row["affected_customers"]
        if end.at is None:
            open_at_end.append(row["id"])
        if customers is None:
            without.append(row["id"])
        n = int(customers or 0)
        interruptions += n
        customer_minutes += n * minutes
        tables.incidents.append(
            {
                "incident_id": row["id"],
                "device_id": row["device_id"] or "",
                "feeder": row["feeder"] or "",
                "unit_id": row["unit_id"] or "",
                "area_class": row["area_class"] or "",
                "onset_at": _local(start),
                "end_at": _local(until),
                "end_source": end.source if end.at is not None else "period_end",
                "duration_minutes": round(minutes, 2),
                "affected_customers": n,
                "customer_minutes": round(n * minutes, 2),
                "calls": _member_count(row, at),
                "work_order_id": row["work_order_id"] or "",
                "townships": ";".join(_incident_townships(row, geo)),
            }
        )
    saidi = customer_minutes / served if served else None
    saifi = interruptions / served if served else None
    caidi = saidi / saifi if saidi is not None and saifi else None
    note = (
        "IEEE 1366 over unplanned incidents that began in the period and were not merged: "
        "customers = incidents.affected_customers; duration = onset to restored_at, else to "
        "the repair order's repaired (or closed) event, else to the end of the period"
    )
    if open_at_end:
        note += f"; {len(open_at_end)} incident(s) still open at {to_local(at):%Y-%m-%d %H:%M}"
    return Reliability(
        customers_served=served,
        incidents=len(rows),
        customer_interruptions=interruptions,
        customer_minutes=round(customer_minutes, 3),
        saidi_minutes=round(saidi, 4) if saidi is not None else None,
        saifi=round(saifi, 6) if saifi is not None else None,
        caidi_minutes=round(caidi, 4) if caidi is not None else None,
        open_at_end=open_at_end,
        without_customers=without,
        note=note,
    )


def summarize(
    conn: Connection,
    period: Period,
    rules: ReportRules | None = None,
    *,
    now: datetime | None = None,
    geography: Geography | None = None,
) -> tuple[Summary, Tables]:
    """The figures of ``summary.json`` and the rows of the tables beside it."""
    rules = rules or ReportRules()
    at = period.as_of(now or datetime.now(UTC))
    geo = geography or Geography.load(conn)
    tables = Tables()
    reliability = _reliability(conn, period, at, geo, tables)
    summary = Summary(
        period_from=to_local(period.start),
        period_to=to_local(period.end),
        as_of=to_local(at),
        **_call_stats(conn, period, geo, tables),
        **_order_stats(conn, period, at, rules, tables),
        saidi_minutes=reliability.saidi_minutes,
        saifi=reliability.saifi,
        caidi_minutes=reliability.caidi_minutes,
        reliability=reliability,
    )
    return summary, tables


# -- writing ----------------------------------------------------------------------------------


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Path:
    """UTF-8 with a byte order mark, so that Excel on a Chinese Windows reads the names."""
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


_INCIDENT_COLUMNS = (
    "incident_id",
    "device_id",
    "feeder",
    "unit_id",
    "area_class",
    "onset_at",
    "end_at",
    "end_source",
    "duration_minutes",
    "affected_customers",
    "customer_minutes",
    "calls",
    "work_order_id",
    "townships",
)
_ORDER_COLUMNS = (
    "order_id",
    "type",
    "status",
    "unit_id",
    "area_class",
    "crew_id",
    "department",
    "incident_id",
    "calls",
    "first_call_at",
    "dispatched_at",
    "arrived_at",
    "repaired_at",
    "answered_at",
    "closed_at",
    *(
        f"{k.value}_{part}"
        for k in _ORDER_CLOCKS
        for part in ("state", "deadline", "stopped_at", "margin_minutes")
    ),
)


def write_tables(out: Path, tables: Tables) -> list[Path]:
    return [
        _write_csv(
            out / "calls_by_category.csv",
            tables.calls_by_category,
            ("category", "name", "calls", "share"),
        ),
        _write_csv(
            out / "calls_by_source.csv", tables.calls_by_source, ("source", "calls", "share")
        ),
        _write_csv(
            out / "calls_by_township.csv", tables.calls_by_township, ("township", "calls", "share")
        ),
        _write_csv(out / "incidents.csv", tables.incidents, _INCIDENT_COLUMNS),
        _write_csv(out / "orders.csv", tables.orders, _ORDER_COLUMNS),
    ]


# -- charts -----------------------------------------------------------------------------------


def cjk_font() -> str | None:
    """The first installed font that has Chinese glyphs (Debian: fonts-noto-cjk)."""
    from matplotlib import font_manager

    for family in CJK_FONTS:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        return family
    return None


@dataclass
class _Charts:
    """PNG charts drawn with matplotlib's object API on the Agg canvas (no pyplot state)."""

    out: Path
    font: str | None

    @staticmethod
    def _figure(width: float, height: float) -> Any:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        return fig

    def save(self, name: str, draw: Any, width: float = 10, height: float = 5) -> Path:
        import matplotlib

        path = self.out / name
        families = [self.font, "DejaVu Sans"] if self.font else ["DejaVu Sans"]
        with (
            matplotlib.rc_context(
                {
                    "font.family": "sans-serif",
                    "font.sans-serif": families,
                    "axes.unicode_minus": False,
                }
            ),
            warnings.catch_warnings(),
        ):
            if self.font is None:  # no CJK font: the names show as boxes, and that is all
                warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
            fig = self._figure(width, height)
            draw(fig.add_subplot())
            fig.savefig(path, format="png")
        return path


def _hourly(
    call_times: Sequence[tuple[datetime, str]], period: Period, at: datetime
) -> tuple[list[datetime], dict[str, list[int]], str]:
    """Counts per hour (per day beyond two months) and category, in local time."""
    start = to_local(period.start)
    end = to_local(max(min(period.end, at), period.start + timedelta(hours=1)))
    step = timedelta(hours=1)
    if end - start > timedelta(days=62):
        step = timedelta(days=1)
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = start.replace(minute=0, second=0, microsecond=0)
    bins = max(math.ceil((end - first) / step), 1)
    edges = [first + i * step for i in range(bins)]
    counts: dict[str, list[int]] = {}
    for when, category in call_times:
        i = int((to_local(when) - first) // step)
        if 0 <= i < bins:
            counts.setdefault(category, [0] * bins)[i] += 1
    return edges, counts, "hour" if step == timedelta(hours=1) else "day"


def draw_charts(
    out: Path, summary: Summary, tables: Tables, period: Period, at: datetime
) -> list[Path]:
    charts = _Charts(out, cjk_font())
    edges, counts, unit = _hourly(tables.call_times, period, at)

    def calls_per_hour(ax: Axes) -> None:
        x = np.arange(len(edges))
        bottom = np.zeros(len(edges))
        for category in summary.calls_by_category:
            if category not in counts:
                continue
            values = np.asarray(counts[category], dtype=float)
            label = f"{CATEGORY_NAMES.get(category, category)} {category}"
            ax.bar(x, values, width=1.0, bottom=bottom, label=label, align="edge")
            bottom += values
        stride = max(len(edges) // 12, 1)
        ticks = list(range(0, len(edges), stride))
        fmt = "%m-%d %H:%M" if unit == "hour" else "%Y-%m-%d"
        ax.set_xticks(ticks, [edges[i].strftime(fmt) for i in ticks], rotation=45, ha="right")
        ax.set_xlim(0, len(edges))
        ax.set_ylabel(f"来电 calls per {unit}")
        per = "每小时" if unit == "hour" else "每日"
        ax.set_title(f"{per}来电（按类别） Calls per {unit} by category")
        if counts:
            ax.legend(loc="upper left", fontsize="small")

    def by_township(ax: Axes) -> None:
        names = list(summary.calls_by_township)[::-1]
        values = [summary.calls_by_township[n] for n in names]
        ax.barh(range(len(names)), values, color="#3b7dd8")
        ax.set_yticks(range(len(names)), [f"未定位 {n}" if n == UNKNOWN else n for n in names])
        ax.set_xlabel("来电 calls")
        ax.set_title("各乡镇来电 Calls by township")
        for i, v in enumerate(values):
            ax.text(v, i, f" {v}", va="center", fontsize="small")

    def compliance(ax: Axes) -> None:
        items: list[tuple[str, Compliance]] = [
            (f"派单 dispatch ≤{summary.dispatch_limit_minutes} min", summary.dispatch),
            *(
                (f"到达 arrival {k}", summary.arrival_compliance[k])
                for k in ("urban", "rural", "remote")
            ),
            ("修复 restoration", summary.restoration_compliance["all"]),
            ("回访 callback", summary.callback_completion),
            ("投诉答复 complaint reply", summary.complaint_reply_compliance),
            ("举报答复 report reply", summary.report_reply_compliance),
        ]
        labels = [name for name, _c in items]
        rates = [100 * c.rate if c.rate is not None else 0.0 for _n, c in items]
        colors = [
            "#2e9e5b" if (c.rate or 0) >= 0.95 else "#d8893b" if (c.rate or 0) >= 0.8 else "#c8423b"
            for _n, c in items
        ]
        y = list(range(len(items)))[::-1]
        ax.barh(y, rates, color=colors)
        ax.set_yticks(y, labels)
        ax.set_xlim(0, 112)
        ax.set_xlabel("按时完成率 % on time (met / decided)")
        ax.set_title("时限达标率 Clock compliance")
        for yi, (_name, c) in zip(y, items, strict=True):
            text = f" {100 * c.rate:.0f}% ({c.met}/{c.decided})" if c.rate is not None else " n/a"
            ax.text(
                100 * c.rate if c.rate is not None else 0, yi, text, va="center", fontsize="small"
            )

    return [
        charts.save("calls_per_hour.png", calls_per_hour, 12, 5),
        charts.save(
            "calls_by_township.png",
            by_township,
            8,
            max(3.0, 0.4 * len(summary.calls_by_township) + 1.5),
        ),
        charts.save("clock_compliance.png", compliance, 9, 5),
    ]


def write_report(
    engine: Engine,
    out: Path,
    period: Period,
    rules: ReportRules | None = None,
    *,
    now: datetime | None = None,
    model: NetworkModel | None = None,
) -> tuple[Summary, list[Path]]:
    """Writes ``summary.json``, ``handover.json`` (at the period's end), the CSV tables and
    the PNG charts into ``out``; returns the summary and the files written."""
    rules = rules or ReportRules()
    now = now or datetime.now(UTC)
    at = period.as_of(now)
    out.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn:
        geo = Geography.load(conn, model)
        summary, tables = summarize(conn, period, rules, now=now, geography=geo)
        shift = handover(conn, at, rules, geography=geo)
    files = [*write_tables(out, tables), *draw_charts(out, summary, tables, period, at)]
    handover_path = out / "handover.json"
    handover_path.write_text(shift.model_dump_json(indent=2), encoding="utf-8")
    summary_path = out / "summary.json"
    files = [summary_path, handover_path, *files]
    summary.files = [p.name for p in files]
    summary_path.write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary, files


def run_report(out_dir: str, date_from: str | None, date_to: str | None) -> int:
    """``gridcall report DIR [--from DATE] [--to DATE]`` on the configured database."""
    from api.bootstrap import database
    from api.dbadmin import upgrade
    from layers.state import load_network

    now = datetime.now(UTC)
    try:
        period = parse_period(date_from, date_to, now)
    except PeriodError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = database()
    try:
        upgrade(engine)
        # topology only (None before any import): where incidents' customers are
        model = load_network(engine, geometry=False)
        summary, files = write_report(
            engine, Path(out_dir), period, ReportRules.from_environment(), now=now, model=model
        )
    finally:
        engine.dispose()
    start, end = to_local(period.start), to_local(period.end)
    print(
        f"wrote {len(files)} files to {out_dir} for {start:%Y-%m-%d %H:%M} to "
        f"{end:%Y-%m-%d %H:%M} ({summary.calls_total} calls, {summary.repair_orders} repair "
        f"orders, SAIDI {summary.saidi_minutes} min)"
    )
    return 0
