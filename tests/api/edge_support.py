"""What the HTTP edge tests share: huge bodies streamed from a generator, and the memory of
this process (which serves the gateway under test)."""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

MIB = 1024 * 1024
_STATUS = Path("/proc/self/status")


@dataclass
class Upload:
    """A body of `total` bytes sent in 1 MiB chunks, counting what was handed to the client."""

    total: int
    sent: int = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        chunk = b'{"model": "fake-model", "messages": [' + b" " * (MIB - 38)
        while self.sent < self.total:
            part = chunk[: self.total - self.sent]
            self.sent += len(part)
            yield part


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


async def post_upload(url: str, upload: Upload, headers: dict[str, str]) -> Answer:
    """POST the upload chunked, with a client that reads the answer while it sends (as curl,
    browsers and aiohttp do), so that an early answer ends the upload."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=upload.chunks(), headers=headers) as response,
    ):
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status, headers, await response.json())


def reset_peak_memory() -> None:
    """Start this process's peak resident memory (VmHWM) again from its current size."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mib() -> float:
    """This process's peak resident memory since the last reset, in MiB."""
    found = re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())
    assert found is not None
    return int(found.group(1)) / 1024


def memory_mib() -> float:
    """This process's resident memory now, in MiB."""
    found = re.search(r"VmRSS:\s+(\d+) kB", _STATUS.read_text())
    assert found is not None
    return int(found.group(1)) / 1024
