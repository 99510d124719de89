"""The layers as OGC API - Features (Part 1, Core; GeoJSON), for QGIS, GDAL and other clients.

Staff only: every path takes a bearer token (QGIS: an "API header" authentication with
``Authorization: Bearer <token>``). Each layer with rows is a collection (the one-line
diagram is not: its coordinates are not on the Earth). Items are filtered by bbox in SQL,
through the spatial index on both databases (:func:`gis.spatial_sql.bbox_filter`) and then
exactly (``ST_Intersects``, the same name on SpatiaLite and PostGIS), and paged with
``limit`` (capped) and ``offset``, with ``next`` and ``prev`` links.

Customers' personal fields (``name``, ``phone``, ``account_no`` of service points, and any
extra columns a utility imported with them) are served to supervisors and admins only. The
privacy rule is "visible to staff only", and this is the one path by which a whole layer can
be copied in one request: agents and dispatchers see a customer's details one call at a
time in the console, and bulk copies of them are kept to the roles that answer for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import shapely
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import Table, text

from api.auth import Role, User
from api.deps import AgentUser, BadRequest, ContextDep, NotFound
from api.schemas import (
    Collection,
    Collections,
    Conformance,
    ErrorOut,
    Extent,
    FeatureCollection,
    LandingPage,
    Link,
    SpatialExtent,
)
from gis.db import json_value
from gis.spatial_sql import bbox_filter, geometry_as_wkb, intersects_wkt, layer_extent
from layers.schema import LAYERS
from layers.store import DERIVED_COLUMNS, LAYER_TABLES

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"])

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
# Layers whose coordinates are not WGS84 longitude/latitude are not served.
SERVED = tuple(name for name, spec in LAYERS.items() if spec.has_crs)
PERSONAL = {"service_points": frozenset({"name", "phone", "account_no"})}
TITLES = {
    "substations": "Substations (10 kV buses)",
    "mv_lines": "10 kV lines",
    "switches": "Switches, breakers, reclosers and fuses",
    "transformers": "Distribution transformers (台区)",
    "lv_lines": "400 V lines",
    "poles": "Poles",
    "service_points": "Service points (meters, customer accounts)",
    "units": "Repair units (供电所)",
    "territories": "Unit territories",
    "crews": "Repair crews (bases)",
    "admin_areas": "Administrative areas",
    "places": "Gazetteer",
    "roads": "Roads",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "an invalid bbox, limit or offset"},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
}


def _check_format(f: str | None) -> None:
    if f not in (None, "json", "geojson"):
        raise BadRequest(f"format {f!r} is not offered: only f=json")


def _table(layer: str) -> Table:
    if layer not in SERVED:
        raise NotFound(f"no collection {layer!r}")
    return LAYER_TABLES[layer]


def _collection(request: Request, layer: str, bbox: Sequence[float]) -> Collection:
    items = str(request.url_for("ogc_items", layer=layer))
    spec = LAYERS[layer]
    return Collection(
        id=layer,
        title=TITLES.get(layer, layer),
        description=f"{spec.name}: {', '.join(spec.columns)}",
        extent=Extent(spatial=SpatialExtent(bbox=[[round(v, 7) for v in bbox]])),
        links=[
            Link(
                href=str(request.url_for("ogc_collection", layer=layer)),
                rel="self",
                type=JSON,
                title="this collection",
            ),
            Link(href=items, rel="items", type=GEOJSON, title="its features"),
        ],
    )


@router.get(
    "",
    summary="OGC API landing page",
    response_model=LandingPage,
    name="ogc_landing",
    responses=_ERRORS,
)
def landing(request: Request, user: AgentUser, f: str | None = None) -> LandingPage:
    _check_format(f)
    return LandingPage(
        title="gridcall layers",
        description="The grid, organisation and map layers of gridcall as OGC API - Features.",
        links=[
            Link(href=str(request.url_for("ogc_landing")), rel="self", type=JSON),
            Link(href=str(request.url_for("openapi")), rel="service-desc", type=OPENAPI),
            Link(href=str(request.url_for("ogc_conformance")), rel="conformance", type=JSON),
            Link(href=str(request.url_for("ogc_collections")), rel="data", type=JSON),
        ],
    )


@router.get(
    "/conformance",
    summary="The OGC conformance classes implemented",
    response_model=Conformance,
    name="ogc_conformance",
    responses=_ERRORS,
)
def conformance(user: AgentUser, f: str | None = None) -> Conformance:
    _check_format(f)
    return Conformance(conformsTo=CONFORMANCE)


@router.get(
    "/collections",
    summary="The layers that have features",
    response_model=Collections,
    name="ogc_collections",
    responses=_ERRORS,
)
def collections(
    request: Request, user: AgentUser, context: ContextDep, f: str | None = None
) -> Collections:
    _check_format(f)
    found: list[Collection] = []
    with context.engine.connect() as conn:
        for layer in SERVED:
            bbox = layer_extent(conn, LAYER_TABLES[layer])
            if bbox is not None:
                found.append(_collection(request, layer, bbox))
    return Collections(
        collections=found,
        links=[Link(href=str(request.url_for("ogc_collections")), rel="self", type=JSON)],
    )


@router.get(
    "/collections/{layer}",
    summary="One layer",
    response_model=Collection,
    name="ogc_collection",
    responses={**_ERRORS, 404: {"model": ErrorOut, "description": "no such layer"}},
)
def collection(
    layer: str, request: Request, user: AgentUser, context: ContextDep, f: str | None = None
) -> Collection:
    _check_format(f)
    table = _table(layer)
    with context.engine.connect() as conn:
        bbox = layer_extent(conn, table)
    if bbox is None:
        raise NotFound(f"collection {layer!r} has no features")
    return _collection(request, layer, bbox)


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` in WGS84 (a 6-number 3D box keeps its horizontal part)."""
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        raise BadRequest(f"bbox {value!r} is not four comma-separated numbers") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(v) for v in numbers):
        raise BadRequest(f"bbox {value!r} is not four comma-separated numbers")
    minx, miny, maxx, maxy = numbers
    if minx > maxx or miny > maxy:
        raise BadRequest(
            "bbox: the lower corner comes first (minx,miny,maxx,maxy); boxes "
            "across the antimeridian are not supported"
        )
    if not (
        -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90
    ):
        raise BadRequest("bbox is not in longitude and latitude (CRS84)")
    return minx, miny, maxx, maxy


