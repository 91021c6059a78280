"""The dispute state rules: a hold starts when Stripe takes the money, a close is final."""

import itertools

import pytest

from gatewayz.billing.stripe_state import DisputeState, dispute_from, next_state

CREATED = "charge.dispute.created"
UPDATED = "charge.dispute.updated"
WITHDRAWN = "charge.dispute.funds_withdrawn"
REINSTATED = "charge.dispute.funds_reinstated"
CLOSED = "charge.dispute.closed"


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (CREATED, "warning_needs_response", DisputeState()),
        (UPDATED, "warning_under_review", DisputeState()),
        (CREATED, "needs_response", DisputeState(holds=True)),
        (UPDATED, "under_review", DisputeState(holds=True)),
        (WITHDRAWN, "warning_needs_response", DisputeState(holds=True)),
        (CLOSED, "lost", DisputeState(holds=True, closed=True)),
        (CLOSED, "won", DisputeState(closed=True)),
        (CLOSED, "warning_closed", DisputeState(closed=True)),
        (REINSTATED, "under_review", DisputeState(closed=True)),
        (REINSTATED, "lost", DisputeState(holds=True, closed=True)),
        (UPDATED, "some_future_status", DisputeState()),
    ],
)
def test_each_event_from_a_new_dispute(kind: str, status: str, expected: DisputeState) -> None:
    assert next_state(DisputeState(), kind, status) == expected


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([(CREATED, "needs_response"), (WITHDRAWN, "needs_response"), (CLOSED, "won")], False),
        ([(CREATED, "needs_response"), (UPDATED, "under_review"), (CLOSED, "lost")], True),
        ([(CREATED, "warning_needs_response"), (CLOSED, "warning_closed")], False),
        ([(CREATED, "needs_response"), (CLOSED, "won"), (REINSTATED, "won")], False),
    ],
)
def test_every_order_of_a_disputes_events_ends_in_its_outcome(
    events: list[tuple[str, str]], final: bool
) -> None:
    for order in itertools.permutations(events):
        state = DisputeState()
        for kind, status in order:
            state = next_state(state, kind, status)
        assert state == DisputeState(holds=final, closed=True), order


def test_a_dispute_needs_an_intent_and_an_amount() -> None:
    whole = {"id": "du_1", "payment_intent": "pi_1", "amount": 500, "currency": "USD"}
    shown = dispute_from({**whole, "status": "needs_response"})

    assert shown is not None and (shown.amount_cents, shown.currency) == (500, "usd")
    assert dispute_from({**whole, "status": "lost", "payment_intent": None}) is None
    assert dispute_from({**whole, "status": "lost", "amount": True}) is None
    assert dispute_from({**whole, "status": "lost", "amount": "500"}) is None
