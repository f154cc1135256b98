"""Checking a response against the schema and turning it into records: the :class:`Shaper`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._records import DynamicRecord, Record
from ._schema import FieldInfo, SchemaInfo
from .errors import ResponseShapeError


class Shaper:
    """Turns response values into record attributes and records, checked against the schema.

    ``record_types``: the Record subclass per model / custom type name (typed clients generate them;
    any other type becomes a :class:`DynamicRecord`).
    """

    def __init__(self, schema: SchemaInfo, record_types: Mapping[str, type[Record]]) -> None:
        self.schema = schema
        self.record_types = record_types
        self._types: dict[str, tuple[str | None, dict[str, tuple[FieldInfo, frozenset[type] | None]]]] = {}

    def _type_of(self, type_name: str) -> tuple[str | None, dict[str, tuple[FieldInfo, frozenset[type] | None]]]:
        """``type_name`` if the schema knows it (else None), and each of its fields with the exact value
        classes that need no further check (a plain scalar's: ``str`` for a String); found once per
        type, since every record of a page asks."""
        found = self._types.get(type_name)
        if found is None:
            known = self.schema.models.get(type_name) or self.schema.non_models.get(type_name)
            found = self._types[type_name] = (type_name if known is not None else None, {
                name: (f, None if f.is_array or f.kind != "scalar" else _EXACT_CLASSES.get(f.type_name))
                for name, f in (known.fields.items() if known is not None else ())})
        return found

    def value(self, f: FieldInfo, value: Any, partial: bool = False, owner: str = "response") -> Any:
        """``value`` of field ``f`` of type ``owner`` as a record attribute, checked against the schema.

        Raises :class:`ResponseShapeError` when it does not match. ``partial``: the response also
        carried GraphQL errors, which explain nulls in required fields (AppSync nulls what it could
        not resolve), so those are let through.
        """
        if value is None:
            if not partial and f.kind != "model" and (
                    f.is_array_nullable is False if f.is_array else (f.is_required or f.is_read_only)):
                raise ResponseShapeError(owner, f.name, _expected(f), None)
            return None
        if f.is_array:
            if f.kind == "model" and isinstance(value, Mapping) and "items" in value:
                value = value["items"]  # hasMany connection → plain list
                if value is None:
                    return None
            if not isinstance(value, list):
                raise ResponseShapeError(owner, f.name, _expected(f), value)
            out: list[Any] = []
            for i, item in enumerate(value):
                try:
                    if item is None:
                        if f.is_required and not partial and f.kind != "model":
                            raise ResponseShapeError(owner, f.name, _expected(f, element=True), None)
                        out.append(None)
                    else:
                        out.append(self.element(f, item, partial, owner))
                except ResponseShapeError as exc:
                    exc.path[:0] = [i]
                    raise
            return out
        return self.element(f, value, partial, owner)

    def element(self, f: FieldInfo, value: Any, partial: bool, owner: str) -> Any:
        kind = f.kind
        if kind == "scalar":
            if not _scalar_ok(f.type_name, value):
                raise ResponseShapeError(owner, f.name, _expected(f, element=True), value)
            return value
        if kind == "enum":
            values = self.schema.enums.get(f.type_name)
            if not isinstance(value, str) or (values is not None and value not in values):
                raise ResponseShapeError(owner, f.name, _expected(f, element=True, enums=self.schema.enums), value)
            return value
        if kind in ("model", "nonModel"):
            if not isinstance(value, Mapping):
                raise ResponseShapeError(owner, f.name, _expected(f, element=True), value)
            return self.record(f.type_name, value, partial=partial)
        return value

    def record(self, type_name: str, raw: Mapping[str, Any], record_type: type[Record] | None = None,
               loaders: Mapping[str, Callable[..., Any]] | None = None, *, partial: bool = False) -> Any:
        """``raw`` as a record of ``type_name`` (its known fields checked; unknown ones kept as they are)."""
        known, fields = self._type_of(type_name)
        data: dict[str, Any] = {}
        for k, v in raw.items():
            entry = fields.get(k)
            if entry is None:
                data[k] = _dynamic(v)
                continue
            f, exact = entry
            if exact is not None and v.__class__ in exact:
                data[k] = v   # what value() would return, without its checks' calls
                continue
            try:
                data[k] = self.value(f, v, partial, type_name)
            except ResponseShapeError as exc:
                exc.path[:0] = [k]
                raise
        if record_type is None:
            record_type = self.record_types.get(type_name, DynamicRecord)
        return record_type._build(data, known, loaders)


def _dynamic(value: Any) -> Any:
    """A value of a field the schema does not know: objects (also inside lists) become DynamicRecords."""
    if isinstance(value, Mapping):
        return DynamicRecord(value)
    if isinstance(value, list):
        return [DynamicRecord(x) if isinstance(x, Mapping) else x for x in value]
    return value


def root_error(type_name: str, root: str, expected: str, value: Any,
               sub_path: Sequence[str | int] = ()) -> ResponseShapeError:
    exc = ResponseShapeError(type_name, None, expected, value)
    exc.path[:] = [root, *sub_path]
    return exc


#: AppSync scalars whose values are JSON strings. AWSJSON is one on the wire (AppSync returns the
#: document as a string), but servers that return the parsed value are tolerated.
_STRING_SCALARS = frozenset({"ID", "String", "AWSDate", "AWSTime", "AWSDateTime", "AWSEmail", "AWSPhone",
                             "AWSURL", "AWSIPAddress"})


#: Per scalar, the classes a JSON parser gives for a value _scalar_ok accepts (``bool`` is not ``int``
#: here, as there); a value of another class, a subclass included, takes the full check.
_EXACT_CLASSES: dict[str, frozenset[type]] = {
    **{name: frozenset({str}) for name in _STRING_SCALARS},
    "Int": frozenset({int}), "AWSTimestamp": frozenset({int}), "Float": frozenset({int, float}),
    "Boolean": frozenset({bool}),
}


def _scalar_ok(type_name: str, value: Any) -> bool:
    if type_name in _STRING_SCALARS:
        return isinstance(value, str)
    if type_name in ("Int", "AWSTimestamp"):
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    return True  # AWSJSON, or a scalar this client does not know: left alone


def _expected(f: FieldInfo, *, element: bool = False, enums: Mapping[str, tuple[str, ...]] | None = None) -> str:
    if f.kind == "enum":
        values = (enums or {}).get(f.type_name)
        inner = (f"one of the {f.type_name} values ({', '.join(values)})" if values
                 else f"a {f.type_name} value")
    elif f.kind in ("model", "nonModel"):
        inner = f"a {f.type_name} object"
    else:
        inner = f"{'an' if f.type_name[:1] in 'AEIOU' else 'a'} {f.type_name}"
    if f.is_array and not element:
        return f"a list of {f.type_name}" if f.kind in ("scalar", "enum") else f"a list of {f.type_name} objects"
    if f.is_array and element:
        return inner + " (a list element)"
    return inner
