"""A gateway killed with SIGKILL leaves its credit lease held; `gatewayz holds reclaim` (or
any live gateway, once the dead one's heartbeat is stale) gives it back."""

import asyncio
import signal
import sqlite3
import subprocess
from pathlib import Path

import httpx
import yaml

from tests.cli.test_commands import COMMAND, KEY, _base_env, _free_port
from tests.conftest import FAKE_PRICES
from tests.fakes.openai_upstream import FakeOpenAIUpstream


def _query(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


async def _admin_key_once_serving(
    stderr: Path, process: subprocess.Popen[bytes], http: httpx.AsyncClient
) -> str:
    """The admin key the first start prints, once the server answers."""
    for _ in range(300):
        assert process.poll() is None, stderr.read_text()
        found = KEY.findall(stderr.read_text())
        try:
            if found and (await http.get("/health")).status_code == 200:
                return found[0]
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(stderr.read_text())


async def test_a_killed_gateways_lease_is_given_back_by_reclaim(tmp_path: Path) -> None:
    db = tmp_path / "gatewayz.db"
    env = {
        **_base_env(),
        "GATEWAYZ_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "GATEWAYZ_SECRET_FILE": str(tmp_path / "gatewayz.secret"),
        "GATEWAYZ_CONFIG": str(tmp_path / "gatewayz.yaml"),
    }
    async with FakeOpenAIUpstream() as upstream:
        provider = {
            "name": "fake",
            "protocol": "openai",
            "base_url": upstream.base_url,
            "api_key": upstream.api_key,
            "models": [{"id": "fake-model", **FAKE_PRICES}],
        }
        config = {"providers": [provider], "catalog_refresh": False}
        config["bootstrap_admin_credits"] = "10"
        (tmp_path / "gatewayz.yaml").write_text(yaml.safe_dump(config))
        port = _free_port()
        stderr = tmp_path / "stderr.txt"
        with stderr.open("w") as err:
            process = subprocess.Popen(
                [*COMMAND, "serve", "--port", str(port)], cwd=tmp_path, env=env, stderr=err
            )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                key = await _admin_key_once_serving(stderr, process, http)
                answer = await http.post(
                    "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {key}"},
                    json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
                )
            process.send_signal(signal.SIGKILL)  # before the idle lease is given back
        finally:
            process.kill()
            process.wait()
    assert answer.status_code == 200, answer.text
    [(held,)] = _query(db, "SELECT reserved_units FROM users")
    assert held > 0, "the dead process's lease is still held"
    assert len(_query(db, "SELECT id FROM gateway_processes")) == 1

    reclaimed = subprocess.run(
        [*COMMAND, "holds", "reclaim", "--stale-seconds", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reclaimed.returncode == 0, reclaimed.stderr
    assert "gave back the holds of 1 stopped processes" in reclaimed.stderr
    assert "1 users" in reclaimed.stdout
    assert _query(db, "SELECT reserved_units FROM users") == [(0,)]
    assert _query(db, "SELECT count(*) FROM gateway_processes") == [(0,)]
    [(balance, ledger_sum)] = _query(
        db, "SELECT balance_units, (SELECT sum(amount_units) FROM ledger) FROM users"
    )
    assert balance == ledger_sum
