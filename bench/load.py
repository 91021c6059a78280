"""One load test: wrk (``bench/chat.lua``) or ``bench/loadgen.py`` on core 1 against a target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from processes import BENCH_DIR, pinned

LOAD_CORE = 1


@dataclass(frozen=True)
class Target:
    """Where the load goes: the upstream directly, the pass-through or a gateway."""

    name: str
    url: str
    model: str
    api_key: str


@dataclass(frozen=True)
class Result:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    bad_status: int
    settle_seconds: float = 0.0  # how long the gateway took afterwards to store its backlog


def ensure_wrk() -> bool:
    """Whether wrk is installed, installing Debian's package when running as root."""
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing it with apt-get ...", flush=True)
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            if subprocess.run(argv, capture_output=True, check=False).returncode != 0:
                break
    return shutil.which("wrk") is not None


def load(target: Target, stream: bool, concurrency: int, duration: int, use_wrk: bool) -> Result:
    """Run the load generator against ``target`` and read its ``BENCH`` line."""
    if use_wrk:
        argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "--timeout", "10s"]
        argv += ["-s", str(BENCH_DIR / "chat.lua"), target.url, "--"]
        argv += [target.model, target.api_key, "1" if stream else "0"]
    else:
        argv = [sys.executable, str(BENCH_DIR / "loadgen.py"), target.url, "--model", target.model]
        argv += ["--api-key", target.api_key, "-c", str(concurrency), "-d", str(duration)]
        argv += ["--stream"] if stream else []
    done = subprocess.run(pinned(LOAD_CORE, argv), capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"load generator failed:\n{done.stdout}{done.stderr}")
    data = json.loads(line.removeprefix("BENCH "))
    return Result(
        requests=data["requests"],
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
        bad_status=data["bad_status"],
    )
