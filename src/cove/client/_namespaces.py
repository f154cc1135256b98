"""The namespaces a client exposes: ``client.enums``, ``client.queries``/``mutations``, ``client.models``.

:class:`ModelClientBase` is what ``ModelClient`` and ``AsyncModelClient`` share: operation gating
(methods of disabled operations are absent) and index-query lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._operations import ModelOps, RecordT
from ._schema import ModelInfo, OperationInfo, OperationKind, SchemaInfo


class Enums:
    """``client.enums.<Enum>.values()``."""

    def __init__(self, schema: SchemaInfo) -> None:
        self._enums: dict[str, EnumInfo[str]] = {
            name: EnumInfo(name, values) for name, values in schema.enums.items()}

    def __getattr__(self, name: str) -> EnumInfo[str]:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._enums[name]
        except KeyError:
            raise AttributeError(f"no enum {name!r} in the model introspection schema "
                                 f"(enums: {', '.join(self._enums) or 'none'})") from None

    def __getitem__(self, name: str) -> EnumInfo[str]:
        return self._enums[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._enums)

    def __contains__(self, name: object) -> bool:
        return name in self._enums

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._enums))


E = TypeVar("E", bound=str)


@dataclass(frozen=True)
class EnumInfo(Generic[E]):
    """``client.enums.TodoPriority``; typed clients know its values (``EnumInfo[TodoPriority]``)."""

    name: str
    _values: tuple[E, ...]

    def values(self) -> list[E]:
        """The enum's values, in schema order."""
        return list(self._values)



OC = TypeVar("OC")


class OperationsNamespace(Generic[OC]):
    """``client.queries`` / ``client.mutations``: one callable per custom operation of the MIS."""

    def __init__(self, schema: SchemaInfo, kind: OperationKind, factory: Callable[[OperationInfo], OC]) -> None:
        self._ops = schema.operations(kind)
        self._kind = kind
        self._factory = factory
        self._callables: dict[str, OC] = {}

    def __getattr__(self, name: str) -> OC:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self._ops) or "none"
            raise AttributeError(f"no custom {self._kind} {name!r} in the model introspection schema; "
                                 f"{self._kind} operations: {known}") from None

    def __getitem__(self, name: str) -> OC:
        fn = self._callables.get(name)
        if fn is None:
            fn = self._callables[name] = self._factory(self._ops[name])
        return fn

    def __iter__(self) -> Iterator[str]:
        return iter(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._ops))


# -- the parts of client.models shared by both clients --------------------------------------------

MC = TypeVar("MC")

#: Public methods that exist only while the MIS enables their operation.
_GATED: dict[str, str] = {"create": "create", "get": "get", "update": "update", "delete": "delete",
                          "list": "list", "list_all": "list", "on_create": "onCreate", "on_update": "onUpdate",
                          "on_delete": "onDelete", "observe_query": "list", "count": "list", "aggregate": "list", "search": "list",
                          "batch_get": "get", "batch_create": "create", "batch_delete": "delete",
                          "create_item": "create", "update_item": "update", "delete_item": "delete"}


def _disabled_message(model: ModelInfo, name: str, op: str) -> str:
    return (f"{model.name}.{name}() is not available: the {op!r} operation is disabled for model "
            f"{model.name} (disable_operations in the schema)")


class ModelsNamespace(Generic[MC]):
    """``client.models``: one model client per model of the MIS (``client.models.Todo``)."""

    def __init__(self, schema: SchemaInfo, factory: Callable[[str], MC]) -> None:
        self._schema = schema
        self._factory = factory
        self._clients: dict[str, MC] = {}

    def __getattr__(self, name: str) -> MC:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            known = ", ".join(self._schema.models) or "none"
            raise AttributeError(
                f"no model {name!r} in the model introspection schema (data.model_introspection of "
                f"amplify_outputs.json); models: {known}") from None

    def __getitem__(self, name: str) -> MC:
        mc = self._clients.get(name)
        if mc is None:
            if name not in self._schema.models:
                raise KeyError(name)
            mc = self._clients[name] = self._factory(name)
        return mc

    def __iter__(self) -> Iterator[str]:
        return iter(self._schema.models)

    def __len__(self) -> int:
        return len(self._schema.models)

    def __contains__(self, name: object) -> bool:
        return name in self._schema.models

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._schema.models))


class ModelClientBase(Generic[RecordT]):
    """What ``ModelClient`` and ``AsyncModelClient`` share: operation gating and index queries."""

    _ops: ModelOps[RecordT]

    def __getattribute__(self, name: str) -> Any:
        op = _GATED.get(name)
        if op is not None:
            model: ModelInfo = object.__getattribute__(self, "_ops").model
            if not model.enabled(op):
                raise AttributeError(_disabled_message(model, name, op))
        return object.__getattribute__(self, name)

    def __getattr__(self, name: str) -> Any:
        # Python calls this after __getattribute__ raised, so disabled operations land here too.
        if name.startswith("_"):
            raise AttributeError(name)
        model = self._ops.model
        if name in _GATED:
            raise AttributeError(_disabled_message(model, name, _GATED[name]))
        if model.index(name) is not None:
            return self._index_query(name)
        queries = ", ".join(i.query_field for i in model.indexes)
        raise AttributeError(f"model {model.name} has no operation or index query {name!r}"
                             + (f" (index queries: {queries})" if queries else ""))

    def _index_query(self, query_field: str) -> Any:
        raise NotImplementedError

    def __dir__(self) -> list[str]:
        model = self._ops.model
        names = {n for n in super().__dir__() if not (n in _GATED and not model.enabled(_GATED[n]))}
        return sorted(names | {i.query_field for i in model.indexes})

    @property
    def name(self) -> str:
        """The model's name (``"Todo"``)."""
        return self._ops.model.name

    @property
    def index_queries(self) -> tuple[str, ...]:
        """The secondary-index query methods of this model (``queryField`` names)."""
        return tuple(i.query_field for i in self._ops.model.indexes)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._ops.model.name}>"
