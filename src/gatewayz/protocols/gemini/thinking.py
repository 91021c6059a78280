"""How hard a model thinks, both ways: OpenAI `reasoning_effort` as a Gemini `thinkingConfig`,
and a Gemini `thinkingConfig` as `reasoning_effort`.

Effort becomes a thinking budget, never more than half the output limit sent (thinking
tokens count within `maxOutputTokens`, so the credit hold, which holds that limit, bounds
them, and the answer keeps room): none 0, minimal 128, low 1,024, medium 8,192, high 24,576
tokens (xhigh 32,768), with the thoughts asked for (`includeThoughts`) so that they reach the
client as reasoning. A budget becomes the effort it falls in (up to 1,024 low, up to 8,192
medium, above high); a level (`thinkingLevel`, Gemini 3) the effort of the same name. A budget
of 0 (no thinking) or -1 (the model decides) has no effort: it is left out, and named.
"""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json
from gatewayz.protocols.fields import Dropped

BUDGETS = {"none": 0, "minimal": 128, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}
_LEVELS = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}


def thinking_config(effort: Any, output_limit: int | None) -> Json:
    """The thinkingConfig for a `reasoning_effort`, its budget within half the limit."""
    if effort not in BUDGETS:
        efforts = ", ".join(BUDGETS)
        raise InvalidRequest(
            f"'reasoning_effort' must be one of {efforts}.", param="reasoning_effort"
        )
    budget = BUDGETS[effort]
    if output_limit is not None:
        budget = min(budget, output_limit // 2)
    return {"thinkingBudget": budget, "includeThoughts": budget > 0}


def reasoning_effort(config: Any, path: str, dropped: Dropped) -> str | None:
    """The `reasoning_effort` for a Gemini thinkingConfig at `path` (None: none to send)."""
    if not isinstance(config, dict):
        raise InvalidRequest(f"'{path}' must be an object.", param=path)
    level = config.get("thinkingLevel")
    if level is not None and level != "THINKING_LEVEL_UNSPECIFIED":
        if level not in _LEVELS:
            levels = ", ".join(_LEVELS)
            raise InvalidRequest(
                f"'{path}.thinkingLevel' must be one of {levels}.", param=f"{path}.thinkingLevel"
            )
        return _LEVELS[level]
    budget = config.get("thinkingBudget")
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < -1:
        raise InvalidRequest(
            f"'{path}.thinkingBudget' must be an integer from -1.", param=f"{path}.thinkingBudget"
        )
    if budget in (0, -1):
        why = "no thinking" if budget == 0 else "the model's own choice"
        dropped.drop(f"{path}.thinkingBudget", f"{why} is the upstream's default")
        return None
    if budget <= BUDGETS["low"]:
        return "low"
    return "medium" if budget <= BUDGETS["medium"] else "high"


def wants_thoughts(config: Any) -> bool:
    """Whether a Gemini client asked for its model's thoughts (`includeThoughts`)."""
    return isinstance(config, dict) and config.get("includeThoughts") is True
