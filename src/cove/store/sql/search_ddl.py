"""Each database's full-text index beside a searchable model's table, and its match clause.

SQLite: an FTS5 table ``<Model>__search`` (one column per searchable field; the ``unicode61`` tokenizer
folds case and removes diacritics) whose rowids come from ``<Model>__search_keys`` (the record's key
-> a stable integer: the model's table has no rowid); three triggers on the model's table keep both
in step. Ranked by ``bm25`` (lower is better).

PostgreSQL: a table ``<Model>__search`` (the record's key and a ``tsvector`` of its searchable fields,
``simple`` configuration: split into words and lower-cased, no stemming, so it finds what SQLite finds)
with a GIN index, kept in step by one row trigger. Accents are folded for Latin letters (U+00C0 to
U+024F) by ``translate()`` on both sides, so no extension (``unaccent``) is needed. Ranked by
``-ts_rank`` (lower is better).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from cove.schema.model import Model

from .dialect import Dialect


def _latin_folding() -> tuple[str, str]:
    """(accented letters, their base letters), lower case, for translate()."""
    source, target = [], []
    for code in range(0xC0, 0x250):
        char = chr(code).lower()
        if len(char) != 1:
            continue   # İ lower-cases to two code points
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if len(base) == 1 and base.isascii() and base.isalpha() and base != char and char not in source:
            source.append(char)
            target.append(base)
    return "".join(source), "".join(target)


FOLD_FROM, FOLD_TO = _latin_folding()
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(word: str) -> str:
    """A query word as the PostgreSQL index holds its words: lower case, Latin accents removed."""
    return word.lower().translate(_FOLD)


def _sqlite_names(model_name: str, d: Dialect) -> tuple[str, str, list[str]]:
    return d.quote(f"{model_name}__search"), d.quote(f"{model_name}__search_keys"), [
        d.quote(f"{model_name}__search_{event}") for event in ("ai", "ad", "au")]


def drop(model_name: str, d: Dialect) -> list[str]:
    """What removes a model's search index (its table may be gone already)."""
    if d.name == "sqlite":
        fts, keys, triggers = _sqlite_names(model_name, d)
        return [*(f"DROP TRIGGER IF EXISTS {t}" for t in triggers), f"DROP TABLE IF EXISTS {fts}",
                f"DROP TABLE IF EXISTS {keys}"]
    # The function's CASCADE drops its trigger, whether or not the model's table still exists.
    return [f"DROP FUNCTION IF EXISTS {d.quote(f'{model_name}__search_sync')}() CASCADE",
            f"DROP TABLE IF EXISTS {d.quote(f'{model_name}__search')}"]


def create(model: Model, d: Dialect) -> list[str]:
    """The search index of ``model``, what keeps it in step, and what fills it from the table."""
    return _sqlite_create(model, d) if d.name == "sqlite" else _postgres_create(model, d)


def matches(model: Model, d: Dialect, words: list[str], aliases: list[str], score: str, params: list[Any]) -> str:
    """``SELECT <key AS alias>..., <score> FROM <index> WHERE <every word>``."""
    if d.name == "sqlite":
        fts, keys, _ = _sqlite_names(model.name, d)
        match = " ".join('"' + word.replace('"', '""') + '"' for word in words)
        keys_as = ", ".join(f"k.{d.quote(c)} AS {a}" for c, a in zip(model.identifier, aliases))
        return (f"SELECT {keys_as}, bm25({fts}) AS {score} FROM {fts} JOIN {keys} AS k ON k.rowid = {fts}.rowid "
                f"WHERE {fts} MATCH {d.param(params, match)}")
    table = d.quote(f"{model.name}__search")
    keys_as = ", ".join(f"x.{d.quote(c)} AS {a}" for c, a in zip(model.identifier, aliases))
    query = d.param(params, " ".join(fold(w) for w in words))
    return (f"SELECT {keys_as}, (-ts_rank(x._cove_doc, q))::float8 AS {score} FROM {table} AS x, "
            f"plainto_tsquery('simple', {query}::text) AS q WHERE x._cove_doc @@ q")


