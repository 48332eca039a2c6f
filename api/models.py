"""Persistence model of the service (SQLAlchemy 2, geoalchemy2), on SpatiaLite or PostGIS.

Every geometry column is in the working CRS (:func:`working_srid`, EPSG:4545 by default) and
carries a spatial index (R*Tree on SpatiaLite, GiST on PostGIS). Works keep their full history:
the ``works`` row is the current state and every change appends a ``work_versions`` row; nothing
is overwritten. Bundles carry a ``version`` column used for optimistic locking. ``audit_log``
is append-only (database triggers refuse UPDATE and DELETE).

The schema is created by the Alembic migrations in ``api/migrations`` (``onetrench db upgrade``),
never by ``create_all`` in production.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from onetrench.domain import (
    ExcavationMethod,
    FindingKind,
    GasPressureClass,
    PavementKind,
    RoadClass,
    Severity,
    UtilityKind,
    WorksKind,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def working_srid(crs: str | None = None) -> int:
    """Return the EPSG code of the working CRS (``settings.working_crs`` when ``crs`` is None).

    Examples
    --------
    >>> working_srid("EPSG:4544")
    4544
    """
    if crs is None:
        from onetrench.settings import Settings

        crs = Settings().working_crs  # not get_settings(): importing must not freeze the cached settings
    text = crs.strip().upper()
    if text.startswith("EPSG:") and text[5:].isdigit():
        return int(text[5:])
    from pyproj import CRS

    code = CRS.from_user_input(crs).to_epsg()
    if code is None:
        from onetrench.errors import ConfigError

        raise ConfigError(
            f"工作坐标系 {crs} 没有 EPSG 代码，数据库需要 EPSG 代码", f"working CRS {crs} has no EPSG code"
        )
    return int(code)


#: SRID of every geometry column, fixed when the schema is created.
SRID = working_srid()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp, stored in UTC (SQLite keeps no zone: it is re-attached on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert to UTC; naive values are refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime / 时间缺少时区")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def _enum(cls: type[StrEnum], length: int = 32) -> SAEnum:
    return SAEnum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def geometry_column(kind: str = "GEOMETRY", *, nullable: bool = False, spatial_index: bool = True) -> Any:
    """A geoalchemy2 geometry column in the working CRS, with a spatial index unless told otherwise."""
    return mapped_column(Geometry(kind, srid=SRID, spatial_index=spatial_index), nullable=nullable)


class OrgKind(StrEnum):
    """The kind of an organisation, which bounds what its tokens may do."""

    UTILITY = "utility"
    BUREAU = "bureau"
    ADMIN = "admin"


class Role(StrEnum):
    """The role a token acts in: a utility planner, the planning bureau, or an administrator."""

    UTILITY = "utility"
    BUREAU = "bureau"
    ADMIN = "admin"


class ChangeKind(StrEnum):
    """What a work version records."""

    CREATED = "created"
    UPDATED = "updated"
    WITHDRAWN = "withdrawn"


class BundleStatus(StrEnum):
    """Where a bundle stands in review."""

    PROPOSED = "proposed"
    DATES_ACCEPTED = "dates_accepted"
    APPROVED = "approved"
    SENT_BACK = "sent_back"
    SUPERSEDED = "superseded"


class Decision(StrEnum):
    """A decision recorded on a bundle."""

    ACCEPT_DATES = "accept_dates"
    APPROVE = "approve"
    SEND_BACK = "send_back"


class Base(DeclarativeBase):
    """Declarative base with the naming convention of every constraint."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Organisation(Base):
    """A utility company, the planning bureau, or the administrators."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrgKind] = mapped_column(_enum(OrgKind, 16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="organisation")


class ApiToken(Base):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, 16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    organisation: Mapped[Organisation] = relationship(back_populates="tokens")


class RoadRow(Base):
    """A road centreline (see :class:`onetrench.domain.Road`)."""

    __tablename__ = "roads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    road_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    road_class: Mapped[RoadClass] = mapped_column(_enum(RoadClass))
    width_m: Mapped[float] = mapped_column(Float, index=True)
    last_works_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    last_works_kind: Mapped[WorksKind | None] = mapped_column(_enum(WorksKind), default=None)
    pavement: Mapped[PavementKind] = mapped_column(_enum(PavementKind), default=PavementKind.ASPHALT)
    geometry: Mapped[Any] = geometry_column()
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class WorkRow(Base):
    """The current state of one work; its history is in :class:`WorkVersion`."""

    __tablename__ = "works"
    __table_args__ = (UniqueConstraint("org_id", "work_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    work_id: Mapped[str] = mapped_column(String(120))
    utility: Mapped[UtilityKind] = mapped_column(_enum(UtilityKind))
    owner: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date] = mapped_column(Date)
    earliest_start: Mapped[dt.date | None] = mapped_column(Date, default=None)
    latest_end: Mapped[dt.date | None] = mapped_column(Date, default=None)
    diameter_mm: Mapped[float | None] = mapped_column(Float, default=None)
    voltage_kv: Mapped[float | None] = mapped_column(Float, default=None)
    gas_pressure: Mapped[GasPressureClass | None] = mapped_column(_enum(GasPressureClass), default=None)
    trench_width_m: Mapped[float | None] = mapped_column(Float, default=None)
    depth_m: Mapped[float | None] = mapped_column(Float, default=None)
    method: Mapped[ExcavationMethod] = mapped_column(_enum(ExcavationMethod), default=ExcavationMethod.OPEN_CUT)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(300), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    geometry: Mapped[Any] = geometry_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()


class WorkVersion(Base):
    """One kept state of a work: every change appends a row, none is overwritten."""

    __tablename__ = "work_versions"
    __table_args__ = (UniqueConstraint("work_pk", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_pk: Mapped[int] = mapped_column(ForeignKey("works.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[ChangeKind] = mapped_column(_enum(ChangeKind, 16))
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    geometry: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), default=None)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OccupancyRow(Base):
    """Where one work runs inside one road's corridor (intervals in metres along the road)."""

    __tablename__ = "occupancies"
    __table_args__ = (UniqueConstraint("work_pk", "road_pk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_pk: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    road_pk: Mapped[int] = mapped_column(ForeignKey("roads.id", ondelete="CASCADE"), index=True)
    intervals: Mapped[list[Any]] = mapped_column()
    offsets_m: Mapped[list[Any]] = mapped_column()
    crossings: Mapped[list[Any]] = mapped_column()
    length_m: Mapped[float] = mapped_column(Float)


class FindingRow(Base):
    """One finding of the rule; ``key`` identifies it so that concurrent checks never duplicate it."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[FindingKind] = mapped_column(_enum(FindingKind), index=True)
    severity: Mapped[Severity] = mapped_column(_enum(Severity, 16))
    work_keys: Mapped[list[Any]] = mapped_column()
    road_id: Mapped[str | None] = mapped_column(String(100), index=True, default=None)
    road_name: Mapped[str | None] = mapped_column(String(200), default=None)
    zh: Mapped[str] = mapped_column(Text)
    en: Mapped[str] = mapped_column(Text)
    fix_zh: Mapped[str] = mapped_column(Text, default="")
    fix_en: Mapped[str] = mapped_column(Text, default="")
    measures: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: No spatial index: findings are never selected by place (migration 0005).
    geometry: Mapped[Any | None] = geometry_column(nullable=True, spatial_index=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    works: Mapped[list[FindingWork]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class FindingWork(Base):
    """Link of a finding to each work it concerns."""

    __tablename__ = "finding_works"

    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    work_pk: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), primary_key=True, index=True)


class BundleRow(Base):
    """One joint excavation; ``version`` increases on every change (optimistic locking)."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[BundleStatus] = mapped_column(_enum(BundleStatus, 16), default=BundleStatus.PROPOSED, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    work_keys: Mapped[list[Any]] = mapped_column()
    lead_work_key: Mapped[str] = mapped_column(String(200))
    lead_owner: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    stretches: Mapped[list[Any]] = mapped_column()
    savings: Mapped[dict[str, Any]] = mapped_column()
    footprint: Mapped[Any] = geometry_column()
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    works: Mapped[list[BundleWork]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class BundleWork(Base):
    """Link of a bundle to each of its works."""

    __tablename__ = "bundle_works"

    bundle_pk: Mapped[int] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"), primary_key=True)
    work_pk: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), primary_key=True, index=True)
    proposed_start: Mapped[dt.date | None] = mapped_column(Date, default=None)
    proposed_end: Mapped[dt.date | None] = mapped_column(Date, default=None)
    dates_accepted: Mapped[bool] = mapped_column(Boolean, default=False)


class Approval(Base):
    """A decision on a bundle (accept dates, approve, send back), with the version it was made on."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_pk: Mapped[int] = mapped_column(ForeignKey("bundles.id"), index=True)
    decision: Mapped[Decision] = mapped_column(_enum(Decision, 16))
    bundle_version: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), default=None)
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExportedPackage(Base):
    """A permit package exported for 渝快办 (the ZIP is kept with its SHA-256)."""

    __tablename__ = "exported_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_pk: Mapped[int] = mapped_column(ForeignKey("bundles.id"), index=True)
    bundle_version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), default=None)
    exported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One entry of the append-only audit log (refused access included)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), default=None)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"), default=None)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IdempotencyRecord(Base):
    """The stored answer to an upload sent with an ``Idempotency-Key`` header.

    Written in the upload's own transaction: either the works and this record are both stored,
    or neither is, so a client that lost the answer (or whose request was cut off) can send the
    same request again with the same key and gets the first answer back instead of a second upload.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    endpoint: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_gz: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ServiceLock(Base):
    """Rows locked (UPDATE) to serialise checks that must see each other's results."""

    __tablename__ = "service_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    counter: Mapped[int] = mapped_column(Integer, default=0)
