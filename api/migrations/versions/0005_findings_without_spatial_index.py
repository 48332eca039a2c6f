"""No spatial index on ``findings.geometry``: no query selects findings by place.

Findings are read by id, key, work, road or kind, and their geometry only to draw or answer them;
nothing asks the database for the findings in an area. The spatial index was written on every
insert all the same: on the bench, 100k findings took 1.85 s to ``COPY`` with it and 1.22 s
without, a third of the server's share of a 10k-feature upload. An index can be created again
by a later revision when a query by area needs one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop the spatial index of ``findings.geometry`` (GiST on PostGIS, R*Tree on SpatiaLite)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("SELECT DisableSpatialIndex('findings', 'geometry')")
        op.execute("DROP TABLE IF EXISTS idx_findings_geometry")
    else:
        op.execute("DROP INDEX IF EXISTS idx_findings_geometry")


def downgrade() -> None:
    """Create the spatial index again."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("SELECT CreateSpatialIndex('findings', 'geometry')")
    else:
        op.execute("CREATE INDEX idx_findings_geometry ON findings USING gist (geometry)")
