"""balance decreases that every gateway process reads, to give back the leases they made stale

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_revocations")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_credit_revocations_created_at", "credit_revocations", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_credit_revocations_created_at", table_name="credit_revocations")
    op.drop_table("credit_revocations")
