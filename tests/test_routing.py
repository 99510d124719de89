"""Travel times on the roads layer: speeds, one-way roads, joins, fallbacks, brute force."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from dispatch.routing import (
    BOTH,
    FORWARD,
    REVERSE,
    CrewRouter,
    CrewStart,
    ReferenceRouter,
    RoadGraph,
    RoutingSettings,
    parse_oneway,
    random_crews,
    random_places,
    synthetic_roads,
)
from gis.crs import LocalFrame

FRAME = LocalFrame(113.6, 34.7)
MS = 10.0  # every hand-made road: 36 km/h, 10 m/s


def lonlat(x: float, y: float) -> tuple[float, float]:
    return FRAME.inverse_one(x, y)


def roads(*lines: Sequence[tuple[float, float]] | dict[str, Any]) -> pd.DataFrame:
    """A roads layer from lines in local metres (a dict adds kind/speed_kmh/oneway)."""
    rows = []
    for i, line in enumerate(lines):
        spec = line if isinstance(line, dict) else {"xy": line}
        xy = np.asarray(spec["xy"], dtype=float)
        lon, lat = FRAME.inverse(xy[:, 0], xy[:, 1])
        rows.append(
            {
                "id": f"R{i + 1}",
                "name": None,
                "kind": spec.get("kind"),
                "speed_kmh": spec.get("speed_kmh", "36"),
                "oneway": spec.get("oneway"),
                "geometry": shapely.LineString(np.column_stack([lon, lat])),
                "attrs": None,
            }
        )
    return pd.DataFrame(rows)


def crew_at(crew_id: str, x: float, y: float, wait_s: float = 0.0) -> CrewStart:
    lon, lat = lonlat(x, y)
    return CrewStart(crew_id, lon, lat, wait_s, "U1")


def travel(graph: RoadGraph, crew: CrewStart, x: float, y: float) -> tuple[float, str]:
    eta = CrewRouter(graph).etas(*lonlat(x, y), [crew])[0]
    return eta.travel_s, eta.method


def test_speed_comes_from_the_column_then_the_kind_then_the_default() -> None:
    s = RoutingSettings()
    assert s.speed_for("village", "55") == 55.0
    assert s.speed_for("县道", None) == s.kind_speeds_kmh["县道"] == 40.0
    assert s.speed_for("Motorway_Link", "") == s.kind_speeds_kmh["motorway"]
    assert s.speed_for("unheard-of", "-3") == s.default_speed_kmh
    assert s.speed_for(None, "nan") == s.default_speed_kmh


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", FORWARD),
        ("TRUE", FORWARD),
        ("1", FORWARD),
        (1.0, FORWARD),
        ("-1", REVERSE),
        ("no", BOTH),
        ("", BOTH),
        (None, BOTH),
        (float("nan"), BOTH),
        ("0", BOTH),
    ],
)
def test_oneway_values(value: Any, expected: int) -> None:
    assert parse_oneway(value) == expected


def _one_way_square(oneway: str | None) -> RoadGraph:
    # direct road A(0,0)-B(1000,0), possibly one-way; a two-way detour over y=500 (2000 m)
    return RoadGraph(
        roads(
            {"xy": [(0, 0), (500, 0), (1000, 0)], "oneway": oneway},
            [(0, 0), (0, 500), (1000, 500), (1000, 0)],
        ),
        FRAME,
    )


@pytest.mark.parametrize(
    ("oneway", "a_to_b", "b_to_a"),
    [(None, 1000, 1000), ("yes", 1000, 2000), ("-1", 2000, 1000)],
)
def test_one_way_roads_are_driven_only_their_way(
    oneway: str | None, a_to_b: float, b_to_a: float
) -> None:
    graph = _one_way_square(oneway)
    t, method = travel(graph, crew_at("A", 0, 0), 1000, 0)
    assert method == "road"
    assert t == pytest.approx(a_to_b / MS, rel=1e-6)
    t, _ = travel(graph, crew_at("B", 1000, 0), 0, 0)
    assert t == pytest.approx(b_to_a / MS, rel=1e-6)


def test_one_way_holds_within_one_road_between_two_places_on_it() -> None:
    graph = _one_way_square("yes")
    # both on the direct road: 200 m with its direction, around the block against it
    t, _ = travel(graph, crew_at("C", 300, 0), 500, 0)
    assert t == pytest.approx(200 / MS, rel=1e-6)
    t, _ = travel(graph, crew_at("C", 500, 0), 300, 0)
    assert t == pytest.approx((500 + 2000 + 300) / MS, rel=1e-6)


def test_the_leg_to_the_road_is_covered_slowly() -> None:
    graph = _one_way_square(None)
    settings = graph.settings
    t, _ = travel(graph, crew_at("A", 0, -100), 700, 30)
    legs = (100 + 30) / (settings.snap_speed_kmh / 3.6)
    assert t == pytest.approx(700 / MS + legs, rel=1e-6)


@pytest.mark.parametrize(("tolerance", "joined"), [(2.0, True), (1.0, False)])
def test_road_ends_join_within_the_tolerance(tolerance: float, joined: bool) -> None:
    gap = 1.5
    graph = RoadGraph(
        roads([(0, 0), (1000, 0)], [(1000 + gap, 0), (2000, 0)]),
        FRAME,
        RoutingSettings(join_tolerance_m=tolerance),
    )
    t, method = travel(graph, crew_at("A", 0, 0), 2000, 0)
    if joined:
        assert method == "road"
        assert t == pytest.approx((2000 - gap) / MS, rel=1e-6)
    else:
        assert method == "straight"
        settings = graph.settings
        assert t == pytest.approx(
            2000 * settings.detour_factor / (settings.fallback_speed_kmh / 3.6), rel=1e-6
        )


def test_a_road_ending_on_the_middle_of_another_is_a_junction() -> None:
    # the spur ends 0.5 m from a segment of the main road, far from any of its vertices
    graph = RoadGraph(roads([(0, 0), (1000, 0)], [(400, 800), (400, 0.5)]), FRAME)
    t, method = travel(graph, crew_at("A", 0, 0), 400, 800)
    assert method == "road"
    assert t == pytest.approx((400 + 799.5) / MS, rel=1e-4)


def test_roads_crossing_without_a_shared_vertex_do_not_meet() -> None:
    # an overpass: the x-axis road crosses the y-axis road without a junction; the only way
    # between them is a link road at the far ends
    graph = RoadGraph(
        roads(
            [(-1000, 0), (1000, 0)], [(0, -1000), (0, 1000)], [(1000, 0), (1000, 1000), (0, 1000)]
        ),
        FRAME,
    )
    t, method = travel(graph, crew_at("A", 0, -10), -500, 0)
    assert method == "road"
    # up the y road to its top end, over the link road, back along the x road
    assert t == pytest.approx((1010 + 2000 + 1500) / MS, rel=1e-6)
    # and a shared vertex makes it a crossing
    crossing = RoadGraph(
        roads([(-1000, 0), (0, 0), (1000, 0)], [(0, -1000), (0, 0), (0, 1000)]), FRAME
    )
    t2, _ = travel(crossing, crew_at("A", 0, -10), -500, 0)
    assert t2 == pytest.approx((10 + 500) / MS, rel=1e-6)


def test_no_roads_means_straight_line_times_the_detour() -> None:
    settings = RoutingSettings(detour_factor=1.4, fallback_speed_kmh=36)
    graph = RoadGraph(roads(), FRAME, settings)
    t, method = travel(graph, crew_at("A", 0, 0), 3000, 4000)
    assert method == "straight"
    assert t == pytest.approx(5000 * 1.4 / 10.0, rel=1e-6)


def test_no_path_or_no_road_nearby_falls_back() -> None:
    settings = RoutingSettings(max_snap_m=500)
    graph = RoadGraph(roads([(0, 0), (1000, 0)], [(5000, 0), (6000, 0)]), FRAME, settings)
    _, method = travel(graph, crew_at("A", 0, 0), 6000, 0)  # another island of roads
    assert method == "straight"
    _, method = travel(graph, crew_at("A", 0, 0), 500, 3000)  # 3 km from any road
    assert method == "straight"
    _, method = travel(graph, crew_at("A", 0, 0), 500, 400)  # within reach of the road
    assert method == "road"


def test_a_place_about_as_near_to_two_roads_is_reached_from_either() -> None:
    # road A (10 m away) is an island; road B, half a metre farther, leads to the crew
    layer = roads([(0, 10), (1000, 10)], [(0, -10.5), (1000, -10.5)])
    crew = crew_at("B", 0, -10.5)
    t, method = travel(RoadGraph(layer, FRAME), crew, 500, 0)
    leg = 10.5 / (RoutingSettings().snap_speed_kmh / 3.6)
    assert method == "road"
    assert t == pytest.approx(500 / MS + leg, rel=1e-6)
    _, method = travel(RoadGraph(layer, FRAME, RoutingSettings(snap_tie_m=0)), crew, 500, 0)
    assert method == "straight"  # snapped to road A only: no path


def test_busy_crews_are_ranked_by_when_they_can_arrive() -> None:
    graph = _one_way_square(None)
    router = CrewRouter(graph)
    near_busy = crew_at("BUSY", 900, 0, wait_s=600)  # 10 s away, free in 10 minutes
    far_free = crew_at("FREE", 0, 0)  # 100 s away, free now
    etas = router.etas(*lonlat(1000, 0), [near_busy, far_free])
    assert [e.crew_id for e in etas] == ["FREE", "BUSY"]
    assert etas[1].eta_s == pytest.approx(600 + 100 / MS, rel=1e-6)
    soon = crew_at("SOON", 900, 0, wait_s=30)
    assert router.nearest(*lonlat(1000, 0), [soon, far_free])[0].crew_id == "SOON"


def test_route_geometry_follows_the_roads() -> None:
    graph = _one_way_square("yes")
    router = CrewRouter(graph)
    crew = crew_at("B", 1000, 0)
    route = router.route(crew, *lonlat(0, 0))
    assert route.method == "road"
    assert route.metres == pytest.approx(2000, rel=1e-6)
    assert route.travel_s == pytest.approx(200, rel=1e-6)
    xy = np.column_stack(FRAME.forward(*np.asarray(route.coordinates).T))
    assert np.allclose(xy[0], [1000, 0], atol=0.01)
    assert np.allclose(xy[-1], [0, 0], atol=0.01)
    # it went around over y=500, never back along the one-way road
    assert np.allclose(xy[:, 1].max(), 500, atol=0.01)
    line = shapely.LineString(xy)
    assert line.length == pytest.approx(2000, rel=1e-6)
    assert shapely.from_wkt(route.wkt).geom_type == "LineString"


def test_route_falls_back_to_a_straight_line() -> None:
    graph = RoadGraph(roads(), FRAME)
    route = CrewRouter(graph).route(crew_at("A", 0, 0), *lonlat(300, 400))
    assert route.method == "straight"
    assert len(route.coordinates) == 2
    assert route.metres == pytest.approx(500, rel=1e-6)


@pytest.fixture(scope="module")
def county() -> tuple[RoadGraph, list[CrewStart], list[tuple[float, float]]]:
    net = synthetic_roads(7, cells=10, spacing_m=700)
    graph = RoadGraph(net.roads, net.frame)
    rng = np.random.default_rng(3)
    crews = random_crews(rng, net.frame, net.extent_m, 12)
    places = random_places(rng, net.frame, net.extent_m, 60)
    # the road island east of the lattice: a crew and a place there (no path to the rest)
    island_x = net.extent_m / 2 + 6_000.0
    lon, lat = net.frame.inverse_one(island_x + 300.0, 390.0)
    crews.append(CrewStart("ISLAND", lon, lat, 0.0, "U9"))
    places.append(net.frame.inverse_one(island_x + 500.0, 20.0))
    return graph, crews, places


def _compare(fast: list[Any], slow: list[Any]) -> None:
    by_crew = {e.crew_id: e for e in slow}
    for eta in fast:
        ref = by_crew[eta.crew_id]
        assert eta.method == ref.method
        assert eta.eta_s == pytest.approx(ref.eta_s, rel=1e-9, abs=1e-6)
    assert fast[0].eta_s == pytest.approx(slow[0].eta_s, rel=1e-9, abs=1e-6)


def test_same_answers_as_a_brute_force_search(
    county: tuple[RoadGraph, list[CrewStart], list[tuple[float, float]]],
) -> None:
    graph, crews, places = county
    reference = ReferenceRouter(graph)
    router = CrewRouter(graph)
    methods: set[str] = set()
    for lon, lat in places:
        fast = router.etas(lon, lat, crews)  # cached searches from the crews after the first
        slow = reference.nearest(lon, lat, crews)
        _compare(fast, slow)
        methods.update(e.method for e in fast)
    assert methods == {"road", "straight"}  # the island and one-way traps were exercised


def test_crews_that_just_moved_get_the_same_answers(
    county: tuple[RoadGraph, list[CrewStart], list[tuple[float, float]]],
) -> None:
    graph, crews, places = county
    reference = ReferenceRouter(graph)
    router = CrewRouter(graph)
    rng = np.random.default_rng(11)
    for lon, lat in places[:25]:
        moved = [
            CrewStart(c.crew_id, c.lon + float(rng.normal(0, 0.002)), c.lat, c.wait_s, c.unit_id)
            for c in crews
        ]  # every crew reports a new position: the search runs backwards from the place
        _compare(router.etas(lon, lat, moved), reference.nearest(lon, lat, moved))


def test_the_synthetic_county_has_what_the_tests_rely_on(
    county: tuple[RoadGraph, list[CrewStart], list[tuple[float, float]]],
) -> None:
    graph, _crews, _places = county
    assert (graph.link_dir == FORWARD).any()
    assert (graph.link_dir == REVERSE).any()
    assert graph.n_nodes < graph.n_vertices / 2  # shape points are not junctions
    assert math.isfinite(graph.link_time.sum())
