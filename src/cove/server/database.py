"""Which database a command or a server process works on: ``--database-url`` (``COVE_DATABASE_URL``)
or, without one, SQLite in the data dir.

Every command and every server process opens its backend through ``open_database``, so a bad URL
reads the same everywhere: one line that names the host and never the password
(``DatabaseError``), before any connection is tried. ``connect`` then opens the backend in the
running event loop and turns what the driver says into the same kind of line.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cove.store import is_postgres_url, open_backend
from cove.store.base import Backend, BackendError, DatabaseUnavailable
from cove.store.postgres.parameters import libpq_url, number_problem

# Unquoted PostgreSQL identifiers, lower case: a schema name that needs no quoting anywhere (psql,
# pg_dump -n, search_path) and cannot smuggle SQL into the statements that name it.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class DatabaseError(Exception):
    """The database URL is unusable, or the database cannot be reached; a one-line message."""


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (also when the URL does not parse)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        password = None
        parts = None
    if parts is not None and password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    # Unparsable: hide whatever sits between "user:" and "@".
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def scrub(message: str, url: str | None) -> str:
    """A driver's message about ``url`` on one line, with the URL's password taken out wherever it appears."""
    if url:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            message = message.replace(password, "***")
    return " ".join(message.split())


def host_and_port(url: str) -> str:
    """``host:port`` of a database URL, for messages (libpq's defaults when the URL leaves them out)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    except ValueError:
        return redact_url(url)


def check_database_url(url: str) -> None:
    """Raise DatabaseError when ``url`` cannot name a database Cove can use (no I/O)."""
    shown = redact_url(url)
    if not url.strip():
        raise DatabaseError("the database URL is empty; give postgresql://user@host:5432/database or "
                            "sqlite:///path/to/data.sqlite (or leave it out for SQLite in the data dir)")
    if "://" not in url:
        raise DatabaseError(f"database URL {shown!r} is not a URL; give postgresql://user@host:5432/database "
                            "or sqlite:///path/to/data.sqlite")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise DatabaseError(f"database URL {shown!r} does not parse: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return
    if not is_postgres_url(url):
        raise DatabaseError(f"database URL {shown!r}: {scheme}:// databases are not supported; give "
                            "postgresql://user@host:5432/database or sqlite:///path/to/data.sqlite")
    if "\x00" in url:
        raise DatabaseError(f"database URL {shown!r} holds a NUL character")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    problem = number_problem(query)
    if problem:
        raise DatabaseError(f"database URL {shown!r}: {problem}")
    if "schema" in query and not _SCHEMA_NAME.fullmatch(query["schema"]):
        raise DatabaseError(f"database URL {shown!r}: schema must be a lower-case PostgreSQL name (letters, "
                            f"digits and _, not starting with a digit, at most 63), not {query['schema']!r}")


def open_database(data_dir: Path, database_url: str | None, *, create: bool = True,
                  synchronous: str = "NORMAL") -> Backend:
    """The backend of ``--database-url`` or, without one, of the data dir; no I/O yet (see ``connect``).
    Raises DatabaseError for a URL that names no usable database."""
    if database_url:
        check_database_url(database_url)
    try:
        return open_backend(database_url or data_dir, create=create, synchronous=synchronous)
    except (BackendError, ValueError) as exc:
        raise DatabaseError(scrub(str(exc), database_url)) from None


async def connect(backend: Backend, database_url: str | None = None) -> None:
    """``await backend.open()`` in the running loop (the pool belongs to it); DatabaseError naming the
    host when the database cannot be reached or refuses the login."""
    try:
        await backend.open()
    except DatabaseUnavailable as exc:
        raise DatabaseError(scrub(str(exc), database_url)) from None
    except Exception as exc:
        # A driver's own error (OSError, asyncpg's), should one slip through the backend.
        if not isinstance(exc, (OSError, ValueError)) and not type(exc).__module__.startswith("asyncpg"):
            raise
        target = host_and_port(database_url) if database_url else backend.description
        raise DatabaseError(f"cannot open the database at {target}: {scrub(str(exc), database_url)}") from None


def uses_postgres(database_url: str | None) -> bool:
    return bool(database_url) and is_postgres_url(str(database_url))
