"""What only the SQLite backend promises: the data dir format of earlier versions, open_backend's
locations, the reader thread for heavy reads, online backups and its error mapping."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from cove.store import BackendError, open_backend
from cove.store.base import InvalidFilter, KeyCondition, ListRequest
from cove.store.legacy_sqlite import SQLiteStore
from cove.store.sqlite.backend import SQLiteBackend

from .conftest import contract_schema

pytestmark = pytest.mark.anyio

T = "2024-01-01T00:00:00.000Z"


async def test_a_data_dir_of_the_previous_store_opens_unchanged(tmp_path: Path) -> None:
    schema = contract_schema()
    Post, Order = schema.models["Post"], schema.models["Order"]
    legacy = SQLiteStore(tmp_path / "data.sqlite")
    legacy.apply_schema(schema)
    for i in range(7):
        legacy.create(Post, {"id": f"p{i}", "title": f"t{i % 3}", "score": 1.0, "draft": i % 2 == 0,
                             "tags": ["a", f"b{i}"], "createdAt": T, "updatedAt": T}, None)
        legacy.create(Order, {"customerId": "c", "placedAt": f"2024-01-0{i + 1}", "total": float(i),
                              "status": "open", "createdAt": T, "updatedAt": T}, None)
    key = legacy.create_api_key(expires_at=time.time() + 60, description="kept")
    requests = [ListRequest(Post, limit=2), ListRequest(Post, limit=3, descending=True, filter={"draft": {"eq": True}}),
                ListRequest(Order, limit=2, index=Order.indexes[0],
                            key_condition=KeyCondition("status", "open", ("total",), {"ge": 2})),
                ListRequest(Order, limit=2, key_condition=KeyCondition("customerId", "c", ("placedAt",),
                                                                       {"beginsWith": "2024-01"}))]
    before = [legacy.list(r) for r in requests]
    secret = legacy.secret()
    legacy.close()

    backend = open_backend(tmp_path, create=False)
    try:
        report = await backend.migrator.apply_schema(schema)
        assert not report.changed
        assert backend.secret() == secret
        assert await backend.keys.find_api_key(key.key) == key
        for request, page in zip(requests, before):
            assert await backend.records.list(request) == page   # same rows, same order, same token
            request.next_token = page.next_token
            assert (await backend.records.list(request)).items   # a token of the old store pages on
        assert await backend.records.get(Post, {"id": "p3"}) == {**{f.name: None for f in Post.stored_fields()},
                                                                  "id": "p3", "title": "t0", "score": 1.0,
                                                                  "draft": False, "tags": ["a", "b3"],
                                                                  "createdAt": T, "updatedAt": T}
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
    with pytest.raises(BackendError, match=r"postgresql:// databases are not supported yet; give a data directory"):
        open_backend("postgresql://localhost/cove")
    with pytest.raises(BackendError, match="names a file"):
        open_backend("sqlite://host/x.sqlite")
    with pytest.raises(BackendError, match="no Cove database"):
        open_backend(tmp_path / "empty", create=False)
    assert not (tmp_path / "empty").exists()


async def test_heavy_reads_run_on_a_reader_thread(tmp_path: Path) -> None:
    schema = contract_schema()
    Post = schema.models["Post"]
    backend = open_backend(tmp_path)
    try:
        await backend.migrator.apply_schema(schema)
        await backend.records.create(Post, {"id": "p", "createdAt": T, "updatedAt": T}, None)
        heavy = backend.records.for_heavy_reads()
        assert backend.records.for_heavy_reads() is heavy and heavy.for_heavy_reads() is heavy
        assert await heavy.count(Post) == 1
        threads: list[str] = []
        reader = heavy._reader
        assert reader is not None and reader.conn is not backend.records.conn
        reader.conn.set_trace_callback(lambda _: threads.append(threading.current_thread().name))
        assert (await heavy.list(ListRequest(Post))).items[0]["id"] == "p"
        assert threads and all(name.startswith("cove-store-reader") for name in threads)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):   # query_only
            reader.conn.execute("DELETE FROM \"Post\"")
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
