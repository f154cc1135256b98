"""Reading ``amplify_outputs.json`` and holding the global client configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import orjson

from .errors import ConfigurationError

#: The auth modes a request can use. Amplify's camelCase spellings are accepted too.
AuthMode: TypeAlias = Literal[
    "api_key", "user_pool", "identity_pool", "iam", "oidc", "lambda", "none",
    "apiKey", "userPool", "identityPool",
]
#: What every accepted spelling normalises to. ``identity_pool`` is an alias of ``iam`` (both SigV4),
#: as in Amplify.
CanonicalAuthMode: TypeAlias = Literal["api_key", "user_pool", "iam", "oidc", "lambda", "none"]

_MODE_ALIASES: dict[str, CanonicalAuthMode] = {
    "api_key": "api_key", "apiKey": "api_key", "API_KEY": "api_key",
    "user_pool": "user_pool", "userPool": "user_pool", "AMAZON_COGNITO_USER_POOLS": "user_pool",
    "identity_pool": "iam", "identityPool": "iam", "iam": "iam", "AWS_IAM": "iam",
    "oidc": "oidc", "OPENID_CONNECT": "oidc",
    "lambda": "lambda", "AWS_LAMBDA": "lambda",
    "none": "none",
}

#: ``data.default_authorization_type`` / ``data.authorization_types`` values → auth mode.
AUTHORIZATION_TYPES: dict[str, CanonicalAuthMode] = {
    "AMAZON_COGNITO_USER_POOLS": "user_pool",
    "API_KEY": "api_key",
    "AWS_IAM": "iam",
    "AWS_LAMBDA": "lambda",
    "OPENID_CONNECT": "oidc",
}


def normalize_auth_mode(mode: str) -> CanonicalAuthMode:
    """``"apiKey"`` → ``"api_key"`` etc.; raises :class:`ConfigurationError` for unknown names."""
    try:
        return _MODE_ALIASES[mode]
    except (KeyError, TypeError):
        known = ", ".join(repr(m) for m in ("api_key", "user_pool", "identity_pool", "iam", "oidc",
                                            "lambda", "none"))
        raise ConfigurationError(f"unknown auth_mode {mode!r}; use one of {known}") from None


@dataclass(frozen=True)
class Config:
    """The ``data`` section of ``amplify_outputs.json``, ready for a client.

    Build one with :func:`load_config` (or :func:`cove.configure`, which also makes it the global
    default). ``outputs`` keeps the whole document, e.g. for the ``auth`` section.
    """

    url: str
    region: str | None = None
    api_key: str | None = None
    default_auth_mode: CanonicalAuthMode = "iam"
    authorization_modes: tuple[CanonicalAuthMode, ...] = ()
    model_introspection: Mapping[str, Any] | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> Config:
        if not isinstance(outputs, Mapping):
            raise ConfigurationError(
                f"amplify outputs must be a JSON object (a dict), not {type(outputs).__name__}")
        data = outputs.get("data")
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                "amplify_outputs.json has no 'data' section: Cove needs data.url (the GraphQL "
                "endpoint). Is this the outputs file of a backend with define_data()?")
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigurationError("amplify_outputs.json: data.url (the GraphQL endpoint) is missing")
        default_type = data.get("default_authorization_type")
        if default_type is None:
            default: CanonicalAuthMode = "iam"  # Amplify's hard fallback
        elif default_type in AUTHORIZATION_TYPES:
            default = AUTHORIZATION_TYPES[default_type]
        else:
            raise ConfigurationError(
                f"amplify_outputs.json: unknown data.default_authorization_type {default_type!r}; "
                f"expected one of {', '.join(AUTHORIZATION_TYPES)}")
        modes = [default]
        for extra in data.get("authorization_types") or ():
            mode = AUTHORIZATION_TYPES.get(extra)
            if mode is None:
                raise ConfigurationError(
                    f"amplify_outputs.json: unknown authorization type {extra!r} in "
                    "data.authorization_types")
            if mode not in modes:
                modes.append(mode)
        mis = data.get("model_introspection")
        if mis is not None and not isinstance(mis, Mapping):
            raise ConfigurationError("amplify_outputs.json: data.model_introspection must be an object")
        api_key = data.get("api_key")
        region = data.get("aws_region")
        return cls(url=url, region=region if isinstance(region, str) else None,
                   api_key=api_key if isinstance(api_key, str) and api_key else None,
                   default_auth_mode=default, authorization_modes=tuple(modes),
                   model_introspection=mis, outputs=outputs)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Config:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read amplify outputs file {str(p)!r}: {exc}") from exc
        try:
            outputs = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"{str(p)!r} is not valid JSON: {exc}") from exc
        return cls.from_outputs(outputs)

    @property
    def auth(self) -> Mapping[str, Any] | None:
        """The ``auth`` section of the outputs (user pool, identity pool), if any."""
        auth = self.outputs.get("auth")
        return auth if isinstance(auth, Mapping) else None


ConfigSource: TypeAlias = Config | Mapping[str, Any] | str | os.PathLike[str]


def load_config(source: ConfigSource) -> Config:
    """A :class:`Config` from a path to ``amplify_outputs.json``, its parsed dict, or a Config."""
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return Config.from_outputs(source)
    if isinstance(source, (str, os.PathLike)):
        return Config.from_path(source)
    raise ConfigurationError(
        f"configure() takes a path to amplify_outputs.json or its dict, not {type(source).__name__}")


_current: Config | None = None


def configure(source: ConfigSource) -> Config:
    """Read ``amplify_outputs.json`` (a path, or the parsed dict) and make it the default
    configuration of :func:`cove.generate_client` and :func:`cove.generate_async_client`.

    Raises :class:`~cove.client.errors.ConfigurationError` when the file cannot be read or has no
    ``data.url``. Returns the :class:`Config`. Calling it again replaces the configuration for clients
    generated afterwards.
    """
    global _current
    config = load_config(source)
    _current = config
    return config


def get_config() -> Config:
    """The configuration set by :func:`configure`."""
    if _current is None:
        raise ConfigurationError(
            "Cove is not configured: call cove.configure(...) first (with the path to "
            "amplify_outputs.json or its dict), or pass config=... to generate_client()")
    return _current


def reset_config() -> None:
    """Forget the global configuration (for tests)."""
    global _current
    _current = None
