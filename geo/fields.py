"""Attribute names and values of route files, mapped onto :class:`onetrench.domain.Work` fields.

Planners' files name the same thing many ways (``工程编号``, ``项目编号``, ``WORK_ID``, ``编号``);
:func:`map_fields` recognises English and common Chinese names, ignoring case, spaces,
underscores and a trailing unit (``管径(mm)``, ``埋深/m``). The value parsers accept the usual
Chinese forms: dates ``2026-03-01``, ``2026/3/1``, ``2026年3月1日``, ``20260301`` and Excel day
serials; diameters ``DN300``, ``De110``, ``Φ300``; voltages ``10kV``, ``110千伏``; yes/no as
``是/否``.

Examples
--------
>>> map_fields(["工程编号", "管径(mm)", "计划开工日期", "备注"])
{'工程编号': 'work_id', '管径(mm)': 'diameter_mm', '计划开工日期': 'start'}
>>> parse_date("2026年3月1日")
datetime.date(2026, 3, 1)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from onetrench.domain import UtilityKind

#: Work field → accepted attribute names (normalised: lower case, no spaces, ``_`` or ``-``).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "work_id": ("workid", "id", "projectid", "code", "工程编号", "项目编号", "编号", "工程代码", "管线编号", "工程号"),
    "name": ("name", "projectname", "workname", "title", "工程名称", "项目名称", "名称", "工程名"),
    "owner": (
        "owner",
        "company",
        "unit",
        "builder",
        "applicant",
        "建设单位",
        "权属单位",
        "业主单位",
        "申请单位",
        "产权单位",
    ),
    "utility": (
        "utility",
        "utilitykind",
        "kind",
        "type",
        "network",
        "管线类别",
        "管线类型",
        "管线种类",
        "专业",
        "类别",
        "管类",
    ),
    "diameter_mm": ("diameter", "diametermm", "dn", "size", "管径", "口径", "外径", "断面尺寸", "管径规格"),
    "voltage_kv": ("voltage", "voltagekv", "kv", "电压等级", "电压"),
    "gas_pressure": ("pressure", "pressureclass", "gaspressure", "压力级制", "压力等级", "压力"),
    "trench_width_m": ("trenchwidth", "trenchwidthm", "width", "沟槽宽度", "开挖宽度", "槽宽", "沟宽"),
    "depth_m": ("depth", "depthm", "cover", "埋深", "覆土深度", "管顶埋深", "埋设深度"),
    "start": (
        "start",
        "startdate",
        "plannedstart",
        "begin",
        "计划开工",
        "计划开工日期",
        "开工日期",
        "开工时间",
        "计划开始",
    ),
    "end": (
        "end",
        "enddate",
        "plannedend",
        "finish",
        "计划完工",
        "计划完工日期",
        "完工日期",
        "竣工日期",
        "完工时间",
        "计划结束",
    ),
    "earliest_start": ("earlieststart", "最早开工", "最早开工日期", "最早开始"),
    "latest_end": ("latestend", "最晚完工", "最晚完工日期", "最迟完工", "最晚结束"),
    "method": ("method", "constructionmethod", "施工方式", "施工方法", "开挖方式"),
    "emergency": ("emergency", "urgent", "repair", "抢修", "是否抢修", "紧急抢修", "紧急"),
    "contact": ("contact", "phone", "tel", "联系人", "联系电话", "联系方式"),
}

_ALIAS_TO_FIELD: dict[str, str] = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}

#: DXF / CAD layer names → utility kind (besides :meth:`UtilityKind.parse` of the whole name).
#: Prefixes are the codes of CJJ 61 / GB/T 50001 drawings (JS 给水, PS/YS/WS 排水, RQ 燃气,
#: RL 热力, DL 电力, TX 通信 …). Pass your own table to :func:`geo.intake.read_works`.
DEFAULT_LAYER_KINDS: dict[str, UtilityKind] = {
    "给水": UtilityKind.WATER,
    "供水": UtilityKind.WATER,
    "自来水": UtilityKind.WATER,
    "上水": UtilityKind.WATER,
    "js": UtilityKind.WATER,
    "排水": UtilityKind.DRAINAGE,
    "雨水": UtilityKind.DRAINAGE,
    "污水": UtilityKind.DRAINAGE,
    "ps": UtilityKind.DRAINAGE,
    "ys": UtilityKind.DRAINAGE,
    "ws": UtilityKind.DRAINAGE,
    "燃气": UtilityKind.GAS,
    "天然气": UtilityKind.GAS,
    "煤气": UtilityKind.GAS,
    "rq": UtilityKind.GAS,
    "热力": UtilityKind.HEAT,
    "供热": UtilityKind.HEAT,
    "rl": UtilityKind.HEAT,
    "电力": UtilityKind.POWER,
    "供电": UtilityKind.POWER,
    "电缆": UtilityKind.POWER,
    "dl": UtilityKind.POWER,
    "通信": UtilityKind.TELECOM,
    "通讯": UtilityKind.TELECOM,
    "电信": UtilityKind.TELECOM,
    "光缆": UtilityKind.TELECOM,
    "tx": UtilityKind.TELECOM,
    "xx": UtilityKind.TELECOM,
}

_DEFAULT_LOWERED: dict[str, UtilityKind] = {k.lower(): v for k, v in DEFAULT_LAYER_KINDS.items()}

_TRUE = {"1", "true", "t", "yes", "y", "是", "对", "抢修", "紧急", "√"}
_FALSE = {"0", "false", "f", "no", "n", "否", "不是", "无", "非抢修", "", "none", "null"}


@lru_cache(maxsize=4096)
def normalise_name(name: str) -> str:
    """Normalise an attribute name: lower case, without spaces, ``_ - .`` and a trailing unit.

    Examples
    --------
    >>> normalise_name(" Trench_Width (m) ")
    'trenchwidth'
    >>> normalise_name("埋深/m")
    '埋深'
    """
    text = str(name).strip().lower()
    text = re.sub(r"[(（\[【][^)）\]】]*[)）\]】]\s*$", "", text)
    text = re.sub(r"/\s*(m|mm|cm|kv|mpa|米|毫米)\s*$", "", text)
    return re.sub(r"[\s_\-.·:：]+", "", text)


def map_fields(names: Iterable[str]) -> dict[str, str]:
    """Map a file's attribute names to Work fields; the first column wins when two mean one field."""
    key = tuple(names)
    if all(type(n) is str for n in key):
        return dict(_map_fields(key))  # a file's features mostly share one set of names
    return dict(_map_fields.__wrapped__(key))


