"""Files only the server's user may read: the data directory, databases, keys.

The SQLite file holds API keys, IAM secrets and password hashes, so the data directory is created
0700 and every database file 0600. SQLite gives a database's ``-wal`` and ``-shm`` files the mode of
the database file itself, so creating that file 0600 before SQLite opens it covers them too; files
left by older versions are tightened when the database is opened.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_COMPANIONS = ("", "-wal", "-shm", "-journal", ".lock")


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; an existing folder keeps its mode (it
    may be the user's own, e.g. ``--data-dir .``), its files are protected one by one."""
    folder = Path(path)
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def private_database(path: str | Path) -> Path:
    """Make sure the SQLite file at ``path`` and its companions exist only as 0600 files."""
    db = Path(path)
    private_dir(db.parent)
    if not db.exists():
        # Only a missing file is opened here: closing a descriptor of a file releases every POSIX lock
        # this process holds on it, which would pull SQLite's locks from under an open connection.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(db, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in _COMPANIONS:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{db}{suffix}", 0o600)
    return db
