"""Logs on stderr: JSON, one object a line, or readable coloured lines on a terminal.

Each record is stamped with the request id and trace id of the request it belongs to,
masked of anything that looks like a key, and formatted where it is logged; a writer
thread writes the lines in batches, so logging never waits on the output.
"""

import logging
import sys
import threading
import time
from queue import Empty, SimpleQueue
from typing import Any, TextIO

import orjson

from gatewayz.telemetry.context import current
from gatewayz.telemetry.redact import might_hold_secret, redact, redact_all

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Libraries whose debug output is every statement with its parameters (key hashes included).
_CHATTY = ("aiosqlite",)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request and trace ids, the
    record's extra fields, and the exception if any."""

    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = vars(record)
        entry.update((name, fields[name]) for name in fields.keys() - _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()

    def _time(self, created: float) -> str:
        """ISO 8601 UTC with milliseconds; the part up to the second is made once a second."""
        second, stamp = self._second
        if int(created) != second:
            second = int(created)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, stamp)
        return f"{stamp}.{int((created - second) * 1000):03d}Z"


_COLOURS = {"debug": "\x1b[2m", "info": "\x1b[36m", "warning": "\x1b[33m", "error": "\x1b[31m"}
_QUIET = frozenset({"request_id", "trace_id", "method", "path", "status", "latency_ms"})


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, message, then the record's extra fields as
    name=value (the access line's request fields are already in its message)."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self._colour = colour

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname.lower()
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        head = f"{stamp}.{int(record.msecs):03d} {level.upper():<7} {record.name}"
        if self._colour:
            head = f"{_COLOURS.get(level, '')}{head}\x1b[0m"
        fields = vars(record)
        extras = sorted(fields.keys() - _STANDARD - _QUIET)
        tail = "".join(f" {name}={fields[name]}" for name in extras if fields[name] is not None)
        line = f"{head}  {record.getMessage()}{tail}"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class RedactSecrets(logging.Filter):
    """Masks key-like values (gw_live_..., sk-..., Bearer ...) in the message, the
    exception and the extra fields of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        fields = vars(record)
        extras = fields.keys() - _STANDARD
        values = [fields[name] for name in extras]
        texts = [record.msg, record.exc_text or "", *(v for v in values if isinstance(v, str))]
        plain = all(isinstance(v, str | int | float | None) for v in values)
        if plain and not might_hold_secret(" ".join(texts)):
            return True
        record.msg = redact(record.msg)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name in extras:
            fields[name] = redact_all(fields[name])
        return True


def _add_request_fields(record: logging.LogRecord) -> bool:
    """Stamp the record with the current request's id and trace id (in the caller's thread)."""
    context = current()
    if context is not None:
        record.request_id = context.request_id
        if context.trace_id is not None:
            record.trace_id = context.trace_id
    return True


class BackgroundHandler(logging.Handler):
    """Redacts and formats each record, and queues the line for a thread that writes all
    that gathered within `interval` seconds at once; once drained (at shutdown) each line
    is written as it comes instead."""

    def __init__(
        self, stream: TextIO, interval: float = 0.2, formatter: logging.Formatter | None = None
    ) -> None:
        super().__init__()
        self.addFilter(_add_request_fields)
        self.addFilter(RedactSecrets())
        self.setFormatter(formatter or JsonFormatter())
        self._stream = stream
        self._interval = interval
        self._queue: SimpleQueue[str | None] = SimpleQueue()
        self._thread: threading.Thread | None = threading.Thread(
            target=self._write_forever, name="gatewayz-logs", daemon=True
        )
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        if self._thread is None:
            self._write([line])
        else:
            self._queue.put(line)

    def drain(self) -> None:
        """Write what is queued, stop the thread, and write later lines at once."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def close(self) -> None:
        self.drain()
        super().close()

    def _write_forever(self) -> None:
        while True:
            first = self._queue.get()
            # Let the lines of the next moment gather: every wake-up of this thread takes the
            # GIL from the event loop, which costs more than the writing itself.
            time.sleep(self._interval)
            batch = [first]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except Empty:
                    break
            lines = [line for line in batch if line is not None]
            self._write(lines)
            if len(lines) < len(batch):
                return

    def _write(self, lines: list[str]) -> None:
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "cannot write the log"}))


def drain_logs() -> None:
    """At shutdown: write every queued record now, and later ones as they come.

    A process that ends by a signal (as uvicorn does after a graceful shutdown) would
    otherwise lose the records still queued.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BackgroundHandler):
            handler.drain()


def configure_logging(
    level: str, stream: TextIO | None = None, log_format: str = "json", colour: bool = False
) -> None:
    """Send every log record to `stream` (stderr by default) at `level` and above, as JSON
    lines, or as readable lines with `log_format="text"` (coloured on a terminal when
    `colour`); "auto" is text on a terminal and JSON otherwise."""
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "text" if _is_terminal(stream) else "json"
    formatter = (
        TextFormatter(colour and _is_terminal(stream)) if log_format == "text" else JsonFormatter()
    )
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, BackgroundHandler):
            handler.close()
    root.handlers[:] = [BackgroundHandler(stream, formatter=formatter)]
    root.setLevel(level.upper())
    # The lines show no thread or process names: spare every record looking them up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
