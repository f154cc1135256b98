"""`cove sandbox`: outputs file, schema reload, migrations, durability and shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from conftest import Sandbox, free_port, start_sandbox

SCHEMA_V1 = """
from cove import a, define_data
from helpers import note_field

schema = a.schema({
    "Note": a.model({"title": a.string().required(), "body": note_field()}),
}).authorization(lambda allow: [allow.public_api_key()])
data = define_data(schema=schema)
"""
HELPERS = "from cove import a\n\ndef note_field():\n    return a.string()\n"


def write_schema(folder: Path, text: str) -> Path:
    path = folder / "schema.py"
    path.write_text(textwrap.dedent(text))
    now = time.time()
    os.utime(path, (now, now))
    return path


def wait_for(box: Sandbox, words: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    seen = len(box.lines)
    while time.monotonic() < deadline:
        for line in box.lines[seen:]:
            if words in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no {words!r} in output:\n" + "".join(box.lines))


def test_outputs_file_has_amplify_structure(sandbox: Sandbox) -> None:
    out = sandbox.outputs
    assert out["version"].startswith("1.") and out["$schema"].endswith("outputs-schema.json")
    data = out["data"]
    assert data["url"] == sandbox.url and data["aws_region"] == "us-east-1"
    assert data["api_key"].startswith("da2-")
    assert data["default_authorization_type"] == "API_KEY" and "AWS_IAM" in data["authorization_types"]
    mis = data["model_introspection"]
    assert mis["version"] == 1 and set(mis["models"]) == {"Todo", "TodoList"}
    assert mis["enums"]["TodoPriority"]["values"] == ["low", "medium", "high"]
    todo = mis["models"]["Todo"]
    assert todo["pluralName"] == "Todos"
    assert todo["primaryKeyInfo"] == {"isCustomPrimaryKey": False, "primaryKeyFieldName": "id", "sortKeyFieldNames": []}
    assert todo["fields"]["createdAt"]["isReadOnly"] is True
    assert todo["fields"]["list"]["association"] == {"connectionType": "BELONGS_TO", "targetNames": ["listId"]}
    assert set(out) <= {"$schema", "version", "auth", "data", "storage", "geo", "analytics", "notifications", "custom"}
    assert "cove" in out["custom"]
    assert any(line.strip().startswith("API key") and data["api_key"] in line for line in sandbox.lines)


def test_api_key_and_data_survive_restart(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path)
    key = box.api_key
    created = box.gql('mutation { createTodo(input: {content: "persist"}) { id } }')["data"]["createTodo"]
    box.stop()
    box2 = start_sandbox(tmp_path, port=box.port)
    try:
        assert box2.api_key == key
        got = box2.gql('query ($id: ID!) { getTodo(id: $id) { content } }', {"id": created["id"]})
        assert got == {"data": {"getTodo": {"content": "persist"}}}
    finally:
        box2.stop()


def test_reload_on_change_adds_fields_and_models_without_losing_data(tmp_path: Path, sandbox_factory) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    schema = write_schema(folder, SCHEMA_V1)
    box = sandbox_factory(schema)
    note = box.gql('mutation { createNote(input: {title: "t1", body: "b"}) { id } }')["data"]["createNote"]
    time.sleep(0.05)
    write_schema(folder, SCHEMA_V1.replace(
        '"body": note_field()}),',
        '"body": note_field(), "stars": a.integer().default(3)}),\n    "Tag": a.model({"label": a.string()}),'))
    wait_for(box, "Reloaded schema")
    got = box.gql('query ($id: ID!) { getNote(id: $id) { title body stars } }', {"id": note["id"]})
    assert got == {"data": {"getNote": {"title": "t1", "body": "b", "stars": 3}}}
    assert box.gql('mutation { createTag(input: {label: "x"}) { label } }') == {"data": {"createTag": {"label": "x"}}}
    mis = box.outputs["data"]["model_introspection"]
    assert "Tag" in mis["models"] and "stars" in mis["models"]["Note"]["fields"]
    # a helper module next to the schema is re-imported too
    (folder / "helpers.py").write_text(HELPERS.replace("a.string()", "a.string().required()"))
    os.utime(folder / "helpers.py")
    line = wait_for(box, "Schema not reloaded")  # String -> String! is a changed type
    assert "Note.body" in "".join(box.lines)
    assert line


def test_destructive_changes_are_refused_unless_allowed(tmp_path: Path, sandbox_factory) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    schema = write_schema(folder, SCHEMA_V1)
    box = sandbox_factory(schema)
    box.gql('mutation { createNote(input: {title: "keep me"}) { id } }')
    write_schema(folder, SCHEMA_V1.replace('"Note": a.model', '"Memo": a.model'))
    wait_for(box, "Schema not reloaded")
    assert "model Note was removed (1 records would be dropped)" in "".join(box.lines)
    assert box.gql('{ listNotes { items { title } } }') == {"data": {"listNotes": {"items": [{"title": "keep me"}]}}}
    write_schema(folder, "this is not python")
    wait_for(box, "Schema not reloaded")
    write_schema(folder, SCHEMA_V1.replace('"body": note_field()', '"body": note_field(), "n": a.integer().required()'))
    wait_for(box, "Schema not reloaded")
    assert "Note.n is required and has no default" in "".join(box.lines)
    box.stop()
    # a fresh start with the destructive schema is refused too, and allowed with the flag
    write_schema(folder, SCHEMA_V1.replace('"Note": a.model', '"Memo": a.model'))
    cmd = [sys.executable, "-m", "cove", "sandbox", str(schema), "--port", str(free_port()), "--data-dir",
           str(box.data_dir), "--outputs", str(tmp_path / "o.json"), "--no-watch"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "--allow-destructive-changes" in refused.stderr
    box2 = sandbox_factory(schema, "--allow-destructive-changes", data_dir=box.data_dir)
    assert box2.gql('{ listMemos { items { title } } }') == {"data": {"listMemos": {"items": []}}}


def test_invalid_schema_fails_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from cove import a, define_data\n"
                   "data = define_data(schema=a.schema({'Post': a.model({'title': a.string()})}))\n")
    r = subprocess.run([sys.executable, "-m", "cove", "sandbox", str(bad), "--port", str(free_port()),
                        "--data-dir", str(tmp_path / "d"), "--outputs", str(tmp_path / "o.json")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "Model Post is missing authorization rules" in r.stderr


def test_module_attribute_form(tmp_path: Path, sandbox_factory) -> None:
    box = sandbox_factory("cove.example_schema:data")
    assert "Todo" in box.outputs["data"]["model_introspection"]["models"]


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path, None, "--no-watch")
    q = "mutation ($input: CreateTodoInput!) { createTodo(input: $input) { id } }"

    def write(i: int) -> str:
        with httpx.Client(timeout=30) as c:
            r = c.post(box.url, json={"query": q, "variables": {"input": {"content": f"w{i}"}}},
                       headers={"x-api-key": box.api_key})
            return str(r.json()["data"]["createTodo"]["id"])

    with ThreadPoolExecutor(16) as pool:
        acked = set(pool.map(write, range(400)))
    box.process.send_signal(signal.SIGKILL)  # no chance to flush or checkpoint anything
    box.process.wait()
    box2 = start_sandbox(tmp_path, None, "--no-watch", port=box.port)
    try:
        seen: set[str] = set()
        token = None
        while True:
            page = box2.gql("query ($t: String) { listTodos(limit: 1000, nextToken: $t) { items { id } nextToken } }",
                            {"t": token})["data"]["listTodos"]
            seen |= {t["id"] for t in page["items"]}
            token = page["nextToken"]
            if not token:
                break
        assert acked <= seen and len(acked) == 400
    finally:
        box2.stop()


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    box = start_sandbox(tmp_path)
    box.process.send_signal(signal.SIGINT)
    assert box.process.wait(10) == 0
    time.sleep(0.2)
    assert any("Stopped." in line for line in box.lines)
    # the port is free again
    box2 = start_sandbox(tmp_path, port=box.port)
    box2.stop()


def test_port_in_use_is_reported(sandbox: Sandbox, tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "cove", "sandbox", "--port", str(sandbox.port), "--data-dir",
                        str(tmp_path / "d"), "--outputs", str(tmp_path / "o.json")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "in use" in r.stderr.lower()
    assert json.loads(sandbox.outputs_path.read_text())["data"]["url"] == sandbox.url
