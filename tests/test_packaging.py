"""The built wheel, installed in clean virtualenvs: the client alone, and with the server extra.

Each venv runs a README-style sample against a real sandbox: the client-only one against a sandbox
of the test environment (and its `cove sandbox` explains that the server extra is missing), the
server one against a sandbox it starts itself.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import Sandbox, free_port

ROOT = Path(__file__).resolve().parent.parent
SERVER_MODULES = ["uvicorn", "uvloop", "jwt", "cryptography", "argon2"]

SAMPLE = """
import sys, cove
cove.configure(sys.argv[1])
client = cove.generate_client()
todo = client.models.Todo.create({"content": "from a clean venv"}).data
assert client.models.Todo.get({"id": todo.id}).data.content == "from a clean venv"
print("ok", todo.id)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("cove-*.whl")
    return built


def make_venv(where: Path, requirement: str) -> Path:
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    # The wheel file itself, its dependencies from the configured index (the pip cache keeps it quick).
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", requirement],
                   check=True, capture_output=True, timeout=600)
    return python


def importable(python: Path, module: str) -> bool:
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0


def run_sample(python: Path, outputs: Path, cwd: Path) -> str:
    (cwd / "sample.py").write_text(SAMPLE)
    result = subprocess.run([str(python), "sample.py", str(outputs)], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_wheel_has_the_license_and_metadata(wheel: Path) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "cove/py.typed" in names
    assert "License-Expression: Apache-2.0" in metadata and "Classifier: Typing :: Typed" in metadata
    assert "Provides-Extra: server" in metadata


def test_client_only_install(wheel: Path, tmp_path: Path, sandbox: Sandbox) -> None:
    python = make_venv(tmp_path / "venv", str(wheel))
    for module in SERVER_MODULES:
        assert not importable(python, module), f"the client-only install pulled in {module}"
    assert run_sample(python, sandbox.outputs_path, tmp_path).startswith("ok ")
    refused = subprocess.run([str(python.with_name("cove")), "sandbox"], capture_output=True, text=True, timeout=60,
                             cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: `cove sandbox` needs Cove's server, which is not installed")
    assert "pip install 'cove[server]'" in refused.stderr
    assert not (tmp_path / ".cove").exists()


def test_server_install_runs_a_sandbox(wheel: Path, tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv", f"{wheel}[server]")
    port = free_port()
    server = subprocess.Popen([str(python.with_name("cove")), "sandbox", "--port", str(port), "--no-watch"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        lines = []
        for line in server.stdout:
            lines.append(line)
            if line.startswith("Ready"):
                break
        assert lines and lines[-1].startswith("Ready"), "".join(lines)
        assert run_sample(python, tmp_path / "amplify_outputs.json", tmp_path).startswith("ok ")
    finally:
        server.terminate()
        server.wait(10)
