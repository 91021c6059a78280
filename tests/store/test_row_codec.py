"""The batch writer's rows survive the journal exactly: types, integers and UTC times."""

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from gatewayz.accounts.audit import AuditEvent
from gatewayz.billing.ledger import HoldRelease, Settlement
from gatewayz.store.row_codec import RowCodec
from gatewayz.telemetry.request_log import RequestLogRow

CODEC = RowCodec(
    {
        "settlements": (Settlement, HoldRelease),
        "request_logs": (RequestLogRow,),
        "audit": (AuditEvent,),
    }
)
WHEN = datetime(2026, 11, 23, 22, 20, 2, 126933, tzinfo=UTC)
ROWS = [
    ("settlements", Settlement(7, "req_1", 2**62, 2**53 + 1, "fake/m", 3, 9, "owner-1")),
    ("settlements", HoldRelease(7, 8_427_618_000, None)),
    (
        "request_logs",
        RequestLogRow(
            "req_2",
            7,
            3,
            "chat",
            "m" * 400,
            None,
            "pm",
            True,
            499,
            "closed",
            3,
            5,
            True,
            46_000,
            12,
            None,
            WHEN,
        ),
    ),
    (
        "audit",
        AuditEvent("auth.failed", source_ip="::1", details={"n": 3, "k": [1, 2]}, created_at=WHEN),
    ),
]


@pytest.mark.parametrize(("sink", "row"), ROWS, ids=lambda v: type(v).__name__)
def test_a_row_comes_back_equal_with_the_same_field_types(sink: str, row: object) -> None:
    line = orjson.dumps(CODEC.encode(sink, row))  # as the journal stores it
    back_sink, back = CODEC.decode(orjson.loads(line))
    assert (back_sink, type(back), back) == (sink, type(row), row)
    for field in fields(row):  # type: ignore[arg-type]
        assert type(getattr(back, field.name)) is type(getattr(row, field.name)), field.name


def test_times_keep_their_utc_offset() -> None:
    sink, row = ROWS[2]
    _, back = CODEC.decode(orjson.loads(orjson.dumps(CODEC.encode(sink, row))))
    assert back.created_at == WHEN and back.created_at.utcoffset() == timedelta(0)


def test_rows_of_other_types_are_not_accepted() -> None:
    assert CODEC.accepts("settlements", HoldRelease(1, 1))
    assert not CODEC.accepts("settlements", ROWS[2][1])
    assert not CODEC.accepts("nope", HoldRelease(1, 1))
