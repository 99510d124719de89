"""Folium without the internet: every script and stylesheet from our own static folder.

Control rooms run on a closed intranet, so a map that asks a CDN for Leaflet renders blank
there. Folium names each asset it needs (``("leaflet", "https://cdn...")``); we map those
names to files that ``scripts/vendor-assets.sh`` fetched from the npm registry at build
time, per element instance, just before rendering. An element that wants an asset we do not
have fails loudly instead of silently reaching out.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import folium
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template

from map_ui.elements import MetricScale

STATIC_DIR = Path(__file__).with_name("static")
VENDOR_DIR = STATIC_DIR / "vendor"

#: folium's asset name -> file under the static folder; ``None`` drops an asset we never use
#: (Bootstrap 3's glyph font: our markers use Font Awesome; the rotation classes: we never
#: rotate icons).
ASSET_FILES: dict[str, str | None] = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "jquery": "vendor/jquery/jquery.min.js",
    "bootstrap": "vendor/bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.min.js",
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": "vendor/bootstrap/css/bootstrap.min.css",
    "glyphicons_css": None,
    "awesome_markers_font_css": "vendor/fontawesome-free/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": None,
    "markerclusterjs": "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "vendor/leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "gridcall_css": "gridmap.css",
}

#: what a standalone map folder needs from the vendor folder (not the source maps and ESM
#: builds, which only a developer's browser tools read)
VENDOR_PACKAGES = (
    "leaflet",
    "jquery",
    "bootstrap",
    "leaflet.awesome-markers",
    "fontawesome-free",
    "leaflet.markercluster",
)

#: Chinese first: the county's names must render in the control room's browsers (Debian's
#: fonts-noto-cjk, Windows' YaHei, macOS' PingFang), then Latin fallbacks.
FONT_STACK = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Micro Hei", "Noto Sans", "Helvetica Neue", Arial, sans-serif'
)

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_URL = re.compile(
    r"""https?://[^\s"'<>)\\]+|(?<=src=["'])//[^\s"'<>]+|(?<=href=["'])//[^\s"'<>]+"""
    r"""|(?<=url\()["']?//[^\s"'<>)]+""",
    re.IGNORECASE,
)


class OfflineAssetError(LookupError):
    """An element wants a script or stylesheet from the internet that we do not vendor."""

    def __str__(self) -> str:
        element, name, url = self.args
        return (
            f"{element} wants {name!r} from {url}: add the npm package to "
            "scripts/vendor-assets.sh and the file to map_ui.folium_offline.ASSET_FILES"
        )


@dataclass(frozen=True)
class Assets:
    """Where the browser finds ``map_ui/static``: ``/static`` when the app serves it, a
    relative folder name beside a map written to disk."""

    static_url: str = "/static"

    def url(self, relative: str) -> str:
        return f"{self.static_url.rstrip('/')}/{relative}"


SERVED = Assets("/static")


def _walk(element: Element) -> Iterator[Element]:
    yield element
    if isinstance(element, Figure):
        for part in (element.header, element.html, element.script):
            yield from _walk(part)
    for child in list(element._children.values()):
        yield from _walk(child)


def _local(element: Element, links: list[tuple[str, str]], assets: Assets) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, url in links:
        if name in ASSET_FILES:
            relative = ASSET_FILES[name]
            if relative is not None:
                out.append((name, assets.url(relative)))
        elif _EXTERNAL.match(url):
            raise OfflineAssetError(type(element).__name__, name, url)
        else:
            out.append((name, url))
    return out


def localise(root: Element, assets: Assets = SERVED) -> None:
    """Points every element's script and stylesheet links at our static folder.

    The lists are replaced on each instance, never mutated on the class: folium's own
    lists are shared module state that other maps in the process also read.
    """
    for element in _walk(root):
        if isinstance(element, JSCSSMixin):
            element.default_js = _local(element, list(element.default_js), assets)
            element.default_css = _local(element, list(element.default_css), assets)


class GridStyle(JSCSSMixin, MacroElement):
    """Our stylesheet (font stack, label and legend classes) on every map we draw."""

    _template = Template("")
    default_css = [("gridcall_css", "gridmap.css")]  # noqa: RUF012  (folium reads it so)

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GridStyle"


def offline_map(
    bounds: tuple[float, float, float, float] | None = None, **kwargs: Any
) -> folium.Map:
    """A folium map with no tile layer (our own layers are the base map), a metric scale
    bar, and our stylesheet; ``bounds`` (lon/lat) frames the view."""

    options: dict[str, Any] = {
        "tiles": None,
        "control_scale": False,
        "prefer_canvas": True,
        "zoom_start": 11,
    }
    if bounds is not None:
        options["location"] = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    options.update(kwargs)
    m = folium.Map(**options)
    GridStyle().add_to(m)
    m.add_child(MetricScale())
    if bounds is not None and bounds[2] > bounds[0]:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def render_html(m: folium.Map, assets: Assets = SERVED) -> str:
    """The whole standalone page of a map, with local asset links."""
    root = m.get_root()
    localise(root, assets)
    html: str = root.render()
    return html


@dataclass(frozen=True)
class MapParts:
    """A rendered map split for a page of our own: links and styles for ``<head>``, the
    map's ``<div>``, and its script; ``name`` is the Leaflet map's global variable."""

    name: str
    header: str
    html: str
    script: str


def map_parts(m: folium.Map, assets: Assets = SERVED) -> MapParts:
    """Renders once, then returns the pieces a jinja template places where it wants."""
    root = cast(Figure, m.get_root())
    localise(root, assets)
    root.render()
    return MapParts(
        name=str(m.get_name()),
        header=str(root.header.render()),
        html=str(root.html.render()),
        script=str(root.script.render()),
    )


def outside_urls(html: str) -> list[str]:
    """Every URL in ``html`` that is neither relative nor on this machine: what a closed
    intranet would fail to load."""
    found = []
    for url in _URL.findall(html):
        host = url.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
        if host not in ("localhost", "127.0.0.1", "[::1]"):
            found.append(url)
    return found


def write_map_folder(m: folium.Map, folder: str | Path, *, name: str = "index.html") -> Path:
    """Writes the map as ``folder/index.html`` with ``folder/static`` beside it: a folder
    that opens from a file share or a USB stick, with no server and no network."""
    out = Path(folder)
    static = out / "static"
    (static / "vendor").mkdir(parents=True, exist_ok=True)
    for package in VENDOR_PACKAGES:
        source = VENDOR_DIR / package
        if not source.is_dir():
            raise FileNotFoundError(
                f"{source} is missing: run scripts/vendor-assets.sh map_ui/static/vendor"
            )
        target = static / "vendor" / package
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.map", "*.esm.js"))
    for own in STATIC_DIR.glob("*.css"):
        shutil.copy2(own, static / own.name)
    page = out / name
    page.write_text(render_html(m, Assets("static")), encoding="utf-8")
    return page
