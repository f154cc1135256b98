"""examples/ run against a real `cove sandbox` on the bundled example schema: the script and the
walkthrough as subprocesses, the Starlette service in-process (its async client talks to the sandbox
over a real socket). Their type-checking is in test_typing.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Sandbox

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name: str, sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COVE_OUTPUTS": str(sandbox.outputs_path), "PYTHONWARNINGS": "error::cove.client.SchemaMismatchWarning"}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=sandbox.outputs_path.parent)


def test_todo_script(sandbox: Sandbox) -> None:
    proc = run_example("todo_script.py", sandbox, str(sandbox.outputs_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "created 3 to-dos in 'Groceries'" in out
    assert "updated: [x] bread" in out
    assert "high priority: milk" in out
    assert "milk belongs to: Groceries" in out
    assert "priorities are ['low', 'medium', 'high']" in out


def test_walkthrough(sandbox: Sandbox) -> None:
    proc = run_example("walkthrough.py", sandbox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "received: ping from the walkthrough" in proc.stdout
    assert "write the walkthrough (high)" in proc.stdout


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_todo_service(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient  # in the test extra

    monkeypatch.setenv("COVE_OUTPUTS", str(sandbox.outputs_path))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import todo_service  # examples/ is on the path for this test only

    from cove.client._config import reset_config

    try:
        with TestClient(todo_service.app) as http:
            created = http.post("/todos", json={"content": "from the service", "priority": "high"})
            assert created.status_code == 201, created.text
            todo = created.json()
            assert todo["content"] == "from the service" and todo["done"] is False
            listed = http.get("/todos", params={"priority": "high"}).json()["todos"]
            assert todo["id"] in {t["id"] for t in listed}
            done = http.patch(f"/todos/{todo['id']}", json={"done": True})
            assert done.status_code == 200 and done.json()["done"] is True
            assert http.post("/todos", json={}).status_code == 400
            missing = http.patch("/todos/no-such-id", json={"done": True})
            assert missing.status_code == 400 and missing.json()["errors"]
            assert http.delete(f"/todos/{todo['id']}").status_code == 204
    finally:
        reset_config()
