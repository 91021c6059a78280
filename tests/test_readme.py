"""The README's first examples, run as a new user runs them: a key made with the CLI in one
folder, `gatewayz serve` started from another with `make run`'s defaults (the demo provider),
then the README's curl, openai and anthropic snippets, unchanged but for the key and port."""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.limits.private_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("gatewayz")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gatewayz"]
EXAMPLE = re.compile(r"<!-- readme-example: (\w+) -->\n```\w+\n(.*?)```", re.DOTALL)
KEY = re.compile(r"gw_live_[A-Za-z0-9_-]+")


def readme_examples() -> dict[str, str]:
    """The README's code blocks marked `<!-- readme-example: NAME -->`, by name."""
    return dict(EXAMPLE.findall((ROOT / "README.md").read_text()))


@dataclass
class Running:
    base_url: str
    port: int
    key: str
    env: dict[str, str]
    cwd: Path


def _run(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [*COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A key created from one folder, a server with the defaults started from another."""
    made_here = tmp_path_factory.mktemp("keys-made-here")
    served_from = tmp_path_factory.mktemp("served-from-here")
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_")}
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GATEWAYZ_DATABASE_URL": f"sqlite+aiosqlite:///{made_here / 'gatewayz.db'}",
    }
    _run(env, made_here, "users", "create", "dev@example.com")
    (key,) = KEY.findall(_run(env, made_here, "keys", "create", "dev@example.com"))
    port = free_port()
    server = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=env,
        cwd=served_from,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, server)
        yield Running(base_url, port, key, env, served_from)
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
        assert str(made_here / "gatewayz.secret") in log  # the start-up log names the secret
        assert not (served_from / "gatewayz.secret").exists()


def _wait_until_up(base_url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not start within 60 s")


def _adapted(code: str, running: Running) -> str:
    """The snippet as a user would paste it: their key, the test server's port."""
    return code.replace("gw_live_...", running.key).replace("8000", str(running.port))


def test_the_readme_marks_its_first_examples() -> None:
    assert set(readme_examples()) == {"curl", "openai", "anthropic"}


def test_the_curl_example_answers_from_the_demo_model(running: Running) -> None:
    done = subprocess.run(
        ["bash", "-c", _adapted(readme_examples()["curl"], running)],
        env={**running.env, "GATEWAYZ_KEY": running.key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = orjson.loads(done.stdout)
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"].endswith("You said: Hello!")
    assert answer["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_the_sdk_examples_run_unchanged(running: Running, sdk: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _adapted(readme_examples()[sdk], running)],
        env=running.env,
        cwd=running.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Hello! This is the Gatewayz demo model." in done.stdout
    assert "You said: Hello!" in done.stdout
    if sdk == "openai":
        assert done.stdout.rstrip().endswith("You said: Count to five.")


def test_the_root_names_the_gateway_and_doctor_sees_it_working(running: Running) -> None:
    root = httpx.get(f"{running.base_url}/")
    assert root.status_code == 200
    assert root.json()["name"] == "Gatewayz" and root.json()["docs"] == "/docs"
    head = httpx.head(f"{running.base_url}/")
    assert head.status_code == 200 and head.content == b""
    report = _run(
        running.env, running.cwd, "doctor", "--url", running.base_url, "--key", running.key
    )
    assert "[ok  ] call" in report and "served by demo" in report
    assert "[ok  ] server" in report
