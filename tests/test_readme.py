"""Every ```python block of README.md runs as written, so the samples cannot drift from the code.

Blocks whose first line is `# <name>.py` are files: they are written into one project folder. The
other blocks run, in README order, in a fresh interpreter in that folder, next to a real `cove
sandbox` on the schema they name (`cove sandbox <name>.py` in the block; the Quickstart's
`schema.py` otherwise). Blocks of one schema share one interpreter, as cells of a notebook do.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import start_sandbox

README = Path(__file__).resolve().parent.parent / "README.md"
FILE_LINE = re.compile(r"#\s*([\w/]+\.py)\s*$")
SANDBOX_OF = re.compile(r"cove sandbox (\w+\.py)")
DEFAULT_SCHEMA = "schema.py"

RUNNER = """
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for line, source in blocks:
    # Padding puts the block at its README line, so a traceback points into README.md.
    exec(compile("\\n" * line + source, "README.md", "exec"), namespace)
"""


def python_blocks() -> list[tuple[int, str]]:
    """(line of the first code line - 1, source) for each ```python block."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(README.read_text().splitlines()):
        if current is None and line.strip() == "```python":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current) + "\n"))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def split() -> tuple[dict[str, str], dict[str, list[tuple[int, str]]]]:
    files: dict[str, str] = {}
    runs: dict[str, list[tuple[int, str]]] = {}
    for start, source in python_blocks():
        first = source.splitlines()[0]
        named = FILE_LINE.match(first)
        if named:
            files[named.group(1)] = source
            continue
        schema = SANDBOX_OF.search(source)
        runs.setdefault(schema.group(1) if schema else DEFAULT_SCHEMA, []).append((start, source))
    return files, runs


FILES, RUNS = split()


def test_the_readme_has_samples_and_their_schemas() -> None:
    assert DEFAULT_SCHEMA in FILES and len(FILES) >= 3
    assert sum(len(blocks) for blocks in RUNS.values()) >= 6
    assert set(RUNS) <= set(FILES), f"samples name schemas the README does not show: {set(RUNS) - set(FILES)}"


@pytest.mark.parametrize("schema", sorted(RUNS))
def test_readme_samples_run(schema: str, tmp_path: Path) -> None:
    for name, source in FILES.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    box = start_sandbox(tmp_path, tmp_path / schema, "--typed-client", str(tmp_path / "app" / "cove_client.py"),
                        data_dir=tmp_path / f".cove-{Path(schema).stem}")
    try:
        assert box.outputs_path == tmp_path / "amplify_outputs.json"
        (tmp_path / "blocks.json").write_text(json.dumps(RUNS[schema]))
        (tmp_path / "run_blocks.py").write_text(RUNNER)
        result = subprocess.run([sys.executable, "run_blocks.py", "blocks.json"], cwd=tmp_path, capture_output=True,
                                text=True, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        box.stop()
    assert result.returncode == 0, f"README samples for {schema} failed:\n{result.stdout}\n{result.stderr}"


def readme_banner() -> list[str]:
    text = README.read_text()
    start = text.index("$ cove sandbox schema.py\n") + len("$ cove sandbox schema.py\n")
    return text[start:text.index("```", start)].rstrip("\n").splitlines()


def normalized(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r"da2-[a-z0-9]+", "da2-KEY", line)
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
        out.append(re.sub(r"Ready in \d+\.\d+s", "Ready in Ns", line))
    return out


def test_the_quickstart_banner_is_the_real_one(tmp_path: Path) -> None:
    from conftest import free_port

    (tmp_path / "schema.py").write_text(FILES[DEFAULT_SCHEMA])
    process = subprocess.Popen([sys.executable, "-m", "cove", "sandbox", "schema.py", "--port", str(free_port())],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Ready"):
                break
    finally:
        process.terminate()
        process.wait(10)
    assert normalized(readme_banner()) == normalized(lines)
