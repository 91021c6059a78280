"""Schemathesis over the gateway's own OpenAPI schema: no operation answers 5xx or hangs.

Every operation of `/openapi.json` is fuzzed (schema-valid and schema-violating input, with a
fixed seed, so a run is repeatable) against a gateway served over real HTTP on SQLite and on
PostgreSQL, in front of the fake upstreams of every wire protocol (tests/e2e/multi_stack.py),
the built-in demo provider and a fake Stripe. Each generated request is sent three times: as
a funded admin (the admin routes do real work), as a funded plain user (the user routes work,
the admin routes refuse) and with no key.

Checks on every response:
- schemathesis' `not_a_server_error`: no 5xx;
- no hang: each request has `REQUEST_TIMEOUT` seconds, an event stream included;
- a 4xx is an error object in the format of the API that was called;
- without a key only the public routes answer 2xx; a plain user never gets 2xx from an admin
  or monitoring route.
Status codes, content types and response bodies are not checked against the schema: FastAPI's
generated schema lists only 200 and 422 (the gateway answers 400, 401, 402, 403, 404, 409 and
429 as documented in docs/, with its own error objects, and streams as text/event-stream).
Nor is schemathesis' negative_data_rejection: unknown fields of the relayed bodies are kept
and passed on by design.

The gateway runs on an event loop of its own thread: schemathesis calls it synchronously.
Each operation gets callers of its own, so what one operation does to its caller (revoking
its key, spending its credit, demoting itself) cannot hide the next operation's behaviour.
"""

import asyncio
import itertools
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import ledger
from tests.api.stripe_shop import STRIPE_KEY, WEBHOOK_SECRET
from tests.conftest import SECRET, require_service
from tests.e2e.multi_stack import MODELS, MultiStack, multi_stack
from tests.fakes.stripe_api import FakeStripeAPI

T = TypeVar("T")
CALLERS = ("admin", "user", "anonymous")
# Examples per operation: calls relayed to a model get more.
MAX_EXAMPLES = 15
MAX_RELAYED_EXAMPLES = 40
RELAYED = "^/v1/(chat/completions|messages|responses|embeddings|images/generations)$"
REQUEST_TIMEOUT = 10.0
# What answers without a key (the catalog, health, plans), and what only admins get.
PUBLIC = ("/", "/health", "/ready", "/status", "/v1/plans", "/v1/providers", "/v1/gateways/summary")
ADMIN_ONLY = ("/admin/", "/api/monitoring/")
FUNDS_UNITS = 100 * 10**9  # 100 credits for each funded caller
MEDIA_MODELS = (
    {
        "id": "fake-embedding",
        "type": "embeddings",
        "input_price_per_mtok": "0.5",
        "output_price_per_mtok": "0",
    },
    {"id": "fake-image", "type": "images", "image_price": "0.04"},
)
CHAT_MODELS = (
    *MODELS.values(),
    "sonnet",
    "claude/fake-stream-error",
    "oresp-open/resp-open",
    "claude-open/claude-open",
    "demo/demo-chat",
)
# The models a fuzzed body names, by path, so that calls reach every upstream.
SERVED_MODELS = {
    "/v1/chat/completions": CHAT_MODELS,
    "/v1/messages": CHAT_MODELS,
    "/v1/responses": CHAT_MODELS,
    "/v1/embeddings": ("fake/fake-embedding", "demo/demo-embed"),
    "/v1/images/generations": ("fake/fake-image",),
}


class ServedStack:
    """The multi-protocol stack with the demo provider on, served on its own thread's loop."""

    def __init__(self, database: str, tmp_dir: Path) -> None:
        self._database = database
        self._tmp_dir = tmp_dir
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready: Future[MultiStack] = Future()
        self._thread = threading.Thread(target=self._main, name=f"gateway-{database}")
        self._emails = itertools.count(1)
        self.callers: dict[tuple[str, str], dict[str, str]] = {}

    def __enter__(self) -> MultiStack:
        self._thread.start()
        return self._ready.result(timeout=60)

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with (
            FakeStripeAPI(STRIPE_KEY) as stripe,
            multi_stack(
                self._database,
                self._tmp_dir,
                extra_openai_models=MEDIA_MODELS,
                demo_provider=True,
                stripe={
                    "secret_key": STRIPE_KEY,
                    "webhook_secret": WEBHOOK_SECRET,
                    "api_base": stripe.base_url,
                },
            ) as stack,
        ):
            self.stack = stack
            self._ready.set_result(stack)
            await self._stop.wait()

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the gateway's loop and wait for its result."""
        assert self._loop is not None

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)

    def headers(self, kind: str, operation: str) -> dict[str, str]:
        """The auth headers of this operation's caller of `kind` (created on first use)."""
        if kind == "anonymous":
            return {}
        found = self.callers.get((kind, operation))
        if found is None:
            email = f"{kind}{next(self._emails)}@fuzz.example.com"
            key = self.run(lambda: _funded_key(self.stack.engine, email, kind))
            found = self.callers[(kind, operation)] = {"Authorization": f"Bearer {key}"}
        return found


