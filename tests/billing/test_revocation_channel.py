"""Balance decreases announced on Redis: other processes give back their leases at once, a
Redis that goes away loses nothing the database does not catch, and one that comes back
is listened to again."""

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from gatewayz.billing import ledger
from gatewayz.billing.holds import CreditHolds
from gatewayz.billing.revocation_channel import RevocationChannel
from gatewayz.billing.revocations import RevocationWatch
from gatewayz.store.batch import BatchWriter
from gatewayz.store.engine import create_engine
from tests.billing.lease_support import CALL, LEASE, Process, debit, seconds_until
from tests.conftest import IN_CI, REDIS_URL, add_funded_user, require_service
from tests.limits.private_redis import PrivateRedis


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of the test's own, which it may stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is not installed (CI=true: tests needing it must run)")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def listening(
    database_url: str, redis_url: str, name: str, interval: float = 3600.0
) -> AsyncIterator[Process]:
    """A process whose watch announces on and listens to `name`, reading the database every
    `interval` seconds (by default, never within a test)."""
    engine = create_engine(database_url)
    writer = BatchWriter(engine, [("settlements", ledger.settle)], interval=60, max_batch=1000)
    holds = CreditHolds(engine, writer, lease_factor=64)
    origin = uuid.uuid4().hex[:16]
    channel = RevocationChannel(redis_url, name, origin, retry_seconds=0.1)
    watch = RevocationWatch(
        engine, holds, origin=origin, interval=interval, keep_seconds=60, announce=channel.announce
    )
    await watch.start()
    channel.listen(watch.heard, watch.look_now)
    try:
        yield Process(engine, writer, holds, watch)
    finally:
        await watch.stop()
        await channel.close()
        await holds.stop()
        await writer.stop()
        await engine.dispose()


async def _subscribers(redis_url: str, name: str, count: int) -> None:
    """Wait until `count` clients listen on the channel."""
    async with Redis.from_url(redis_url) as client:
        for _ in range(200):
            found = dict(await client.pubsub_numsub(name))
            if found.get(name.encode(), 0) >= count:
                return
            await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} subscribers on {name}")


async def test_a_decrease_announced_on_redis_reaches_another_process_at_once(
    database_url: str,
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    name = f"test:{uuid.uuid4().hex}"
    async with (
        listening(database_url, REDIS_URL, name) as here,
        listening(database_url, REDIS_URL, name) as there,
    ):
        await _subscribers(REDIS_URL, name, 2)
        user_id, _ = await add_funded_user(here.engine, "announced@example.com", "10")
        assert await here.holds.hold(user_id, CALL)
        assert await there.holds.hold(user_id, CALL)
        await debit(here.engine, user_id)  # neither process reads the database meanwhile
        assert await here.reserved(user_id) == CALL + LEASE  # here: given back at once
        await seconds_until(there, user_id, 2 * CALL, most=2.0)


async def test_a_malformed_message_is_ignored(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    name = f"test:{uuid.uuid4().hex}"
    async with listening(database_url, REDIS_URL, name) as there:
        await _subscribers(REDIS_URL, name, 1)
        user_id, _ = await add_funded_user(there.engine, "garbled@example.com", "10")
        assert await there.holds.hold(user_id, CALL)
        async with Redis.from_url(REDIS_URL) as client:
            await client.publish(name, b"not json")
            await client.publish(name, b'{"users": ["x"]}')
            await client.publish(name, b'{"origin": "someone", "users": [%d]}' % user_id)
        await seconds_until(there, user_id, CALL, most=2.0)
    assert "ignored a malformed message" in caplog.text


async def test_a_lost_announcement_is_caught_by_the_database(
    database_url: str, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatewayz.billing.revocation_channel")
    name = f"test:{uuid.uuid4().hex}"
    async with (
        listening(database_url, private_redis.url, name, interval=3600) as here,
        listening(database_url, private_redis.url, name, interval=0.2) as there,
    ):
        await _subscribers(private_redis.url, name, 2)
        user_id, _ = await add_funded_user(here.engine, "lost@example.com", "10")
        assert await there.holds.hold(user_id, CALL)
        private_redis.stop()
        start = time.monotonic()
        await debit(here.engine, user_id)  # the announcement cannot be sent
        await seconds_until(there, user_id, CALL, most=3 * 0.2 + 1)
        assert time.monotonic() - start < 3 * 0.2 + 1
        private_redis.start()
        await _subscribers(private_redis.url, name, 2)  # both listen again
        assert await there.holds.hold(user_id, CALL)
        await debit(here.engine, user_id, units=1_000)
        await seconds_until(there, user_id, 2 * CALL, most=2.0)
    assert "cannot announce on Redis" in caplog.text
    assert "listening on Redis again" in caplog.text
