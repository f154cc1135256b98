"""SQLite connections as Cove opens them: WAL, PRAGMAs, the cross-process writer lock, checkpoints.

Every write is one autocommitted statement (or one ``transaction``), so a write is durable (it
survives `kill -9` of the server) by the time it is acknowledged: WAL with synchronous=NORMAL loses
nothing on a process crash, only on an OS crash or power cut (``synchronous="FULL"`` survives those
too, at the cost of an fsync).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from pathlib import Path
from types import TracebackType

from cove.private_files import private_database


def connect(path: str | Path, *, synchronous: str = "NORMAL", cached_statements: int = 1024) -> sqlite3.Connection:
    """A read-write connection in autocommit mode and WAL, creating the file 0600 if it is missing."""
    if synchronous.upper() not in ("NORMAL", "FULL"):
        raise ValueError("synchronous must be NORMAL or FULL")
    database = private_database(path)
    conn = sqlite3.connect(str(database), isolation_level=None, check_same_thread=False,
                           cached_statements=cached_statements)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    return conn


def connect_reader(path: str | Path) -> sqlite3.Connection:
    """A read-only connection for a reader thread: WAL lets it read while the writer writes."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, cached_statements=256)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA query_only = 1")
    return conn


class WriterLock:
    """An flock on ``<database>.lock`` that writers in every process queue on.

    The next writer wakes the moment it is released; SQLite's own busy handler polls with sleeps of up
    to 100 ms, which wrecks tail latency.

    ``warm_writes`` counts down the record writes that should read their row before taking the lock:
    SQLiteRecords sets it when it finds the lock taken (another process writes to this file too), see
    ``SQLiteRecords._write``."""

    def __init__(self, database: str | Path) -> None:
        self.fd = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self.warm_writes = 0

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)


class transaction:  # noqa: N801 - used like a function: `with transaction(conn):`
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception (the connection is in autocommit mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class Checkpointer:
    """WAL checkpoints (and their fsyncs) off the request path.

    By default the writer that pushes the WAL past 1,000 pages copies it back into the database
    inline, which is a multi-millisecond stall for that one request. A thread with its own connection
    does it instead (PASSIVE: it never blocks readers or writers); the inline checkpoint stays as a
    safety net at a much larger WAL size."""

    def __init__(self, path: str | Path, writer: sqlite3.Connection, interval: float = 0.25) -> None:
        self._path = str(path)
        self._interval = interval
        self._closing = threading.Event()
        writer.execute("PRAGMA wal_autocheckpoint = 50000")
        self._thread = threading.Thread(target=self._run, name="cove-wal-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 1000")
        try:
            while not self._closing.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    continue
        finally:
            conn.close()

    def stop(self) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
