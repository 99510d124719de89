"""The customers' outage query: no login, and nothing about any customer in the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.deps import BadRequest, ContextDep
from api.schemas import ErrorOut, PublicOutage, PublicOutageAnswer
from outages.public import OutageView, PublicAnswer

router = APIRouter(prefix="/api/public", tags=["public"])


def _public(view: OutageView) -> PublicOutage:
    # Field by field on purpose: only what PublicOutage declares can leave this function.
    return PublicOutage(
        id=view.id,
        kind=view.kind,
        status=view.status,
        cause=view.cause,
        device_kind=view.device_kind,
        start=view.start,
        estimated_restoration=view.estimated_restoration,
        areas=list(view.areas),
        affected_area=view.area,
        affected_customers=view.affected_customers,
    )


@router.get(
    "/outages",
    summary="Outages at a place now or in the next 7 days (no login)",
    response_model=PublicOutageAnswer,
    responses={
        400: {"model": ErrorOut, "description": "more than one kind of place, or lon without lat"},
        404: {"model": ErrorOut, "description": "unknown account number or area name"},
        503: {"model": ErrorOut, "description": "no network imported yet"},
    },
)
def public_outages(
    context: ContextDep,
    response: Response,
    lon: Annotated[float | None, Query(description="longitude of the place")] = None,
    lat: Annotated[float | None, Query(description="latitude of the place")] = None,
    coord_sys: Annotated[
        Literal["WGS84", "GCJ02"],
        Query(description="GCJ02 for positions from Chinese map apps"),
    ] = "WGS84",
    account_no: Annotated[
        str | None, Query(max_length=64, description="customer account number (户号)")
    ] = None,
    area: Annotated[
        str | None, Query(max_length=64, description="township or village name (乡镇、村)")
    ] = None,
) -> PublicOutageAnswer:
    """Planned and temporary outage notices and open faults affecting the place, with the
    cause, start, estimated restoration and the affected area as GeoJSON. Ask by position
    (``lon`` and ``lat``), by account number or by area name; with none of them, every
    outage of the service area. A position outside the service area gives an empty list and
    says so; an unknown account or area is 404."""
    given = sum(x is not None for x in ((lon if lon is not None else lat), account_no, area))
    if given > 1:
        raise BadRequest("ask by one of: lon and lat, account_no, or area")
    if (lon is None) != (lat is None):
        raise BadRequest("give both lon and lat")
    public = context.require_public()
    now = context.now()
    with context.engine.connect() as conn:
        answer: PublicAnswer
        if lon is not None and lat is not None:
            answer = public.at_position(conn, lon, lat, now, gcj02=coord_sys == "GCJ02")
        elif account_no is not None:
            answer = public.for_account(conn, account_no, now)
        elif area is not None:
            answer = public.in_area(conn, area, now)
        else:
            answer = public.everywhere(conn, now)
    # An answer about an account is nobody else's business: no shared cache keeps it.
    response.headers["Cache-Control"] = "no-store" if account_no else "public, max-age=60"
    return PublicOutageAnswer(
        outages=[_public(o) for o in answer.outages],
        message=answer.message,
        in_service_area=answer.in_service_area,
        as_of=now,
        horizon_days=public.settings.horizon_days,
    )
