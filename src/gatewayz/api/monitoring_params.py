"""Query parameters of the monitoring statistics endpoints: time windows, filters, cursors."""

import base64
import binascii
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query

from gatewayz.api.admin_params import MAX_ID, Text
from gatewayz.errors import InvalidRequest
from gatewayz.store.times import utc
from gatewayz.telemetry.log_query import LogFilter, status_clause

MAX_SPAN = timedelta(days=366)
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str, param: str) -> timedelta:
    """'90s', '15m', '24h' or '7d' as a timedelta (400 naming `param` otherwise)."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise InvalidRequest(
            f"{param}: expected a duration such as 15m, 1h, 24h or 7d, got {text!r}", param=param
        )
    span = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if span > MAX_SPAN:
        raise InvalidRequest(f"{param}: at most {MAX_SPAN.days} days", param=param)
    return span


def time_window(
    since: datetime | None, until: datetime | None, window: str | None, default: str | None
) -> tuple[datetime | None, datetime | None]:
    """[since, until) from explicit bounds or a `window` ending at `until` (default now)."""
    if since is not None and window is not None:
        raise InvalidRequest("Give either since or window, not both.", param="window")
    end = utc(until) if until is not None else None
    if since is not None:
        start = utc(since)
        end = end or datetime.now(UTC)
        if start >= end:
            raise InvalidRequest("since must be before until.", param="since")
        if end - start > MAX_SPAN:
            raise InvalidRequest(f"The window is at most {MAX_SPAN.days} days.", param="since")
        return start, end
    window = window or default
    if window is None:
        return None, end
    end = end or datetime.now(UTC)
    span = duration(window, "window")
    if end - datetime.min.replace(tzinfo=UTC) < span:
        raise InvalidRequest("window: starts before the year 1; move until.", param="window")
    return end - span, end


def log_filter(
    since: datetime | None,
    until: datetime | None,
    window: str | None,
    default_window: str | None,
    **filters: Any,
) -> LogFilter:
    """A LogFilter from the query parameters, checking `status`."""
    start, end = time_window(since, until, window, default_window)
    status = filters.get("status")
    if status is not None:
        try:
            status_clause(status)
        except ValueError as exc:
            raise InvalidRequest(f"status: {exc}", param="status") from None
    return LogFilter(since=start, until=end, **filters)


Since = Annotated[datetime | None, Query(description="Start (ISO 8601; UTC if no offset).")]
Until = Annotated[datetime | None, Query(description="End, exclusive (default now).")]
Window = Annotated[str | None, Query(description="A span ending at `until`: 15m, 1h, 24h, 7d.")]
Model = Annotated[Text | None, Query(description="The model id as clients sent it.")]
Provider = Annotated[Text | None, Query()]
UserId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
KeyId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Status = Annotated[
    str | None, Query(description="ok, error, cancelled, 2xx, 4xx, 5xx or one status code.")
]


def encode_cursor(after: tuple[datetime, int] | None) -> str | None:
    """The opaque `next_cursor` for a page that ended at (created_at, id)."""
    if after is None:
        return None
    raw = f"{after[0].isoformat()}|{after[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """(created_at, id) from a cursor made by encode_cursor (400 if it was not)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, row_id = raw.split("|")
        after = utc(datetime.fromisoformat(moment)), int(row_id)
        if not 1 <= after[1] <= MAX_ID:
            raise ValueError("not a row id")
        return after
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            "cursor: not a cursor this endpoint returned.", param="cursor"
        ) from None


Api = Annotated[Text | None, Query(description="chat.completions, messages, responses, ...")]


def filters(default_window: str | None) -> Callable[..., LogFilter]:
    """A dependency reading the window and the row filters, `default_window` when none is given."""

    def dependency(
        since: Since = None,
        until: Until = None,
        window: Window = None,
        model: Model = None,
        provider: Provider = None,
        user_id: UserId = None,
        key_id: KeyId = None,
        api: Api = None,
        status: Status = None,
    ) -> LogFilter:
        return log_filter(
            since,
            until,
            window,
            default_window,
            model=model,
            provider=provider,
            user_id=user_id,
            key_id=key_id,
            api=api,
            status=status,
        )

    return dependency
