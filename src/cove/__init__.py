"""Cove: an Amplify-style data backend you run yourself, and a typed Python client for it and AppSync."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
from .schema.dsl import AuthDefinition, DataDefinition, SchemaError, a, allow, define_auth, define_data

# The client pulls in httpx; keep `import cove` cheap for the server, which only needs the DSL.
_CLIENT_NAMES = {"configure", "generate_client", "generate_async_client"}

if TYPE_CHECKING:  # pragma: no cover
    from .client import configure, generate_async_client, generate_client


def __getattr__(name: str) -> Any:
    if name == "auth":
        import importlib

        return importlib.import_module("cove.auth")
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'cove' has no attribute {name!r}")


__all__ = ["AuthDefinition", "DataDefinition", "SchemaError", "a", "allow", "configure", "define_auth", "define_data",
           "generate_async_client", "generate_client"]
