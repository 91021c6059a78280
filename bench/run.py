"""Gateway benchmark: requests/s and p50/p99 latency, direct to the upstream and through Gatewayz.

Starts ``bench/upstream.py`` and a Gatewayz server (auth, billing and request logging on), then
load-tests both at concurrency 1 and 32, streaming and not, for ``--duration`` seconds each, and
prints a table next to the targets, plus the gateway's peak resident memory. The gateway is pinned
to core 0; the upstream and the load generator (wrk, else ``bench/loadgen.py``) share core 1.
Everything it starts is stopped before it exits.

Run: ``python bench/run.py [--duration 10] [--database-url postgresql+asyncpg://...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
UPSTREAM_KEY = "sk-bench"
UPSTREAM_MODEL = "bench-model"
GATEWAY_MODEL = "bench/bench-model"
GATEWAY_SECRET = "bench-secret"
CREDITS = "1000000"
WARMUP_SECONDS = 2

C1_P50_OVERHEAD_MS = 1.0
C1_P99_OVERHEAD_MS = 3.0
C32_MIN_RPS = {False: 1500.0, True: 1200.0}
MAX_RSS_MB = 150.0

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
class Target:
    """Where the load goes: the upstream directly or the gateway."""

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


def pinned(core: int, argv: list[str]) -> list[str]:
    """``argv`` run on one CPU core, when taskset and a second core are there."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core), *argv]
    return argv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@contextlib.contextmanager
def started(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in its own process group for the block, then stop the whole group."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path
) -> None:
    """Poll ``ready`` for up to 30 s; fail with the log's tail if the process dies or stalls."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if ready():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace").splitlines()[-30:]
    raise SystemExit(f"{what} did not come up; last lines of {log.name}:\n" + "\n".join(tail))


def accepts_connections(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def gatewayz_executable() -> str | None:
    local = ROOT / ".venv" / "bin" / "gatewayz"
    return str(local) if local.exists() else shutil.which("gatewayz")


def gatewayz(executable: str, env: dict[str, str], *args: str) -> str:
    """Run one gatewayz CLI command and return its stdout."""
    done = subprocess.run([executable, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"gatewayz {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def load(target: Target, stream: bool, concurrency: int, duration: int, use_wrk: bool) -> Result:
    """Run the load generator on core 1 against ``target`` and read its ``BENCH`` line."""
    if use_wrk:
        argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "--timeout", "10s"]
        argv += ["-s", str(BENCH_DIR / "chat.lua"), target.url, "--"]
        argv += [target.model, target.api_key, "1" if stream else "0"]
    else:
        argv = [sys.executable, str(BENCH_DIR / "loadgen.py"), target.url, "--model", target.model]
        argv += ["--api-key", target.api_key, "-c", str(concurrency), "-d", str(duration)]
        argv += ["--stream"] if stream else []
    done = subprocess.run(pinned(1, argv), capture_output=True, text=True, check=False)
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


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids = [pid]
    for current in pids:
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(child) for child in children.read_text().split()]
    return pids


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) summed over the process tree, in MB."""
    total_kb = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def target_note(
    target: str, stream: bool, concurrency: int, result: Result, direct: Result | None
) -> str:
    """How a gateway figure compares with its target."""
    if target != "gateway":
        return ""
    if concurrency == 1 and direct is not None:
        p50 = result.p50_ms - direct.p50_ms
        p99 = result.p99_ms - direct.p99_ms
        return (
            f"overhead p50 {p50:+.2f} ms (<= {C1_P50_OVERHEAD_MS:g}) "
            f"{verdict(p50 <= C1_P50_OVERHEAD_MS)}, "
            f"p99 {p99:+.2f} ms (<= {C1_P99_OVERHEAD_MS:g}) {verdict(p99 <= C1_P99_OVERHEAD_MS)}"
        )
    minimum = C32_MIN_RPS[stream]
    return f">= {minimum:g} req/s {verdict(result.rps >= minimum)}"


def print_table(results: dict[tuple[str, bool, int], Result]) -> None:
    print(f"{'scenario':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>18}  target")
    for (target, stream, concurrency), result in results.items():
        label = f"{target:<8} {'stream' if stream else 'non-stream':<10} c={concurrency}"
        note = target_note(
            target, stream, concurrency, result, results.get(("direct", stream, concurrency))
        )
        errors = f"{result.errors}" + (f" (HTTP {result.bad_status})" if result.bad_status else "")
        print(
            f"{label:<28}{result.rps:>10,.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{errors:>18}  {note}"
        )


def start_gateway(
    stack: contextlib.ExitStack,
    executable: str,
    database_url: str,
    upstream_port: int,
    workdir: Path,
) -> tuple[subprocess.Popen[bytes], Target]:
    """Create a user and key with the CLI, then serve the gateway on core 0 until the stack ends."""
    env = dict(os.environ, GATEWAYZ_DATABASE_URL=database_url, GATEWAYZ_SECRET=GATEWAY_SECRET)
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
    log = workdir / "gateway.log"
    serve = [executable, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    serve += ["--config", str(config)]
    gateway = stack.enter_context(started(pinned(0, serve), log, env))
    wait_until(lambda: healthy(port), gateway, "gateway", log)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    return gateway, Target("gateway", url, GATEWAY_MODEL, key)


def run(args: argparse.Namespace, workdir: Path) -> int:
    use_wrk = args.loadgen != "python" and ensure_wrk()
    if args.loadgen == "wrk" and not use_wrk:
        raise SystemExit("wrk is not installed and could not be installed")
    executable = None if args.direct_only else gatewayz_executable()
    upstream_port = free_port()
    upstream_log = workdir / "upstream.log"
    upstream_argv = [sys.executable, str(BENCH_DIR / "upstream.py"), "--port", str(upstream_port)]
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
    targets = [Target("direct", upstream_url, UPSTREAM_MODEL, UPSTREAM_KEY)]
    print(
        f"Gatewayz benchmark: {args.duration} s per scenario, load generator "
        f"{'wrk' if use_wrk else 'bench/loadgen.py'}; gateway on core 0, "
        "upstream and load generator on core 1"
    )
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(started(pinned(1, upstream_argv), upstream_log))
        wait_until(lambda: accepts_connections(upstream_port), upstream, "upstream", upstream_log)
        gateway = None
        if executable is None:
            print(
                "gateway: not started (no .venv/bin/gatewayz or gatewayz on PATH, or --direct-only)"
            )
        else:
            database_url = args.database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
            print(f"gateway: {executable} with {database_url}")
            gateway, gateway_target = start_gateway(
                stack, executable, database_url, upstream_port, workdir
            )
            targets.append(gateway_target)
            for stream in (False, True):
                load(gateway_target, stream, 32, WARMUP_SECONDS, use_wrk)
        results: dict[tuple[str, bool, int], Result] = {}
        for stream in (False, True):
            for concurrency in (1, 32):
                for target in targets:
                    result = load(target, stream, concurrency, args.duration, use_wrk)
                    results[(target.name, stream, concurrency)] = result
        print()
        print_table(results)
        if gateway is not None:
            rss = peak_rss_mb(gateway.pid)
            ok = verdict(rss < MAX_RSS_MB)
            print(f"\ngateway peak RSS: {rss:.1f} MB (< {MAX_RSS_MB:g} MB) {ok}")
    return 1 if any(result.errors for result in results.values()) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument(
        "--database-url", help="gateway database (default: a fresh SQLite file in a temp dir)"
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--direct-only", action="store_true", help="do not start the gateway")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as workdir:
        sys.exit(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
