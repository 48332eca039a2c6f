"""Per-road timeline (Gantt): who digs which stretch of one road when, before and after.

One row per work on the road, labelled with its utility, owner and stretch (measures along the
centreline). The planned dates are drawn hatched ("before"); proposed dates (a bundle's joint
window or an explicit proposal) solid ("after"). 重复开挖 pairs are noted on the right;
blackout periods and the road's protection period are shaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
import shapely
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from shapely.geometry import LineString, MultiLineString, Point

from maps._common import UTILITY_COLOURS, esc, moratorium_until
from maps._mpl import bilingual, displayable, png_bytes, style, svg_text
from onetrench.domain import Bundle, Finding, FindingKind, Interval, Occupancy, Road, Work
from onetrench.errors import InputError
from onetrench.settings import Settings

Proposal = tuple[dt.date, dt.date]


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One work on the road: planned dates, proposed dates (or ``None``) and its stretches."""

    work: Work
    intervals: tuple[Interval, ...]
    proposed: Proposal | None


def _centreline(road: Road) -> LineString:
    geom = road.geometry
    if isinstance(geom, MultiLineString):
        geom = LineString([c for part in geom.geoms for c in part.coords])
    if not isinstance(geom, LineString) or geom.is_empty:
        raise InputError(f"道路 {road.road_id} 的中心线不是线要素", f"road {road.road_id} centreline is not a line")
    return geom


def stretches_on_road(work: Work, road: Road) -> tuple[Interval, ...]:
    """Where ``work`` runs inside ``road``'s corridor, as measures along the centreline (merged).

    A light fallback for when no :class:`~onetrench.domain.Occupancy` is given: the work is
    clipped to the centreline buffered by half the red-line width (flat caps), and each piece
    is projected onto the centreline.

    Examples
    --------
    >>> from onetrench.domain import RoadClass, UtilityKind
    >>> road = Road(road_id="R", name="r", road_class=RoadClass.BRANCH, width_m=16,
    ...             geometry=LineString([(0, 0), (500, 0)]))
    >>> w = Work(work_id="W", utility=UtilityKind.GAS, owner="o", geometry=LineString([(100, 3), (700, 3)]),
    ...          start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 9))
    >>> stretches_on_road(w, road)
    (Interval(from_m=100.0, to_m=500.0),)
    """
    line = _centreline(road)
    corridor = line.buffer(road.width_m / 2, cap_style="flat")
    part = work.geometry.intersection(corridor)
    pieces = getattr(part, "geoms", [part])
    raw = []
    for piece in pieces:
        if piece.is_empty:
            continue
        coords = list(piece.exterior.coords) if hasattr(piece, "exterior") else list(piece.coords)
        ms = [line.project(Point(c[0], c[1])) for c in coords]
        if max(ms) - min(ms) > 0:
            raw.append((min(ms), max(ms)))
    raw.sort()
    merged: list[list[float]] = []
    for a, b in raw:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple(Interval(round(a, 1), round(b, 1)) for a, b in merged)


def timeline_rows(
    road: Road,
    works: Sequence[Work],
    *,
    occupancies: Sequence[Occupancy] = (),
    bundles: Sequence[Bundle] = (),
    proposed: Mapping[str, Proposal] | None = None,
) -> list[TimelineRow]:
    """The works on ``road`` (from ``occupancies`` when given, else geometry), sorted by start.

    A work's proposed dates are ``proposed[work_id]`` if given, else the joint window of a
    bundle it belongs to when that differs from its planned dates.
    """
    occ = {o.work_id: o.intervals for o in occupancies if o.road_id == road.road_id and o.intervals}
    window = {wid: (b.window_start, b.window_end) for b in bundles for wid in b.work_ids}
    if not occupancies and works:  # cheap vectorised prefilter before clipping each work
        corridor = _centreline(road).buffer(road.width_m / 2, cap_style="flat")
        hits = shapely.intersects(np.array([w.geometry for w in works], dtype=object), corridor)
        works = [w for w, hit in zip(works, hits, strict=True) if hit]
    rows = []
    for w in works:
        intervals = occ.get(w.work_id) if occupancies else stretches_on_road(w, road)
        if not intervals:
            continue
        prop = (proposed or {}).get(w.work_id) or window.get(w.work_id)
        if prop is not None and prop == (w.start, w.end):
            prop = None
        rows.append(TimelineRow(work=w, intervals=tuple(intervals), proposed=prop))
    rows.sort(key=lambda r: (r.work.start, r.work.work_id))
    return rows


