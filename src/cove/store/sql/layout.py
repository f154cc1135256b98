"""How one model is laid out in its table, and the generated function that turns a row into a record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cove.schema.model import Model

from ..base import Record
from .dialect import Dialect
from .filters import FilterCompiler

Decoder = Callable[[tuple[Any, ...]], Record]


class Layout:
    """A model's table, columns, codecs and the statements that never change, computed once per schema."""

    def __init__(self, model: Model, dialect: Dialect) -> None:
        q = dialect.quote
        stored = model.stored_fields()
        self.model = model
        self.dialect = dialect
        self.table = q(model.name)
        self.columns = [f.name for f in stored]
        self.fields = {f.name: f for f in stored}
        self.column_list = ", ".join(q(c) for c in self.columns)
        self.select = f"SELECT {self.column_list} FROM {self.table}"
        # The row's columns, then what the dialect adds past them (decode reads the columns only).
        self.returning = " RETURNING " + self.column_list + dialect.returning_extra
        self.encoders = {f.name: fn for f in stored if (fn := dialect.encoder(f)) is not None}
        decoders = [(i, fn) for i, f in enumerate(stored) if (fn := dialect.decoder(f)) is not None]
        self.decode: Decoder = compile_decoder(self.columns, decoders)
        self.filters = FilterCompiler(model, dialect)
        self.list_fields = frozenset(f.name for f in stored if f.is_array)
        self.identifier = tuple(model.identifier)
        key_params: list[Any] = []
        # Statements that start with their key take the same placeholders every time: build them once.
        self.key_where = " AND ".join(f"{q(k)} = {dialect.param(key_params, None)}" for k in self.identifier)
        self.get_sql = f"{self.select} WHERE {self.key_where}"
        self.count_sql = f"SELECT count(*) FROM {self.table}"
        self._inserts: dict[tuple[str, ...], str] = {}
        self._updates: dict[tuple[str, ...], str] = {}
        self.get_many_sql: dict[int, str] = {}   # by number of keys, for dialects with positional placeholders

    def insert_sql(self, cols: tuple[str, ...]) -> str:
        """INSERT ... RETURNING for this set of given columns (cached: a model has few such sets)."""
        sql = self._inserts.get(cols)
        if sql is None:
            params: list[Any] = []
            values = self.dialect.params(params, cols)
            names = ", ".join(self.dialect.quote(c) for c in cols)
            sql = self._inserts[cols] = f"INSERT INTO {self.table} ({names}) VALUES ({values}){self.returning}"
        return sql

    def update_sql(self, cols: tuple[str, ...]) -> str:
        """``UPDATE ... SET <cols> WHERE <key>`` (cached per set of changed columns: their values come
        first, then the key's, so even numbered placeholders are the same every time)."""
        sql = self._updates.get(cols)
        if sql is None:
            d = self.dialect
            params: list[Any] = []
            sets = ", ".join(f"{d.quote(c)} = {d.param(params, None)}" for c in cols)
            where = " AND ".join(f"{d.quote(k)} = {d.param(params, None)}" for k in self.identifier)
            sql = self._updates[cols] = f"UPDATE {self.table} SET {sets} WHERE {where}"
        return sql

    def encode(self, name: str, value: Any) -> Any:
        fn = self.encoders.get(name)
        return fn(value) if fn is not None and value is not None else value

    def encode_values(self, values: Record) -> tuple[tuple[str, ...], list[Any]]:
        """The columns ``values`` gives, in table order, and their column values."""
        cols = tuple(c for c in self.columns if c in values)
        encoders = self.encoders
        params = [v if (v := values[c]) is None or c not in encoders else encoders[c](v) for c in cols]
        return cols, params

    def key_values(self, key: dict[str, Any]) -> list[Any]:
        return [key[k] for k in self.identifier]


def compile_decoder(columns: list[str], decoders: list[tuple[int, Callable[[Any], Any]]]) -> Decoder:
    """Generate `row tuple -> record dict` as one dict literal (the per-row inner loop of every read)."""
    converted = {i: j for j, (i, _) in enumerate(decoders)}
    parts = []
    for i, name in enumerate(columns):
        if i in converted:
            parts.append(f"{name!r}: None if row[{i}] is None else F{converted[i]}(row[{i}])")
        else:
            parts.append(f"{name!r}: row[{i}]")
    namespace: dict[str, Any] = {f"F{j}": fn for j, (_, fn) in enumerate(decoders)}
    source = "def decode(row):\n    return {" + ", ".join(parts) + "}\n"
    exec(compile(source, "<cove row decoder>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace["decode"]  # type: ignore[no-any-return]
