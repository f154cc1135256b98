"""Real clients nobody here wrote, against Cove's identity services:

- the STOCK aws-amplify v6 Auth client signs up and in against Cove's user pool (SRP, its default, and
  USER_PASSWORD_AUTH), then its data client works in `userPool` mode, and in guest `identityPool` mode
  (aws-amplify 6.22.1 takes `Auth.Cognito.userPoolEndpoint` / `identityPoolEndpoint`);
- an independent OpenID provider (the npm package `oidc-provider`) issues tokens Cove accepts in `oidc` mode.

Needs Node >= 20 and `npm ci` in tests/compat.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_amplify_js import COMPAT_DIR, require_node_env

pytestmark = [pytest.mark.compat, pytest.mark.both_backends]

EXAMPLES = COMPAT_DIR.parent / "schemas"
PASSWORD = "Passw0rd!"
TIMEOUT = 60.0


class LineProcess:
    """A node script that answers one JSON line per JSON line."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(args, cwd=COMPAT_DIR, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr or []), daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read(self) -> dict[str, Any]:
        try:
            raw = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("no answer from node:\n" + "".join(self.stderr[-40:])) from None
        if raw is None:
            raise AssertionError("node exited:\n" + "".join(self.stderr[-40:]))
        result: dict[str, Any] = json.loads(raw)
        return result

    def send(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class AuthDriver(LineProcess):
    def run(self, op: str, **step: Any) -> dict[str, Any]:
        return self.send(json.dumps({"op": op, **step}))

    def ok(self, op: str, **step: Any) -> Any:
        line = self.run(op, **step)
        assert "thrown" not in line, json.dumps(line, indent=1) + "\n" + "".join(self.stderr[-30:])
        result = line["result"]
        if isinstance(result, dict) and result.get("errors"):
            raise AssertionError("the client reported errors:\n" + json.dumps(line, indent=1))
        return result


@pytest.fixture(scope="module")
def node() -> str:
    return require_node_env()


@pytest.fixture(scope="module")
def auth_box(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterator[Any]:
    from conftest import start_sandbox

    box = start_sandbox(tmp_path_factory.mktemp("amplify-auth"), EXAMPLES / "auth_schema.py", "--no-watch",
                        backend=backend)
    yield box
    box.stop()


@pytest.fixture
def amplify(node: str, auth_box: Any) -> Iterator[AuthDriver]:
    driver = AuthDriver([node, str(COMPAT_DIR / "amplify_auth_driver.mjs"), str(auth_box.outputs_path)])
    yield driver
    driver.close()


def email() -> str:
    return f"js{uuid.uuid4().hex[:10]}@example.com"


def cognito_targets(line: dict[str, Any]) -> list[str]:
    return [w["request"]["headers"].get("x-amz-target", "") for w in line.get("wire", [])]


@pytest.mark.parametrize("flow", ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"])
def test_amplify_signs_in_and_uses_user_pool_mode(amplify: AuthDriver, auth_box: Any, flow: str) -> None:
    address = email()
    signed_up = amplify.ok("signUp", username=address, password=PASSWORD)
    assert signed_up["isSignUpComplete"] is True and signed_up["nextStep"]["signUpStep"] == "DONE"
    line = amplify.run("signIn", username=address, password=PASSWORD, authFlowType=flow)
    assert "thrown" not in line, json.dumps(line, indent=1)
    assert line["result"]["isSignedIn"] is True, json.dumps(line, indent=1)
    targets = cognito_targets(line)
    if flow == "USER_SRP_AUTH":
        assert "AWSCognitoIdentityProviderService.RespondToAuthChallenge" in targets
    assert all(w["request"]["url"].startswith(auth_box.outputs["custom"]["cove"]["user_pool_endpoint"])
               for w in line["wire"] if "x-amz-target" in w["request"]["headers"])
    user = amplify.ok("currentUser")
    assert user["signInDetails"]["loginId"] == address
    session = amplify.ok("session")
    assert session["idToken"]["email"] == address and session["accessToken"]["token_use"] == "access"
    created = amplify.ok("create", model="Note", input={"body": "from amplify"}, options={"authMode": "userPool"})
    assert created["data"]["body"] == "from amplify"
    listed = amplify.ok("list", model="Note", options={"authMode": "userPool"})
    assert any(n["id"] == created["data"]["id"] for n in listed["data"])
    refreshed = amplify.ok("session", forceRefresh=True)
    assert refreshed["accessToken"]["jti"] != session["accessToken"]["jti"]
    # signed in, identityPool mode uses authenticated credentials
    secret = amplify.ok("create", model="Secret", input={"text": "s"}, options={"authMode": "identityPool"})
    assert secret["data"]["text"] == "s"
    out = amplify.run("signOut")
    assert "thrown" not in out and "AWSCognitoIdentityProviderService.RevokeToken" in cognito_targets(out)
    after = amplify.run("create", model="Note", input={"body": "x"}, options={"authMode": "userPool"})
    assert "thrown" in after or after["result"].get("errors"), json.dumps(after, indent=1)


def test_amplify_guest_identity_pool_mode(amplify: AuthDriver, auth_box: Any) -> None:
    session = amplify.ok("session")
    assert session["accessToken"] is None and session["hasCredentials"] is True
    assert session["identityId"].startswith("us-east-1:")
    created = amplify.ok("create", model="Poster", input={"title": "guest"}, options={"authMode": "identityPool"})
    assert created["data"]["title"] == "guest"
    line = amplify.run("create", model="Secret", input={"text": "no"}, options={"authMode": "identityPool"})
    result = line.get("result") or {}
    assert result.get("data") is None and result["errors"][0]["errorType"] == "Unauthorized", json.dumps(line)
    request = next(w["request"] for w in line["wire"] if w["request"]["url"].endswith("/graphql"))
    assert request["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIA")
    assert "x-amz-security-token" in request["headers"]


def test_amplify_sign_in_errors(amplify: AuthDriver) -> None:
    address = email()
    amplify.ok("signUp", username=address, password=PASSWORD)
    line = amplify.run("signIn", username=address, password="Wrong-passw0rd")
    assert line["thrown"]["name"] == "NotAuthorizedException"
    line = amplify.run("signUp", username=address, password=PASSWORD)
    assert line["thrown"]["name"] == "UsernameExistsException"


# -------------------------------------------------------------------------------- an independent OIDC provider

@pytest.fixture
def oidc_provider(node: str) -> Iterator[LineProcess]:
    proc = LineProcess([node, str(COMPAT_DIR / "oidc_issuer.mjs")])
    yield proc
    proc.close()


def test_oidc_provider_tokens_are_accepted(oidc_provider: LineProcess, sandbox_factory: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ready = oidc_provider.read()
    monkeypatch.setenv("COVE_TEST_OIDC_ISSUER", ready["issuer"])
    monkeypatch.setenv("COVE_TEST_OIDC_CLIENT", ready["clientId"])
    monkeypatch.setenv("COVE_TEST_OIDC_AUTH_TTL", "0")  # client-credentials tokens carry no auth_time
    box = sandbox_factory(EXAMPLES / "oidc_schema.py", "--no-watch")
    token = oidc_provider.send("token")
    assert "token" in token, token
    r = box.post('mutation { createDoc(input: {title: "via oidc-provider"}) { id title } }',
                 headers={"x-api-key": None, "authorization": token["token"]})
    assert r.status_code == 200 and r.json()["data"]["createDoc"]["title"] == "via oidc-provider", r.text
    tampered = token["token"][:-6] + ("AAAAAA" if not token["token"].endswith("AAAAAA") else "BBBBBB")
    r = box.post("query { listDocs { items { id } } }", headers={"x-api-key": None, "authorization": tampered})
    assert r.status_code == 401, r.text

