"""`cove migrate`: bring a database's layout to a schema before the servers that serve it roll out.

``--dry-run`` prints the SQL it would run (a script psql or sqlite3 can read, and nothing is
changed); without it the changes are applied, once, under the backend's migration lock, and what
changed is printed; ``--history`` lists what was applied so far. Changes that lose data are refused
unless ``--allow-destructive`` is given, as `cove serve` refuses them. `cove serve` applies additive
changes itself, so this command is for teams that migrate as a separate release step.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING

from .common import database_args, existing_data, fail, opened

if TYPE_CHECKING:
    from cove.store.base import Backend


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    migrate = sub.add_parser("migrate", help="apply a schema's changes to the database (or print them with "
                                             "--dry-run); list the applied ones with --history")
    migrate.add_argument("schema", nargs="?", default=None,
                         help="the schema (.py file or module:attribute; default: the bundled example)")
    migrate.add_argument("--schema", dest="schema_option", default=None, metavar="SCHEMA",
                         help="the schema, as an option (instead of the positional argument)")
    what = migrate.add_mutually_exclusive_group()
    what.add_argument("--dry-run", action="store_true", help="print the SQL it would run; change nothing")
    what.add_argument("--history", action="store_true", help="list the changes applied so far, oldest first")
    migrate.add_argument("--allow-destructive", "--allow-destructive-changes", dest="allow_destructive",
                         action="store_true",
                         help="also apply changes that drop data (removed models or fields, changed types)")
    database_args(migrate)
    migrate.set_defaults(func=cmd_migrate)
    return migrate


def cmd_migrate(args: argparse.Namespace) -> int:
    if args.schema is not None and args.schema_option is not None and args.schema != args.schema_option:
        return fail(f"two schemas given ({args.schema} and --schema {args.schema_option}); give one", 2)
    spec = args.schema_option or args.schema
    if not existing_data(args):
        return 2
    return asyncio.run(_migrate(args, spec))


async def _migrate(args: argparse.Namespace, spec: str | None) -> int:
    schema = None
    if not args.history:  # a broken schema is reported before the database is touched
        from cove.schema.loader import SchemaSource

        schema = SchemaSource(spec).load().schema
    backend = await opened(args)
    try:
        if schema is None:
            return await _print_history(backend)
        if args.dry_run:
            return await _print_pending(backend, schema, args.allow_destructive)
        report = await backend.migrator.apply_schema(schema, allow_destructive=args.allow_destructive)
    finally:
        await backend.close()
    changes = ([f"created {name}" for name in report.created_models]
               + [f"added {name}" for name in report.added_fields]
               + [f"dropped {name}" for name in report.dropped])
    if not changes:
        print(f"{backend.description}: up to date, nothing applied")
        return 0
    print(f"{backend.description}: applied")
    for change in changes:
        print(f"  {change}")
    return 0


async def _print_pending(backend: Backend, schema: object, allow_destructive: bool) -> int:
    statements = await backend.migrator.pending_statements(schema, allow_destructive=allow_destructive)  # type: ignore[arg-type]
    if not statements:
        print(f"-- {backend.description}: up to date, nothing to apply")
        return 0
    print(f"-- {backend.description}: {len(statements)} statement{'s' if len(statements) != 1 else ''} "
          "`cove migrate` would run (dry run: nothing was changed)")
    for statement in statements:
        text = statement.strip()
        print(text if text.endswith(";") else text + ";")
    return 0


async def _print_history(backend: Backend) -> int:
    applied = await backend.migrator.history()
    if not applied:
        print(f"{backend.description}: no migration applied yet", file=sys.stderr)
        return 0
    for entry in applied:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.applied_at))
        count = len(entry.statements)
        print(f"{entry.id}\t{when}\t{entry.summary}\t({count} statement{'s' if count != 1 else ''})")
    return 0
