"""Anthropic error bodies carry the type the official SDK documents for each status."""

import pytest

from gatewayz.protocols.anthropic import anthropic_error_type, error_body


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (409, "invalid_request_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_bodies_carry_the_documented_type(status: int, kind: str) -> None:
    assert anthropic_error_type(status) == kind
    body = error_body(status, "no such model", "req_1")
    error = {"type": kind, "message": "no such model"}
    assert body == {"type": "error", "error": error, "request_id": "req_1"}
    anthropic = pytest.importorskip("anthropic")
    if kind != "request_too_large":  # documented, but absent from the SDK's ErrorObject union
        anthropic.types.ErrorResponse.model_validate(body)
