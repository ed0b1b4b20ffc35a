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


def configure_logging(level: str, stream: TextIO | None = None) -> logging.Handler:
    """Send ``ossmedia`` logs as JSON lines to ``stream`` (stderr by default).

    Args:
        level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``.
        stream: where to write.

    Returns:
        The installed handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party loggers that could print secrets or payloads stay quiet whatever the level.
    for name in ("aliyunsdkcore", "urllib3", "paho", "oss2"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("aliyunsdkcore").setLevel(logging.CRITICAL)
    return handler
