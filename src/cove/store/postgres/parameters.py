"""Cove's own query parameters of a ``postgresql://`` URL (``schema``, ``pool_size``,
``statement_timeout``): their defaults, bounds and checks, and the URL without them for libpq.

No asyncpg here: the command line checks a URL (server/database.py) before anything loads a driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

COVE_PARAMETERS = ("schema", "pool_size", "statement_timeout")
DEFAULT_POOL_SIZE = 10
MAX_POOL_SIZE = 1000
# Each statement's limit unless the URL sets statement_timeout: AppSync's resolver timeout, so no
# request holds a connection longer than AppSync would let it run.
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000
MAX_STATEMENT_TIMEOUT_MS = 2_147_483_647   # PostgreSQL's largest


def number_problem(query: Mapping[str, str]) -> str | None:
    """What is wrong with ``pool_size`` or ``statement_timeout`` among a URL's query parameters, or None."""
    size = query.get("pool_size", str(DEFAULT_POOL_SIZE))
    if not size.isdigit() or not 1 <= int(size) <= MAX_POOL_SIZE:
        return f"pool_size must be a whole number of connections from 1 to {MAX_POOL_SIZE}, not {size!r}"
    timeout = query.get("statement_timeout", str(DEFAULT_STATEMENT_TIMEOUT_MS))
    if not timeout.isdigit() or int(timeout) > MAX_STATEMENT_TIMEOUT_MS:
        return (f"statement_timeout must be whole milliseconds from 0 (no limit) to {MAX_STATEMENT_TIMEOUT_MS}, "
                f"not {timeout!r}")
    return None


def libpq_url(url: str) -> str:
    """``url`` without Cove's own query parameters, for libpq and a plain asyncpg connection."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in COVE_PARAMETERS]
    return urlunsplit(parts._replace(query=urlencode(kept)))
