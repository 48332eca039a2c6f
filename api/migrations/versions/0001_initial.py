"""Initial schema.

Organisations, tokens, roads, works with history, occupancies, findings, bundles, approvals,
exported packages, append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from api.models import UTCDateTime, working_srid

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = UTCDateTime()

#: (table, column, spatially indexed) of every geometry column, for the SpatiaLite downgrade.
SPATIAL_COLUMNS = (
    ("roads", "geometry", True),
    ("works", "geometry", True),
    ("work_versions", "geometry", False),
    ("findings", "geometry", True),
    ("bundles", "footprint", True),
)


def _geom(*, index: bool = True) -> Geometry:
    return Geometry("GEOMETRY", srid=working_srid(), spatial_index=index)


def _s(length: int) -> sa.String:
    return sa.String(length)


def upgrade() -> None:
    """Create every table, the spatial indexes and the audit-log guards."""
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", _s(64), nullable=False),
        sa.Column("name", _s(200), nullable=False),
        sa.Column("kind", _s(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("code", name=op.f("uq_organisations_code")),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("role", _s(16), nullable=False),
        sa.Column("token_hash", _s(64), nullable=False),
        sa.Column("prefix", _s(16), nullable=False),
        sa.Column("label", _s(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_tokens_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    op.create_index(op.f("ix_tokens_org_id"), "tokens", ["org_id"])
    op.create_table(
        "roads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("road_id", _s(100), nullable=False),
        sa.Column("name", _s(200), nullable=False),
        sa.Column("road_class", _s(32), nullable=False),
        sa.Column("width_m", sa.Float, nullable=False),
        sa.Column("last_works_date", sa.Date, nullable=True),
        sa.Column("last_works_kind", _s(32), nullable=True),
        sa.Column("pavement", _s(32), nullable=False),
        sa.Column("geometry", _geom(), nullable=False),
        sa.Column("loaded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads")),
        sa.UniqueConstraint("road_id", name=op.f("uq_roads_road_id")),
    )
    op.create_table(
        "works",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", _s(200), nullable=False),
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("work_id", _s(120), nullable=False),
        sa.Column("utility", _s(32), nullable=False),
        sa.Column("owner", _s(200), nullable=False),
        sa.Column("name", _s(300), nullable=False),
        sa.Column("contact", _s(200), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=False),
        sa.Column("earliest_start", sa.Date, nullable=True),
        sa.Column("latest_end", sa.Date, nullable=True),
        sa.Column("diameter_mm", sa.Float, nullable=True),
        sa.Column("voltage_kv", sa.Float, nullable=True),
        sa.Column("gas_pressure", _s(32), nullable=True),
        sa.Column("trench_width_m", sa.Float, nullable=True),
        sa.Column("depth_m", sa.Float, nullable=True),
        sa.Column("method", _s(32), nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("source", _s(300), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("geometry", _geom(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_works")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_works_org_id_organisations")),
        sa.UniqueConstraint("key", name=op.f("uq_works_key")),
        sa.UniqueConstraint("org_id", "work_id", name=op.f("uq_works_org_id_work_id")),
    )
    op.create_index(op.f("ix_works_org_id"), "works", ["org_id"])
    op.create_index(op.f("ix_works_withdrawn"), "works", ["withdrawn"])
    op.create_table(
        "work_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("work_pk", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("change", _s(16), nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
        sa.Column("geometry", _geom(index=False), nullable=False),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.Column("token_id", sa.Integer, nullable=True),
        sa.Column("changed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_versions")),
        sa.ForeignKeyConstraint(["work_pk"], ["works.id"], name=op.f("fk_work_versions_work_pk_works")),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], name=op.f("fk_work_versions_token_id_tokens")),
        sa.UniqueConstraint("work_pk", "version", name=op.f("uq_work_versions_work_pk_version")),
    )
    op.create_index(op.f("ix_work_versions_work_pk"), "work_versions", ["work_pk"])
    op.create_table(
        "occupancies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("work_pk", sa.Integer, nullable=False),
        sa.Column("road_pk", sa.Integer, nullable=False),
        sa.Column("intervals", sa.JSON, nullable=False),
        sa.Column("offsets_m", sa.JSON, nullable=False),
        sa.Column("crossings", sa.JSON, nullable=False),
        sa.Column("length_m", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occupancies")),
        sa.ForeignKeyConstraint(
            ["work_pk"], ["works.id"], name=op.f("fk_occupancies_work_pk_works"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["road_pk"], ["roads.id"], name=op.f("fk_occupancies_road_pk_roads"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("work_pk", "road_pk", name=op.f("uq_occupancies_work_pk_road_pk")),
    )
    op.create_index(op.f("ix_occupancies_work_pk"), "occupancies", ["work_pk"])
    op.create_index(op.f("ix_occupancies_road_pk"), "occupancies", ["road_pk"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", _s(500), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("severity", _s(16), nullable=False),
        sa.Column("work_keys", sa.JSON, nullable=False),
        sa.Column("road_id", _s(100), nullable=True),
        sa.Column("road_name", _s(200), nullable=True),
        sa.Column("zh", sa.Text, nullable=False),
        sa.Column("en", sa.Text, nullable=False),
        sa.Column("fix_zh", sa.Text, nullable=False),
        sa.Column("fix_en", sa.Text, nullable=False),
        sa.Column("measures", sa.JSON, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("geometry", _geom(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("key", name=op.f("uq_findings_key")),
    )
    op.create_index(op.f("ix_findings_kind"), "findings", ["kind"])
    op.create_index(op.f("ix_findings_road_id"), "findings", ["road_id"])
    op.create_table(
        "finding_works",
        sa.Column("finding_id", sa.Integer, nullable=False),
        sa.Column("work_pk", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("finding_id", "work_pk", name=op.f("pk_finding_works")),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_finding_works_finding_id_findings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["work_pk"], ["works.id"], name=op.f("fk_finding_works_work_pk_works"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_finding_works_work_pk"), "finding_works", ["work_pk"])
    op.create_table(
        "bundles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bundle_id", _s(120), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("work_keys", sa.JSON, nullable=False),
        sa.Column("lead_work_key", _s(200), nullable=False),
        sa.Column("lead_owner", _s(200), nullable=False),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("window_end", sa.Date, nullable=False),
        sa.Column("draft", sa.Boolean, nullable=False),
        sa.Column("stretches", sa.JSON, nullable=False),
        sa.Column("savings", sa.JSON, nullable=False),
        sa.Column("footprint", _geom(), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundles")),
        sa.UniqueConstraint("bundle_id", name=op.f("uq_bundles_bundle_id")),
    )
    op.create_index(op.f("ix_bundles_status"), "bundles", ["status"])
    op.create_table(
        "bundle_works",
        sa.Column("bundle_pk", sa.Integer, nullable=False),
        sa.Column("work_pk", sa.Integer, nullable=False),
        sa.Column("proposed_start", sa.Date, nullable=True),
        sa.Column("proposed_end", sa.Date, nullable=True),
        sa.Column("dates_accepted", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("bundle_pk", "work_pk", name=op.f("pk_bundle_works")),
        sa.ForeignKeyConstraint(
            ["bundle_pk"], ["bundles.id"], name=op.f("fk_bundle_works_bundle_pk_bundles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["work_pk"], ["works.id"], name=op.f("fk_bundle_works_work_pk_works"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_bundle_works_work_pk"), "bundle_works", ["work_pk"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bundle_pk", sa.Integer, nullable=False),
        sa.Column("decision", _s(16), nullable=False),
        sa.Column("bundle_version", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("org_id", sa.Integer, nullable=False),
        sa.Column("token_id", sa.Integer, nullable=True),
        sa.Column("decided_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.ForeignKeyConstraint(["bundle_pk"], ["bundles.id"], name=op.f("fk_approvals_bundle_pk_bundles")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_approvals_org_id_organisations")),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], name=op.f("fk_approvals_token_id_tokens")),
    )
    op.create_index(op.f("ix_approvals_bundle_pk"), "approvals", ["bundle_pk"])
    op.create_table(
        "exported_packages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("bundle_pk", sa.Integer, nullable=False),
        sa.Column("bundle_version", sa.Integer, nullable=False),
        sa.Column("sha256", _s(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("token_id", sa.Integer, nullable=True),
        sa.Column("exported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exported_packages")),
        sa.ForeignKeyConstraint(["bundle_pk"], ["bundles.id"], name=op.f("fk_exported_packages_bundle_pk_bundles")),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], name=op.f("fk_exported_packages_token_id_tokens")),
    )
    op.create_index(op.f("ix_exported_packages_bundle_pk"), "exported_packages", ["bundle_pk"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("org_id", sa.Integer, nullable=True),
        sa.Column("token_id", sa.Integer, nullable=True),
        sa.Column("action", _s(64), nullable=False),
        sa.Column("target", _s(300), nullable=False),
        sa.Column("outcome", _s(32), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_audit_log_org_id_organisations")),
        sa.ForeignKeyConstraint(["token_id"], ["tokens.id"], name=op.f("fk_audit_log_token_id_tokens")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_table(
        "service_locks",
        sa.Column("name", _s(64), nullable=False),
        sa.Column("counter", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_locks")),
    )
    op.bulk_insert(
        sa.table("service_locks", sa.column("name", sa.String), sa.column("counter", sa.Integer)),
        [{"name": "works", "counter": 0}],
    )
    _audit_guards()


def _audit_guards() -> None:
    """Make ``audit_log`` append-only in the database itself."""
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only / 审计日志只能追加'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only / 审计日志只能追加'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    """Drop everything (the audit log included)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for table, column, indexed in SPATIAL_COLUMNS:
            if indexed:
                op.execute(f"SELECT DisableSpatialIndex('{table}', '{column}')")
                op.execute(f"DROP TABLE IF EXISTS idx_{table}_{column}")
            op.execute(f"SELECT DiscardGeometryColumn('{table}', '{column}')")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in (
        "service_locks",
        "audit_log",
        "exported_packages",
        "approvals",
        "bundle_works",
        "bundles",
        "finding_works",
        "findings",
        "occupancies",
        "work_versions",
        "works",
        "roads",
        "tokens",
        "organisations",
    ):
        op.drop_table(table)
