"""The STOCK aws-amplify v6 JS data client, unchanged, against `cove sandbox`.

Each test talks to the sandbox (bundled example schema, API-key mode) through `amplify_driver.mjs`, which
calls `Amplify.configure()` with the sandbox's `amplify_outputs.json` as written and then
`generateClient()` from `aws-amplify/data`. The driver runs one step per JSON line and answers with one
JSON line holding what the client resolved with plus the HTTP exchange it made (`wire`), which every
assertion message includes.

Needs Node >= 20 and `npm ci` in tests/compat (pinned aws-amplify, see package-lock.json).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.compat, pytest.mark.both_backends]

COMPAT_DIR = Path(__file__).resolve().parent
DRIVER = COMPAT_DIR / "amplify_driver.mjs"
STEP_TIMEOUT = 60.0


# --------------------------------------------------------------------------------------------- helpers

def require_node_env() -> str:
    """Fail (never skip) when Node or the pinned npm packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (>= 20) is not on PATH; the compat tests drive the aws-amplify JS client with it")
    pinned = json.loads((COMPAT_DIR / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        manifest = COMPAT_DIR / "node_modules" / name / "package.json"
        if not manifest.exists():
            pytest.fail(f"{name} is not installed in tests/compat/node_modules: run `npm ci` in tests/compat "
                        f"(cd {COMPAT_DIR} && npm ci)")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            pytest.fail(f"tests/compat/node_modules has {name}@{installed} but package.json pins {version}: "
                        f"run `npm ci` in tests/compat (cd {COMPAT_DIR} && npm ci)")
    return node


class AmplifyDriver:
    """A running `node amplify_driver.mjs <outputs>`: send a step, get its result line."""

    def __init__(self, node: str, outputs_path: Path, log: Callable[[], str] = lambda: "") -> None:
        self.log = log
        self.stderr: list[str] = []
        self.proc = subprocess.Popen([node, str(DRIVER), str(outputs_path)], cwd=COMPAT_DIR, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def diagnostics(self) -> str:
        return ("\n--- driver stderr ---\n" + "".join(self.stderr[-60:]) +
                "\n--- sandbox output (tail) ---\n" + self.log())

    def run(self, op: str, **step: Any) -> dict[str, Any]:
        """Run one step; return the driver's result line. An unexpected throw fails the test."""
        assert self.proc.stdin is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"amplify driver already exited ({self.proc.returncode})" + self.diagnostics())
        self.proc.stdin.write(json.dumps({"op": op, **step}) + "\n")
        self.proc.stdin.flush()
        try:
            raw = self.lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no answer from the amplify driver within {STEP_TIMEOUT}s for step "
                                 f"{op} {step}" + self.diagnostics()) from None
        if raw is None:
            self.proc.wait(10)
            raise AssertionError(f"amplify driver exited ({self.proc.returncode}) during step {op} {step}"
                                 + self.diagnostics())
        line: dict[str, Any] = json.loads(raw)
        if "thrown" in line and not step.get("expectThrow"):
            raise AssertionError("the aws-amplify client threw: " + show(line) + self.diagnostics())
        return line

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def show(line: dict[str, Any]) -> str:
    return json.dumps(line, indent=1)


def ok(line: dict[str, Any]) -> dict[str, Any]:
    """The client's result for a step that must not report errors."""
    result: dict[str, Any] = line["result"]
    assert not result.get("errors"), "the client reported errors:\n" + show(line)
    return result


def data_of(line: dict[str, Any]) -> Any:
    return ok(line)["data"]


Json = dict[str, Any]


def list_all(driver: AmplifyDriver, *, page_limit: int | None = None, **kw: Any) -> tuple[list[Json], list[Json]]:
    """Follow nextToken from Python; return (all items, every result line)."""
    items: list[Json] = []
    lines: list[Json] = []
    token: str | None = None
    while True:
        args = dict(kw)
        if page_limit is not None:
            args["limit"] = page_limit
        if token is not None:
            args["nextToken"] = token
        line = driver.run("list", model="Todo", **args)
        result = ok(line)
        assert isinstance(result["data"], list), show(line)
        lines.append(line)
        items += result["data"]
        token = result.get("nextToken")
        assert token is None or (isinstance(token, str) and token), "nextToken must be null or a string:\n" + show(line)
        if token is None:
            return items, lines
        assert len(lines) < 500, "nextToken never ended (500 pages)"


def ids(items: list[Json]) -> list[str]:
    return [str(i["id"]) for i in items]


def parse_datetime(value: Any) -> dt.datetime:
    assert isinstance(value, str) and value.endswith("Z"), f"AWSDateTime should be UTC ISO-8601 with Z: {value!r}"
    return dt.datetime.fromisoformat(value)


def tag() -> str:
    return "t" + uuid.uuid4().hex[:10]


# -------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def node() -> str:
    return require_node_env()


@pytest.fixture(scope="module")
def sandbox_log(sandbox: Any) -> Callable[[], str]:
    """The sandbox's recent output (conftest keeps draining it after "Ready")."""
    return lambda: "".join(sandbox.lines[-40:])


@pytest.fixture(scope="module")
def amplify(node: str, sandbox: Any, sandbox_log: Callable[[], str]) -> Iterator[AmplifyDriver]:
    driver = AmplifyDriver(node, sandbox.outputs_path, sandbox_log)
    yield driver
    driver.close()


@pytest.fixture
def bad_key_amplify(node: str, sandbox: Any, sandbox_log: Callable[[], str],
                    tmp_path: Path) -> Iterator[AmplifyDriver]:
    outputs = json.loads(sandbox.outputs_path.read_text())
    assert outputs["data"]["api_key"], "the sandbox outputs have no api_key"
    outputs["data"]["api_key"] = "da2-" + "x" * 26
    path = tmp_path / "amplify_outputs.json"
    path.write_text(json.dumps(outputs))
    driver = AmplifyDriver(node, path, sandbox_log)
    yield driver
    driver.close()


def create(amplify: AmplifyDriver, **fields: Any) -> dict[str, Any]:
    line = amplify.run("create", model="Todo", input=fields)
    rec = data_of(line)
    assert isinstance(rec, dict) and rec.get("id"), "create returned no record/id:\n" + show(line)
    return rec


# ------------------------------------------------------------------------------------------------ tests

def test_node_and_pinned_client_installed() -> None:
    """A plain FAIL (not a skip, not only a fixture error) when `npm ci` has not been run."""
    node = require_node_env()
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    assert int(version.strip().lstrip("v").split(".")[0]) >= 20, f"Node >= 20 needed, found {version.strip()}"


def test_outputs_file_accepted_as_is(amplify: AmplifyDriver, sandbox: Any) -> None:
    api = data_of(amplify.run("config"))
    gql = api["GraphQL"]
    assert gql["endpoint"] == sandbox.url
    assert gql["apiKey"] == sandbox.api_key
    assert gql["defaultAuthMode"] == "apiKey"
    models = gql["modelIntrospection"]["models"]
    assert {"Todo", "TodoList"} <= set(models)

    priority_type = models["Todo"]["fields"]["priority"]["type"]
    assert isinstance(priority_type, dict) and "enum" in priority_type, priority_type
    values = data_of(amplify.run("enum", name=priority_type["enum"]))
    assert values == ["low", "medium", "high"]


def test_create_get_update_delete(amplify: AmplifyDriver) -> None:
    t = tag()
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    line = amplify.run("create", model="Todo",
                       input={"content": f"{t} buy milk", "priority": "high", "due": "2026-12-01", "tags": ["a", "b"]})
    created = data_of(line)
    assert isinstance(created["id"], str) and created["id"], show(line)
    assert created["content"] == f"{t} buy milk"
    assert created["done"] is False, "done defaults to false in the example schema:\n" + show(line)
    assert created["priority"] == "high"
    assert created["due"] == "2026-12-01"
    assert created["tags"] == ["a", "b"]
    assert created["listId"] is None
    created_at = parse_datetime(created["createdAt"])
    assert before <= created_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert parse_datetime(created["updatedAt"]) >= created_at
    # The request the stock client made is the documented one.
    request = line["wire"][0]["request"]
    assert request["headers"]["x-api-key"] == amplify_api_key(amplify)
    assert request["body"]["variables"] == {"input": {"content": f"{t} buy milk", "priority": "high",
                                                      "due": "2026-12-01", "tags": ["a", "b"]}}
    assert line["wire"][0]["response"]["status"] == 200

    todo_id = created["id"]
    line = amplify.run("get", model="Todo", id=todo_id)
    assert data_of(line) == created, show(line)
    assert "list" in line["lazy"], "belongsTo `list` should be a lazy loader on the record:\n" + show(line)

    line = amplify.run("update", model="Todo", input={"id": todo_id, "content": f"{t} buy oat milk", "done": True})
    updated = data_of(line)
    assert updated["id"] == todo_id
    assert updated["content"] == f"{t} buy oat milk"
    assert updated["done"] is True
    assert (updated["priority"], updated["due"], updated["tags"]) == ("high", "2026-12-01", ["a", "b"]), show(line)
    assert updated["createdAt"] == created["createdAt"]
    assert parse_datetime(updated["updatedAt"]) >= parse_datetime(created["updatedAt"])

    line = amplify.run("get", model="Todo", id=todo_id)
    assert data_of(line) == updated, show(line)

    line = amplify.run("delete", model="Todo", id=todo_id)
    deleted = data_of(line)
    assert deleted["id"] == todo_id
    assert deleted["content"] == f"{t} buy oat milk"

    line = amplify.run("get", model="Todo", id=todo_id)
    assert line["result"]["data"] is None, show(line)
    assert not line["result"].get("errors"), show(line)


def amplify_api_key(amplify: AmplifyDriver) -> str:
    return str(data_of(amplify.run("config"))["GraphQL"]["apiKey"])


def test_get_missing_is_null(amplify: AmplifyDriver) -> None:
    line = amplify.run("get", model="Todo", id=str(uuid.uuid4()))
    assert line["result"]["data"] is None, show(line)
    assert not line["result"].get("errors"), show(line)


def test_create_without_required_field_reports_error(amplify: AmplifyDriver) -> None:
    t = tag()
    line = amplify.run("create", model="Todo", input={"done": True, "tags": [t]})
    assert line["result"]["data"] is None, show(line)
    assert line["result"].get("errors"), "missing required `content` must be an error:\n" + show(line)
    assert all(e.get("message") for e in line["result"]["errors"]), show(line)
    everything, _ = list_all(amplify)
    assert not [i for i in everything if i.get("tags") == [t]], "the invalid create must not store anything"


def test_list_with_filters(amplify: AmplifyDriver) -> None:
    t = tag()
    specs = [
        ("a-1", True, "high"), ("a-2", False, "high"), ("a-3", True, "low"),
        ("b-1", False, "medium"), ("b-2", True, "high"), ("b-3", False, None),
    ]
    by_suffix = {}
    for suffix, done, priority in specs:
        fields: dict[str, Any] = {"content": f"{t}-{suffix}", "done": done}
        if priority is not None:
            fields["priority"] = priority
        by_suffix[suffix] = create(amplify, **fields)

    def expect(filter_: dict[str, Any], suffixes: set[str]) -> None:
        items, lines = list_all(amplify, filter=filter_)
        got = ids(items)
        assert len(got) == len(set(got)), "duplicate items:\n" + "\n".join(map(show, lines))
        want = {by_suffix[s]["id"] for s in suffixes}
        assert set(got) == want, (f"filter {filter_}: got {sorted(i['content'] for i in items)}, "
                                  f"want {sorted(f'{t}-{s}' for s in suffixes)}\n" + "\n".join(map(show, lines)))
        for item in items:  # the returned records are the stored ones
            suffix = item["content"].removeprefix(f"{t}-")
            assert item == by_suffix[suffix], show(lines[0])

    mine = {"content": {"beginsWith": t}}
    expect(mine, {s for s, _, _ in specs})
    expect({"content": {"beginsWith": f"{t}-a"}}, {"a-1", "a-2", "a-3"})
    expect({"and": [mine, {"done": {"eq": True}}]}, {"a-1", "a-3", "b-2"})
    expect({"and": [mine, {"priority": {"eq": "high"}}]}, {"a-1", "a-2", "b-2"})
    expect({**mine, "done": {"eq": False}, "priority": {"eq": "high"}}, {"a-2"})
    expect({"and": [mine, {"or": [{"priority": {"eq": "low"}}, {"priority": {"eq": "medium"}}]}]}, {"a-3", "b-1"})
    expect({"and": [mine, {"not": {"done": {"eq": True}}}]}, {"a-2", "b-1", "b-3"})
    expect({"and": [mine, {"priority": {"ne": "high"}}]}, {"a-3", "b-1", "b-3"})
    expect({"content": {"eq": f"{t}-b-3"}}, {"b-3"})
    expect({"content": {"beginsWith": f"{t}-zzz"}}, set())

    # Unscoped filters: the server's answer must equal filtering the full listing ourselves.
    everything, _ = list_all(amplify)
    unscoped: list[tuple[Json, Callable[[Json], bool]]] = [
        ({"done": {"eq": True}}, lambda i: i["done"] is True),
        ({"priority": {"eq": "high"}}, lambda i: i["priority"] == "high"),
    ]
    for filter_, pred in unscoped:
        items, lines = list_all(amplify, filter=filter_)
        assert sorted(ids(items)) == sorted(ids([i for i in everything if pred(i)])), \
            f"filter {filter_}\n" + "\n".join(map(show, lines))


def test_list_pagination(amplify: AmplifyDriver) -> None:
    t = tag()
    created = [create(amplify, content=f"{t} item {n}", priority="low") for n in range(7)]
    created_ids = set(ids(created))

    # Unfiltered, limit 2: every page but the last is full, nothing repeats, nothing is missed.
    items, lines = list_all(amplify, page_limit=2)
    pages = [line["result"]["data"] for line in lines]
    got = ids(items)
    dump = "\n".join(map(show, lines))
    assert len(got) == len(set(got)), "an item was returned twice:\n" + dump
    assert created_ids <= set(got), "created items missing from the paginated listing:\n" + dump
    assert all(len(p) == 2 for p in pages[:-1]), f"page sizes {[len(p) for p in pages]}:\n" + dump
    assert len(pages[-1]) <= 2
    assert all(line["wire"][0]["request"]["body"]["variables"].get("limit") == 2 for line in lines)
    everything, _ = list_all(amplify)
    assert sorted(got) == sorted(ids(everything)), "paginated and unpaginated listings differ"

    # Filtered, limit 2: exactly our 7, each once (pages may be short: limit bounds what is examined).
    items, lines = list_all(amplify, page_limit=2, filter={"content": {"beginsWith": t}})
    got = ids(items)
    dump = "\n".join(map(show, lines))
    assert len(got) == len(set(got)), "an item was returned twice:\n" + dump
    assert set(got) == created_ids, dump
    assert all(len(line["result"]["data"]) <= 2 for line in lines), dump
    assert {i["content"] for i in items} == {f"{t} item {n}" for n in range(7)}


def test_relationship_lazy_loaders(amplify: AmplifyDriver) -> None:
    t = tag()
    line = amplify.run("create", model="TodoList", input={"name": f"{t} groceries"})
    todo_list = data_of(line)
    assert todo_list["name"] == f"{t} groceries", show(line)
    a = create(amplify, content=f"{t} eggs", listId=todo_list["id"])
    b = create(amplify, content=f"{t} flour", listId=todo_list["id"])
    create(amplify, content=f"{t} unrelated")
    assert a["listId"] == todo_list["id"]

    line = amplify.run("lazy", model="Todo", id=a["id"], field="list")
    parent = data_of(line)
    assert parent["id"] == todo_list["id"] and parent["name"] == f"{t} groceries", show(line)

    line = amplify.run("lazy", model="TodoList", id=todo_list["id"], field="todos")
    children = data_of(line)
    assert sorted(ids(children)) == sorted([a["id"], b["id"]]), show(line)


def test_wrong_api_key_is_unauthorized(amplify: AmplifyDriver, bad_key_amplify: AmplifyDriver) -> None:
    t = tag()
    steps: list[tuple[str, Json]] = [("create", {"input": {"content": f"{t} sneaky"}}),
                     ("get", {"id": str(uuid.uuid4())}),
                     ("update", {"input": {"id": str(uuid.uuid4()), "done": True}}),
                     ("delete", {"id": str(uuid.uuid4())}),
                     ("list", {})]
    for op, step in steps:
        line = bad_key_amplify.run(op, model="Todo", **step)
        result = line["result"]
        assert result["data"] == ([] if op == "list" else None), show(line)
        errors = result.get("errors") or []
        assert [e["message"] for e in errors] == ["Unauthorized"], show(line)
        original = errors[0].get("originalError") or {}
        assert original.get("name", "").startswith("UnauthorizedException"), show(line)
        assert line["wire"][0]["request"]["headers"]["x-api-key"] == "da2-" + "x" * 26
        assert line["wire"][0]["response"]["status"] == 401, show(line)

    items, _ = list_all(amplify, filter={"content": {"beginsWith": t}})
    assert items == [], "a create with a wrong API key must not store anything"
