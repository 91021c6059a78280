"""roles, key restrictions, provider keys, plans, trials, coupons, payments, chat history,
audit log, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TABLES = (
    "roles",
    "provider_keys",
    "plans",
    "subscriptions",
    "trials",
    "coupons",
    "coupon_redemptions",
    "payments",
    "stripe_events",
    "chat_sessions",
    "chat_messages",
    "audit_logs",
    "notifications",
)


def upgrade() -> None:
    from gatewayz.store.tables import metadata

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("role", sa.String(64), nullable=False, server_default="user"))
        batch.add_column(sa.Column("referral_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("referred_by", sa.Integer(), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_referral_code"), ["referral_code"])
        batch.create_foreign_key(
            op.f("fk_users_referred_by_users"),
            "users",
            ["referred_by"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute("UPDATE users SET role = 'admin' WHERE is_admin")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("environment", sa.String(8), nullable=False, server_default="live")
        )
        batch.add_column(sa.Column("scopes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ip_allowlist", sa.Text(), nullable=True))
        batch.add_column(sa.Column("referrers", sa.Text(), nullable=True))
        batch.add_column(sa.Column("spend_limit_units", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("spent_units", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("reserved_units", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("replaced_by", sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f("ck_api_keys_spent_not_negative"), "spent_units >= 0")
        batch.create_check_constraint(
            op.f("ck_api_keys_key_reserved_not_negative"), "reserved_units >= 0"
        )
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[name] for name in _NEW_TABLES])


def downgrade() -> None:
    from gatewayz.store.tables import metadata

    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[name] for name in reversed(_NEW_TABLES)])
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("ck_api_keys_key_reserved_not_negative"), type_="check")
        batch.drop_constraint(op.f("ck_api_keys_spent_not_negative"), type_="check")
        for column in (
            "replaced_by",
            "reserved_units",
            "spent_units",
            "spend_limit_units",
            "referrers",
            "ip_allowlist",
            "expires_at",
            "scopes",
            "environment",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE users SET is_admin = (role = 'admin')")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("fk_users_referred_by_users"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_users_referral_code"), type_="unique")
        for column in ("referred_by", "referral_code", "role"):
            batch.drop_column(column)
