"""Data in and out of a store: export and import as JSON lines, backup and restore.

Export and import go through the backend's protocols (``records.list`` in a
``transfer.read_snapshot``, ``transfer.insert_records``), so any backend (SQLite today, PostgreSQL
later) moves data the same way and records move between them. One line per record:
``{"model": "Todo", "record": {...}}``.

Import is all-or-nothing per file: a first pass checks every line against the schema and reports
every problem with its line number; only a clean file is inserted, in one transaction, so a
duplicate key (or anything else) rolls the whole file back.

A backup is a single SQLite file: the store's online copy plus the user pool's signing keys (kept in
a ``_cove_backup_files`` table), so a restored data directory keeps its users' tokens valid.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from cove.private_files import private_dir
from cove.schema.model import Model, Schema

from .base import Backend, DuplicateRecord, ListRequest, Record
from .records import InvalidRecord, RecordValidator

PAGE = 500
MAX_REPORTED = 20
BACKUP_FORMAT = "cove-backup-1"


class TransferError(Exception):
    """Export, import, backup or restore refused; the message says why (and nothing was changed)."""


# -- progress ------------------------------------------------------------------------------------

class Progress:
    """A rich progress bar on a terminal (when rich is installed), otherwise nothing until the summary."""

    def __init__(self, description: str, total: int | None, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self._bar: Any = None
        self._task: Any = None
        if self.stream.isatty():
            try:
                from rich.console import Console  # type: ignore[import-not-found, unused-ignore]
                from rich.progress import Progress as RichProgress  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                return
            self._bar = RichProgress(console=Console(file=self.stream), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def summary(verb: str, counts: Counter[str]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{model} {n}" for model, n in sorted(counts.items()))
    return f"{verb} {total} record{'s' if total != 1 else ''}" + (f" ({parts})" if parts else "")


# -- export --------------------------------------------------------------------------------------

def models_to_move(schema: Schema, names: Iterable[str] | None) -> list[Model]:
    if not names:
        return list(schema.models.values())
    unknown = [n for n in names if n not in schema.models]
    if unknown:
        raise TransferError(f"no model {unknown[0]!r} in the schema (models: {', '.join(sorted(schema.models))})")
    return [schema.models[n] for n in names]


async def export_records(backend: Backend, schema: Schema, out: IO[bytes],
                         models: Iterable[str] | None = None) -> Counter[str]:
    """Write every record of ``models`` (default: all) as JSON lines, from one snapshot of the database."""
    chosen = models_to_move(schema, models)
    counts: Counter[str] = Counter()
    progress = Progress("Exporting", None)
    try:
        async with backend.transfer.read_snapshot():
            for model in chosen:
                token = None
                while True:
                    page = await backend.records.list(ListRequest(model=model, limit=PAGE, next_token=token))
                    for record in page.items:
                        out.write(orjson.dumps({"model": model.name, "record": record}) + b"\n")
                    counts[model.name] += len(page.items)
                    progress.advance(len(page.items))
                    token = page.next_token
                    if token is None:
                        break
    finally:
        progress.close()
    out.flush()
    return counts


# -- import --------------------------------------------------------------------------------------

def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                yield number, line


def _parse(validator: RecordValidator, line: bytes) -> tuple[Model, Record]:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidRecord(f"not JSON ({exc})") from None
    if not isinstance(entry, dict) or set(entry) != {"model", "record"}:
        raise InvalidRecord('each line must be {"model": "<Model>", "record": {...}}')
    model = validator.model(entry["model"])
    return model, validator.validate(model, entry["record"])


def check_file(schema: Schema, path: Path) -> tuple[int, list[str]]:
    """Pass one: the number of records and the problems (``line N: ...``), the first MAX_REPORTED."""
    validator = RecordValidator(schema)
    problems: list[str] = []
    count = 0
    for number, line in _lines(path):
        count += 1
        try:
            _parse(validator, line)
        except InvalidRecord as exc:
            problems.append(f"line {number}: {exc}")
            if len(problems) == MAX_REPORTED:
                break
    return count, problems


async def import_records(backend: Backend, schema: Schema, path: Path, label: str | None = None) -> Counter[str]:
    """Check the whole file, then insert it in one transaction (all or nothing). ``label`` names the
    file in messages (default: its path)."""
    name = label or str(path)
    total, problems = check_file(schema, path)
    if problems:
        how_many = f"the first {MAX_REPORTED} problems" if len(problems) == MAX_REPORTED else \
            f"{len(problems)} problem(s)"
        raise TransferError(f"{name}: nothing imported, {how_many}:\n  " + "\n  ".join(problems))
    validator = RecordValidator(schema)
    counts: Counter[str] = Counter()
    current = [0]   # the line of the record being inserted (the store fails on the last one it was given)
    progress = Progress("Importing", total)

    def items() -> Iterator[tuple[Model, Record]]:
        for number, line in _lines(path):
            model, record = _parse(validator, line)
            counts[model.name] += 1
            current[0] = number
            progress.advance()
            yield model, record

    try:
        await backend.transfer.insert_records(items())
    except DuplicateRecord as exc:
        raise TransferError(f"{name}: nothing imported: line {current[0]}: a {exc.model} with key {exc.key} "
                            "already exists") from None
    except InvalidRecord as exc:  # the file changed between the two passes
        raise TransferError(f"{name}: nothing imported: {exc}") from None
    finally:
        progress.close()
    return counts


# -- backup and restore (SQLite) -----------------------------------------------------------------

def refuse_database_files(target: Path, data_dir: Path) -> None:
    """Writing a backup or an export over the database itself would destroy it."""
    database = (Path(data_dir) / "data.sqlite").resolve()
    if Path(target).resolve() in (database, Path(f"{database}-wal"), Path(f"{database}-shm"),
                                  Path(f"{database}.lock")):
        raise TransferError(f"{target} is the live database; write somewhere else")


async def backup(backend: Backend, data_dir: Path, target: Path) -> None:
    """A consistent copy of the database plus the signing keys, written atomically to ``target``."""
    target = Path(target)
    if target.exists() and target.is_dir():
        raise TransferError(f"{target} is a directory; give the backup file's path")
    refuse_database_files(target, data_dir)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        await backend.transfer.backup(tmp)
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            with conn:
                conn.execute("CREATE TABLE _cove_backup_files (path TEXT PRIMARY KEY, content BLOB NOT NULL)")
                conn.execute("CREATE TABLE _cove_backup_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                conn.execute("INSERT INTO _cove_backup_info VALUES ('format', ?), ('taken_at', ?)",
                             (BACKUP_FORMAT, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
                for pem in sorted((Path(data_dir) / "keys").glob("*.pem")):
                    conn.execute("INSERT INTO _cove_backup_files VALUES (?, ?)",
                                 (f"keys/{pem.name}", pem.read_bytes()))
        finally:
            conn.close()
        os.chmod(tmp, 0o600)   # it holds password hashes and signing keys
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _backup_info(path: Path) -> dict[str, str]:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            info = dict(conn.execute("SELECT key, value FROM _cove_backup_info").fetchall())
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise TransferError(f"{path} is damaged (SQLite's integrity check failed)")
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        raise TransferError(f"{path} is not a Cove backup (made by `cove backup`)") from None
    if info.get("format") != BACKUP_FORMAT:
        raise TransferError(f"{path} is not a Cove backup (made by `cove backup`)")
    return info


def restore(source: Path, data_dir: Path, *, force: bool = False) -> dict[str, str]:
    """Make ``data_dir`` what the backup holds. The server must be stopped; an existing database is
    only replaced with ``force``."""
    source, data_dir = Path(source), Path(data_dir)
    if not source.is_file():
        raise TransferError(f"{source}: no such backup file")
    info = _backup_info(source)
    database = data_dir / "data.sqlite"
    if database.exists() and not force:
        raise TransferError(f"{database} exists; stop the server and pass --force to replace it with the backup")
    private_dir(data_dir)
    tmp = data_dir / f".data.sqlite.{os.getpid()}.restore"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # holds password hashes and keys
        with os.fdopen(fd, "wb") as fh:
            fh.write(source.read_bytes())
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            files = conn.execute("SELECT path, content FROM _cove_backup_files").fetchall()
            conn.execute("DROP TABLE _cove_backup_files")
            conn.execute("DROP TABLE _cove_backup_info")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        keys = data_dir / "keys"
        for name, _ in files:   # only keys/<name>.pem, whatever the file says
            if not isinstance(name, str) or (data_dir / name).parent != keys or not name.endswith(".pem"):
                raise TransferError(f"{source}: unexpected file {name!r} in the backup; nothing restored")
        if files:
            for old in keys.glob("*.pem"):
                old.unlink()
            private_dir(keys)
            for name, content in files:
                fd = os.open(data_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
        # A WAL left from the old database must never be replayed into the restored one.
        for suffix in ("-wal", "-shm"):
            Path(str(database) + suffix).unlink(missing_ok=True)
        os.replace(tmp, database)
    finally:
        tmp.unlink(missing_ok=True)
    return info
