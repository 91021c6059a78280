"""Several worker processes write metrics to one folder; /metrics reads them together."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gatewayz.telemetry.metrics import MULTIPROC_ENV, Metrics, multiprocess_dir
from tests.cli.test_commands import COMMAND

WORKER = textwrap.dedent(
    """
    import sys
    from gatewayz.telemetry.context import RequestContext
    from gatewayz.telemetry.metrics import Metrics

    folder, requests, circuit, leave = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    metrics = Metrics(folder)
    for _ in range(requests):
        context = RequestContext("req", 0.0, status=200, model="m", provider="p")
        context.input_tokens, context.cost_units = 10, 500_000_000
        metrics.observe_request("/v1/chat/completions", context, 0.5)
    metrics.circuit_state("p", "m", circuit)
    if leave == "leave":
        metrics.close()
    """
)


def run_worker(folder: Path, requests: int, circuit: str, leave: str) -> None:
    env = {**os.environ, MULTIPROC_ENV: str(folder)}
    subprocess.run(
        [sys.executable, "-c", WORKER, str(folder), str(requests), circuit, leave],
        env=env,
        check=True,
        timeout=60,
    )


def collected(folder: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = Metrics(str(folder)).exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_processes_metrics_are_collected_together(tmp_path: Path) -> None:
    run_worker(tmp_path, 3, "open", "stay")
    run_worker(tmp_path, 2, "closed", "stay")
    scraped = collected(tmp_path)
    labels = (("model", "m"), ("provider", "p"), ("route", "/v1/chat/completions"))
    assert scraped[("gatewayz_requests_total", (*labels, ("status", "200")))] == 5
    assert scraped[("gatewayz_request_duration_seconds_count", labels)] == 5
    tokens = (("direction", "input"), ("model", "m"), ("provider", "p"))
    assert scraped[("gatewayz_tokens_total", tokens)] == 50
    assert scraped[("gatewayz_cost_credits_total", (("model", "m"), ("provider", "p")))] == 2.5
    circuit = ("gatewayz_circuit_state", (("model", "m"), ("provider", "p")))
    assert scraped[circuit] == 2, "the worst circuit state of any worker"


def test_a_worker_that_shuts_down_leaves_no_live_gauge(tmp_path: Path) -> None:
    run_worker(tmp_path, 1, "open", "leave")
    run_worker(tmp_path, 1, "closed", "stay")
    scraped = collected(tmp_path)
    assert scraped[("gatewayz_circuit_state", (("model", "m"), ("provider", "p")))] == 0
    labels = (("model", "m"), ("provider", "p"), ("route", "/v1/chat/completions"))
    assert scraped[("gatewayz_requests_total", (*labels, ("status", "200")))] == 2


def test_serve_makes_a_metrics_folder_only_for_several_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_dir(1, {}):
        assert MULTIPROC_ENV not in os.environ
    with multiprocess_dir(2, {}):
        folder = Path(os.environ[MULTIPROC_ENV])
        assert folder.is_dir()
    assert not folder.exists(), "removed when the server stops"
    assert MULTIPROC_ENV not in os.environ
    with multiprocess_dir(2, {MULTIPROC_ENV: "/operator/chosen"}):
        assert MULTIPROC_ENV not in os.environ, "the operator's own folder is left alone"


def test_gatewayz_serve_with_two_workers_reports_every_workers_requests(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAYZ_", "PROMETHEUS"))}
    env["TMPDIR"] = str(temp)
    url = f"http://127.0.0.1:{port}"
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:
        server = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        healthy = 0
        deadline = time.monotonic() + 60
        while healthy < 20:
            assert server.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            try:
                # a new connection each time, so the workers share the requests
                healthy += httpx.get(url + "/health", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.1)
        (folder,) = temp.glob("gatewayz-metrics-*")
        for _ in range(4):
            text = httpx.get(url + "/metrics", timeout=5).text
            scraped = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            labels = (("model", ""), ("provider", ""), ("route", "/health"), ("status", "200"))
            assert scraped[("gatewayz_requests_total", labels)] == healthy
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert not folder.exists(), "serve removes its metrics folder"
    lines = [line for line in stderr.read_text().splitlines() if line.startswith("{")]
    started = [line for line in lines if "Application startup complete" in line]
    assert len(started) == 2, "each worker logs JSON"
