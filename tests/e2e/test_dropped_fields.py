"""The field rule seen from a client: a hint a translation leaves out is named in the
`x-gatewayz-dropped` header and the request log, and refused on a `strict_fields` row."""

from collections.abc import AsyncIterator

import anthropic
import pytest

from tests.e2e.multi_stack import MultiStack, stack_fixture
from tests.e2e.support import Caller

HI = [{"role": "user", "content": "say hi please"}]
CACHED = {"cache_control": {"type": "ephemeral"}}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    async for stack in stack_fixture(request, tmp_path_factory):
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def claude(caller: Caller) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=caller.base_url, api_key=caller.api_key, max_retries=0, timeout=20
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_a_dropped_hint_is_named_in_the_answer_and_the_request_log(
    caller: Caller, stream: bool
) -> None:
    raw = await claude(caller).messages.with_raw_response.create(
        model="fake/fake-model", max_tokens=50, messages=HI, stream=stream, extra_body=CACHED
    )
    assert raw.headers["x-gatewayz-dropped"] == "cache_control"
    (log,) = await caller.logs(1)
    assert log["dropped"] == "cache_control"


async def test_nothing_dropped_no_header(stack: MultiStack, caller: Caller) -> None:
    raw = await claude(caller).messages.with_raw_response.create(
        model="fake/fake-model", max_tokens=50, messages=HI
    )
    assert "x-gatewayz-dropped" not in raw.headers
    native = await claude(caller).messages.with_raw_response.create(
        model="claude/claude-fake", max_tokens=50, messages=HI, extra_body=CACHED
    )
    assert "x-gatewayz-dropped" not in native.headers  # passed through: nothing left out
    logs = await caller.logs(2)
    assert [log["dropped"] for log in logs] == [None, None]


async def test_a_strict_row_refuses_what_would_be_dropped(
    stack: MultiStack, caller: Caller
) -> None:
    before = len(stack.openai.requests)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude(caller).messages.create(
            model="strict/strict-model", max_tokens=50, messages=HI, extra_body=CACHED
        )
    assert "'cache_control' cannot be sent to strict" in str(caught.value)
    assert len(stack.openai.requests) == before
    await caller.assert_books(calls=1, charged=0)