def _columns(layer: str, user: User) -> tuple[list[str], bool]:
    """The columns this user may read, and whether the extra columns (attrs) too."""
    spec = LAYERS[layer]
    columns = list(spec.columns) + list(DERIVED_COLUMNS.get(layer, ()))
    hidden = PERSONAL.get(layer, frozenset())
    if hidden and not user.may(Role.SUPERVISOR):
        return [c for c in columns if c not in hidden], False
    return columns, True


def _features(rows: Sequence[Any], layer: str, columns: list[str], attrs: bool) -> list[Any]:
    id_column = LAYERS[layer].id_column
    geoms = shapely.from_wkb([bytes(r.wkb) if r.wkb is not None else None for r in rows])
    geojson = shapely.to_geojson(geoms)
    out: list[Any] = []
    for r, g in zip(rows, geojson, strict=True):
        props: dict[str, Any] = {}
        if attrs and r.attrs:
            extra = json_value(r.attrs)
            props.update(extra)
        for c in columns:
            props[c] = getattr(r, c)
        fid = props.get(id_column) if id_column else None
        out.append(
            {
                "type": "Feature",
                "id": fid if fid is not None else r.fid,
                "geometry": orjson.Fragment(g) if g is not None else None,
                "properties": props,
            }
        )
    return out


def _page_links(
    request: Request, offset: int, limit: int, returned: int, matched: int
) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {
            "href": str(request.url_for("ogc_collection", layer=request.path_params["layer"])),
            "rel": "collection",
            "type": JSON,
        },
    ]
    if offset + returned < matched:
        nxt = request.url.include_query_params(offset=offset + returned, limit=limit)
        links.append({"href": str(nxt), "rel": "next", "type": GEOJSON, "title": "next page"})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(offset - limit, 0), limit=limit)
        links.append({"href": str(prev), "rel": "prev", "type": GEOJSON, "title": "previous page"})
    return links


