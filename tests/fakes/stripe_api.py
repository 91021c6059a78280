"""A fake Stripe API: a real HTTP server on 127.0.0.1 speaking Stripe's wire format.

``POST /v1/checkout/sessions`` takes a form-encoded body (``line_items[0][price_data][...]``,
``metadata[...]``), as the official SDK sends it, checks the ``Bearer`` secret key and answers
a ``checkout.session`` object. Every request is recorded with its body decoded into nested
dicts and lists. Setting ``fail_status`` makes the next creations fail with a Stripe error.

The fake also builds the events Stripe would send about its sessions (``event``,
``completed``, ``refunded_charge``, ``dispute``) and signs payloads exactly as Stripe does
(``signature_header``: ``t=<unix time>,v1=<HMAC-SHA256 of "<t>.<payload>">``).
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import stripe
from aiohttp import web

from tests.fakes.server import FakeServer

_KEY_PART = re.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received; `form` is the decoded body."""

    method: str
    path: str
    authorization: str | None
    idempotency_key: str | None
    form: dict[str, Any]


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracketed form keys as nested dicts, and lists where the keys are indexes."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        path = [head, *_KEY_PART.findall(key[len(head) :])]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return _lists(tree)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send with `payload`."""
    return stripe.WebhookSignature.generate_signature_header(
        payload.decode("utf-8"), secret, timestamp
    )


class FakeStripeAPI(FakeServer):
    """See the module docstring."""

    def __init__(self, api_key: str = "sk_test_fake") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.fail_status: int | None = None
        self._ids = itertools.count(1)

    def configure(self, app: web.Application) -> None:
        app.router.add_post("/v1/checkout/sessions", self._create_session)

    async def _create_session(self, request: web.Request) -> web.Response:
        form = decode_form(list((await request.post()).items()))  # type: ignore[arg-type]
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                request.headers.get("Authorization"),
                request.headers.get("Idempotency-Key"),
                form,
            )
        )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****")
        if self.fail_status is not None:
            return _error(self.fail_status, "invalid_request_error", "The fake refused this.")
        number = next(self._ids)
        item = form["line_items"][0]
        session = {
            "id": f"cs_test_fake{number:04d}",
            "object": "checkout.session",
            "amount_subtotal": int(item["price_data"]["unit_amount"]) * int(item["quantity"]),
            "amount_total": int(item["price_data"]["unit_amount"]) * int(item["quantity"]),
            "cancel_url": form.get("cancel_url"),
            "client_reference_id": form.get("client_reference_id"),
            "created": int(time.time()),
            "currency": item["price_data"]["currency"],
            "expires_at": int(time.time()) + 86400,
            "livemode": False,
            "metadata": form.get("metadata", {}),
            "mode": form["mode"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": form.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/cs_test_fake{number:04d}",
        }
        self.sessions[session["id"]] = session
        return web.json_response(session)

    def completed(
        self, session_id: str, payment_status: str = "paid", **changed: Any
    ) -> dict[str, Any]:
        """The session as Stripe shows it once the customer finished the checkout; `changed`
        overrides fields (e.g. ``amount_total``) to describe a session that was altered."""
        return {
            **self.sessions[session_id],
            "status": "complete",
            "payment_status": payment_status,
            "payment_intent": _intent(session_id),
            **changed,
        }

    def refunded_charge(self, session_id: str, amount_refunded: int) -> dict[str, Any]:
        """The charge of the session's payment after refunds totalling `amount_refunded`."""
        session = self.sessions[session_id]
        return {
            "id": f"ch_{session_id.removeprefix('cs_')}",
            "object": "charge",
            "amount": session["amount_total"],
            "amount_captured": session["amount_total"],
            "amount_refunded": amount_refunded,
            "currency": session["currency"],
            "paid": True,
            "payment_intent": _intent(session_id),
            "refunded": amount_refunded >= session["amount_total"],
            "status": "succeeded",
        }

    def dispute(
        self,
        session_id: str,
        status: str,
        *,
        dispute_id: str | None = None,
        amount: int | None = None,
    ) -> dict[str, Any]:
        """A dispute of the session's charge, in `status` (``warning_needs_response``,
        ``needs_response``, ``under_review``, ``won``, ``lost``, ...), for the whole amount
        unless `amount` says otherwise."""
        session = self.sessions[session_id]
        return {
            "id": dispute_id or f"du_{session_id.removeprefix('cs_')}",
            "object": "dispute",
            "amount": session["amount_total"] if amount is None else amount,
            "balance_transactions": [],
            "charge": f"ch_{session_id.removeprefix('cs_')}",
            "created": int(time.time()),
            "currency": session["currency"],
            "evidence": {},
            "evidence_details": {
                "due_by": int(time.time()) + 7 * 86400,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": status.startswith("warning_"),
            "livemode": False,
            "metadata": {},
            "payment_intent": _intent(session_id),
            "reason": "fraudulent",
            "status": status,
        }


def event(kind: str, data_object: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """A Stripe event object wrapping `data_object`."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def _intent(session_id: str) -> str:
    return f"pi_{session_id.removeprefix('cs_')}"


def _error(status: int, kind: str, message: str) -> web.Response:
    body = {"error": {"type": kind, "message": message}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
