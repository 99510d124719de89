"""Small folium elements of our own: a legend, zoom-dependent labels, a map handle.

Each is a ``MacroElement`` with a tiny script; nothing here loads anything from outside.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import folium
from branca.element import Element, MacroElement
from folium.template import Template


@dataclass(frozen=True)
class LegendEntry:
    """One line of a legend: a swatch (``line``, ``dash``, ``area``, ``dot`` or ``icon``),
    its colour, the Font Awesome icon for ``icon``, and the text."""

    kind: str
    colour: str
    text: str
    icon: str = ""

    def swatch(self) -> str:
        c = html.escape(self.colour, quote=True)
        if self.kind == "line":
            return f'<span class="gc-sw gc-sw-line" style="border-top-color:{c}"></span>'
        if self.kind == "dash":
            return f'<span class="gc-sw gc-sw-dash" style="border-top-color:{c}"></span>'
        if self.kind == "area":
            return f'<span class="gc-sw gc-sw-area" style="border-color:{c};background:{c}"></span>'
        if self.kind == "icon":
            i = html.escape(self.icon, quote=True)
            return (
                f'<span class="gc-sw gc-sw-icon" style="background:{c}">'
                f'<i class="fa fa-{i}"></i></span>'
            )
        return f'<span class="gc-sw gc-sw-dot" style="background:{c}"></span>'


class Legend(MacroElement):
    """A legend box in a map corner, drawn as a Leaflet control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "gc-legend leaflet-bar");
                div.innerHTML = {{ this.body|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        sections: Sequence[tuple[str, Sequence[LegendEntry]]],
        position: str = "bottomright",
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Legend"
        self.position = position
        parts = [f'<div class="gc-legend-title">{html.escape(title)}</div>']
        for heading, entries in sections:
            if not entries:
                continue
            parts.append(f'<div class="gc-legend-head">{html.escape(heading)}</div>')
            for e in entries:
                parts.append(
                    f'<div class="gc-legend-row">{e.swatch()}'
                    f"<span>{html.escape(e.text)}</span></div>"
                )
        self.body = "".join(parts)


class ZoomClasses(MacroElement):
    """Marks the map container ``gc-far`` / ``gc-mid`` / ``gc-near`` by zoom, so that the
    stylesheet hides village labels when they would pile up, without fighting the layer
    control over whether the label layer is on."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            function mark() {
                var z = map.getZoom(), c = map.getContainer().classList;
                c.toggle("gc-far", z < {{ this.mid }});
                c.toggle("gc-mid", z >= {{ this.mid }} && z < {{ this.near }});
                c.toggle("gc-near", z >= {{ this.near }});
            }
            map.on("zoomend", mark);
            mark();
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, mid: int = 12, near: int = 14) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "ZoomClasses"
        self.mid = mid
        self.near = near


class MetricScale(MacroElement):
    """A metric-only scale bar (folium's ``control_scale`` adds miles too)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({metric: true, imperial: false, maxWidth: 160})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "MetricScale"


class MapHandle(MacroElement):
    """Publishes the Leaflet map, its layer control and named overlays as
    ``window.gridcallMap`` so that a page's own script can add live layers to them."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.gridcallMap = {
            map: {{ this._parent.get_name() }},
            control: {{ this.control_name }},
            overlays: { {%- for key, name in this.overlays %}
                {{ key|tojson }}: {{ name }}{{ "," if not loop.last }}
            {%- endfor %} }
        };
        document.dispatchEvent(new CustomEvent("gridcall:map", {detail: window.gridcallMap}));
        {% endmacro %}
        """
    )

    def __init__(self, control: folium.LayerControl, overlays: Mapping[str, Element]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "MapHandle"
        self.control_name = control.get_name()
        self.overlays = [(k, v.get_name()) for k, v in overlays.items()]


def label_html(text: str, css_class: str) -> str:
    return f'<div class="gc-label {css_class}">{html.escape(text)}</div>'


def popup_table(rows: Sequence[tuple[str, object]], title: str | None = None) -> str:
    """An escaped two-column table for a popup; empty values are left out."""
    parts = [f'<div class="gc-popup-title">{html.escape(title)}</div>'] if title else []
    parts.append('<table class="gc-popup">')
    for key, value in rows:
        if value is None or value == "":
            continue
        parts.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>")
    parts.append("</table>")
    return "".join(parts)
