"""Logging on stderr: text or one JSON object a line, timestamps in UTC, and every
``extra=`` value (row counts, durations, days) a field of its own."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

# What every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``ts`` in UTC with a ``Z``, level, logger, message, and each
    ``extra=`` value (row counts, durations, days) as a field of its own."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC)
        fields = {
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in fields:
                fields[key] = value
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return json.dumps(fields, default=str)


def configure_logging(level: str, fmt: str) -> None:
    """Log to stderr at ``level``, as text or one JSON object a line; called once by the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        text = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
        )
        text.converter = time.gmtime  # UTC, as the Z says
        handler.setFormatter(text)
    root = logging.getLogger("flexbatch")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
