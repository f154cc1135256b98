"""Where Cove keeps its data: ``open_backend`` opens one database behind the protocols of ``base.py``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from .base import Backend

SUPPORTED = "a data directory, or sqlite:///path/to/data.sqlite"
DATABASE_FILE = "data.sqlite"


class BackendError(Exception):
    """The location names no database Cove can open; the message says what it accepts."""


def database_path(location: str | Path) -> Path:
    """The SQLite file a data dir or a ``sqlite://`` URL names (BackendError for other URLs)."""
    text = str(location)
    if "://" not in text:
        return Path(location) / DATABASE_FILE
    url = urlsplit(text)
    if url.scheme != "sqlite":
        raise BackendError(f"{url.scheme}:// databases are not supported yet; give {SUPPORTED}")
    if url.netloc not in ("", "localhost") or not url.path:
        raise BackendError(f"{text}: a SQLite URL names a file, e.g. sqlite:///var/lib/cove/data.sqlite")
    return Path(unquote(url.path))


def open_backend(location: str | Path, *, create: bool = True, synchronous: str = "NORMAL") -> Backend:
    """The backend for ``location``: a data dir (its ``data.sqlite``) or a ``sqlite:///`` URL.

    With ``create=False`` a missing database is an error instead of a new, empty one. ``synchronous``
    is SQLite's: ``NORMAL`` survives a crash of the process, ``FULL`` also an OS crash or power cut."""
    path = database_path(location)
    if not create and not path.is_file():
        raise BackendError(f"no Cove database at {path}")
    from .sqlite.backend import SQLiteBackend

    return SQLiteBackend(path, synchronous=synchronous)
