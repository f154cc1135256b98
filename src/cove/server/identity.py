"""Who is making a request, and in which authorization mode.

The authorization issue adds user pool, OIDC, IAM and Lambda identities; they all arrive here as an
``Identity`` so rule checks have one shape to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AuthMode = Literal["apiKey", "userPool", "oidc", "iam", "lambda", "none"]

# The provider names rules use, for each request mode.
PROVIDERS_FOR_MODE: dict[str, tuple[str, ...]] = {
    "apiKey": ("apiKey",),
    "userPool": ("userPools",),
    "oidc": ("oidc",),
    "iam": ("identityPool", "iam"),
    "lambda": ("function",),
    "none": (),
}


@dataclass
class Identity:
    mode: AuthMode
    claims: dict[str, Any] = field(default_factory=dict)
    api_key_id: str | None = None
    # IAM: "trusted" (server credentials), "authenticated" or "unauthenticated" (identity pool)
    iam_kind: str | None = None
    resolver_context: dict[str, Any] | None = None
    denied_fields: frozenset[str] = frozenset()
