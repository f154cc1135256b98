"""`cove keys`, `cove export`, `cove import`, `cove backup` and `cove restore`: API keys and records,
on the data dir's SQLite database or the one ``--database-url`` names."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .common import database_args, existing_data, fail, on_backend, opened

if TYPE_CHECKING:
    from cove.schema.model import Schema
    from cove.store.base import Backend, KeyStore

_PG_BACKUP = ("copies a SQLite data dir; for a PostgreSQL database use its own tools (pg_dump -n SCHEMA, "
              "pg_restore) or move the records with `cove export` / `cove import`")


def parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text) * 86400
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r}: use a number of days, or e.g. 30s, 15m, 12h, 7d") from None


def add_key_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    keys = sub.add_parser("keys", help="manage API keys")
    database_args(keys)
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="create a key and print it")
    create.add_argument("--expires-in", type=parse_duration, default=7 * 86400.0,
                        help="lifetime: days, or 30s/15m/12h/7d (default 7 days)")
    create.add_argument("--description", default=None, help="a note kept with the key, shown by `list`")
    ksub.add_parser("list", help="list keys with their state")
    revoke = ksub.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key", help="the key (da2-...) or its id")
    rotate = ksub.add_parser("rotate", help="create a new key and print it; older keys stay valid for a grace period")
    rotate.add_argument("--expires-in", type=parse_duration, default=7 * 86400.0,
                        help="the new key's lifetime: days, or 30s/15m/12h/7d (default 7 days)")
    rotate.add_argument("--grace", type=parse_duration, default=86400.0,
                        help="how long the older keys stay valid: days, or 30s/15m/12h/7d (default 1 day)")
    rotate.add_argument("--description", default=None, help="a note stored with the new key")
    rotate.add_argument("--outputs", type=Path, default=None, metavar="PATH",
                        help="also write the new key into this amplify_outputs.json")
    for command in ksub.choices.values():
        database_args(command, repeated=True)
    keys.set_defaults(func=cmd_keys)
    return keys


def add_transfer_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    """backup, restore, export and import."""
    data_help = "where data lives (default .cove/)"
    backup = sub.add_parser("backup", help="copy the data dir's database (data, users, keys) to one file, online")
    backup.add_argument("path", type=Path, help="the backup file to write (replaced atomically)")
    backup.add_argument("--data-dir", type=Path, default=Path(".cove"), help=data_help)
    backup.add_argument("--database-url", default=None, metavar="URL",
                        help="refused for PostgreSQL (use pg_dump); a sqlite:/// URL is backed up")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="make a data dir what a backup holds (stop the server first)")
    restore.add_argument("path", type=Path, help="a file written by `cove backup`")
    restore.add_argument("--data-dir", type=Path, default=Path(".cove"), help=data_help)
    restore.add_argument("--database-url", default=None, metavar="URL",
                         help="refused for PostgreSQL (use pg_restore or `cove import`)")
    restore.add_argument("--force", action="store_true", help="replace the data dir's existing database")
    restore.set_defaults(func=cmd_restore)
    export = sub.add_parser("export", help="write records as JSON lines (stdout, or --out)")
    export.add_argument("schema", nargs="?", default=None,
                        help="the schema (.py file or module:attribute; default: the bundled example)")
    export.add_argument("--model", action="append", default=None, metavar="M",
                        help="export only this model (repeatable; default: every model)")
    export.add_argument("--out", type=Path, default=None, metavar="PATH", help="write to PATH instead of stdout")
    database_args(export, create=False)
    export.set_defaults(func=cmd_export)
    import_ = sub.add_parser("import", help="insert records from a JSON lines file: all of them or none")
    import_.add_argument("file", type=Path, help="a file written by `cove export` (- reads stdin)")
    import_.add_argument("schema", nargs="?", default=None,
                         help="the schema (.py file or module:attribute; default: the bundled example)")
    database_args(import_, create=False)
    import_.set_defaults(func=cmd_import)
    return [backup, restore, export, import_]


def cmd_keys(args: argparse.Namespace) -> int:
    if not existing_data(args):
        return 2
    return int(on_backend(args, lambda backend: _keys(backend.keys, args)))


async def _keys(keys: KeyStore, args: argparse.Namespace) -> int:
    if args.keys_command == "create":
        key = await keys.create_api_key(expires_at=time.time() + args.expires_in, description=args.description)
        print(key.key)
    elif args.keys_command == "list":
        now = time.time()
        for k in await keys.api_keys():
            state = "revoked" if k.revoked else ("expired" if k.expires_at <= now else "active")
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k.expires_at))
            print(f"{k.key}\t{state}\texpires {expires}\t{k.description or ''}")
    elif args.keys_command == "revoke":
        if not await keys.revoke_api_key(args.key):
            return fail(f"no API key {args.key}")
        print(f"revoked {args.key}")
    elif args.keys_command == "rotate":
        return await _rotate_keys(keys, args)
    return 0


async def _rotate_keys(keys: KeyStore, args: argparse.Namespace) -> int:
    from cove.outputs import write_outputs
    from cove.server.api_key_lifetime import rotate_api_keys

    outputs = None
    if args.outputs is not None:  # read it first: a bad file changes nothing
        import orjson

        try:
            outputs = orjson.loads(Path(args.outputs).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            return fail(f"{args.outputs}: {exc}")
        if not isinstance(outputs, dict) or not isinstance(outputs.get("data"), dict):
            return fail(f"{args.outputs} has no data section: it is not an outputs file with a data API")
    rotation = await rotate_api_keys(keys, lifetime=args.expires_in, grace=args.grace, description=args.description)
    print(rotation.new.key)
    for key in rotation.shortened:
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.expires_at))
        print(f"previous key {key.id} stays valid until {until}", file=sys.stderr)
    if outputs is not None:
        outputs["data"]["api_key"] = rotation.new.key
        write_outputs(args.outputs, outputs)
        print(f"wrote the new key to {args.outputs}", file=sys.stderr)
    return 0


async def _schema_and_backend(args: argparse.Namespace) -> tuple[Schema, Backend]:
    """The schema and the command's backend, migrated to it (new tables; destructive changes refused)."""
    from cove.schema.loader import SchemaSource

    schema = SchemaSource(args.schema).load().schema
    backend = await opened(args)
    try:
        await backend.migrator.apply_schema(schema)
    except BaseException:
        await backend.close()
        raise
    return schema, backend


