"""Full-text search: when a model's search index is (re)built, and the search statement.

Each database keeps the index beside the model's table, filled by triggers on it so every write (a
mutation, a transaction, an import, a reset) updates it in the same transaction (see search_ddl.py).
The index is rebuilt (and refilled from the table) when the model's searchable fields or columns
change. A query's words (letters and digits) must all appear; the database's query syntax is never
exposed. Results are ranked by a score (lower is better), then by key, and paged by signed tokens
bound to the model and the words.
"""

from __future__ import annotations

import re
from typing import Any

from cove.schema.model import Model, Schema

from ..base import InvalidFilter, InvalidNextToken, Page, Record, SearchRequest
from . import search_ddl
from .dialect import Dialect
from .layout import Layout
from .tokens import NextTokens

Statement = tuple[str, list[Any]]
SearchConfig = dict[str, list[str]]     # model -> its searchable fields, as stored in _cove_meta

MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
SCORE = "_cove_score"


def config(schema: Schema) -> SearchConfig:
    return {m.name: list(m.searchable) for m in schema.models.values() if m.searchable}


def terms(query: str) -> list[str]:
    """The query's words (letters and digits); InvalidFilter when there are none or too many."""
    if not isinstance(query, str):
        raise InvalidFilter("a search query must be a string")
    words = _WORD.findall(query)
    if not words:
        raise InvalidFilter("the search query has no words to look for")
    if len(words) > MAX_TERMS:
        raise InvalidFilter(f"a search query may hold at most {MAX_TERMS} words, got {len(words)}")
    return words


def migration(schema: Schema, old_config: SearchConfig | None, changed_models: set[str], removed: list[str],
              d: Dialect) -> tuple[list[str], list[str]]:
    """(before, after) the model statements: a search index is dropped before its table changes (a
    trigger would block a column's removal) and rebuilt after, when the model is new or changed or
    its searchable fields differ from ``old_config`` (None: not known, rebuild every index)."""
    new_config = config(schema)
    before: list[str] = []
    after: list[str] = []
    for name in removed:
        before += search_ddl.drop(name, d)
    for model in schema.models.values():
        was = None if old_config is None else old_config.get(model.name)
        now = new_config.get(model.name)
        if now is None and was is None and old_config is not None:
            continue
        if was == now and model.name not in changed_models and old_config is not None:
            continue
        before += search_ddl.drop(model.name, d)
        if now is not None:
            after += search_ddl.create(model, d)
    return before, after


def rebuilt(schema: Schema, applied: list[tuple[str, list[Any]]]) -> list[str]:
    """The models whose search index the applied statements (re)built, for the history."""
    made = [sql for sql, _ in applied if sql.startswith('CREATE TABLE "')]
    return [m.name for m in schema.models.values()
            if m.searchable and any(sql.startswith(f'CREATE TABLE "{m.name}__search') for sql in made)]


def search(lay: Layout, request: SearchRequest, tokens: NextTokens, candidates: int | None = None) -> Statement:
    """The ``limit + 1`` best matches that pass the filter, each row ending with its score.

    Levels, so that only narrow rows are ranked and sorted: the match gives (key, score) under
    aliases (the index's own column names, FTS5's ``rank`` among them, never meet the model's); the next seeks past
    the token and, given ``candidates``, keeps only that many best; the next filters (joining the
    model's table only when there is a filter) and keeps the first ``limit + 1``; the outer one reads
    those records whole. With a filter, ``candidates`` bounds the table lookups (each costs a B-tree
    descent): the caller retries without it when the page comes out short (see :func:`needs_retry`)."""
    model = request.model
    if not model.searchable:
        raise InvalidFilter(f"{model.name} is not searchable: declare .searchable([...]) on the model")
    d = lay.dialect
    params: list[Any] = []
    words = terms(request.query)
    match = _match(request.query)
    aliases = [d.quote(f"_cove_k{i}") for i in range(len(model.identifier))]
    order = ", ".join(f"s.{a}" for a in aliases)
    found = search_ddl.matches(model, d, words, aliases, SCORE, params)
    after = f"SELECT s.* FROM ({found}) AS s"
    if request.next_token:
        last = tokens.read(request.next_token, scope(model, match))
        if len(last) != 1 + len(model.identifier):
            raise InvalidNextToken("Invalid nextToken: it does not belong to this query")
        score, key = last[0], last[1:]
        after += (f" WHERE (s.{SCORE} > {d.param(params, score)} OR (s.{SCORE} = {d.param(params, score)} AND "
                  f"({order}) > ({d.params(params, key)})))")
    if candidates is not None:
        after += f" ORDER BY s.{SCORE}, {order} LIMIT {d.param(params, candidates)}"
    table = lay.table
    joins = " AND ".join(f"{table}.{d.quote(c)} = s.{a}" for c, a in zip(model.identifier, aliases))
    page = f"SELECT s.* FROM ({after}) AS s"
    if request.filter:
        page += f" JOIN {table} ON {joins} WHERE {lay.filters.compile(request.filter, params)}"
    page += f" ORDER BY s.{SCORE}, {order} LIMIT {d.param(params, request.limit + 1)}"
    selected = ", ".join(f"{table}.{d.quote(c)}" for c in lay.columns)
    sql = f"SELECT {selected}, s.{SCORE} FROM ({page}) AS s JOIN {table} ON {joins} ORDER BY s.{SCORE}, {order}"
    return sql, params


def candidates_for(request: SearchRequest) -> int | None:
    """How many best matches a filtered search first looks at (None: all of them)."""
    return 8 * (request.limit + 1) if request.filter else None


def needs_retry(request: SearchRequest, candidates: int | None, rows: list[Any]) -> bool:
    """A page cut short by the candidate bound may have missed matches further down: look at all."""
    return candidates is not None and len(rows) <= request.limit


def _match(query: str) -> str:
    """The FTS5 query: each word a quoted term, all required."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in terms(query))


def scope(model: Model, match: str) -> bytes:
    """A search's token pages that same search only (the model and the words)."""
    return f"{model.name}|search|{match}".encode()


def page(lay: Layout, request: SearchRequest, rows: list[Any], tokens: NextTokens) -> Page:
    decode = lay.decode
    items: list[Record] = [decode(row) for row in rows[:request.limit]]
    token = None
    if len(rows) > request.limit and items:
        last_row = rows[request.limit - 1]
        token = tokens.make([last_row[-1], *(items[-1][k] for k in request.model.identifier)],
                            scope(request.model, _match(request.query)))
    return Page(items, token)
