"""Logging: one JSON object per line (LOG_FORMAT=json, the default) or plain text.

The access log passes its fields as ``extra={"fields": {...}}``; in JSON they
become top-level keys, in text a ``key=value`` tail. Keys, headers and file
contents are never given to the logger in the first place.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

_HANDLER_NAME = "filedrop"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


def configure(level: str, fmt: str) -> None:
    """Install our handler on the root logger once; later calls only adjust levels."""
    root = logging.getLogger()
    if not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        handler = logging.StreamHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
        root.addHandler(handler)
        if root.level == logging.WARNING:  # the untouched default
            root.setLevel(level.upper())
    logging.getLogger("filedrop").setLevel(level.upper())
