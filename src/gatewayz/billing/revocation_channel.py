"""Balance decreases announced on Redis pub/sub, so every gateway process hears of one at once.

A message is `{"origin": process id, "users": [user ids]}`. Redis failures are survived: a
message that cannot be sent is logged and dropped, and a lost subscription is taken up again
every `retry_seconds`; the database (revocations.py) is read in every case, so a lost
message delays a revocation by at most `revocation_backstop_seconds`. After each
(re)subscription `subscribed()` is called, so the process reads the database at once for
what it may have missed meanwhile.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError, TimeoutError)
_SOCKET_SECONDS = 1.0
_WAIT_SECONDS = 1.0

Heard = Callable[[str | None, list[int]], None]


def channel_name(prefix: str) -> str:
    """The channel of one deployment's gateways (the prefix of its Redis keys)."""
    return f"{prefix}:credit-revocations"


class RevocationChannel:
    """Sends this process's revocations and, once `listen` is called, hears the others'."""

    def __init__(
        self, redis_url: str, name: str, origin: str | None, retry_seconds: float = 1.0
    ) -> None:
        self._client = Redis.from_url(
            redis_url,
            socket_timeout=_SOCKET_SECONDS,
            socket_connect_timeout=_SOCKET_SECONDS,
            health_check_interval=5,
            retry=Retry(NoBackoff(), 0),
            lib_name=None,
            lib_version=None,
        )
        self._name = name
        self._origin = origin
        self._retry = retry_seconds
        self._sending: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None

    def announce(self, user_ids: list[int]) -> None:
        """Publish the users in the background (never blocks, never raises)."""
        payload = orjson.dumps({"origin": self._origin, "users": user_ids})
        task = asyncio.get_running_loop().create_task(self._publish(payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, payload: bytes) -> None:
        try:
            await self._client.publish(self._name, payload)
        except _FAILURES as exc:
            log.warning(
                "credit revocations: cannot announce on Redis (%s); other processes will "
                "read it from the database",
                type(exc).__name__,
            )

    def listen(self, heard: Heard, subscribed: Callable[[], None]) -> None:
        """Call `heard(origin, user_ids)` for each message, in the background."""
        self._listener = asyncio.create_task(
            self._listen(heard, subscribed), name="gatewayz-revocation-channel"
        )

    async def _listen(self, heard: Heard, subscribed: Callable[[], None]) -> None:
        lost = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._name)
                    if lost:
                        log.warning("credit revocations: listening on Redis again")
                    lost = False
                    subscribed()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=_WAIT_SECONDS
                        )
                        if message is not None:
                            _deliver(message, heard)
            except _FAILURES as exc:
                if not lost:
                    log.warning(
                        "credit revocations: Redis lost (%s); reading them from the database "
                        "only until it answers again",
                        type(exc).__name__,
                    )
                lost = True
                await asyncio.sleep(self._retry)

    async def close(self) -> None:
        """Stop listening, send what is being sent, close the connections."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self._client.aclose()


def _deliver(message: dict[str, Any], heard: Heard) -> None:
    try:
        body = orjson.loads(message["data"])
        users = [int(user_id) for user_id in body["users"]]
        origin = body.get("origin")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("credit revocations: ignored a malformed message on Redis")
        return
    heard(origin if isinstance(origin, str) else None, users)
