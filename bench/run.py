"""Gateway benchmark: Gatewayz against a bare pass-through and the upstream, in one run.

Starts ``bench/upstream.py`` (core 1), the bare pass-through ``bench/passthrough.py`` (core 0)
and a Gatewayz server with every feature on (one worker, core 0), then load-tests each at
concurrency 1 and 32, streamed and not, for ``--duration`` seconds, with wrk (else
``bench/loadgen.py``) on core 1. It prints each Gatewayz figure as a ratio to the pass-through
(req/s at c=32) or as latency added over the upstream (c=1), next to the targets, and the
gateway's peak resident memory. Options add PostgreSQL and Redis (``--compare-backends`` runs
SQLite and them side by side), several workers, a seeded 10 M-row history and a py-spy profile.
Everything it starts (PostgreSQL databases included) is stopped or dropped before it exits.

Run: ``python bench/run.py [--duration 10] [--compare-backends] [--workers 2]
[--seed-rows 10000000] [--profile]``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import hotspots
import postgres
import report as out
from gateway import UPSTREAM_KEY, UPSTREAM_MODEL, Backend, Gateway, gatewayz_executable, serving
from load import Target, ensure_wrk, load
from processes import (
    BENCH_DIR,
    accepts_connections,
    free_port,
    peak_rss_mb,
    pinned,
    started,
    wait_until,
)

WARMUP_SECONDS = 2
DEFAULT_POSTGRES = "postgresql+asyncpg://127.0.0.1/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
SCENARIOS = ((False, 1), (False, 32), (True, 1), (True, 32))


@dataclass(frozen=True)
class Bench:
    """What every measurement of one run shares."""

    args: argparse.Namespace
    workdir: Path
    executable: str
    upstream_port: int
    use_wrk: bool
    report: out.Report

    def measure(
        self,
        row: str,
        target: Target,
        scenarios: tuple[tuple[bool, int], ...],
        gateway: Gateway | None = None,
    ) -> None:
        """Load ``target`` in each scenario; a gateway's figures include storing its backlog."""
        for stream, concurrency in scenarios:
            result = load(target, stream, concurrency, self.args.duration, self.use_wrk)
            if gateway is not None:
                result = gateway.settled(result)
            self.report.add(row, stream, concurrency, result)

    def warm_up(self, target: Target, gateway: Gateway | None = None) -> None:
        for stream in (False, True):
            result = load(target, stream, 32, WARMUP_SECONDS, self.use_wrk)
            if gateway is not None:
                gateway.settled(result)

    def record_memory(self, row: str, pid: int) -> None:
        self.report.peak_rss_mb[row] = peak_rss_mb(pid)

    def gateway(
        self, stack: contextlib.ExitStack, backend: Backend, row: str, workers: int = 1
    ) -> Gateway:
        """A started and warmed-up gateway, stopped with ``stack``, its peak RSS recorded then."""
        gateway = stack.enter_context(
            serving(self.executable, backend, self.upstream_port, self.workdir, workers)
        )
        stack.callback(self.record_memory, row, gateway.pid)
        self.warm_up(gateway.target, gateway)
        return gateway


