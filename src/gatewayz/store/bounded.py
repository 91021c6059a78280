"""Text cut to the length of its column before it is inserted: on PostgreSQL a value longer
than a `String(n)` column fails its whole statement, and with it a batch of other rows."""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy import String, Table


def text_limits(table: Table) -> Mapping[str, int]:
    """The length of each bounded text column of the table."""
    return MappingProxyType(
        {
            column.name: column.type.length
            for column in table.columns
            if isinstance(column.type, String) and column.type.length
        }
    )


def fit(values: dict[str, Any], limits: Mapping[str, int]) -> dict[str, Any]:
    """`values` with every text longer than its column cut to the column's length."""
    for name, limit in limits.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            values[name] = value[:limit]
    return values
