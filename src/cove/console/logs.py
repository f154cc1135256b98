"""The server's recent log records, kept in memory for the console's health page.

A handler on the ``cove`` logger keeps the last records of this process: whatever Cove logs through
`logging` (errors of Lambda authorizers, real-time delivery, identity operations, and the console's own
audit lines, ``cove.console``) shows up on the page without a log shipper.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from cove.server.observability import redact

AUDIT = logging.getLogger("cove.console")
MAX_RECORDS = 500


class RecentLogs(logging.Handler):
    def __init__(self, capacity: int = MAX_RECORDS) -> None:
        super().__init__(logging.INFO)
        self.records: deque[dict[str, Any]] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # The page shows these to administrators: secrets are redacted as in the server's own log.
            entry = {"time": record.created, "level": record.levelname.lower(), "logger": record.name,
                     "message": redact(record.getMessage())}
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                entry["error"] = redact(f"{type(error).__name__}: {error}")
            self.records.append(entry)
        except Exception:  # a log call must never fail the request that made it
            self.handleError(record)

    def entries(self) -> list[dict[str, Any]]:
        return list(self.records)


_installed: RecentLogs | None = None


def recent_logs() -> RecentLogs:
    """This process's buffer, installed on the ``cove`` logger on first use."""
    global _installed
    if _installed is None:
        _installed = RecentLogs()
        logging.getLogger("cove").addHandler(_installed)
        if AUDIT.level == logging.NOTSET:
            AUDIT.setLevel(logging.INFO)  # audit lines are INFO; the rest of Cove keeps its own levels
    return _installed


def audit(actor: str, action: str) -> None:
    AUDIT.info("%s %s", actor, action)
