"""A simple static overview map (``map.png``) drawn with matplotlib, used when no map is supplied.

Colours follow CJJ 61 (design.md, "Map conventions"). Labels are ASCII only (utility codes and a
scale bar), so no CJK font is needed by matplotlib. The image is deterministic: Agg renderer,
fixed size and dpi, no software/date metadata.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from shapely.geometry.base import BaseGeometry

from onetrench.domain import Bundle, Road, UtilityKind, Work

#: CJJ 61 utility colours.
UTILITY_COLOURS: dict[UtilityKind, str] = {
    UtilityKind.WATER: "#00a0e9",
    UtilityKind.DRAINAGE: "#8b5a2b",
    UtilityKind.GAS: "#e4007f",
    UtilityKind.HEAT: "#f39800",
    UtilityKind.POWER: "#e60012",
    UtilityKind.TELECOM: "#009944",
}


def _lines(geom: BaseGeometry) -> Iterable[tuple[Sequence[float], Sequence[float]]]:
    kind = geom.geom_type
    if kind in ("LineString", "LinearRing"):
        xs, ys = geom.xy
        yield list(xs), list(ys)
    elif kind == "Polygon":
        yield from _lines(geom.exterior)
        for ring in geom.interiors:
            yield from _lines(ring)
    elif kind == "Point":
        yield [geom.x], [geom.y]
    else:
        for part in getattr(geom, "geoms", ()):
            yield from _lines(part)


def render_map_png(bundle: Bundle, works: Sequence[Work], roads: Mapping[str, Road], *, dpi: int = 110) -> bytes:
    """Return a PNG overview of the bundle: roads grey, footprint shaded, works in CJJ 61 colours."""
    fig = Figure(figsize=(8, 6), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_aspect("equal")
    focus = bundle.footprint if bundle.footprint is not None and not bundle.footprint.is_empty else None
    for road_id in sorted({s.road_id for s in bundle.stretches}):
        road = roads.get(road_id)
        if road is None:
            continue
        for xs, ys in _lines(road.geometry):
            ax.plot(xs, ys, color="#b0b0b0", linewidth=6, solid_capstyle="butt", zorder=1)
    if focus is not None:
        for xs, ys in _lines(focus):
            ax.fill(xs, ys, color="#f5d76e", alpha=0.5, zorder=2, linewidth=0)
    seen: list[UtilityKind] = []
    for w in sorted(works, key=lambda w: w.work_id):
        colour = UTILITY_COLOURS[w.utility]
        for xs, ys in _lines(w.geometry):
            ax.plot(xs, ys, color=colour, linewidth=2.2, zorder=3, marker="o" if len(xs) == 1 else None)
        if w.utility not in seen:
            seen.append(w.utility)
    if focus is not None:
        minx, miny, maxx, maxy = focus.bounds
        pad = max(maxx - minx, maxy - miny, 50.0) * 0.15
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
    handles = [Line2D([0], [0], color=UTILITY_COLOURS[u], linewidth=3, label=u.value) for u in seen]
    handles.append(Line2D([0], [0], color="#f5d76e", linewidth=8, label="joint trench"))
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title(f"bundle {bundle.bundle_id}" if bundle.bundle_id.isascii() else "bundle", fontsize=10)
    ax.tick_params(labelsize=7)
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_xlabel("x (m)", fontsize=8)
    ax.set_ylabel("y (m)", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.1)
    return buf.getvalue()
