"""Find a schema given on the command line: a `.py` file or `module:attribute`."""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import sys
from pathlib import Path
from typing import Any

from .define import AuthDefinition, DataDefinition, attach_auth, define_data
from .dsl import SchemaBuilder
from .model import SchemaError

DEFAULT_SCHEMA = "cove.example_schema:data"
_counter = itertools.count()


class SchemaSource:
    """Where a schema comes from, and the files to watch for changes."""

    def __init__(self, spec: str | None, handlers: str | None = None) -> None:
        self.spec = spec or DEFAULT_SCHEMA
        self.handlers = handlers   # a module giving custom operations their Python handlers (handlers.py)
        self.path: Path | None = None
        self.attribute: str | None = None
        self.outputs_file: Path | None = None
        self.imported: list[Path] = []   # project modules the last load imported (watched too)
        self._preloaded: set[str] | None = None   # top-level packages imported before the first load
        if self.spec.endswith(".json"):
            # An amplify_outputs.json (or a bare model introspection) of a backend defined elsewhere.
            self.outputs_file = Path(self.spec).resolve()
            if not self.outputs_file.is_file():
                raise SchemaError(f"{self.spec} does not exist")
        elif self.spec.endswith(".py") or Path(self.spec).is_file():
            path, _, attr = self.spec.partition(".py:")
            self.path = Path(path if path.endswith(".py") or not attr else path + ".py").resolve()
            self.attribute = attr or None
            if not self.path.is_file():
                raise SchemaError(f"schema file {self.spec} does not exist")
        else:
            module, _, attr = self.spec.partition(":")
            self.module = module
            self.attribute = attr or None

    @property
    def folder(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    def watched_files(self) -> list[Path]:
        files = self._schema_files()
        if self.handlers is not None:
            from .handlers import handlers_file

            found = handlers_file(self.handlers)
            if found is not None and found not in files:
                files.append(found)
        return files

    def _schema_files(self) -> list[Path]:
        if self.outputs_file is not None:
            return [self.outputs_file]
        if self.path is None:
            spec = importlib.util.find_spec(self.module)
            origin = spec.origin if spec else None
            return [Path(origin)] if origin and origin.endswith(".py") else []
        # The schema file and the project modules it imported, not every file in the folder: saving an
        # unrelated script next to the schema must not reload the API.
        return sorted({self.path, *self.imported})

    def _project_modules(self) -> dict[str, Path]:
        """Modules the schema imported from its folder or below it. Not packages the process had
        imported before (Cove itself, when the schema sits at the root of a Cove checkout), nor a
        virtualenv kept in the folder: forgetting those would load second copies of their classes."""
        assert self.folder is not None
        found = {}
        for name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None)
            if not file or name.partition(".")[0] in (self._preloaded or ()):
                continue
            path = Path(file).resolve()
            if path.is_relative_to(self.folder) and "site-packages" not in path.parts:
                found[name] = path
        return found

    def load(self) -> DataDefinition:
        """Import (or re-import) the schema (and the handlers module) and return its data definition."""
        definition = self._load_schema()
        if self.handlers is not None:
            from .handlers import attach_handlers, import_handlers

            attach_handlers(definition.schema, import_handlers(self.handlers), self.handlers)
        return definition

    def _load_schema(self) -> DataDefinition:
        if self.outputs_file is not None:
            import json

            from .from_mis import schema_from_mis, schema_from_outputs

            try:
                raw = json.loads(self.outputs_file.read_text())
            except ValueError as exc:
                raise SchemaError(f"{self.spec}: not valid JSON ({exc})") from None
            schema = schema_from_outputs(raw) if "data" in raw else schema_from_mis(raw)
            return DataDefinition(schema, None)  # type: ignore[arg-type]
        if self.path is not None:
            folder = str(self.folder)
            if self._preloaded is None:
                self._preloaded = {name.partition(".")[0] for name in sys.modules}
            # Forget modules loaded from the schema's folder, so edits to helpers are seen too.
            for name in self._project_modules():
                del sys.modules[name]
            if folder not in sys.path:
                sys.path.insert(0, folder)  # the schema's folder is importable, as for a script
            name = f"_cove_schema_{next(_counter)}"
            spec = importlib.util.spec_from_file_location(name, self.path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            finally:
                sys.modules.pop(name, None)
                self.imported = [p for p in self._project_modules().values() if p.suffix == ".py"]
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                # `cove sandbox app.schema:data` from the project folder, as `uvicorn main:app` does.
                sys.path.insert(0, os.getcwd())
            if self.module in sys.modules:
                module = importlib.reload(sys.modules[self.module])
            else:
                module = importlib.import_module(self.module)
        return _pick(module, self.attribute, self.spec)


def _pick(module: Any, attribute: str | None, spec: str) -> DataDefinition:
    definition = _pick_data(module, attribute, spec)
    auth = getattr(module, "auth", None)
    if isinstance(auth, AuthDefinition):  # `auth = define_auth(...)` next to `data`
        attach_auth(definition, auth)
    return definition


def _pick_data(module: Any, attribute: str | None, spec: str) -> DataDefinition:
    names = [attribute] if attribute else ["data", "schema"]
    for name in names:
        value = getattr(module, name, None)
        if isinstance(value, DataDefinition):
            return value
        if isinstance(value, SchemaBuilder):
            return define_data(schema=value)
        if value is not None and attribute:
            raise SchemaError(f"{spec}: {attribute} is a {type(value).__name__}, not define_data(...) or a.schema(...)")
    raise SchemaError(f"{spec}: found neither `data = define_data(...)` nor `schema = a.schema(...)`")
