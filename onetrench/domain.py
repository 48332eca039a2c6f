"""Domain types shared by every layer: enums, works, roads, occupancy, findings, bundles.

All geometries held by these objects are shapely geometries **in the working CRS**
(metres, CGCS2000 Gauss-Krüger, see :class:`onetrench.settings.Settings.working_crs`).
Readers convert on the way in and writers on the way out; nothing in between measures in
degrees.

Every enum is a string enum with a Chinese and an English label; :meth:`LabelledEnum.parse`
accepts the value, either label or a known alias, and rejects anything else with the list
of allowed values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from shapely.geometry.base import BaseGeometry

from onetrench.errors import InputError

# --------------------------------------------------------------------------------------
# Enums
# --------------------------------------------------------------------------------------


class LabelledEnum(StrEnum):
    """String enum whose members carry a Chinese and an English label.

    Members are declared as ``NAME = (value, zh, en)``; subclasses may override
    :meth:`_alias_table` (lower-cased alias → value) with the words found in real files.
    """

    _zh: str
    _en: str

    def __new__(cls, value: str, zh: str = "", en: str = "") -> Self:
        """Create a member from ``(value, zh, en)``."""
        member = str.__new__(cls, value)
        member._value_ = value
        member._zh = zh
        member._en = en
        return member

    @property
    def zh(self) -> str:
        """Chinese label, e.g. ``"燃气"``."""
        return self._zh

    @property
    def en(self) -> str:
        """English label, e.g. ``"gas"``."""
        return self._en

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {}

    @classmethod
    def allowed(cls) -> str:
        """The allowed values with their Chinese labels, for error messages."""
        return ", ".join(f"{m.value}({m.zh})" for m in cls)

    @classmethod
    def parse(cls, raw: object, *, field_name: str | None = None) -> Self:
        """Return the member named by ``raw`` (value, label or alias).

        Raises
        ------
        InputError
            When ``raw`` names no member; the message lists the allowed values.

        Examples
        --------
        >>> UtilityKind.parse("燃气")
        <UtilityKind.GAS: 'gas'>
        >>> UtilityKind.parse("Telecom")
        <UtilityKind.TELECOM: 'telecom'>
        """
        if isinstance(raw, cls):
            return raw
        text = str(raw).strip()
        key = text.lower()
        for member in cls:
            if key in (member.value, member.en.lower()) or text == member.zh:
                return member
        aliases = cls._alias_table()
        if key in aliases:
            return cls(aliases[key])
        what = field_name or cls.__name__
        raise InputError(
            f"{what} 的值「{text}」无法识别，允许的值：{cls.allowed()}",
            f"unknown {what} {text!r}; allowed: {', '.join(m.value for m in cls)}",
        )


class UtilityKind(LabelledEnum):
    """管线类别 — the kind of utility network a work belongs to."""

    WATER = ("water", "给水", "water supply")
    DRAINAGE = ("drainage", "排水", "drainage")
    GAS = ("gas", "燃气", "gas")
    HEAT = ("heat", "热力", "district heating")
    POWER = ("power", "电力", "power")
    TELECOM = ("telecom", "通信", "telecom")

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {
            "供水": "water",
            "给水管": "water",
            "自来水": "water",
            "水": "water",
            "js": "water",
            "雨水": "drainage",
            "污水": "drainage",
            "雨污水": "drainage",
            "sewer": "drainage",
            "storm": "drainage",
            "ps": "drainage",
            "天然气": "gas",
            "煤气": "gas",
            "rq": "gas",
            "供热": "heat",
            "热水": "heat",
            "rl": "heat",
            "电": "power",
            "供电": "power",
            "电缆": "power",
            "electricity": "power",
            "dl": "power",
            "通讯": "telecom",
            "电信": "telecom",
            "移动": "telecom",
            "联通": "telecom",
            "光缆": "telecom",
            "tx": "telecom",
        }


class GasPressureClass(LabelledEnum):
    """压力级制 — gas pressure class per GB 50028 (MPa)."""

    LOW = ("low", "低压", "low (P<0.01 MPa)")
    MEDIUM_B = ("medium_b", "中压B", "medium B (0.01–0.2 MPa)")
    MEDIUM_A = ("medium_a", "中压A", "medium A (0.2–0.4 MPa)")
    SUBHIGH_B = ("subhigh_b", "次高压B", "sub-high B (0.4–0.8 MPa)")
    SUBHIGH_A = ("subhigh_a", "次高压A", "sub-high A (0.8–1.6 MPa)")

    @classmethod
    def from_mpa(cls, pressure_mpa: float) -> GasPressureClass:
        """Return the class of a design pressure in MPa (GB 50028 table 6.1.6).

        Examples
        --------
        >>> GasPressureClass.from_mpa(0.3)
        <GasPressureClass.MEDIUM_A: 'medium_a'>
        """
        if pressure_mpa < 0:
            raise InputError(f"燃气压力不能为负：{pressure_mpa}", f"negative gas pressure {pressure_mpa}")
        for upper, member in (
            (0.01, cls.LOW),
            (0.2, cls.MEDIUM_B),
            (0.4, cls.MEDIUM_A),
            (0.8, cls.SUBHIGH_B),
            (1.6, cls.SUBHIGH_A),
        ):
            if pressure_mpa < upper or (upper == 1.6 and pressure_mpa <= upper):
                return member
        raise InputError(
            f"燃气压力 {pressure_mpa} MPa 超出城镇燃气范围（≤1.6 MPa）",
            f"gas pressure {pressure_mpa} MPa is above the urban range (≤1.6 MPa)",
        )

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {
            "中压b级": "medium_b",
            "中压a级": "medium_a",
            "次高压b级": "subhigh_b",
            "次高压a级": "subhigh_a",
            "低压管": "low",
            "中压": "medium_b",
        }


class ExcavationMethod(LabelledEnum):
    """施工方式 — how the road is opened."""

    OPEN_CUT = ("open_cut", "明挖", "open cut")
    TRENCHLESS = ("trenchless", "非开挖（定向钻）", "trenchless (directional drilling)")
    PIPE_JACKING = ("pipe_jacking", "顶管", "pipe jacking")

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {
            "开挖": "open_cut",
            "明挖施工": "open_cut",
            "open": "open_cut",
            "定向钻": "trenchless",
            "非开挖": "trenchless",
            "拉管": "trenchless",
            "hdd": "trenchless",
            "顶管施工": "pipe_jacking",
        }


class RoadClass(LabelledEnum):
    """道路等级 — urban road class (CJJ 37)."""

    EXPRESSWAY = ("expressway", "快速路", "expressway")
    ARTERIAL = ("arterial", "主干路", "arterial")
    SECONDARY = ("secondary", "次干路", "secondary arterial")
    BRANCH = ("branch", "支路", "branch road")

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {
            "主干道": "arterial",
            "次干道": "secondary",
            "支路/街巷": "branch",
            "街巷": "branch",
            "primary": "arterial",
            "trunk": "expressway",
            "tertiary": "branch",
            "residential": "branch",
        }


class WorksKind(LabelledEnum):
    """工程类型 — the last road works, for the moratorium (城市道路管理条例 第33条)."""

    NEW = ("new", "新建", "new")
    REBUILD = ("rebuild", "改建", "rebuild")
    OVERHAUL = ("overhaul", "大修", "overhaul")

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {"扩建": "rebuild", "改扩建": "rebuild", "extension": "rebuild", "大中修": "overhaul"}


class PavementKind(LabelledEnum):
    """路面类型 — pavement kind, for restoration cost."""

    ASPHALT = ("asphalt", "沥青混凝土路面", "asphalt")
    CONCRETE = ("concrete", "水泥混凝土路面", "cement concrete")
    BLOCK = ("block", "人行道砖/块石", "paving blocks")

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {"沥青": "asphalt", "水泥": "concrete", "混凝土": "concrete", "砖": "block", "人行道": "block"}


class FindingKind(LabelledEnum):
    """The kinds of finding the rule produces (design.md, "The rule, precisely", point 4)."""

    SAME_ROAD_SAME_PERIOD = ("same_road_same_period", "同一路段、同一时段", "same road, same period")
    SAME_ROAD_DIFFERENT_PERIOD = (
        "same_road_different_period",
        "同一路段、不同时段（重复开挖）",
        "same road, different period",
    )
    MORATORIUM = ("moratorium", "道路保护期内开挖", "road under moratorium")
    CLEARANCE = ("clearance", "管线水平净距不足", "horizontal clearance too small")
    BLACKOUT = ("blackout", "禁止施工时段", "blackout period")
    OUTSIDE_DISTRICT = ("outside_district", "超出綦江区范围", "outside the district")
    OFF_ROAD = ("off_road", "道路红线外", "outside road corridors")


class Severity(LabelledEnum):
    """How much a finding matters."""

    INFO = ("info", "提示", "info")
    WARNING = ("warning", "警告", "warning")
    BLOCKING = ("blocking", "阻断", "blocking")


# --------------------------------------------------------------------------------------
# Works and roads
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Work:
    """One proposed excavation work (one route or work zone of one utility).

    Parameters
    ----------
    work_id
        工程编号, unique within the plan.
    utility
        管线类别.
    owner
        建设单位, the utility company (e.g. ``"国网重庆綦江供电公司"``).
    geometry
        LineString / MultiLineString route or Polygon work zone, **working CRS**, 2-D.
    start, end
        计划开工 / 计划完工, inclusive dates.
    earliest_start, latest_end
        Flexible bounds (``earliest_start <= start``, ``latest_end >= end``); ``None`` means
        the planned dates are fixed.
    diameter_mm
        管径 (outer diameter or duct bank width) in millimetres.
    voltage_kv, gas_pressure
        电压等级 and 压力级制 where they apply.
    trench_width_m, depth_m
        沟槽宽度 and 埋深 in metres; the intake fills a documented default for the width.
    method
        施工方式.
    emergency
        抢修 (城市道路管理条例 第34条): exempt from the moratorium, 24-hour notice required.
    name
        工程名称, free text.
    contact
        联系人 / phone, free text.
    source
        Where the work came from, e.g. ``"power.geojson#3"``.
    """

    work_id: str
    utility: UtilityKind
    owner: str
    geometry: BaseGeometry
    start: dt.date
    end: dt.date
    earliest_start: dt.date | None = None
    latest_end: dt.date | None = None
    diameter_mm: float | None = None
    voltage_kv: float | None = None
    gas_pressure: GasPressureClass | None = None
    trench_width_m: float | None = None
    depth_m: float | None = None
    method: ExcavationMethod = ExcavationMethod.OPEN_CUT
    emergency: bool = False
    name: str = ""
    contact: str = ""
    source: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_days(self) -> int:
        """Planned duration in calendar days, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def window_start(self) -> dt.date:
        """Earliest date the work may start (the planned start when not flexible)."""
        return self.earliest_start or self.start

    @property
    def window_end(self) -> dt.date:
        """Latest date the work may end (the planned end when not flexible)."""
        return self.latest_end or self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class Road:
    """One road centreline (道路中心线) with its red-line width.

    Parameters
    ----------
    road_id, name
        道路编号 and 道路名称.
    road_class
        道路等级.
    width_m
        红线宽度 (red-line width) in metres; the corridor is the centreline buffered by half.
    geometry
        LineString (or MultiLineString for a road digitised in pieces), working CRS.
    last_works_date, last_works_kind
        竣工日期 and 工程类型 of the last road works, for the moratorium.
    pavement
        路面类型, for restoration cost.
    """

    road_id: str
    name: str
    road_class: RoadClass
    width_m: float
    geometry: BaseGeometry
    last_works_date: dt.date | None = None
    last_works_kind: WorksKind | None = None
    pavement: PavementKind = PavementKind.ASPHALT


