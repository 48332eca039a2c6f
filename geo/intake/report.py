"""Plain-text report of an intake result (for ``onetrench check``): headings in Chinese and English."""

from __future__ import annotations

import unicodedata

from shapely.geometry.base import BaseGeometry

from geo.intake import IntakeResult
from onetrench.errors import Problem

_COLUMNS = (("文件 file", 18), ("序号 #", 7), ("编号 id", 14), ("字段 field", 14), ("问题 problem", 0))


def _width(text: str) -> int:
    """Display width (CJK characters take two columns)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(text: str, width: int) -> str:
    if width == 0:
        return text
    out = ""
    for ch in text:
        if _width(out + ch) > width - 1:
            out += "…"
            break
        out += ch
    return out + " " * max(0, width - _width(out))


def _row(values: tuple[str, ...]) -> str:
    return " ".join(_cell(v, w) for v, (_, w) in zip(values, _COLUMNS, strict=True)).rstrip()


def _problem_rows(problems: list[Problem]) -> list[str]:
    rows = []
    for p in problems:
        where = f" @({p.location[0]:.6g}, {p.location[1]:.6g})" if p.location else ""
        rows.append(
            _row(
                (
                    p.source or "",
                    "" if p.index is None else str(p.index),
                    p.feature_id or "",
                    p.field or "",
                    f"{p.zh} / {p.en}{where}",
                )
            )
        )
    return rows


def _size(geom: BaseGeometry) -> str:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return f"{geom.area:.1f} m²"
    return f"{geom.length:.1f} m"


def format_table(result: IntakeResult) -> str:
    """Return a readable report: summary, then one line per error and per warning.

    Examples
    --------
    >>> print(format_table(IntakeResult()))
    要素 features: 0，有效 valid: 0，有错误 invalid: 0，警告 warnings: 0
    全部有效 / all features valid
    """
    lines = [
        f"要素 features: {result.n_features}，有效 valid: {len(result.works)}，"
        f"有错误 invalid: {result.invalid_features}，警告 warnings: {len(result.warnings)}"
    ]
    if result.unreadable:
        lines.append(f"无法读取的文件 unreadable files: {', '.join(result.unreadable)}")
    header = _row(tuple(name for name, _ in _COLUMNS))
    if result.errors:
        lines += ["", "错误 errors", header, *_problem_rows(result.errors)]
    if result.warnings:
        lines += ["", "警告 warnings", header, *_problem_rows(result.warnings)]
    if result.works:
        lines += ["", "有效工程 valid works"]
        lines += [
            f"  {w.work_id}  {w.utility.zh}/{w.utility.value}  {w.owner}  {w.start}–{w.end}  "
            f"{_size(w.geometry)}  沟宽 trench {w.trench_width_m} m"
            for w in result.works
        ]
    if result.ok:
        lines.append("全部有效 / all features valid")
    return "\n".join(lines)
