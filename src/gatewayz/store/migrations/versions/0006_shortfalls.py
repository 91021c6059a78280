"""calls are charged in full: a balance may go below zero through a shortfall, recorded per row

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_balance_not_negative"), type_="check")
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(
            sa.Column("shortfall_units", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    in_debt = op.get_bind().scalar(sa.text("SELECT count(*) FROM users WHERE balance_units < 0"))
    if in_debt:
        raise RuntimeError(
            f"{in_debt} user(s) have a balance below zero, which the old schema cannot hold: "
            "grant them the credits they owe first"
        )
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("shortfall_units")
    with op.batch_alter_table("users") as batch:
        batch.create_check_constraint(op.f("ck_users_balance_not_negative"), "balance_units >= 0")
