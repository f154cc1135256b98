"""`--database-url` (and COVE_DATABASE_URL) on every command: bad URLs and unreachable databases get one
line naming the host (never the password, never a traceback) and status 1; a PostgreSQL URL keeps
everything in the database, fans events out through its LISTEN/NOTIFY, and `--reset-all` drops it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import EXAMPLES, free_port, start_sandbox
from pg_support import fresh_postgres_url
from realtime_support import Raw, create_todo, on_create

SECRET = "s3cr3t-pw"
FIELDS = "id content"   # of the bundled example's Todo

# Every command that touches data, with what it needs besides the URL.
DATA_COMMANDS = [
    ["keys", "list"], ["users", "list"], ["iam", "list"], ["export"], ["migrate"], ["migrate", "--dry-run"],
    ["migrate", "--history"], ["console", "list-admins"],
]


def cove(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cove", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Status 1, no traceback, no password, and an `error: ...` line that says each of ``expected``."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and SECRET not in output, output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, output
    for text in expected:
        assert text in lines[0], output
    return lines[0]


def run_all(commands: list[list[str]], url: str, cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Each command with ``--database-url url``, two at a time (each is a fresh interpreter)."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda c: cove(*c, "--database-url", url, cwd=cwd), commands))


def test_an_unknown_scheme_is_refused_by_every_command(tmp_path: Path) -> None:
    url = f"mysql://app:{SECRET}@db.internal:3306/app"
    commands = [*DATA_COMMANDS, ["sandbox", "--port", str(free_port())], ["serve", "--port", str(free_port())],
                ["import", str(tmp_path / "none.jsonl")]]
    (tmp_path / "none.jsonl").write_text("")
    for command, result in zip(commands, run_all(commands, url, tmp_path)):
        assert_one_line_error(result, "mysql://", "not supported"), command
    assert not (tmp_path / ".cove" / "data.sqlite").exists()  # nothing fell back to a local database


@pytest.mark.parametrize("url, expected", [
    (f"postgresql://app:{SECRET}@db.internal:port/app", "does not parse"),
    (f"postgresql://app:{SECRET}@db.internal:5432/app?pool_size=0", "pool_size must be a whole number"),
    (f"postgresql://app:{SECRET}@db.internal:5432/app?pool_size=lots", "pool_size must be a whole number"),
    (f"postgresql://app:{SECRET}@db.internal:5432/app?statement_timeout=30s",
     "statement_timeout must be whole milliseconds"),
    (f"postgresql://app:{SECRET}@db.internal:5432/app?schema=x;drop%20table%20t", "schema must be"),
    ("   ", "empty"),
    ("db.internal:5432", "not a URL"),
])
def test_a_bad_url_gets_one_line_naming_what_is_wrong(tmp_path: Path, url: str, expected: str) -> None:
    for result in run_all([["keys", "list"], ["sandbox", "--port", str(free_port())]], url, tmp_path):
        assert_one_line_error(result, expected)


def test_the_environment_variable_is_used_and_the_flag_wins(tmp_path: Path) -> None:
    bad = {"COVE_DATABASE_URL": f"mysql://app:{SECRET}@db.internal/app"}
    assert_one_line_error(cove("keys", "list", cwd=tmp_path, env=bad), "mysql://")
    assert_one_line_error(cove("migrate", "--dry-run", cwd=tmp_path, env=bad), "mysql://")
    database = tmp_path / "elsewhere" / "data.sqlite"
    database.parent.mkdir()
    created = cove("keys", "create", "--database-url", f"sqlite://{database}", cwd=tmp_path, env=bad)
    assert created.returncode == 0, created.stderr
    assert database.is_file() and not (tmp_path / ".cove").exists()


def test_a_sqlite_url_holds_the_data_and_the_banner_says_where(tmp_path: Path) -> None:
    database = tmp_path / "db" / "data.sqlite"
    database.parent.mkdir()
    box = start_sandbox(tmp_path, None, "--database-url", f"sqlite://{database}")
    try:
        assert any(line.strip() == f"Data              SQLite {database}" for line in box.lines), box.lines
        assert not any("Events" in line for line in box.lines)   # in-process, as without a URL
        assert box.gql("mutation { createTodo(input: {content: \"x\"}) { id } }").get("errors") is None
    finally:
        box.stop()
    assert database.is_file() and not (box.data_dir / "data.sqlite").exists()
    listed = cove("keys", "list", "--database-url", f"sqlite://{database}", cwd=tmp_path)
    assert box.api_key in listed.stdout


def test_backup_and_restore_refuse_a_postgresql_url_in_one_line(tmp_path: Path) -> None:
    url = f"postgresql://app:{SECRET}@db.internal:5432/app"
    backup = cove("backup", str(tmp_path / "b.sqlite"), "--database-url", url, cwd=tmp_path)
    assert_one_line_error(backup, "pg_dump", "cove export")
    restore = cove("restore", str(tmp_path / "b.sqlite"), "--database-url", url, cwd=tmp_path)
    assert_one_line_error(restore, "pg_dump", "cove export")


def test_url_helpers_hide_the_password_and_strip_coves_parameters() -> None:
    from cove.server.database import DatabaseError, check_database_url, redact_url, scrub
    from cove.store.postgres.parameters import libpq_url

    assert redact_url(f"postgresql://app:{SECRET}@h:5432/db") == "postgresql://app:***@h:5432/db"
    assert SECRET not in redact_url(f"postgresql://app:{SECRET}@h:notaport/db")   # unparsable, still hidden
    assert SECRET not in scrub(f"login for app:{SECRET} failed\n  at h", f"postgresql://app:{SECRET}@h/db")
    assert libpq_url("postgresql://u@h/db?schema=s&sslmode=require&pool_size=3") == \
        "postgresql://u@h/db?sslmode=require"
    for hostile in ("postgresql://u@h/db?schema=a%22b", "postgresql://u@h/db?schema=A", "postgresql://u@h/db\x00",
                    "postgresql://u@h/db?pool_size=-1", "postgresql://u@h/db?pool_size=1000000000",
                    "postgresql://u@h/db?schema=" + "s" * 64, "postgresql://u@h:99999/db", "ftp://u@h/db"):
        with pytest.raises(DatabaseError):
            check_database_url(hostile)
    check_database_url("postgres://u:p@h:5432/db?schema=shop_2&pool_size=20&sslmode=require")
    check_database_url("sqlite:///var/lib/cove/data.sqlite")


# -- PostgreSQL -----------------------------------------------------------------------------------

def _closed_port() -> int:
    return free_port()  # bound and released at once: nothing listens there


def test_a_database_that_is_down_is_named_by_every_command(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql://app:{SECRET}@127.0.0.1:{port}/app"
    commands = [*DATA_COMMANDS, ["sandbox", "--port", str(free_port())]]
    for command, result in zip(commands, run_all(commands, url, tmp_path)):
        assert_one_line_error(result, f"127.0.0.1:{port}")


def test_a_refused_login_is_one_line_naming_the_host(tmp_path: Path) -> None:
    url = f"postgresql://no_such_role_cove:{SECRET}@127.0.0.1:5432/test"
    for result in run_all([["keys", "list"], ["serve", "--port", str(free_port())]], url, tmp_path):
        line = assert_one_line_error(result, "127.0.0.1:5432")
        assert "no_such_role_cove" in line


def test_postgresql_holds_everything_and_carries_the_events(tmp_path: Path) -> None:
    url = fresh_postgres_url("dburl")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_sandbox(tmp_path / "a", None, "--database-url", url, command="serve")
    second = start_sandbox(tmp_path / "b", None, "--database-url", url, command="serve")
    try:
        for box in (first, second):
            text = "".join(box.lines)
            assert "Data              PostgreSQL" in text and "Events            PostgreSQL LISTEN/NOTIFY" in text
            assert "pool_size" not in text.split("Events", 1)[1].splitlines()[0]  # Cove's parameters stripped
        # The data dirs hold nothing: the database has the data, the keys and the secret.
        assert not list(first.data_dir.glob("*.sqlite*")) and not list(second.data_dir.glob("*.sqlite*"))
        assert first.api_key == second.api_key
        # An event made through one server reaches a subscriber of the other.
        listener = Raw(second)
        listener.init()
        listener.subscribe("s", on_create(FIELDS))
        made = create_todo(first, FIELDS, content="across")
        event = listener.expect("data")
        assert event["payload"]["data"]["onCreateTodo"]["id"] == made["id"]
        listener.close()
        keys = cove("keys", "list", "--database-url", url, cwd=tmp_path)
        assert first.api_key in keys.stdout, keys.stderr
        exported = cove("export", "--database-url", url, cwd=tmp_path)
        assert '"across"' in exported.stdout, exported.stderr
    finally:
        first.stop()
        second.stop()


def test_the_event_channel_differs_per_schema_and_broker_url_wins(tmp_path: Path) -> None:
    one, two = fresh_postgres_url("chan1"), fresh_postgres_url("chan2")
    boxes = []
    for name, url in (("a", one), ("b", two)):
        (tmp_path / name).mkdir()
        boxes.append(start_sandbox(tmp_path / name, None, "--database-url", url, command="serve"))
    redis = start_sandbox(tmp_path, None, "--database-url", fresh_postgres_url("chan3"),
                          "--broker-url", "redis://127.0.0.1:6379/0", command="serve")
    try:
        channels = [next(line for line in box.lines if "Events" in line).rsplit("channel", 1)[1].strip()
                    for box in boxes]
        assert channels[0] != channels[1]
        assert any("Events            Redis pub/sub redis://127.0.0.1:6379/0" in line for line in redis.lines), \
            redis.lines
    finally:
        for box in [*boxes, redis]:
            box.stop()


def test_reset_all_drops_the_database_and_reset_keeps_users(tmp_path: Path) -> None:
    url = fresh_postgres_url("reset")
    box = start_sandbox(tmp_path, None, "--database-url", url)
    create_todo(box, FIELDS, content="old")
    first_key = box.api_key
    box.stop()
    again = start_sandbox(tmp_path, None, "--database-url", url, "--reset-all")
    try:
        assert any("Reset: dropped" in line for line in again.lines), again.lines
        assert again.api_key != first_key
        items = again.gql("{ listTodos { items { content } } }")["data"]["listTodos"]["items"]
        assert items == []
    finally:
        again.stop()


def test_cove_users_and_console_work_on_the_database(tmp_path: Path) -> None:
    url = fresh_postgres_url("users")
    box = start_sandbox(tmp_path, EXAMPLES / "auth_schema.py", "--database-url", url)
    try:
        added = cove("users", "add", "ann@example.com", "--password", "Passw0rd!", "--database-url", url,
                     cwd=tmp_path)
        assert added.returncode == 0, added.stderr
        listed = cove("users", "list", "--database-url", url, cwd=tmp_path)
        assert "ann@example.com" in listed.stdout
        from authkit import sign_in

        assert "IdToken" in json.dumps(sign_in(box, "ann@example.com"))
        admin = cove("console", "create-admin", "root", "--password", "a long admin password", "--database-url", url,
                     cwd=tmp_path)
        assert admin.returncode == 0, admin.stderr
        assert "root" in cove("console", "list-admins", "--database-url", url, cwd=tmp_path).stdout
    finally:
        box.stop()


def _kid(token: str) -> str:
    import base64

    header = token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_rotate_signing_key_signs_new_tokens_and_old_ones_still_verify(tmp_path: Path, backend: str) -> None:
    from authkit import sign_in, sign_up_and_in

    # The sandbox's own --data-dir is tmp_path/data; the command names the same data.
    database = [] if backend == "sqlite" else ["--database-url", fresh_postgres_url("rotate")]
    where = database or ["--data-dir", str(tmp_path / "data")]
    schema = EXAMPLES / "auth_schema.py"
    box = start_sandbox(tmp_path, schema, *database)
    try:
        before = sign_up_and_in(box, "ann@example.com")["IdToken"]
    finally:
        box.stop()
    rotated = cove("users", "rotate-signing-key", *where, cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split("new signing key ", 1)[1].split(";", 1)[0]
    assert new_kid != _kid(before)
    box = start_sandbox(tmp_path, schema, *database, port=box.port)   # the same issuer URL as before
    try:
        after = sign_in(box, "ann@example.com")["IdToken"]
        assert _kid(after) == new_kid
        for token in (before, after):   # the token signed before the rotation is still accepted
            answer = box.gql("{ listNotes { items { id } } }", headers={"authorization": token, "x-api-key": None})
            assert answer.get("errors") is None, answer
    finally:
        box.stop()
