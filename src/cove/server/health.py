"""``GET /ready``: can this process serve requests correctly right now?

Three checks, each a short sentence in the answer:

- the database: the file the server opened is still the one at its path (a deleted or replaced
  file keeps "working" on the open handle while every write goes to a file nobody will read again),
  and a fresh read-only connection opens it and reads it;
- the migrations: every table, column and type the served schema needs is in the database (a restore
  or another process may have changed it);
- the event broker: connected, when one is configured.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from cove.store.sql.migrate import describe
from cove.store.sqlite.backend import SQLiteBackend


def readiness_check(app: Any) -> Callable[[], tuple[bool, dict[str, str]]]:
    """A function for ``app.readiness``; remembers which file the backend has open now."""
    backend = app.backend
    if not isinstance(backend, SQLiteBackend):   # the checks below read a SQLite file
        raise TypeError(f"/ready checks a SQLite database, not {type(backend).__name__}")
    path = backend.path
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
        # An expiring API key is not an unready server, but the operator reads /ready: say it there too.
        checks["api_key"] = (app.warnings() or ["ok"])[0]
        broker = app.realtime.broker
        if app.realtime.broker_url:
            connected = broker is not None and getattr(broker, "connected", True)
            checks["broker"] = "ok" if connected else "not connected to " + (
                broker.description if broker is not None else "the event broker")
            ok = ok and connected
        return ok, checks

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
