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
    UniqueConstraint,
    false,
    func,
    true,
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
    Column("role", String(64), nullable=False, default="user", server_default="user"),
    Column("balance_units", BigInteger, nullable=False, default=0),
    Column("reserved_units", BigInteger, nullable=False, default=0),
    Column("referral_code", String(32), nullable=True, unique=True),
    Column("referred_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # False for a user created by an administrator who may not grant credits: the free trial
    # is credits too, so such an account is offered none.
    Column("trial_offered", Boolean, nullable=False, default=True, server_default=true()),
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
    Column("environment", String(8), nullable=False, default="live", server_default="live"),
    Column("scopes", Text, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("ip_allowlist", Text, nullable=True),
    Column("referrers", Text, nullable=True),
    Column("spend_limit_units", BigInteger, nullable=True),
    Column("spent_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("reserved_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("replaced_by", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_user_id", "user_id"),
    CheckConstraint("spent_units >= 0", name="spent_not_negative"),
    CheckConstraint("reserved_units >= 0", name="key_reserved_not_negative"),
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
    # The part of a call's cost its credit hold did not cover (billing.ledger.settle).
    Column("shortfall_units", BigInteger, nullable=False, default=0, server_default="0"),
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
    Column("dropped", Text, nullable=True),  # fields a translation left out (protocols.fields)
    # Of input_tokens: read from and written to the provider's prompt cache (protocols.usage).
    Column("cache_read_tokens", Integer, nullable=False, server_default="0"),
    Column("cache_write_tokens", Integer, nullable=False, server_default="0"),
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

roles = Table(
    "roles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("permissions", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

provider_keys = Table(
    "provider_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("hint", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("user_id", "provider", name="uq_provider_keys_user_provider"),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("allowance_units", BigInteger, nullable=False),
    Column("period_days", Integer, nullable=False),
    Column("rpm", Integer, nullable=True),
    Column("rpd", Integer, nullable=True),
    Column("tpm", BigInteger, nullable=True),
    Column("concurrency", Integer, nullable=True),
    Column("models", Text, nullable=True),
    Column("active", Boolean, nullable=False, default=True, server_default=true()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("allowance_units >= 0", name="allowance_not_negative"),
    CheckConstraint("period_days >= 1", name="period_positive"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("plan_id", Integer, ForeignKey("plans.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("next_plan_id", Integer, ForeignKey("plans.id"), nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("user_id", name="uq_subscriptions_user_id"),
    Index("ix_subscriptions_period_end", "period_end"),
)

trials = Table(
    "trials",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("credits_units", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("removed_units", BigInteger, nullable=True),
    Index("ix_trials_expires_at", "expires_at"),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("credits_units", BigInteger, nullable=True),
    Column("percent", Integer, nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("max_redemptions", Integer, nullable=True),
    Column("max_per_user", Integer, nullable=False, default=1, server_default="1"),
    Column("redemptions", Integer, nullable=False, default=0, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("kind IN ('credits', 'bonus')", name="kind_known"),
    CheckConstraint("redemptions >= 0", name="redemptions_not_negative"),
)

coupon_redemptions = Table(
    "coupon_redemptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("coupon_id", Integer, ForeignKey("coupons.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("payment_id", Integer, nullable=True),
    Column("credits_units", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_coupon_redemptions_coupon_user", "coupon_id", "user_id"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("checkout_session_id", String(255), nullable=False, unique=True),
    Column("payment_intent_id", String(255), nullable=True, unique=True),
    Column("amount_cents", Integer, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("credits_units", BigInteger, nullable=False),
    Column("coupon_id", Integer, ForeignKey("coupons.id"), nullable=True),
    Column("status", String(24), nullable=False),
    Column("refunded_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("bonus_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("reversed_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("unreversed_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Why a completed checkout was not credited (its amount or currency differed).
    Column("failure", Text, nullable=True),
    # The referral rewards the purchase gave (referrer_id's and the buyer's welcome), and how
    # much of the referrer's was taken back or could not be.
    Column("referrer_id", Integer, nullable=True),
    Column("referral_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("welcome_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("referral_reversed_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("referral_unreversed_units", BigInteger, nullable=False, default=0, server_default="0"),
    # Cents held by disputes now (open or lost), and the status of the latest dispute.
    Column("disputed_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("dispute_status", String(32), nullable=True),
    Index("ix_payments_user_id", "user_id"),
    Index("ix_payments_status", "status"),
)

# What Stripe has said about a PaymentIntent's money, kept whether or not its payment has
# completed yet; its row is locked first by every event about the intent.
payment_intents = Table(
    "payment_intents",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("charge_id", String(255), nullable=True),
    Column("refunded_cents", Integer, nullable=False, default=0, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Each dispute of a PaymentIntent's charge: whether it holds the disputed credits now, and
# whether it is closed (its outcome is then final).
stripe_disputes = Table(
    "stripe_disputes",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("payment_intent_id", String(255), nullable=False),
    Column("amount_cents", Integer, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(32), nullable=False),
    Column("holds", Boolean, nullable=False, default=False, server_default=false()),
    Column("closed", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_stripe_disputes_payment_intent_id", "payment_intent_id"),
)

# The credits one source ("refund", or "dispute:<id>") has taken back from a payment's buyer
# and referrer, and those it could not take because they had been spent.
payment_claims = Table(
    "payment_claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("payment_id", Integer, ForeignKey("payments.id", ondelete="CASCADE"), nullable=False),
    Column("source", String(300), nullable=False),
    Column("cents", Integer, nullable=False, default=0, server_default="0"),
    Column("buyer_taken_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("buyer_unrecovered_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("referrer_taken_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("referrer_unrecovered_units", BigInteger, nullable=False, default=0, server_default="0"),
    Column("changes", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("payment_id", "source", name="uq_payment_claims_payment_source"),
)

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

chat_sessions = Table(
    "chat_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(300), nullable=True),
    Column("model", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_chat_sessions_user_updated", "user_id", "updated_at"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "session_id", Integer, ForeignKey("chat_sessions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("role", String(32), nullable=False),
    Column("content", Text, nullable=False),
    Column("request_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_chat_messages_session_id", "session_id", "id"),
)

audit_logs = Table(
    "audit_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event", String(64), nullable=False),
    Column("actor_user_id", Integer, nullable=True),
    Column("actor_key_id", Integer, nullable=True),
    Column("target_type", String(32), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("source_ip", String(64), nullable=True),
    Column("details", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_audit_logs_created", "created_at"),
    Index("ix_audit_logs_event_created", "event", "created_at"),
    Index("ix_audit_logs_actor_created", "actor_user_id", "created_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("recipient", String(320), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

gateway_processes = Table(
    "gateway_processes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Index("ix_gateway_processes_heartbeat_at", "heartbeat_at"),
)

process_holds = Table(
    "process_holds",
    metadata,
    Column(
        "process_id",
        String(32),
        ForeignKey("gateway_processes.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(8), primary_key=True),
    Column("subject_id", Integer, primary_key=True),
    Column("units", BigInteger, nullable=False),
)

# Balance decreases, one row per user, written in the decrease's transaction; every gateway
# process reads the new rows (by id) to give back the leases they made stale, and prunes
# old ones. AUTOINCREMENT on SQLite: ids are never reused once the table has been emptied.
credit_revocations = Table(
    "credit_revocations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("origin", String(32), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_credit_revocations_created_at", "created_at"),
    sqlite_autoincrement=True,
)

batch_writers = Table(
    "batch_writers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_batch_writers_updated_at", "updated_at"),
)

# The dashboard's sign-in: a user's password (argon2 hash), their browser sessions (each
# acting through its own API key, kept encrypted), password resets and sign-up invitations.
# Tokens are stored only as keyed hashes.
user_passwords = Table(
    "user_passwords",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", Integer, ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("key_box", Text, nullable=False),
    Column("method", String(16), nullable=False),
    Column("source_ip", String(64), nullable=True),
    Column("user_agent", String(300), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Index("ix_web_sessions_user_id", "user_id"),
)

password_resets = Table(
    "password_resets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_password_resets_user_id", "user_id"),
)

signup_invites = Table(
    "signup_invites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("email", String(320), nullable=True),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("used_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
)
