"""payment disputes, refunds kept before completion, mismatched payments and the referral
rewards a payment gave

Payments refunded before this revision get their refund claim (what was reversed and what
could not be), so a later refund event takes back only the rest; a user's first settled
payment (by id) is tied to the referral rewards of their first purchase.

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ZERO_UNITS = (
    "referral_units",
    "welcome_units",
    "referral_reversed_units",
    "referral_unreversed_units",
)


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("failure", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referrer_id", sa.Integer(), nullable=True))
        for name in _ZERO_UNITS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("disputed_cents", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("dispute_status", sa.String(length=32), nullable=True))
        batch.create_index("ix_payments_status", ["status"], unique=False)
    op.create_table(
        "payment_intents",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("charge_id", sa.String(length=255), nullable=True),
        sa.Column("refunded_cents", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_intents")),
    )
    op.create_table(
        "stripe_disputes",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("holds", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("closed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_disputes")),
    )
    op.create_index(
        "ix_stripe_disputes_payment_intent_id",
        "stripe_disputes",
        ["payment_intent_id"],
        unique=False,
    )
    op.create_table(
        "payment_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("cents", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("buyer_taken_units", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("buyer_unrecovered_units", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("referrer_taken_units", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column(
            "referrer_unrecovered_units", sa.BigInteger(), nullable=False, server_default="0"
        ),
        sa.Column("changes", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_claims_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_claims")),
        sa.UniqueConstraint("payment_id", "source", name="uq_payment_claims_payment_source"),
    )
    _backfill()


_REWARD = (
    "(SELECT {column} FROM ledger WHERE ledger.idempotency_key = "
    "'{prefix}:' || CAST(payments.user_id AS VARCHAR(20)))"
)


def _backfill() -> None:
    op.execute(
        "INSERT INTO payment_intents (id, refunded_cents, updated_at) "
        "SELECT payment_intent_id, refunded_cents, CURRENT_TIMESTAMP FROM payments "
        "WHERE payment_intent_id IS NOT NULL AND refunded_cents > 0"
    )
    op.execute(
        "INSERT INTO payment_claims (payment_id, source, cents, buyer_taken_units, "
        "buyer_unrecovered_units, referrer_taken_units, referrer_unrecovered_units, changes) "
        "SELECT id, 'refund', refunded_cents, reversed_units, unreversed_units, 0, 0, 0 "
        "FROM payments WHERE refunded_cents > 0"
    )
    referrer = _REWARD.format(column="user_id", prefix="referral")
    reward = _REWARD.format(column="amount_units", prefix="referral")
    welcome = _REWARD.format(column="amount_units", prefix="referral_welcome")
    op.execute(
        f"UPDATE payments SET referrer_id = {referrer}, "
        f"referral_units = COALESCE({reward}, 0), welcome_units = COALESCE({welcome}, 0) "
        "WHERE id IN (SELECT MIN(id) FROM payments "
        "WHERE status IN ('paid', 'partially_refunded', 'refunded') GROUP BY user_id)"
    )


def downgrade() -> None:
    op.drop_table("payment_claims")
    op.drop_index("ix_stripe_disputes_payment_intent_id", table_name="stripe_disputes")
    op.drop_table("stripe_disputes")
    op.drop_table("payment_intents")
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("ix_payments_status")
        for name in ("dispute_status", "disputed_cents", *reversed(_ZERO_UNITS)):
            batch.drop_column(name)
        batch.drop_column("referrer_id")
        batch.drop_column("failure")