# --------------------------------------------------------------------------------------
# Detector output (geo/)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed stretch ``[from_m, to_m]`` of a road, in metres along its centreline."""

    from_m: float
    to_m: float

    @property
    def length_m(self) -> float:
        """Length of the stretch in metres."""
        return self.to_m - self.from_m


@dataclass(frozen=True, slots=True, kw_only=True)
class Occupancy:
    """Where one work runs inside one road's corridor.

    ``intervals`` are merged and sorted; ``offsets_m`` gives, per interval, the work's mean
    signed lateral offset from the centreline (positive = left of the digitising direction).
    ``crossings`` are the measures where the work crosses the road (angle over 45°).
    """

    work_id: str
    road_id: str
    intervals: tuple[Interval, ...]
    offsets_m: tuple[float, ...]
    crossings: tuple[float, ...] = ()

    @property
    def length_m(self) -> float:
        """Total along-road length occupied, metres."""
        return sum(iv.length_m for iv in self.intervals)


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedStretch:
    """Two works occupying the same stretch of one road (``work_ids`` sorted)."""

    road_id: str
    work_ids: tuple[str, str]
    intervals: tuple[Interval, ...]

    @property
    def shared_m(self) -> float:
        """Shared length in metres."""
        intervals = self.intervals
        if len(intervals) == 1:  # most stretches: the same value as the sum, without its generator
            return intervals[0].to_m - intervals[0].from_m
        return sum(iv.length_m for iv in intervals)


