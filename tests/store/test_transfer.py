"""Data in and out against real servers: an online backup during a write burst, restored and compared;
export then import into an empty data dir; invalid files rejected with nothing written; sandbox
--reset / --reset-all; cove seed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from authkit import PASSWORD, sign_in
from botocore.exceptions import ClientError
from conftest import EXAMPLES

AUTH = EXAMPLES / "auth_schema.py"
SHOP = EXAMPLES / "shop_schema.py"


@pytest.fixture
def backend() -> str:
    """These servers are SQLite's (backup and restore copy its files): the name tests/conftest.py's
    sandbox fixtures read, which tests/store/conftest.py's ``backend`` (a store object) would shadow."""
    return "sqlite"
CREATE_POSTER = "mutation ($t: String) { createPoster(input: {title: $t}) { id } }"
CREATE_TODO = "mutation ($c: String!, $p: TodoPriority) { createTodo(input: {content: $c, priority: $p}) { id } }"


def cove(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cove", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def exported(data_dir: Path, schema: Path | None = None, *extra: str) -> list[dict[str, Any]]:
    result = cove("export", *([schema] if schema else []), "--data-dir", data_dir, *extra)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_backup_during_a_write_burst_restores_a_consistent_copy(sandbox_factory: Any, tmp_path: Path) -> None:
    box = sandbox_factory(AUTH, "--no-watch")
    assert cove("users", "--data-dir", box.data_dir, "add", "kept@example.com", "--password", PASSWORD).returncode == 0
    acknowledged = 0
    stop = threading.Event()

    def burst() -> None:
        nonlocal acknowledged
        while not stop.is_set():
            body = box.gql(CREATE_POSTER, {"t": f"n{acknowledged:06d}"})
            assert body.get("errors") is None, body
            acknowledged += 1

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while acknowledged < count:
            assert writer.is_alive() and time.monotonic() < deadline, f"the write burst stopped at {acknowledged}"
            time.sleep(0.01)

    writer = threading.Thread(target=burst)
    writer.start()
    try:
        wait_for(30)
        before = acknowledged
        backup_file = tmp_path / "backup.sqlite"
        result = cove("backup", backup_file, "--data-dir", box.data_dir)
        after = acknowledged
        wait_for(after + 20)  # the burst goes on after the copy
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    assert backup_file.stat().st_mode & 0o777 == 0o600

    restored = tmp_path / "restored"
    result = cove("restore", backup_file, "--data-dir", restored)
    assert result.returncode == 0, result.stderr
    copy = [r["record"] for r in exported(restored, AUTH, "--model", "Poster")]
    live = {r["record"]["id"]: r["record"] for r in exported(box.data_dir, AUTH, "--model", "Poster")}
    titles = sorted(r["title"] for r in copy)
    # One writer, each write acknowledged before the next: a consistent copy holds exactly the first k.
    assert before <= len(titles) <= after + 1
    assert titles == [f"n{i:06d}" for i in range(len(titles))]
    assert all(live[r["id"]] == r for r in copy)  # every restored record is the live one, field by field
    assert len(live) >= len(copy) + 20
    def signing_keys(data_dir: Path) -> list[tuple[str, str]]:   # in the database since they left keys/
        with sqlite3.connect(data_dir / "data.sqlite") as db:
            return db.execute("SELECT kid, pem FROM _cove_signing_keys ORDER BY kid").fetchall()

    assert signing_keys(restored) == signing_keys(box.data_dir) != []

    refused = cove("restore", backup_file, "--data-dir", restored)
    assert refused.returncode == 1 and "pass --force" in refused.stderr

    again = sandbox_factory(AUTH, "--no-watch", data_dir=restored)
    assert again.api_key == box.api_key  # keys came along
    listed = again.gql("query { listPosters(limit: 1000) { items { id } } }")
    assert len(listed["data"]["listPosters"]["items"]) == len(copy)
    assert sign_in(again, "kept@example.com")["AccessToken"]  # and users


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"not a database at all" * 100)
    result = cove("restore", bogus, "--data-dir", tmp_path / "d")
    assert result.returncode == 1 and "is not a Cove backup" in result.stderr
    assert not (tmp_path / "d" / "data.sqlite").exists()
    missing = cove("backup", tmp_path / "b.sqlite", "--data-dir", tmp_path / "nothing-here")
    assert missing.returncode == 1 and "no database" in missing.stderr


def test_backup_and_export_refuse_to_overwrite_the_live_database(sandbox_factory: Any) -> None:
    box = sandbox_factory(None, "--no-watch")
    assert box.gql(CREATE_TODO, {"c": "keep me"}).get("errors") is None
    database = box.data_dir / "data.sqlite"
    for target in (database, Path(f"{database}-wal")):
        result = cove("backup", target, "--data-dir", box.data_dir)
        assert result.returncode == 1 and "is the live database" in result.stderr
    result = cove("export", "--data-dir", box.data_dir, "--out", database)
    assert result.returncode == 1 and "is the live database" in result.stderr
    listed = box.gql("query { listTodos { items { content } } }")["data"]["listTodos"]["items"]
    assert listed == [{"content": "keep me"}]


