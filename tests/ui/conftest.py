"""The dashboard's browser tests: one gateway per module and database, one headless Chromium
(Debian's, driven by Playwright) per module, a fresh browser context per test.

Every context records the requests its pages make: a test fails if any goes to a host other
than the gateway.
"""

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import passwords
from gatewayz.accounts.enrolment import enrol
from gatewayz.app_services import Services
from gatewayz.billing import ledger
from gatewayz.billing.money import credits_to_units
from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import upgrade
from gatewayz.store.tables import audit_logs
from tests.conftest import IN_CI, POSTGRES_URL, _reset_postgres, require_service, serve, settle_now
from tests.e2e.conftest import e2e_settings
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.smtp_server import FakeSMTPServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
# `make screenshots` sets this to docs/images/dashboard, where the docs find the pictures.
SCREENSHOTS = os.environ.get("GATEWAYZ_SCREENSHOTS")


def require_chromium() -> None:
    """Skip without Debian's chromium (make test installs it); fail instead in CI."""
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is not installed (make test installs Debian's chromium)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: the browser tests must run")
    pytest.skip(message)


@dataclass
class Dashboard:
    """A gateway serving the dashboard, with the fake upstream and a fake mail server."""

    base_url: str
    engine: AsyncEngine
    state: Services
    smtp: FakeSMTPServer
    database_url: str

    async def user(
        self, email: str, *, role: str = "user", credits: str = "0", password: str = PASSWORD
    ) -> int:
        """A user with a password (and credits), as if made by an operator."""
        hashed = await passwords.hash_password(password)
        async with self.engine.begin() as conn:
            user_id = await enrol(conn, email, role, 0, trial_offered=True)
            await passwords.store(conn, user_id, hashed)
        if Decimal(credits):
            await ledger.change_credits(
                self.engine,
                user_id,
                credits_to_units(Decimal(credits)),
                kind="grant",
                reason="test",
                idempotency_key=f"test:{email}",
            )
        return user_id

    async def flush(self) -> None:
        await settle_now(self.state)

    async def audit(self, event: str) -> list[dict[str, Any]]:
        await self.flush()
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(audit_logs).where(audit_logs.c.event == event).order_by(audit_logs.c.id)
            )
            return [dict(row._mapping) for row in rows]

    async def mails_to(self, address: str, timeout: float = 5.0) -> list[str]:
        """The texts of the mails received for `address`, once there is one."""
        async with asyncio.timeout(timeout):
            while True:
                found = [m.message for m in self.smtp.received if address in m.rcpt_to]
                if found:
                    return [str(message.get_body(("plain",)).get_content()) for message in found]
                await asyncio.sleep(0.02)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def dashboard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Dashboard]:
    require_chromium()
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ui') / 'gatewayz.db'}"
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        await _reset_postgres()
        url = POSTGRES_URL
    await upgrade(url)
    engine = create_engine(url)
    try:
        async with FakeOpenAIUpstream() as upstream, FakeSMTPServer() as smtp:
            settings = e2e_settings(
                url,
                upstream,
                demo_provider=True,
                accounts={"signup": "open", "signin_failures_per_email": 3},
                mail={
                    "backend": "smtp",
                    "smtp": {"host": smtp.host, "port": smtp.port, "starttls": False},
                },
            )
            async with serve(settings) as (base_url, state):
                yield Dashboard(base_url, engine, state, smtp, url)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser, dashboard: Dashboard) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) whose pages may reach only the gateway."""
    created = await browser.new_context(base_url=dashboard.base_url)
    foreign: list[str] = []
    own = re.compile(re.escape(dashboard.base_url) + r"(/|$)")

    def watch(request: Any) -> None:
        if not own.match(request.url) and not request.url.startswith(("data:", "about:")):
            foreign.append(request.url)

    created.on("request", watch)
    yield created
    await created.close()
    assert foreign == [], f"the dashboard asked other hosts: {foreign}"


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/ui/signin")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("[data-testid=signin-form] button[type=submit]")
    await page.wait_for_url("**/ui/")


async def shoot(page: Page, name: str) -> None:
    """A screenshot of the page, kept for the docs when `make screenshots` asks for it."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=False)