@router.get(
    "/collections/{layer}/items",
    summary="A layer's features as GeoJSON, filtered by bbox and paged",
    name="ogc_items",
    response_class=Response,
    responses={
        200: {
            "content": {GEOJSON: {"schema": FeatureCollection.model_json_schema()}},
            "description": "a GeoJSON FeatureCollection with numberMatched and next links",
        },
        **_ERRORS,
        404: {"model": ErrorOut, "description": "no such layer"},
    },
)
def items(
    layer: str,
    request: Request,
    user: AgentUser,
    context: ContextDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (WGS84)")] = None,
    limit: Annotated[str | None, Query(description="features per page (capped)")] = None,
    offset: Annotated[str | None, Query(description="features to skip")] = None,
    f: str | None = None,
) -> Response:
    _check_format(f)
    table = _table(layer)
    settings = context.settings
    try:
        n = int(limit) if limit not in (None, "") else settings.ogc_default_limit
        skip = int(offset) if offset not in (None, "") else 0
    except ValueError:
        raise BadRequest("limit and offset are whole numbers") from None
    if n < 1 or skip < 0:
        raise BadRequest("limit is at least 1 and offset at least 0")
    n = min(n, settings.ogc_max_limit)
    box = parse_bbox(bbox)
    columns, attrs = _columns(layer, user)
    with context.engine.connect() as conn:
        where = "1 = 1"
        params: dict[str, Any] = {"limit": n, "offset": skip}
        if box is not None:
            params["box"] = shapely.box(*box).wkt
            # the index finds the candidates, ST_Intersects keeps those that really meet the
            # box (a line's bounding box may cross it while the line does not); SpatiaLite's
            # ST_Intersects answers 1, 0 or -1 (invalid), PostGIS's a boolean
            exact = intersects_wkt(conn, "geom", ":box")
            where = f"{bbox_filter(conn, table, box)} AND {exact}"
        quoted = ", ".join(f'"{c}"' for c in columns)
        select_sql = (
            f'SELECT fid, {quoted}, attrs, {geometry_as_wkb(conn)} AS wkb FROM "{table.name}" '
            f"WHERE {where} ORDER BY fid LIMIT :limit OFFSET :offset"
        )
        rows = conn.execute(text(select_sql), params).all()
        count_params = {k: v for k, v in params.items() if k == "box"}
        matched = int(
            conn.execute(
                text(f'SELECT count(*) FROM "{table.name}" WHERE {where}'), count_params
            ).scalar_one()
        )
    body = {
        "type": "FeatureCollection",
        "features": _features(rows, layer, columns, attrs),
        "numberMatched": matched,
        "numberReturned": len(rows),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": _page_links(request, skip, n, len(rows), matched),
    }
    return Response(orjson.dumps(body), media_type=GEOJSON)


@router.get(
    "/collections/{layer}/items/{feature_id}",
    summary="One feature as GeoJSON",
    name="ogc_item",
    response_class=Response,
    responses={
        200: {"content": {GEOJSON: {}}},
        **_ERRORS,
        404: {"model": ErrorOut, "description": "no such layer or feature"},
    },
)
def item(
    layer: str,
    feature_id: str,
    request: Request,
    user: AgentUser,
    context: ContextDep,
    f: str | None = None,
) -> Response:
    _check_format(f)
    table = _table(layer)
    columns, attrs = _columns(layer, user)
    id_column = LAYERS[layer].id_column
    key = f'"{id_column}"' if id_column else "fid"
    value: Any = feature_id
    if id_column is None:
        if not feature_id.isdigit():
            raise NotFound(f"no feature {feature_id!r} in {layer!r}")
        value = int(feature_id)
    with context.engine.connect() as conn:
        quoted = ", ".join(f'"{c}"' for c in columns)
        rows = conn.execute(
            text(
                f"SELECT fid, {quoted}, attrs, {geometry_as_wkb(conn)} AS wkb "
                f'FROM "{table.name}" WHERE {key} = :v ORDER BY fid LIMIT 1'
            ),
            {"v": value},
        ).all()
    if not rows:
        raise NotFound(f"no feature {feature_id!r} in {layer!r}")
    feature = _features(rows, layer, columns, attrs)[0]
    feature["links"] = [
        {"href": str(request.url), "rel": "self", "type": GEOJSON},
        {
            "href": str(request.url_for("ogc_collection", layer=layer)),
            "rel": "collection",
            "type": JSON,
        },
    ]
    return Response(orjson.dumps(feature), media_type=GEOJSON)
