"""Redis lost and found: calls keep being admitted (in this process) and go back to Redis."""

import asyncio
import logging
import time
import uuid
from pathlib import Path

import pytest
from redis.asyncio import Redis

from gatewayz.limits.redis_or_memory import RedisOrMemoryStore
from gatewayz.limits.redis_store import RedisStore
from gatewayz.limits.windows import MINUTE_MS, Window
from tests.limits.private_redis import PrivateRedis, free_port


def rpm_window(limit: int) -> Window:
    return Window(f"test:{uuid.uuid4().hex}", "requests", limit, MINUTE_MS, "rpm", "key")


async def test_a_lost_redis_is_replaced_by_memory_then_used_again(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisOrMemoryStore(private_redis.url, timeout=0.05, retry_seconds=0.1)
    await store.start()
    rpm = rpm_window(100)
    try:
        assert store.state() == {"backend": "redis", "redis": "ok"}
        used, verdict = await store.admit((rpm,), 0, "a", 1000)
        assert isinstance(used, RedisStore) and verdict.allowed

        private_redis.stop()
        with caplog.at_level(logging.WARNING, logger="gatewayz.limits.redis_or_memory"):
            started = time.perf_counter()
            used, verdict = await store.admit((rpm,), 0, "b", 1000)
            failover_seconds = time.perf_counter() - started
        assert used is store.memory and verdict.allowed
        assert failover_seconds < 0.5
        assert store.state() == {"backend": "memory", "redis": "unreachable"}
        assert "Redis" in caplog.text
        started = time.perf_counter()
        for _ in range(20):  # no call waits on the lost Redis any more
            assert (await store.admit((rpm,), 0, "c", 1000))[0] is store.memory
        assert time.perf_counter() - started < 0.05

        private_redis.start()
        for _ in range(100):
            if store.state()["backend"] == "redis":
                break
            await asyncio.sleep(0.05)
        assert store.state() == {"backend": "redis", "redis": "ok"}
        used, verdict = await store.admit((rpm,), 0, "d", 1000)
        assert isinstance(used, RedisStore) and verdict.allowed
        async with Redis.from_url(private_redis.url) as client:
            assert await client.exists(rpm.key)
    finally:
        await store.stop()


async def test_a_redis_absent_at_start_up_leaves_limits_in_memory() -> None:
    store = RedisOrMemoryStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.05, retry_seconds=5)
    await store.start()
    try:
        assert store.state() == {"backend": "memory", "redis": "unreachable"}
        used, verdict = await store.admit((rpm_window(1),), 0, "a", 1000)
        assert used is store.memory and verdict.allowed
    finally:
        await store.stop()


async def test_a_redis_that_stops_answering_is_left_after_the_timeout(
    private_redis: PrivateRedis,
) -> None:
    store = RedisOrMemoryStore(private_redis.url, timeout=0.05, retry_seconds=5)
    await store.start()
    rpm = rpm_window(100)
    private_redis.pause()
    try:
        started = time.perf_counter()
        used, verdict = await store.admit((rpm,), 0, "a", 1000)
        assert used is store.memory and verdict.allowed
        assert 0.05 <= time.perf_counter() - started < 0.3
        assert store.state() == {"backend": "memory", "redis": "unreachable"}
    finally:
        private_redis.pause(False)
        await store.stop()


async def test_a_slot_that_could_not_be_freed_is_freed_when_redis_is_back(
    redis_binary: str, tmp_path: Path
) -> None:
    durable = PrivateRedis(redis_binary, tmp_path)  # keeps the lease across its crash
    durable.start()
    store = RedisOrMemoryStore(durable.url, timeout=0.05, retry_seconds=0.1)
    await store.start()
    slot = Window(f"test:{uuid.uuid4().hex}", "concurrency", 1, 0, "1 call at once", "key")
    try:
        held, verdict = await store.admit((slot,), 0, "first", 60_000)
        assert isinstance(held, RedisStore) and verdict.allowed
        durable.stop()
        await store.release(held, (slot,), "first", 0, 0)  # the call ends while Redis is down
        durable.start()
        for _ in range(100):
            if store.state()["backend"] == "redis":
                break
            await asyncio.sleep(0.05)
        used, verdict = await store.admit((slot,), 0, "second", 60_000)
        assert isinstance(used, RedisStore)
        assert verdict.allowed  # not blocked for a minute by the first call's lease
    finally:
        await store.stop()
        durable.stop()


async def test_without_redis_limits_are_counted_in_memory() -> None:
    store = RedisOrMemoryStore(None, timeout=0.05, retry_seconds=1)
    await store.start()
    assert store.state() == {"backend": "memory", "redis": "not configured"}
    rpm = rpm_window(1)
    assert (await store.admit((rpm,), 0, "a", 1000))[1].allowed
    assert not (await store.admit((rpm,), 0, "b", 1000))[1].allowed
    await store.stop()
