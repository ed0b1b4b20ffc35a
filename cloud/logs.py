"""Structured JSON logs, one object per line, for every cloud service (responder, console).

Callers pass context as ``extra={"fields": {...}}``. Nothing secret is ever put into a log
record by this package (no keys, tokens, device secrets or payloads); the formatter adds no
exception messages either, only the exception type, because third-party messages may quote
their input.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

_MARK = "_ossmedia_json_handler"


class JsonFormatter(logging.Formatter):
    """Format records as JSON: ``ts``, ``level``, ``logger``, ``msg`` and the ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            doc["error_type"] = record.exc_info[0].__name__
        return json.dumps(doc, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not when it was made)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def configure_logging(level: str, stream: TextIO | None = None) -> logging.Handler:
    """Send ``ossmedia`` logs as JSON lines to ``stream`` (stderr by default).

    Calling it again replaces the handler it installed before, so a process (or a test
    session running several entry points) never writes each line twice.

    Args:
        level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``.
        stream: where to write; by default whatever ``sys.stderr`` is at each line.

    Returns:
        The installed handler.
    """
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party loggers that could print secrets or payloads stay quiet whatever the level.
    for name in ("aliyunsdkcore", "urllib3", "paho", "oss2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)
    # Alembic narrates every schema check at INFO; the migrate commands report the outcome.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
