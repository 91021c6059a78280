"""Which plan or trial governs a user, and which model ids a plan's patterns allow."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from gatewayz.billing import entitlements, trials
from gatewayz.billing import subscriptions as subs
from gatewayz.billing.plan_settings import TrialSettings
from gatewayz.billing.plans import models_matcher
from gatewayz.limits.settings import LimitValues
from tests.billing.plan_support import make_plan

TRIAL = TrialSettings(rpm=5, models=["fake/*"])


@pytest.mark.parametrize(
    ("model", "allowed"),
    [
        ("openai/gpt-4o", True),
        ("openai/gpt-4o-mini", True),
        ("groq/llama-3.1-8b-instant", True),
        ("groq/llama-3.1-70b", False),
        ("openai-compat/gpt-4o", False),
        ("anthropic/claude-sonnet-4-5", False),
    ],
)
def test_patterns_match_whole_model_ids(model: str, allowed: bool) -> None:
    matcher = models_matcher(["openai/*", "groq/llama-3.1-8b-instant"])
    assert matcher is not None
    assert (matcher.fullmatch(model) is not None) is allowed


async def test_a_plan_governs_a_user_who_also_runs_a_trial(engine: AsyncEngine) -> None:
    on_both = await accounts.create_user(engine, "both@example.com")
    on_trial = await accounts.create_user(engine, "trial@example.com")
    await accounts.create_user(engine, "neither@example.com")
    plan = await make_plan(engine, "pro", "1", tpm=1000)
    async with engine.begin() as conn:
        await subs.assign_plan(conn, on_both.id, plan, datetime.now(UTC))
    for user in (on_both, on_trial):
        await trials.start_trial(engine, user.id, TRIAL, datetime.now(UTC))

    found = await entitlements.load(engine, TRIAL)

    assert set(found) == {on_both.id, on_trial.id}
    both, trial = found[on_both.id], found[on_trial.id]
    assert (both.label, both.limits, both.models) == (
        "your plan 'pro'",
        LimitValues(tpm=1000),
        None,
    )
    assert both.trial_expires_at is not None
    assert (trial.label, trial.limits) == ("your free trial", LimitValues(rpm=5))
    assert trial.allows("fake/fake-model") and not trial.allows("other/fake-model")
