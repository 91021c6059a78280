"""gateway processes and the credit each holds, so a dead process's holds can be given back

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_processes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_processes")),
    )
    op.create_index(
        "ix_gateway_processes_heartbeat_at", "gateway_processes", ["heartbeat_at"], unique=False
    )
    op.create_table(
        "process_holds",
        sa.Column("process_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["gateway_processes.id"],
            name=op.f("fk_process_holds_process_id_gateway_processes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("process_id", "kind", "subject_id", name=op.f("pk_process_holds")),
    )


def downgrade() -> None:
    op.drop_table("process_holds")
    op.drop_index("ix_gateway_processes_heartbeat_at", table_name="gateway_processes")
    op.drop_table("gateway_processes")
