"""Bring your own key, end to end with the official OpenAI SDK: a user's calls to a provider
they have a key for carry their key upstream and cost them nothing, other users' calls carry
the operator's key, a rejected own key says so, and providers the operator has no key for
become callable for the users who bring one. Only where the operator allows own keys: a
provider declared in the config takes none unless its row says `own_keys: true`, and a key
stored before that changed is never used."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import provider_keys
from gatewayz.accounts.key_store import Actor
from gatewayz.accounts.secret_box import SecretBox
from gatewayz.app_services import Services
from gatewayz.settings import Settings
from tests.conftest import FAKE_PRICES, SECRET, gateway_settings, serve
from tests.e2e.conftest import ONE_ATTEMPT
from tests.e2e.support import HI, HI_COST, REPLY, Caller, new_caller
from tests.fakes.openai_upstream import FakeOpenAIUpstream

ANA_KEY = "sk-ana-own-key-0123456789abcdefAAAA"
MINE_KEY = "sk-mine-upstream-0123456789abcdefMMMM"
MADE_UP_KEY = "made-up-key-0123456789abcdef"
OPERATOR_KEY = "operator-key-of-the-local-server"
MODELS = [{"id": "fake-model", **FAKE_PRICES}]


@dataclass
class Site:
    base_url: str
    engine: AsyncEngine
    state: Services
    upstream: FakeOpenAIUpstream
    mine: FakeOpenAIUpstream
    database_url: str

    async def caller(self, credits: str = "10") -> Caller:
        return await new_caller(
            self.base_url, self.engine, self.state, self.upstream, self.database_url, credits
        )


def _settings(
    database_url: str, upstream: FakeOpenAIUpstream, mine: FakeOpenAIUpstream, **extra: Any
) -> Settings:
    """`fake` with the operator's key, and `mine`, whose key the operator does not have; the
    operator lets users bring their own key for both."""
    providers = [
        {
            "name": "fake",
            "protocol": "openai",
            "base_url": upstream.base_url,
            "api_key": upstream.api_key,
            "own_keys": True,
            "models": MODELS,
        },
        {
            "name": "mine",
            "protocol": "openai",
            "base_url": mine.base_url,
            "api_key_env": "MINE_API_KEY",
            "own_keys": True,
            "models": MODELS,
        },
    ]
    return gateway_settings(
        database_url, upstream, providers=providers, routing=ONE_ATTEMPT, **extra
    )


@pytest.fixture
async def site(
    request: pytest.FixtureRequest,
    database_url: str,
    engine: AsyncEngine,
    upstream: FakeOpenAIUpstream,
) -> AsyncIterator[Site]:
    extra = getattr(request, "param", {})
    async with FakeOpenAIUpstream(api_key=MINE_KEY) as mine:
        settings = _settings(database_url, upstream, mine, **extra)
        async with serve(settings) as (base_url, state):
            yield Site(base_url, engine, state, upstream, mine, database_url)


async def _put_key(caller: Caller, provider: str, key: str) -> None:
    async with caller.http() as http:
        answer = await http.put(f"/user/provider-keys/{provider}", json={"api_key": key})
    assert answer.status_code == 201, answer.text


async def test_own_key_is_sent_upstream_and_charges_nothing(site: Site) -> None:
    ana, bob = await site.caller(), await site.caller()
    await _put_key(ana, "fake", ANA_KEY)
    operator_key, site.upstream.api_key = site.upstream.api_key, ANA_KEY  # accepts Ana's key

    answer = await ana.client().chat.completions.create(model="fake/fake-model", messages=HI)
    assert answer.choices[0].message.content == REPLY
    assert site.upstream.requests[-1].headers["authorization"] == f"Bearer {ANA_KEY}"
    stream = await ana.client().chat.completions.create(
        model="fake-model", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == REPLY
    assert site.upstream.requests[-1].headers["authorization"] == f"Bearer {ANA_KEY}"

    site.upstream.api_key = operator_key
    await bob.client().chat.completions.create(model="fake-model", messages=HI)
    assert site.upstream.requests[-1].headers["authorization"] == f"Bearer {operator_key}"

    logs = await ana.assert_books(calls=2, charged=0)
    assert [(log["provider"], log["status_code"], log["cost_units"]) for log in logs] == [
        ("fake", 200, 0),
        ("fake", 200, 0),
    ]
    assert logs[0]["input_tokens"] == 3  # still logged with its usage
    await bob.assert_books(calls=1, charged=HI_COST)


async def test_a_rejected_own_key_says_so_and_deleting_it_restores_the_operators(
    site: Site,
) -> None:
    ana = await site.caller()
    await _put_key(ana, "fake", ANA_KEY)  # the fake upstream accepts only the operator's key

    with pytest.raises(openai.PermissionDeniedError) as rejected:
        await ana.client().chat.completions.create(model="fake-model", messages=HI)
    assert "your fake key was rejected (HTTP 401)" in rejected.value.message
    assert ANA_KEY not in str(rejected.value.body)
    await ana.assert_books(calls=1, charged=0)

    async with ana.http() as http:
        assert (await http.delete("/user/provider-keys/fake")).status_code == 200
    await ana.client().chat.completions.create(model="fake-model", messages=HI)
    assert site.upstream.requests[-1].headers["authorization"] == f"Bearer {site.upstream.api_key}"
    await ana.assert_books(calls=2, charged=HI_COST)


async def test_a_provider_without_an_operator_key_serves_only_users_with_their_own(
    site: Site,
) -> None:
    bob = await site.caller()
    zed = await site.caller(credits="0")
    with pytest.raises(openai.NotFoundError):
        await bob.client().chat.completions.create(model="mine/fake-model", messages=HI)

    await _put_key(zed, "mine", MINE_KEY)
    answer = await zed.client().chat.completions.create(model="mine/fake-model", messages=HI)
    assert answer.choices[0].message.content == REPLY
    assert site.mine.requests[-1].headers["authorization"] == f"Bearer {MINE_KEY}"
    with pytest.raises(openai.NotFoundError):
        await bob.client().chat.completions.create(model="mine/fake-model", messages=HI)
    with pytest.raises(openai.APIStatusError) as unfunded:  # the operator's provider costs
        await zed.client().chat.completions.create(model="fake/fake-model", messages=HI)
    assert unfunded.value.status_code == 402
    await zed.assert_books(calls=1, charged=0)


@pytest.mark.parametrize("site", [{"byok": {"fee_percent": "10"}}], indirect=True)
async def test_a_configured_fee_charges_that_share_of_the_price(site: Site) -> None:
    ana = await site.caller()
    await _put_key(ana, "mine", MINE_KEY)
    await ana.client().chat.completions.create(model="mine/fake-model", messages=HI)
    await ana.assert_books(calls=1, charged=HI_COST // 10)


def _local(local: FakeOpenAIUpstream, **fields: Any) -> dict[str, Any]:
    """A server the operator runs, declared in the config, which ignores the key it gets."""
    row = {"name": "local", "protocol": "openai", "base_url": local.base_url, "models": MODELS}
    return {**row, "api_key": OPERATOR_KEY, **fields}


async def test_an_operator_declared_provider_takes_no_own_key_and_gives_no_free_calls(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    async with FakeOpenAIUpstream(ignore_key=True) as local:
        settings = gateway_settings(
            database_url, upstream, providers=[_local(local)], routing=ONE_ATTEMPT
        )
        async with serve(settings) as (base_url, state):
            ana = await new_caller(base_url, engine, state, upstream, database_url)
            async with ana.http() as http:
                refused = await http.put("/user/provider-keys/local", json={"api_key": MADE_UP_KEY})
                listed = await http.get("/user/provider-keys")
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["param"] == "provider" and "'local'" in error["message"]
            assert "own_keys" in error["message"] and MADE_UP_KEY not in refused.text
            assert listed.json() == {"data": []}
            for _ in range(3):
                await ana.client().chat.completions.create(
                    model="local/fake-model", messages=HI, max_tokens=4096
                )
            await ana.assert_books(calls=3, charged=3 * HI_COST)
    assert [r.headers["authorization"] for r in local.requests] == [f"Bearer {OPERATOR_KEY}"] * 3


@pytest.mark.parametrize(
    "now", [{}, {"own_keys": False}, {"auth": "none", "api_key": None}], ids=str
)
async def test_a_key_stored_before_the_provider_stopped_taking_own_keys_is_never_used(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream, now: dict[str, Any]
) -> None:
    """A key stored while the operator allowed own keys (here written to the store directly)
    is not used once the row no longer allows them, also when the row became `auth: none`."""
    async with FakeOpenAIUpstream(ignore_key=True) as local:
        row = {k: v for k, v in _local(local, **now).items() if v is not None}
        settings = gateway_settings(database_url, upstream, providers=[row], routing=ONE_ATTEMPT)
        async with serve(settings) as (base_url, state):
            ana = await new_caller(base_url, engine, state, upstream, database_url)
            actor = Actor(ana.user_id, None, None)
            box = SecretBox(SECRET.encode())
            await provider_keys.put_key(engine, box, actor, "local", MADE_UP_KEY)
            await state.provider_keyring.reload()
            answer = await ana.client().chat.completions.create(
                model="local/fake-model", messages=HI, max_tokens=4096
            )
            assert answer.choices[0].message.content == REPLY
            await ana.assert_books(calls=1, charged=HI_COST)
    sent = local.requests[-1].headers.get("authorization")
    assert sent == (None if now.get("auth") == "none" else f"Bearer {OPERATOR_KEY}")


async def test_a_builtin_provider_takes_own_keys_unless_the_config_moves_it(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> None:
    """`groq` named in the config keeps the built-in `own_keys: true` while it still calls
    Groq; pointed at another server it takes none, unless the row says `own_keys: true`."""
    async with FakeOpenAIUpstream(api_key=ANA_KEY) as moved:
        moved_row = {"name": "groq", "base_url": moved.base_url, "models": MODELS}
        rows: list[tuple[dict[str, Any], int]] = [
            ({"name": "groq", "models": MODELS}, 201),
            ({**moved_row, "api_key": "operator-groq-key"}, 400),
            ({**moved_row, "own_keys": True}, 201),
        ]
        for row, status in rows:
            settings = gateway_settings(
                database_url, upstream, providers=[row], routing=ONE_ATTEMPT
            )
            async with serve(settings) as (base_url, state):
                ana = await new_caller(base_url, engine, state, upstream, database_url, "0")
                async with ana.http() as http:
                    put = await http.put("/user/provider-keys/groq", json={"api_key": ANA_KEY})
                assert put.status_code == status, (row, put.text)
                if row.get("own_keys"):
                    answer = await ana.client().chat.completions.create(
                        model="groq/fake-model", messages=HI
                    )
                    assert answer.choices[0].message.content == REPLY
                    await ana.assert_books(calls=1, charged=0)
    assert [r.headers["authorization"] for r in moved.requests] == [f"Bearer {ANA_KEY}"]
