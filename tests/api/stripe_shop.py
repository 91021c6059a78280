"""A gateway served over real HTTP with Stripe pointed at the fake Stripe API, and helpers
to buy credits and deliver signed webhook events the way Stripe does."""

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.app_services import Services
from gatewayz.store.tables import ledger, users
from tests.conftest import SECRET, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.stripe_api import FakeStripeAPI, event, signature_header

STRIPE_KEY = "sk_test_gatewayz_fake"
WEBHOOK_SECRET = "whsec_gatewayz_test_secret"
UNITS = 10**9


@dataclass
class Shop:
    """The served gateway, its database and the fake Stripe behind it."""

    http: httpx.AsyncClient
    engine: AsyncEngine
    stripe: FakeStripeAPI
    state: Services

    async def user(self, email: str, *, role: str = "user") -> tuple[int, dict[str, str]]:
        """A new user and the headers that authenticate as them."""
        user = await accounts.create_user(self.engine, email, role=role)
        key = await accounts.create_key(self.engine, SECRET.encode(), user.id, "test")
        return user.id, {"Authorization": f"Bearer {key}"}

    async def checkout(
        self, headers: dict[str, str], amount: str, coupon: str | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"amount": amount}
        if coupon is not None:
            body["coupon"] = coupon
        return await self.http.post("/user/checkout", json=body, headers=headers)

    async def deliver(
        self,
        kind: str,
        data_object: dict[str, Any],
        *,
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """Send one event as Stripe would: the JSON body and its Stripe-Signature."""
        payload = orjson.dumps(event(kind, data_object, event_id))
        return await self.post_signed(payload, signature_header(payload, secret, timestamp))

    async def post_signed(self, payload: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return await self.http.post("/stripe/webhook", content=payload, headers=headers)

    async def buy(self, headers: dict[str, str], amount: str, coupon: str | None = None) -> str:
        """Check out and have Stripe report the payment as paid; the session id."""
        started = await self.checkout(headers, amount, coupon)
        assert started.status_code == 200, started.text
        session_id = started.json()["id"]
        paid = await self.deliver("checkout.session.completed", self.stripe.completed(session_id))
        assert paid.status_code == 200, paid.text
        return str(session_id)

    async def payment(self, headers: dict[str, str]) -> dict[str, Any]:
        """The newest payment of the user `headers` authenticate, as GET /user/payments shows it."""
        listed = await self.http.get("/user/payments", headers=headers)
        assert listed.status_code == 200, listed.text
        return dict(listed.json()["data"][0])

    async def admin_payments(self, admin: dict[str, str], **query: Any) -> list[dict[str, Any]]:
        """GET /admin/payments with `query`, as the administrator `admin`."""
        listed = await self.http.get("/admin/payments", params=query, headers=admin)
        assert listed.status_code == 200, listed.text
        return list(listed.json()["data"])

    async def audit(self, admin: dict[str, str], event: str) -> list[dict[str, Any]]:
        """The audit log entries of `event`, newest first."""
        found = await self.http.get("/admin/audit-logs", params={"event": event}, headers=admin)
        assert found.status_code == 200, found.text
        return list(found.json()["data"])

    async def balance(self, user_id: int) -> int:
        async with self.engine.connect() as conn:
            return int(
                await conn.scalar(select(users.c.balance_units).where(users.c.id == user_id))
            )

    async def ledger_rows(self, user_id: int) -> list[tuple[str, int]]:
        """The user's ledger as (kind, amount_units), oldest first."""
        query = (
            select(ledger.c.kind, ledger.c.amount_units)
            .where(ledger.c.user_id == user_id)
            .order_by(ledger.c.id)
        )
        async with self.engine.connect() as conn:
            return [(row[0], int(row[1])) for row in await conn.execute(query)]

    async def assert_balances_match_ledger(self) -> None:
        """Every user's balance equals the sum of their ledger rows."""
        sums = (
            select(ledger.c.user_id, func.sum(ledger.c.amount_units))
            .group_by(ledger.c.user_id)
            .subquery()
        )
        query = select(users.c.id, users.c.balance_units, sums.c[1]).outerjoin(
            sums, sums.c.user_id == users.c.id
        )
        async with self.engine.connect() as conn:
            for user_id, balance, total in await conn.execute(query):
                assert balance == (total or 0), f"user {user_id}: {balance} != {total}"


@contextlib.asynccontextmanager
async def open_shop(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    stripe: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Shop]:
    """Serve a gateway whose Stripe settings point at a fresh fake Stripe API."""
    async with FakeStripeAPI(STRIPE_KEY) as fake:
        stripe_settings = {
            "secret_key": STRIPE_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": fake.base_url,
            "min_amount": "1",
            "max_amount": "500",
            **(stripe or {}),
        }
        settings = gateway_settings(database_url, upstream, stripe=stripe_settings, **overrides)
        async with (
            serve(settings) as (base_url, state),
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        ):
            yield Shop(http, engine, fake, state)


def stale_timestamp() -> int:
    """A signing time older than the webhook's default tolerance of five minutes."""
    return int(time.time()) - 301
