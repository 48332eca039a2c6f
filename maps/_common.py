"""Shared helpers of the maps layer: colours, labels, reprojection, escaping, moratoria.

Everything here is pure: it takes domain objects (working CRS) and returns plain values.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from geo.crs import transformer
from onetrench.domain import Finding, FindingKind, Interval, Road, UtilityKind, Work, WorksKind
from onetrench.settings import Settings

#: Pipeline colours after the usual Chinese pipeline-map convention (CJJ 61).
UTILITY_COLOURS: dict[UtilityKind, str] = {
    UtilityKind.WATER: "#00a0e9",  # 天蓝 sky blue
    UtilityKind.DRAINAGE: "#8b4513",  # 褐 brown
    UtilityKind.GAS: "#e4007f",  # 粉红/品红 pink-magenta
    UtilityKind.HEAT: "#ff8c00",  # 橙 orange
    UtilityKind.POWER: "#e60012",  # 红 red
    UtilityKind.TELECOM: "#009944",  # 绿 green
}

#: Highlight colours of findings; chosen away from every utility hue so they stand out.
FINDING_COLOURS: dict[FindingKind, str] = {
    FindingKind.SAME_ROAD_DIFFERENT_PERIOD: "#ffd400",  # warning-tape yellow (with black edge)
    FindingKind.SAME_ROAD_SAME_PERIOD: "#8e6fd8",  # violet: a joint excavation candidate
    FindingKind.MORATORIUM: "#37474f",
    FindingKind.CLEARANCE: "#ff5722",
    FindingKind.BLACKOUT: "#546e7a",
    FindingKind.OUTSIDE_DISTRICT: "#000000",
    FindingKind.OFF_ROAD: "#9e9e9e",
}

#: Edge (casing) colour drawn under a finding highlight, or ``None`` for no casing.
FINDING_CASING: dict[FindingKind, str | None] = {FindingKind.SAME_ROAD_DIFFERENT_PERIOD: "#000000"}

ROAD_COLOUR = "#9a9a9a"
MORATORIUM_COLOUR = "#263238"
BUNDLE_COLOUR = "#1a237e"
LONLAT_CRS = "EPSG:4326"

#: Findings drawn as shared stretches (the heart of the rule).
SHARED_KINDS: tuple[FindingKind, ...] = (FindingKind.SAME_ROAD_DIFFERENT_PERIOD, FindingKind.SAME_ROAD_SAME_PERIOD)


def esc(value: object) -> str:
    """HTML-escape any value for display (quotes included).

    Examples
    --------
    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return html.escape("" if value is None else str(value), quote=True)


