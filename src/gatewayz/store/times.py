"""Times as the store keeps them: UTC, which SQLite hands back as naive datetimes."""

from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (a naive one is UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, as the API returns times: `2026-11-23T22:20:02.126933+00:00`."""
    return None if moment is None else utc(moment).isoformat()
