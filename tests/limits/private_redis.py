"""A redis-server of a test's own, on a free port, that the test can stop and start again."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import _reachable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """`redis-server`, keeping its data in `directory` (fsync on every write) if given, else
    nowhere; `stop` kills it as a crash would."""

    def __init__(self, binary: str, directory: Path | None = None) -> None:
        self._binary = binary
        self._persistence = ["--appendonly", "no"]
        if directory is not None:
            self._persistence = ["--appendonly", "yes", "--appendfsync", "always"]
            self._persistence += ["--dir", str(directory)]
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *self._persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _reachable("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def pause(self, paused: bool = True) -> None:
        """Freeze the server (it keeps its connections but answers nothing), or thaw it."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