@lru_cache(maxsize=1024)
def _map_fields(names: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        target = _ALIAS_TO_FIELD.get(normalise_name(name))
        if target is not None and target not in taken:
            out[name] = target
            taken.add(target)
    return out


def is_blank(value: object) -> bool:
    """Whether a raw attribute value is missing (None, NaN, empty or whitespace)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?(?:\s.*)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
#: Excel day serials accepted as dates (1990-01-01 … 2149-12-31).
_EXCEL_SERIAL_RANGE = (32874, 91310)
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(raw: object) -> dt.date:
    """Parse a date in the usual Chinese forms.

    Raises
    ------
    ValueError
        When ``raw`` is not a date (the caller turns this into a Problem).

    Examples
    --------
    >>> parse_date("2026/3/1"), parse_date("20260301"), parse_date(46082)
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 1), datetime.date(2026, 3, 1))
    """
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if hasattr(raw, "to_pydatetime"):  # pandas Timestamp
        return raw.to_pydatetime().date()
    if isinstance(raw, bool):
        raise ValueError(f"not a date: {raw!r}")
    if isinstance(raw, int | float):
        return _from_number(float(raw))
    return _parse_date_text(str(raw).strip())


@lru_cache(maxsize=4096)
def _parse_date_text(text: str) -> dt.date:
    """:func:`parse_date` of a text (cached: a file repeats the same few hundred dates)."""
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return dt.date(year, month, day)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _from_number(float(text))
    raise ValueError(f"not a date: {text!r}")


def _from_number(value: float) -> dt.date:
    if not math.isfinite(value):
        raise ValueError(f"not a date: {value!r}")
    if value.is_integer() and 19000101 <= value <= 21991231:
        return parse_date(str(int(value)))
    if _EXCEL_SERIAL_RANGE[0] <= value <= _EXCEL_SERIAL_RANGE[1]:
        return _EXCEL_EPOCH + dt.timedelta(days=int(value))
    raise ValueError(f"not a date: {value!r}")


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def parse_number(raw: object) -> float:
    """Return the first number in ``raw`` (``"DN300"`` → 300, ``"10kV"`` → 10).

    Raises
    ------
    ValueError
        When ``raw`` contains no number.
    """
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip().replace("，", ",").replace(",", "")
    match = _NUMBER.search(text)
    if match is None:
        raise ValueError(f"not a number: {text!r}")
    return float(match.group())


def parse_length_m(raw: object) -> float:
    """Parse a length in metres; ``mm`` / ``cm`` / ``毫米`` / ``厘米`` suffixes are converted.

    Examples
    --------
    >>> parse_length_m("1.2m"), parse_length_m("800mm"), parse_length_m(1.5)
    (1.2, 0.8, 1.5)
    """
    value = parse_number(raw)
    text = str(raw).strip().lower()
    if text.endswith(("mm", "毫米")):
        return value / 1000.0
    if text.endswith(("cm", "厘米")):
        return value / 100.0
    return value


def parse_diameter_mm(raw: object) -> float:
    """Parse a diameter in millimetres (``DN300``, ``De110``, ``Φ300``, ``0.3m`` → 300).

    Examples
    --------
    >>> parse_diameter_mm("DN300"), parse_diameter_mm("0.3m")
    (300.0, 300.0)
    """
    value = parse_number(raw)
    text = str(raw).strip().lower()
    if (text.endswith("m") and not text.endswith("mm")) or (text.endswith("米") and not text.endswith("毫米")):
        return value * 1000.0
    return value


def parse_bool(raw: object) -> bool:
    """Parse yes/no (``是/否``, ``true/false``, ``1/0``, ``Y/N``).

    Raises
    ------
    ValueError
        For anything else.
    """
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if isinstance(raw, int | float) and math.isfinite(float(raw)):
        return bool(raw)
    raise ValueError(f"not yes/no: {raw!r}")


def utility_from_text(text: str, table: Mapping[str, UtilityKind] | None = None) -> UtilityKind | None:
    """Return the utility kind a layer or category name means, or ``None`` when unclear.

    Tries, in order: the table (exact key, then the first word such as ``JS`` in ``JS_DN300``);
    :meth:`UtilityKind.parse` of the whole text; then the table's Chinese keys contained in the
    text (``给水管线``). Two different kinds found means unclear.

    Examples
    --------
    >>> utility_from_text("JS-DN300"), utility_from_text("10kV电力电缆"), utility_from_text("0")
    (<UtilityKind.WATER: 'water'>, <UtilityKind.POWER: 'power'>, None)
    """
    from onetrench.errors import InputError

    raw = str(text).strip()
    if not raw:
        return None
    lowered = _DEFAULT_LOWERED if table is None else {k.lower(): v for k, v in table.items()}
    key = raw.lower()
    if key in lowered:
        return lowered[key]
    head = re.split(r"[\s_\-.|/]+", key)[0]
    if head in lowered:
        return lowered[head]
    try:
        return UtilityKind.parse(raw)
    except InputError:
        pass
    found = {kind for word, kind in lowered.items() if not word.isascii() and word in raw}
    if len(found) == 1:
        return found.pop()
    return None
