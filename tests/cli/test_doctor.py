"""`gatewayz doctor`, run as a real subprocess: what it reports and when it fails."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REDIS_URL, require_service
from tests.limits.private_redis import free_port

SCRIPT = Path(sys.executable).with_name("gatewayz")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "gatewayz"]


def _doctor(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAYZ_")}
    base = {k: v for k, v in base.items() if not k.endswith(("_API_KEY", "_KEY", "_TOKEN"))}
    return subprocess.run(
        [*COMMAND, "doctor"],
        env={**base, "XDG_CONFIG_HOME": str(tmp_path / "config"), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_doctor_names_what_is_in_use_and_what_each_provider_lacks(tmp_path: Path) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    done = _doctor(tmp_path, GROQ_API_KEY="gsk_test", GATEWAYZ_REDIS_URL=REDIS_URL)
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout
    assert "no database yet: the first start creates it" in report
    assert not (tmp_path / "gatewayz.db").exists()  # doctor looks, it does not create
    assert f"{tmp_path / 'gatewayz.secret'} does not exist yet" in report
    assert "[ok  ] provider   groq (openai" in report
    assert "openrouter off: OPENROUTER_API_KEY not set" in report
    assert "[ok  ] redis" in report
    assert "[ok  ] demo       Hello! This is the Gatewayz demo model." in report
    assert "gsk_test" not in report


def test_doctor_fails_when_redis_does_not_answer_or_nothing_can_be_called(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    done = _doctor(tmp_path, GATEWAYZ_REDIS_URL=closed, GATEWAYZ_DEMO_PROVIDER="false")
    assert done.returncode == 1
    assert "[FAIL] redis" in done.stdout
    assert "[FAIL] provider   no provider is enabled" in done.stdout
    assert "[    ] demo       off" in done.stdout
