"""Every exception Cove's client raises, in one tree.

GraphQL errors are *returned*, never raised: a response whose JSON body carries an ``errors`` list
(also AppSync's HTTP 401 ``{"errors": [{"errorType": "UnauthorizedException", ...}]}``) becomes a
:class:`~cove.client.Result` with ``.errors`` set. Exceptions are for everything else::

    CoveError
    ├── ConfigurationError            bad or missing configuration (call cove.configure(...) first, ...)
    │   └── AuthConfigurationError    the auth mode of a request has no credentials; nothing was sent
    │       ├── NoApiKeyError             api_key mode, no key                "No api-key configured"
    │       ├── NoSignedUserError         user_pool mode, nobody signed in    "No current user"
    │       ├── NoValidAuthTokensError    user_pool/oidc mode, no token       "No federated jwt"
    │       ├── NoCredentialsError        iam/identity_pool mode, no creds    "No credentials"
    │       └── NoAuthorizationHeaderError lambda mode, no auth_token        "No auth token specified"
    ├── TransportError                the request did not complete (connection refused, reset, ...)
    │   └── TransportTimeoutError     ... because a timeout expired
    ├── ResponseError                 an HTTP/JSON answer that is not a GraphQL response
    ├── ResponseShapeError            a GraphQL answer whose data does not match the schema
    └── GraphQLResponseError          only from the paging iterators: a page came back with errors

Warnings: :class:`SchemaMismatchWarning` when a typed client module was generated from another
schema than the one configured.

The ``No...Error`` classes carry Amplify's error ``name`` (``NoApiKey``, ...) and message, so code
ported from the JS client can recognise them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover
    from ._records import GraphQLError, Result

__all__ = [
    "AuthConfigurationError",
    "ConfigurationError",
    "CoveError",
    "GraphQLResponseError",
    "NoApiKeyError",
    "NoAuthorizationHeaderError",
    "NoCredentialsError",
    "NoSignedUserError",
    "NoValidAuthTokensError",
    "ResponseError",
    "ResponseShapeError",
    "SchemaMismatchWarning",
    "TransportError",
    "TransportTimeoutError",
]


class CoveError(Exception):
    """Base class of every exception raised by ``cove.client``."""


class ConfigurationError(CoveError):
    """The client is not configured, or configured inconsistently.

    Raised by :func:`cove.configure` for an unreadable or incomplete ``amplify_outputs.json``, by
    :func:`cove.generate_client` before ``configure`` was called, and for option combinations that
    cannot work (``endpoint`` without an explicit ``auth_mode``, an unknown ``auth_mode`` ...).
    """


class AuthConfigurationError(ConfigurationError):
    """The auth mode chosen for a request has no credentials. Raised before anything is sent."""

    #: Amplify's error name for this condition (``error.name`` in the JS client).
    name: ClassVar[str] = "AuthConfiguration"
    default_message: ClassVar[str] = "Missing credentials"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)


class NoApiKeyError(AuthConfigurationError):
    """``api_key`` mode, but neither the request, the client nor the outputs file has an API key."""

    name = "NoApiKey"
    default_message = "No api-key configured"


class NoSignedUserError(AuthConfigurationError):
    """``user_pool`` mode needs a signed-in user (see ``cove.auth``) or an ``auth_token``."""

    name = "NoSignedUser"
    default_message = "No current user"


class NoValidAuthTokensError(AuthConfigurationError):
    """``user_pool``/``oidc`` mode without a token: sign in, or pass ``auth_token``."""

    name = "NoValidAuthTokens"
    # Amplify's message first (code may match on it), then what to do about it.
    default_message = ("No federated jwt: nobody is signed in and the request has no token; sign in first "
                       "(cove.auth.sign_in(...)) or pass auth_token=... (for oidc, register a token provider "
                       "with auth_providers={'oidc': OidcAuth(get_token)})")


class NoCredentialsError(AuthConfigurationError):
    """``iam``/``identity_pool`` mode without AWS credentials to sign the request with."""

    name = "NoCredentials"
    default_message = "No credentials"


class NoAuthorizationHeaderError(AuthConfigurationError):
    """``lambda`` mode needs ``auth_token`` (sent verbatim as ``Authorization``)."""

    name = "NoAuthorizationHeader"
    default_message = "No auth token specified"


class TransportError(CoveError):
    """The HTTP request did not complete: DNS, connection refused/reset, TLS, protocol errors.

    Connection errors are retried (3 attempts, jittered exponential backoff) before this is raised;
    a mutation only if the connection could not be opened (it never runs twice).
    The underlying ``httpx`` exception is the ``__cause__``.
    """


class TransportTimeoutError(TransportError):
    """A connect/read/write/pool timeout expired (``timeout=`` of ``generate_client``)."""


class ResponseError(CoveError):
    """The server answered, but not with a GraphQL response.

    Raised for an HTTP status >= 300 whose body is not ``{"errors": [...]}`` JSON (a proxy's 502
    page, AWS's ``{"message": ...}`` for a throttled or malformed request), and for a 2xx answer
    whose body is not a GraphQL JSON object.
    """

    def __init__(self, status_code: int, message: str, *, error_type: str | None = None,
                 body: bytes = b"") -> None:
        self.status_code = status_code
        #: From the ``x-amzn-ErrorType`` header (``UnauthorizedException``, ``ThrottlingException``,
        #: ...) or the body's ``__type``/``code``; None when the server sent neither.
        self.error_type = error_type
        self.message = message
        self.body = body
        label = f"HTTP {status_code}" + (f" {error_type}" if error_type else "")
        super().__init__(f"{label}: {message}")


class ResponseShapeError(CoveError):
    """The server returned data that does not match the model introspection schema: a field of
    the wrong type (``"yes"`` for a Boolean, a number for a String), a value outside an enum, a list
    where an object belongs, a null in a required field of an answer without GraphQL errors.

    Raised instead of returning a record that would break later, far from the cause. The message
    names the type and field (``Todo.done``) and where in the response it was (``path``); the
    usual cause is a client generated for another version of the schema (regenerate it) or a server
    that does not implement the schema it publishes.
    """

    def __init__(self, type_name: str, field: str | None, expected: str, value: Any) -> None:
        #: The model, custom type or operation whose value is wrong (``"Todo"``).
        self.type_name = type_name
        #: The field (``"done"``); None when the object itself has the wrong shape.
        self.field = field
        #: What the schema says belongs there (``"Boolean"``, ``"a TodoList object"``).
        self.expected = expected
        #: What the server sent.
        self.value = value
        #: Where in the response's ``data``, outermost first: ``["listTodos", "items", 3, "done"]``.
        self.path: list[str | int] = []
        super().__init__()

    def __str__(self) -> str:
        where = f"{self.type_name}.{self.field}" if self.field else self.type_name
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        at = f" (at {_format_path(self.path)})" if self.path else ""
        return (f"the server's response does not match the schema: {where} should be {self.expected}, "
                f"got {shown} ({type(self.value).__name__}){at}")


def _format_path(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class GraphQLResponseError(CoveError):
    """A page fetched by a paging iterator (``list_all``, :func:`~cove.client.paginate`) had
    GraphQL errors. Single calls never raise this: they return the errors in ``Result.errors``.
    """

    def __init__(self, errors: Sequence[GraphQLError], result: Result[Any] | None = None) -> None:
        self.errors = list(errors)
        self.result = result
        first = self.errors[0].message if self.errors else "GraphQL error"
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(first + more)


class SchemaMismatchWarning(UserWarning):
    """A typed client (a module written by ``cove generate client``) was generated from another
    model introspection schema than the one in the configured ``amplify_outputs.json``: its types
    may no longer match what the server accepts and returns. Generate it again."""
