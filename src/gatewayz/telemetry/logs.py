"""Structured JSON logs on stderr, one object a line, written by a background thread.

Logging on the request path only queues the record (with the request id and trace id of
the request it belongs to); a listener thread redacts anything that looks like a key,
formats and writes it.
"""

import logging
import queue
import sys
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

import orjson

from gatewayz.telemetry.context import current
from gatewayz.telemetry.redact import redact, redact_all

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Libraries whose debug output is every statement with its parameters (key hashes included).
_CHATTY = ("aiosqlite",)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request and trace ids, the
    record's extra fields, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


class RedactSecrets(logging.Filter):
    """Masks key-like values (gw_live_..., sk-..., Bearer ...) in the message, the
    exception and the extra fields of every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        fields = vars(record)
        for name in fields.keys() - _STANDARD:
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


class BackgroundHandler(QueueHandler):
    """Queues records for a thread that redacts, formats and writes them to `stream`; once
    drained (at shutdown) it writes each record at once instead."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(queue.SimpleQueue())
        self.addFilter(_add_request_fields)
        self._output = logging.StreamHandler(stream)
        self._output.addFilter(RedactSecrets())
        self._output.setFormatter(JsonFormatter())
        self._listener: QueueListener | None = QueueListener(self.queue, self._output)
        self._listener.start()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record as it is: the listener thread formats it."""
        return record

    def emit(self, record: logging.LogRecord) -> None:
        if self._listener is None:
            self._output.handle(record)
        else:
            super().emit(record)

    def drain(self) -> None:
        """Write what is queued, stop the thread, and write later records at once."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def close(self) -> None:
        self.drain()
        super().close()


def drain_logs() -> None:
    """At shutdown: write every queued record now, and later ones as they come.

    A process that ends by a signal (as uvicorn does after a graceful shutdown) would
    otherwise lose the records still queued.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BackgroundHandler):
            handler.drain()


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every log record, as JSON, to `stream` (stderr by default) at `level` and above."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, BackgroundHandler):
            handler.close()
    root.handlers[:] = [BackgroundHandler(stream or sys.stderr)]
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
