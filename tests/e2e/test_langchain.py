"""LangChain pointed at the gateway: ChatOpenAI against a Gemini-format upstream (structured
output by function calling, a forced tool with `parallel_tool_calls: false`, and by JSON
mode), ChatGoogleGenerativeAI through the Gemini API, ChatAnthropic through Messages; each
call charged."""

from collections.abc import AsyncIterator

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.e2e.multi_stack import REPLY, REPLY_TOKENS, MultiStack, cost, multi_stack
from tests.e2e.support import Caller
from tests.fakes.gemini_upstream import FUNCTION_ARGS_JSON

CALL_WORDS = len(FUNCTION_ARGS_JSON.split())


class Place(BaseModel):
    """Where the weather is asked for."""

    city: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MultiStack]:
    extra = {"gem": ["gemini-json"]}
    async with multi_stack(request.param, tmp_path_factory.mktemp("lc"), extra) as stack:
        yield stack


@pytest.fixture
async def caller(stack: MultiStack) -> Caller:
    return await stack.caller()


def chat_model(stack: MultiStack, caller: Caller, model: str) -> ChatOpenAI:
    return ChatOpenAI(
        model=model, base_url=stack.base_url + "/v1", api_key=caller.api_key, max_retries=0
    )


async def test_structured_output_by_function_calling(stack: MultiStack, caller: Caller) -> None:
    llm = chat_model(stack, caller, "gem/gemini-fake")
    structured = llm.with_structured_output(Place, method="function_calling")
    assert await structured.ainvoke("weather in Paris?") == Place(city="Paris")
    sent = stack.gemini.requests[-1].json
    calling = sent["toolConfig"]["functionCallingConfig"]
    assert calling == {"mode": "ANY", "allowedFunctionNames": ["Place"]}
    await caller.assert_books(1, cost("gem", 3, CALL_WORDS))


async def test_structured_output_by_json_mode(stack: MultiStack, caller: Caller) -> None:
    llm = chat_model(stack, caller, "gem/gemini-json")
    structured = llm.with_structured_output(Place, method="json_mode")
    prompt = "Answer in JSON with the key city: where is the Louvre?"
    assert await structured.ainvoke(prompt) == Place(city="Paris")
    sent = stack.gemini.requests[-1].json
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    await caller.assert_books(1, cost("gem", len(prompt.split()), CALL_WORDS))


async def test_chat_google_generative_ai_through_the_gemini_api(
    stack: MultiStack, caller: Caller
) -> None:
    llm = ChatGoogleGenerativeAI(
        model="fake/fake-model",
        google_api_key=caller.api_key,
        base_url=stack.base_url,
        api_version="v1beta",
        max_retries=0,
    )
    answer = await llm.ainvoke("say hi please")
    assert answer.text == REPLY
    await caller.assert_books(1, cost("fake", 3, REPLY_TOKENS))


async def test_chat_anthropic_against_a_gemini_upstream(stack: MultiStack, caller: Caller) -> None:
    llm = ChatAnthropic(
        model="gem/gemini-fake", base_url=stack.base_url, api_key=caller.api_key, max_retries=0
    )
    answer = await llm.ainvoke("say hi please")
    assert answer.text == REPLY
    await caller.assert_books(1, cost("gem", 3, REPLY_TOKENS))
