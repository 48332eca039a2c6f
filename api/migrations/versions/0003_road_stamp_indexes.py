"""Indexes on ``roads.width_m`` and ``roads.loaded_at``: the road-network stamp read on every upload.

Each upload reads ``max(id), max(loaded_at), max(width_m)`` of the roads (the widest road is the
search radius of the incremental check; the three identify the cached network). With these
indexes the aggregates are index lookups instead of a scan of every road.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the two indexes."""
    op.create_index(op.f("ix_roads_width_m"), "roads", ["width_m"])
    op.create_index(op.f("ix_roads_loaded_at"), "roads", ["loaded_at"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index(op.f("ix_roads_loaded_at"), table_name="roads")
    op.drop_index(op.f("ix_roads_width_m"), table_name="roads")
