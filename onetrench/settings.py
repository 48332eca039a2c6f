"""One settings object for the whole service (prefix ``ONETRENCH_``).

Every threshold of the rule lives here with its documented default, and can be overridden per
road class (``class_overrides``). Values come from, in order: keyword arguments, environment
variables (``ONETRENCH_MIN_SHARED_M=20``; nested values as JSON), a ``.env`` file, defaults.

Examples
--------
>>> s = Settings(min_shared_m=15)
>>> s.rule_for(RoadClass.ARTERIAL).min_shared_m
15.0
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from onetrench.domain import PavementKind, RoadClass
from onetrench.errors import ConfigError

#: Repository root (used for the bundled sample data and the default database location).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class RuleThresholds(BaseModel):
    """The thresholds of the rule that may differ by road class."""

    min_shared_m: float = Field(10.0, ge=0, description="同一路段最小共用长度 (m)")
    period_gap_days: int = Field(0, ge=0, description="同一时段允许的间隔天数")
    crossing_angle_deg: float = Field(45.0, gt=0, lt=90, description="横穿判定角度 (°)")
    max_open_works: int | None = Field(None, ge=1, description="同一道路同时施工的最大工程数")


class BlackoutPeriod(BaseModel):
    """A period when no road may be opened (holidays, 高考, events).

    ``road_ids`` empty means every road.
    """

    name_zh: str
    name_en: str
    start: dt.date
    end: dt.date
    road_ids: list[str] = Field(default_factory=list)

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: dt.date, info: object) -> dt.date:
        start = getattr(info, "data", {}).get("start")
        if start is not None and end < start:
            raise ValueError("blackout end before start / 禁止施工时段结束早于开始")
        return end


def _default_blackouts() -> list[BlackoutPeriod]:
    return [
        BlackoutPeriod(
            name_zh="2026年春节", name_en="Spring Festival 2026", start=dt.date(2026, 2, 15), end=dt.date(2026, 2, 23)
        ),
        BlackoutPeriod(
            name_zh="2026年高考", name_en="Gaokao 2026", start=dt.date(2026, 6, 7), end=dt.date(2026, 6, 10)
        ),
        BlackoutPeriod(
            name_zh="2026年国庆节", name_en="National Day 2026", start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 7)
        ),
        BlackoutPeriod(
            name_zh="2027年春节", name_en="Spring Festival 2027", start=dt.date(2027, 2, 5), end=dt.date(2027, 2, 13)
        ),
        BlackoutPeriod(
            name_zh="2027年高考", name_en="Gaokao 2027", start=dt.date(2027, 6, 7), end=dt.date(2027, 6, 10)
        ),
        BlackoutPeriod(
            name_zh="2027年国庆节", name_en="National Day 2027", start=dt.date(2027, 10, 1), end=dt.date(2027, 10, 7)
        ),
    ]


class Settings(BaseSettings):
    """All settings of onetrench, with documented defaults."""

    model_config = SettingsConfigDict(
        env_prefix="ONETRENCH_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    database_url: str = Field(
        "sqlite:///onetrench.sqlite",
        description="SQLAlchemy URL. Default: SpatiaLite file in the working directory. "
        "PostGIS: postgresql+psycopg://user@host/db",
    )
    working_crs: str = Field("EPSG:4545", description="工作坐标系 (CGCS2000 3° GK, CM 108E); EPSG:4544 for CM 105E")
    exchange_crs: str = Field("EPSG:4490", description="交换坐标系 (CGCS2000 geographic)")
    district_boundary: Path = Field(
        PROJECT_ROOT / "data" / "qijiang_boundary.geojson",
        description="綦江区 boundary (GeoJSON, EPSG:4490); outside it a work is reported",
    )

    # The rule (design.md, "The rule, precisely"); per-class overrides below.
    min_shared_m: float = Field(10.0, ge=0, description="两工程同一路段最小共用长度 (m)")
    period_gap_days: int = Field(0, ge=0, description="视为同一时段的最大间隔天数")
    crossing_angle_deg: float = Field(45.0, gt=0, lt=90, description="与中心线夹角超过此值视为横穿 (°)")
    class_overrides: dict[RoadClass, RuleThresholds] = Field(
        default_factory=dict, description="Per road-class overrides of the rule thresholds"
    )
    moratorium_years_new: int = Field(5, ge=0, description="新建、改建、扩建道路保护期 (年) — 条例第33条")
    moratorium_years_overhaul: int = Field(3, ge=0, description="大修道路保护期 (年) — 条例第33条")
    working_days_only: bool = Field(False, description="只在工作日安排施工")
    blackouts: list[BlackoutPeriod] = Field(default_factory=_default_blackouts, description="禁止施工时段")

    # Road defaults when a network lacks a width (red-line width by class, CJJ 37 typical).
    default_road_width_m: dict[RoadClass, float] = Field(
        default_factory=lambda: {
            RoadClass.EXPRESSWAY: 50.0,
            RoadClass.ARTERIAL: 40.0,
            RoadClass.SECONDARY: 30.0,
            RoadClass.BRANCH: 16.0,
        },
        description="缺少红线宽度时按道路等级取默认值 (m)",
    )

    # Savings.
    restoration_cost_yuan_per_m2: dict[PavementKind, float] = Field(
        default_factory=lambda: {PavementKind.ASPHALT: 420.0, PavementKind.CONCRETE: 360.0, PavementKind.BLOCK: 180.0},
        description="路面恢复单价 (元/m²)",
    )

    # Service limits.
    max_upload_bytes: int = Field(50 * 1024 * 1024, gt=0, description="单次上传最大字节数")
    max_vertices_per_feature: int = Field(200_000, gt=0, description="单个要素最大顶点数")
    idempotency_hours: float = Field(
        24.0, gt=0, le=24 * 30, description="幂等键保留小时数 / hours an Idempotency-Key answer is kept"
    )
    upload_findings_inline_max: int = Field(
        2000,
        ge=0,
        description="上传回答中逐条列出的检查结果上限；超过时回答只含按类型/严重程度的计数和分页链接 "
        "(GET /findings?upload=…) / most findings listed inline in an upload's answer; above it the "
        "answer carries counts per kind and severity and a link to the paged findings instead",
    )
    findings_page_max: int = Field(
        1000, gt=0, le=100_000, description="分页读取检查结果时每页最多条数 / largest page of GET /findings?upload=…"
    )

    # Maps: offline by default (no tile server); a tile layer only when configured.
    map_tile_url: str | None = Field(
        None,
        description="地图底图瓦片地址模板 (e.g. 天地图 https://t{s}.tianditu.gov.cn/vec_w/wmts?...&tk=KEY); "
        "None = 无底图，仅道路网 (offline)",
    )
    map_tile_attribution: str = Field("", description="底图版权说明 (tile attribution)")

    def rule_for(self, road_class: RoadClass | None) -> RuleThresholds:
        """Return the thresholds in force on roads of ``road_class``."""
        base = RuleThresholds(
            min_shared_m=self.min_shared_m,
            period_gap_days=self.period_gap_days,
            crossing_angle_deg=self.crossing_angle_deg,
        )
        if road_class is None or road_class not in self.class_overrides:
            return base
        override = self.class_overrides[road_class]
        return base.model_copy(update=override.model_dump(exclude_unset=True))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment.

    Raises
    ------
    ConfigError
        When an ``ONETRENCH_*`` variable holds an invalid value.
    """
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigError(f"ONETRENCH_* 环境变量配置有误：{exc}", f"invalid ONETRENCH_* setting: {exc}") from exc
