"""Request ids: unique per request, whatever else in the process does with `random`."""

import random

import httpx

from tests.conftest import Gateway
from tests.e2e.support import HI, HI_COST


async def test_ids_stay_unique_when_the_global_random_generator_is_reseeded(
    gateway: Gateway,
) -> None:
    """A library (or a test framework) seeding `random` must not repeat request ids: the id
    is each call's settlement key, so a repeated one would leave a call uncharged."""
    start = await gateway.balance_units()
    headers = {"Authorization": f"Bearer {gateway.api_key}"}
    ids = []
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as client:
        for _ in range(2):
            random.seed(2024)
            response = await client.post(
                "/v1/chat/completions", json={"model": "fake/fake-model", "messages": HI}
            )
            assert response.status_code == 200, response.text
            ids.append(response.headers["x-request-id"])
    assert ids[0] != ids[1]
    await gateway.flush()
    assert start - await gateway.balance_units() == 2 * HI_COST
