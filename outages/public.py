"""The customers' outage query (article 31): is there an outage at my place, why, and until when.

A place is a position (a phone's or a click on the map), a customer account (户号) or a
township or village name. The answer lists the outages affecting it now or within the next
days: published notices (planned and temporary) and open fault incidents, whose area is
everything downstream of the incident's inferred device. Nothing about any customer is in
an answer: no name, phone, account number or address, only the cause, the times, the
township and village names and an outline of the area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from scipy.spatial import cKDTree
from sqlalchemy import Connection, select

from dispatch.config import ClockSettings
from gis.crs import gcj02_to_wgs84
from layers.network import UnknownElementError
from outages.locate.locator import normalise_account
from outages.planned import Notice, NoticeKind, NoticeRepository, OutagePlanner, as_utc
from outages.store import incidents

OutageKind = Literal["planned", "temporary", "fault"]
OutageStatus = Literal["in_effect", "upcoming"]
FAULT_CAUSE = "故障停电"
DEVICE_NAMES = {
    "breaker": "断路器",
    "recloser": "重合器",
    "fuse": "熔断器",
    "sectionalizer": "分段器",
    "load_break_switch": "负荷开关",
    "disconnector": "隔离开关",
    "transformer": "配电变压器",
}
NOTICE_CAUSES = {"planned": "计划停电", "temporary": "临时停电"}


class PublicSettings(BaseSettings):
    """What the public query promises; environment ``GRIDCALL_PUBLIC_<FIELD>``.

    A fault's estimated restoration is its onset plus a typical duration for the area class.
    Unset, that is the arrival commitment plus the restoration limit of the dispatch clocks
    (``GRIDCALL_CLOCK_*``), so customers are told what the crews are held to.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDCALL_PUBLIC_", extra="ignore", frozen=True)

    horizon_days: int = Field(7, ge=1, description="how far ahead notices are listed")
    restoration_urban_minutes: float | None = Field(None, gt=0)
    restoration_rural_minutes: float | None = Field(None, gt=0)
    restoration_remote_minutes: float | None = Field(None, gt=0)
    nearby_m: float = Field(
        150.0, gt=0, description="a position belongs to the nearest customer this close"
    )
    service_area_m: float = Field(
        3000.0,
        gt=0,
        description="positions farther from every customer and transformer are "
        "outside the service area",
    )
    min_calls: int = Field(1, ge=1, description="calls before a fault is shown to the public")

    def restoration(self, area_class: str | None, clocks: ClockSettings) -> timedelta:
        klass = area_class if area_class in ("urban", "rural", "remote") else "rural"
        configured: float | None = getattr(self, f"restoration_{klass}_minutes")
        if configured is not None:
            return timedelta(minutes=configured)
        arrival = float(getattr(clocks, f"arrival_{klass}_minutes"))
        repair = float(getattr(clocks, f"restoration_{klass}_hours")) * 60.0
        return timedelta(minutes=arrival + repair)


class UnknownAccountError(KeyError):
    def __str__(self) -> str:
        return "未找到该户号，请核对后重试 (no such customer account)"


class UnknownAreaError(KeyError):
    def __str__(self) -> str:
        return f"未找到名为“{self.args[0]}”的乡镇或村 (no township or village of that name)"


@dataclass(frozen=True)
class OutageView:
    """One outage as the public sees it. ``transformers`` is for matching, never shown."""

    id: str
    kind: OutageKind
    status: OutageStatus
    cause: str
    device_kind: str | None
    start: datetime
    estimated_restoration: datetime | None
    areas: tuple[str, ...]
    area: dict[str, Any] | None
    affected_customers: int
    transformers: frozenset[str]
    shape: Any  # shapely geometry of ``area``, or None


@dataclass(frozen=True)
class PublicAnswer:
    outages: list[OutageView]
    message: str
    in_service_area: bool = True


@dataclass(frozen=True)
class _Place:
    """Where the customer asks about: the transformers that supply it and, for a position,
    the point (an outage whose outline covers it affects it too)."""

    transformers: frozenset[str]
    point: tuple[float, float] | None = None


