"""Fixtures of the rate limit tests: a private Redis that a test may stop."""

import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import IN_CI
from tests.limits.private_redis import PrivateRedis


@pytest.fixture
def redis_binary() -> str:
    """The redis-server program; skipped without it (failed in CI)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: tests needing it must run)")
        pytest.skip(message)
    return binary


@pytest.fixture
def private_redis(redis_binary: str) -> Iterator[PrivateRedis]:
    """A running private Redis, without persistence."""
    server = PrivateRedis(redis_binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