def _num(day: dt.date) -> float:
    """Matplotlib's date number of ``day``."""
    return float(mdates.date2num(day))


def _km(m: float) -> str:
    """Chainage notation, e.g. ``K0+120``."""
    return f"K{int(m // 1000)}+{round(m % 1000):03d}"


def timeline_figure(
    road: Road,
    rows: Sequence[TimelineRow],
    *,
    findings: Sequence[Finding] = (),
    settings: Settings,
    width_in: float = 10.0,
) -> Figure:
    """The Gantt figure (call inside :func:`maps._mpl.style`)."""
    height = 1.5 + 0.45 * max(1, len(rows))
    fig = Figure(figsize=(width_in, height))
    ax = fig.add_axes((0.28, 0.75 / height, 0.47, (height - 0.75 - 0.5) / height))
    dates = [d for r in rows for d in (r.work.start, r.work.end, *(r.proposed or ()))]
    lo = min(dates, default=dt.date.today()) - dt.timedelta(days=7)
    hi = max(dates, default=dt.date.today()) + dt.timedelta(days=7)
    # Shading: blackouts and the road's protection period.
    for b in settings.blackouts:
        if (not b.road_ids or road.road_id in b.road_ids) and b.start <= hi and b.end >= lo:
            ax.axvspan(_num(b.start), _num(b.end + dt.timedelta(days=1)), color="#cfd8dc", alpha=0.7, lw=0, zorder=0)
    until = moratorium_until(road, settings)
    if until is not None and until >= lo and road.last_works_date is not None:
        ax.axvspan(
            _num(max(lo, road.last_works_date)), _num(min(hi, until)), color="#ffcdd2", alpha=0.5, lw=0, zorder=0
        )
    twice = {
        wid: [o for o in f.work_ids if o != wid]
        for f in findings
        if f.kind is FindingKind.SAME_ROAD_DIFFERENT_PERIOD and f.road_id == road.road_id
        for wid in f.work_ids
    }
    labels = []
    for i, row in enumerate(rows):
        w = row.work
        y = len(rows) - 1 - i
        colour = UTILITY_COLOURS[w.utility]
        start = _num(w.start)
        span = _num(w.end + dt.timedelta(days=1)) - start
        if row.proposed is None:
            ax.barh(y, span, left=start, height=0.55, color=colour, edgecolor=colour, zorder=2)
        else:
            ax.barh(y, span, left=start, height=0.55, color="none", edgecolor=colour, hatch="///", lw=1.2, zorder=2)
            ps = _num(row.proposed[0])
            pspan = _num(row.proposed[1] + dt.timedelta(days=1)) - ps
            ax.barh(y, pspan, left=ps, height=0.3, color=colour, edgecolor="#000000", lw=0.6, zorder=3)
        if w.earliest_start is not None or w.latest_end is not None:
            ax.plot(
                [_num(w.window_start), _num(w.window_end + dt.timedelta(days=1))],
                [y - 0.36, y - 0.36],
                color=colour,
                lw=1,
                ls=":",
                zorder=1,
            )
        stretch = "，".join(f"{_km(iv.from_m)}–{_km(iv.to_m)}" for iv in row.intervals)
        labels.append(displayable(f"{w.work_id} {w.utility.zh} {w.owner}") + f"\n{stretch}")
        if w.work_id in twice:
            ax.text(
                1.01,
                y,
                displayable(f"重复开挖 dug twice with {', '.join(twice[w.work_id])}"),
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=7.5,
                color="#b00020",
            )
    ax.set_yticks(range(len(rows)), list(reversed(labels)), fontsize=7.5)
    ax.set_ylim(-0.7, max(1, len(rows)) - 0.3)
    ax.set_xlim(_num(lo), _num(hi))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=8))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.tick_params(axis="x", labelsize=7.5)
    ax.grid(axis="x", color="#dddddd", lw=0.6, zorder=0)
    title = displayable(f"{road.name}（{road.road_id}）施工时序 ") + "timeline"
    fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    handles = [
        Patch(facecolor="#888888", label=bilingual("计划", "planned")),
        Patch(
            facecolor="none", edgecolor="#888888", hatch="///", label=bilingual("原计划（调整前）", "planned, before")
        ),
        Patch(facecolor="#888888", edgecolor="#000000", label=bilingual("建议（调整后）", "proposed, after")),
        Patch(facecolor="#cfd8dc", label=bilingual("禁止施工时段", "blackout")),
        Patch(facecolor="#ffcdd2", label=bilingual("道路保护期", "moratorium")),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=7, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig


def _build(
    road: Road,
    works: Sequence[Work],
    *,
    settings: Settings,
    occupancies: Sequence[Occupancy],
    findings: Sequence[Finding],
    bundles: Sequence[Bundle],
    proposed: Mapping[str, Proposal] | None,
) -> tuple[list[TimelineRow], Figure]:
    rows = timeline_rows(road, works, occupancies=occupancies, bundles=bundles, proposed=proposed)
    return rows, timeline_figure(road, rows, findings=findings, settings=settings)


def road_timeline(
    road: Road,
    works: Sequence[Work],
    *,
    settings: Settings,
    occupancies: Sequence[Occupancy] = (),
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    proposed: Mapping[str, Proposal] | None = None,
) -> str:
    """The road's timeline as a self-contained HTML document (inline SVG, no script).

    Parameters
    ----------
    road
        The selected road.
    works
        Candidate works; those not on the road (no occupancy / outside its corridor) are skipped.
    settings
        Blackouts and moratorium years (shaded).
    occupancies
        Detector output; when given it decides which works are on the road and where.
    findings
        重复开挖 findings on this road are noted beside their rows.
    bundles, proposed
        The "after" dates: a bundle's joint window, or explicit ``work_id → (start, end)``.
    """
    with style():
        rows, fig = _build(
            road,
            works,
            settings=settings,
            occupancies=occupancies,
            findings=findings,
            bundles=bundles,
            proposed=proposed,
        )
        svg = svg_text(fig)
    table = "".join(
        f"<tr><td>{esc(r.work.work_id)}</td><td>{esc(r.work.utility.zh)} {esc(r.work.utility.en)}</td>"
        f"<td>{esc(r.work.owner)}</td><td>{esc(r.work.start.isoformat())} — {esc(r.work.end.isoformat())}</td>"
        f"<td>{esc(f'{r.proposed[0].isoformat()} — {r.proposed[1].isoformat()}' if r.proposed else '')}</td>"
        f"<td>{esc('，'.join(f'{_km(iv.from_m)}–{_km(iv.to_m)}' for iv in r.intervals))}</td></tr>"
        for r in rows
    )
    title = f"{road.name}（{road.road_id}）施工时序 Timeline"
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f'<link rel="icon" href="data:,"><title>{esc(title)}</title>'
        "<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:12px}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
        "svg{max-width:100%;height:auto}</style></head><body>"
        f"<h1 style='font-size:18px'>{esc(title)}</h1>{svg}"
        "<table><tr><th>工程 Work</th><th>管线 Utility</th><th>建设单位 Owner</th><th>计划 Planned</th>"
        f"<th>建议 Proposed</th><th>路段 Stretch</th></tr>{table}</table></body></html>\n"
    )


def timeline_svg(
    road: Road,
    works: Sequence[Work],
    *,
    settings: Settings,
    occupancies: Sequence[Occupancy] = (),
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    proposed: Mapping[str, Proposal] | None = None,
) -> str:
    """The timeline chart alone as an inline ``<svg>`` element, or ``""`` when no work is on the road."""
    with style():
        rows, fig = _build(
            road, works, settings=settings, occupancies=occupancies, findings=findings, bundles=bundles,
            proposed=proposed,
        )  # fmt: skip
        return svg_text(fig) if rows else ""


def road_timeline_png(
    road: Road,
    works: Sequence[Work],
    *,
    settings: Settings,
    occupancies: Sequence[Occupancy] = (),
    findings: Sequence[Finding] = (),
    bundles: Sequence[Bundle] = (),
    proposed: Mapping[str, Proposal] | None = None,
    dpi: float = 150.0,
) -> bytes:
    """The road's timeline as PNG bytes (byte-stable), for the permit package."""
    with style():
        _, fig = _build(
            road,
            works,
            settings=settings,
            occupancies=occupancies,
            findings=findings,
            bundles=bundles,
            proposed=proposed,
        )
        return png_bytes(fig, dpi=dpi)