class PublicOutages:
    """Answers public queries from the network model (built once) and the database."""

    def __init__(
        self,
        planner: OutagePlanner,
        settings: PublicSettings | None = None,
        clocks: ClockSettings | None = None,
    ) -> None:
        self.planner = planner
        self.model = planner.model
        self.data = planner.data
        self.settings = settings or PublicSettings()
        self.clocks = clocks or ClockSettings()
        sps = self.data.layer("service_points")
        self._sp_transformer = [str(t) if t else "" for t in sps["transformer_id"].tolist()]
        self._accounts: dict[str, int] = {}
        for row, account in enumerate(sps["account_no"].tolist()):
            if account:
                self._accounts.setdefault(normalise_account(str(account)), row)
        self._frame = self.data.frame
        self._sp_tree = self._tree(sps["geometry"].tolist())
        trs = self.data.layer("transformers")
        self._network_tree = self._tree(sps["geometry"].tolist() + trs["geometry"].tolist())
        tr_geoms = [
            (str(t), g)
            for t, g in zip(trs["id"].tolist(), trs["geometry"].tolist(), strict=True)
            if g is not None
        ]
        self._transformer_ids = [t for t, _g in tr_geoms]
        self._transformer_tree = shapely.STRtree([g for _t, g in tr_geoms])
        self._incident_cache: dict[str, tuple[frozenset[str], tuple[str, ...], Any, Any, int]] = {}
        self._notice_shapes: dict[str, Any] = {}

    def _tree(self, geoms: list[Any]) -> cKDTree | None:
        pts = [(g.x, g.y) for g in geoms if g is not None and not g.is_empty]
        if not pts:
            return None
        arr = np.asarray(pts, dtype=float)
        x, y = self._frame.forward(arr[:, 0], arr[:, 1])
        return cKDTree(np.column_stack([x, y]))

    # -- the outages ---------------------------------------------------------------------

    def current(self, conn: Connection, now: datetime) -> list[OutageView]:
        """Every outage in effect now or starting within the horizon."""
        horizon = now + timedelta(days=self.settings.horizon_days)
        notices = NoticeRepository(conn).list(ending_after=now, starting_before=horizon)
        out = [self._notice_view(n, now) for n in notices]
        out.extend(self._incident_views(conn, now))
        out.sort(key=lambda o: (o.start, o.id))
        return out

    def _notice_view(self, notice: Notice, now: datetime) -> OutageView:
        shape = self._notice_shapes.get(notice.id)
        if shape is None and notice.area is not None:
            shape = shapely.from_geojson(json.dumps(notice.area))
            self._notice_shapes[notice.id] = shape
        return OutageView(
            id=notice.id,
            kind="planned" if notice.kind is NoticeKind.PLANNED else "temporary",
            status="upcoming" if now < notice.start else "in_effect",
            cause=notice.reason or NOTICE_CAUSES[notice.kind.value],
            device_kind=None,
            start=notice.start,
            estimated_restoration=notice.end,
            areas=notice.areas,
            area=notice.area,
            affected_customers=notice.affected_service_points,
            transformers=frozenset(notice.affected_transformers),
            shape=shape,
        )

    def _incident_views(self, conn: Connection, now: datetime) -> list[OutageView]:
        rows = conn.execute(
            select(
                incidents.c.id,
                incidents.c.device_id,
                incidents.c.onset_at,
                incidents.c.opened_at,
                incidents.c.area_class,
                incidents.c.call_count,
            ).where(
                incidents.c.merged_into.is_(None),
                incidents.c.restored_at.is_(None),
                incidents.c.state.notin_(("merged", "restored")),
                incidents.c.device_id.is_not(None),
                incidents.c.call_count >= self.settings.min_calls,
            )
        ).mappings()
        out: list[OutageView] = []
        for r in rows:
            device = str(r["device_id"])
            extent = self._incident_extent(device)
            if extent is None:
                continue
            transformers, areas, area, shape, customers = extent
            onset = as_utc(r["onset_at"]) or as_utc(r["opened_at"])
            assert onset is not None
            estimate: datetime | None = onset + self.settings.restoration(
                r["area_class"], self.clocks
            )
            if estimate is not None and estimate < now:
                estimate = None  # overdue: better no time than one already past
            kind = self._device_kind(device)
            name = DEVICE_NAMES.get(kind or "", "")
            out.append(
                OutageView(
                    id=str(r["id"]),
                    kind="fault",
                    status="in_effect",
                    cause=f"{FAULT_CAUSE}（{name}）" if name else FAULT_CAUSE,
                    device_kind=kind,
                    start=onset,
                    estimated_restoration=estimate,
                    areas=areas,
                    area=area,
                    affected_customers=customers,
                    transformers=transformers,
                    shape=shape,
                )
            )
        return out

    def _device_kind(self, device: str) -> str | None:
        if device in self.model.switch_kind:
            return self.model.switch_kind[device]
        try:
            return self.model.kind_of(device)
        except UnknownElementError:
            return None

    def _incident_extent(
        self, device: str
    ) -> tuple[frozenset[str], tuple[str, ...], Any, Any, int] | None:
        """Transformers, area names, outline and customer count below a device (cached: the
        network model does not change while the process runs)."""
        if device in self._incident_cache:
            return self._incident_cache[device]
        try:
            transformers = self.model.downstream_transformers(device)
            sp_rows = self.model.downstream_service_point_rows(device)
        except UnknownElementError:
            return None
        area = self.planner.shapes.outline(
            sp_rows.tolist(), self.planner.transformer_rows(transformers)
        )
        shape = shapely.from_geojson(json.dumps(area)) if area is not None else None
        extent = (
            frozenset(transformers),
            tuple(self.planner.area_names(transformers)),
            area,
            shape,
            len(sp_rows),
        )
        self._incident_cache[device] = extent
        return extent

    # -- the questions -------------------------------------------------------------------

    def at_position(
        self, conn: Connection, lon: float, lat: float, now: datetime, *, gcj02: bool = False
    ) -> PublicAnswer:
        if gcj02:
            lon, lat = gcj02_to_wgs84(lon, lat)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return PublicAnswer([], "位置坐标无效 (the position is not on Earth)", False)
        x, y = self._frame.forward_one(lon, lat)
        if self._network_tree is None or self._network_tree.query([x, y])[0] > (
            self.settings.service_area_m
        ):
            return PublicAnswer(
                [], "该位置不在本供电服务区域内 (the position is outside the service area)", False
            )
        transformers: frozenset[str] = frozenset()
        if self._sp_tree is not None:
            dist, row = self._sp_tree.query([x, y])
            if dist <= self.settings.nearby_m:
                tr = self._sp_transformer[int(row)]
                transformers = frozenset({tr}) if tr else frozenset()
        return self._answer(conn, _Place(transformers, point=(lon, lat)), now)

    def for_account(self, conn: Connection, account_no: str, now: datetime) -> PublicAnswer:
        row = self._accounts.get(normalise_account(account_no))
        if row is None:
            raise UnknownAccountError(account_no)
        tr = self._sp_transformer[row]
        return self._answer(conn, _Place(frozenset({tr}) if tr else frozenset()), now)

    def in_area(self, conn: Connection, name: str, now: datetime) -> PublicAnswer:
        admin = self.planner.admin
        hits = admin.matching(name)
        if not hits:
            raise UnknownAreaError(name.strip())
        polygon = shapely.union_all(admin.geoms[hits])
        inside = self._transformer_tree.query(polygon, predicate="intersects")
        transformers = frozenset(self._transformer_ids[int(i)] for i in inside)
        return self._answer(conn, _Place(transformers), now)

    def everywhere(self, conn: Connection, now: datetime) -> PublicAnswer:
        found = self.current(conn, now)
        return PublicAnswer(found, _summary(len(found), self.settings.horizon_days))

    def _answer(self, conn: Connection, place: _Place, now: datetime) -> PublicAnswer:
        found = [o for o in self.current(conn, now) if _affects(o, place)]
        return PublicAnswer(found, _summary(len(found), self.settings.horizon_days))


def _affects(outage: OutageView, place: _Place) -> bool:
    if place.transformers & outage.transformers:
        return True
    if place.point is not None and outage.shape is not None:
        return bool(shapely.intersects(outage.shape, shapely.Point(*place.point)))
    return False


def _summary(count: int, days: int) -> str:
    if count == 0:
        return (
            f"现在及未来{days}天内没有已知的停电 (no known outage now or in the next {days} days)"
        )
    return f"查询到{count}条停电信息 ({count} outage(s) now or in the next {days} days)"
