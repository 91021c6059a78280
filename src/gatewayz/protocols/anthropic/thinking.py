"""How hard the model thinks, both ways between Anthropic Messages and OpenAI chat.

Messages to chat (`reasoning_effort`): Anthropic's defaults, adaptive thinking at effort high
("exactly the same as omitting it", as Anthropic documents it), become the upstream model's
own default: no `reasoning_effort` is sent, so that models without reasoning settings answer
too (Claude Code sends these defaults with every request). Any other `output_config.effort`
is sent (low, medium and xhigh as they are, max as xhigh, OpenAI's highest level), and so is a
thinking budget (`enabled` with `budget_tokens`: up to 1,024 low, up to 8,192 medium, above
that high). With thinking disabled (or `between_tools`) no effort is sent; an effort given then
is dropped (named). `display` is kept by the answer: omitted thinking arrives with empty text
and its signature.

Chat to Messages (`thinking`): `reasoning_effort` is a budget, `{"type": "enabled",
"budget_tokens": B}`: minimal and low 1,024 (Anthropic's minimum), medium 8,192, high 24,576,
xhigh 32,768, at most half of `max_tokens` and at least 1,024. The budget counts inside
`max_tokens`, the limit the credit hold holds. `none` sends no thinking. The effort is dropped
(named) when `max_tokens` leaves no room for the minimum, or when Anthropic refuses thinking
with the rest of the request: a temperature other than 1, `top_k`, `top_p` below 0.95, a
forced tool, or tool results answering an assistant turn (that turn reached the client
without the thinking block Anthropic wants back with it).
"""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, obj, string
from gatewayz.protocols.fields import Dropped

ANTHROPIC_EFFORTS = ("low", "medium", "high", "xhigh", "max")
BUDGETS = {"minimal": 1024, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
MIN_BUDGET = 1024
_THINKING_TYPES = ("enabled", "adaptive", "disabled", "between_tools")


def chat_effort(body: Json, dropped: Dropped) -> str | None:
    """The `reasoning_effort` for a Messages request's thinking and effort (None: none)."""
    effort = _effort(body.get("output_config"))
    thinking = body.get("thinking")
    kind = None
    if thinking is not None:
        kind = string(obj(thinking, "thinking").get("type"), "thinking.type")
        if kind not in _THINKING_TYPES:
            raise InvalidRequest(
                f"thinking.type: must be one of {', '.join(_THINKING_TYPES)}.",
                param="thinking.type",
            )
    if kind in ("disabled", "between_tools"):
        if effort is not None:
            dropped.drop("output_config.effort", f"thinking is {kind}")
        return None
    if effort in (None, "high") and kind == "enabled" and isinstance(thinking, dict):
        effort = _budget_effort(thinking.get("budget_tokens"))
    elif effort == "high":
        return None  # Anthropic's default effort: the upstream's default
    return "xhigh" if effort == "max" else effort


def _effort(config: Any) -> str | None:
    if config is None:
        return None
    effort = obj(config, "output_config").get("effort")
    if effort is not None and effort not in ANTHROPIC_EFFORTS:
        raise InvalidRequest(
            f"output_config.effort: must be one of {', '.join(ANTHROPIC_EFFORTS)}.",
            param="output_config.effort",
        )
    return effort


def _budget_effort(budget: Any) -> str:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise InvalidRequest(
            "thinking.budget_tokens: must be a positive integer.", param="thinking.budget_tokens"
        )
    if budget <= BUDGETS["low"]:
        return "low"
    return "medium" if budget <= BUDGETS["medium"] else "high"


def anthropic_thinking(
    effort: Any, request: Json, answers_tool_calls: bool, dropped: Dropped
) -> Json | None:
    """The `thinking` for a chat request's `reasoning_effort`, given the Anthropic `request`
    it goes with (None: no thinking)."""
    if effort is None or effort == "none":
        return None
    if effort not in BUDGETS:
        efforts = ", ".join(["none", *BUDGETS])
        raise InvalidRequest(
            f"'reasoning_effort' must be one of {efforts}.", param="reasoning_effort"
        )
    max_tokens = request["max_tokens"]
    budget = max(MIN_BUDGET, min(BUDGETS[effort], max_tokens // 2))
    conflict = _conflict(request, answers_tool_calls)
    if budget >= max_tokens:
        conflict = f"max_tokens must be above {MIN_BUDGET} for a thinking budget"
    if conflict is not None:
        dropped.drop("reasoning_effort", f"Anthropic thinking cannot be used with {conflict}")
        return None
    return {"type": "enabled", "budget_tokens": budget}


def _conflict(request: Json, answers_tool_calls: bool) -> str | None:
    """What in the request Anthropic refuses to combine with thinking, if anything."""
    if request.get("temperature") not in (None, 1):
        return "a temperature other than 1"
    if request.get("top_k") is not None:
        return "top_k"
    top_p = request.get("top_p")
    if isinstance(top_p, int | float) and top_p < 0.95:
        return "top_p below 0.95"
    if (request.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "a forced tool"
    if answers_tool_calls:
        return "tool results for an assistant turn sent without its thinking"
    return None
