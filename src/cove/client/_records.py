"""What calls return: :class:`Result`, :class:`Record` and :class:`GraphQLError`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["DynamicRecord", "GraphQLError", "Record", "Result"]


def _convert(value: Any) -> Any:
    """Nested plain dicts become Records, lists are copied with their elements converted."""
    if isinstance(value, Record):
        return value
    if isinstance(value, Mapping):
        return DynamicRecord(value)
    if isinstance(value, list):
        return [_convert(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _FieldFirst:
    """A Mapping method (``items``, ``keys``, ``values``, ``get``) that gives way to a field or
    relationship of the same name: ``cart.items`` is the cart's ``items`` field when the schema has
    one (a production schema has ``items`` relationships), the Mapping method otherwise."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method
        self.name = method.__name__

    def __get__(self, record: Record | None, owner: type | None = None) -> Any:
        if record is None:
            return self.method
        data = record._data
        if self.name in data:
            return data[self.name]
        loaders = record._loaders
        if self.name in loaders:
            return loaders[self.name]
        return self.method.__get__(record, owner)


class Record(Mapping[str, Any]):
    """One object of a response: a model record, a custom-type value, a nested related record.

    Read fields as attributes (``todo.content``) or items (``todo["content"]``). Records are
    read-only, compare equal to dicts with the same content, and convert with ``dict(record)`` or
    :meth:`to_dict` (deep). Records returned with the default selection set also have *lazy
    loaders* for relationships: ``todo.list()`` fetches the related ``TodoList`` (a coroutine on the
    async client). Loaders are not items of the mapping.

    A field or relationship named like a mapping method (``items``, ``keys``, ``values``, ``get``)
    wins over the method: ``cart.items`` is the field, ``cart["items"]`` too (for a relationship,
    ``customer["items"]`` is its loader); the mapping methods stay reachable as
    ``Record.items(cart)`` and through :meth:`to_dict`.

    For type checkers, a plain ``Record`` has no field attributes: typed clients (``cove generate
    client``) return subclasses that declare each field with its type, so a misspelled field is an
    error; untyped clients return :class:`DynamicRecord`, whose attributes are ``Any``.
    """

    __slots__ = ("_data", "_loaders", "_typename")

    _data: dict[str, Any]
    _typename: str | None
    _loaders: Mapping[str, Callable[..., Any]]

    def __init__(self, data: Mapping[str, Any] | None = None, /, *, typename: str | None = None,
                 **fields: Any) -> None:
        merged = dict(data or {})
        merged.update(fields)
        object.__setattr__(self, "_data", {k: _convert(v) for k, v in merged.items()})
        object.__setattr__(self, "_typename", typename)
        object.__setattr__(self, "_loaders", {})

    @classmethod
    def _build(cls, data: dict[str, Any], typename: str | None,
               loaders: Mapping[str, Callable[..., Any]] | None = None) -> Any:
        """Wrap already-converted ``data`` without copying (used by the response parser)."""
        self = cls.__new__(cls)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_typename", typename)
        object.__setattr__(self, "_loaders", loaders or {})
        return self

    # -- mapping protocol -------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            if key in self._loaders:  # a relationship whose name is taken by a method (``items``)
                return self._loaders[key]
            raise

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    if not TYPE_CHECKING:  # to type checkers these stay Mapping's methods; typed records declare fields
        items = _FieldFirst(Mapping.items)
        keys = _FieldFirst(Mapping.keys)
        values = _FieldFirst(Mapping.values)
        get = _FieldFirst(Mapping.get)

    # -- attribute access -------------------------------------------------------------------
    if not TYPE_CHECKING:  # hidden from type checkers: only declared fields are attributes to them

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            try:
                data = object.__getattribute__(self, "_data")
            except AttributeError:  # half-built (unpickling)
                raise AttributeError(name) from None
            if name in data:
                return data[name]
            loaders = object.__getattribute__(self, "_loaders")
            if name in loaders:
                return loaders[name]
            label = object.__getattribute__(self, "_typename") or "Record"
            raise AttributeError(f"{label} record has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("records are read-only; copy with dict(record) or record.to_dict()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("records are read-only")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._data) | set(self._loaders))

    # -- the rest ---------------------------------------------------------------------------
    @property
    def typename(self) -> str | None:
        """The GraphQL type name (``"Todo"``), when known."""
        return self._typename

    @property
    def relationships(self) -> tuple[str, ...]:
        """Names of the lazy loaders this record has (``("list",)`` for a Todo)."""
        return tuple(self._loaders)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy as plain dicts and lists (loaders dropped)."""
        return {k: _plain(v) for k, v in self._data.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(Mapping.items(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._data.items())
        return f"{self._typename or 'Record'}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._data, self._typename))


class DynamicRecord(Record):
    """A record of an untyped client (``cove.generate_client()``): type checkers accept any
    attribute on it, as ``Any``. Typed clients return subclasses of :class:`Record` instead."""

    __slots__ = ()

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...


def _restore(cls: type[Record], data: dict[str, Any], typename: str | None) -> Record:
    record: Record = cls._build(data, typename)
    return record


class GraphQLError(Mapping[str, Any]):
    """One entry of a GraphQL response's ``errors`` list, in AppSync's shape.

    Attributes: ``message``, ``error_type`` (AppSync ``errorType``: ``Unauthorized``,
    ``UnauthorizedException``, ``DynamoDB:ConditionalCheckFailedException`` ...), ``error_info``,
    ``path``, ``locations``, ``data``, ``extensions``. It is also a read-only mapping over the raw
    JSON object, so ``error["errorType"]`` works too.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, Any] | str) -> None:
        self._raw: dict[str, Any] = {"message": raw} if isinstance(raw, str) else dict(raw)

    def __getitem__(self, key: str) -> Any:
        return self._raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    @property
    def message(self) -> str:
        return str(self._raw.get("message", ""))

    @property
    def error_type(self) -> str | None:
        value = self._raw.get("errorType")
        if value is None and isinstance(self.extensions, Mapping):
            value = self.extensions.get("errorType")
        return None if value is None else str(value)

    @property
    def error_info(self) -> Any:
        return self._raw.get("errorInfo")

    @property
    def path(self) -> list[str | int] | None:
        return self._raw.get("path")

    @property
    def locations(self) -> list[dict[str, Any]] | None:
        return self._raw.get("locations")

    @property
    def data(self) -> Any:
        return self._raw.get("data")

    @property
    def extensions(self) -> dict[str, Any] | None:
        return self._raw.get("extensions")

    def to_dict(self) -> dict[str, Any]:
        return dict(self._raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._raw == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        extra = f", error_type={self.error_type!r}" if self.error_type else ""
        return f"GraphQLError(message={self.message!r}{extra})"


@dataclass
class Result(Generic[T]):
    """The outcome of one GraphQL call.

    ``data`` is the record (or None) for create/get/update/delete, a list of records for list and
    index queries, the raw ``data`` dict for ``client.graphql()``. ``errors`` holds the GraphQL
    errors (empty when there were none): they are returned, not raised, and ``data`` may still be
    partially filled. ``next_token`` is the cursor of the next page (lists; None on the last page).
    """

    data: T
    errors: list[GraphQLError] = field(default_factory=list)
    next_token: str | None = None
    extensions: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when there were no errors."""
        return not self.errors

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}"]
        if self.errors:
            parts.append(f"errors={self.errors!r}")
        if self.next_token is not None:
            parts.append(f"next_token={self.next_token!r}")
        if self.extensions:
            parts.append(f"extensions={self.extensions!r}")
        return f"Result({', '.join(parts)})"
