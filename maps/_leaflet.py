"""A small offline Leaflet page builder on top of folium.

folium assembles the page (map, layers, layer control); this module removes every CDN link
folium would add, inlines the vendored Leaflet and the project's own runtime
(``maps/static/onetrench/``), draws GeoJSON layers on one canvas renderer, and gives every element
a deterministic id so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import folium
import shapely
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from maps import assets
from maps._common import esc, script_json, to_lonlat
from onetrench.settings import Settings

LayerKind = Literal["base", "work", "finding", "bundle", "other"]

#: 綦江区 centre, used when a map has nothing to show.
QIJIANG_CENTRE = (29.03, 106.65)


@dataclass(slots=True)
class Feature:
    """One feature to draw: working-CRS geometry, popup parts, dates, style overrides.

    The popup is assembled in the browser from compact parts, so a 10k-work page stays small:
    ``title`` (escaped HTML), ``rows`` (``(label, value)`` pairs, *unescaped*; labels are stored
    once per page), ``extra`` (escaped HTML) and ``refs`` (indices into the page's table of
    finding blocks, each stored once however many features cite it).
    """

    geometry: BaseGeometry
    title: str = ""
    rows: Sequence[tuple[str, str]] = ()
    extra: str = ""
    refs: Sequence[int] = ()
    start: dt.date | None = None
    end: dt.date | None = None
    weight: float | None = None
    colour: str | None = None
    label: str = ""
    gantt: Sequence[Sequence[Any]] = ()

    def properties(self, labels: dict[str, int]) -> dict[str, Any]:
        """The GeoJSON properties (short keys); ``labels`` maps row labels to their page index."""
        props: dict[str, Any] = {}
        if self.title:
            props["t"] = self.title
        if self.rows:
            props["r"] = [[labels.setdefault(k, len(labels)), esc(v)] for k, v in self.rows]
        if self.extra:
            props["x"] = self.extra
        if self.refs:
            props["f"] = list(self.refs)
        if self.start is not None and self.end is not None:
            props["s"] = self.start.isoformat()
            props["e"] = self.end.isoformat()
        if self.weight is not None:
            props["w"] = self.weight
        if self.colour is not None:
            props["c"] = self.colour
        if self.label:
            props["l"] = self.label
        if self.gantt:
            props["g"] = [list(row) for row in self.gantt]
        return props


@dataclass(slots=True)
class LayerSpec:
    """One overlay: registry key, control label, Leaflet path style, optional casing style."""

    key: str
    name: str
    style: dict[str, Any]
    kind: LayerKind = "other"
    casing: dict[str, Any] | None = None
    features: list[Feature] = field(default_factory=list)
    show: bool = True
    point_radius: float = 6.0
    permanent_labels: bool = False


class _GeoLayer(Layer):
    """A GeoJSON overlay registered with the onetrench runtime (see ``static/onetrench/map.js``)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }}_data = {{ this.data }};