@dataclass(frozen=True, slots=True, kw_only=True)
class OffRoadPart:
    """The part of one work outside every road corridor (道路红线外), working CRS.

    ``length_m`` is the route length outside (0 for work zones); ``area_m2`` the zone area
    outside (0 for routes).
    """

    work_id: str
    geometry: BaseGeometry
    length_m: float
    area_m2: float = 0.0


# --------------------------------------------------------------------------------------
# Scheduling output (scheduling/)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One result of the rule, with the fix it suggests.

    ``geometry`` is in the working CRS; ``measures`` are the road stretches concerned.
    """

    kind: FindingKind
    severity: Severity
    work_ids: tuple[str, ...]
    zh: str
    en: str
    fix_zh: str
    fix_en: str
    road_id: str | None = None
    road_name: str | None = None
    measures: tuple[Interval, ...] = ()
    geometry: BaseGeometry | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoadStretch:
    """One road stretch opened by a bundle."""

    road_id: str
    road_name: str
    interval: Interval
    width_m: float
    pavement: PavementKind

    @property
    def area_m2(self) -> float:
        """Trench area opened on this stretch, square metres."""
        return self.interval.length_m * self.width_m


@dataclass(frozen=True, slots=True, kw_only=True)
class Savings:
    """What joint excavation saves against the counterfactual of each work digging alone."""

    excavations_separate: int
    excavations_joint: int
    area_separate_m2: float
    area_joint_m2: float
    cost_saved_yuan: float

    @property
    def excavations_avoided(self) -> int:
        """Road openings avoided."""
        return self.excavations_separate - self.excavations_joint

    @property
    def area_not_reopened_m2(self) -> float:
        """Square metres of pavement not reopened."""
        return self.area_separate_m2 - self.area_joint_m2


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """One joint excavation (联合开挖): works digging the same road in the same period."""

    bundle_id: str
    work_ids: tuple[str, ...]
    lead_work_id: str
    lead_owner: str
    window_start: dt.date
    window_end: dt.date
    stretches: tuple[RoadStretch, ...]
    footprint: BaseGeometry
    savings: Savings
    draft: bool = False
    open_findings: tuple[Finding, ...] = ()
