"""The documented request bodies of the routes that parse their JSON by hand."""

import httpx
import jsonschema
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.app import create_app
from gatewayz.settings import Settings
from tests.conftest import add_funded_user, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream

ROUTES = (
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/images/generations",
)


@pytest.fixture(scope="module")
def openapi() -> dict:
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db", secret="s", environ={})
    return create_app(settings).openapi()


@pytest.mark.parametrize("path", ROUTES)
def test_each_relayed_route_documents_a_json_body_and_its_example_fits_it(
    openapi: dict, path: str
) -> None:
    body = openapi["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert "model" in schema["required"]
    (example,) = schema["examples"]
    jsonschema.Draft202012Validator(schema).validate(example)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({**example, "model": ""})


def test_the_stripe_webhook_documents_its_signature_header(openapi: dict) -> None:
    webhook = openapi["paths"]["/stripe/webhook"]["post"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["title"] == (
        "StripeEvent"
    )
    assert [p["name"] for p in webhook["parameters"]] == ["Stripe-Signature"]


async def test_the_examples_of_the_demo_models_are_served_as_documented(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, openapi: dict
) -> None:
    _, key = await add_funded_user(engine, "docs@example.com", "1")
    settings = gateway_settings(database_url, upstream, demo_provider=True)
    async with (
        serve(settings) as (base_url, _),
        httpx.AsyncClient(base_url=base_url, headers={"x-api-key": key}) as client,
    ):
        for path in ROUTES:
            body = openapi["paths"][path]["post"]["requestBody"]
            (example,) = body["content"]["application/json"]["schema"]["examples"]
            if example["model"].startswith("demo/"):
                response = await client.post(path, json=example)
                assert response.status_code == 200, (path, response.text)
