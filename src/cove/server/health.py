"""``GET /ready``: can this process serve requests correctly right now?

Three checks, each a short sentence in the answer:

- the database: the file the server opened is still the one at its path (a deleted or replaced
  file keeps "working" on the open handle while every write goes to a file nobody will read again),
  and a fresh read-only connection opens it and reads it;
- the migrations: every table, column and type the served schema needs is in the database (a restore
  or another process may have changed it);
- the event broker: connected, when one is configured.

A networked database (PostgreSQL) is checked through the store seam instead: a statement that must
reach the database, and no DDL pending for the served schema. A database that is away answers "not
ready" within a few seconds, and "ready" again as soon as it is back.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from cove.store.base import DatabaseUnavailable, DestructiveChange, StoreError
from cove.store.sql.migrate import describe
from cove.store.sqlite.backend import SQLiteBackend

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, str]]]]
# How long /ready waits for a networked database before calling it unreachable.
DATABASE_CHECK_SECONDS = 3.0


def readiness_check(app: Any) -> Readiness:
    """A coroutine function for ``app.readiness``."""
    if isinstance(app.backend, SQLiteBackend):
        check = _sqlite_check(app)
        # In a thread: the file check may wait (briefly) for a lock; the loop must not.
        return lambda: asyncio.to_thread(check)
    return lambda: _networked_check(app)


async def _networked_check(app: Any) -> tuple[bool, dict[str, str]]:
    checks: dict[str, str] = {}
    try:
        pending = await asyncio.wait_for(app.backend.migrator.pending_statements(app.engine.schema),
                                         DATABASE_CHECK_SECONDS)
    except (DatabaseUnavailable, asyncio.TimeoutError, OSError) as exc:
        checks["database"] = (f"cannot reach {app.backend.description}: {exc}" if str(exc) else
                              f"{app.backend.description} did not answer within {DATABASE_CHECK_SECONDS:g}s")
        checks["migrations"] = "unknown (the database cannot be read)"
    except DestructiveChange:
        # The database has models or fields this server does not serve (a newer deploy added them):
        # fine for this server, as with SQLite. What it serves is there, or additive DDL would be pending.
        checks["database"] = checks["migrations"] = "ok"
    except StoreError as exc:
        checks["database"] = f"cannot read {app.backend.description}: {exc}"
        checks["migrations"] = "unknown (the database cannot be read)"
    else:
        checks["database"] = "ok"
        checks["migrations"] = "ok" if not pending else (
            f"{len(pending)} statements pending for the served schema (run `cove migrate`)")
    ok = checks["database"] == "ok" and checks["migrations"] == "ok"
    return _common_checks(app, checks, ok)


def _common_checks(app: Any, checks: dict[str, str], ok: bool) -> tuple[bool, dict[str, str]]:
    # An expiring API key is not an unready server, but the operator reads /ready: say it there too.
    checks["api_key"] = (app.warnings() or ["ok"])[0]
    broker = app.realtime.broker
    if app.realtime.broker_url:
        connected = broker is not None and getattr(broker, "connected", True)
        checks["broker"] = "ok" if connected else "not connected to " + (
            broker.description if broker is not None else "the event broker")
        ok = ok and connected
    return ok, checks


def _sqlite_check(app: Any) -> Callable[[], tuple[bool, dict[str, str]]]:
    """Remembers which file the backend has open now."""
    path = app.backend.path
    opened = _identity(path)

    def check() -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        ok = True
        served = describe(app.engine.schema)
        stored, columns, problem = _read_layout(path, opened, served)
        if problem is not None:
            checks["database"] = problem
            checks["migrations"] = "unknown (the database cannot be read)"
            ok = False
        else:
            checks["database"] = "ok"
            differences = _layout_differences(stored, columns, served)
            checks["migrations"] = "ok" if not differences else (
                "the database layout does not match the served schema: " + "; ".join(differences))
            ok = ok and not differences
        return _common_checks(app, checks, ok)

    return check


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


Layout = dict[str, dict[str, str]]


def _read_layout(path: Path, opened: tuple[int, int] | None, served: Layout
                 ) -> tuple[Layout, dict[str, set[str]], str | None]:
    """The layout recorded by the last migration, and the columns each served model's table really has."""
    now = _identity(path)
    if now is None:
        return {}, {}, f"the database file {path} is gone"
    if now != opened:
        return {}, {}, f"the database file {path} was replaced since the server opened it; restart the server"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            row = conn.execute("SELECT value FROM _cove_meta WHERE key = 'schema'").fetchone()
            columns = {model: {r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", (model,))}
                       for model in served}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return {}, {}, f"cannot read the database {path}: {exc}"
    return (orjson.loads(row[0]) if row else {}), columns, None


def _layout_differences(stored: Layout, columns: dict[str, set[str]], served: Layout) -> list[str]:
    """What the served schema needs that the database lacks. Models and fields only the database has
    are fine: a newer deploy added them, and this server simply does not use them."""
    out = []
    for model in sorted(served):
        if not columns.get(model):
            out.append(f"model {model} has no table (pending migration)")
            continue
        for field in sorted(served[model].keys() - columns[model]):
            out.append(f"field {model}.{field} has no column (pending migration)")
        for field in sorted(served[model].keys() & stored.get(model, {}).keys()):
            if served[model][field] != stored[model][field]:
                out.append(f"field {model}.{field} is stored as {stored[model][field]}, served as "
                           f"{served[model][field]}")
    return out
