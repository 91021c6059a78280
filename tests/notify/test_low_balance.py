"""The low balance notice: sent by the periodic check once each time a user's balance falls
below the threshold, again only after a top-up lifts it back and it falls again."""

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal

import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger
from gatewayz.billing.money import credits_to_units
from gatewayz.notify.low_balance import LowBalanceWatcher
from gatewayz.notify.notices import Notifier
from gatewayz.notify.settings import SmtpSettings
from gatewayz.notify.smtp import SmtpMailer
from tests.conftest import add_funded_user, gateway_settings, serve, settle_now
from tests.e2e.support import HI
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.fakes.smtp_server import FakeSMTPServer

THRESHOLD = credits_to_units(Decimal("1"))
_changes = itertools.count()


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSMTPServer]:
    async with FakeSMTPServer() as server:
        yield server


def _notifier(engine: AsyncEngine, server: FakeSMTPServer) -> Notifier:
    settings = SmtpSettings(host=server.host, port=server.port, starttls=False)
    return Notifier(engine, SmtpMailer(settings, "noreply@gatewayz.example"))


async def _change(engine: AsyncEngine, user_id: int, credits: str) -> None:
    units = credits_to_units(Decimal(credits))
    kind = "grant" if units > 0 else "usage"
    await ledger.change_credits(
        engine, user_id, units, kind=kind, reason="test", idempotency_key=f"t:{next(_changes)}"
    )


async def test_sent_once_per_fall_below_the_threshold(
    engine: AsyncEngine, smtp: FakeSMTPServer
) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    await accounts.create_user(engine, "never-funded@example.com")
    notifier = _notifier(engine, smtp)
    watcher = LowBalanceWatcher(engine, notifier, THRESHOLD, interval=60)
    await _change(engine, ana.id, "5")
    assert await watcher.check() == 0

    await _change(engine, ana.id, "-4.5")  # 0.5 left
    assert await watcher.check() == 1
    assert await watcher.check() == 0
    (mail,) = await smtp.wait_for(1)
    assert mail.rcpt_to == ["ana@example.com"]
    assert mail.message["Subject"] == "Your Gatewayz balance is low"
    assert "Your balance is 0.5 credits, below 1." in mail.message.get_content()

    await _change(engine, ana.id, "0.2")  # a top-up that stays below is no new crossing
    assert await watcher.check() == 0
    await _change(engine, ana.id, "2")  # 2.7: above again
    assert await watcher.check() == 0
    await _change(engine, ana.id, "-2.5")  # 0.2: below again
    assert await watcher.check() == 1
    await notifier.close()

    assert len(smtp.received) == 2
    assert "Your balance is 0.2 credits" in smtp.received[1].message.get_content()


async def test_a_threshold_of_zero_turns_the_notice_off(
    engine: AsyncEngine, smtp: FakeSMTPServer
) -> None:
    ana = await accounts.create_user(engine, "ana@example.com")
    await _change(engine, ana.id, "1")
    await _change(engine, ana.id, "-1")
    notifier = _notifier(engine, smtp)
    assert await LowBalanceWatcher(engine, notifier, 0, interval=60).check() == 0
    await notifier.close()


async def test_the_served_gateway_tells_a_user_whose_calls_drain_the_balance(
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
    smtp: FakeSMTPServer,
) -> None:
    """Mail settings pick the SMTP backend, and the watcher runs in the gateway."""
    mail = {
        "backend": "smtp",
        "from_address": "Gatewayz <noreply@gatewayz.example>",
        "smtp": {"host": smtp.host, "port": smtp.port, "starttls": False},
        "low_balance_threshold": "0.05",
        "low_balance_check_seconds": 0.05,
    }
    _, key = await add_funded_user(engine, "drained@example.com", "0.05")
    async with serve(gateway_settings(database_url, upstream, mail=mail)) as (base_url, state):
        client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0)
        await client.chat.completions.create(model="fake-model", messages=HI, max_tokens=5)
        await settle_now(state)
        (received,) = await smtp.wait_for(1)
    assert received.rcpt_to == ["drained@example.com"]
    assert "Your balance is 0.049954 credits, below 0.05." in received.message.get_content()
