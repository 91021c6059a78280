"""Building blocks for statistics over `request_logs`, portable across SQLite and PostgreSQL.

A call counts as an error when its status is 400 or more, except 499 (the client closed the
connection), which counts as cancelled. Latency percentiles are nearest-rank percentiles of
successful calls, computed with window functions that both databases run.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal_column, or_, select
from sqlalchemy.sql import Select

from gatewayz.store.tables import request_logs
from gatewayz.store.times import utc

CLIENT_CLOSED = 499
STATUS_CLASSES = ("ok", "error", "cancelled", "2xx", "4xx", "5xx")

log = request_logs.c


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which rows of the request log a statistic covers; None means no restriction."""

    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    provider: str | None = None
    user_id: int | None = None
    key_id: int | None = None
    api: str | None = None
    status: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses of this filter."""
        out: list[ColumnElement[bool]] = []
        if self.since is not None:
            out.append(log.created_at >= utc(self.since))
        if self.until is not None:
            out.append(log.created_at < utc(self.until))
        for column, value in (
            (log.model, self.model),
            (log.provider, self.provider),
            (log.user_id, self.user_id),
            (log.key_id, self.key_id),
            (log.api, self.api),
        ):
            if value is not None:
                out.append(column == value)
        if self.status is not None:
            out.append(status_clause(self.status))
        return out


def status_clause(status: str) -> ColumnElement[bool]:
    """Rows whose outcome is `status`: ok, error, cancelled, 2xx/4xx/5xx or one code."""
    code = log.status_code
    if status == "ok":
        return code < 400
    if status == "error":
        return is_error(code)
    if status == "cancelled":
        return code == CLIENT_CLOSED
    if status in ("2xx", "4xx", "5xx"):
        low = int(status[0]) * 100
        return and_(code >= low, code < low + 100)
    if status.isdigit() and len(status) == 3:
        return code == int(status)
    raise ValueError(f"unknown status {status!r}: use one of {', '.join(STATUS_CLASSES)} or a code")


def is_error(code: Any) -> ColumnElement[bool]:
    """The SQL condition for an error status."""
    return and_(code >= 400, code != CLIENT_CLOSED)


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """COUNT of the rows meeting `condition`, as a portable SUM(CASE ...)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def totals_columns(source: Any = log) -> list[ColumnElement[Any]]:
    """requests, errors, cancelled, input_tokens, output_tokens, cost_units (in this order),
    over `request_logs` or a subquery that has its columns."""
    return [
        func.count().label("requests"),
        count_where(is_error(source.status_code)).label("errors"),
        count_where(source.status_code == CLIENT_CLOSED).label("cancelled"),
        func.coalesce(func.sum(source.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(source.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(source.cost_units), 0).label("cost_units"),
    ]


def percentiles(
    value: Any,
    groups: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
    points: Sequence[int] = (50, 95),
) -> Select[Any]:
    """Per group: the count of non-null `value`s, then the nearest-rank percentile of each point.

    The p-th percentile is the smallest value whose rank r (1-based, ascending) has
    100·r ≥ p·n, which needs no division and so behaves the same on both databases.
    """
    partition = list(groups) or None
    ranked = (
        select(
            *groups,
            value.label("value"),
            func.row_number().over(partition_by=partition, order_by=value).label("rank"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*where, value.is_not(None))
        .subquery()
    )
    keys = [ranked.c[str(column.key)] for column in groups]
    cuts = [
        func.min(case((ranked.c.rank * 100 >= point * ranked.c.n, ranked.c.value))).label(
            f"p{point}"
        )
        for point in points
    ]
    return select(*keys, func.count().label("samples"), *cuts).group_by(*keys)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide."""
    return round(part / whole, 6) if whole else None


def maybe_float(value: Any, digits: int = 1) -> float | None:
    """A database number (Decimal on PostgreSQL) as a rounded float; None stays None."""
    return None if value is None else round(float(value), digits)


def maybe_int(value: Any) -> int | None:
    return None if value is None else int(value)


def day_starts(since: datetime, until: datetime) -> list[datetime]:
    """The UTC midnights starting each day that [since, until) touches."""
    moment = utc(since).replace(hour=0, minute=0, second=0, microsecond=0)
    end = utc(until)
    days: list[datetime] = []
    while moment < end:
        days.append(moment)
        moment += timedelta(days=1)
    return days


def bucket_index(column: Any, starts: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the bucket (ascending start times) holding `column`, as a CASE.

    Group by it through a subquery: PostgreSQL does not see two copies of an expression with
    bound parameters as the same GROUP BY expression.
    """
    whens: list[tuple[ColumnElement[bool], ColumnElement[int]]] = [
        (column < start, literal_column(str(i), Integer)) for i, start in enumerate(starts[1:])
    ]
    last: ColumnElement[int] = literal_column(str(max(len(starts) - 1, 0)), Integer)
    return case(*whens, else_=last) if whens else last


def older_than(created_at: datetime, row_id: int) -> ColumnElement[bool]:
    """Rows that come after (created_at, id) in newest-first order (a keyset cursor)."""
    moment = utc(created_at)
    return or_(log.created_at < moment, and_(log.created_at == moment, log.id < row_id))
