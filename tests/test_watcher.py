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


def test_packages_imported_before_the_schema_are_not_reloaded(tmp_path: Path, monkeypatch: Any) -> None:
    # A schema at the root of a checkout of Cove (or of any package the process already runs) must
    # not make the reload forget and re-import that package: its classes would exist twice.
    (tmp_path / "preloaded_pkg").mkdir()
    (tmp_path / "preloaded_pkg" / "__init__.py").write_text("from cove import a\nFIELD = a.string\n")
    (tmp_path / "helper_mod.py").write_text("from preloaded_pkg import FIELD\n")
    (tmp_path / "schema.py").write_text(
        "from cove import a, define_data\nfrom helper_mod import FIELD\n"
        "schema = a.schema({'N': a.model({'b': FIELD()})}).authorization(lambda allow: [allow.public_api_key()])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import sys

    import preloaded_pkg  # type: ignore[import-not-found]

    from cove.schema.loader import SchemaSource

    source = SchemaSource(str(tmp_path / "schema.py"))
    source.load()
    source.load()
    assert sys.modules["preloaded_pkg"] is preloaded_pkg
    assert source.watched_files() == sorted([tmp_path / "helper_mod.py", tmp_path / "schema.py"])
    for name in ("preloaded_pkg", "helper_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_an_edit_made_before_the_watcher_thread_first_runs_is_seen(tmp_path: Path) -> None:
    # The sandbox prints Ready once the watcher exists; a thread scheduled late must not take an
    # edit made right after Ready as its baseline (seen as a flaky reload test on a loaded machine).
    from cove.server.runner import _Watcher

    schema = tmp_path / "schema.py"
    schema.write_text("v1\n")
    calls: list[int] = []
    watcher = _Watcher(lambda: [schema], lambda: calls.append(1), interval=0.02)
    schema.write_text("v2, saved right after Ready\n")
    watcher.start()
    try:
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stopped.set()
    assert calls == [1]
