"""The database schema. Money columns hold integer units (see billing.money)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("balance_units", BigInteger, nullable=False, default=0),
    Column("reserved_units", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("balance_units >= 0", name="balance_not_negative"),
    CheckConstraint("reserved_units >= 0", name="reserved_not_negative"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("display_prefix", String(32), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_user_id", "user_id"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("amount_units", BigInteger, nullable=False),
    Column("balance_after_units", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reason", Text, nullable=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("request_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_ledger_user_created", "user_id", "created_at"),
)

request_logs = Table(
    "request_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", String(64), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("key_id", Integer, nullable=False),
    Column("api", String(32), nullable=False),
    Column("model", String(300), nullable=False),
    Column("provider", String(64), nullable=True),
    Column("provider_model", String(300), nullable=True),
    Column("stream", Boolean, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("usage_estimated", Boolean, nullable=False),
    Column("cost_units", BigInteger, nullable=False),
    Column("latency_ms", Integer, nullable=False),
    Column("ttft_ms", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_request_logs_key_created", "key_id", "created_at"),
    Index("ix_request_logs_user_created", "user_id", "created_at"),
    Index("ix_request_logs_created", "created_at"),
)

catalog_snapshots = Table(
    "catalog_snapshots",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("model_count", Integer, nullable=False),
    Column("models", Text, nullable=False),
)

rate_limits = Table(
    "rate_limits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), unique=True),
    Column("key_id", Integer, ForeignKey("api_keys.id", ondelete="CASCADE"), unique=True),
    Column("rpm", Integer, nullable=True),
    Column("rpd", Integer, nullable=True),
    Column("tpm", BigInteger, nullable=True),
    Column("concurrency", Integer, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("(user_id IS NULL) <> (key_id IS NULL)", name="one_subject"),
)
