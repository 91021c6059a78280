"""Two real `gatewayz serve` processes sharing one Redis: one count between them, and calls
keep being served while Redis is down."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.limits import overrides
from gatewayz.store.engine import create_engine
from gatewayz.store.migrate import upgrade
from tests.conftest import (
    FAKE_MODELS,
    FAKE_PRICES,
    REDIS_URL,
    SECRET,
    add_funded_user,
    require_service,
)
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.limits.private_redis import PrivateRedis, free_port

SCRIPT = Path(sys.executable).with_name("gatewayz")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gatewayz"]
HI = [{"role": "user", "content": "say hi please"}]


@contextlib.asynccontextmanager
async def home(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A migrated SQLite database the gateway processes share."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gatewayz.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        yield url, engine
    finally:
        await engine.dispose()


async def limited_key(engine: AsyncEngine, **limits: int) -> str:
    """A funded user's key with its own limits."""
    user_id, key = await add_funded_user(engine, f"{uuid.uuid4().hex[:12]}@example.com", "10")
    (info,) = await accounts.list_keys(engine, user_id)
    await overrides.store(engine, dict(limits), key_id=info.id)
    return key


@contextlib.asynccontextmanager
async def gateways(
    tmp_path: Path,
    database_url: str,
    upstream: FakeOpenAIUpstream,
    redis_url: str | None,
    limits: dict[str, Any],
    count: int = 2,
    extra: dict[str, Any] | None = None,
) -> AsyncIterator[list[str]]:
    """`count` gateway processes on one database and one Redis (or none), with `extra`
    config sections; yields their base URLs."""
    config = tmp_path / "gatewayz.yaml"
    models = [{"id": model, **FAKE_PRICES} for model in (*FAKE_MODELS, "fake-slow-1000")]
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": database_url,
                "redis_url": redis_url,
                "secret": SECRET,
                "catalog_refresh": False,
                "log_level": "warning",
                "routing": {"max_attempts": 1, "breaker_failures": 1_000_000},
                "providers": [
                    {
                        "name": "fake",
                        "protocol": "openai",
                        "base_url": upstream.base_url,
                        "api_key": upstream.api_key,
                        "models": models,
                    }
                ],
                "limits": {"redis_prefix": f"test:{uuid.uuid4().hex}", **limits},
                **(extra or {}),
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_")}
    started: list[tuple[subprocess.Popen[bytes], str, Path]] = []
    try:
        for n in range(count):
            port = free_port()
            log = tmp_path / f"gateway{n}.log"
            process = subprocess.Popen(
                [*COMMAND, "serve", "--config", str(config), "--port", str(port), "--no-migrate"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=log.open("wb"),
            )
            started.append((process, f"http://127.0.0.1:{port}", log))
        for process, url, log in started:
            await _until_ready(process, url, log)
        yield [url for _, url, _ in started]
    finally:
        for process, _, _ in started:
            process.terminate()
        for process, _, _ in started:  # waited for off the loop: fakes in it still answer
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)


async def _until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url) as http:
        while True:
            assert process.poll() is None, f"the gateway exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the gateway did not start:\n{log.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def chat(http: httpx.AsyncClient, url: str, key: str, model: str = "fake-model") -> int:
    response = await http.post(
        f"{url}/v1/chat/completions",
        json={"model": model, "messages": HI},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.status_code


async def rate_limits(http: httpx.AsyncClient, url: str) -> dict[str, str]:
    return (await http.get(f"{url}/ready")).json()["rate_limits"]


async def test_two_processes_never_admit_more_than_the_limit_together(
    tmp_path: Path, upstream: FakeOpenAIUpstream
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    async with home(tmp_path) as (url, engine):
        per_day = await limited_key(engine, rpd=15)
        at_once = await limited_key(engine, concurrency=3)
        async with (
            gateways(tmp_path, url, upstream, REDIS_URL, {}) as (one, two),
            httpx.AsyncClient(timeout=30) as http,
        ):
            daily = await asyncio.gather(
                *(chat(http, (one, two)[n % 2], per_day) for n in range(40))
            )
            slow = await asyncio.gather(
                *(chat(http, (one, two)[n % 2], at_once, "fake-slow-1000") for n in range(10))
            )
    # each process alone would admit 15 a day and 3 at once
    assert (daily.count(200), daily.count(429)) == (15, 25)
    assert (slow.count(200), slow.count(429)) == (3, 7)


async def test_calls_are_served_while_redis_is_down_and_counted_there_again_after(
    tmp_path: Path, upstream: FakeOpenAIUpstream, private_redis: PrivateRedis
) -> None:
    prefix = f"test:{uuid.uuid4().hex}"
    limits = {"redis_retry_seconds": 0.2, "redis_prefix": prefix}
    async with home(tmp_path) as (url, engine):
        key = await limited_key(engine, rpd=100_000)
        async with (
            gateways(tmp_path, url, upstream, private_redis.url, limits) as urls,
            httpx.AsyncClient(timeout=30) as http,
        ):
            statuses: list[int] = []
            serving = True

            async def keep_calling() -> None:
                n = 0
                while serving:
                    statuses.append(await chat(http, urls[n % 2], key))
                    n += 1

            caller = asyncio.create_task(keep_calling())
            await asyncio.sleep(0.3)
            before = [await rate_limits(http, u) for u in urls]
            private_redis.stop()
            await asyncio.sleep(0.8)
            during = [await rate_limits(http, u) for u in urls]
            served_during = len(statuses)
            private_redis.start()
            back = await _until_all(http, urls, {"backend": "redis", "redis": "ok"})
            await asyncio.sleep(0.3)
            serving = False
            await caller
            async with Redis.from_url(private_redis.url) as client:
                counted_again = await client.keys(f"{prefix}:*")
    assert before == [{"backend": "redis", "redis": "ok"}] * 2
    assert during == [{"backend": "memory", "redis": "unreachable"}] * 2
    assert back
    assert len(statuses) > served_during > 10
    assert set(statuses) == {200}
    assert counted_again  # the calls after Redis returned were counted in it
    logs = "".join(path.read_text() for path in tmp_path.glob("gateway*.log"))
    assert "counting in this process until it answers again" in logs
    assert "Redis answers again" in logs


async def _until_all(http: httpx.AsyncClient, urls: list[str], wanted: dict[str, str]) -> bool:
    """Wait up to 5 s until every gateway reports `wanted`."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if all([await rate_limits(http, u) == wanted for u in urls]):
            return True
        await asyncio.sleep(0.05)
    return False
