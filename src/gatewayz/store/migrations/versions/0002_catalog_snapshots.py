"""catalog snapshots: each provider's last good model list

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_snapshots",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_count", sa.Integer(), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_catalog_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("catalog_snapshots")
