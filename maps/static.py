"""Static PNG maps (matplotlib) of the review layers, for reports and permit packages.

Drawn in the working CRS (metres, conformal Gauss-Krüger), with the same colours as the review
map, a bilingual legend, a scale bar and a north arrow. Output is byte-stable: fixed size,
fixed style, no timestamps.

(The vendored front-end files live in the ``maps/static/`` directory; this module is
``maps.static`` — Python resolves the module, the directory holds no code.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from maps._common import (
    BUNDLE_COLOUR,
    FINDING_COLOURS,
    MORATORIUM_COLOUR,
    ROAD_COLOUR,
    SHARED_KINDS,
    UTILITY_COLOURS,
    finding_geometry,
    moratorium_until,
)
from maps._mpl import bilingual, displayable, png_bytes, style
from onetrench.domain import Bundle, Finding, FindingKind, Road, RoadClass, UtilityKind, Work
from onetrench.errors import InputError
from onetrench.settings import Settings

Bounds = tuple[float, float, float, float]

ROAD_LINEWIDTHS: dict[RoadClass, float] = {
    RoadClass.EXPRESSWAY: 5.0,
    RoadClass.ARTERIAL: 4.0,
    RoadClass.SECONDARY: 3.0,
    RoadClass.BRANCH: 2.0,
}
#: Road names are written only when at most this many roads are in view.
MAX_ROAD_LABELS = 40


def _lines(geom: BaseGeometry | None) -> list[list[tuple[float, float]]]:
    """Coordinate lists of every line (and polygon ring) of ``geom``."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, LineString):
        return [[(x, y) for x, y, *_ in geom.coords]]
    if isinstance(geom, Polygon):
        return [[(x, y) for x, y, *_ in geom.exterior.coords]]
    if isinstance(geom, MultiLineString | MultiPolygon) or hasattr(geom, "geoms"):
        out: list[list[tuple[float, float]]] = []
        for part in geom.geoms:
            out.extend(_lines(part))
        return out
    return []


def _points(geom: BaseGeometry | None) -> list[tuple[float, float]]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Point):
        return [(geom.x, geom.y)]
    if hasattr(geom, "geoms"):
        return [p for part in geom.geoms for p in _points(part)]
    return []


def _polygon_patches(geom: BaseGeometry | None) -> list[PathPatch]:
    if geom is None or geom.is_empty:
        return []
    polys = [geom] if isinstance(geom, Polygon) else [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    patches = []
    for poly in polys:
        verts: list[tuple[float, float]] = []
        codes: list[Any] = []
        for ring in [poly.exterior, *poly.interiors]:
            coords = [(x, y) for x, y, *_ in ring.coords]
            verts.extend(coords)
            codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY])
        patches.append(PathPatch(MplPath(verts, codes)))
    return patches


def _nice_scale(width_m: float) -> float:
    """A round scale-bar length of about a fifth of the map width."""
    target = max(width_m / 5, 1.0)
    exp = 10 ** math.floor(math.log10(target))
    return float(max(m * exp for m in (1, 2, 5) if m * exp <= target))


def _extent(geoms: Sequence[BaseGeometry], focus: BaseGeometry | None, margin: float) -> Bounds:
    src = (
        [focus] if focus is not None and not focus.is_empty else [g for g in geoms if g is not None and not g.is_empty]
    )
    if not src:
        raise InputError("地图中没有可绘制的要素", "nothing to draw on the map (no works, roads or focus)")
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(src))
    pad = max(xmax - xmin, ymax - ymin) * margin + 20.0
    return (xmin - pad, ymin - pad, xmax + pad, ymax + pad)


def _fit_aspect(extent: Bounds, ratio: float) -> Bounds:
    """Grow ``extent`` so that width / height equals ``ratio`` (metres are metres both ways)."""
    xmin, ymin, xmax, ymax = extent
    w, h = xmax - xmin, ymax - ymin
    if w / h < ratio:
        grow = (h * ratio - w) / 2
        return (xmin - grow, ymin, xmax + grow, ymax)
    grow = (w / ratio - h) / 2
    return (xmin, ymin - grow, xmax, ymax + grow)


