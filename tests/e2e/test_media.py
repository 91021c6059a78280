"""Embeddings and image generation with the official SDK, billed per token and per image."""

import base64
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.store.tables import ledger, users
from tests.conftest import add_funded_user, gateway_settings, serve, settle_now
from tests.fakes.fal_upstream import FakeFal
from tests.fakes.openai_upstream import FakeOpenAIUpstream


@pytest.fixture
async def fal() -> AsyncIterator[FakeFal]:
    async with FakeFal() as fake:
        yield fake


async def start(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, fal: FakeFal
) -> AsyncIterator[tuple[openai.AsyncOpenAI, Any]]:
    _, key = await add_funded_user(engine, "dev@example.com", "10")
    base = {"protocol": "openai", "base_url": upstream.base_url, "api_key": upstream.api_key}
    settings = gateway_settings(
        database_url,
        upstream,
        providers=[
            {
                "name": "fake",
                **base,
                "models": [
                    {
                        "id": "fake-embedding",
                        "type": "embeddings",
                        "input_price_per_mtok": "0.5",
                        "output_price_per_mtok": "0",
                    },
                    {"id": "fake-image", "type": "images", "image_price": "0.04"},
                    {"id": "fake-model", "input_price_per_mtok": "2", "output_price_per_mtok": "8"},
                ],
            },
            {
                "name": "fal",
                "protocol": "fal",
                "base_url": fal.base_url,
                "api_key": fal.api_key,
                "auth": "header",
                "auth_header": "Authorization",
                "auth_prefix": "Key ",
                "models": [{"id": "fal-ai/flux/schnell", "type": "images", "image_price": "0.003"}],
            },
        ],
    )
    async with serve(settings) as (base_url, state):
        yield openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=key, max_retries=0), state


async def charges(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(ledger.c.amount_units).where(ledger.c.kind == "usage"))
        return [row[0] for row in rows]


async def test_embeddings_are_charged_per_input_token(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, fal: FakeFal
) -> None:
    async for client, state in start(database_url, engine, upstream, fal):
        result = await client.embeddings.create(
            model="fake/fake-embedding", input=["one two three", "four five"]
        )
        assert [len(item.embedding) for item in result.data] == [8, 8]
        assert result.usage.prompt_tokens == 5
        await settle_now(state)
        assert await charges(engine) == [-5 * 500]  # 5 tokens at 0.5 per million
        with pytest.raises(openai.NotFoundError):
            await client.embeddings.create(
                model="fake/fake-model", input="chat models do not embed"
            )
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(model="fake/fake-embedding", input=[])
        assert caught.value.body["param"] == "input"


async def test_images_are_charged_per_image(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, fal: FakeFal
) -> None:
    async for client, state in start(database_url, engine, upstream, fal):
        result = await client.images.generate(model="fake/fake-image", prompt="a red fox", n=2)
        assert [image.url for image in result.data] == [
            "https://images.example/fake-0.png",
            "https://images.example/fake-1.png",
        ]
        await settle_now(state)
        assert await charges(engine) == [-2 * 40_000_000]


async def test_fal_images_through_the_openai_sdk(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, fal: FakeFal
) -> None:
    async for client, state in start(database_url, engine, upstream, fal):
        result = await client.images.generate(
            model="fal/fal-ai/flux/schnell", prompt="a lighthouse", size="512x512"
        )
        assert result.data[0].url == "https://fal.media/files/fake-0.jpg"
        sent = fal.requests[-1]
        assert sent.path == "/fal-ai/flux/schnell"
        assert sent.json == {
            "prompt": "a lighthouse",
            "num_images": 1,
            "image_size": {"width": 512, "height": 512},
        }
        inline = await client.images.generate(
            model="fal/fal-ai/flux/schnell", prompt="a lighthouse", response_format="b64_json"
        )
        assert base64.b64decode(inline.data[0].b64_json) == b"fal image 0"
        with pytest.raises(openai.BadRequestError) as caught:
            await client.images.generate(
                model="fal/fal-ai/flux/schnell", prompt="a lighthouse", quality="hd"
            )
        assert caught.value.body["param"] == "quality"
        await settle_now(state)
        assert await charges(engine) == [-3_000_000, -3_000_000]
        async with engine.connect() as conn:
            reserved = await conn.scalar(select(users.c.reserved_units))
        assert reserved == 0
