"""Where Cove keeps its data: ``open_backend`` opens one database behind the protocols of ``base.py``.

A location is a data directory (SQLite in its ``data.sqlite``), a ``sqlite:///path`` URL, or a
``postgresql://user:password@host:port/database`` URL (``postgres://`` too). A PostgreSQL URL may name
the schema Cove keeps its tables in with ``?schema=name`` (default ``public``; created if missing) and
the pool's size per process with ``?pool_size=N`` (default 10); its other query parameters are
libpq's (``sslmode``, ...).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from .base import Backend, BackendError

SUPPORTED = "a data directory, sqlite:///path/to/data.sqlite or postgresql://user@host:5432/database"
DATABASE_FILE = "data.sqlite"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(location: str | Path) -> bool:
    return str(location).split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in str(location)


def database_path(location: str | Path) -> Path:
    """The SQLite file a data dir or a ``sqlite://`` URL names (BackendError for other URLs)."""
    text = str(location)
    if "://" not in text:
        return Path(location) / DATABASE_FILE
    url = urlsplit(text)
    if url.scheme != "sqlite":
        raise BackendError(f"{url.scheme}:// is not a SQLite database; give {SUPPORTED}")
    if url.netloc not in ("", "localhost") or not url.path:
        raise BackendError(f"{text}: a SQLite URL names a file, e.g. sqlite:///var/lib/cove/data.sqlite")
    return Path(unquote(url.path))


def open_backend(location: str | Path, *, create: bool = True, synchronous: str = "NORMAL") -> Backend:
    """The backend for ``location`` (see the module's doc). Opening does no network I/O: ``await
    backend.open()`` connects and checks (and raises DatabaseUnavailable naming the host).

    With ``create=False`` a missing SQLite database is an error instead of a new, empty one.
    ``synchronous`` is SQLite's: ``NORMAL`` survives a crash of the process, ``FULL`` also an OS crash
    or power cut (PostgreSQL's durability is the server's own ``synchronous_commit``)."""
    if is_postgres_url(location):
        from .postgres.backend import PostgresBackend

        return PostgresBackend(str(location))
    text = str(location)
    if "://" in text and urlsplit(text).scheme != "sqlite":
        raise BackendError(f"{urlsplit(text).scheme}:// databases are not supported; give {SUPPORTED}")
    path = database_path(location)
    if not create and not path.is_file():
        raise BackendError(f"no Cove database at {path}")
    from .sqlite.backend import SQLiteBackend

    return SQLiteBackend(path, synchronous=synchronous)
