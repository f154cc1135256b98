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
    └── GraphQLResponseError          only from the paging iterators: a page came back with errors

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
    default_message = "No federated jwt"


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

    Connection errors are retried (3 attempts, jittered exponential backoff) before this is raised.
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
