"""What a running server writes for its operator: logs (`--log-format`, `--log-level`), the access log
and request ids (the metrics are in ``metrics.py``).

Error logs go through the standard `logging` tree (logger ``cove`` and below, plus uvicorn's). The
access log does not: building a `LogRecord` per request costs more than the rest of a cached read, so
access lines are formatted here and written in batches, every 50 ms. Everything that is
written passes :func:`redact` first, so an API key, a JWT, a SigV4 signature or a password that ends up
in a message or a traceback is never written out.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import sys
import time
import traceback
from typing import IO, Any

import orjson

from cove.wire.scalars import iso_millis

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

# Secrets by shape: API keys, JWTs (three base64url parts, the first starting with '{"'), SigV4 signatures
# and access key ids, and anything after a name that says it holds a secret.
_SECRET_SHAPES = re.compile(
    r"da2-[a-z0-9]{8,}"
    r"|eyJ[\w-]{4,}\.[\w-]{4,}(?:\.[\w-]*)?"
    r"|(?<=Signature=)[0-9a-fA-F]{16,}"
    r"|(?<=Credential=)[A-Z0-9]{12,}"
    r"|\bAS?IA[A-Z0-9]{12,}\b",
)
_SECRET_NAMES = re.compile(
    r"""(?ix)
    (["']?\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization|cookie)[\w-]*["']?
     \s*[:=]\s*(?:(?:Bearer|Basic|AWS4-HMAC-SHA256)\s+)?)
    ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;}&]+)
    """,
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[redacted]``."""
    text = _SECRET_SHAPES.sub(REDACTED, text)
    return _SECRET_NAMES.sub(_redact_value, text)


def _redact_value(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return match.group(1) + quote + REDACTED + quote


# -- request ids ----------------------------------------------------------------------------------

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_LOOKS_SECRET = re.compile(rb"da2-|eyJ|A[SK]IA|[Ss]ignature")
# Made ids: a random per-process prefix and a counter (unique, and far cheaper than 16 random bytes).
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The caller's ``x-request-id`` when it is a plain token that does not look like a credential (so it
    can be logged and echoed safely), otherwise a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            if _REQUEST_ID.fullmatch(value) and _LOOKS_SECRET.search(value) is None:
                return value
            break
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}".encode()


# -- log formatting -------------------------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, any ``extra`` fields, and the traceback."""

    _STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": iso_millis(record.created), "level": record.levelname.lower(),
                                 "logger": record.name, "message": redact(record.getMessage())}
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["traceback"] = redact("".join(traceback.format_exception(*record.exc_info)))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` and the traceback below it, for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{iso_millis(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return redact(line)


def configure_logging(log_format: str = "text", level: str = "info", stream: IO[str] | None = None) -> None:
    """Send Cove's and uvicorn's logs to ``stream`` (stderr) in the chosen format, at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    numeric = getattr(logging, level.upper())
    for name in ("cove", "uvicorn", "uvicorn.error", "uvicorn.asgi", "asyncpg"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        # uvicorn's INFO lines repeat what Cove's banner says; its warnings and errors matter.
        logger.setLevel(numeric if name == "cove" or numeric <= logging.DEBUG else max(numeric, logging.WARNING))
        logger.propagate = False
    # A logger's filters only see its own records, not its children's (asyncpg.pool): filter a handler.
    driver = logging.StreamHandler(stream or sys.stderr)
    driver.setFormatter(handler.formatter)
    driver.addFilter(_one_line_driver_errors)
    logging.getLogger("asyncpg").handlers[:] = [driver]
    logging.getLogger("uvicorn.access").disabled = True  # the access log is ours
    _settings.update(format=log_format, level=numeric)
    if log_format == "json":
        sys.excepthook = _log_crash  # even a crash (say, in the schema module) is a JSON line


def _one_line_driver_errors(record: logging.LogRecord) -> bool:
    """The database driver retrying a lost connection (asyncpg's pool, every few seconds while the
    database is away): its cause on the line, not a traceback per retry. The outage itself is
    reported where it matters: /ready and the errors requests get."""
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def _log_crash(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    logging.getLogger("cove").critical("the server stopped: %s: %s", kind.__name__, error,
                                       exc_info=(kind, error, tb))


_settings: dict[str, Any] = {"format": "text", "level": logging.INFO}


def say(message: str, *, error: bool = False) -> None:
    """A start-up or shutdown message: plain on stdout (an error: ``error: ...`` on stderr), or a JSON
    log line when logs are JSON (so a log shipper reading the process's output sees nothing but JSON)."""
    if _settings["format"] == "json":
        logging.getLogger("cove.server").log(logging.ERROR if error else logging.INFO, message)
    elif error:
        print(f"error: {message}", file=sys.stderr, flush=True)
    else:
        print(message, flush=True)


_PLAIN_PATHS = frozenset(("/graphql", "/graphql/", "/", "/health", "/ready", "/cognito-idp/", "/cognito-identity/"))


def _printable(text: str) -> str:
    """A client-chosen value as one line of printable text (no forged log lines)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


# -- the access log -------------------------------------------------------------------------------

class AccessLog:
    """Access lines, batched: buffered and written every ``interval`` seconds (or sooner when many are
    waiting), so a busy server makes a few writes a second, not one per request. The runner flushes
    what is left when the server stops."""

    def __init__(self, log_format: str = "text", stream: IO[bytes] | None = None, interval: float = 0.05,
                 batch: int = 512) -> None:
        self.json = log_format == "json"
        self.stream = stream if stream is not None else sys.stderr.buffer
        self.interval = interval
        self.batch = batch
        self.pending: list[bytes] = []

    @classmethod
    def from_settings(cls) -> AccessLog | None:
        """The access log the configured level asks for (None below INFO)."""
        if _settings["level"] > logging.INFO:
            return None
        return cls(_settings["format"])

    def write(self, method: str, path: str, operation: str | None, operation_name: str | None, status: int,
              seconds: float, auth_mode: str | None, rid: bytes, client: Any, scheme: str) -> None:
        """One request. Only values the server chose or validated are written (never headers or bodies)."""
        address = client[0] if client else None
        if path not in _PLAIN_PATHS:
            path = _printable(redact(path))[:300]
        if self.json:
            line = orjson.dumps({
                "time": iso_millis(time.time()), "level": "info", "logger": "cove.access", "method": method,
                "path": path, "operation": operation, "operation_name": operation_name, "status": status,
                "duration_ms": int(seconds * 1e6) / 1000, "auth_mode": auth_mode, "request_id": rid.decode(),
                "client": address, "scheme": scheme,
            }) + b"\n"
        else:
            shown = f"{operation}({operation_name})" if operation_name else operation or "-"
            line = (f"{iso_millis(time.time())} INFO    cove.access: {address or '-'} {method} {path} {shown} "
                    f"{status} {seconds * 1000:.1f}ms {auth_mode or '-'} request_id={rid.decode()}\n").encode()
        pending = self.pending
        if not pending:
            try:
                asyncio.get_running_loop().call_later(self.interval, self.flush)
            except RuntimeError:  # no loop: write at once
                pending.append(line)
                self.flush()
                return
        pending.append(line)
        if len(pending) >= self.batch:
            self.flush()  # the timer set for this batch then finds nothing, or starts the next one early

    def flush(self) -> None:
        if not self.pending:
            return
        data = b"".join(self.pending)
        self.pending.clear()
        try:
            self.stream.write(data)
            self.stream.flush()
        except (OSError, ValueError):  # the log's reader went away; serving goes on
            pass
