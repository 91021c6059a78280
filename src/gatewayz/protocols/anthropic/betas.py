"""The `anthropic-beta` header of a Messages request passed through to an Anthropic upstream.

A beta is sent on when what it enables is billed in the usage the answer reports, or is a
field the passthrough rules check in the body itself (see protocols.anthropic.passthrough):
thinking, effort, context edits, caching, tool streaming, larger output limits (`max_tokens`
is held), structured outputs, deferred tools, and the betas of server tools (tool search
included), MCP, files, compaction, fallbacks and threads, whose fields are refused unless the
provider row allows them. Any other
beta (one that prices the model differently, `context-1m`, or one the gateway does not know)
is left out, and named as `anthropic-beta.<name>`, unless the provider row's
`passthrough_fields` allows it (`anthropic-beta.<name>`, with or without its date, or
`anthropic-beta` for all). Requests translated for other upstreams ignore the header: the
fields it enables are mapped or dropped one by one.
"""

import re

from gatewayz.protocols.fields import Dropped

HEADER = "anthropic-beta"
_DATE = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
_SENT_ON = frozenset(
    {
        "claude-code", "interleaved-thinking", "dev-full-thinking", "thinking-token-count",
        "thinking-display-updates", "effort", "context-management", "prompt-caching",
        "extended-cache-ttl", "token-efficient-tools", "fine-grained-tool-streaming",
        "output-128k", "output-300k", "structured-outputs", "pdfs", "token-counting",
        "computer-use", "model-context-window-exceeded", "mid-conversation-tool-changes",
        "mid-conversation-output-config", "mid-conversation-system-clear-at",
        "advanced-tool-use", "mcp-client", "code-execution", "web-fetch", "web-search",
        "files-api", "skills", "compact", "advisor-tool", "fast-mode", "server-side-fallback",
        "fallback-credit", "message-threads", "cache-diagnosis",
    }
)  # fmt: skip


def family(beta: str) -> str:
    """A beta's name without its date: context-management-2025-06-27 -> context-management."""
    return _DATE.sub("", beta)


def betas_sent(header: str | None, allowed: frozenset[str], dropped: Dropped) -> list[str]:
    """The betas of a client's `anthropic-beta` header to send on; the others are named in
    `dropped` (refused when the row has strict fields)."""
    sent: list[str] = []
    for raw in (header or "").split(","):
        beta = raw.strip()
        if not beta or beta in sent:
            continue
        name = family(beta)
        if (
            name in _SENT_ON
            or HEADER in allowed
            or f"{HEADER}.{beta}" in allowed
            or f"{HEADER}.{name}" in allowed
        ):
            sent.append(beta)
        else:
            dropped.drop(f"{HEADER}.{beta}", "the beta is not one the gateway can bill")
    return sent
