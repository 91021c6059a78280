"""The `gatewayz` command, run as a real subprocess against a temporary SQLite database."""

import asyncio
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from alembic import command
from alembic.script import ScriptDirectory

from gatewayz.accounts.keys import hash_key
from gatewayz.providers.table import builtin_specs
from gatewayz.settings import Settings
from gatewayz.store import migrate
from tests.conftest import serve
from tests.fakes.model_list_upstream import FakeModelListUpstream

SCRIPT = Path(sys.executable).with_name("gatewayz")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gatewayz"]
KEY = re.compile(r"gw_live_[A-Za-z0-9_-]+")
CREDIT = 10**9


def _base_env() -> dict[str, str]:
    """The caller's environment without any GATEWAYZ_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_")}


class Home:
    """A temp dir holding the database and the secret file the CLI uses."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "gatewayz.db"
        self.secret_file = root / "secret" / "gatewayz.secret"
        self.url = f"sqlite+aiosqlite:///{self.db}"
        self.env = {
            **_base_env(),
            "GATEWAYZ_DATABASE_URL": self.url,
            "GATEWAYZ_SECRET_FILE": str(self.secret_file),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return result

    def query(self, sql: str, *params: object) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# --- the operator's workflow -----------------------------------------------------------


async def test_users_keys_and_credits(tmp_path: Path) -> None:
    home = Home(tmp_path)
    upgraded = home.ok("db", "upgrade")
    assert upgraded.stdout == ""
    assert home.query("SELECT count(*) FROM users") == [(0,)]

    created = home.ok("users", "create", "Ops@Example.com", "--credits", "5", "--admin")
    assert created.stdout == ""
    assert "ops@example.com" in created.stderr
    assert home.query("SELECT email, role, balance_units FROM users") == [
        ("ops@example.com", "admin", 5 * CREDIT)
    ]

    first = home.ok("keys", "create", "ops@example.com", "--name", "ci")
    second = home.ok("keys", "create", "OPS@example.com")
    keys = []
    for result in (first, second):
        assert KEY.fullmatch(result.stdout.rstrip("\n")), result.stdout
        assert result.stdout.count("\n") == 1, "only the key, on one line"
        keys.append(result.stdout.strip())
    assert keys[0] != keys[1]

    secret = home.secret_file.read_bytes().strip()
    stored = home.query("SELECT name, display_prefix, key_hash FROM api_keys ORDER BY id")
    assert stored == [
        ("ci", keys[0][:12], hash_key(secret, keys[0])),
        ("default", keys[1][:12], hash_key(secret, keys[1])),
    ]
    for table in ("api_keys", "users", "ledger"):
        for row in home.query(f"SELECT * FROM {table}"):
            assert not any(key in str(value) for key in keys for value in row)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("gatewayz.db*"))
    assert not any(key.encode() in on_disk for key in keys)

    listed = home.ok("keys", "list", "ops@example.com").stdout.splitlines()
    assert len(listed) == 2
    assert listed[0].split("\t")[1:] == ["ci", keys[0][:12] + "…", "active"]
    assert not any(key in "\n".join(listed) for key in keys)
    first_id = listed[0].split("\t")[0]

    home.ok("keys", "revoke", "ops@example.com", first_id)
    listed = home.ok("keys", "list", "ops@example.com").stdout.splitlines()
    assert listed[0].split("\t")[3].startswith("revoked ")
    assert listed[1].split("\t")[3] == "active"

    added = home.ok("credits", "add", "ops@example.com", "1.5", "--reason", "support ticket 42")
    assert "6.5" in added.stderr
    assert home.query(
        "SELECT amount_units, balance_after_units, reason FROM ledger ORDER BY id"
    ) == [
        (5 * CREDIT, 5 * CREDIT, "initial credits"),
        (1_500_000_000, 6_500_000_000, "support ticket 42"),
    ]
    assert home.query(
        "SELECT event, target_id, details FROM audit_logs WHERE event = 'credits.adjusted'"
    ) == [("credits.adjusted", "1", '{"amount":"1.5","reason":"support ticket 42","via":"cli"}')]
    assert [row[0] for row in home.query("SELECT event FROM audit_logs ORDER BY id")] == [
        "key.created",
        "key.created",
        "key.revoked",
        "credits.adjusted",
    ]

    settings = Settings(
        database_url=home.url,
        secret_file=home.secret_file,
        auto_migrate=False,
        environ={},
        auth_cache_seconds=0,
    )
    async with serve(settings) as (base_url, _), httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.get("/user/balance", headers={"Authorization": f"Bearer {keys[1]}"})
        assert answer.status_code == 200
        assert answer.json()["credits"] == "6.5"
        assert answer.json()["email"] == "ops@example.com"
        revoked = await client.get("/user/balance", headers={"Authorization": f"Bearer {keys[0]}"})
        assert revoked.status_code == 401


