"""Planned and temporary outage notices (article 31): what a switching order takes off supply.

A notice opens some switches for a window. What it affects is computed from the network,
never typed in: the transformers and service points that are energised in the normal
state and not with those switches open, the townships and villages they stand in, and an
outline of the area for the map (buffers of the dead customers, transformers and lines in a
metric frame, merged and simplified). The rules of the notice itself are here too: a
*planned* outage is published at least 7 days ahead or says why not; a temporary one need
not be.

The top of this module is plain Python over the network model and shapely. The notice table
adapter (:class:`NoticeRepository`) is at the bottom, on a connection the caller owns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from dispatch.workdays import LOCAL_TZ
from gis.db import json_value
from layers.grid import GridData
from layers.network import LV_LINE, MV_LINE, NetworkModel
from outages.store import planned_outages

NOTICE_DAYS = 7
NoticeStatus = Literal["upcoming", "in_effect", "over", "cancelled"]
IntArray = npt.NDArray[np.int64]


class NoticeKind(StrEnum):
    PLANNED = "planned"  # 计划停电: published 7 days ahead (article 31)
    TEMPORARY = "temporary"  # 临时停电: no notice period


# -- errors: every one is a notice that cannot be published as asked (HTTP 422) --------------


class NoticeError(ValueError):
    """A notice that cannot be published as asked."""


class UnknownSwitchesError(NoticeError):
    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__(list(ids))
        self.ids = list(ids)

    def __str__(self) -> str:
        return "unknown switch id(s): " + ", ".join(self.ids)


class NoticeWindowError(NoticeError):
    """The window is empty, reversed or already over."""


class LateNoticeError(NoticeError):
    """A planned outage published less than 7 days ahead without a reason."""


class NoticeStateError(ValueError):
    """The notice cannot change that way (cancelling one that is over): HTTP 409."""


class UnknownNoticeError(KeyError):
    def __str__(self) -> str:
        return f"no outage notice {self.args[0]!r}"


# -- the rules of a notice ----------------------------------------------------------------------


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise NoticeWindowError(f"{what} needs a UTC offset, e.g. 2026-07-01T08:00:00+08:00")
    return value.astimezone(UTC)


def check_notice(
    kind: NoticeKind,
    start: datetime,
    end: datetime,
    published_at: datetime,
    late_reason: str | None,
) -> None:
    """Article 31: a planned outage is published at least 7 days before it starts, unless a
    reason for the short notice is recorded; a temporary outage needs no notice period. A
    window must end after it starts, and after now unless a reason is recorded: a notice of
    the past informs nobody, but an outage entered after the fact (补录) belongs in the
    records, and calls about it replayed later are answered from it."""
    start = _aware(start, "start")
    end = _aware(end, "end")
    published_at = _aware(published_at, "published_at")
    if end <= start:
        raise NoticeWindowError(
            f"the window ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    if end <= published_at and not (late_reason and late_reason.strip()):
        raise NoticeWindowError(
            f"the window ended at {end.isoformat()}, before publication: give late_reason "
            "to enter a past outage after the fact"
        )
    short = start - published_at < timedelta(days=NOTICE_DAYS)
    if kind is NoticeKind.PLANNED and short and not (late_reason and late_reason.strip()):
        days = (start - published_at).total_seconds() / 86400
        raise LateNoticeError(
            f"a planned outage must be published {NOTICE_DAYS} days ahead (article 31); "
            f"this one starts in {max(days, 0):.1f} days: give late_reason, or publish it "
            "as a temporary outage"
        )


# -- where an outage is ---------------------------------------------------------------------


@dataclass(frozen=True)
class AdminArea:
    id: str
    name: str
    level: str
    parent_id: str | None


class AdminAreas:
    """Township and village polygons, to name the places an outage touches."""

    LEVELS = ("township", "village")

    def __init__(self, data: GridData) -> None:
        frame = data.layer("admin_areas")
        self.areas: list[AdminArea] = []
        geoms: list[Any] = []
        for row in frame.itertuples(index=False):
            geom = getattr(row, "geometry", None)
            level = str(getattr(row, "level", "") or "")
            if geom is None or level not in self.LEVELS:
                continue
            parent = getattr(row, "parent_id", None)
            self.areas.append(
                AdminArea(str(row.id), str(row.name), level, str(parent) if parent else None)
            )
            geoms.append(geom)
        self.geoms = np.asarray(geoms, dtype=object)
        self._tree = shapely.STRtree(self.geoms) if len(self.geoms) else None
        self.by_id = {a.id: i for i, a in enumerate(self.areas)}

    def __len__(self) -> int:
        return len(self.areas)

    def containing(self, lon: Sequence[float], lat: Sequence[float]) -> list[list[int]]:
        """For each point, the indexes of the areas that contain it."""
        out: list[list[int]] = [[] for _ in range(len(lon))]
        if self._tree is None or not len(lon):
            return out
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        pairs = self._tree.query(points, predicate="intersects")
        for p, a in zip(pairs[0].tolist(), pairs[1].tolist(), strict=True):
            out[p].append(a)
        return out

    def names_for(self, lon: Sequence[float], lat: Sequence[float]) -> list[str]:
        """Township and village names over the points: each township, then its villages."""
        towns: dict[str, set[str]] = {}
        loose_villages: set[str] = set()
        for hits in self.containing(lon, lat):
            town = next((self.areas[i] for i in hits if self.areas[i].level == "township"), None)
            villages = [self.areas[i] for i in hits if self.areas[i].level == "village"]
            if town is not None:
                towns.setdefault(town.name, set()).update(v.name for v in villages)
            else:
                loose_villages.update(v.name for v in villages)
        out: list[str] = []
        for town_name in sorted(towns):
            out.append(town_name)
            out.extend(sorted(towns[town_name]))
        out.extend(sorted(v for v in loose_villages if v not in out))
        return out

    def matching(self, text: str) -> list[int]:
        """Areas a customer means by a name: the exact name, the name without its 镇/乡/村
        suffix, or a township name followed by one of its villages (谷营镇李庄村)."""
        key = text.strip().replace(" ", "")
        if not key:
            return []
        exact = [i for i, a in enumerate(self.areas) if a.name == key]
        if exact:
            return exact
        for i, town in enumerate(self.areas):
            if town.level == "township" and key.startswith(town.name) and len(key) > len(town.name):
                rest = key[len(town.name) :]
                hits = [
                    j
                    for j, a in enumerate(self.areas)
                    if a.level == "village"
                    and a.name in (rest, rest + "村")
                    and (a.parent_id == town.id or self._inside(j, i))
                ]
                if hits:
                    return hits
        return [
            i
            for i, a in enumerate(self.areas)
            if a.name.rstrip("镇乡村") == key.rstrip("镇乡村") and len(key) >= 2
        ]

    def _inside(self, inner: int, outer: int) -> bool:
        return bool(shapely.contains(self.geoms[outer], self.geoms[inner].representative_point()))


@dataclass
class AreaShapes:
    """Outlines of affected areas, built in the grid's metric frame."""

    data: GridData
    point_buffer_m: float = 40.0
    line_buffer_m: float = 25.0
    simplify_m: float = 5.0
    _local: dict[str, npt.NDArray[np.object_]] = field(default_factory=dict, repr=False)

    def _layer(self, name: str) -> npt.NDArray[np.object_]:
        """The layer's geometries in metres, made once."""
        if name not in self._local:
            geoms = np.asarray(self.data.layer(name)["geometry"].to_numpy(), dtype=object)
            frame = self.data.frame

            def forward(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
                x, y = frame.forward(xy[:, 0], xy[:, 1])
                return np.column_stack([x, y])

            self._local[name] = np.asarray(shapely.transform(geoms, forward), dtype=object)
        return self._local[name]

    def outline(
        self,
        service_point_rows: Iterable[int],
        transformer_rows: Iterable[int],
        mv_line_rows: Iterable[int] = (),
        lv_line_rows: Iterable[int] = (),
    ) -> dict[str, Any] | None:
        """A GeoJSON geometry (WGS84) around the given rows, or None when there is none."""
        parts: list[Any] = []
        for name, rows, radius in (
            ("service_points", service_point_rows, self.point_buffer_m),
            ("transformers", transformer_rows, self.point_buffer_m),
            ("mv_lines", mv_line_rows, self.line_buffer_m),
            ("lv_lines", lv_line_rows, self.line_buffer_m),
        ):
            idx = np.asarray(list(rows), dtype=np.int64)
            if not len(idx):
                continue
            geoms = self._layer(name)[idx]
            geoms = geoms[[g is not None for g in geoms]]
            if len(geoms):
                parts.append(shapely.buffer(geoms, radius, quad_segs=4))
        if not parts:
            return None
        merged = shapely.union_all(np.concatenate(parts))
        merged = shapely.simplify(merged, self.simplify_m, preserve_topology=True)
        frame = self.data.frame

        def inverse(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            lon, lat = frame.inverse(xy[:, 0], xy[:, 1])
            return np.asarray(np.round(np.column_stack([lon, lat]), 6), dtype=np.float64)

        wgs84 = shapely.make_valid(shapely.transform(merged, inverse))
        if wgs84.is_empty:
            return None
        geojson: dict[str, Any] = json.loads(shapely.to_geojson(wgs84))
        return geojson


@dataclass(frozen=True)
class Impact:
    """What an outage takes off supply."""

    transformers: tuple[str, ...]
    service_points: int
    areas: tuple[str, ...]
    area: dict[str, Any] | None
    already_open: tuple[str, ...] = ()


class OutagePlanner:
    """Computes the impact of opening switches, on one network model (built once)."""

    def __init__(self, model: NetworkModel) -> None:
        self.model = model
        self.data = model.data
        self.admin = AdminAreas(self.data)
        self.shapes = AreaShapes(self.data)
        self._transformer_row = {
            str(t): i for i, t in enumerate(self.data.layer("transformers")["id"].tolist())
        }

    def check_switches(self, switch_ids: Sequence[str]) -> list[str]:
        """The switch ids in order without repeats; :class:`UnknownSwitchesError` naming every
        id that is not a switch."""
        unique = list(dict.fromkeys(s.strip() for s in switch_ids if s and s.strip()))
        if not unique:
            raise UnknownSwitchesError(["(none given)"])
        unknown = [s for s in unique if s not in self.model.switch_kind]
        if unknown:
            raise UnknownSwitchesError(unknown)
        return unique

    def impact(self, switch_ids: Sequence[str]) -> Impact:
        ids = self.check_switches(switch_ids)
        before = self.model
        after = before.with_switch_states(dict.fromkeys(ids, "open"))
        already_open = tuple(
            s for s in ids if before.switch_states.get(s, before.normal_state[s]) == "open"
        )
        transformers = [
            t
            for t in before.transformer_ids
            if before.is_energised(t) and not after.is_energised(t)
        ]
        sp_dead = before.energised[before.sp_node] & ~after.energised[after.sp_node]
        sp_rows = np.flatnonzero(sp_dead)
        u, v = before.edge_u, before.edge_v
        line_dead = (
            before.energised[u] & before.energised[v] & ~after.energised[u] & ~after.energised[v]
        )
        mv_rows = before.edge_row[line_dead & (before.edge_kind == MV_LINE)]
        lv_rows = before.edge_row[line_dead & (before.edge_kind == LV_LINE)]
        return Impact(
            transformers=tuple(transformers),
            service_points=len(sp_rows),
            areas=tuple(self.area_names(transformers)),
            area=self.shapes.outline(
                sp_rows.tolist(),
                self.transformer_rows(transformers),
                mv_rows.tolist(),
                lv_rows.tolist(),
            ),
            already_open=already_open,
        )

    def area_names(self, transformer_ids: Sequence[str]) -> list[str]:
        lon: list[float] = []
        lat: list[float] = []
        for t in transformer_ids:
            hit = self.data.element_location(t)
            if hit is not None:
                lon.append(hit[0])
                lat.append(hit[1])
        return self.admin.names_for(lon, lat)

    def transformer_rows(self, transformer_ids: Iterable[str]) -> list[int]:
        return [self._transformer_row[t] for t in transformer_ids if t in self._transformer_row]


# -- notices in the database ------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    id: str
    kind: NoticeKind
    switch_ids: tuple[str, ...]
    start: datetime
    end: datetime
    reason: str | None
    late_reason: str | None
    published_at: datetime
    published_by: str | None
    cancelled_at: datetime | None
    affected_transformers: tuple[str, ...]
    affected_service_points: int
    areas: tuple[str, ...]
    area: dict[str, Any] | None

    def status(self, now: datetime) -> NoticeStatus:
        if self.cancelled_at is not None:
            return "cancelled"
        if now < self.start:
            return "upcoming"
        if now <= self.end:
            return "in_effect"
        return "over"


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime, whichever offset the database read it back
    with (none on SQLite, the session's on PostgreSQL)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _notice(row: RowMapping) -> Notice:
    start, end = as_utc(row["start"]), as_utc(row["end"])
    published = as_utc(row["published_at"])
    assert start is not None and end is not None and published is not None
    return Notice(
        id=str(row["id"]),
        kind=NoticeKind(str(row["kind"])),
        switch_ids=tuple(json_value(row["switch_ids"]) or ()),
        start=start,
        end=end,
        reason=row["reason"],
        late_reason=row["late_reason"],
        published_at=published,
        published_by=row["published_by"],
        cancelled_at=as_utc(row["cancelled_at"]),
        affected_transformers=tuple(json_value(row["affected_transformers"]) or ()),
        affected_service_points=int(row["affected_service_points"]),
        areas=tuple(json_value(row["areas"]) or ()),
        area=json_value(row["area_geojson"]),
    )


class NoticeRepository:
    """The ``planned_outages`` table, on the caller's connection and transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def next_id(self, published_at: datetime) -> str:
        """PO + the local date + a number: short enough to read out on the phone."""
        stem = f"PO{published_at.astimezone(LOCAL_TZ):%Y%m%d}"
        count = self.conn.execute(
            select(func.count())
            .select_from(planned_outages)
            .where(planned_outages.c.id.like(f"{stem}%"))
        ).scalar_one()
        return f"{stem}{int(count) + 1:03d}"

    def add(
        self,
        *,
        kind: NoticeKind,
        switch_ids: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str | None,
        late_reason: str | None,
        published_at: datetime,
        published_by: str | None,
        impact: Impact,
    ) -> Notice:
        values = {
            "kind": kind.value,
            "switch_ids": list(switch_ids),
            "start": start.astimezone(UTC),
            "end": end.astimezone(UTC),
            "reason": reason,
            "late_reason": late_reason,
            "published_at": published_at.astimezone(UTC),
            "published_by": published_by,
            "cancelled_at": None,
            "affected_transformers": list(impact.transformers),
            "affected_service_points": impact.service_points,
            "areas": list(impact.areas),
            "area_geojson": impact.area,
        }
        for attempt in range(20):
            notice_id = self.next_id(published_at)
            if attempt:
                notice_id = f"{notice_id[:-3]}{int(notice_id[-3:]) + attempt:03d}"
            try:
                with self.conn.begin_nested():
                    self.conn.execute(planned_outages.insert().values(id=notice_id, **values))
            except IntegrityError:  # another process took the number: take the next one
                continue
            found = self.get(notice_id)
            assert found is not None
            return found
        raise RuntimeError("could not number the notice")  # pragma: no cover

    def get(self, notice_id: str) -> Notice | None:
        row = (
            self.conn.execute(select(planned_outages).where(planned_outages.c.id == notice_id))
            .mappings()
            .first()
        )
        return _notice(row) if row is not None else None

    def list(
        self,
        *,
        ending_after: datetime | None = None,
        starting_before: datetime | None = None,
        include_cancelled: bool = False,
    ) -> list[Notice]:
        query = select(planned_outages).order_by(planned_outages.c.start, planned_outages.c.id)
        if ending_after is not None:
            query = query.where(planned_outages.c.end >= ending_after.astimezone(UTC))
        if starting_before is not None:
            query = query.where(planned_outages.c.start <= starting_before.astimezone(UTC))
        if not include_cancelled:
            query = query.where(planned_outages.c.cancelled_at.is_(None))
        return [_notice(r) for r in self.conn.execute(query).mappings()]

    def cancel(self, notice_id: str, at: datetime) -> Notice:
        """Marks a notice cancelled (it stays on record); cancelling twice changes nothing."""
        notice = self.get(notice_id)
        if notice is None:
            raise UnknownNoticeError(notice_id)
        if notice.cancelled_at is not None:
            return notice
        if notice.end < at:
            raise NoticeStateError(f"notice {notice_id} ended at {notice.end.isoformat()}")
        self.conn.execute(
            update(planned_outages)
            .where(planned_outages.c.id == notice_id)
            .values(cancelled_at=at.astimezone(UTC))
        )
        cancelled = self.get(notice_id)
        assert cancelled is not None
        return cancelled