def draw_layers(
    ax: Axes,
    *,
    works: Sequence[Work],
    roads: Sequence[Road],
    findings: Sequence[Finding],
    bundles: Sequence[Bundle],
    settings: Settings,
    extent: Bounds,
    road_labels: bool = True,
) -> None:
    """Draw roads, moratoria, bundles, findings and works on a matplotlib ``Axes`` (working CRS)."""
    roads_by_id = {r.road_id: r for r in roads}
    as_of = min((w.start for w in works), default=None)
    # Roads.
    segs, widths = [], []
    for road in roads:
        for line in _lines(road.geometry):
            segs.append(line)
            widths.append(ROAD_LINEWIDTHS.get(road.road_class, 2.0))
    # Thinner lines on district-scale maps (as the web map does at low zoom); findings keep a floor.
    k = min(1.0, max(0.25, (2500.0 / max(extent[2] - extent[0], extent[3] - extent[1], 1.0)) ** 0.7))
    kf = max(k, 0.45)
    ax.add_collection(
        LineCollection(segs, colors=ROAD_COLOUR, linewidths=[w * k for w in widths], capstyle="round", zorder=1)
    )
    mor = [
        line
        for road in roads
        if (until := moratorium_until(road, settings)) is not None and (as_of is None or until >= as_of)
        for line in _lines(road.geometry)
    ]
    if mor:
        ax.add_collection(
            LineCollection(
                mor, colors=MORATORIUM_COLOUR, linewidths=max(1.0, 2.2 * k), linestyles=(0, (1.5, 3)), zorder=2
            )
        )
    # Bundles.
    patches = [p for b in bundles for p in _polygon_patches(b.footprint)]
    if patches:
        ax.add_collection(
            PatchCollection(
                patches,
                facecolor=BUNDLE_COLOUR + "14",
                edgecolor=BUNDLE_COLOUR,
                linewidth=1.4,
                linestyle=(0, (5, 3)),
                zorder=3,
            )
        )
    # Findings.
    for kind in (*SHARED_KINDS[::-1], *(k for k in FindingKind if k not in SHARED_KINDS)):
        geoms = [finding_geometry(f, roads_by_id) for f in findings if f.kind is kind]
        lines = [ln for g in geoms for ln in _lines(g)]
        pts = [p for g in geoms for p in _points(g)]
        colour = FINDING_COLOURS[kind]
        if kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD:
            ax.add_collection(LineCollection(lines, colors="#000000", linewidths=11 * kf, capstyle="butt", zorder=4))
            ax.add_collection(LineCollection(lines, colors=colour, linewidths=7.5 * kf, capstyle="butt", zorder=4.1))
        elif kind is FindingKind.SAME_ROAD_SAME_PERIOD:
            ax.add_collection(
                LineCollection(lines, colors=colour, linewidths=9 * kf, alpha=0.6, capstyle="butt", zorder=4)
            )
        elif lines:
            ax.add_collection(
                LineCollection(lines, colors=colour, linewidths=5 * kf, alpha=0.6, linestyles=(0, (2, 2)), zorder=4)
            )
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(xs, ys, s=60, c=colour, edgecolors="#000000", linewidths=0.8, zorder=4.2)
    # Works.
    for utility in UtilityKind:
        kind_works = [w for w in works if w.utility is utility]
        lines = [ln for w in kind_works for ln in _lines(w.geometry)]
        if lines:
            ax.add_collection(
                LineCollection(
                    lines, colors=UTILITY_COLOURS[utility], linewidths=max(0.6, 1.8 * k), capstyle="round", zorder=5
                )
            )
    # Road names.
    if road_labels:
        box = shapely.box(*extent)
        visible = [r for r in roads if r.geometry.intersects(box)]
        if len(visible) <= MAX_ROAD_LABELS:
            for road in visible:
                clipped = road.geometry.intersection(box)
                if clipped.is_empty or clipped.length == 0:
                    continue
                mid = clipped.interpolate(0.5, normalized=True)
                ax.text(
                    mid.x,
                    mid.y,
                    displayable(road.name) or road.road_id,
                    fontsize=8,
                    ha="center",
                    va="center",
                    zorder=6,
                    color="#333333",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "#ffffffcc", "ec": "none"},
                )


