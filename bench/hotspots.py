"""Where a gateway's time goes: a py-spy profile of it under load, summarised as top frames."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*)\)$")
PROCESS = re.compile(r"^process \d+:")
NATIVE = "native code (no Python frame)"
AREAS = (
    ("gatewayz/", "gatewayz"),
    ("starlette/", "starlette"),
    ("fastapi/", "fastapi"),
    ("uvicorn/", "uvicorn"),
    ("aiohttp/", "aiohttp"),
    ("sqlalchemy/", "sqlalchemy"),
    ("pydantic", "pydantic"),
    ("prometheus_client/", "prometheus_client"),
    ("opentelemetry/", "opentelemetry"),
    ("redis/", "redis"),
    ("asyncpg/", "asyncpg"),
    ("aiosqlite/", "aiosqlite"),
    ("yarl/", "yarl"),
    ("multidict/", "multidict"),
    ("logging/", "logging"),
    ("asyncio/", "asyncio"),
)


@dataclass(frozen=True)
class Profile:
    """Samples by the frame that was running (self time), and by the package it belongs to."""

    samples: int
    frames: Counter[str]
    areas: Counter[str]


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record(executable: str, pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` and its children for ``seconds`` into collapsed stacks."""
    argv = [executable, "record", "--pid", str(pid), "--duration", str(seconds), "--subprocesses"]
    argv += ["--format", "raw", "--nolineno", "--nonblocking", "--rate", "200"]
    argv += ["--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def area(path: str) -> str:
    """The package a source file belongs to (``gatewayz/relay`` for the gateway's own code)."""
    for marker, name in AREAS:
        at = path.rfind(marker)
        if at >= 0:
            if name == "gatewayz":
                rest = path[at + len(marker) :].split("/")
                return f"gatewayz/{rest[0]}" if len(rest) > 1 else "gatewayz"
            return name
    return "python (other)"


def summarise(collapsed: str) -> Profile:
    """Count self samples per frame and per package in py-spy's collapsed-stack output."""
    frames: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        match = FRAME.match(leaf)
        if PROCESS.match(leaf) or match is None:  # --subprocesses' root frame: no Python frame
            frames[NATIVE] += int(count)
            areas[NATIVE] += int(count)
            continue
        path = match["path"]
        frames[f"{match['function']} ({area(path)}: {Path(path).name})"] += int(count)
        areas[area(path)] += int(count)
    return Profile(sum(frames.values()), frames, areas)


def print_profile(title: str, profile: Profile, top: int = 15) -> None:
    print(f"\n{title}: {profile.samples} samples (self time, share of busy samples)")
    if not profile.samples:
        return
    print(
        "  by package: "
        + ", ".join(
            f"{name} {count / profile.samples:.0%}" for name, count in profile.areas.most_common(12)
        )
    )
    for frame, count in profile.frames.most_common(top):
        print(f"  {count / profile.samples:6.1%}  {frame}")
