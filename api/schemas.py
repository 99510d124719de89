"""Request and response bodies of the HTTP API.

Requests and responses are separate types, so that a response can only carry what its type
declares: :class:`PublicOutage` has no field that could hold a customer's name, phone or
account number, whatever the code that fills it does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import Role
from outages.planned import NoticeKind, NoticeStatus
from outages.public import OutageKind, OutageStatus

GeoJSONGeometry = dict[str, Any]

# -- errors -----------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    detail: str = Field(description="what went wrong, in words a user can act on")


# -- auth -------------------------------------------------------------------------------------


class TokenRequest(BaseModel):
    """The login of a JSON client (browsers and OAuth2 tools send the same fields as a form)."""

    model_config = ConfigDict(extra="ignore")

    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    role: Role


class UserPublic(BaseModel):
    name: str
    role: Role
    created_at: datetime
    disabled: bool


# -- calls (CONTRACT sections 2 and 3) ------------------------------------------------------


class CallIn(BaseModel):
    """One call as the hotline receives it: the columns of a calls file (CONTRACT section 2).

    Every field is taken as given and checked by the intake, not here, so that a call with
    one impossible value (a latitude of 999) is still taken with that value dropped, as a
    calls file row would be. Only ``call_id`` and ``received_at`` are required; a call
    without them is answered ``rejected``.
    """

    model_config = ConfigDict(
        extra="ignore",
        coerce_numbers_to_str=True,
        json_schema_extra={
            "examples": [
                {
                    "call_id": "20260701-0001",
                    "received_at": "2026-07-01T20:15:00+08:00",
                    "source": "phone",
                    "category": "repair",
                    "caller_phone": "13900000000",
                    "account_no": "9000000001",
                    "symptom": "no_power",
                    "description": "整个村都停电了",
                }
            ]
        },
    )

    call_id: str | None = Field(None, description="unique id; also the idempotency key")
    received_at: str | None = Field(None, description="ISO 8601 with a UTC offset")
    source: str | None = Field(None, description="phone (default), app, wechat, 12345, 110, 119")
    category: str | None = Field(
        None,
        description="repair (default), complaint, report, consult, query, new_connection, "
        "suggestion, praise",
    )
    caller_phone: str | None = None
    caller_name: str | None = None
    account_no: str | None = Field(None, description="customer account number (户号)")
    pole_no: str | None = Field(None, description="pole label as said, e.g. 城关Ⅰ线45号杆")
    address: str | None = Field(None, description="free text, Chinese or pinyin")
    lon: float | str | None = None
    lat: float | str | None = None
    coord_sys: str | None = Field(None, description="WGS84 (default), GCJ02 or CGCS2000")
    symptom: str | None = Field(
        None,
        description="no_power, partial_power, low_voltage, sparking, line_down, pole_down, "
        "transformer_noise, other",
    )
    description: str | None = None

    def row(self) -> dict[str, Any]:
        """The call as a calls-file row, for the intake."""
        return self.model_dump()


class LocationOut(BaseModel):
    lon: float | None
    lat: float | None
    method: Literal["account", "pole", "gps", "address", "admin", "none"]
    confidence: float
    service_point_id: str | None
    transformer_id: str | None


class CallResult(BaseModel):
    """The intake's answer (CONTRACT section 3); a repeated call gets its first answer."""

    call_id: str | None
    status: Literal["new", "merged", "known_outage", "consult", "ticket", "rejected"]
    incident_id: str | None
    work_order_id: str | None
    predicted_device_id: str | None
    unit_id: str | None
    location: LocationOut | None
    reason: str


# -- planned outages (article 31) -----------------------------------------------------------


class PlannedOutageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "switch_ids": ["FUS0002"],
                    "start": "2026-07-10T08:00:00+08:00",
                    "end": "2026-07-10T17:00:00+08:00",
                    "reason": "10kV城关Ⅰ线检修",
                    "kind": "planned",
                }
            ]
        },
    )

    switch_ids: list[str] = Field(min_length=1, description="the switches opened for the work")
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1, description="why: shown to the customers")
    kind: NoticeKind = NoticeKind.PLANNED
    late_reason: str | None = Field(
        None, description="why a planned outage is published less than 7 days ahead"
    )


class PlannedOutageCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, description="why the notice is withdrawn (kept in the log)")


class PlannedOutageOut(BaseModel):
    """A notice as staff see it."""

    id: str
    kind: NoticeKind
    status: NoticeStatus
    switch_ids: list[str]
    start: datetime
    end: datetime
    reason: str | None
    late_reason: str | None
    published_at: datetime
    published_by: str | None
    cancelled_at: datetime | None
    affected_transformers: list[str]
    affected_service_points: int = Field(description="how many customers lose supply")
    areas: list[str] = Field(description="townships, each followed by its villages")
    affected_area: GeoJSONGeometry | None = Field(description="GeoJSON geometry, WGS84")
    warnings: list[str] = Field(default_factory=list)


# -- the public query -----------------------------------------------------------------------


class PublicOutage(BaseModel):
    """One outage as the public sees it: no customer fields at all."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="notice or incident number, to quote on the phone")
    kind: OutageKind
    status: OutageStatus
    cause: str = Field(description="the notice's reason, or 故障停电 and the device")
    device_kind: str | None = Field(description="for faults: the device that operated")
    start: datetime
    estimated_restoration: datetime | None = Field(
        description="the notice's end, or for a fault its onset plus the typical repair time; "
        "null when that time has passed"
    )
    areas: list[str]
    affected_area: GeoJSONGeometry | None = Field(description="GeoJSON geometry, WGS84")
    affected_customers: int


class PublicOutageAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outages: list[PublicOutage]
    message: str
    in_service_area: bool
    as_of: datetime
    horizon_days: int


# -- OGC API - Features -----------------------------------------------------------------------


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]  # noqa: N815  (the OGC name)


class SpatialExtent(BaseModel):
    bbox: list[list[float]]
    crs: str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class Extent(BaseModel):
    spatial: SpatialExtent


class Collection(BaseModel):
    id: str
    title: str
    description: str | None = None
    extent: Extent | None = None
    itemType: str = "feature"  # noqa: N815
    crs: list[str] = Field(default_factory=lambda: ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"])
    links: list[Link]


class Collections(BaseModel):
    collections: list[Collection]
    links: list[Link]


class Feature(BaseModel):
    """GeoJSON Feature (documentation of the items response)."""

    type: Literal["Feature"]
    id: str | int
    geometry: GeoJSONGeometry | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """GeoJSON FeatureCollection with the OGC paging members."""

    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int  # noqa: N815
    numberReturned: int  # noqa: N815
    timeStamp: datetime  # noqa: N815
    links: list[Link]
