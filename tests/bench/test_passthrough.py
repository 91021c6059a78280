"""The pass-through forwards chat completions, streamed and not, as the upstream sent them."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from openai import AsyncOpenAI

from passthrough import PassThrough
from upstream import UpstreamProtocol


@pytest.fixture
async def passthrough_url() -> AsyncIterator[str]:
    upstream = await asyncio.get_running_loop().create_server(UpstreamProtocol, "127.0.0.1", 0)
    upstream_port = upstream.sockets[0].getsockname()[1]
    proxy = PassThrough(f"http://127.0.0.1:{upstream_port}")
    await proxy.open()
    runner = web.ServerRunner(web.Server(proxy.handle, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()
        assert proxy.session is not None
        await proxy.session.close()
        upstream.close()
        await upstream.wait_closed()


async def test_a_completion_comes_back_through_the_passthrough(passthrough_url: str) -> None:
    client = AsyncOpenAI(base_url=passthrough_url, api_key="sk-bench")
    completion = await client.chat.completions.create(
        model="bench-model", messages=[{"role": "user", "content": "hi"}]
    )
    await client.close()
    assert completion.choices[0].message.content == "Hello there, nice to meet!"
    assert completion.usage is not None and completion.usage.total_tokens == 17


async def test_a_stream_comes_back_event_by_event_with_its_usage(passthrough_url: str) -> None:
    client = AsyncOpenAI(base_url=passthrough_url, api_key="sk-bench")
    stream = await client.chat.completions.create(
        model="bench-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    await client.close()
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Hello there, nice to meet!"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
