"""Users' own provider keys in memory, so a call finds its caller's keys without the database."""

import asyncio
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts.secret_box import SecretBox, UndecryptableSecret
from gatewayz.store.tables import provider_keys

log = logging.getLogger(__name__)
_NONE: Mapping[str, str] = MappingProxyType({})


class ProviderKeyring:
    """Every stored provider key, decrypted, by user and provider.

    The table is checked every `refresh_seconds` (a count and the latest change time) and
    read again only when it changed, so other processes' changes apply within that time; a
    change made in this process applies at once (`remember`, `forget`). Users without keys
    cost one dict lookup per call.
    """

    def __init__(self, engine: AsyncEngine, box: SecretBox, refresh_seconds: float) -> None:
        self._engine = engine
        self._box = box
        self._refresh = refresh_seconds
        self._keys: dict[int, Mapping[str, str]] = {}
        self._plain: dict[str, str] = {}
        self._version: tuple[Any, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def keys_of(self, user_id: int) -> Mapping[str, str]:
        """The user's keys by provider name (empty for most users)."""
        return self._keys.get(user_id, _NONE)

    async def start(self) -> None:
        await self.reload()
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def remember(self, user_id: int, provider: str, api_key: str) -> None:
        """Use a key just stored by this process at once."""
        self._keys[user_id] = MappingProxyType({**self.keys_of(user_id), provider: api_key})

    def forget(self, user_id: int, provider: str) -> None:
        """Stop using a key just deleted by this process at once."""
        keys = {name: key for name, key in self.keys_of(user_id).items() if name != provider}
        if keys:
            self._keys[user_id] = MappingProxyType(keys)
        else:
            self._keys.pop(user_id, None)

    async def reload(self) -> None:
        """Read the table again if it changed since the last read."""
        async with self._engine.connect() as conn:
            version = tuple(
                (
                    await conn.execute(select(func.count(), func.max(provider_keys.c.updated_at)))
                ).one()
            )
            if version == self._version:
                return
            rows = (
                await conn.execute(
                    select(
                        provider_keys.c.user_id,
                        provider_keys.c.provider,
                        provider_keys.c.ciphertext,
                    )
                )
            ).all()
        keys: dict[int, dict[str, str]] = {}
        plain: dict[str, str] = {}
        for user_id, provider, ciphertext in rows:
            key = self._plain.get(ciphertext)
            if key is None:
                try:
                    key = self._box.decrypt(ciphertext)
                except UndecryptableSecret:
                    log.warning(
                        "the %s key of user %d cannot be decrypted with the server secret or "
                        "any previous secret; it is not used",
                        provider,
                        user_id,
                    )
                    continue
            plain[ciphertext] = key
            keys.setdefault(user_id, {})[provider] = key
        self._keys = {user_id: MappingProxyType(found) for user_id, found in keys.items()}
        self._plain = plain
        self._version = version

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                await self.reload()
            except Exception as exc:
                log.warning("could not reload users' provider keys: %s", type(exc).__name__)
