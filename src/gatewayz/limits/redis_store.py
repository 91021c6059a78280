"""The Redis store: every window of a call checked and drawn by one Lua script, in one round
trip (shared with the calls made at the same time, see pipeline.py), on Redis's clock, so
every gateway process shares one count."""

import hashlib

from redis.asyncio import Redis

from gatewayz.limits.pipeline import Pipeliner
from gatewayz.limits.windows import CONCURRENCY_RETRY_MS, Verdict, Window, WindowState

# KEYS: the windows. ARGV: lease, lease_ms, (limit, period_ms, cost) per window, and the
# retry hint for a full concurrency window.
# Returns {allowed, remaining, reset_ms, retry_ms per window}: the state after the draw when
# allowed, before it (nothing drawn) when refused.
_ADMIT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease, lease_ms = ARGV[1], tonumber(ARGV[2])
local allowed = 1
local before, after, drawn = {}, {}, {}
for i, key in ipairs(KEYS) do
  local limit, period, cost = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]),
    tonumber(ARGV[3 * i + 2])
  if period == 0 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local free = limit - redis.call('ZCARD', key)
    if free < 1 then allowed = 0 end
    before[i] = {math.max(free, 0), 0, free < 1 and tonumber(ARGV[#ARGV]) or 0}
    after[i] = {math.max(free - 1, 0), 0, 0}
  else
    local interval = period / limit
    local tat = math.max(tonumber(redis.call('GET', key)) or now, now)
    local new_tat = tat + cost * interval
    local over = new_tat - now - period
    if over > 0 then allowed = 0 end
    before[i] = {math.max(math.floor((period - (tat - now)) / interval), 0),
      math.ceil(tat - now), math.ceil(math.max(over, 0))}
    after[i] = {math.max(math.floor((period - (new_tat - now)) / interval), 0),
      math.ceil(new_tat - now), 0}
    drawn[i] = new_tat
  end
end
local out = {allowed}
for i, key in ipairs(KEYS) do
  local state = allowed == 1 and after[i] or before[i]
  for j = 1, 3 do out[#out + 1] = state[j] end
  if allowed == 1 then
    if drawn[i] then
      redis.call('SET', key, string.format('%.3f', drawn[i]), 'PX',
        math.ceil(drawn[i] - now) + 1)
    else
      redis.call('ZADD', key, now + lease_ms, lease)
      redis.call('PEXPIRE', key, lease_ms)
    end
  end
end
return out
"""

# KEYS: the windows. ARGV: lease, then (limit, period_ms, tokens to give back) per window.
_RELEASE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
for i, key in ipairs(KEYS) do
  local limit, period, delta = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]),
    tonumber(ARGV[3 * i + 1])
  if period == 0 then
    redis.call('ZREM', key, ARGV[1])
  elseif delta ~= 0 then
    local tat = math.max(tonumber(redis.call('GET', key)) or now, now) + delta * period / limit
    if tat > now then
      redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
    else
      redis.call('DEL', key)
    end
  end
end
return 0
"""

_ADMIT_SHA = hashlib.sha1(_ADMIT.encode()).hexdigest()
_RELEASE_SHA = hashlib.sha1(_RELEASE.encode()).hexdigest()


def keys(windows: tuple[Window, ...]) -> list[str]:
    return [window.key for window in windows]


class RedisStore:
    """Windows in Redis: a bucket is a string holding its TAT, a lease set is a sorted set of
    lease expiry times; every key expires once it no longer limits anything."""

    def __init__(self, client: Redis, timeout: float) -> None:
        self.client = client
        self._admits = Pipeliner(client, timeout)
        self._releases = Pipeliner(client, timeout)  # so that no admission waits behind them

    async def prepare(self) -> None:
        """Load the scripts (run by their digest from then on); proves that Redis answers."""
        for script in (_ADMIT, _RELEASE):
            await self.client.script_load(script)

    async def admit(
        self, windows: tuple[Window, ...], tokens: int, lease: str, lease_ms: int
    ) -> Verdict:
        args: list[str | int] = [lease, lease_ms]
        for window in windows:
            args += [window.limit, window.period_ms, window.cost(tokens)]
        args.append(CONCURRENCY_RETRY_MS)
        reply = await self._admits.run("EVALSHA", _ADMIT_SHA, len(windows), *keys(windows), *args)
        states = tuple(
            WindowState(int(reply[i]), int(reply[i + 1]), int(reply[i + 2]))
            for i in range(1, len(reply), 3)
        )
        return Verdict(reply[0] == 1, states)

    async def release(
        self, windows: tuple[Window, ...], lease: str, reserved: int, used: int
    ) -> None:
        args: list[str | int] = [lease]
        for window in windows:
            delta = used - window.cost(reserved) if window.kind == "tokens" else 0
            args += [window.limit, window.period_ms, delta]
        await self._releases.run("EVALSHA", _RELEASE_SHA, len(windows), *keys(windows), *args)
