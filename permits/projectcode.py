"""投资项目统一代码 — the national investment project code (GB/T 40058-2021).

The code has the layout ``YYYY-AAAAAA-DD-TT-NNNNNN`` (24 characters):

- ``YYYY`` 时间代码, the year the code was assigned;
- ``AAAAAA`` 地区代码, the six-digit administrative division (``500110`` = 重庆市綦江区);
- ``DD`` 中央业务指导部门代码 (two digits);
- ``TT`` 项目类型代码 (two digits);
- ``NNNNNN`` 随机码 and 校验码 (six digits).

We check the layout, the year and the region. The check digit algorithm of §4.7 is not
public in the material we have, so it is **not** verified here; 渝快办 verifies the code itself
against the national platform (全国投资项目在线审批监管平台).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from onetrench.errors import InputError, Problem

#: 行政区划代码 of 重庆市綦江区.
QIJIANG_REGION_CODE = "500110"

#: The pattern also used by the manifest JSON Schema (keep the two in step).
PROJECT_CODE_PATTERN = r"^[0-9]{4}-[0-9]{6}-[0-9]{2}-[0-9]{2}-[0-9]{6}$"

_PATTERN = re.compile(r"^(\d{4})-(\d{6})-(\d{2})-(\d{2})-(\d{6})$", re.ASCII)

#: First year codes were assigned by the national online approval platform.
FIRST_YEAR = 2015
LAST_YEAR = 2099


@dataclass(frozen=True, slots=True)
class ProjectCode:
    """A parsed 投资项目统一代码.

    Examples
    --------
    >>> code = parse_project_code("2026-500110-48-01-000123")
    >>> code.region, code.year
    ('500110', 2026)
    >>> str(code)
    '2026-500110-48-01-000123'
    """

    year: int
    region: str
    department: str
    project_type: str
    serial: str

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.region}-{self.department}-{self.project_type}-{self.serial}"


def project_code_problems(
    raw: object, *, region: str = QIJIANG_REGION_CODE, field: str = "project_code"
) -> list[Problem]:
    """Return every problem of ``raw`` as a project code (empty list when it is valid).

    Examples
    --------
    >>> [p.code for p in project_code_problems("2026-500101-48-01-000123")]
    ['project_code.region']
    """
    text = str(raw).strip() if raw is not None else ""
    if not text:
        return [
            Problem(
                "project_code.missing",
                "缺少投资项目统一代码（格式 YYYY-AAAAAA-DD-TT-NNNNNN）",
                "the project code (投资项目统一代码, YYYY-AAAAAA-DD-TT-NNNNNN) is missing",
                field=field,
            )
        ]
    match = _PATTERN.match(text)
    if match is None:
        return [
            Problem(
                "project_code.format",
                f"投资项目统一代码「{text}」格式不符合 GB/T 40058：应为 YYYY-AAAAAA-DD-TT-NNNNNN，"
                "例如 2026-500110-48-01-000123（半角数字，以“-”分隔）",
                f"project code {text!r} does not follow GB/T 40058: expected YYYY-AAAAAA-DD-TT-NNNNNN, "
                "e.g. 2026-500110-48-01-000123 (ASCII digits separated by '-')",
                field=field,
            )
        ]
    problems: list[Problem] = []
    year = int(match.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        problems.append(
            Problem(
                "project_code.year",
                f"投资项目统一代码「{text}」的年份 {year} 不合理（应在 {FIRST_YEAR}–{LAST_YEAR} 之间）",
                f"project code {text!r}: year {year} is implausible (expected {FIRST_YEAR}–{LAST_YEAR})",
                field=field,
            )
        )
    if match.group(2) != region:
        problems.append(
            Problem(
                "project_code.region",
                f"投资项目统一代码「{text}」的地区代码为 {match.group(2)}，应为 {region}（重庆市綦江区）",
                f"project code {text!r}: region code is {match.group(2)}, expected {region} (Qijiang District)",
                field=field,
            )
        )
    return problems


def parse_project_code(raw: object, *, region: str = QIJIANG_REGION_CODE) -> ProjectCode:
    """Parse and check a project code.

    Raises
    ------
    InputError
        When the code is missing, malformed, or of another year range or region; the
        message says which part is wrong, in Chinese and English.
    """
    problems = project_code_problems(raw, region=region)
    if problems:
        raise InputError(
            "；".join(p.zh for p in problems),
            "; ".join(p.en for p in problems),
            details=problems,
        )
    match = _PATTERN.match(str(raw).strip())
    assert match is not None  # checked above
    year, reg, dept, ptype, serial = match.groups()
    return ProjectCode(int(year), reg, dept, ptype, serial)
