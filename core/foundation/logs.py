"""Server logs: text as Python formats them, or one JSON object per line (``SIKS_LOG_FORMAT``).

A JSON line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``request_id``
(the ``X-Request-Id`` of the request being answered, or null outside a request); a request's own line
(logger ``siks.request``) adds ``method``, ``path``, ``status`` and ``duration_ms``. Exceptions add
``exception`` (the formatted traceback).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

import orjson

#: The id of the request this task is answering (set by ``core.http.observe``).
current_request_id: ContextVar[str | None] = ContextVar("siks_request_id", default=None)
#: Extra fields a log record may carry (``logger.info(..., extra={...})``) that a JSON line includes.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "operation", "outcome")
_HANDLER_NAME = "siks-json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id.get(),
            "pid": record.process,  # which worker of `siks serve --workers N` wrote it
        }
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (never to a stream closed since)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure_json_logs(stream: IO[str] | None = None, level: int = logging.INFO) -> logging.Handler:
    """Send every log record to ``stream`` (standard error) as JSON lines; idempotent.

    SIKS's loggers (``siks.*``, ``core.*``) write from ``level`` up, uvicorn's server log from its ``--log-level``,
    other libraries from WARNING. uvicorn's access log is silenced: ``siks.request`` writes one line per
    request, with its id.
    """
    remove_json_logs()
    root = logging.getLogger()
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    for name in ("siks", "core"):
        logging.getLogger(name).setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    return handler


def remove_json_logs() -> None:
    """Take the JSON handler off again (a test that turned JSON logs on, or an embedding application)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
