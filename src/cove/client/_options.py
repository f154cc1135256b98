"""Per-request options: the "use the client's value" sentinel, RequestOptions and their resolution result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Self, TypedDict

from ._config import AuthMode, CanonicalAuthMode


class UseClientDefault:
    """Type of :data:`USE_CLIENT_DEFAULT`: "this option was not passed; use the client's value".

    Passing ``None`` instead is different: it clears the option for this request (no
    ``auth_token``, no custom headers, the configured URL/API key/default auth mode).
    """

    _instance: Any = None

    def __new__(cls) -> Self:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        instance: Self = cls._instance
        return instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"

    def __bool__(self) -> bool:
        return False


USE_CLIENT_DEFAULT = UseClientDefault()


class RequestInfo(TypedDict):
    """What a ``headers`` function receives (Amplify passes ``{method, url, queryString}``)."""

    method: str
    url: str
    headers: dict[str, str]
    query_string: str
    queryString: str


HeadersFunction = Callable[[RequestInfo], "Mapping[str, str] | Awaitable[Mapping[str, str]]"]
#: ``headers=`` option: a dict, or a (sync or async) function of the request returning a dict.
HeadersOption = Mapping[str, str] | HeadersFunction


@dataclass(frozen=True)
class RequestOptions:
    """Per-request options; each is :data:`USE_CLIENT_DEFAULT` unless the call passed it."""

    auth_mode: AuthMode | None | UseClientDefault = USE_CLIENT_DEFAULT
    auth_token: str | None | UseClientDefault = USE_CLIENT_DEFAULT
    api_key: str | None | UseClientDefault = USE_CLIENT_DEFAULT
    headers: HeadersOption | None | UseClientDefault = USE_CLIENT_DEFAULT
    endpoint: str | None | UseClientDefault = USE_CLIENT_DEFAULT

    def override(self, other: RequestOptions) -> RequestOptions:
        """These options with every option ``other`` passed replacing ours."""
        changes = {k: getattr(other, k) for k in ("auth_mode", "auth_token", "api_key", "headers", "endpoint")
                   if getattr(other, k) is not USE_CLIENT_DEFAULT}
        return replace(self, **changes) if changes else self

    def for_related(self) -> RequestOptions:
        """What a lazy loader inherits from the call that returned its record (not the headers)."""
        if self.headers is USE_CLIENT_DEFAULT:
            return self   # the common case, asked once per record of a page: no copy
        return replace(self, headers=USE_CLIENT_DEFAULT)


@dataclass(frozen=True)
class Resolved:
    """Options after request > client > config resolution."""

    mode: CanonicalAuthMode
    url: str
    auth_token: str | None
    api_key: str | None
    headers: HeadersOption | None


