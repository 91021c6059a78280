"""The monitoring statistics endpoints, on a gateway served over HTTP (SQLite and PostgreSQL)."""

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gatewayz.accounts import users as accounts
from tests.conftest import SECRET, gateway_settings, serve
from tests.fakes.openai_upstream import FakeOpenAIUpstream
from tests.telemetry.rows import insert, row

ENDPOINTS = (
    "/api/monitoring/stats/realtime",
    "/api/monitoring/error-rates",
    "/api/monitoring/cost-analysis",
    "/api/monitoring/chat-requests",
    "/api/monitoring/chat-requests/counts",
    "/api/monitoring/chat-requests/models",
    "/api/monitoring/anomalies",
)


@dataclass
class Monitor:
    """An admin's client and a plain user's client of a served gateway."""

    admin: httpx.AsyncClient
    user: httpx.AsyncClient
    engine: AsyncEngine

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.admin.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
async def monitor(
    database_url: str, engine: AsyncEngine, upstream: FakeOpenAIUpstream
) -> AsyncIterator[Monitor]:
    admin = await accounts.create_user(engine, "ops@example.com", role="admin")
    admin_key = await accounts.create_key(engine, SECRET.encode(), admin.id, "ops")
    user = await accounts.create_user(engine, "dev@example.com")
    user_key = await accounts.create_key(engine, SECRET.encode(), user.id, "dev")
    async with (
        serve(gateway_settings(database_url, upstream)) as (base_url, _),
        httpx.AsyncClient(base_url=base_url, headers=_bearer(admin_key)) as admin_client,
        httpx.AsyncClient(base_url=base_url, headers=_bearer(user_key)) as user_client,
    ):
        yield Monitor(admin_client, user_client, engine)


def _cursor(moment: str, row_id: int) -> str:
    """A cursor as the endpoint makes them, for a row the endpoint never returned."""
    return base64.urlsafe_b64encode(f"{moment}|{row_id}".encode()).decode().rstrip("=")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_only_holders_of_monitoring_read_get_statistics(monitor: Monitor) -> None:
    for path in ENDPOINTS:
        refused = await monitor.user.get(path)
        assert refused.status_code == 403, path
        assert "monitoring:read" in refused.json()["error"]["message"]
        anonymous = await monitor.user.get(path, headers={"Authorization": ""})
        assert anonymous.status_code == 401, path
        assert (await monitor.admin.get(path)).status_code == 200, path


async def test_an_empty_log_gives_zeros_and_empty_lists(monitor: Monitor) -> None:
    live = await monitor.get("/api/monitoring/stats/realtime", minutes=5)
    assert live["window"]["seconds"] == 300.0
    assert (live["requests"], live["errors"], live["error_rate"]) == (0, 0, None)
    assert (live["requests_per_second"], live["tokens_per_second"], live["cost"]) == (0.0, 0.0, "0")
    assert live["latency_ms"] == live["ttft_ms"] == {"samples": 0, "p50": None, "p95": None}
    errors = await monitor.get("/api/monitoring/error-rates")
    assert (errors["by_provider"], errors["by_model"], errors["totals"]["requests"]) == ([], [], 0)
    cost = await monitor.get("/api/monitoring/cost-analysis", window="3d")
    assert (cost["by_model"], cost["by_provider"], cost["by_user"]) == ([], [], [])
    assert cost["totals"]["cost"] == "0"
    assert len(cost["by_day"]) in (3, 4)  # the days the window touches, each with zeros
    assert all(day["requests"] == 0 and day["cost"] == "0" for day in cost["by_day"])
    page = await monitor.get("/api/monitoring/chat-requests")
    assert page == {"data": [], "has_more": False, "next_cursor": None}
    counts = await monitor.get("/api/monitoring/chat-requests/counts")
    assert counts["requests"] == 0 and counts["by_status"] == counts["by_api"] == {}
    assert (await monitor.get("/api/monitoring/chat-requests/models"))["data"] == []
    assert (await monitor.get("/api/monitoring/anomalies"))["anomalies"] == []


async def test_figures_come_from_the_log_with_money_as_decimal_strings(monitor: Monitor) -> None:
    now = datetime.now(UTC)
    await insert(
        monitor.engine,
        [
            row(request_id="a", cost_units=1_500_000_000, input_tokens=30, output_tokens=60,
                latency_ms=120, ttft_ms=40, stream=True, created_at=now - timedelta(seconds=60)),
            row(request_id="b", status_code=503, error="p1: unavailable", latency_ms=30,
                created_at=now - timedelta(seconds=30)),
            row(request_id="c", user_id=7, model="m-b", provider="p2", cost_units=1,
                created_at=now - timedelta(hours=2)),
        ],
    )  # fmt: skip
    live = await monitor.get("/api/monitoring/stats/realtime", minutes=5)
    assert (live["requests"], live["errors"], live["error_rate"]) == (2, 1, 0.5)
    assert (live["cost"], live["total_tokens"]) == ("1.5", 90)
    assert live["requests_per_second"] == round(2 / 300, 6)
    assert live["tokens_per_second"] == 0.3 and live["output_tokens_per_second"] == 0.2
    assert live["latency_ms"] == {"samples": 1, "p50": 120, "p95": 120}
    assert live["ttft_ms"] == {"samples": 1, "p50": 40, "p95": 40}

    errors = await monitor.get("/api/monitoring/error-rates", window="1h")
    (p1,) = errors["by_provider"]
    assert (p1["provider"], p1["requests"], p1["errors"], p1["error_rate"]) == ("p1", 2, 1, 0.5)
    assert p1["error_codes"] == {"503": 1}

    cost = await monitor.get("/api/monitoring/cost-analysis", window="1d")
    assert cost["totals"]["cost"] == "1.500000001"
    assert [(m["model"], m["cost"]) for m in cost["by_model"]] == [
        ("m-a", "1.5"),
        ("m-b", "0.000000001"),
    ]
    assert [(u["user_id"], u["email"]) for u in cost["by_user"]] == [(1, "ops@example.com"),
                                                                      (7, None)]  # fmt: skip
    assert sum(day["requests"] for day in cost["by_day"]) == 3

    counts = await monitor.get("/api/monitoring/chat-requests/counts", provider="p1")
    assert counts["by_status"] == {"200": 1, "503": 1}
    assert counts["by_outcome"] == {"ok": 1, "error": 1, "cancelled": 0}
    models = await monitor.get("/api/monitoring/chat-requests/models", window="1h")
    (m_a,) = models["data"]
    assert (m_a["model"], m_a["requests"], m_a["avg_latency_ms"]) == ("m-a", 2, 120.0)


