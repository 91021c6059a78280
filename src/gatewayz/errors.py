"""One error hierarchy, rendered once, in the format of the API the client called.

GatewayError
├── InvalidRequest          400  the body is wrong; `param` names the field
├── AuthenticationFailed    401  missing, unknown or revoked API key
├── InsufficientCredits     402  the call's worst case exceeds the available balance
├── PermissionDenied        403
├── NotFound                404  unknown model or resource
├── Conflict                409  clashes with the current state
├── RequestTooLarge         413  the body is over the endpoint's size limit
├── RateLimited             429
└── UpstreamError           502 / 503 / 504, or the upstream's own 4xx/429,
                                 always naming the provider
"""

import logging
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gatewayz.api.request_id import request_id_of
from gatewayz.telemetry.context import note_rate_limited
from gatewayz.telemetry.redact import redact_keys

log = logging.getLogger(__name__)

ApiFormat = Literal["openai", "anthropic", "gemini"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# google.rpc.Code names Google's HTTP APIs pair with each status (402 has none: a balance
# too low for the call is a precondition that failed, as Google says of billing).
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    402: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
GEMINI_METHODS = frozenset(
    {"generateContent", "streamGenerateContent", "countTokens", "embedContent",
     "batchEmbedContents"}
)  # fmt: skip
# What marks a call of Google's API on paths it shares with OpenAI's (`GET /v1/models`).
_GOOGLE_HEADERS = ("x-goog-api-key", "x-goog-api-client")


class GatewayError(Exception):
    status = 500
    type = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class InsufficientCredits(GatewayError):
    status = 402
    type = "insufficient_credits"
    code = "insufficient_credits"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class Conflict(GatewayError):
    """The request clashes with the current state (a name in use, the last admin, ...)."""

    status = 409
    type = "conflict_error"


class ModelNotFound(NotFound):
    type = "invalid_request_error"
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model '{model}' does not exist or no enabled provider serves it.", param="model"
        )


class RequestTooLarge(GatewayError):
    """The request body is larger than the endpoint accepts; the message gives the limit."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than this endpoint's limit of {limit} bytes.")


class RateLimited(GatewayError):
    """A rate limit of `scope` (key, user, address) refused the request."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, scope: str, headers: dict[str, str]) -> None:
        super().__init__(message, headers=headers)
        self.scope = scope


class UpstreamError(GatewayError):
    """The provider failed or refused; the message names it, with anything key-like the
    upstream said masked (also where it ends a stream)."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"

    def __init__(self, provider: str, message: str, **kwargs: Any) -> None:
        super().__init__(f"{provider}: {redact_keys(message)}", **kwargs)
        self.provider = provider


def anthropic_error_type(status: int) -> str:
    """The Anthropic error `type` the official SDK expects for an HTTP status."""
    if status in _ANTHROPIC_TYPES:
        return _ANTHROPIC_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def google_status(status: int) -> str:
    """The google.rpc.Code name for an HTTP status, as Google's error bodies carry it."""
    if status in _GOOGLE_STATUS:
        return _GOOGLE_STATUS[status]
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"


def is_gemini_path(path: str) -> bool:
    """Whether the path is one of the Gemini-format API's own: anything under /v1beta/, and
    a model method (`/v1/models/{model}:generateContent`) under /v1/."""
    if path.startswith("/v1beta/"):
        return True
    return path.startswith("/v1/") and gemini_method(path) is not None


def gemini_method(path: str) -> str | None:
    """The Gemini model method a path ends with (`generateContent`, ...), else None."""
    _, colon, method = path.rpartition(":")
    return method if colon and method in GEMINI_METHODS else None


def api_format(request: Request) -> ApiFormat:
    """The API the caller speaks, by path; `GET /v1/models[/{id}]` answers Google's SDKs (a
    `x-goog-api-key`, `x-goog-api-client` header or `?key=`) in Google's format."""
    path = request.url.path
    if path.startswith(("/v1/messages", "/messages")):
        return "anthropic"
    if is_gemini_path(path):
        return "gemini"
    if path == "/v1/models" or path.startswith("/v1/models/"):
        headers = request.headers
        if any(name in headers for name in _GOOGLE_HEADERS) or "key" in request.query_params:
            return "gemini"
    return "openai"


def error_body(error: GatewayError, fmt: ApiFormat, request_id: str | None) -> dict[str, Any]:
    """The error object the official SDK of `fmt` expects; anything key-like in the message
    (an upstream's words, a model name the client made up) is masked."""
    message = redact_keys(error.message)
    if fmt == "gemini":
        return {"error": _google_error(error, message)}
    if fmt == "anthropic":
        error_object = {"type": anthropic_error_type(error.status), "message": message}
        return {"type": "error", "error": error_object, "request_id": request_id}
    return {
        "error": {
            "message": message,
            "type": error.type,
            "param": error.param,
            "code": error.code,
        }
    }


def _google_error(error: GatewayError, message: str) -> dict[str, Any]:
    """Google's error object: code, message, status, and the gateway's own reason (and, for
    a wait, how long) in the details Google's clients read."""
    reason: dict[str, Any] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": (error.code or error.type).upper(),
        "domain": "gatewayz",
    }
    if error.param:
        reason["metadata"] = {"field": error.param}
    details: list[dict[str, Any]] = [reason]
    retry = next((v for k, v in error.headers.items() if k.lower() == "retry-after"), "")
    if retry.isdigit():
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry}s"}
        )
    status = google_status(error.status)
    return {"code": error.status, "message": message, "status": status, "details": details}


def render(error: GatewayError, request: Request) -> Response:
    if isinstance(error, RateLimited):
        note_rate_limited(error.scope)
    request_id = request_id_of(request)
    fmt = api_format(request)
    headers = dict(error.headers)
    if fmt == "anthropic" and request_id:
        headers["request-id"] = request_id
    return Response(
        orjson.dumps(error_body(error, fmt, request_id)),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


def error_response(request: Request, exc: Exception) -> Response:
    """The answer to `exc`, raised while serving `request`, in the caller's API format."""
    if isinstance(exc, GatewayError):
        return render(exc, request)
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=499)
    if isinstance(exc, RequestValidationError):
        return render(_invalid(exc), request)
    if isinstance(exc, HTTPException):
        return render(_from_http(exc), request)
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return render(GatewayError("The gateway failed to handle this request."), request)


def _invalid(exc: RequestValidationError) -> InvalidRequest:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return InvalidRequest("The request body is not valid JSON: " + str(first["msg"]))
    loc = [str(p) for p in first["loc"] if p not in ("body", "query", "path")]
    param = ".".join(loc) or None
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    return InvalidRequest(message, param=param)


def _from_http(exc: HTTPException) -> GatewayError:
    error_cls = {404: NotFound, 401: AuthenticationFailed, 403: PermissionDenied}.get(
        exc.status_code, GatewayError
    )
    error = error_cls(str(exc.detail), status=exc.status_code, headers=dict(exc.headers or {}))
    if exc.status_code < 500 and error_cls is GatewayError:
        error.type = "invalid_request_error"
    return error


def install_handlers(app: FastAPI) -> None:
    """Render every error the app can raise in the caller's API format."""

    async def handle(request: Request, exc: Exception) -> Response:
        return error_response(request, exc)

    for kind in (GatewayError, ClientDisconnect, Exception, RequestValidationError, HTTPException):
        app.add_exception_handler(kind, handle)
