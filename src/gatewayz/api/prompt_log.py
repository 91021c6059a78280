"""Prompt logging, installed only when the operator turns it on (GATEWAYZ_LOG_PROMPTS):
the body of each relayed call and of its answer, logged at debug level once it ends."""

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatewayz.telemetry.context import current

MAX_CHARS = 100_000
log = logging.getLogger("gatewayz.prompts")


class PromptLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.DEBUG):
            await self.app(scope, receive, send)
            return
        prompt: list[bytes] = []
        answer: list[bytes] = []

        async def receive_body() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                prompt.append(message.get("body", b""))
            return message

        async def send_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_body, send_body)
        finally:
            context = current()
            if context is not None and context.model:
                log.debug(
                    "prompt and answer",
                    extra={"prompt": _text(prompt), "answer": _text(answer)},
                )


def _text(parts: list[bytes]) -> str:
    text = b"".join(parts).decode("utf-8", "replace")
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "…(truncated)"
