"""`amplify_outputs.json`: the file that tells clients where the backend is and how to reach it.

It follows Amplify's outputs schema (``@aws-amplify/client-config``, version "1.x") so the stock
aws-amplify client accepts it as is; anything Cove-specific lives under ``custom.cove``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cove.schema.mis import to_mis
from cove.schema.model import Schema

OUTPUTS_VERSION = "1.4"
SCHEMA_URL = "https://amplify.aws/2024-02/outputs-schema.json"

# Amplify's client mode names -> AppSync's authorization type names.
APPSYNC_AUTH_TYPE = {
    "apiKey": "API_KEY",
    "userPool": "AMAZON_COGNITO_USER_POOLS",
    "iam": "AWS_IAM",
    "identityPool": "AWS_IAM",
    "oidc": "OPENID_CONNECT",
    "lambda": "AWS_LAMBDA",
}


class OutputsError(ValueError):
    """An outputs file that cannot be used."""


def build_outputs(schema: Schema, *, url: str, api_key: str | None, region: str = "us-east-1",
                  custom: dict[str, Any] | None = None, auth: dict[str, Any] | None = None) -> dict[str, Any]:
    """``auth``: the user pool / identity pool block (``IdentityServices.outputs_auth()``)."""
    modes = schema.authorization_modes
    default = APPSYNC_AUTH_TYPE[modes.default]
    additional: list[str] = []
    for mode in modes.enabled():
        t = APPSYNC_AUTH_TYPE[mode]
        if t != default and t not in additional and (mode != "apiKey" or api_key):
            additional.append(t)
    if "AWS_IAM" not in additional and default != "AWS_IAM":
        additional.append("AWS_IAM")  # Gen 2 always enables IAM for back-end code
    data: dict[str, Any] = {
        "url": url,
        "aws_region": region,
        "default_authorization_type": default,
        "authorization_types": additional,
        # Served from someone else's introspection: theirs, unchanged, so clients generated from it match.
        "model_introspection": schema.source_mis if schema.source_mis is not None else to_mis(schema),
    }
    if api_key:
        data["api_key"] = api_key
    outputs: dict[str, Any] = {"$schema": SCHEMA_URL, "version": OUTPUTS_VERSION}
    if auth:
        outputs["auth"] = auth
    outputs["data"] = data
    if custom:
        outputs["custom"] = custom
    return outputs


def write_outputs(path: str | os.PathLike[str], outputs: dict[str, Any]) -> bool:
    """Write atomically, so a client never reads a half-written file while the sandbox reloads.

    False (and the file untouched) when it already holds this content: tools watching the file
    (a dev server, a bundler) see a change only when there is one."""
    target = Path(path)
    text = json.dumps(outputs, indent=2) + "\n"
    try:
        if target.read_text() == text:
            return False
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".amplify_outputs.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def read_outputs(source: str | os.PathLike[str] | dict[str, Any]) -> dict[str, Any]:
    """Load and sanity-check an outputs file (a path or an already-parsed dict)."""
    if isinstance(source, dict):
        outputs = source
    else:
        path = Path(source)
        try:
            outputs = json.loads(path.read_text())
        except FileNotFoundError:
            raise OutputsError(f"{path}: no such file; run `cove sandbox` to write it") from None
        except json.JSONDecodeError as exc:
            raise OutputsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(outputs, dict):
        raise OutputsError("amplify_outputs must be a JSON object")
    version = outputs.get("version")
    if not isinstance(version, str) or not version.startswith("1"):
        raise OutputsError(f"amplify_outputs version {version!r} is not supported; expected \"1.x\" (Gen 2)")
    return outputs
