"""the last batch each batch writer committed, so a retried or replayed batch is applied once

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_writers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_writers")),
    )
    op.create_index("ix_batch_writers_updated_at", "batch_writers", ["updated_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_batch_writers_updated_at", table_name="batch_writers")
    op.drop_table("batch_writers")