async def _funded_key(engine: AsyncEngine, email: str, role: str) -> str:
    user = await accounts.create_user(engine, email, role=role)
    await ledger.change_credits(
        engine, user.id, FUNDS_UNITS, kind="grant", reason="fuzz", idempotency_key=email
    )
    return await accounts.create_key(engine, SECRET.encode(), user.id, "fuzz")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedStack]:
    if request.param == "postgres":
        require_service("PostgreSQL", "127.0.0.1", 5432)
    served = ServedStack(request.param, tmp_path_factory.mktemp("fuzz"))
    with served:
        yield served


def with_served_models(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, each relayed body's `model` (and its example's) one the stack serves: an
    unknown model is a plain 404; schema-violating cases still send anything else."""
    for path, models in SERVED_MODELS.items():
        body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        body["schema"]["properties"]["model"] = {"type": "string", "enum": list(models)}
        body["schema"]["examples"][0]["model"] = models[0]
    return schema


@pytest.fixture
def gateway_schema(served: ServedStack) -> schemathesis.BaseSchema:
    base_url = served.stack.base_url
    raw = requests.get(f"{base_url}/openapi.json", timeout=REQUEST_TIMEOUT).json()
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20_240_601,
            "base-url": base_url,
            "request-timeout": REQUEST_TIMEOUT,
            "max-stream-events": 1_000_000,  # only the timeout cuts a stream short
            "suppress-health-check": ["all"],
            # Reproductions show every field (`max_tokens` too), only the keys are hidden.
            "output": {
                "sanitization": {
                    "keys-to-sanitize": ["authorization", "x-api-key"],
                    "sensitive-markers": ["secret", "password"],
                }
            },
            "phases": {"coverage": {"enabled": False}},
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "operations": [
                {
                    "include-path-regex": RELAYED,
                    "generation": {"max-examples": MAX_RELAYED_EXAMPLES},
                }
            ],
        }
    )
    return schemathesis.openapi.from_dict(with_served_models(raw), config=config)


schema = schemathesis.pytest.from_fixture("gateway_schema")


@schema.parametrize()
def test_no_operation_fails_or_hangs(case: Case, served: ServedStack) -> None:
    """One generated request from each caller: no 5xx, no hang, errors in the API's format,
    nothing served to a caller who may not have it."""
    for caller in CALLERS:
        check_answer(case, served, caller)


def check_answer(case: Case, served: ServedStack, caller: str) -> None:
    headers = served.headers(caller, case.operation.label)
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    assert not response.stream_cut_short, _explain(case, response, "the event stream never ended")
    if response.status_code < 400:
        assert caller != "anonymous" or _is_public(case.path), _explain(
            case, response, "served without a key"
        )
        assert caller != "user" or not case.path.startswith(ADMIN_ONLY), _explain(
            case, response, "an admin route served to a plain user"
        )
    elif response.status_code < 500 and case.method != "HEAD":
        assert _is_error_object(case.path, response), _explain(
            case, response, "a 4xx that is not an error object"
        )


def _is_public(path: str) -> bool:
    """The catalog is public, in OpenAI's format and in Gemini's (`/v1beta/models`)."""
    return path in PUBLIC or any(
        path == base or path.startswith(base + "/") for base in ("/v1/models", "/v1beta/models")
    )


def _is_error_object(path: str, response: Response) -> bool:
    """An OpenAI error object, or Anthropic's on /v1/messages."""
    body: Any = None
    with suppress(ValueError):
        body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return False
    if path.startswith("/v1/messages"):
        return body.get("type") == "error" and isinstance(body["error"].get("type"), str)
    return isinstance(body["error"].get("message"), str)


def _explain(case: Case, response: Response, problem: str) -> str:
    return (
        f"{case.operation.label}: {problem} ({response.status_code}: {response.text[:300]})\n"
        f"Reproduce with: {case.as_curl_command()}"
    )
