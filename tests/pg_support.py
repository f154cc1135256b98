"""PostgreSQL for tests: the machine's server (``COVE_TEST_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/test), one fresh schema per database a test opens, so runs and
tests never see each other's tables. The schemas a run made are dropped when it ends (conftest.py)."""

from __future__ import annotations

import os
import subprocess
import uuid

SERVER_URL = os.environ.get("COVE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA_PREFIX = "cove_test_"
_RUN = uuid.uuid4().hex[:8]
_made: list[str] = []


def fresh_postgres_url(label: str = "t") -> str:
    """A URL of the test server with a schema no one has used (Cove creates it on first open)."""
    schema = f"{SCHEMA_PREFIX}{_RUN}_{label[:20].lower()}_{len(_made)}_{uuid.uuid4().hex[:6]}"
    _made.append(schema)
    separator = "&" if "?" in SERVER_URL else "?"
    return f"{SERVER_URL}{separator}schema={schema}&pool_size=4"


def drop_test_schemas() -> None:
    """Drop every schema this run made (best effort: a leftover one only costs disk)."""
    if not _made:
        return
    sql = "".join(f'DROP SCHEMA IF EXISTS "{name}" CASCADE;' for name in _made)
    subprocess.run(["psql", SERVER_URL, "-q", "-c", sql], capture_output=True, timeout=120, check=False)
