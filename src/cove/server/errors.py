"""Errors in the shapes AppSync clients expect.

Field-level problems travel in the GraphQL `errors` array (HTTP 200) as
``{path, data, errorType, errorInfo, locations, message}``; request-level problems are HTTP 4xx with
``{"errors": [{"errorType": ..., "message": ...}]}`` and an ``x-amzn-ErrorType`` header, from which
the aws-amplify client names the error.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from graphql import GraphQLError
from graphql.language import FieldNode, Node


def location(node: Node | None) -> list[dict[str, Any]] | None:
    if node is None or node.loc is None:
        return None
    loc = node.loc
    source = loc.source
    from graphql.language import get_location

    where = get_location(source, loc.start)
    return [{"line": where.line, "column": where.column, "sourceName": None}]


class FieldError(Exception):
    """An error resolving one field: it becomes an entry of `errors` and the field becomes null."""

    def __init__(self, message: str, error_type: str | None, *, error_info: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.error_info = error_info


def field_error(message: str, error_type: str | None, path: list[Any], node: FieldNode | None,
                error_info: Any = None) -> dict[str, Any]:
    return {
        "path": path,
        "data": None,
        "errorType": error_type,
        "errorInfo": error_info,
        "locations": location(node),
        "message": message,
    }


def from_graphql_error(error: GraphQLError, prefix: str = "") -> dict[str, Any]:
    locs = [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in (error.locations or [])]
    return {
        "path": list(error.path) if error.path else None,
        "locations": locs or None,
        "message": prefix + error.message,
    }


class RequestError(Exception):
    """A request-level failure (HTTP 4xx)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"errors": [{"errorType": self.error_type, "message": self.message}]}


class Unauthorized(RequestError):
    def __init__(self, message: str) -> None:
        super().__init__(401, "UnauthorizedException", message)


class InternalFailure(RequestError):
    """An unexpected failure (a full disk, a bug): the client gets a reference, the log the traceback."""

    def __init__(self, reference: str | None = None) -> None:
        self.reference = reference or str(uuid.uuid4())
        super().__init__(500, "InternalFailure", "An internal failure occurred while processing the request "
                                                 f"(reference {self.reference})")


_UNSAFE_IN_HEADER = re.compile(r"[^\x20-\x7e\t]")
MAX_ECHOED_HEADER = 1024


def header_value(text: str | bytes) -> bytes:
    """A value that is safe to send as an HTTP header although it echoes something a client sent:
    control characters (CR, LF, NUL ...) and non-ASCII become ``?``, and it is cut to 1 KiB."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return _UNSAFE_IN_HEADER.sub("?", text[:MAX_ECHOED_HEADER]).encode("ascii")
