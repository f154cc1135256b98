"""PostgreSQL for tests: the machine's server (``COVE_TEST_POSTGRES``, default
postgresql://postgres@127.0.0.1:5432/test), one fresh schema per database a test opens, so runs and
tests never see each other's tables. The schemas a run made are dropped when it ends (conftest.py)."""

from __future__ import annotations

import os
import subprocess
import uuid
from urllib.parse import parse_qsl, urlsplit

from cove.store.postgres.parameters import libpq_url

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
    # One transaction per schema: dropping them all in one would hold a lock per table of every schema
    # at once and can fill PostgreSQL's shared lock table ("out of shared memory") for everyone else.
    drops = [arg for name in _made for arg in ("-c", f'DROP SCHEMA IF EXISTS "{name}" CASCADE')]
    subprocess.run(["psql", SERVER_URL, "-q", *drops], capture_output=True, timeout=300, check=False)


def split_url(url: str) -> tuple[str, str]:
    """A Cove database URL as (the libpq URL psql takes, the schema Cove keeps its tables in)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((value for name, value in query if name == "schema"), "public")
    return libpq_url(url), schema


def run_sql(url: str, sql: str) -> str:
    """Run ``sql`` with psql in the schema of a Cove database URL (as a test's hand behind the server's
    back); the output, unaligned and without headers. A failure raises with psql's message."""
    libpq, schema = split_url(url)
    env = dict(os.environ, PGOPTIONS=f"-c search_path={schema}")
    done = subprocess.run(["psql", libpq, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed on {sql!r}: {done.stderr.strip()}")
    return done.stdout
