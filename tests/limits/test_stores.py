"""Each kind of window on both stores: Redis (the shared one) and the in-process fallback."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gatewayz.limits.memory import MemoryStore
from gatewayz.limits.redis_store import RedisStore
from gatewayz.limits.windows import DAY_MS, MINUTE_MS, Kind, Store, Window
from tests.conftest import REDIS_URL, require_service

LEASE_MS = 60_000


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    require_service("Redis", "127.0.0.1", 6379)
    client = Redis.from_url(REDIS_URL)
    redis = RedisStore(client, timeout=0.5)
    await redis.prepare()
    try:
        yield redis
    finally:
        await client.aclose()


def window(kind: Kind, limit: int, period_ms: int = MINUTE_MS) -> Window:
    """A window under a key no other test uses (the Redis database is shared)."""
    return Window(f"test:{uuid.uuid4().hex}", kind, limit, period_ms, f"{limit} {kind}", "key")


def lease() -> str:
    return uuid.uuid4().hex


async def test_requests_per_minute_admit_the_limit_then_refuse(store: Store) -> None:
    rpm = window("requests", 3)
    remaining = []
    for _ in range(3):
        verdict = await store.admit((rpm,), 0, lease(), LEASE_MS)
        assert verdict.allowed
        remaining.append(verdict.states[0].remaining)
    refused = await store.admit((rpm,), 0, lease(), LEASE_MS)
    assert remaining == [2, 1, 0]
    assert not refused.allowed
    # one request comes back every 20 s; the bucket is full again after a minute
    assert 19_000 < refused.states[0].retry_ms <= 20_000
    assert 59_000 < refused.states[0].reset_ms <= 60_000


async def test_requests_per_day_refill_over_the_day(store: Store) -> None:
    rpd = window("requests", 2, DAY_MS)
    assert (await store.admit((rpd,), 0, lease(), LEASE_MS)).allowed
    assert (await store.admit((rpd,), 0, lease(), LEASE_MS)).allowed
    refused = await store.admit((rpd,), 0, lease(), LEASE_MS)
    assert not refused.allowed
    assert 43_000_000 < refused.states[0].retry_ms <= 43_200_000


async def test_a_window_refills_evenly_over_its_period(store: Store) -> None:
    fast = window("requests", 2, period_ms=400)
    assert (await store.admit((fast,), 0, lease(), LEASE_MS)).allowed
    assert (await store.admit((fast,), 0, lease(), LEASE_MS)).allowed
    refused = await store.admit((fast,), 0, lease(), LEASE_MS)
    assert not refused.allowed
    assert 0 < refused.states[0].retry_ms <= 200
    await asyncio.sleep(refused.states[0].retry_ms / 1000 + 0.02)
    assert (await store.admit((fast,), 0, lease(), LEASE_MS)).allowed


async def test_tokens_are_reserved_then_corrected_to_real_usage(store: Store) -> None:
    tpm = window("tokens", 1000)
    first = lease()
    reserved = await store.admit((tpm,), 800, first, LEASE_MS)
    assert reserved.allowed
    assert reserved.states[0].remaining == 200
    assert not (await store.admit((tpm,), 300, lease(), LEASE_MS)).allowed
    await store.release((tpm,), first, 800, 100)  # the call used 100 of its 800
    after = await store.admit((tpm,), 300, lease(), LEASE_MS)
    assert after.allowed
    assert 600 <= after.states[0].remaining <= 602  # 1000 - 100 - 300, plus a little refill


async def test_usage_beyond_the_reservation_is_charged_too(store: Store) -> None:
    tpm = window("tokens", 1000)
    first = lease()
    assert (await store.admit((tpm,), 100, first, LEASE_MS)).allowed
    await store.release((tpm,), first, 100, 1000)
    refused = await store.admit((tpm,), 1, lease(), LEASE_MS)
    assert not refused.allowed
    assert refused.states[0].remaining == 0


async def test_a_call_larger_than_the_bucket_needs_a_full_bucket(store: Store) -> None:
    tpm = window("tokens", 1000)
    assert (await store.admit((tpm,), 5000, lease(), LEASE_MS)).allowed
    refused = await store.admit((tpm,), 5000, lease(), LEASE_MS)
    assert not refused.allowed
    assert refused.states[0].retry_ms > 59_000


async def test_concurrency_counts_calls_in_flight_until_released(store: Store) -> None:
    slots = window("concurrency", 2, period_ms=0)
    first, second = lease(), lease()
    assert (await store.admit((slots,), 0, first, LEASE_MS)).allowed
    last = await store.admit((slots,), 0, second, LEASE_MS)
    assert last.allowed and last.states[0].remaining == 0
    refused = await store.admit((slots,), 0, lease(), LEASE_MS)
    assert not refused.allowed
    assert refused.states[0].retry_ms == 1000
    await store.release((slots,), first, 0, 0)
    assert (await store.admit((slots,), 0, lease(), LEASE_MS)).allowed


async def test_a_lease_never_released_expires(store: Store) -> None:
    slots = window("concurrency", 1, period_ms=0)
    assert (await store.admit((slots,), 0, lease(), 100)).allowed  # its holder crashed
    assert not (await store.admit((slots,), 0, lease(), 100)).allowed
    await asyncio.sleep(0.15)
    assert (await store.admit((slots,), 0, lease(), 100)).allowed


async def test_a_refused_call_draws_from_no_window(store: Store) -> None:
    rpm, tpm, slots = window("requests", 10), window("tokens", 1000), window("concurrency", 1, 0)
    windows = (rpm, tpm, slots)
    held = lease()
    assert (await store.admit(windows, 100, held, LEASE_MS)).allowed
    refused = await store.admit(windows, 100, lease(), LEASE_MS)
    assert not refused.allowed
    assert [s.remaining for s in refused.states] == [9, 900, 0]  # as before the refusal
    await store.release((tpm, slots), held, 100, 100)
    admitted = await store.admit(windows, 100, lease(), LEASE_MS)
    assert admitted.allowed
    assert [s.remaining for s in admitted.states[:2]] == [8, 800]
