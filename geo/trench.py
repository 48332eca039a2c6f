"""Default trench width (沟槽宽度) when a route file gives none.

Every work needs an excavation footprint (route buffered by half the trench width) for the
shared-stretch area, clearances and savings. When the planner gives 沟槽宽度, it is used as is;
otherwise :func:`default_trench_width` returns a documented, deliberately conservative value
(wider rather than narrower: a footprint too wide over-reports shared pavement, one too narrow
hides conflicts).

Pipes (water, drainage, gas, heat) — GB 50268-2008 《给水排水管道工程施工及验收规范》 §4.3.2,
formula (4.3.2): trench bottom width ``B = D0 + 2·(b1 + b2 + b3)``, where ``D0`` is the outer
diameter, ``b1`` the working space on each side (table 4.3.2, below), ``b2`` the thickness of
trench support and ``b3`` the formwork of cast-in-place structures. Defaults take ``b2 = b3 = 0``
(unsupported trench, precast pipe); give the width explicitly for braced trenches.

======================  ===============================  ==================================
D0 (mm)                 b1, concrete pipe, rigid joint   b1, metal / plastic pipe
======================  ===============================  ==================================
D0 ≤ 500                400                              300
500 < D0 ≤ 1000         500                              400
1000 < D0 ≤ 1500        600                              500
1500 < D0 ≤ 3000        1000 (table: 800–1000)           700
======================  ===============================  ==================================

Drainage uses the concrete rigid-joint column (the larger), other pipes the metal/plastic
column. Heat networks are assumed to be a supply and a return pipe side by side with 0.3 m
between them (CJJ 34 / CJJ/T 81 practice). Confidence: medium (table values), low (heat).

Cables (power, telecom) are laid in duct banks (排管) whose width depends on the number of
ducts; when ``diameter_mm`` is given it is taken as the duct bank width and 0.3 m of working
space is added on each side. Without it, typical widths of the State Grid cable-channel
typical designs (国家电网 电缆通道典型设计; GB 50217-2018 §5.4 for the duct arrangement) and
of GB 50373-2019 通信管道与通道工程设计标准 are used: ≤ 10 kV 0.8 m, ≤ 35 kV 1.0 m,
≤ 110 kV 1.4 m, above 1.8 m; telecom 0.8 m. Confidence: low (project assumptions, to be
confirmed with the utilities). No default is narrower than 0.6 m, the narrowest trench a
worker can stand in.

Examples
--------
>>> from onetrench.domain import UtilityKind
>>> default_trench_width(UtilityKind.WATER, diameter_mm=300).width_m  # 0.3 + 2 × 0.3
0.9
>>> default_trench_width(UtilityKind.POWER, voltage_kv=10).width_m
0.8
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from onetrench.domain import UtilityKind

#: Narrowest default trench (m).
MIN_WIDTH_M = 0.6
#: Diameter assumed when a pipe route gives none (mm): a typical distribution main.
DEFAULT_DIAMETER_MM: dict[UtilityKind, float] = {
    UtilityKind.WATER: 300.0,
    UtilityKind.DRAINAGE: 600.0,
    UtilityKind.GAS: 200.0,
    UtilityKind.HEAT: 300.0,
}
#: GB 50268-2008 table 4.3.2: (upper D0 bound mm, b1 concrete rigid joint mm, b1 metal/plastic mm).
B1_TABLE_MM: tuple[tuple[float, float, float], ...] = (
    (500.0, 400.0, 300.0),
    (1000.0, 500.0, 400.0),
    (1500.0, 600.0, 500.0),
    (3000.0, 1000.0, 700.0),
)
#: Space between the supply and return pipes of a heat network (m).
HEAT_PIPE_GAP_M = 0.3
#: Working space each side of a cable duct bank (m).
DUCT_WORKING_SPACE_M = 0.3
#: Power trench width by voltage (upper kV bound, width m).
POWER_WIDTH_BY_KV: tuple[tuple[float, float], ...] = ((10.0, 0.8), (35.0, 1.0), (110.0, 1.4), (math.inf, 1.8))
TELECOM_WIDTH_M = 0.8


@dataclass(frozen=True, slots=True)
class TrenchWidth:
    """A trench width with the reason for it, in Chinese and English."""

    width_m: float
    basis_zh: str
    basis_en: str


def working_space_b1_m(outer_diameter_mm: float, *, concrete: bool) -> float:
    """Working space ``b1`` on each side of a pipe, metres (GB 50268-2008 table 4.3.2).

    Pipes above 3000 mm keep the last row's value.

    Examples
    --------
    >>> working_space_b1_m(800, concrete=True), working_space_b1_m(800, concrete=False)
    (0.5, 0.4)
    """
    for upper, b1_concrete, b1_other in B1_TABLE_MM:
        if outer_diameter_mm <= upper:
            return (b1_concrete if concrete else b1_other) / 1000.0
    last = B1_TABLE_MM[-1]
    return (last[1] if concrete else last[2]) / 1000.0


def _round_up(width: float) -> float:
    """Round up to the next 5 cm (and at least :data:`MIN_WIDTH_M`)."""
    return max(MIN_WIDTH_M, math.ceil(round(width * 20.0, 6)) / 20.0)


def default_trench_width(
    utility: UtilityKind, *, diameter_mm: float | None = None, voltage_kv: float | None = None
) -> TrenchWidth:
    """Return the default trench width of a work that gives none (see the module docstring).

    Parameters
    ----------
    utility
        The utility kind.
    diameter_mm
        Outer pipe diameter, or duct bank width for cables; a typical value when ``None``.
    voltage_kv
        For power cables without a duct bank width.

    Examples
    --------
    >>> default_trench_width(UtilityKind.DRAINAGE, diameter_mm=1200).width_m  # 1.2 + 2 × 0.6
    2.4
    """
    if utility in (UtilityKind.POWER, UtilityKind.TELECOM):
        if diameter_mm is not None and diameter_mm > 0:
            width = _round_up(diameter_mm / 1000.0 + 2 * DUCT_WORKING_SPACE_M)
            return TrenchWidth(
                width,
                f"默认：排管宽 {diameter_mm:g} mm + 两侧工作面各 {DUCT_WORKING_SPACE_M} m",
                f"default: duct bank {diameter_mm:g} mm + {DUCT_WORKING_SPACE_M} m working space each side",
            )
        if utility is UtilityKind.TELECOM:
            return TrenchWidth(
                TELECOM_WIDTH_M,
                f"默认：通信管道典型沟宽 {TELECOM_WIDTH_M} m（GB 50373-2019）",
                f"default: typical telecom duct trench {TELECOM_WIDTH_M} m (GB 50373-2019)",
            )
        kv = voltage_kv if voltage_kv is not None and voltage_kv > 0 else 10.0
        width = next(w for upper, w in POWER_WIDTH_BY_KV if kv <= upper)
        return TrenchWidth(
            width,
            f"默认：{kv:g} kV 电缆排管典型沟宽 {width} m（国网电缆通道典型设计）",
            f"default: typical {kv:g} kV cable duct trench {width} m (State Grid typical design)",
        )
    given = diameter_mm is not None and diameter_mm > 0
    d0_mm = float(diameter_mm) if given and diameter_mm is not None else DEFAULT_DIAMETER_MM[utility]
    concrete = utility is UtilityKind.DRAINAGE
    b1 = working_space_b1_m(d0_mm, concrete=concrete)
    d0 = d0_mm / 1000.0
    assumed = "" if given else "（未给管径，按典型值）"
    assumed_en = "" if given else " (no diameter given, typical value)"
    if utility is UtilityKind.HEAT:
        width = _round_up(2 * d0 + HEAT_PIPE_GAP_M + 2 * b1)
        return TrenchWidth(
            width,
            f"默认：供回水两管 2×{d0_mm:g} mm{assumed} + 管间 {HEAT_PIPE_GAP_M} m"
            f" + 两侧工作面各 {b1} m（GB 50268 §4.3.2）",
            f"default: supply and return 2×{d0_mm:g} mm{assumed_en} + {HEAT_PIPE_GAP_M} m between + "
            f"{b1} m working space each side (GB 50268 §4.3.2)",
        )
    width = _round_up(d0 + 2 * b1)
    return TrenchWidth(
        width,
        f"默认：管外径 {d0_mm:g} mm{assumed} + 两侧工作面各 {b1} m（GB 50268-2008 §4.3.2）",
        f"default: outer diameter {d0_mm:g} mm{assumed_en} + {b1} m working space each side (GB 50268-2008 §4.3.2)",
    )