# --- bad arguments: one line on stderr, nothing changed ------------------------------------


BAD_ARGUMENTS = {
    "unknown user": (["credits", "add", "nobody@example.com", "3"], "no user nobody@example.com"),
    "negative amount": (["credits", "add", "x@y.co", "-3"], "more than zero, got -3"),
    "zero amount": (["credits", "add", "known@example.com", "0"], "more than zero, got 0"),
    "not a number": (["credits", "add", "known@example.com", "ten"], "'ten' is not a number"),
    "infinite amount": (["credits", "add", "known@example.com", "Infinity"], "more than zero"),
    "ten decimals": (
        ["credits", "add", "known@example.com", "0.0000000001"],
        "0.0000000001 has more than 9 decimal places",
    ),
    "remove more than the balance": (
        ["credits", "remove", "known@example.com", "2"],
        "cannot remove 2 credits, the balance is 1",
    ),
    "remove from unknown user": (
        ["credits", "remove", "nobody@example.com", "1"],
        "no user nobody@example.com",
    ),
    "remove a negative amount": (["credits", "remove", "x@y.co", "-3"], "more than zero"),
    "malformed email": (["users", "create", "not-an-email"], "'not-an-email' is not a valid"),
    "duplicate user": (["users", "create", "known@example.com"], "already exists"),
    "duplicate user, other case": (["users", "create", "Known@Example.com "], "already exists"),
    "negative starting credits": (
        ["users", "create", "new@example.com", "--credits", "-1"],
        "zero or more, got -1",
    ),
    "key for unknown user": (["keys", "create", "nobody@example.com"], "no user nobody@example"),
    "revoke unknown key": (["keys", "revoke", "known@example.com", "999"], "no active key 999"),
}


def test_credits_remove_takes_credits_away_with_a_reason_and_an_audit_entry(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path)
    home.ok("users", "create", "ops@example.com", "--credits", "5")
    removed = home.ok("credits", "remove", "ops@example.com", "1.5", "--reason", "chargeback")
    assert "balance of ops@example.com: 3.5" in removed.stderr
    assert home.query(
        "SELECT amount_units, balance_after_units, kind, reason FROM ledger ORDER BY id"
    )[1:] == [(-1_500_000_000, 3_500_000_000, "admin_adjustment", "chargeback")]
    assert home.query("SELECT details FROM audit_logs WHERE event = 'credits.adjusted'") == [
        ('{"amount":"-1.5","reason":"chargeback","via":"cli"}',)
    ]
    # every running gateway gives back what it had leased for the user
    assert home.query("SELECT user_id FROM credit_revocations") == [(1,)]


