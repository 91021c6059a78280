"""A Gatewayz server for one benchmark configuration: its user and key, then ``gatewayz serve``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from load import Result, Target
from processes import ROOT, free_port, healthy, pinned, started, wait_until

UPSTREAM_KEY = "sk-bench"
UPSTREAM_MODEL = "bench-model"
GATEWAY_MODEL = "bench/bench-model"
GATEWAY_SECRET = "bench-secret"
CREDITS = "1000000"
GATEWAY_CORE = 0

CONFIG_TEMPLATE = """\
providers:
  - name: bench
    protocol: openai
    base_url: http://127.0.0.1:{upstream_port}/v1
    api_key: {upstream_key}
    models:
      - id: {model}
        input_price_per_mtok: 0.10
        output_price_per_mtok: 0.20
"""


@dataclass(frozen=True)
class Backend:
    """Where one gateway configuration keeps its state."""

    name: str
    database_url: str
    redis_url: str | None = None


WAITING_ROWS = "gatewayz_writer_waiting_rows"
SETTLE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Gateway:
    """A running gateway: its main process, the target that loads it and its metrics."""

    pid: int
    target: Target
    metrics_url: str

    def waiting_rows(self) -> int:
        """Settlements and request-log rows the gateway holds that are not yet stored."""
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            lines = response.read().decode().splitlines()
        return round(sum(float(ln.split()[-1]) for ln in lines if ln.startswith(WAITING_ROWS)))

    def settled(self, result: Result) -> Result:
        """``result`` with the time the gateway then took to store every settlement and
        request-log row of the load, and its req/s over the load and that time together.

        A gateway that stores its bookkeeping more slowly than it serves calls would
        otherwise look faster than it can sustain: its backlog grows through the load and is
        written after it.
        """
        started = time.perf_counter()
        stored: float | None = None  # when the gauge first read 0 (confirmed by a second read)
        while True:
            now = time.perf_counter()
            if now - started > SETTLE_TIMEOUT_SECONDS:
                raise SystemExit(
                    f"the gateway did not store its backlog within {SETTLE_TIMEOUT_SECONDS:g} s"
                )
            if self.waiting_rows():
                stored = None
            elif stored is not None:
                break
            else:  # the gauge is refreshed as the writer goes: one read may be stale
                stored = now
            time.sleep(0.05)
        settle = stored - started
        if not result.requests:
            return dataclasses.replace(result, settle_seconds=settle)
        loaded = result.requests / result.rps
        return dataclasses.replace(
            result, rps=result.requests / (loaded + settle), settle_seconds=settle
        )


def gatewayz_executable() -> str | None:
    local = ROOT / ".venv" / "bin" / "gatewayz"
    return str(local) if local.exists() else shutil.which("gatewayz")


def gatewayz(executable: str, env: dict[str, str], *args: str) -> str:
    """Run one gatewayz CLI command and return its stdout."""
    done = subprocess.run([executable, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"gatewayz {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def serving(
    executable: str, backend: Backend, upstream_port: int, workdir: Path, workers: int = 1
) -> Iterator[Gateway]:
    """Create a user and key with the CLI, then serve the gateway for the block.

    One worker is pinned to core 0 like the pass-through; several workers are not pinned.
    """
    env = dict(os.environ, GATEWAYZ_DATABASE_URL=backend.database_url)
    env["GATEWAYZ_SECRET"] = GATEWAY_SECRET
    if backend.redis_url:
        env["GATEWAYZ_REDIS_URL"] = backend.redis_url
    config = workdir / "bench.yaml"
    config.write_text(
        CONFIG_TEMPLATE.format(
            upstream_port=upstream_port, upstream_key=UPSTREAM_KEY, model=UPSTREAM_MODEL
        )
    )
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    gatewayz(executable, env, "users", "create", email, "--credits", CREDITS)
    key = gatewayz(executable, env, "keys", "create", email).strip().splitlines()[-1]
    port = free_port()
    log = workdir / f"gateway-{backend.name}-{workers}.log"
    serve = [executable, "serve", "--host", "127.0.0.1", "--port", str(port)]
    serve += ["--workers", str(workers), "--config", str(config)]
    core = GATEWAY_CORE if workers == 1 else None
    with started(pinned(core, serve), log, env) as process:
        wait_until(lambda: healthy(port), process, "gateway", log)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        target = Target("gateway", url, GATEWAY_MODEL, key)
        yield Gateway(process.pid, target, f"http://127.0.0.1:{port}/metrics")
