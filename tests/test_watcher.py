"""The sandbox's schema watcher: reloads on real changes only, and says only what it did."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from conftest import Sandbox
from test_sandbox import HELPERS, SCHEMA_V1, wait_for, write_schema

QUIET = 1.5  # five polls of the watcher: long enough for a reload to have started


def settle(box: Sandbox) -> int:
    time.sleep(QUIET)
    return len(box.lines)


def project(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "helpers.py").write_text(HELPERS)
    return folder, write_schema(folder, SCHEMA_V1)


def test_an_unrelated_module_next_to_the_schema_is_ignored(tmp_path: Path, sandbox_factory: Any) -> None:
    folder, _ = project(tmp_path)
    (folder / "script.py").write_text("print('a script of the project')\n")
    box = sandbox_factory(folder / "schema.py")
    outputs_stamp = box.outputs_path.stat().st_mtime_ns
    seen = settle(box)
    (folder / "script.py").write_text("print('edited')\n")
    (folder / "new_script.py").write_text("x = 1\n")
    assert settle(box) == seen, box.lines[seen:]
    assert box.outputs_path.stat().st_mtime_ns == outputs_stamp
    # ... while an imported helper is watched
    (folder / "helpers.py").write_text(HELPERS + "\n# a comment\n")
    assert "Reloaded schema" in wait_for(box, "Reloaded schema")


def test_saving_without_a_change_reloads_nothing(tmp_path: Path, sandbox_factory: Any) -> None:
    folder, schema = project(tmp_path)
    box = sandbox_factory(schema)
    seen = settle(box)
    os.utime(schema)
    write_schema(folder, SCHEMA_V1)
    assert settle(box) == seen, box.lines[seen:]


def test_outputs_and_typed_client_are_rewritten_only_when_they_change(tmp_path: Path, sandbox_factory: Any) -> None:
    folder, schema = project(tmp_path)
    typed = tmp_path / "typed" / "cove_client.py"
    box = sandbox_factory(schema, "--typed-client", str(typed))
    stamps = box.outputs_path.stat().st_mtime_ns, typed.stat().st_mtime_ns
    write_schema(folder, SCHEMA_V1 + "\n# only a comment\n")
    line = wait_for(box, "Reloaded schema")
    assert line.rstrip().endswith("; outputs unchanged"), line
    assert (box.outputs_path.stat().st_mtime_ns, typed.stat().st_mtime_ns) == stamps
    write_schema(folder, SCHEMA_V1.replace('"body": note_field()}', '"body": note_field(), "n": a.integer()}'))
    line = wait_for(box, "Reloaded schema")
    assert line.rstrip().endswith(f"; rewrote {box.outputs_path} and {typed}"), line


def test_a_refused_change_is_reported_once(tmp_path: Path, sandbox_factory: Any) -> None:
    folder, schema = project(tmp_path)
    box = sandbox_factory(schema)
    box.gql('mutation { createNote(input: {title: "keep me"}) { id } }')
    removed = SCHEMA_V1.replace('"Note": a.model', '"Memo": a.model')
    write_schema(folder, removed)
    wait_for(box, "Schema not reloaded")
    write_schema(folder, removed + "\n# saved again, still removing Note\n")
    settle(box)
    assert sum("Schema not reloaded" in line for line in box.lines) == 1, box.lines
