"""Values the admin and user views accept: ISO 8601 times (`from`, `to`), credit amounts, row
ids and text; anything the database could not store is a 400/422 naming the field, not a 500."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

from gatewayz.billing.money import credits_to_units
from gatewayz.errors import InvalidRequest

MAX_SPAN = timedelta(days=366)
MAX_CREDITS = 1_000_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _without_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


Text = Annotated[str, AfterValidator(_without_nul)]
"""A string the database can store (PostgreSQL refuses NUL characters)."""
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""A row id in a path."""
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
"""An optional row id in the query string."""
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]

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
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"{param}: expected an ISO 8601 time such as 2025-01-31 or 2025-01-31T12:00:00Z, "
            f"got {text!r}",
            param=param,
        ) from None
    if not _EARLIEST <= moment <= _LATEST:
        raise InvalidRequest(f"{param}: must be between 1970 and 9000.", param=param)
    return moment


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
    if amount.adjusted() >= 10 or abs(amount) > MAX_CREDITS:
        raise InvalidRequest(f"{param}: at most {MAX_CREDITS} credits at a time.", param=param)
    try:
        return credits_to_units(amount)
    except ValueError as exc:
        raise InvalidRequest(f"{param}: {exc}", param=param) from None
