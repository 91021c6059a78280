"""A timeout for a remote call that does not blame the remote for this process's busy loop.

Under a burst of requests each turn of the event loop can take many milliseconds: an answer
that has arrived is read only turns later, and a plain timeout reports a slow server that
is not slow. Here the timeout runs in `STEPS` steps, each starting when the loop gets to
the end of the previous one, so a late loop stretches the deadline (up to a bound).
"""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
STEPS = 5
MOST_SECONDS = 1.0


async def within(work: Awaitable[T], seconds: float, most: float = MOST_SECONDS) -> T:
    """`work`'s result, or TimeoutError once `seconds` have passed in steps the loop kept up
    with, or `most` seconds in all."""
    loop = asyncio.get_running_loop()
    step = seconds / STEPS
    give_up = loop.time() + most
    left = STEPS
    async with asyncio.timeout(None) as timeout:
        handle: asyncio.TimerHandle

        def tick() -> None:
            nonlocal handle, left
            left -= 1
            now = loop.time()
            if left and now + step < give_up:
                handle = loop.call_at(now + step, tick)
            else:
                timeout.reschedule(now)

        handle = loop.call_at(loop.time() + step, tick)
        try:
            return await work
        finally:
            handle.cancel()