def _run_all(home: Home, cases: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
    """Run independent commands side by side (each one is a cold Python start)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(home.run, *args) for name, args in cases.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def bad_argument_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Home, dict[str, subprocess.CompletedProcess]]:
    """Every bad command, run against a database with known@example.com (1 credit, 1 key)."""
    home = Home(tmp_path_factory.mktemp("cli"))
    home.ok("users", "create", "known@example.com", "--credits", "1")
    home.ok("keys", "create", "known@example.com")
    return home, _run_all(home, {name: args for name, (args, _) in BAD_ARGUMENTS.items()})


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_arguments_fail_with_one_line_and_change_nothing(
    bad_argument_results: tuple[Home, dict[str, subprocess.CompletedProcess]], case: str
) -> None:
    home, results = bad_argument_results
    result = results[case]
    assert BAD_ARGUMENTS[case][1] in _one_line_error(result)
    assert result.stdout == "", "nothing on stdout, above all no key"
    assert home.query("SELECT email, balance_units FROM users") == [("known@example.com", CREDIT)]
    assert home.query("SELECT count(*) FROM ledger") == [(1,)]
    assert home.query("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL") == [(1,)]


# --- a malformed config file --------------------------------------------------------------

PROVIDER = "providers:\n  - name: mine\n    protocol: openai\n    base_url: http://127.0.0.1:1/v1\n"
BAD_CONFIGS = {
    "provider without base_url": (
        "providers:\n  - name: mine\n    protocol: openai\n",
        ["providers.0.base_url", "Field required"],
    ),
    "unknown top-level field": ("port: 9000\nprot: 9001\n", ["prot", "Extra inputs"]),
    "unknown provider field": (PROVIDER + "    colour: red\n", ["providers.0.colour"]),
    "invalid YAML": ("port: [9000\nhost: x\n", ["not valid YAML", "line 2"]),
}


@pytest.fixture(scope="module")
def bad_config_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Home, dict[str, subprocess.CompletedProcess]]:
    home = Home(tmp_path_factory.mktemp("config"))
    commands = {}
    for i, (name, (text, _)) in enumerate(BAD_CONFIGS.items()):
        (home.root / f"bad{i}.yaml").write_text(text)
        commands[name] = ["serve", "--config", f"bad{i}.yaml", "--port", "0"]
    return home, _run_all(home, commands)


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_serve_refuses_a_malformed_config_file(
    bad_config_results: tuple[Home, dict[str, subprocess.CompletedProcess]], case: str
) -> None:
    home, results = bad_config_results
    line = _one_line_error(results[case])
    assert f"bad{list(BAD_CONFIGS).index(case)}.yaml" in line, "the error names the file"
    for fragment in BAD_CONFIGS[case][1]:
        assert fragment in line
    assert not home.db.exists(), "nothing is created before the config is valid"
    assert not home.secret_file.exists()


def test_serve_no_migrate_leaves_the_schema_alone_and_says_what_to_run(tmp_path: Path) -> None:
    home = Home(tmp_path)
    done = home.run("serve", "--no-migrate", "--port", "0")
    assert done.returncode == 1
    assert "lacks" in done.stderr and "gatewayz db upgrade" in done.stderr
    with sqlite3.connect(home.db) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []


def test_serve_no_migrate_leaves_a_database_one_migration_behind_where_it_is(
    tmp_path: Path,
) -> None:
    home = Home(tmp_path)
    config = migrate.alembic_config(home.url)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    behind = ScriptDirectory.from_config(config).get_revision(head).down_revision
    assert isinstance(behind, str)
    command.upgrade(config, behind)

    done = home.run("serve", "--no-migrate", "--port", "0")

    assert done.returncode == 1
    assert "lacks 1 schema migrations" in done.stderr and "gatewayz db upgrade" in done.stderr
    assert home.query("SELECT version_num FROM alembic_version") == [(behind,)]


# --- serve: the first start and the next --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`gatewayz serve` in a subprocess, with stdout and stderr captured in files."""

    def __init__(self, cwd: Path, port: int, run: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = cwd / f"stdout-{run}.txt"
        self.stderr_path = cwd / f"stderr-{run}.txt"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [*COMMAND, "serve", "--port", str(port)],
                cwd=cwd,
                env=_base_env(),
                stdout=out,
                stderr=err,
            )

    def wait_until_healthy(self, timeout: float = 30) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr_path.read_text()
            try:
                return httpx.get(self.url + "/health", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"no answer on /health: {self.stderr_path.read_text()}")

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()


def _balance(url: str, key: str) -> httpx.Response:
    return httpx.get(url + "/user/balance", headers={"Authorization": f"Bearer {key}"}, timeout=5)


def test_first_start_creates_the_admin_and_a_secret_then_restarts_keep_them(
    tmp_path: Path,
) -> None:
    port = _free_port()
    # A file in the working directory named like a module the server imports is not imported.
    (tmp_path / "uvicorn.py").write_text("raise SystemExit('the working directory was imported')")
    first = Server(tmp_path, port, 1)
    try:
        health = first.wait_until_healthy()
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        keys = KEY.findall(first.stderr)
        assert len(keys) == 1, first.stderr
        assert not KEY.search(first.stdout), "the key goes to stderr, not stdout"
        secret = tmp_path / "gatewayz.secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        answer = _balance(first.url, keys[0])
        assert answer.status_code == 200
        assert answer.json()["email"] == "admin@gatewayz.local"
        assert _balance(first.url, keys[0] + "x").status_code == 401
    finally:
        first_exit = first.stop(signal.SIGINT)
    assert first_exit == 0
    assert "Application shutdown complete" in first.stderr
    secret_value = secret.read_bytes()

    second = Server(tmp_path, port, 2)
    try:
        assert second.wait_until_healthy().status_code == 200
        assert _balance(second.url, keys[0]).status_code == 200, "the same key still works"
        assert not KEY.search(second.stderr + second.stdout), "no new key on a restart"
    finally:
        second_exit = second.stop(signal.SIGTERM)
    # uvicorn shuts down gracefully, then exits by the signal it caught
    assert second_exit in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in second.stderr
    assert secret.read_bytes() == secret_value
    with sqlite3.connect(tmp_path / "gatewayz.db") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (1,)


# --- the model catalog ----------------------------------------------------------------


async def test_models_sync_stores_each_provider_list(tmp_path: Path) -> None:
    home = Home(tmp_path)
    keys = {spec.api_key_env for spec in builtin_specs()}
    home.env = {name: value for name, value in home.env.items() if name not in keys}
    config = tmp_path / "gatewayz.yaml"

    async def sync(*args: str) -> subprocess.CompletedProcess[str]:
        """Run the command in a thread: the fake providers answer on this event loop."""
        return await asyncio.to_thread(home.run, "models", "sync", "--config", str(config), *args)

    async with FakeModelListUpstream() as fake, FakeModelListUpstream("together") as other:
        rows = [fake.provider_row("or"), other.provider_row("tg")]
        config.write_text(yaml.safe_dump({"providers": rows}), encoding="utf-8")
        both = await sync()
        assert both.returncode == 0, both.stderr
        assert "syncing model lists" in both.stderr and "2/2" in both.stderr, "a progress bar"
        assert "or: 4 models" in both.stderr and "tg: 4 models" in both.stderr
        assert both.stderr.strip().splitlines()[-1] == "synced 2 of 2 providers, 8 models"
        assert both.stdout == ""
        stored = "SELECT provider, model_count FROM catalog_snapshots ORDER BY provider"
        assert home.query(stored) == [("or", 4), ("tg", 4)]
        other.models = other.models[:1]
        one = await sync("--provider", "tg")
        assert one.returncode == 0, one.stderr
        assert one.stderr.strip().splitlines()[-1] == "synced 1 of 1 providers, 1 models"
        fake.status = 503
        failed = await sync()
        assert failed.returncode == 1
        assert "or: failed: the model list answered HTTP 503" in failed.stderr
        assert failed.stderr.strip().endswith("; failed: or")
        assert home.query(stored) == [("or", 4), ("tg", 1)], "a failure keeps the stored list"
    for args, message in [
        (("--provider", "nope"), "unknown provider 'nope'"),
        (("--provider", "groq"), "provider 'groq' is not enabled"),
    ]:
        assert message in _one_line_error(await sync(*args))
