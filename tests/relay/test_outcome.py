"""Every subscriber hears how a call ended, even when another one fails."""

import pytest

from gatewayz.accounts.auth import Principal
from gatewayz.billing.worst_case import Demand
from gatewayz.relay.outcome import Outcome, publish
from gatewayz.relay.plan import call_plan


def test_a_failing_subscriber_does_not_keep_the_others_from_hearing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = call_plan("chat.completions", {"model": "fake/fake-model"}, Demand(10), "req_1")
    outcome = Outcome(plan, Principal(1, 2, "dev@example.com", "user"), 200)
    heard: list[Outcome] = []

    def failing(outcome: Outcome) -> None:
        raise RuntimeError("a bug")

    publish([failing, heard.append], outcome)
    assert heard == [outcome]
    assert "a subscriber to the outcome of req_1 failed" in caplog.text


def test_the_plan_reads_the_model_and_routing_options_once() -> None:
    body = {"model": "m", "models": ["n"], "provider": {"only": ["p"]}, "messages": []}
    plan = call_plan("chat.completions", body, Demand(42, output_limit=7), "req_2", stream=True)
    assert (plan.model, plan.options.models, plan.options.only) == ("m", ("m", "n"), {"p"})
    assert (plan.body_size, plan.demand.output_limit, plan.stream, plan.kind) == (
        42,
        7,
        True,
        "chat",
    )
    assert plan.request_id == "req_2"
