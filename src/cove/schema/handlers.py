"""Python handlers for the custom operations of a backend served from its model introspection.

A backend written in TypeScript reaches Cove without the code behind its custom queries and
mutations. ``cove sandbox amplify_outputs.json --handlers my_handlers`` names a module (or a ``.py``
file) that provides it, in one of two ways:

- ``handlers = {"echo": echo, "likePost": like_post}``: a mapping of operation names to functions;
- or functions named like the operations (``def echo(event): ...``).

Each function gets the same event as a ``.handler()`` of a Python schema (``arguments``,
``identity``, ``fieldName`` ...). A module may also set ``subscriptions = {"onPostLiked":
["likePost"]}``: the mutations a custom subscription follows (Amplify's ``.for(...)``), which the
introspection does not record; without it a custom subscription follows every custom mutation that
returns its type.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .model import CustomOperation, Schema, SchemaError


def import_handlers(spec: str) -> Any:
    """Import (or re-import) the handlers module: a ``.py`` path or a dotted module name."""
    if spec.endswith(".py"):
        path = Path(spec).resolve()
        if not path.is_file():
            raise SchemaError(f"--handlers {spec}: no such file")
        folder = str(path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)  # helpers next to the handlers file import as in a script
        # One module name per file: a reload replaces the previous module instead of adding one.
        name = "_cove_handlers_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        assert loader_spec is not None and loader_spec.loader is not None
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module  # registered, as imports are (dataclasses and pickling look it up)
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise SchemaError(f"--handlers {spec}: {type(exc).__name__}: {exc}") from None
        return module
    try:
        if spec in sys.modules:
            return importlib.reload(sys.modules[spec])
        return importlib.import_module(spec)
    except Exception as exc:
        raise SchemaError(f"--handlers {spec}: {type(exc).__name__}: {exc}") from None


def handlers_file(spec: str) -> Path | None:
    """The file to watch for changes."""
    if spec.endswith(".py"):
        return Path(spec).resolve()
    found = importlib.util.find_spec(spec)
    origin = found.origin if found else None
    return Path(origin) if origin and origin.endswith(".py") else None


def attach_handlers(schema: Schema, module: Any, spec: str) -> None:
    """Give the schema's custom queries and mutations the module's functions, and its custom
    subscriptions the mutations they follow. Names that match no operation are an error (a typo
    would otherwise leave an operation silently unhandled)."""
    operations = {**schema.queries, **schema.mutations}
    table = getattr(module, "handlers", None)
    if table is not None:
        if not isinstance(table, Mapping):
            raise SchemaError(f"--handlers {spec}: `handlers` must be a dict of operation name -> function")
        for name, function in table.items():
            if name not in operations:
                raise SchemaError(f"--handlers {spec}: `handlers` names {name!r}, which is no custom query or "
                                  f"mutation of the schema ({', '.join(sorted(operations)) or 'there are none'})")
            if not callable(function):
                raise SchemaError(f"--handlers {spec}: the handler for {name} is not a function")
            operations[name].handler = function
    else:
        for name, op in operations.items():
            function = getattr(module, name, None)
            if callable(function):
                op.handler = function
    follows = getattr(module, "subscriptions", None)
    if follows is not None:
        if not isinstance(follows, Mapping):
            raise SchemaError(f"--handlers {spec}: `subscriptions` must be a dict of subscription -> [mutations]")
        for name, mutations in follows.items():
            sub = schema.subscriptions.get(name)
            if sub is None:
                raise SchemaError(f"--handlers {spec}: `subscriptions` names {name!r}, which is no custom "
                                  f"subscription of the schema")
            mutations = [mutations] if isinstance(mutations, str) else list(mutations)
            unknown = [m for m in mutations if m not in schema.mutations]
            if unknown:
                raise SchemaError(f"--handlers {spec}: subscription {name} follows {', '.join(unknown)}, "
                                  f"which is no custom mutation")
            sub.subscribes_to = tuple(mutations)


def infer_subscription_sources(schema: Schema) -> None:
    """A custom subscription from an introspection does not say which mutations it follows: it
    follows every custom mutation that returns its type (Amplify requires the same type)."""
    for sub in schema.subscriptions.values():
        if sub.subscribes_to or sub.returns is None:
            continue
        sub.subscribes_to = tuple(m.name for m in schema.mutations.values()
                                  if m.returns is not None and m.returns.type == sub.returns.type)


def unhandled(schema: Schema) -> list[CustomOperation]:
    """Custom queries and mutations with no handler (their calls answer an error)."""
    return [op for op in (*schema.queries.values(), *schema.mutations.values()) if not callable(op.handler)]
