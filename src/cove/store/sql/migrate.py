"""The stored layout against the schema: what to create or add, and which changes would lose data.

``plan_migration`` compares the description kept in ``_cove_meta`` with the schema; the backend reads
the row counts the plan asks for, ``check`` refuses a destructive change unless it was allowed, and
``statements`` spells the DDL through the Dialect. Only the backend does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cove.schema.model import Model, Schema

from ..base import DestructiveChange, MigrationReport
from . import search
from .codecs import dumps, storage_signature
from .dialect import Dialect

Description = dict[str, dict[str, str]]   # model -> field -> storage signature


def describe(schema: Schema) -> Description:
    return {m.name: {f.name: storage_signature(f) for f in m.stored_fields()} for m in schema.models.values()}


def is_relaxation(old: str, new: str) -> bool:
    """Dropping a `!` keeps every stored value valid."""
    return old.replace("!", "") == new.replace("!", "") and new.count("!") < old.count("!")


@dataclass
class MigrationPlan:
    schema: Schema
    old: Description
    new: Description
    existing_tables: set[str]
    report: MigrationReport = field(default_factory=MigrationReport)
    removed_models: list[str] = field(default_factory=list)
    # in the stored description's order: a removed model's name, or a field problem's message
    problems: list[tuple[str, str]] = field(default_factory=list)
    # model -> new required fields without a default: refused when the table has rows
    new_required: dict[str, list[str]] = field(default_factory=dict)
    # the searchable fields the stored search indexes were built for (None: unknown, rebuild them)
    old_search: search.SearchConfig | None = None

    @property
    def tables_to_count(self) -> list[str]:
        """Tables whose row count the refusal message or check needs."""
        removed = [m for m in self.removed_models if m in self.existing_tables]
        return removed + [m for m in self.new_required if m in self.existing_tables]

    def check(self, counts: Mapping[str, int], *, allow_destructive: bool) -> None:
        """Raise DestructiveChange (with every problem) unless there is none or it is allowed."""
        problems = [f"model {text} was removed ({counts.get(text, 0)} records would be dropped)" if kind == "model"
                    else text for kind, text in self.problems]
        for model, names in self.new_required.items():
            rows = counts.get(model, 0)
            if rows:
                problems += [f"field {model}.{name} is required and has no default, but {rows} existing records "
                             f"have no value for it; add .default(...) or make it optional" for name in names]
        if problems and not allow_destructive:
            raise DestructiveChange(
                "Refusing a destructive schema change:\n  - " + "\n  - ".join(problems)
                + "\nRe-run with --allow-destructive-changes to apply it anyway (data will be lost).")


def plan_migration(schema: Schema, old: Description, existing_tables: set[str],
                   old_search: search.SearchConfig | None = None) -> MigrationPlan:
    plan = MigrationPlan(schema, old, describe(schema), existing_tables, old_search=old_search)
    new = plan.new
    for model_name, old_fields in old.items():
        if model_name not in new:
            plan.removed_models.append(model_name)
            plan.problems.append(("model", model_name))
            plan.report.dropped.append(model_name)
            continue
        for name, signature in old_fields.items():
            new_signature = new[model_name].get(name)
            if new_signature is None:
                plan.problems.append(("field", f"field {model_name}.{name} was removed (its data would be dropped)"))
                plan.report.dropped.append(f"{model_name}.{name}")
            elif new_signature != signature and not is_relaxation(signature, new_signature):
                change = f"field {model_name}.{name} changed type from {signature} to {new_signature}"
                plan.problems.append(("field", change))
                plan.report.dropped.append(f"{model_name}.{name}")
    for model in schema.models.values():
        if model.name not in old:
            continue
        required = [f.name for f in model.stored_fields() if f.name not in old[model.name]
                    and (f.required or f.array_required) and not f.has_default]
        if required:
            plan.new_required[model.name] = required
    return plan


def statements(plan: MigrationPlan, d: Dialect) -> list[tuple[str, list[Any]]]:
    """The DDL (and the new description's upsert) that applies the plan, in order, for one transaction.
    Fills in the plan's report as it goes."""
    out: list[tuple[str, list[Any]]] = []
    changed = {name for name, fields in plan.new.items() if plan.old.get(name) != fields}
    before, after = search.migration(plan.schema, plan.old_search, changed, plan.removed_models, d)
    out += [(sql, []) for sql in before]
    for name in plan.report.dropped:
        if "." not in name:
            out.append((f"DROP TABLE IF EXISTS {d.quote(name)}", []))
    for model in plan.schema.models.values():
        out += _model_statements(plan, model, d)
    out += _reference_indexes(plan.schema, d)
    out += [(sql, []) for sql in after]
    # One bookkeeping statement, last: the description and the searchable fields the indexes hold.
    params: list[Any] = []
    rows = ", ".join(f"({d.params(params, [key, dumps(value)])})"
                     for key, value in (("schema", plan.new), ("search", search.config(plan.schema))))
    out.append((f"{META_UPSERT_PREFIX} (key, value) VALUES {rows} ON CONFLICT (key) DO UPDATE SET value = "
                "excluded.value", params))
    return out


META_UPSERT_PREFIX = 'INSERT INTO "_cove_meta"'



INDEX_PREFIX = "CREATE INDEX IF NOT EXISTS "
DROP_INDEX_PREFIX = "DROP INDEX IF EXISTS "


def needed(plan: MigrationPlan, statements: list[tuple[str, list[Any]]],
           existing_indexes: set[str]) -> list[tuple[str, list[Any]]]:
    """Of ``statements(plan, d)``, those that change something: indexes that exist already and an
    unchanged description are left out (an empty list: nothing to apply)."""
    # Indexes dropped for a column whose type changes are made again (see _model_statements).
    dropped = {sql[len(DROP_INDEX_PREFIX):] for sql, _ in statements if sql.startswith(DROP_INDEX_PREFIX)}
    keep = [(sql, params) for sql, params in statements[:-1]
            if not _exists(index_name(sql), existing_indexes) or _quoted_index(sql) in dropped]
    if keep or plan.old != plan.new or plan.report.changed:
        keep.append(statements[-1])   # the new description
    return keep


def ddl(applied: list[tuple[str, list[Any]]]) -> list[str]:
    """The DDL of ``needed(...)``'s statements (without the description's bookkeeping upsert)."""
    return [sql for sql, _ in applied if not sql.startswith(META_UPSERT_PREFIX)]


def index_name(sql: str) -> str | None:
    """The index a ``CREATE INDEX IF NOT EXISTS "name" ON ...`` statement creates (None for others)."""
    if not sql.startswith(INDEX_PREFIX):
        return None
    quoted = sql[len(INDEX_PREFIX):].split(" ON ", 1)[0]
    return quoted[1:-1].replace('""', '"')


def _quoted_index(sql: str) -> str:
    return sql[len(INDEX_PREFIX):].split(" ON ", 1)[0] if sql.startswith(INDEX_PREFIX) else ""


def _exists(name: str | None, existing: set[str]) -> bool:
    # PostgreSQL cuts names to 63 bytes (on a character boundary) and lists them cut.
    return name is not None and (name in existing or name.encode()[:63].decode(errors="ignore") in existing)


def summary(plan: MigrationPlan, applied: list[tuple[str, list[Any]]]) -> str:
    """One line for the history: ``created Todo; added Todo.done; dropped Post.rank; ...``."""
    report = plan.report
    parts = [f"created {name}" for name in report.created_models]
    parts += [f"added {name}" for name in report.added_fields]
    parts += [f"dropped {name}" for name in report.dropped]
    parts += [f"relaxed {model}.{name}" for model, fields in plan.new.items() for name, signature in fields.items()
              if is_relaxation(plan.old.get(model, {}).get(name, signature), signature)]
    created = {f"{m}__" for m in report.created_models}
    parts += [f"indexed {name}" for sql, _ in applied if (name := index_name(sql)) is not None
              and not any(name.startswith(prefix) for prefix in created)]
    parts += [f"search index of {name} rebuilt" for name in search.rebuilt(plan.schema, applied)]
    return "; ".join(parts) or "updated the stored description"


def _model_statements(plan: MigrationPlan, model: Model, d: Dialect) -> list[tuple[str, list[Any]]]:
    table = d.quote(model.name)
    stored = model.stored_fields()
    old = plan.old.get(model.name)
    out: list[str] = []
    if old is None or model.name not in plan.existing_tables:
        cols = ", ".join(f"{d.quote(f.name)} {d.column_type(f)}" for f in stored)
        pk = ", ".join(d.quote(k) for k in model.identifier)
        out.append(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({pk})){d.table_options}")
        plan.report.created_models.append(model.name)
    else:
        for f in stored:
            column = f"{d.quote(f.name)} {d.column_type(f)}"
            if f.name not in old:
                default = f" DEFAULT {d.literal(f.default)}" if f.has_default else ""
                out.append(f"ALTER TABLE {table} ADD COLUMN {column}{default}")
                plan.report.added_fields.append(f"{model.name}.{f.name}")
            elif old[f.name] != storage_signature(f) and not is_relaxation(old[f.name], storage_signature(f)):
                # Only reached when destructive changes were allowed: the old values are dropped. The
                # column's indexes go first (SQLite refuses to drop an indexed column) and are made again below.
                out += [f"DROP INDEX IF EXISTS {d.quote(name)}" for name in _indexes_on(plan.schema, model, f.name)]
                out.append(f"ALTER TABLE {table} DROP COLUMN {d.quote(f.name)}")
                out.append(f"ALTER TABLE {table} ADD COLUMN {column}")
                plan.report.added_fields.append(f"{model.name}.{f.name}")
        kept = {f.name for f in stored}
        out += [f"ALTER TABLE {table} DROP COLUMN {d.quote(name)}" for name in old if name not in kept]
    # Indexes: secondary indexes and the foreign keys has_many/has_one look children up by.
    for ix in model.indexes:
        cols = ", ".join(d.quote(c) for c in _index_columns(d, model, (ix.partition_key, *ix.sort_keys)))
        out.append(f"CREATE INDEX IF NOT EXISTS {d.quote(f'{model.name}__{ix.name}')} ON {table} ({cols})")
    return [(sql, []) for sql in out]


def _index_columns(d: Dialect, model: Model, columns: Sequence[str]) -> list[str]:
    """An index's columns; with ``d.index_holds_key``, the primary key's follow (as in a SQLite
    WITHOUT ROWID table's indexes), so a page in key order is an index walk that stops at its limit."""
    if not d.index_holds_key:
        return list(columns)
    return [*columns, *(k for k in model.identifier if k not in columns)]


def _indexes_on(schema: Schema, model: Model, column: str) -> list[str]:
    """The names of the indexes this schema declares on ``model`` that hold ``column``."""
    names = [f"{model.name}__{ix.name}" for ix in model.indexes if column in (ix.partition_key, *ix.sort_keys)]
    for parent in schema.models.values():
        for f in parent.fields.values():
            rel = f.relation
            if rel is not None and not rel.parent_holds_key and rel.related_model == model.name \
                    and column in rel.references:
                names.append(f"{model.name}__ref__{'_'.join(rel.references)}")
    return names


def _reference_indexes(schema: Schema, d: Dialect) -> list[tuple[str, list[Any]]]:
    out: list[tuple[str, list[Any]]] = []
    for model in schema.models.values():
        for f in model.fields.values():
            rel = f.relation
            if rel is None or rel.parent_holds_key:
                continue
            child = schema.models[rel.related_model]
            cols = ", ".join(d.quote(c) for c in _index_columns(d, child, rel.references))
            name = d.quote(f"{child.name}__ref__{'_'.join(rel.references)}")
            out.append((f"CREATE INDEX IF NOT EXISTS {name} ON {d.quote(child.name)} ({cols})", []))
    return out