def _sqlite_create(model: Model, d: Dialect) -> list[str]:
    fts, keys, (ai, ad, au) = _sqlite_names(model.name, d)
    table = d.quote(model.name)
    key_cols = [d.quote(k) for k in model.identifier]
    text_cols = [d.quote(f) for f in model.searchable]
    key_list, text_list = ", ".join(key_cols), ", ".join(text_cols)
    key_match = " AND ".join(f"k.{c} = old.{c}" for c in key_cols)
    rowid_of_old = f"(SELECT k.rowid FROM {keys} AS k WHERE {key_match})"
    return [
        f"CREATE TABLE {keys} (rowid INTEGER PRIMARY KEY, {key_list}, UNIQUE ({key_list}))",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({text_list}, tokenize = 'unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {ai} AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {keys} ({key_list}) VALUES ({', '.join('new.' + c for c in key_cols)}); "
        f"INSERT INTO {fts} (rowid, {text_list}) VALUES (last_insert_rowid(), "
        f"{', '.join('new.' + c for c in text_cols)}); END",
        f"CREATE TRIGGER {ad} AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = {rowid_of_old}; "
        f"DELETE FROM {keys} WHERE {' AND '.join(f'{c} = old.{c}' for c in key_cols)}; END",
        f"CREATE TRIGGER {au} AFTER UPDATE OF {text_list} ON {table} BEGIN "
        f"UPDATE {fts} SET {', '.join(f'{c} = new.{c}' for c in text_cols)} WHERE rowid = {rowid_of_old}; END",
        f"INSERT INTO {keys} ({key_list}) SELECT {key_list} FROM {table}",
        f"INSERT INTO {fts} (rowid, {text_list}) SELECT k.rowid, {', '.join('t.' + c for c in text_cols)} "
        f"FROM {table} AS t JOIN {keys} AS k ON {' AND '.join(f'k.{c} = t.{c}' for c in key_cols)}",
    ]


def _postgres_create(model: Model, d: Dialect) -> list[str]:
    table = d.quote(model.name)
    index = d.quote(f"{model.name}__search")
    function = d.quote(f"{model.name}__search_sync")
    key_cols = [d.quote(k) for k in model.identifier]
    key_list = ", ".join(key_cols)
    columns = ", ".join(f"{d.quote(k)} {d.column_type(model.fields[k])}" for k in model.identifier)

    def document(row: str) -> str:
        text = " || ' ' || ".join(f"coalesce({row}{d.quote(f)}::text, '')" for f in model.searchable)
        return (f"to_tsvector('simple', translate(lower({text}), {d.quote_literal(FOLD_FROM)}, "
                f"{d.quote_literal(FOLD_TO)}))")

    old_key = " AND ".join(f"{c} = OLD.{c}" for c in key_cols)
    return [
        f"CREATE TABLE {index} ({columns}, _cove_doc tsvector NOT NULL, PRIMARY KEY ({key_list}))",
        f"CREATE INDEX {d.quote(f'{model.name}__search_doc')} ON {index} USING GIN (_cove_doc)",
        f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $cove$ BEGIN "
        f"IF TG_OP = 'DELETE' THEN DELETE FROM {index} WHERE {old_key}; RETURN OLD; END IF; "
        f"INSERT INTO {index} ({key_list}, _cove_doc) VALUES ({', '.join('NEW.' + c for c in key_cols)}, "
        f"{document('NEW.')}) ON CONFLICT ({key_list}) DO UPDATE SET _cove_doc = excluded._cove_doc; "
        f"RETURN NEW; END $cove$",
        f"CREATE TRIGGER {d.quote(f'{model.name}__search_sync')} AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f"INSERT INTO {index} ({key_list}, _cove_doc) SELECT {key_list}, {document('')} FROM {table}",
    ]