def _has_database(args: argparse.Namespace) -> bool:
    return bool(args.database_url) or (Path(args.data_dir) / "data.sqlite").is_file()


def cmd_export(args: argparse.Namespace) -> int:
    from cove.store.transfer import refuse_database_files, summary

    if not _has_database(args):
        return fail(f"no database in {args.data_dir} (give --data-dir or --database-url)")
    if args.out is not None:
        refuse_database_files(args.out, args.data_dir)
    counts = asyncio.run(_export(args))
    print(summary("exported", counts), file=sys.stderr)
    return 0


async def _export(args: argparse.Namespace) -> Counter[str]:
    from cove.store.transfer import export_records

    schema, backend = await _schema_and_backend(args)
    try:
        if args.out is None:
            return await export_records(backend, schema, sys.stdout.buffer, args.model)
        with open(args.out, "wb") as out:
            return await export_records(backend, schema, out, args.model)
    finally:
        await backend.close()


def cmd_import(args: argparse.Namespace) -> int:
    from cove.store.transfer import summary

    if str(args.file) != "-" and not Path(args.file).is_file():
        return fail(f"{args.file}: no such file")
    counts = asyncio.run(_import(args))
    print(summary("imported", counts), file=sys.stderr)
    return 0


async def _import(args: argparse.Namespace) -> Counter[str]:
    import shutil
    import tempfile

    from cove.store.transfer import import_records

    schema, backend = await _schema_and_backend(args)
    try:
        if str(args.file) == "-":  # the file is read twice (check, then insert): spool stdin first
            with tempfile.NamedTemporaryFile(prefix="cove-import-", suffix=".jsonl") as spool:
                shutil.copyfileobj(sys.stdin.buffer, spool)
                spool.flush()
                return await import_records(backend, schema, Path(spool.name), label="stdin")
        return await import_records(backend, schema, Path(args.file))
    finally:
        await backend.close()


def _sqlite_data_dir(args: argparse.Namespace, command: str) -> Path | None:
    """The data dir backup/restore work on: --data-dir, or a sqlite:/// URL's folder; None (after a
    one-line refusal) for a PostgreSQL URL."""
    from cove.server.database import DatabaseError, check_database_url, uses_postgres
    from cove.store import DATABASE_FILE, database_path

    if not args.database_url:
        return Path(args.data_dir)
    if uses_postgres(args.database_url):
        fail(f"cove {command} {_PG_BACKUP}")
        return None
    check_database_url(args.database_url)
    path = database_path(args.database_url)
    if path.name != DATABASE_FILE:
        raise DatabaseError(f"cove {command} works on a data dir's {DATABASE_FILE}, not {path}")
    return path.parent


def cmd_backup(args: argparse.Namespace) -> int:
    data_dir = _sqlite_data_dir(args, "backup")
    if data_dir is None:
        return 1
    if not (data_dir / "data.sqlite").is_file():
        return fail(f"no database in {data_dir}")
    from cove.store.transfer import backup

    args.data_dir, args.database_url = data_dir, None
    on_backend(args, lambda backend: backup(backend, data_dir, args.path), create=False)
    print(f"backed up {data_dir} to {args.path}", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from cove.store.transfer import restore

    data_dir = _sqlite_data_dir(args, "restore")
    if data_dir is None:
        return 1
    info = restore(args.path, data_dir, force=args.force)
    print(f"restored {data_dir} from {args.path} (taken {info.get('taken_at', '?')})", file=sys.stderr)
    return 0
