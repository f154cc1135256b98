"""What only the SQLite backend promises: the data dir format of earlier versions, open_backend's
locations, the reader thread for heavy reads, online backups, its error mapping and what a write does
outside the writer lock."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cove.schema.model import Schema
from cove.store import BackendError, open_backend
from cove.store.base import InvalidFilter, KeyCondition, ListRequest, ReadOverBudget, SortKey
from cove.store.sqlite.backend import SQLiteBackend

from .conftest import contract_schema

pytestmark = pytest.mark.anyio

T = "2024-01-01T00:00:00.000Z"


FIXTURES = Path(__file__).parent / "fixtures"


def _request(schema: Schema, spec: dict[str, Any]) -> ListRequest:
    model = schema.models[spec["model"]]
    kc = spec.get("key_condition")
    return ListRequest(model, spec.get("filter"), spec["limit"], None, spec.get("descending", False),
                       model.indexes[0] if spec.get("index") else None,
                       KeyCondition(kc[0], kc[1], tuple(kc[2]), kc[3]) if kc else None)


async def test_a_data_dir_of_the_previous_store_opens_unchanged(tmp_path: Path) -> None:
    """legacy_data_dir.sql is a data dir the synchronous store (before the async seam) wrote, and
    legacy_pages.json what that store answered for a few lists: same rows, order and next tokens."""
    with sqlite3.connect(tmp_path / "data.sqlite") as conn:
        conn.executescript((FIXTURES / "legacy_data_dir.sql").read_text())
    conn.close()
    schema = contract_schema()
    backend = open_backend(tmp_path, create=False)
    try:
        assert not (await backend.migrator.apply_schema(schema)).changed
        key = await backend.keys.find_api_key((await backend.keys.api_keys())[0].key)
        assert key is not None and key.description == "kept" and key.expires_at == 4102444800.0
        for name, expected in json.loads((FIXTURES / "legacy_pages.json").read_text()).items():
            request = _request(schema, expected)
            page = await backend.records.list(request)
            assert (page.items, page.next_token) == (expected["items"], expected["next_token"]), name
            request.next_token = page.next_token
            assert (await backend.records.list(request)).items, name   # the old store's token pages on
    finally:
        await backend.close()


async def test_locations(tmp_path: Path) -> None:
    backend = open_backend(tmp_path / "dir")
    await backend.close()
    database = tmp_path / "dir" / "data.sqlite"
    assert stat.S_IMODE(os.stat(database).st_mode) == 0o600
    url_backend = open_backend(f"sqlite://{database}", create=False)
    assert isinstance(url_backend, SQLiteBackend) and url_backend.path == database
    await url_backend.close()
    with pytest.raises(BackendError, match=r"mysql:// databases are not supported; give a data directory"):
        open_backend("mysql://localhost/cove")
    with pytest.raises(BackendError, match="names a file"):
        open_backend("sqlite://host/x.sqlite")
    with pytest.raises(BackendError, match="no Cove database"):
        open_backend(tmp_path / "empty", create=False)
    assert not (tmp_path / "empty").exists()


async def test_heavy_reads_run_on_a_reader_thread(tmp_path: Path) -> None:
    schema = contract_schema()
    Post = schema.models["Post"]
    backend = open_backend(tmp_path)
    assert isinstance(backend, SQLiteBackend)
    server_reader = ThreadPoolExecutor(1, thread_name_prefix="server-reader")
    try:
        await backend.migrator.apply_schema(schema)
        await backend.records.create(Post, {"id": "p", "createdAt": T, "updatedAt": T}, None)
        for executor, thread_name in [(None, "cove-store-reader"), (server_reader, "server-reader")]:
            heavy = backend.records.for_heavy_reads(executor)
            assert heavy.for_heavy_reads(executor) is heavy
            assert await heavy.count(Post) == 1   # opens that thread's read-only connection
            reader = backend.records._reader_connections[-1]
            assert reader is not backend.conn
            threads: list[str] = []
            reader.set_trace_callback(lambda _: threads.append(threading.current_thread().name))
            assert (await heavy.list(ListRequest(Post))).items[0]["id"] == "p"
            assert threads and all(name.startswith(thread_name) for name in threads)
            with pytest.raises(sqlite3.OperationalError, match="readonly"):   # query_only
                reader.execute("DELETE FROM \"Post\"")
        assert len(backend.records._reader_connections) == 2   # one per thread, kept for later reads
    finally:
        await backend.close()
        server_reader.shutdown()


async def test_a_bounded_read_stops_a_long_statement_and_changes_nothing(tmp_path: Path) -> None:
    """bounded_reads() is the event loop's view: an indexed read answers as usual, a scan over many
    rows stops with ReadOverBudget (not a StoreError: nobody's fault) and leaves the connection
    usable, and the same request answers in full through the unbounded store."""
    schema = contract_schema()
    Post = schema.models["Post"]
    backend = open_backend(tmp_path)
    assert isinstance(backend, SQLiteBackend)
    try:
        await backend.migrator.apply_schema(schema)
        rows = [(f"p{i:06d}", f"title {i}", i, T, T) for i in range(60_000)]
        with backend.records.conn:
            backend.records.conn.executemany(
                'INSERT INTO "Post" (id, title, rank, "createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?)', rows)
        bounded = backend.records.bounded_reads(0.001)
        assert bounded.bounded_reads(0.5) is not bounded and backend.records._read_budget == 0
        page = await bounded.list(ListRequest(Post, limit=5))
        assert [r["id"] for r in page.items] == ["p000000", "p000001", "p000002", "p000003", "p000004"]
        assert (await bounded.get(Post, {"id": "p059999"}) or {})["rank"] == 59_999
        nowhere = ListRequest(Post, {"title": {"eq": "no such title"}}, limit=5)
        by_rank = ListRequest(Post, limit=3, sort=(SortKey("rank", descending=True),))
        for request in (nowhere, by_rank):
            with pytest.raises(ReadOverBudget):
                await bounded.list(request)
        assert (await backend.records.list(nowhere)).items == []
        assert [r["rank"] for r in (await backend.records.list(by_rank)).items] == [59_999, 59_998, 59_997]
        # The connection goes on: the next bounded read and a write work, no handler is left behind.
        assert len((await bounded.list(ListRequest(Post, limit=2))).items) == 2
        await bounded.create(Post, {"id": "q", "createdAt": T, "updatedAt": T}, None)
        assert await backend.records.count(Post) == 60_001
        # Off the loop there is no budget: the reader's view is its own bounded view.
        heavy = backend.records.for_heavy_reads()
        assert heavy.bounded_reads(0.001) is heavy
        assert (await heavy.list(nowhere)).items == []
    finally:
        await backend.close()


async def test_backup_is_a_database_of_its_own(tmp_path: Path) -> None:
    schema = contract_schema()
    Post = schema.models["Post"]
    backend = open_backend(tmp_path / "live")
    try:
        await backend.migrator.apply_schema(schema)
        await backend.records.create(Post, {"id": "p", "title": "x", "createdAt": T, "updatedAt": T}, None)
        await backend.transfer.backup(tmp_path / "copy.sqlite")
    finally:
        await backend.close()
    copy = open_backend(f"sqlite://{tmp_path / 'copy.sqlite'}", create=False)
    try:
        assert not (await copy.migrator.apply_schema(schema)).changed
        assert (await copy.records.get(Post, {"id": "p"}) or {})["title"] == "x"
    finally:
        await copy.close()


async def test_a_malformed_stored_list_is_an_invalid_filter(tmp_path: Path) -> None:
    schema = contract_schema()
    Post = schema.models["Post"]
    backend = open_backend(tmp_path)
    try:
        await backend.migrator.apply_schema(schema)
        await backend.records.create(Post, {"id": "p", "createdAt": T, "updatedAt": T}, None)
        assert isinstance(backend, SQLiteBackend)
        backend.conn.execute("UPDATE \"Post\" SET tags = '[not json'")
        with pytest.raises(InvalidFilter, match="does not fit"):
            await backend.records.list(ListRequest(Post, filter={"tags": {"contains": 3}}))
    finally:
        await backend.close()


async def test_while_another_process_writes_an_update_reads_its_row_outside_the_writer_lock(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement after another connection's commit first reloads the pages it needs (SQLite drops
    the connection's page cache); an update or delete alone would do it under the writer lock. Once
    the lock was found taken (another process writes), the next writes read their row before taking
    it (WARM_WRITES of them, counted down again while the lock is free); alone, a write is its one
    statement. The read changes nothing: the writes, their conditions and their failures are as
    without it."""
    from cove.store.base import ConditionalCheckFailed
    from cove.store.sqlite import records as sqlite_records
    from cove.store.sqlite.records import run_to_completion

    monkeypatch.setattr(sqlite_records, "WARM_WRITES", 3)
    schema = contract_schema()
    Post = schema.models["Post"]
    backend, other = open_backend(tmp_path), open_backend(tmp_path)   # `other`: a second process's
    assert isinstance(backend, SQLiteBackend) and isinstance(other, SQLiteBackend)
    probe = os.open(tmp_path / "data.sqlite.lock", os.O_RDWR)
    try:
        await backend.migrator.apply_schema(schema)
        await other.migrator.apply_schema(schema)
        for key in ("p", "q"):
            await backend.records.create(Post, {"id": key, "title": "a", "rank": 1, "createdAt": T,
                                                "updatedAt": T}, None)
        seen: list[tuple[str, bool]] = []   # (statement, whether the writer lock was free meanwhile)

        def trace(sql: str) -> None:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append((sql.split()[0], False))
            else:
                fcntl.flock(probe, fcntl.LOCK_UN)
                seen.append((sql.split()[0], True))

        backend.conn.set_trace_callback(trace)

        async def update(title: str, condition: dict[str, Any] | None = None, key: str = "p") -> list[tuple[str, bool]]:
            seen.clear()
            await backend.records.update(Post, {"id": key}, {"title": title}, condition)
            return list(seen)

        assert await update("alone") == [("UPDATE", False)]
        # The other process holds the lock: the update waits for it (in a thread, as this one must
        # let go), and the writes after it read their row first, while the lock is free.
        with other.writer_lock:
            waiting = ThreadPoolExecutor(1).submit(run_to_completion, update("waited"))
            time.sleep(0.2)
            assert not waiting.done()
        assert waiting.result(timeout=10) == [("UPDATE", False)]
        await other.records.update(Post, {"id": "p"}, {"rank": 2}, None)
        assert await update("read first") == [("SELECT", True), ("UPDATE", False)]
        assert (await backend.records.get(Post, {"id": "p"}) or {})["rank"] == 2   # the other's change kept
        with pytest.raises(ConditionalCheckFailed):
            await update("not written", {"rank": {"eq": 1}})
        assert seen == [("SELECT", True), ("UPDATE", False)]
        with pytest.raises(ConditionalCheckFailed):
            await update("missing", key="nothing")
        assert seen == [("SELECT", True), ("UPDATE", False)]
        # Three writes since the lock was last found taken: alone again.
        assert await update("alone again") == [("UPDATE", False)]
        stored = await backend.records.get(Post, {"id": "p"})
        assert stored is not None and (stored["title"], stored["rank"]) == ("alone again", 2)
        backend.writer_lock.warm_writes = 1
        seen.clear()
        deleted = await backend.records.delete(Post, {"id": "q"}, None)
        assert deleted["id"] == "q" and seen == [("SELECT", True), ("DELETE", False)]
        assert await backend.records.get(Post, {"id": "q"}) is None
    finally:
        os.close(probe)
        await other.close()
        await backend.close()