def test_restore_refuses_a_backup_that_would_write_outside_the_keys_folder(sandbox_factory: Any,
                                                                          tmp_path: Path) -> None:
    box = sandbox_factory(None, "--no-watch")
    backup_file = tmp_path / "backup.sqlite"
    assert cove("backup", backup_file, "--data-dir", box.data_dir).returncode == 0
    with sqlite3.connect(backup_file) as conn:
        conn.execute("INSERT INTO _cove_backup_files VALUES ('keys/../../escaped.pem', x'00')")
    target = tmp_path / "restored"
    result = cove("restore", backup_file, "--data-dir", target)
    assert result.returncode == 1 and "unexpected file 'keys/../../escaped.pem'" in result.stderr
    assert not (tmp_path / "escaped.pem").exists() and not (target / "data.sqlite").exists()
    assert list(target.iterdir()) == []  # nothing restored, no temporary file left


def shop_data(box: Any) -> None:
    customers = [
        {"name": "Ada", "email": "ada@example.com", "tier": "gold",
         "address": {"street": "1 Loop Rd", "city": "London", "zip": None}},
        {"name": "Bob", "tier": None, "address": None},
    ]
    ids = []
    for c in customers:
        body = box.gql("mutation ($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }", {"i": c})
        assert body.get("errors") is None, body
        ids.append(body["data"]["createCustomer"]["id"])
    for n in range(3):
        order = {"customerId": ids[n % 2], "placedAt": f"2026-11-0{n + 1}T10:00:00.000Z", "total": 10.5 * n,
                 "currency": "EUR", "status": "open" if n else "shipped",
                 "lines": [{"sku": f"s{n}", "quantity": n + 1, "unitPrice": 1.25}], "notes": ["fragile", "gift"][:n]}
        body = box.gql("mutation ($i: CreateOrderInput!) { createOrder(input: $i) { customerId } }", {"i": order})
        assert body.get("errors") is None, body


def test_export_then_import_into_an_empty_data_dir_gives_identical_records(sandbox_factory: Any,
                                                                           tmp_path: Path) -> None:
    box = sandbox_factory(SHOP, "--no-watch")
    shop_data(box)
    dump = tmp_path / "shop.jsonl"
    result = cove("export", SHOP, "--data-dir", box.data_dir, "--out", dump)
    assert result.returncode == 0 and "exported 5 records (Customer 2, Order 3)" in result.stderr
    via_stdout = cove("export", SHOP, "--data-dir", box.data_dir)
    assert via_stdout.stdout == dump.read_text()

    empty = tmp_path / "empty"
    result = cove("import", dump, SHOP, "--data-dir", empty)
    assert result.returncode == 0, result.stderr
    assert "imported 5 records (Customer 2, Order 3)" in result.stderr
    again = cove("export", SHOP, "--data-dir", empty)
    assert again.stdout == dump.read_text()  # the same records, byte for byte
    piped = subprocess.run([sys.executable, "-m", "cove", "import", "-", str(SHOP), "--data-dir",
                            str(tmp_path / "piped")], input=dump.read_text(), capture_output=True, text=True,
                           timeout=120)
    assert piped.returncode == 0 and "imported 5 records" in piped.stderr
    assert cove("export", SHOP, "--data-dir", tmp_path / "piped").stdout == dump.read_text()
    records = [json.loads(line)["record"] for line in dump.read_text().splitlines()]
    ada = next(r for r in records if r.get("name") == "Ada")
    assert ada["address"] == {"street": "1 Loop Rd", "city": "London", "zip": None}
    assert {tuple(r["notes"] or []) for r in records if "placedAt" in r} == {(), ("fragile",), ("fragile", "gift")}

    served = sandbox_factory(SHOP, "--no-watch", data_dir=empty)
    got = served.gql("query ($id: ID!) { getCustomer(id: $id) { name tier address { city } createdAt } }",
                     {"id": ada["id"]})
    assert got["data"]["getCustomer"] == {"name": "Ada", "tier": "gold", "address": {"city": "London"},
                                          "createdAt": ada["createdAt"]}

    only = exported(box.data_dir, SHOP, "--model", "Customer")
    assert {e["model"] for e in only} == {"Customer"} and len(only) == 2
    unknown = cove("export", SHOP, "--data-dir", box.data_dir, "--model", "Nope")
    assert unknown.returncode == 1 and "no model 'Nope'" in unknown.stderr


def todo_line(record: dict[str, Any], model: str = "Todo") -> str:
    base = {"id": "t1", "content": "ok", "done": False, "priority": None, "due": None, "tags": None,
            "listId": None, "createdAt": "2026-11-29T10:00:00.000Z", "updatedAt": "2026-11-29T10:00:00.000Z"}
    return json.dumps({"model": model, "record": {**base, **record}})


