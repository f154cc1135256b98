"""`cove seed seed.py`: run a Python file that fills a running sandbox through the public client.

Like Amplify's sandbox seed: the file runs as a script with ``cove`` already configured from the
sandbox's outputs, so it uses ``cove.generate_client()`` and ``cove.auth`` as app code would. For the
run it also gets static IAM credentials of that sandbox (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` in the environment; revoked afterwards), so ``auth_mode="iam"`` writes
anything and boto3's admin calls create users in a pool without self sign-up.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from cove.store.base import Backend
    from cove.store.identity_state import IamKey

_IAM_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


class SeedError(Exception):
    """The seed file could not run, or raised; the message says which."""


@contextmanager
def _temporary_iam_credentials(data_dir: Path | None, database_url: str | None = None) -> Iterator[None]:
    if not database_url and (data_dir is None or not (data_dir / "data.sqlite").is_file()):
        print(f"warning: no sandbox data in {data_dir}; the seed runs without IAM credentials "
              f"(pass the sandbox's --data-dir or --database-url)", file=sys.stderr)
        yield
        return
    from cove.server.database import connect, open_database

    async def opened() -> Backend:
        backend = open_database(data_dir or Path(".cove"), database_url)
        await connect(backend, database_url)
        return backend

    async def create() -> IamKey:
        backend = await opened()
        try:
            return await backend.identity.create_iam_key("cove seed (revoked when it ends)")
        finally:
            await backend.close()

    async def revoke(access_key_id: str) -> None:
        backend = await opened()
        try:
            await backend.identity.revoke_iam_key(access_key_id)
        finally:
            await backend.close()

    # A generator-based context manager cannot await: creating and revoking run on loops of their own.
    key = asyncio.run(create())
    saved = {name: os.environ.get(name) for name in _IAM_VARIABLES}
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ["AWS_ACCESS_KEY_ID"] = key.access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = key.secret_access_key
    try:
        yield
    finally:
        asyncio.run(revoke(key.access_key_id))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_seed(seed_file: Path, outputs_file: Path, data_dir: Path | None = None,
             database_url: str | None = None) -> None:
    from cove.client import configure
    from cove.server.database import DatabaseError

    seed_file, outputs_file = Path(seed_file), Path(outputs_file)
    if not seed_file.is_file():
        raise SeedError(f"{seed_file}: no such file")
    try:
        outputs = orjson.loads(outputs_file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SeedError(f"{outputs_file}: {exc}; start the sandbox first (it writes the outputs file)") from None
    configure(outputs)
    sys.path.insert(0, str(seed_file.resolve().parent))
    try:
        with _temporary_iam_credentials(Path(data_dir) if data_dir is not None else None, database_url):
            runpy.run_path(str(seed_file), run_name="__main__")
    except DatabaseError as exc:   # the sandbox's database, for the credentials: one line, no traceback
        raise SeedError(str(exc)) from None
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise SeedError(f"{seed_file} exited with status {exc.code}") from None
    except Exception as exc:
        traceback.print_exc()
        raise SeedError(f"{seed_file} raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(seed_file.resolve().parent))
