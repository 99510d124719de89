"""How things look on every map: colours by feeder and road kind, icons by device kind.

Kept in one place so that the folium maps (drawn in Python) and the pages (drawn in the
browser from our GeoJSON, whose features carry their ``style``) look the same.
"""

from __future__ import annotations

from typing import Any

#: A qualitative palette whose neighbours differ strongly: feeders of one substation are
#: numbered consecutively, so consecutive colours must not be confused on a dark line.
FEEDER_COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173",
    "#3182bd", "#e6550d", "#31a354", "#756bb1", "#843c39", "#0e6b5c",
)  # fmt: skip

ROAD_STYLES: dict[str, dict[str, Any]] = {
    "national": {"color": "#e8a33d", "weight": 4.0, "opacity": 0.9},
    "provincial": {"color": "#f0c05a", "weight": 3.5, "opacity": 0.9},
    "county": {"color": "#c9b27c", "weight": 2.5, "opacity": 0.9},
    "township": {"color": "#bcb6a8", "weight": 1.8, "opacity": 0.9},
    "village": {"color": "#d3cec3", "weight": 1.2, "opacity": 0.9},
}
ROAD_DEFAULT: dict[str, Any] = {"color": "#cfc9bc", "weight": 1.2, "opacity": 0.8}
ROAD_NAMES = {
    "national": "国道",
    "provincial": "省道",
    "county": "县道/城区主干道",
    "township": "乡道",
    "village": "村道",
}

ADMIN_STYLES: dict[str, dict[str, Any]] = {
    "county": {"color": "#5b4636", "weight": 3.0, "fill": False, "dashArray": "8 4"},
    "township": {
        "color": "#7d6b5d", "weight": 1.6, "fillColor": "#f6f1e4", "fillOpacity": 0.35,
    },
    "village": {
        "color": "#b8ab98", "weight": 0.7, "fillColor": "#fbf8f0", "fillOpacity": 0.15,
        "dashArray": "2 3",
    },
}  # fmt: skip

AREA_CLASS_COLOURS = {"urban": "#6a51a3", "rural": "#238b45", "remote": "#b15928"}
AREA_CLASS_NAMES = {"urban": "城区", "rural": "农村", "remote": "边远"}

#: Device kind -> (Font Awesome 6 icon, awesome-markers colour, Chinese name).
DEVICE_ICONS: dict[str, tuple[str, str, str]] = {
    "breaker": ("power-off", "darkred", "断路器"),
    "recloser": ("rotate", "red", "重合器"),
    "sectionalizer": ("scissors", "orange", "分段器"),
    "fuse": ("fire", "orange", "跌落式熔断器"),
    "load_break_switch": ("toggle-off", "purple", "负荷开关"),
    "disconnector": ("toggle-off", "cadetblue", "隔离开关"),
    "transformer": ("plug", "darkpurple", "配电变压器（台区）"),
    "unknown": ("question", "gray", "未判定"),
}

STATE_NAMES = {
    "unconfirmed": "待确认",
    "probable": "多户报修",
    "confirmed": "已确认",
    "dispatched": "已派工",
    "restored": "已恢复",
    "merged": "已合并",
}

#: Incident state -> the colour of its affected area and call markers.
INCIDENT_COLOURS = {
    "unconfirmed": "#e6550d",
    "probable": "#d7301f",
    "confirmed": "#b30000",
    "restored": "#33a02c",
    "merged": "#999999",
}
INCIDENT_DEFAULT_COLOUR = "#e31a1c"

SUBSTATION_COLOUR = "#1a1a1a"
UNIT_COLOUR = "#08519c"
TRANSFORMER_COLOUR = "#555555"


def feeder_colours(feeders: list[str]) -> dict[str, str]:
    """Each feeder's colour, by its place in the sorted list, so that the colours stay the
    same between maps of the same grid."""
    return {f: FEEDER_COLOURS[i % len(FEEDER_COLOURS)] for i, f in enumerate(sorted(feeders))}


def incident_colour(state: str | None) -> str:
    return INCIDENT_COLOURS.get(state or "", INCIDENT_DEFAULT_COLOUR)


def device_icon(kind: str | None) -> tuple[str, str, str]:
    return DEVICE_ICONS.get(kind or "unknown", DEVICE_ICONS["unknown"])
