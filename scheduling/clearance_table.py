"""Minimum horizontal clear distances between parallel utilities (GB 50289-2016 表4.1.9, GB 50028).

The values live in ``clearance_gb50289.csv`` (shipped as package data) with a source and a
confidence per value; :func:`required_clearance_m` picks the row that applies to two works.

Assumptions when an attribute is missing (each is recorded in the returned rule):

* water pipe diameter unknown → the larger value (treated as d > 200 mm);
* gas pressure class unknown → medium pressure (中压, the usual urban distribution pressure);
  for drainage the medium-B and medium-A values are the same (1.2 m);
* power / telecom laying unknown → in ducts (排管/保护管), the larger value where it matters;
  the laying is read from ``work.attributes["laying"]`` (直埋 / 排管 …) when present;
* gas ↔ gas diameter unknown → DN > 300 (the larger value).

Pairs not in the table (e.g. heat, water ↔ water) return ``None``: no rule is known, and no
clearance finding is made for them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from onetrench.domain import GasPressureClass, LabelledEnum, UtilityKind, Work

__all__ = [
    "ClearanceRule",
    "Confidence",
    "Laying",
    "clearance_rows",
    "laying_of",
    "max_clearance_m",
    "required_clearance_m",
]

_TABLE_FILE = "clearance_gb50289.csv"


class Confidence(LabelledEnum):
    """How sure we are of a table value (checked against the standard's text or not)."""

    HIGH = ("high", "高（已核对原文）", "high (checked against the standard)")
    MEDIUM = ("medium", "中（二手资料一致）", "medium (consistent secondary sources)")
    LOW = ("low", "低（待核对原文）", "low (to be checked against the standard)")


class Laying(LabelledEnum):
    """敷设方式 of a cable: buried directly or in ducts."""

    BURIED = ("buried", "直埋", "buried directly")
    DUCTED = ("ducted", "管道/排管敷设", "in ducts")

    @classmethod
    def _alias_table(cls) -> dict[str, str]:
        return {
            "直埋敷设": "buried",
            "direct": "buried",
            "排管": "ducted",
            "管道": "ducted",
            "穿管": "ducted",
            "保护管": "ducted",
            "导管": "ducted",
            "管沟": "ducted",
            "电缆沟": "ducted",
            "duct": "ducted",
            "conduit": "ducted",
        }


@dataclass(frozen=True, slots=True)
class _Row:
    kind_a: UtilityKind
    cond_a: str
    kind_b: UtilityKind
    cond_b: str
    clearance_m: float
    confidence: Confidence
    source: str
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearanceRule:
    """The minimum clear distance that applies to two works, with where it comes from.

    ``assumptions_zh`` / ``assumptions_en`` list what was assumed for missing attributes.
    """

    clearance_m: float
    confidence: Confidence
    source: str
    note: str
    assumptions_zh: tuple[str, ...] = ()
    assumptions_en: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def clearance_rows() -> tuple[_Row, ...]:
    """Return the rows of the shipped clearance table.

    Examples
    --------
    >>> len(clearance_rows()) >= 20
    True
    """
    text = resources.files("scheduling").joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    rows = []
    for rec in csv.DictReader(text.splitlines()):
        rows.append(
            _Row(
                kind_a=UtilityKind(rec["kind_a"]),
                cond_a=rec["cond_a"],
                kind_b=UtilityKind(rec["kind_b"]),
                cond_b=rec["cond_b"],
                clearance_m=float(rec["clearance_m"]),
                confidence=Confidence(rec["confidence"]),
                source=rec["source"],
                note=rec["note"],
            )
        )
    return tuple(rows)


def laying_of(work: Work) -> Laying | None:
    """Return the cable laying from ``work.attributes["laying"]`` (or ``"敷设方式"``), if given."""
    raw = work.attributes.get("laying", work.attributes.get("敷设方式"))
    if raw is None or str(raw).strip() == "":
        return None
    try:
        return Laying.parse(raw)
    except Exception:  # an unreadable value counts as unknown; the assumption is recorded
        return None


class _Facts:
    """The attribute values a row condition is tested against, with the assumptions made."""

    def __init__(self, work: Work) -> None:
        self.work = work
        self.assumed_zh: list[str] = []
        self.assumed_en: list[str] = []

    def holds(self, cond: str, other: Work) -> bool:
        if cond == "":
            return True
        w = self.work
        if cond.startswith("maxdn"):
            ds = [d for d in (w.diameter_mm, other.diameter_mm) if d is not None]
            if len(ds) < 2:
                self._assume(f"{w.work_id}/{other.work_id} 管径未知，按 DN>300 计", "diameter unknown, taken as DN>300")
                big = True
            else:
                big = max(ds) > 300
            return big if cond == "maxdn>300" else not big
        if cond in ("d<=200", "d>200"):
            if w.diameter_mm is None:
                self._assume(
                    f"{w.work_id} 给水管径未知，按 d>200 计", f"{w.work_id}: water diameter unknown, taken as d>200"
                )
                big = True
            else:
                big = w.diameter_mm > 200
            return big if cond == "d>200" else not big
        if cond in ("buried", "ducted"):
            laying = laying_of(w)
            if laying is None:
                self._assume(
                    f"{w.work_id} 敷设方式未知，按排管敷设计", f"{w.work_id}: laying unknown, taken as in ducts"
                )
                laying = Laying.DUCTED
            return laying.value == cond
        # gas pressure classes, "|"-separated
        pressure = w.gas_pressure
        if pressure is None:
            self._assume(
                f"{w.work_id} 燃气压力级制未知，按中压计", f"{w.work_id}: gas pressure unknown, taken as medium"
            )
            pressure = GasPressureClass.MEDIUM_B
        return pressure.value in cond.split("|")

    def _assume(self, zh: str, en: str) -> None:
        if zh not in self.assumed_zh:
            self.assumed_zh.append(zh)
            self.assumed_en.append(en)


@lru_cache(maxsize=1)
def max_clearance_m() -> float:
    """The largest clear distance of the table: no pair of works needs more.

    Examples
    --------
    >>> max_clearance_m() >= max(row.clearance_m for row in clearance_rows())
    True
    """
    return max((row.clearance_m for row in clearance_rows()), default=0.0)


@cache
def _rows_between(kind_a: UtilityKind, kind_b: UtilityKind) -> tuple[_Row, ...]:
    """The rows of the table for ``kind_a`` (first column) and ``kind_b`` (second), in table order."""
    return tuple(row for row in clearance_rows() if row.kind_a == kind_a and row.kind_b == kind_b)


def required_clearance_m(work_a: Work, work_b: Work) -> ClearanceRule | None:
    """Return the minimum horizontal clear distance between two parallel works, or ``None``.

    The order of the two works does not matter. ``None`` means the table holds no value for
    this pair of utilities (or pressure class), so no clearance can be checked.

    Examples
    --------
    >>> import datetime as dt
    >>> from shapely.geometry import LineString
    >>> def w(i, kind, **kw):
    ...     return Work(work_id=i, utility=kind, owner="x", geometry=LineString([(0, 0), (1, 0)]),
    ...                 start=dt.date(2027, 3, 1), end=dt.date(2027, 3, 9), **kw)
    >>> required_clearance_m(w("a", UtilityKind.WATER, diameter_mm=300), w("b", UtilityKind.DRAINAGE)).clearance_m
    1.5
    >>> rule = required_clearance_m(w("g", UtilityKind.GAS), w("p", UtilityKind.POWER))
    >>> rule.clearance_m, rule.assumptions_en[0]
    (1.0, 'g: gas pressure unknown, taken as medium')
    >>> required_clearance_m(w("h", UtilityKind.HEAT), w("p", UtilityKind.POWER)) is None
    True
    """
    for first, second in ((work_a, work_b), (work_b, work_a)):
        rows = _rows_between(first.utility, second.utility)
        if not rows:
            continue
        facts_1, facts_2 = _Facts(first), _Facts(second)
        for row in rows:
            if facts_1.holds(row.cond_a, second) and facts_2.holds(row.cond_b, first):
                return ClearanceRule(
                    clearance_m=row.clearance_m,
                    confidence=row.confidence,
                    source=row.source,
                    note=row.note,
                    assumptions_zh=tuple(facts_1.assumed_zh + facts_2.assumed_zh),
                    assumptions_en=tuple(facts_1.assumed_en + facts_2.assumed_en),
                )
            facts_1.assumed_zh.clear()
            facts_1.assumed_en.clear()
            facts_2.assumed_zh.clear()
            facts_2.assumed_en.clear()
    return None
