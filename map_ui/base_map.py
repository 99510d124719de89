"""The base map drawn from our own layers: administrative areas, roads, 10 kV lines,
substations, service stations and their territories. It replaces a tile server, which a
closed intranet does not have, and it shows what a street map would not: the grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium
from folium.map import Layer

from layers.grid import GridData
from map_ui import geojson, style
from map_ui.elements import Legend, LegendEntry, MapHandle, ZoomClasses, label_html, popup_table
from map_ui.folium_offline import offline_map

STAFF_GROUPS = (*geojson.PUBLIC_GROUPS, *geojson.NETWORK_GROUPS)
HIDDEN_BY_DEFAULT = frozenset({"switches", "transformers", "admin_village"})


def map_bounds(data: GridData) -> tuple[float, float, float, float]:
    """The county's outline when there is one (the public sees the whole county), else the
    network's extent."""
    areas = data.layer("admin_areas")
    top = areas[(areas["level"] == "county") & areas["geometry"].notna()]
    if not top.empty:
        b = top["geometry"].iat[0].bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    return data.bounds()


def _style(feature: dict[str, object]) -> object:
    props = feature["properties"]
    assert isinstance(props, dict)
    return props["style"]


def geojson_layer(
    fc: geojson.FeatureCollection,
    name: str,
    *,
    show: bool = True,
    points: bool = False,
    tooltip: bool = True,
    control: bool = True,
) -> folium.GeoJson:
    """A collection of ours as one folium layer, styled by each feature's ``style``."""
    return folium.GeoJson(
        fc,
        name=name,
        show=show,
        control=control,
        style_function=_style,
        marker=folium.CircleMarker(radius=4) if points else None,
        tooltip=(
            folium.GeoJsonTooltip(fields=["label"], labels=False, sticky=True)
            if tooltip and fc["features"]
            else None
        ),
        smooth_factor=1.0,
        zoom_on_click=False,
        embed=True,
    )


def _labels(data: GridData, level: str, name: str, show: bool) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name, show=show)
    for text, lon, lat in geojson.admin_labels(data, level):
        folium.Marker(
            [lat, lon],
            icon=folium.DivIcon(
                html=label_html(text, f"gc-label-{level}"), class_name="gc-label-icon"
            ),
            interactive=False,
        ).add_to(group)
    return group


def _units(data: GridData) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=geojson.GROUP_NAMES["units"])
    icon, colour = "house-flag", "blue"
    for row in data.layer("units").itertuples():
        if row.geometry is None:
            continue
        folium.Marker(
            [row.geometry.y, row.geometry.x],
            icon=folium.Icon(icon=icon, prefix="fa", color=colour),
            tooltip=str(row.name),
            popup=folium.Popup(
                popup_table(
                    [("编号", row.id), ("类型", row.kind), ("电话", row.phone)], str(row.name)
                ),
                max_width=320,
            ),
        ).add_to(group)
        folium.Marker(
            [row.geometry.y, row.geometry.x],
            icon=folium.DivIcon(
                html=label_html(str(row.name), "gc-label-unit"), class_name="gc-label-icon"
            ),
            interactive=False,
        ).add_to(group)
    return group


def _substations(data: GridData) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=geojson.GROUP_NAMES["substations"])
    frame = data.layer("substations")
    seen: set[str] = set()
    for row in frame.itertuples():
        key = str(row.name or row.id)
        if row.geometry is None or key in seen:
            continue
        seen.add(key)
        point = row.geometry.representative_point()
        buses = frame[frame["name"] == row.name]["id"].tolist() if row.name else [row.id]
        folium.Marker(
            [point.y, point.x],
            icon=folium.Icon(icon="industry", prefix="fa", color="black"),
            tooltip=key,
            popup=folium.Popup(
                popup_table(
                    [("母线", "、".join(str(b) for b in buses)), ("电压 kV", row.voltage_kv)], key
                ),
                max_width=320,
            ),
        ).add_to(group)
    return group


def _put(m: folium.Map, layers: dict[str, Layer], key: str, layer: Layer) -> None:
    layer.add_to(m)
    layers[key] = layer