def test_invalid_records_are_rejected_and_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "data"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        todo_line({"id": "good"}),
        todo_line({"id": "a", "priority": "urgent"}),
        "{not json",
        todo_line({"id": "b"}, model="Nope"),
        todo_line({"id": "c", "content": None}),
        todo_line({"id": "d", "colour": "red"}),
        todo_line({"id": "e", "done": "yes"}),
        todo_line({"id": "f", "tags": "one"}),
        todo_line({"id": "g", "due": "2026-13-45"}),
        json.dumps(["Todo", {}]),
    ]) + "\n")
    result = cove("import", bad, "--data-dir", target)
    assert result.returncode == 1
    err = result.stderr
    assert "nothing imported, 9 problem(s)" in err
    assert "line 2: Todo.priority: 'urgent' is not one of low, medium, high" in err
    assert "line 3: not JSON" in err
    assert "line 4: 'Nope' is not a model of the schema (models: Todo, TodoList)" in err
    assert "line 5: Todo.content is required but is missing or null" in err
    assert "line 6: Todo.colour is not a field of Todo" in err
    assert "line 7: Todo.done:" in err and "line 8: Todo.tags must be a list" in err
    assert "line 9: Todo.due:" in err and "line 10: each line must be" in err
    assert "line 1:" not in err
    assert exported(target) == []  # nothing half written

    many = tmp_path / "many.jsonl"
    many.write_text("".join(todo_line({"id": f"m{i}", "priority": "urgent"}) + "\n" for i in range(25)))
    result = cove("import", many, "--data-dir", target)
    assert result.returncode == 1 and "nothing imported, the first 20 problems" in result.stderr
    assert "line 20:" in result.stderr and "line 21:" not in result.stderr

    duplicate = tmp_path / "dup.jsonl"
    duplicate.write_text(todo_line({"id": "x"}) + "\n" + todo_line({"id": "y"}) + "\n" + todo_line({"id": "x"}) + "\n")
    result = cove("import", duplicate, "--data-dir", target)
    assert result.returncode == 1
    assert "nothing imported: line 3: a Todo with key {'id': 'x'} already exists" in result.stderr
    assert exported(target) == []  # x and y were rolled back with the file

    first = tmp_path / "first.jsonl"
    first.write_text(todo_line({"id": "y", "tags": ["a", "b"], "priority": "high"}) + "\n")
    assert cove("import", first, "--data-dir", target).returncode == 0
    assert cove("import", duplicate, "--data-dir", target).returncode == 1  # y exists now
    assert [e["record"]["id"] for e in exported(target)] == ["y"]


def test_sandbox_reset_keeps_users_and_keys_unless_asked(sandbox_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = sandbox_factory(AUTH, "--no-watch", data_dir=data_dir)
    assert first.gql(CREATE_POSTER, {"t": "old"}).get("errors") is None
    assert cove("users", "--data-dir", data_dir, "add", "stay@example.com", "--password", PASSWORD).returncode == 0
    key = first.api_key
    first.stop()

    reset = sandbox_factory(AUTH, "--no-watch", "--reset", data_dir=data_dir)
    assert any("deleted 1 records; users, groups and keys kept" in line for line in reset.lines)
    assert reset.gql("query { listPosters { items { id } } }")["data"]["listPosters"]["items"] == []
    assert reset.api_key == key
    assert sign_in(reset, "stay@example.com")["AccessToken"]
    reset.stop()

    everything = sandbox_factory(AUTH, "--no-watch", "--reset-all", data_dir=data_dir)
    assert everything.api_key != key
    with pytest.raises(ClientError):
        sign_in(everything, "stay@example.com")


def test_seed_fills_a_fresh_sandbox(sandbox_factory: Any, tmp_path: Path) -> None:
    box = sandbox_factory(None, "--no-watch")
    seed = tmp_path / "seed.py"
    seed.write_text(
        "import cove\n"
        "client = cove.generate_client()\n"
        "for n, p in enumerate(['low', 'medium', 'high']):\n"
        "    result = client.models.Todo.create({'content': f'seeded {n}', 'priority': p})\n"
        "    assert not result.errors, result.errors\n"
        "result = client.models.Todo.create({'content': 'as iam'}, auth_mode='iam')\n"
        "assert not result.errors, result.errors\n")
    result = cove("seed", seed, "--outputs", box.outputs_path, "--data-dir", box.data_dir)
    assert result.returncode == 0, result.stderr
    listed = box.gql("query { listTodos { items { content priority } } }")["data"]["listTodos"]["items"]
    assert sorted(t["content"] for t in listed) == ["as iam", "seeded 0", "seeded 1", "seeded 2"]
    iam = cove("iam", "--data-dir", box.data_dir, "list").stdout.splitlines()
    assert len(iam) == 1 and "\trevoked\t" in iam[0]  # the seed's credentials end with it

    failing = tmp_path / "failing.py"
    failing.write_text("raise RuntimeError('no such table')\n")
    result = cove("seed", failing, "--outputs", box.outputs_path)
    assert result.returncode == 1 and "failing.py raised RuntimeError: no such table" in result.stderr
    missing = cove("seed", seed, "--outputs", tmp_path / "none.json")
    assert missing.returncode == 1 and "start the sandbox first" in missing.stderr