function {{ this.get_name() }}_style(base) {
  return function (f) {
    var s = Object.assign({}, base), p = f.properties || {};
    if (p.w) s.weight = p.w;
    if (p.c) { s.color = p.c; s.fillColor = p.c; }
    return s;
  };
}
function {{ this.get_name() }}_part(base, interactive) {
  var style = {{ this.get_name() }}_style(base);
  return L.geoJSON({{ this.get_name() }}_data, {
    style: style,
    interactive: interactive,
    smoothFactor: 1.5,
    pointToLayer: function (f, ll) {
      return L.circleMarker(ll, Object.assign({radius: {{ this.point_radius }}, interactive: interactive}, style(f)));
    }
  });
}
var {{ this.get_name() }}_parts = [];
{% if this.casing %}{{ this.get_name() }}_parts.push({{ this.get_name() }}_part({{ this.casing }}, false));{% endif %}
var {{ this.get_name() }}_main = {{ this.get_name() }}_part({{ this.style }}, true);
{{ this.get_name() }}_parts.push({{ this.get_name() }}_main);
var {{ this.get_name() }} = L.featureGroup({{ this.get_name() }}_parts);
onetrench.register({{ this.key }}, {{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.get_name() }}_main,
  {{ this.get_name() }}_parts, {kind: {{ this.kind }}, labels: {{ this.labels }},
  styles: [{% if this.casing %}{{ this.casing }}, {% endif %}{{ this.style }}]});
{% endmacro %}
"""
    )

    def __init__(self, spec: LayerSpec, data: str) -> None:
        super().__init__(name=spec.name, overlay=True, control=True, show=spec.show)
        self._name = "OtLayer"
        self.data = data
        self.key = script_json(spec.key)
        self.kind = script_json(spec.kind)
        self.style = script_json(spec.style)
        self.casing = script_json(spec.casing) if spec.casing else ""
        self.point_radius = spec.point_radius
        self.labels = "true" if spec.permanent_labels else "false"


class _Runtime(MacroElement):
    """Page-level runtime calls (config, panels, date filter), emitted after everything else."""

    _template = Template(
        "{% macro script(this, kwargs) %}{{ this.code.replace('__MAP__', this._parent.get_name()) }}{% endmacro %}"
    )

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "OtRuntime"
        if "</script" in code.lower():
            raise ValueError("runtime code must not contain </script>")
        self.code = code


def feature_collection(
    features: Sequence[Feature], working_crs: str, labels: dict[str, int]
) -> tuple[str, tuple[float, float, float, float] | None]:
    """GeoJSON FeatureCollection text (EPSG:4326) safe for a ``<script>``, and its lon/lat bounds."""
    features = [f for f in features if f.geometry is not None and not f.geometry.is_empty]
    if not features:
        return '{"type":"FeatureCollection","features":[]}', None
    lonlat = to_lonlat([f.geometry for f in features], working_crs)
    geo_texts = shapely.to_geojson(lonlat)
    parts = []
    for feat, geo in zip(features, geo_texts, strict=True):
        parts.append(f'{{"type":"Feature","geometry":{geo},"properties":{script_json(feat.properties(labels))}}}')
    xmin, ymin, xmax, ymax = shapely.total_bounds(lonlat)
    bounds = None if any(map(_isnan, (xmin, ymin, xmax, ymax))) else (xmin, ymin, xmax, ymax)
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}", bounds


def _isnan(value: float) -> bool:
    return bool(math.isnan(value))


class LeafletPage:
    """Assemble one offline Leaflet page: overlays, legend, title panel, date filter."""

    def __init__(self, *, settings: Settings, title: str) -> None:
        self.settings = settings
        self.title = title
        self.layers: list[LayerSpec] = []
        self.panels: list[tuple[str, str, str]] = []
        self.config: dict[str, Any] = {}
        self.date_filter_html: str | None = None
        self.focus_bounds: tuple[float, float, float, float] | None = None
        #: Escaped HTML blocks cited by features' ``refs`` (e.g. one per finding).
        self.blocks: list[str] = []

    def add_layer(self, spec: LayerSpec) -> None:
        """Add an overlay; overlays are drawn (and stacked) in the order they are added."""
        self.layers.append(spec)

    def add_panel(self, position: str, css_class: str, html: str) -> None:
        """Add a static HTML panel (already escaped) as a Leaflet control."""
        self.panels.append((position, css_class, html))

    def render(self) -> str:
        """Return the complete HTML document."""
        fig = Figure(title=esc(self.title))
        m = folium.Map(tiles=None, prefer_canvas=True, location=QIJIANG_CENTRE, zoom_start=12)
        # Offline: no CDN link at all; Leaflet and our runtime are inlined below.
        m.default_js = []
        m.default_css = []
        fig.add_child(m)
        header = fig.header
        # An inline icon, so the browser does not ask the server for /favicon.ico.
        header.add_child(Element('<link rel="icon" href="data:,">'), name="favicon")
        header.add_child(Element(assets.inline_style(assets.leaflet_css())), name="leaflet_css")
        header.add_child(Element(assets.inline_style(assets.project_css())), name="onetrench_css")
        header.add_child(Element(assets.inline_script(assets.leaflet_js())), name="leaflet_js")
        header.add_child(Element(assets.inline_script(assets.project_js())), name="onetrench_js")

        if self.settings.map_tile_url:
            folium.TileLayer(
                tiles=self.settings.map_tile_url,
                attr=esc(self.settings.map_tile_attribution or "底图 base map"),
                name="底图 Base map",
                overlay=False,
                control=True,
            ).add_to(m)

        bounds: list[tuple[float, float, float, float]] = []
        labels: dict[str, int] = {}
        map_name = "__MAP__"  # resolved at render time, after ids are made deterministic
        for spec in self.layers:
            data, bb = feature_collection(spec.features, self.settings.working_crs, labels)
            if bb is not None:
                bounds.append(bb)
            _GeoLayer(spec, data).add_to(m)
        folium.LayerControl(collapsed=False, position="topright").add_to(m)

        box = self.focus_bounds or (
            (
                min(b[0] for b in bounds),
                min(b[1] for b in bounds),
                max(b[2] for b in bounds),
                max(b[3] for b in bounds),
            )
            if bounds
            else None
        )

        label_list = [esc(k) for k, _ in sorted(labels.items(), key=lambda kv: kv[1])]
        runtime = [
            f"onetrench.config = {script_json(self.config)};",
            f"onetrench.labels = {script_json(label_list)};",
            f"onetrench.blocks = {script_json(self.blocks)};",
            f"L.control.scale({{imperial: false}}).addTo({map_name});",
        ]
        for position, css_class, html in self.panels:
            args = ", ".join(script_json(v) for v in (position, css_class, html))
            runtime.append(f"onetrench.htmlControl({map_name}, {args});")
        if self.date_filter_html is not None:
            runtime.append(f"onetrench.dateControl({map_name}, {script_json(self.date_filter_html)});")
        if box is not None:
            # Not animated: the page is complete (and a screenshot sharp) as soon as it is ready.
            bounds_js = script_json([[box[1], box[0]], [box[3], box[2]]])
            runtime.append(f"{map_name}.fitBounds({bounds_js}, {{padding: [20, 20], animate: false}});")
        runtime.append(f"onetrench.start({map_name});")
        runtime.append("onetrench.ready = true;")
        # Added last, so its script follows the map's, the layers' and the layer control's.
        _Runtime("\n".join(runtime)).add_to(m)
        _deterministic_ids(fig)
        return str(fig.render())

    @staticmethod
    def bounds_of(geometries: Sequence[BaseGeometry], working_crs: str) -> tuple[float, float, float, float] | None:
        """Lon/lat bounds of working-CRS geometries, or ``None`` when empty."""
        geoms = [g for g in geometries if g is not None and not g.is_empty]
        if not geoms:
            return None
        xmin, ymin, xmax, ymax = shapely.total_bounds(to_lonlat(geoms, working_crs))
        return (float(xmin), float(ymin), float(xmax), float(ymax))


def _deterministic_ids(root: Element) -> None:
    """Replace branca's random element ids by a counter, so output is byte-stable."""
    counter = itertools.count(1)
    stack = [root]
    seen: set[int] = set()
    while stack:
        el = stack.pop(0)
        if id(el) in seen:
            continue
        seen.add(id(el))
        el._id = f"{next(counter):05d}"
        children = list(getattr(el, "_children", {}).values())
        if isinstance(el, Figure):
            children = [el.header, el.html, el.script, *children]
        stack.extend(children)
