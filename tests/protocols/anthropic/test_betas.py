"""Which `anthropic-beta` values go on to an Anthropic upstream, and which are named."""

import pytest

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.anthropic.betas import betas_sent
from gatewayz.protocols.fields import Dropped

CLAUDE_CODE = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    "mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,effort-2025-11-24"
)


def test_what_claude_code_sends_goes_on() -> None:
    dropped = Dropped()
    assert betas_sent(CLAUDE_CODE, frozenset(), dropped) == CLAUDE_CODE.split(",")
    assert dropped.paths == []


def test_a_beta_priced_above_the_model_or_unknown_is_named_unless_allowed() -> None:
    header = "context-1m-2025-08-07, effort-2025-11-24,future-thing-2027-01-01,effort-2025-11-24"
    dropped = Dropped()
    assert betas_sent(header, frozenset(), dropped) == ["effort-2025-11-24"]
    assert dropped.paths == [
        "anthropic-beta.context-1m-2025-08-07",
        "anthropic-beta.future-thing-2027-01-01",
    ]
    allowed = frozenset({"anthropic-beta.context-1m", "anthropic-beta.future-thing-2027-01-01"})
    assert betas_sent(header, allowed, Dropped()) == header.replace(" ", "").split(",")[:3]
    assert betas_sent(header, frozenset({"anthropic-beta"}), Dropped())[0] == (
        "context-1m-2025-08-07"
    )
    assert betas_sent(None, frozenset(), Dropped()) == []
    with pytest.raises(InvalidRequest):
        betas_sent(header, frozenset(), Dropped("claude", strict=True))
