"""The real Codex CLI (`codex exec`, pinned in tests/clients, installed by `make test`), run
against a gateway the way docs/clients/codex.md configures it: a temporary CODEX_HOME whose
config.toml declares Gatewayz as a custom provider speaking the Responses API, the key in an
environment variable, telemetry, analytics, update checks and plugin sync off (traffic only to
127.0.0.1), commands sandboxed read-only in a temporary workspace, no approvals asked."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

CODEX = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / ".bin" / "codex"
KEY_VARIABLE = "GATEWAYZ_API_KEY"
TIMEOUT_SECONDS = 60.0


def config_toml(base_url: str, model: str, effort: str = "low") -> str:
    """The config.toml docs/clients/codex.md gives, for `model` at the gateway `base_url`."""
    return f"""\
model = "{model}"
model_provider = "gatewayz"
model_reasoning_effort = "{effort}"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.gatewayz]
name = "Gatewayz"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "{KEY_VARIABLE}"

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"

[features]
plugins = false
"""


def require_codex() -> None:
    """Skip without the pinned Codex (make test installs it); fail instead in CI."""
    if CODEX.exists():
        return
    message = f"{CODEX} is missing (make tests/clients/node_modules/.installed installs it)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true: the Codex tests must run")
    pytest.skip(message)


@dataclass
class CodexRun:
    """What one `codex exec --json` printed: its exit status, events and standard error."""

    returncode: int
    events: list[dict[str, Any]]
    stderr: str

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The completed items of one type (agent_message, reasoning, command_execution...)."""
        return [
            event["item"]
            for event in self.events
            if event.get("type") == "item.completed" and event["item"].get("type") == kind
        ]

    @property
    def answer(self) -> str:
        return "\n".join(item["text"] for item in self.items("agent_message"))

    @property
    def usage(self) -> dict[str, Any]:
        (done,) = [event for event in self.events if event.get("type") == "turn.completed"]
        return done["usage"]


async def run_codex(
    home: Path, workspace: Path, base_url: str, model: str, api_key: str, prompt: str
) -> CodexRun:
    """Run `codex exec` once, with nothing of this machine's environment but PATH."""
    require_codex()
    home.mkdir(parents=True, exist_ok=True)
    workspace.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config_toml(base_url, model))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home),
        KEY_VARIABLE: api_key,
        "NO_COLOR": "1",
    }
    process = await asyncio.create_subprocess_exec(
        str(CODEX),
        "exec",
        "--json",
        "--ephemeral",
        "--skip-git-repo-check",
        "--color",
        "never",
        "--cd",
        str(workspace),
        prompt,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=workspace,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    events = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    return CodexRun(process.returncode or 0, events, err.decode())
