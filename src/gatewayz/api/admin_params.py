"""Values the admin and user views accept: ISO 8601 times (`from`, `to`) and credit amounts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import Query

from gatewayz.billing.money import credits_to_units
from gatewayz.errors import InvalidRequest

MAX_SPAN = timedelta(days=366)
MAX_CREDITS = 1_000_000_000

From = Annotated[
    str | None,
    Query(alias="from", description="Start, ISO 8601 (UTC if no offset); default: to - 30 days."),
]
To = Annotated[str | None, Query(description="End, exclusive, ISO 8601; default: now.")]


def parse_time(text: str | None, param: str) -> datetime | None:
    """An ISO 8601 date or time (UTC if it has no offset), or a 400 naming `param`."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(
            f"{param}: expected an ISO 8601 time such as 2025-01-31 or 2025-01-31T12:00:00Z, "
            f"got {text!r}",
            param=param,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def time_range(
    start: str | None, end: str | None, default_span: timedelta
) -> tuple[datetime, datetime]:
    """[from, to) from the parameters: `to` defaults to now and `from` to `to - default_span`;
    at most MAX_SPAN long."""
    until = parse_time(end, "to") or datetime.now(UTC)
    since = parse_time(start, "from") or until - default_span
    if since >= until:
        raise InvalidRequest("from: must be before to.", param="from")
    if until - since > MAX_SPAN:
        raise InvalidRequest(f"from: the range is at most {MAX_SPAN.days} days.", param="from")
    return since, until


def parse_credits(text: str, param: str) -> int:
    """A decimal credit amount such as "12.5" or "-3" as units (400 naming `param` if it is
    not a finite number with at most 9 decimal places)."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise InvalidRequest(f'{param}: expected a decimal number such as "12.5".', param=param)
    if abs(amount) > MAX_CREDITS:
        raise InvalidRequest(f"{param}: at most {MAX_CREDITS} credits at a time.", param=param)
    try:
        return credits_to_units(amount)
    except ValueError as exc:
        raise InvalidRequest(f"{param}: {exc}", param=param) from None