def backends(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> list[Backend]:
    """The gateway configurations of this run; each PostgreSQL one gets a fresh database."""
    sqlite = Backend("sqlite", f"sqlite+aiosqlite:///{workdir}/bench.db")
    database_url, redis_url = args.database_url, args.redis_url
    if args.compare_backends:
        database_url, redis_url = database_url or DEFAULT_POSTGRES, redis_url or DEFAULT_REDIS
    if database_url and database_url.startswith("postgresql"):
        database_url = postgres.fresh_database_url(database_url)
        stack.callback(postgres.drop_database, database_url)
    name = "postgresql" if database_url and database_url.startswith("postgresql") else "sqlite"
    name += "+redis" if redis_url else ""
    configured = Backend(name, database_url or sqlite.database_url, redis_url)
    return [sqlite, configured] if args.compare_backends else [configured]


def profile(bench: Bench, gateway: Gateway, row: str) -> None:
    """Record py-spy under c=32, streamed and not, and print the top frames of each."""
    executable = hotspots.py_spy()
    if executable is None:
        print("profile: py-spy is not installed (pip install -e '.[bench]')")
        return
    for stream in (False, True):
        output = bench.workdir / f"profile-{int(stream)}.txt"
        recorder = hotspots.record(executable, gateway.pid, bench.args.duration, output)
        load(gateway.target, stream, 32, bench.args.duration, bench.use_wrk)
        _, errors = recorder.communicate()
        if recorder.returncode != 0 or not output.exists():
            print(f"profile: py-spy failed: {errors.decode(errors='replace').strip()}")
            return
        title = f"profile {row}, {out.mode(stream)} c=32"
        bench.report.profiles.append((title, hotspots.summarise(output.read_text())))


def run_gateways(bench: Bench, configured: list[Backend]) -> None:
    """Measure each configuration; the last one also gets the workers, seed and profile runs."""
    args = bench.args
    for index, backend in enumerate(configured):
        last = index == len(configured) - 1
        row = f"gatewayz {backend.name}"
        bench.report.targeted.add(row)
        with contextlib.ExitStack() as stack:
            gateway = bench.gateway(stack, backend, row)
            bench.measure(row, gateway.target, SCENARIOS, gateway)
            if last and args.profile:
                profile(bench, gateway, row)
        if last and args.workers > 1:
            workers_row = f"{row} {args.workers} workers"
            with contextlib.ExitStack() as stack:
                gateway = bench.gateway(stack, backend, workers_row, args.workers)
                bench.measure(workers_row, gateway.target, ((False, 32), (True, 32)), gateway)
        if last and args.seed_rows:
            seconds = postgres.seed(backend.database_url, args.seed_rows)
            bench.report.notes.append(
                f"seeded {args.seed_rows:,} request-log and {args.seed_rows:,} ledger rows "
                f"in {seconds:.0f} s"
            )
            seeded_row = f"{row} {args.seed_rows:,} rows"
            with contextlib.ExitStack() as stack:
                gateway = bench.gateway(stack, backend, seeded_row)
                bench.measure(seeded_row, gateway.target, ((False, 32), (True, 32)), gateway)


def print_summary(bench: Bench, configured: list[Backend]) -> None:
    args, report = bench.args, bench.report
    print()
    out.print_table(report)
    print()
    out.print_memory(report)
    if len(configured) == 2:
        out.print_backend_cost(
            report, f"gatewayz {configured[0].name}", f"gatewayz {configured[1].name}"
        )
    row = f"gatewayz {configured[-1].name}"
    if args.workers > 1:
        title = (
            f"{args.workers} workers (not pinned; upstream and load generator stay on core 1) "
            "next to one worker pinned to core 0"
        )
        out.print_ratio(report, title, row, f"{row} {args.workers} workers", out.WORKERS_MIN_RATIO)
    if args.seed_rows:
        print("\n" + "\n".join(report.notes))
        out.print_ratio(
            report,
            f"after seeding, next to before (within {out.SEEDED_MAX_DROP:.0%})",
            row,
            f"{row} {args.seed_rows:,} rows",
            1 - out.SEEDED_MAX_DROP,
        )
    out.print_profiles(report)


def run(args: argparse.Namespace, workdir: Path) -> int:
    use_wrk = args.loadgen != "python" and ensure_wrk()
    if args.loadgen == "wrk" and not use_wrk:
        raise SystemExit("wrk is not installed and could not be installed")
    executable = gatewayz_executable()
    if executable is None:
        raise SystemExit("no .venv/bin/gatewayz or gatewayz on PATH: run `make .venv/.test-deps`")
    upstream_port, passthrough_port = free_port(), free_port()
    print(
        f"Gatewayz benchmark: {args.duration} s per scenario, load generator "
        f"{'wrk' if use_wrk else 'bench/loadgen.py'}; gateway and pass-through on core 0, "
        "upstream and load generator on core 1"
    )
    with contextlib.ExitStack() as stack:
        configured = backends(args, workdir, stack)
        if args.seed_rows and not configured[-1].name.startswith("postgresql"):
            raise SystemExit(
                "--seed-rows needs PostgreSQL: add --database-url or --compare-backends"
            )
        bench = Bench(args, workdir, executable, upstream_port, use_wrk, out.Report())
        upstream_log, passthrough_log = workdir / "upstream.log", workdir / "passthrough.log"
        upstream_argv = [
            sys.executable,
            str(BENCH_DIR / "upstream.py"),
            "--port",
            str(upstream_port),
        ]
        upstream = stack.enter_context(started(pinned(1, upstream_argv), upstream_log))
        wait_until(lambda: accepts_connections(upstream_port), upstream, "upstream", upstream_log)
        passthrough_argv = [sys.executable, str(BENCH_DIR / "passthrough.py")]
        passthrough_argv += ["--port", str(passthrough_port)]
        passthrough_argv += ["--upstream", f"http://127.0.0.1:{upstream_port}"]
        passthrough = stack.enter_context(started(pinned(0, passthrough_argv), passthrough_log))
        wait_until(
            lambda: accepts_connections(passthrough_port),
            passthrough,
            "pass-through",
            passthrough_log,
        )
        path = "/v1/chat/completions"
        direct_url = f"http://127.0.0.1:{upstream_port}{path}"
        direct = Target(out.DIRECT, direct_url, UPSTREAM_MODEL, UPSTREAM_KEY)
        reference_url = f"http://127.0.0.1:{passthrough_port}{path}"
        reference = Target(out.PASS_THROUGH, reference_url, UPSTREAM_MODEL, UPSTREAM_KEY)
        bench.warm_up(reference)
        bench.measure(out.DIRECT, direct, SCENARIOS)
        bench.measure(out.PASS_THROUGH, reference, SCENARIOS)
        print("gateway configurations: " + ", ".join(backend.name for backend in configured))
        run_gateways(bench, configured)
    print_summary(bench, configured)
    return 1 if bench.report.failed() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument(
        "--database-url",
        help="gateway database (default: SQLite in a temp dir); for PostgreSQL the run makes a "
        "fresh database on that server and drops it at the end",
    )
    parser.add_argument("--redis-url", help="gateway Redis (default: none)")
    parser.add_argument(
        "--compare-backends",
        action="store_true",
        help=f"run SQLite and PostgreSQL + Redis (default {DEFAULT_POSTGRES}, {DEFAULT_REDIS})",
    )
    parser.add_argument("--workers", type=int, default=1, help="also measure N workers at c=32")
    parser.add_argument(
        "--seed-rows",
        type=int,
        default=0,
        help="on PostgreSQL, seed N request-log and ledger rows and measure c=32 again",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy profile at c=32")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-") as workdir:
        sys.exit(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
