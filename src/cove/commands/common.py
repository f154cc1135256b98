"""What the data commands share: the --data-dir / --database-url options and running work on a
backend opened (and closed) in a loop of its own."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cove.store.base import Backend

DATABASE_URL_HELP = ("the database: postgresql://user@host:5432/db[?schema=name&pool_size=N&statement_timeout=MS] "
                     "or sqlite:///path/data.sqlite (default: SQLite in the data dir)")


def database_args(p: argparse.ArgumentParser, *, repeated: bool = False, create: bool = True) -> None:
    """--data-dir, --database-url and (``create``) --create of a data command; ``repeated`` on its
    subcommands, so both `cove users --data-dir D list` and `cove users list --data-dir D` work."""
    p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS if repeated else Path(".cove"),
                   help="the data dir of the sandbox or server (default .cove/)")
    p.add_argument("--database-url", default=argparse.SUPPRESS if repeated else None, metavar="URL",
                   help=DATABASE_URL_HELP)
    if create:
        p.add_argument("--create", action="store_true", default=argparse.SUPPRESS if repeated else False,
                       help="start a new data dir if there is none (default: refuse)")


def existing_data(args: argparse.Namespace) -> bool:
    """Whether the command has data to work on; False (after saying so) when the data dir holds none,
    so a command run in the wrong folder does not quietly start an empty one. A database URL names
    data that exists (or is created) elsewhere."""
    if args.database_url or (Path(args.data_dir) / "data.sqlite").is_file() or getattr(args, "create", False):
        return True
    print(f"error: no Cove data in {args.data_dir}/ (no data.sqlite there). Run this in the folder you run "
          "`cove sandbox` in, point --data-dir at its data, give --database-url, or pass --create to start "
          "a new data dir.", file=sys.stderr)
    return False


async def opened(args: argparse.Namespace, *, create: bool = True) -> Backend:
    """The command's backend, connected in the running loop (DatabaseError if it cannot be)."""
    from cove.server.database import connect, open_database

    backend = open_database(Path(args.data_dir), args.database_url, create=create)
    try:
        await connect(backend, args.database_url)
    except BaseException:
        await backend.close()
        raise
    return backend


def on_backend(args: argparse.Namespace, work: Callable[[Backend], Awaitable[Any]], *, create: bool = True) -> Any:
    """``work(backend)`` on the command's backend, closed afterwards, in a loop of its own."""
    async def run() -> Any:
        backend = await opened(args, create=create)
        try:
            return await work(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


def fail(message: str, status: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status
