"""Repair crews (抢修队): who they are, where they are, and when they can take the next job.

Plain frozen dataclasses and pure transitions; the database keeps them (``dispatch.store``)
and the order use cases drive them (``dispatch.service``). A crew holds at most one job and
one queued job: a dispatcher may give a busy crew its next job, but never a pile of them,
because the crew's expected free time (what the nearest-crew search ranks busy crews by)
would stop meaning anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

import pandas as pd

from dispatch.routing import CrewStart

__all__ = [
    "BUSY",
    "Crew",
    "CrewState",
    "CrewStateError",
    "CrewStatus",
    "Job",
    "crews_from_layer",
]


class CrewStatus(StrEnum):
    AVAILABLE = "available"  # 待命
    DISPATCHED = "dispatched"  # 已派工
    EN_ROUTE = "en_route"  # 出发
    ON_SITE = "on_site"  # 到达现场
    OFF_DUTY = "off_duty"  # 不在岗


BUSY = frozenset({CrewStatus.DISPATCHED, CrewStatus.EN_ROUTE, CrewStatus.ON_SITE})


class CrewStateError(ValueError):
    """A crew transition that cannot happen (off duty, already two jobs, not its job)."""


@dataclass(frozen=True)
class Crew:
    """A roster entry: the ``crews`` layer's row, plus the names of its members if known."""

    crew_id: str
    unit_id: str
    name: str
    head_count: int | None = None
    members: tuple[str, ...] = ()
    base_lon: float | None = None
    base_lat: float | None = None

    @property
    def size(self) -> int | None:
        """Members on the crew: the names when given, else the layer's head count."""
        return len(self.members) if self.members else self.head_count


@dataclass(frozen=True)
class Job:
    """An order a crew works on, and where (the place it will be when done)."""

    order_id: str
    lon: float | None = None
    lat: float | None = None