def add_base_layers(
    m: folium.Map, data: GridData, groups: Sequence[str] = STAFF_GROUPS
) -> dict[str, Layer]:
    """Adds the named groups as overlays of ``m`` (bottom to top: areas, roads,
    territories, lines, devices, stations) and returns them by key."""
    layers: dict[str, Layer] = {}
    wanted = set(groups)
    if "admin" in wanted:
        for level, title in (("village", "行政村界"), ("township", "乡镇界"), ("county", "县界")):
            fc = geojson.admin_areas(data, level)
            if fc["features"]:
                key = f"admin_{level}"
                _put(
                    m,
                    layers,
                    key,
                    geojson_layer(
                        fc, title, show=key not in HIDDEN_BY_DEFAULT, tooltip=level != "county"
                    ),
                )
    if "roads" in wanted and data.has("roads"):
        _put(m, layers, "roads", geojson_layer(geojson.roads(data), geojson.GROUP_NAMES["roads"]))
    if "territories" in wanted and data.has("territories"):
        _put(
            m,
            layers,
            "territories",
            geojson_layer(geojson.territories(data), geojson.GROUP_NAMES["territories"]),
        )
    if "feeders" in wanted and data.has("mv_lines"):
        _put(
            m,
            layers,
            "feeders",
            geojson_layer(geojson.feeders(data), geojson.GROUP_NAMES["feeders"]),
        )
    if "transformers" in wanted and data.has("transformers"):
        _put(
            m,
            layers,
            "transformers",
            geojson_layer(
                geojson.transformers(data),
                geojson.GROUP_NAMES["transformers"],
                points=True,
                show=False,
            ),
        )
    if "switches" in wanted and data.has("switches"):
        _put(
            m,
            layers,
            "switches",
            geojson_layer(
                geojson.switches(data), geojson.GROUP_NAMES["switches"], points=True, show=False
            ),
        )
    if "substations" in wanted and data.has("substations"):
        _put(m, layers, "substations", _substations(data))
    if "units" in wanted and data.has("units"):
        _put(m, layers, "units", _units(data))
    if "admin" in wanted:
        for level, title, show in (("township", "乡镇名称", True), ("village", "村名", True)):
            if geojson.admin_labels(data, level):
                _put(m, layers, f"labels_{level}", _labels(data, level, title, show))
        county = data.layer("admin_areas")
        county = county[(county["level"] == "county") & county["geometry"].notna()]
        for text, geom in zip(county["name"].tolist(), county["geometry"].tolist(), strict=True):
            # above the county's northern edge: inside, it would sit on the seat's town name
            lon, lat = geom.centroid.x, geom.bounds[3]
            folium.Marker(
                [lat, lon],
                icon=folium.DivIcon(
                    html=label_html(str(text), "gc-label-county"), class_name="gc-label-icon"
                ),
                interactive=False,
            ).add_to(layers.get("admin_county", m))
    m.add_child(ZoomClasses())
    return layers


def base_legend(data: GridData, groups: Sequence[str]) -> list[tuple[str, list[LegendEntry]]]:
    """Legend sections for the base layers that are drawn."""
    wanted = set(groups)
    sections: list[tuple[str, list[LegendEntry]]] = []
    if "roads" in wanted and data.has("roads"):
        kinds = set(data.layer("roads")["kind"].dropna().tolist())
        sections.append(("道路", [
            LegendEntry("line", s["color"], style.ROAD_NAMES[k])
            for k, s in style.ROAD_STYLES.items() if k in kinds
        ]))  # fmt: skip
    org: list[LegendEntry] = []
    if "units" in wanted and data.has("units"):
        org.append(LegendEntry("icon", "#38aadd", "供电所", icon="house-flag"))
    if "territories" in wanted and data.has("territories"):
        classes = set(data.layer("territories")["area_class"].fillna("rural").tolist())
        org.extend(
            LegendEntry("dash", c, f"辖区：{style.AREA_CLASS_NAMES[k]}")
            for k, c in style.AREA_CLASS_COLOURS.items() if k in classes
        )  # fmt: skip
    if org:
        sections.append(("供电服务", org))
    net: list[LegendEntry] = []
    if "substations" in wanted and data.has("substations"):
        net.append(LegendEntry("icon", "#303030", "变电站", icon="industry"))
    if "feeders" in wanted and data.has("mv_lines"):
        net.append(LegendEntry("line", style.FEEDER_COLOURS[0], "10kV线路（每条线路一种颜色）"))
    if net:
        sections.append(("电网", net))
    return sections


def base_map(
    data: GridData,
    *,
    groups: Sequence[str] = STAFF_GROUPS,
    legend: bool = True,
    handle: bool = False,
    collapsed: bool = True,
) -> folium.Map:
    """The base map of the county: ``groups`` chooses what is drawn (the public page uses
    :data:`geojson.PUBLIC_GROUPS`: no network, no customers). ``handle`` publishes the map
    to the page's script as ``window.gridcallMap``."""
    m = offline_map(map_bounds(data))
    layers = add_base_layers(m, data, groups)
    if legend:
        m.add_child(Legend("图例", base_legend(data, groups)))
    control = folium.LayerControl(collapsed=collapsed)
    control.add_to(m)
    if handle:
        m.add_child(MapHandle(control, layers))
    return m
