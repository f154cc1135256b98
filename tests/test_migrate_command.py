"""`cove migrate`: the dry run prints the SQL and changes nothing, a run applies it once and says what
changed, destructive changes need --allow-destructive, --history lists what was applied; on SQLite (a
data dir) and PostgreSQL (a fresh schema of the test server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pg_support import fresh_postgres_url

SCHEMA = '''
from cove import a, define_data

schema = a.schema({
    "Note": a.model({"title": a.string().required(), "body": a.string()})
        .authorization(lambda allow: [allow.public_api_key()]),
})
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
'''
WITH_TAGS = SCHEMA.replace('"body": a.string()}', '"body": a.string(), "tags": a.string().array()}')
WITHOUT_BODY = SCHEMA.replace(', "body": a.string()', "")


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The options naming a new, empty database of the backend."""
    if request.param == "sqlite":
        return ["--data-dir", str(tmp_path / "data"), "--create"]
    return ["--database-url", fresh_postgres_url("migrate")]


def migrate(tmp_path: Path, schema: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"schema_{abs(hash(schema))}.py"
    path.write_text(schema)
    return subprocess.run([sys.executable, "-m", "cove", "migrate", str(path), *args], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env=dict(os.environ))


def history(tmp_path: Path, where: list[str]) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "cove", "migrate", "--history", *where], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_dry_run_prints_the_sql_and_changes_nothing(tmp_path: Path, where: list[str]) -> None:
    dry = migrate(tmp_path, SCHEMA, "--dry-run", *where)
    assert dry.returncode == 0, dry.stderr
    statements = [line for line in dry.stdout.splitlines() if not line.startswith("--")]
    assert any(line.startswith("CREATE TABLE") and "Note" in line for line in statements), dry.stdout
    assert dry.stdout.rstrip().endswith(";")       # a script psql or sqlite3 can run
    assert history(tmp_path, where) == []           # nothing applied
    again = migrate(tmp_path, SCHEMA, "--dry-run", *where)
    assert again.stdout == dry.stdout               # still pending: the dry run changed nothing


def test_migrate_applies_once_and_records_it(tmp_path: Path, where: list[str]) -> None:
    applied = migrate(tmp_path, SCHEMA, *where)
    assert applied.returncode == 0, applied.stderr
    assert "applied" in applied.stdout and "created Note" in applied.stdout
    assert "up to date" in migrate(tmp_path, SCHEMA, *where).stdout
    assert "up to date" in migrate(tmp_path, SCHEMA, "--dry-run", *where).stdout
    grown = migrate(tmp_path, WITH_TAGS, *where)
    assert "added Note.tags" in grown.stdout, grown.stdout + grown.stderr
    entries = history(tmp_path, where)
    assert len(entries) == 2, entries
    assert "Note" in entries[0] and "tags" in entries[1]


def test_destructive_changes_need_allow_destructive(tmp_path: Path, where: list[str]) -> None:
    assert migrate(tmp_path, SCHEMA, *where).returncode == 0
    for args in (["--dry-run"], []):
        refused = migrate(tmp_path, WITHOUT_BODY, *args, *where)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "error: Refusing a destructive schema change" in refused.stderr
        assert "Note.body" in refused.stderr and "Traceback" not in refused.stderr
    assert len(history(tmp_path, where)) == 1
    dry = migrate(tmp_path, WITHOUT_BODY, "--dry-run", "--allow-destructive", *where)
    assert dry.returncode == 0 and "body" in dry.stdout, dry.stderr
    done = migrate(tmp_path, WITHOUT_BODY, "--allow-destructive", *where)
    assert done.returncode == 0 and "dropped Note.body" in done.stdout, done.stdout + done.stderr
    assert len(history(tmp_path, where)) == 2


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text(SCHEMA)
    both = subprocess.run([sys.executable, "-m", "cove", "migrate", str(path), "--schema", "other.py",
                           "--create", "--data-dir", str(tmp_path / "d")], capture_output=True, text=True)
    assert both.returncode == 2 and "two schemas" in both.stderr
    exclusive = subprocess.run([sys.executable, "-m", "cove", "migrate", "--dry-run", "--history"],
                               capture_output=True, text=True)
    assert exclusive.returncode == 2 and "not allowed with" in exclusive.stderr
    nowhere = subprocess.run([sys.executable, "-m", "cove", "migrate", str(path), "--data-dir", str(tmp_path / "e")],
                             capture_output=True, text=True)
    assert nowhere.returncode == 2 and "no Cove data" in nowhere.stderr
    assert not (tmp_path / "e").exists()
    broken = tmp_path / "broken.py"
    broken.write_text("data = 1\n")
    bad_schema = subprocess.run([sys.executable, "-m", "cove", "migrate", str(broken), "--create",
                                 "--data-dir", str(tmp_path / "f")], capture_output=True, text=True)
    assert bad_schema.returncode == 2 and bad_schema.stderr.startswith("error: ")
    assert not (tmp_path / "f").exists()   # a broken schema is reported before the database is touched
