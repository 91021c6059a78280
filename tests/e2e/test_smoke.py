import openai

from tests.conftest import Gateway


async def test_chat(gateway: Gateway) -> None:
    client = openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key=gateway.api_key)
    answer = await client.chat.completions.create(
        model="fake/fake-model", messages=[{"role": "user", "content": "say hi please"}]
    )
    assert answer.choices[0].message.content == "This is a fake reply."
    stream = await client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "say hi please"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "This is a fake reply."
    await gateway.flush()
    # 3 in + 5 out, twice: (3*2 + 5*8) * 1000 units each
    assert await gateway.balance_units() == 10 * 10**9 - 2 * 46_000
