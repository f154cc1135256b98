"""The typed client, checked by the type checkers themselves: pyright (strict) and mypy --strict.

Typed client modules are generated here, during the test, from a schema written in Python
(tests/schemas/shop_schema.py) and from the amplify_outputs.json of an Amplify Gen 2 backend
written in TypeScript (tests/fixtures/amplify_outputs_gen2_blog.json). Then (see tests/typing/README.md):

- the generated modules, the positive files and examples/ type-check cleanly under both checkers;
- every ``reveal_type`` in the positive files shows the recorded type, so a change that loses
  typing fails here;
- every mistake in tests/typing/negative.py is reported by both checkers, with the recorded pyright
  rule and mypy error code, and nothing else is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cove.codegen import generate_python_client
from cove.schema.loader import SchemaSource
from cove.schema.mis import to_mis
from paths import ROOT

TYPING = ROOT / "tests" / "typing"
EXAMPLES = ROOT / "examples"
SHOP_SCHEMA = ROOT / "tests" / "schemas" / "shop_schema.py"
BLOG_OUTPUTS = ROOT / "tests" / "fixtures" / "amplify_outputs_gen2_blog.json"
BIN = Path(sys.executable).parent

@dataclass
class Diagnostic:
    line: int
    severity: str      # error | note/information
    code: str          # pyright rule / mypy error code ("" when none)
    message: str


@dataclass
class CheckerRun:
    """Diagnostics per file name."""

    by_file: dict[str, list[Diagnostic]] = field(default_factory=lambda: defaultdict(list))
    raw: str = ""

    def errors(self, name: str) -> list[Diagnostic]:
        return [d for d in self.by_file.get(name, []) if d.severity == "error"]

    def revealed(self, name: str) -> dict[int, str]:
        return {d.line: d.message for d in self.by_file.get(name, []) if d.code == "reveal"}


def run_pyright(folder: Path, files: list[str]) -> CheckerRun:
    (folder / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.11"}))
    proc = subprocess.run([str(BIN / "pyright"), "--outputjson", "--pythonpath", sys.executable, *files],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright did not run:\n{proc.stdout}\n{proc.stderr}")
    run = CheckerRun(raw=proc.stdout)
    for d in report["generalDiagnostics"]:
        name = Path(d["file"]).name
        line = d["range"]["start"]["line"] + 1
        message = d["message"]
        if d["severity"] == "information" and message.startswith("Type of "):
            revealed = re.match(r'Type of ".*" is "(.*)"\Z', message, re.S)
            assert revealed, message
            run.by_file[name].append(Diagnostic(line, "note", "reveal", revealed.group(1)))
        else:
            run.by_file[name].append(Diagnostic(line, d["severity"], d.get("rule", ""), message))
    return run


_MYPY_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<severity>error|note): (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


def run_mypy(folder: Path, files: list[str]) -> CheckerRun:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--python-version", "3.11", "--show-error-codes",
                           "--no-error-summary", "--no-pretty", "--cache-dir", str(folder / ".mypy_cache"), *files],
                          cwd=folder, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MYPYPATH": str(folder)})
    run = CheckerRun(raw=proc.stdout + proc.stderr)
    for text in proc.stdout.splitlines():
        m = _MYPY_LINE.match(text)
        if not m:
            continue
        name = Path(m["file"]).name
        message = m["message"]
        if m["severity"] == "note" and message.startswith("Revealed type is "):
            run.by_file[name].append(Diagnostic(int(m["line"]), "note", "reveal", message[len('Revealed type is "'):-1]))
        elif m["severity"] == "error":
            run.by_file[name].append(Diagnostic(int(m["line"]), "error", m["code"] or "", message))
    if proc.returncode not in (0, 1):
        pytest.fail(f"mypy did not run:\n{run.raw}")
    return run


def canonical_mypy(text: str) -> str:
    """mypy's spelling of a type, made comparable with pyright's: no module prefixes, ``def`` dropped,
    unions of literals merged (``Literal['a'] | Literal['b']`` → ``Literal['a', 'b']``)."""
    text = re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*)", "", text)
    text = re.sub(r"\bdef ", "", text)
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"Literal\[([^\[\]]*)\] \| Literal\[", r"Literal[\1, ", text)
    return text


@dataclass
class Workspace:
    folder: Path
    pyright: CheckerRun
    mypy: CheckerRun


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("typing")
    shop = to_mis(SchemaSource(str(SHOP_SCHEMA)).load().schema)
    (folder / "shop_client.py").write_text(generate_python_client(shop, source="tests/schemas/shop_schema.py"))
    blog = json.loads(BLOG_OUTPUTS.read_text())["data"]["model_introspection"]
    (folder / "blog_client.py").write_text(generate_python_client(blog, source=BLOG_OUTPUTS.name))
    from client.test_typed_client import awkward_mis

    (folder / "awkward_client.py").write_text(generate_python_client(awkward_mis(), source="awkward names"))
    for f in TYPING.glob("*.py"):
        shutil.copy(f, folder / f.name)
    files = sorted(p.name for p in folder.glob("*.py"))
    return Workspace(folder, run_pyright(folder, files), run_mypy(folder, files))


def expectations(name: str, marker: str) -> dict[int, str]:
    out = {}
    for n, text in enumerate((TYPING / name).read_text().splitlines(), 1):
        if f"# {marker}: " in text:
            out[n] = text.split(f"# {marker}: ", 1)[1].strip()
    return out


@pytest.mark.parametrize("module", ["shop_client.py", "blog_client.py", "awkward_client.py"])
def test_generated_modules_are_clean_under_both_checkers(workspace: Workspace, module: str) -> None:
    assert workspace.pyright.by_file.get(module, []) == [], workspace.pyright.raw
    assert workspace.mypy.by_file.get(module, []) == [], workspace.mypy.raw


@pytest.mark.parametrize("name", ["positive_sync.py", "positive_async.py", "positive_foreign.py"])
def test_revealed_types(workspace: Workspace, name: str) -> None:
    expected = expectations(name, "R")
    source = (TYPING / name).read_text().splitlines()
    reveals = {n for n, text in enumerate(source, 1) if "reveal_type(" in text}
    assert reveals == set(expected), f"{name}: every reveal_type needs a '# R: type' comment"
    assert len(expected) >= 8
    assert workspace.pyright.errors(name) == [], workspace.pyright.raw
    assert workspace.mypy.errors(name) == [], workspace.mypy.raw
    by_pyright = workspace.pyright.revealed(name)
    by_mypy = {line: canonical_mypy(t) for line, t in workspace.mypy.revealed(name).items()}
    mismatches = []
    for line, want in sorted(expected.items()):
        for checker, got in (("pyright", by_pyright.get(line)), ("mypy", by_mypy.get(line))):
            if got != want:
                mismatches.append(f"{name}:{line} {checker} revealed {got!r}, recorded {want!r}")
    assert not mismatches, "\n".join(mismatches)


def test_mistakes_are_reported_by_both_checkers(workspace: Workspace) -> None:
    expected = expectations("negative.py", "E")
    assert len(expected) >= 20
    problems = []
    for checker, run in (("pyright", workspace.pyright), ("mypy", workspace.mypy)):
        errors: dict[int, set[str]] = defaultdict(set)
        for d in run.errors("negative.py"):
            errors[d.line].add(d.code)
        for line, codes in sorted(expected.items()):
            want = codes.split()[0 if checker == "pyright" else 1]
            if want not in errors.get(line, set()):
                problems.append(f"negative.py:{line}: {checker} did not report {want} (got {sorted(errors.get(line, []))})")
        for line in sorted(set(errors) - set(expected)):
            problems.append(f"negative.py:{line}: unexpected {checker} error(s) {sorted(errors[line])}")
    assert not problems, "\n".join(problems) + "\n" + workspace.mypy.raw


def test_the_six_mistakes_of_the_issue_are_covered() -> None:
    """A misspelled model, a misspelled field, a value of the wrong type, a missing required field, a
    read-only field in update and an unknown auth_mode: each has a line in negative.py."""
    text = (TYPING / "negative.py").read_text()
    for needle in ("client.models.Custmer", "customer.nmae", '{"name": 42}', '{"email": "a@example.com"})',
                   '"createdAt": "2024-01-01T00:00:00Z"', 'auth_mode="apikey"'):
        line = next(ln for ln in text.splitlines() if needle in ln)
        assert "# E: " in line, needle


# -- examples/ ----------------------------------------------------------------------------------


def test_examples_client_is_generated_from_the_example_schema() -> None:
    """examples/cove_client.py is what `cove generate client` writes for the bundled example schema."""
    mis = to_mis(SchemaSource("cove.example_schema:data").load().schema)
    assert (EXAMPLES / "cove_client.py").read_text() == generate_python_client(mis, source="cove.example_schema:data")


@pytest.fixture(scope="module")
def examples_checked(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("examples")
    for f in EXAMPLES.glob("*.py"):
        shutil.copy(f, folder / f.name)
    files = sorted(p.name for p in folder.glob("*.py"))
    return Workspace(folder, run_pyright(folder, files), run_mypy(folder, files))


def test_examples_pass_pyright_strict(examples_checked: Workspace) -> None:
    problems = [f"{name}:{d.line}: {d.code} {d.message}" for name, ds in examples_checked.pyright.by_file.items()
                for d in ds if d.severity in ("error", "warning")]
    assert not problems, "\n".join(problems)


def test_examples_pass_mypy_strict(examples_checked: Workspace) -> None:
    problems = [f"{name}:{d.line}: {d.code} {d.message}" for name, ds in examples_checked.mypy.by_file.items()
                for d in ds if d.severity == "error"]
    assert not problems, "\n".join(problems)