def script_json(value: Any) -> str:
    r"""Serialise ``value`` as JSON that is safe inside an HTML ``<script>`` element.

    ``</`` and ``<!--`` are escaped so no string can close the element or open a comment.

    Examples
    --------
    >>> print(script_json({"a": "</script>"}))
    {"a":"<\/script>"}
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return (
        text.replace("</", "<\\/")
        .replace("<!--", "\\u003c!--")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def label(enum_member: Any) -> str:
    """``"中文 English"`` label of a :class:`onetrench.domain.LabelledEnum` member."""
    return f"{enum_member.zh} {enum_member.en}"


def to_lonlat(geometries: Sequence[BaseGeometry | None], working_crs: str, *, decimals: int = 6) -> list[BaseGeometry]:
    """Reproject working-CRS geometries to longitude/latitude (EPSG:4326 ≈ CGCS2000), rounded.

    Six decimals are about 0.1 m, plenty for a review map and much smaller than full precision.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> p = to_lonlat([Point(500000, 3250000)], "EPSG:4545")[0]  # on the central meridian 108°E
    >>> p.x, 29.3 < p.y < 29.4
    (108.0, True)
    """
    lonlat = transformer(working_crs, LONLAT_CRS)

    def _fn(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        lon, lat = lonlat.transform(xs, ys)
        return np.column_stack([np.round(lon, decimals), np.round(lat, decimals)])

    arr = np.array([g if g is not None else shapely.Point() for g in geometries], dtype=object)
    if arr.size == 0:
        return []
    out = shapely.transform(shapely.force_2d(arr), lambda c: _fn(c[:, 0], c[:, 1]))
    return list(out)


def stretch_geometry(road: Road, intervals: Iterable[Interval]) -> BaseGeometry | None:
    """Cut the road centreline at each interval (measures in metres), working CRS.

    Returns ``None`` when the road is not a line or no interval has length.

    Examples
    --------
    >>> from onetrench.domain import RoadClass
    >>> r = Road(road_id="R1", name="x", road_class=RoadClass.BRANCH, width_m=16,
    ...          geometry=LineString([(0, 0), (100, 0)]))
    >>> stretch_geometry(r, [Interval(10, 30)]).wkt
    'MULTILINESTRING ((10 0, 30 0))'
    """
    line = road.geometry
    if isinstance(line, MultiLineString):
        merged = shapely.line_merge(line)
        line = merged if isinstance(merged, LineString) else LineString([c for part in line.geoms for c in part.coords])
    if not isinstance(line, LineString) or line.is_empty:
        return None
    parts = []
    for iv in intervals:
        a, b = sorted((max(0.0, iv.from_m), min(line.length, iv.to_m)))
        if b > a:
            piece = substring(line, a, b)
            if isinstance(piece, LineString) and not piece.is_empty:
                parts.append(piece)
    return MultiLineString(parts) if parts else None


def finding_geometry(finding: Finding, roads: dict[str, Road]) -> BaseGeometry | None:
    """The geometry to draw for a finding: its own, else its road stretches, else ``None``."""
    if finding.geometry is not None and not finding.geometry.is_empty:
        return finding.geometry
    road = roads.get(finding.road_id or "")
    if road is None:
        return None
    if finding.measures:
        return stretch_geometry(road, finding.measures)
    return road.geometry


def add_years(day: dt.date, years: int) -> dt.date:
    """``day`` plus whole years (29 February becomes 28 February).

    Examples
    --------
    >>> add_years(dt.date(2024, 2, 29), 5)
    datetime.date(2029, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def moratorium_until(road: Road, settings: Settings) -> dt.date | None:
    """Last day of the road's protection period (城市道路管理条例 第33条), or ``None``.

    New or rebuilt roads are protected for ``moratorium_years_new`` years, overhauled ones
    for ``moratorium_years_overhaul`` years after ``last_works_date``.
    """
    if road.last_works_date is None or road.last_works_kind is None:
        return None
    years = (
        settings.moratorium_years_overhaul
        if road.last_works_kind is WorksKind.OVERHAUL
        else settings.moratorium_years_new
    )
    return add_years(road.last_works_date, years) - dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """A closed date range used by the date filter."""

    start: dt.date
    end: dt.date


def finding_period(finding: Finding, works: dict[str, Work]) -> Period | None:
    """The dates a finding concerns: from the earliest start to the latest end of its works."""
    ws = [works[w] for w in finding.work_ids if w in works]
    if not ws:
        return None
    return Period(min(w.start for w in ws), max(w.end for w in ws))


def work_rows(work: Work) -> list[tuple[str, str]]:
    """The fields of a work shown in popups, as ``(label, value)`` pairs (unescaped)."""
    rows: list[tuple[str, str]] = [
        ("工程编号 ID", work.work_id),
        ("工程名称 Name", work.name),
        ("管线类别 Utility", label(work.utility)),
        ("建设单位 Owner", work.owner),
        ("计划工期 Planned", f"{work.start.isoformat()} — {work.end.isoformat()}（{work.duration_days} 天 days）"),
    ]
    if work.earliest_start is not None or work.latest_end is not None:
        rows.append(("可调窗口 Flexible", f"{work.window_start.isoformat()} — {work.window_end.isoformat()}"))
    if work.diameter_mm is not None:
        rows.append(("管径 Diameter", f"{work.diameter_mm:g} mm"))
    if work.voltage_kv is not None:
        rows.append(("电压等级 Voltage", f"{work.voltage_kv:g} kV"))
    if work.gas_pressure is not None:
        rows.append(("压力级制 Pressure", label(work.gas_pressure)))
    if work.trench_width_m is not None:
        rows.append(("沟槽宽度 Trench width", f"{work.trench_width_m:g} m"))
    if work.depth_m is not None:
        rows.append(("埋深 Depth", f"{work.depth_m:g} m"))
    rows.append(("施工方式 Method", label(work.method)))
    if work.emergency:
        rows.append(("抢修 Emergency", "是 yes（24小时内补办手续 24-hour notice）"))
    if work.contact:
        rows.append(("联系人 Contact", work.contact))
    if work.source:
        rows.append(("来源 Source", work.source))
    return rows


def table_html(rows: Iterable[tuple[str, str]]) -> str:
    """A small two-column HTML table; every cell is escaped."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def finding_html(finding: Finding) -> str:
    """One finding as an escaped HTML block: kind, severity, road, message and fix."""
    where = f" · {esc(finding.road_name or finding.road_id)}" if (finding.road_name or finding.road_id) else ""
    return (
        f'<div class="ot-finding ot-{esc(finding.kind.value)}">'
        f"<b>{esc(finding.kind.zh)}</b> <i>{esc(finding.kind.en)}</i> "
        f"[{esc(finding.severity.zh)} {esc(finding.severity.en)}]{where}<br>"
        f"{esc(finding.zh)}<br><i>{esc(finding.en)}</i>"
        + (
            f"<br>建议 Fix：{esc(finding.fix_zh)} <i>{esc(finding.fix_en)}</i>"
            if finding.fix_zh or finding.fix_en
            else ""
        )
        + "</div>"
    )
