"""Lambda authorizers (`lambda` mode): AppSync's event in, its answer out, cached per token."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES

from cove.identity.lambda_authorizer import LambdaAuthorizer
from cove.server.authn import ApiKeyAuthenticator, Authenticator
from cove.server.errors import Unauthorized

SCHEMA = EXAMPLES / "lambda_schema.py"
CREATE = 'mutation { createMemo(input: {text: "t", secret: "s"}) { id text } }'


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def lambda_box(sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path]:
    folder = tmp_path / "authorizer"
    folder.mkdir()
    monkeypatch.setenv("COVE_TEST_AUTHORIZER_LOG", str(folder))
    return sandbox_factory(SCHEMA, "--no-watch"), folder


def post(box: Any, token: str, query: str = CREATE) -> Any:
    return box.post(query, headers={"x-api-key": None, "authorization": token})


def test_outputs_name_lambda_as_default(lambda_box: tuple[Any, Path]) -> None:
    box, _ = lambda_box
    assert box.outputs["data"]["default_authorization_type"] == "AWS_LAMBDA"


def test_authorized_denied_and_failing_authorizers(lambda_box: tuple[Any, Path]) -> None:
    box, folder = lambda_box
    ok = post(box, "allow-ada")
    assert ok.status_code == 200 and ok.json()["data"]["createMemo"]["text"] == "t", ok.text
    for token, fragment in (("nope", "denied"), ("crash", "failed"), ("bad-answer", "invalid response"),
                            ("x" * 3000, "2048")):
        r = post(box, token)
        assert r.status_code == 401 and r.headers["x-amzn-errortype"] == "UnauthorizedException", r.text
        assert fragment in r.json()["errors"][0]["message"]
    assert post(box, "allow-ada").status_code == 200  # the server survived the crashing authorizer
    assert "sync:crash" in calls(folder)


def test_answers_are_cached_per_token_for_their_ttl(lambda_box: tuple[Any, Path]) -> None:
    box, folder = lambda_box
    for _ in range(3):
        assert post(box, "allow-bob-cached").status_code == 200   # ttlOverride 300
        assert post(box, "allow-eve").status_code == 200          # ttlOverride 0: asked every time
    seen = calls(folder)
    assert seen.count("sync:allow-bob-cached") == 1
    assert seen.count("sync:allow-eve") == 3


def test_jwt_looking_tokens_of_other_issuers_go_to_the_authorizer(lambda_box: tuple[Any, Path]) -> None:
    box, folder = lambda_box
    token = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2Vsc2V3aGVyZSJ9.c2ln"
    assert post(box, token).status_code == 401
    assert f"sync:{token}" in calls(folder)


def test_async_authorizer(sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVE_TEST_AUTHORIZER", "lambda_authorizer:async_handler")
    monkeypatch.setenv("COVE_TEST_AUTHORIZER_LOG", str(tmp_path))
    box = sandbox_factory(SCHEMA, "--no-watch")
    assert post(box, "let-me-in").status_code == 200
    assert post(box, "keep-out").status_code == 401
    assert "async:let-me-in" in calls(tmp_path)


class _NoKeys:
    def find_api_key(self, key: str) -> None:
        return None


def test_identity_carries_resolver_context_and_denied_fields() -> None:
    seen: list[dict[str, Any]] = []

    def authorizer(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {"isAuthorized": True, "resolverContext": {"tenant": "acme"},
                "deniedFields": ["Memo.secret", "arn:aws:appsync:eu-west-1:123:apis/abc/types/Query/fields/listMemos"]}

    authn = Authenticator(ApiKeyAuthenticator(_NoKeys()), lambda_authorizer=LambdaAuthorizer(authorizer, 60))
    body = b'{"query": "query Q { listMemos { items { id } } }", "operationName": "Q", "variables": {"a": 1}}'
    identity = asyncio.run(authn.authenticate({"authorization": "tok", "x-custom": "v"}, body=body, path="/graphql"))
    assert identity.mode == "lambda"
    assert identity.resolver_context == {"tenant": "acme"}
    assert identity.denied_fields == frozenset({"Memo.secret", "Query.listMemos"})
    event = seen[0]
    assert event["authorizationToken"] == "tok"
    assert event["requestContext"]["queryString"] == "query Q { listMemos { items { id } } }"
    assert event["requestContext"]["operationName"] == "Q" and event["requestContext"]["variables"] == {"a": 1}
    assert event["requestHeaders"]["x-custom"] == "v"
    with pytest.raises(Unauthorized):
        asyncio.run(authn.authenticate({}, body=body, path="/graphql"))


def test_load_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="module:function"):
        LambdaAuthorizer("no_colon")
    with pytest.raises(ValueError, match="not a function"):
        LambdaAuthorizer("json:nothing_here")
    with pytest.raises(ImportError):
        LambdaAuthorizer("no_such_module_here:fn")