async def test_chat_requests_are_paged_by_cursor(monitor: Monitor) -> None:
    now = datetime.now(UTC)
    await insert(
        monitor.engine,
        [row(request_id=f"r{i}", created_at=now - timedelta(minutes=i)) for i in range(5)],
    )
    first = await monitor.get("/api/monitoring/chat-requests", limit=2)
    assert [r["request_id"] for r in first["data"]] == ["r0", "r1"]
    assert first["has_more"] is True
    assert first["data"][0]["cost"] == "0" and "cost_units" not in first["data"][0]
    assert first["data"][0]["created_at"].endswith("+00:00")
    second = await monitor.get(
        "/api/monitoring/chat-requests", limit=2, cursor=first["next_cursor"]
    )
    third = await monitor.get(
        "/api/monitoring/chat-requests", limit=2, cursor=second["next_cursor"]
    )
    assert [r["request_id"] for r in second["data"] + third["data"]] == ["r2", "r3", "r4"]
    assert (third["has_more"], third["next_cursor"]) == (False, None)
    window = await monitor.get("/api/monitoring/chat-requests", window="150s")
    assert [r["request_id"] for r in window["data"]] == ["r0", "r1", "r2"]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/api/monitoring/error-rates", {"window": "soon"}, "window"),
        ("/api/monitoring/error-rates", {"window": "400d"}, "window"),
        ("/api/monitoring/cost-analysis", {"since": "2025-01-02T00:00:00Z",
                                           "until": "2025-01-01T00:00:00Z"}, "since"),
        ("/api/monitoring/chat-requests", {"since": "2025-01-01T00:00:00Z", "window": "1h"},
         "window"),
        ("/api/monitoring/chat-requests", {"cursor": "not-a-cursor"}, "cursor"),
        ("/api/monitoring/chat-requests", {"limit": "501"}, "limit"),
        ("/api/monitoring/chat-requests", {"status": "bad"}, "status"),
        ("/api/monitoring/stats/realtime", {"minutes": "61"}, "minutes"),
        ("/api/monitoring/anomalies", {"baseline": "0h"}, "baseline"),
        ("/api/monitoring/chat-requests", {"user_id": str(2**31)}, "user_id"),
        ("/api/monitoring/chat-requests/counts", {"key_id": str(2**31)}, "key_id"),
        ("/api/monitoring/chat-requests", {"cursor": _cursor("2025-01-01T00:00:00", 2**31)},
         "cursor"),
        ("/api/monitoring/error-rates", {"until": "0001-01-01T00:00:00Z", "window": "1d"},
         "window"),
        ("/api/monitoring/chat-requests", {"model": "a\x00b"}, "model"),
        ("/api/monitoring/error-rates", {"provider": "a\x00b"}, "provider"),
        ("/api/monitoring/chat-requests/counts", {"api": "a\x00b"}, "api"),
        ("/api/monitoring/cost-analysis", {"status": "a\x00b"}, "status"),
    ],
)  # fmt: skip
async def test_bad_parameters_are_refused_naming_them(
    monitor: Monitor, path: str, params: dict[str, str], param: str
) -> None:
    response = await monitor.admin.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_anomalies_report_an_error_spike(monitor: Monitor) -> None:
    now = datetime.now(UTC)
    day_ago = now - timedelta(hours=24, minutes=14)
    steady = [
        row(status_code=502 if i % 50 == 0 else 200, created_at=day_ago + i * timedelta(minutes=7))
        for i in range(200)
    ]
    spike = [
        row(status_code=502 if i % 2 else 200, created_at=now - timedelta(seconds=10 + i * 20))
        for i in range(40)
    ]
    await insert(monitor.engine, steady + spike)
    report = await monitor.get("/api/monitoring/anomalies", window="15m", baseline="24h")
    (anomaly,) = report["anomalies"]
    assert (anomaly["provider"], anomaly["provider_model"], anomaly["kind"]) == (
        "p1",
        "a",
        "error_rate",
    )
    assert (anomaly["recent"]["requests"], anomaly["recent"]["errors"]) == (40, 20)
    assert anomaly["baseline"]["requests"] == 200 and anomaly["score_kind"] == "z"
    assert report["rules"]["min_recent_requests"] == 20