@dataclass(frozen=True)
class CrewState:
    """A crew as the dispatcher sees it now."""

    crew: Crew
    status: CrewStatus = CrewStatus.AVAILABLE
    lon: float | None = None
    lat: float | None = None
    position_at: datetime | None = None
    job: Job | None = None
    next_job: Job | None = None
    free_at: datetime | None = None  # expected end of the current job
    updated_at: datetime | None = None

    @classmethod
    def at_base(cls, crew: Crew, at: datetime | None = None) -> CrewState:
        """A crew that starts its shift at its base, available."""
        return cls(crew, CrewStatus.AVAILABLE, crew.base_lon, crew.base_lat, at, updated_at=at)

    @property
    def crew_id(self) -> str:
        return self.crew.crew_id

    @property
    def unit_id(self) -> str:
        return self.crew.unit_id

    @property
    def busy(self) -> bool:
        return self.status in BUSY

    def start(self, now: datetime) -> CrewStart | None:
        """Where and after how long the crew can set out for a new job; ``None`` if it can't.

        An available crew leaves now from where it is. A busy crew with an expected free
        time leaves from its job's place when that job is done. Off duty, a busy crew whose
        free time is unknown, or one that already has a queued job, cannot be proposed.
        """
        if self.status is CrewStatus.OFF_DUTY:
            return None
        if self.status is CrewStatus.AVAILABLE:
            if self.lon is None or self.lat is None:
                return None
            return CrewStart(self.crew_id, self.lon, self.lat, 0.0, self.unit_id)
        if self.next_job is not None or self.free_at is None:
            return None
        lon, lat = self.lon, self.lat
        if self.job is not None and self.job.lon is not None and self.job.lat is not None:
            lon, lat = self.job.lon, self.job.lat
        if lon is None or lat is None:
            return None
        wait = max(0.0, (self.free_at - now).total_seconds())
        return CrewStart(self.crew_id, lon, lat, wait, self.unit_id)

    # -- transitions -----------------------------------------------------------------------

    def moved(self, lon: float, lat: float, at: datetime) -> CrewState:
        """A position report; an older report than the one held changes nothing."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise CrewStateError(f"crew {self.crew_id}: position ({lon}, {lat}) is not finite")
        if self.position_at is not None and at < self.position_at:
            return self
        return replace(self, lon=lon, lat=lat, position_at=at, updated_at=at)

    def dispatched(self, job: Job, at: datetime, free_at: datetime | None) -> CrewState:
        """Given a job: taken at once when available, queued behind the current one if busy."""
        if self.status is CrewStatus.OFF_DUTY:
            raise CrewStateError(f"crew {self.crew_id} is off duty")
        if self.job is not None and self.job.order_id == job.order_id:
            return self
        if self.status is CrewStatus.AVAILABLE:
            return replace(
                self, status=CrewStatus.DISPATCHED, job=job, free_at=free_at, updated_at=at
            )
        if self.next_job is not None and self.next_job.order_id != job.order_id:
            raise CrewStateError(
                f"crew {self.crew_id} already has a queued job ({self.next_job.order_id})"
            )
        return replace(self, next_job=job, updated_at=at)

    def departed(self, order_id: str, at: datetime) -> CrewState:
        self._require_job(order_id)
        return replace(self, status=CrewStatus.EN_ROUTE, updated_at=at)

    def arrived(self, order_id: str, at: datetime, free_at: datetime | None) -> CrewState:
        self._require_job(order_id)
        job = self.job
        assert job is not None  # _require_job checked it
        lon = job.lon if job.lon is not None else self.lon
        lat = job.lat if job.lat is not None else self.lat
        return replace(
            self,
            status=CrewStatus.ON_SITE,
            free_at=free_at,
            lon=lon,
            lat=lat,
            position_at=at if job.lon is not None else self.position_at,
            updated_at=at,
        )

    def released(self, order_id: str, at: datetime) -> CrewState:
        """The job is done, cancelled or taken away; the queued job, if any, comes next."""
        if self.next_job is not None and self.next_job.order_id == order_id:
            return replace(self, next_job=None, updated_at=at)
        if self.job is None or self.job.order_id != order_id:
            return self
        lon, lat, position_at = self.lon, self.lat, self.position_at
        if self.status is CrewStatus.ON_SITE and self.job.lon is not None:
            lon, lat, position_at = self.job.lon, self.job.lat, at
        return replace(
            self,
            status=CrewStatus.AVAILABLE if self.next_job is None else CrewStatus.DISPATCHED,
            job=self.next_job,
            next_job=None,
            free_at=None,
            lon=lon,
            lat=lat,
            position_at=position_at,
            updated_at=at,
        )

    def off_duty(self, at: datetime) -> CrewState:
        if self.busy or self.next_job is not None:
            raise CrewStateError(
                f"crew {self.crew_id} is on order {self.job.order_id if self.job else '?'}: "
                "reassign it first"
            )
        return replace(self, status=CrewStatus.OFF_DUTY, updated_at=at)

    def on_duty(self, at: datetime) -> CrewState:
        if self.status is not CrewStatus.OFF_DUTY:
            return self
        return replace(self, status=CrewStatus.AVAILABLE, updated_at=at)

    def with_members(self, members: tuple[str, ...], at: datetime) -> CrewState:
        return replace(self, crew=replace(self.crew, members=members), updated_at=at)

    def _require_job(self, order_id: str) -> None:
        if self.job is None or self.job.order_id != order_id:
            current = self.job.order_id if self.job else "none"
            raise CrewStateError(
                f"crew {self.crew_id} is not working on order {order_id} (current: {current})"
            )


def _head_count(value: object) -> int | None:
    if value is None:
        return None
    try:
        number = float(str(value))
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number >= 0 else None


def crews_from_layer(crews: pd.DataFrame) -> list[Crew]:
    """The roster from the ``crews`` layer (id, unit_id, name, members as a head count)."""
    out: list[Crew] = []
    members = crews["members"].tolist() if "members" in crews else [None] * len(crews)
    for crew_id, unit_id, name, count, geom in zip(
        crews["id"].tolist(),
        crews["unit_id"].tolist(),
        crews["name"].tolist(),
        members,
        crews["geometry"].tolist(),
        strict=True,
    ):
        lon = float(geom.x) if geom is not None else None
        lat = float(geom.y) if geom is not None else None
        out.append(
            Crew(str(crew_id), str(unit_id), str(name or crew_id), _head_count(count), (), lon, lat)
        )
    return out