def _legend(ax: Axes, works: Sequence[Work], findings: Sequence[Finding], bundles: Sequence[Bundle]) -> None:
    handles: list[Any] = []
    for utility in UtilityKind:
        if any(w.utility is utility for w in works):
            handles.append(
                Line2D([], [], color=UTILITY_COLOURS[utility], lw=2, label=bilingual(utility.zh, utility.en))
            )
    kinds = {f.kind for f in findings}
    if FindingKind.SAME_ROAD_DIFFERENT_PERIOD in kinds:
        handles.append(
            Patch(
                facecolor=FINDING_COLOURS[FindingKind.SAME_ROAD_DIFFERENT_PERIOD],
                edgecolor="#000000",
                linewidth=1.5,
                label=bilingual("重复开挖", "dug twice (different period)"),
            )
        )
    if FindingKind.SAME_ROAD_SAME_PERIOD in kinds:
        handles.append(
            Patch(
                facecolor=FINDING_COLOURS[FindingKind.SAME_ROAD_SAME_PERIOD],
                alpha=0.6,
                label=bilingual("同期可联合开挖", "same period: dig once"),
            )
        )
    for kind in FindingKind:
        if kind in kinds and kind not in (FindingKind.SAME_ROAD_DIFFERENT_PERIOD, FindingKind.SAME_ROAD_SAME_PERIOD):
            handles.append(Line2D([], [], color=FINDING_COLOURS[kind], lw=4, ls=":", label=bilingual(kind.zh, kind.en)))
    if bundles:
        handles.append(
            Patch(facecolor="none", edgecolor=BUNDLE_COLOUR, linestyle="--", label=bilingual("联合开挖范围", "bundle"))
        )
    handles.append(Line2D([], [], color=MORATORIUM_COLOUR, lw=2, ls=":", label=bilingual("道路保护期", "moratorium")))
    handles.append(Line2D([], [], color=ROAD_COLOUR, lw=3, label=bilingual("道路", "road")))
    ax.legend(handles=handles, loc="lower left", fontsize=7.5, framealpha=0.92)


def _scale_and_north(ax: Axes, extent: Bounds) -> None:
    xmin, ymin, xmax, ymax = extent
    length = _nice_scale(xmax - xmin)
    x0 = xmax - (xmax - xmin) * 0.05 - length
    y0 = ymin + (ymax - ymin) * 0.05
    ax.plot([x0, x0 + length], [y0, y0], color="#000000", lw=3, solid_capstyle="butt", zorder=7)
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (ymax - ymin) * 0.012, text, ha="center", va="bottom", fontsize=8, zorder=7)
    nx, ny = xmax - (xmax - xmin) * 0.05, ymax - (ymax - ymin) * 0.12
    ax.annotate(
        "N",
        xy=(nx, ny + (ymax - ymin) * 0.07),
        xytext=(nx, ny),
        ha="center",
        va="center",
        fontsize=10,
        arrowprops={"arrowstyle": "-|>", "color": "#000000", "lw": 1.5},
        zorder=7,
    )


def render_figure(
    *,
    works: Sequence[Work],
    roads: Sequence[Road],
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    settings: Settings,
    title: str = "",
    size_in: tuple[float, float] = (10.0, 7.5),
    focus: BaseGeometry | None = None,
    margin: float = 0.06,
) -> Figure:
    """Build the matplotlib figure of the static map (call inside :func:`maps._mpl.style`)."""
    rect = (0.01, 0.01, 0.98, 0.92 if title else 0.98)
    extent = _fit_aspect(
        _extent([*(w.geometry for w in works), *(r.geometry for r in roads)], focus, margin),
        (size_in[0] * rect[2]) / (size_in[1] * rect[3]),
    )
    fig = Figure(figsize=size_in)
    ax = fig.add_axes(rect)
    ax.set_facecolor("#f4f3ee")
    draw_layers(ax, works=works, roads=roads, findings=findings, bundles=bundles, settings=settings, extent=extent)
    xmin, ymin, xmax, ymax = extent
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    _legend(ax, works, findings, bundles)
    _scale_and_north(ax, extent)
    if title:
        fig.suptitle(displayable(title), fontsize=12, y=0.985)
    ax.text(
        0.995,
        0.005,
        f"{settings.working_crs}",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=6,
        color="#666666",
    )
    return fig


def render_png(
    *,
    works: Sequence[Work],
    roads: Sequence[Road],
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    settings: Settings,
    title: str = "綦江区道路联合开挖审查图 Joint road excavation review map",
    size_in: tuple[float, float] = (10.0, 7.5),
    dpi: float = 150.0,
    focus: BaseGeometry | None = None,
) -> bytes:
    """Render the review layers as a PNG (bytes), byte-stable for the same input.

    Parameters
    ----------
    works, roads, findings, bundles
        Domain objects in the working CRS.
    settings
        Working CRS (noted on the map) and moratorium years.
    title
        Figure title, ``"中文 English"``; without a CJK font only its non-CJK part is drawn.
    size_in, dpi
        Figure size in inches and resolution.
    focus
        Geometry to frame (e.g. a bundle footprint); default all works and roads.

    Raises
    ------
    InputError
        When there is nothing to draw.
    """
    with style():
        fig = render_figure(
            works=works,
            roads=roads,
            findings=findings,
            bundles=bundles,
            settings=settings,
            title=title,
            size_in=size_in,
            focus=focus,
        )
        return png_bytes(fig, dpi=dpi)
