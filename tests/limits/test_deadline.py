"""The Redis timeout: short when the loop is free, patient while the loop itself runs late."""

import asyncio
import time

import pytest

from gatewayz.limits.deadline import within


async def answer_after(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "answer"


async def test_an_answer_in_time_is_returned() -> None:
    assert await within(answer_after(0.01), 0.05) == "answer"


async def test_no_answer_times_out_after_the_timeout() -> None:
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        await within(answer_after(1), 0.05)
    assert 0.05 <= time.perf_counter() - started < 0.2


async def test_a_busy_loop_is_not_taken_for_a_slow_answer() -> None:
    async def busy_process() -> None:
        await asyncio.sleep(0)
        time.sleep(0.12)  # other requests hold the loop past the whole timeout

    busy = asyncio.create_task(busy_process())
    assert await within(answer_after(0.02), 0.05) == "answer"
    await busy


async def test_a_loop_that_stays_busy_gives_up_at_the_bound() -> None:
    async def hog() -> None:
        while True:
            time.sleep(0.2)  # every turn of the loop takes 200 ms
            await asyncio.sleep(0)

    hogging = asyncio.create_task(hog())
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        await within(answer_after(5), 0.05, most=0.25)
    elapsed = time.perf_counter() - started
    hogging.cancel()
    assert 0.25 <= elapsed < 1.0  # five steps would take five turns: more than 1 s
