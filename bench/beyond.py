"""Issue 14's reads over 100,000 rows: count, aggregates, sort by an unindexed field, full-text search.

Seeds a fresh SQLite database (through the store's bulk insert, so the search index is filled by the
same triggers every write goes through), then times each GraphQL request in process with
``Engine.execute`` (parse and plan cached, so the figure is the store's work plus rendering), as the
median and max of ``--repeat`` runs after one warm-up run.

    .venv/bin/python bench/beyond.py                 # 100,000 rows, prints a Markdown table
    .venv/bin/python bench/beyond.py --rows 10000 --repeat 5
    .venv/bin/python bench/beyond.py --database-url 'postgresql://postgres@127.0.0.1:5432/test?schema=bench14'

On PostgreSQL the requests are awaited (``Engine.execute_async``) on one event loop; the schema given
is used as is (give a new one: it is not emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cove import a, define_data
from cove.server.engine import Engine
from cove.server.identity import Identity
from cove.store import open_backend

WORDS = ("river stone lantern harbor meadow copper orchard violet thunder silver maple falcon garden "
         "winter ember candle saffron marble willow quartz beacon timber cobalt juniper").split()

schema = define_data(schema=a.schema({
    "Note": a.model({
        "title": a.string().required(),
        "body": a.string(),
        "score": a.integer(),
        "price": a.float(),
        "status": a.enum(["open", "done", "archived"]),
        "due": a.date(),
    }).secondary_indexes(lambda index: [index("status").sort_keys(["score"])]).searchable(["title", "body"]),
}).authorization(lambda allow: [allow.public_api_key()])).schema

QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("count, all rows", "query { countNotes }", {}),
    ("count, filter on an unindexed field", "query ($f: ModelNoteFilterInput) { countNotes(filter: $f) }",
     {"f": {"price": {"gt": 50.0}}}),
    ("count, filter on an indexed field", "query ($f: ModelNoteFilterInput) { countNotes(filter: $f) }",
     {"f": {"status": {"eq": "done"}}}),
    ("sum of score, grouped by status (3 groups)",
     "query { aggregateNotes(function: sum, field: score, groupBy: status) { key value } }", {}),
    ("avg of price, filtered", "query ($f: ModelNoteFilterInput) { aggregateNotes(function: avg, field: price, "
     "filter: $f) { key value } }", {"f": {"score": {"lt": 100}}}),
    ("list 20 sorted by due (no index: scan and sort)",
     "query { listNotes(limit: 20, sortBy: [{field: due, direction: DESC}]) { items { id due } nextToken } }", {}),
    ("list 20 sorted by status, score (the index's columns)",
     "query { listNotes(limit: 20, sortBy: [{field: status}, {field: score}]) { items { id } nextToken } }", {}),
    ("search, one common word, first 20",
     "query ($q: String!) { searchNotes(query: $q, limit: 20) { items { id title } nextToken } }", {"q": "harbor"}),
    ("search, two words, first 20",
     "query ($q: String!) { searchNotes(query: $q, limit: 20) { items { id title } nextToken } }",
     {"q": "harbor lantern"}),
    ("search, one common word + filter, first 20",
     "query ($q: String!, $f: ModelNoteFilterInput) { searchNotes(query: $q, filter: $f, limit: 20) "
     "{ items { id } } }", {"q": "harbor", "f": {"status": {"eq": "open"}}}),
    ("search, rare word + filter",
     "query ($q: String!, $f: ModelNoteFilterInput) { searchNotes(query: $q, filter: $f, limit: 20) "
     "{ items { id } } }", {"q": "note77777", "f": {"status": {"ne": "archived"}}}),
]


def rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(14)
    now = "2026-01-01T00:00:00.000Z"
    out = []
    for i in range(n):
        title = " ".join(rng.sample(WORDS, 3)) + f" note{i}"
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
        out.append({"id": str(uuid.UUID(int=rng.getrandbits(128))), "title": title, "body": body,
                    "score": rng.choice([None, *range(1000)]), "price": round(rng.uniform(0, 100), 2),
                    "status": rng.choice(["open", "done", "archived"]),
                    "due": None if rng.random() < 0.1 else f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "createdAt": now, "updatedAt": now})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--database-url", help="a postgresql:// URL (default: SQLite in a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        loop = asyncio.new_event_loop()
        backend = open_backend(args.database_url or Path(tmp))
        loop.run_until_complete(backend.open())
        loop.run_until_complete(backend.migrator.apply_schema(schema))
        model = schema.models["Note"]
        started = time.perf_counter()
        loop.run_until_complete(backend.transfer.insert_records((model, r) for r in rows(args.rows)))
        seeded = time.perf_counter() - started
        engine = Engine(schema, backend.records)
        who = Identity("apiKey")

        def execute(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            if args.database_url:
                return loop.run_until_complete(engine.execute_async(query, variables, None, who))
            return engine.execute(query, variables, None, who)

        print(f"{args.rows:,} Notes seeded in {seeded:.1f} s on {backend.description} (bulk insert, search index "
              f"by triggers); Python {sys.version.split()[0]}; median and max of {args.repeat} runs after a "
              "warm-up, in ms\n")
        print("| request | median ms | max ms | answer |")
        print("|---|---|---|---|")
        for label, query, variables in QUERIES:
            body = execute(query, variables)
            assert "errors" not in body, body
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                execute(query, variables)
                times.append((time.perf_counter() - t0) * 1000)
            value = next(iter(body["data"].values()))
            shown = (f"{len(value['items'])} items" if isinstance(value, dict)
                     else f"{len(value)} groups" if isinstance(value, list) else str(value))
            print(f"| {label} | {statistics.median(times):.1f} | {max(times):.1f} | {shown} |")
        loop.run_until_complete(backend.close())
        loop.close()


if __name__ == "__main__":
    main()
