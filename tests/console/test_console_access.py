"""The console's admin API: who may use it (hostile inputs) and what it does, over real sockets.

`cove sandbox` opens it to browsers on this machine; `cove serve` serves it only with --console and
only to administrators who signed in; every state-changing call needs the X-Cove-Console header."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import EXAMPLES, Sandbox, start_sandbox

SCHEMA = EXAMPLES / "console_schema.py"
CSRF = {"x-cove-console": "1"}
ADMIN_PASSWORD = "a long admin password"


def api(box: Sandbox, method: str, route: str, body: object = None, **kw: object) -> httpx.Response:
    url = f"http://127.0.0.1:{box.port}/console/api/{route}"
    return httpx.request(method, url, json=body, timeout=30, **kw)  # type: ignore[arg-type]


def error_type(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["errorType"])


def cove(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cove", *args], capture_output=True, text=True, timeout=60)


def start_serve(tmp: Path, *extra: str) -> Sandbox:
    return start_sandbox(tmp, SCHEMA, *extra, command="serve")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tmp = tmp_path_factory.mktemp("serve")
    done = cove("console", "--data-dir", str(tmp / "data"), "create-admin", "ops", "--password", ADMIN_PASSWORD)
    assert done.returncode == 0, done.stderr
    box = start_serve(tmp, "--console")
    yield box
    box.stop()


def sign_in(box: Sandbox, name: str = "ops", password: str = ADMIN_PASSWORD) -> httpx.Response:
    return api(box, "POST", "session", {"username": name, "password": password}, headers=CSRF)


# -- cove serve ---------------------------------------------------------------------------------------

def test_serve_without_console_flag_has_no_console(tmp_path: Path) -> None:
    box = start_serve(tmp_path)
    try:
        assert not any("Console" in line for line in box.lines)
        for path in ("/console", "/console/", "/console/api/info", "/console/api/session"):
            response = httpx.get(f"http://127.0.0.1:{box.port}{path}", timeout=10)
            assert response.status_code == 404, path
    finally:
        box.stop()


def test_serve_announces_console_for_admins(served: Sandbox) -> None:
    assert any("/console (administrators only)" in line for line in served.lines)
    assert api(served, "GET", "session").json() == {"policy": "admin", "signed_in": False, "admin": None}


@pytest.mark.parametrize("cookie", [
    None,
    "ops.9999999999.0000000000000000000000000000000000000000000000000000000000000000",  # forged MAC
    "ops.9999999999",                                                                     # no MAC
    "nobody.9999999999.abc",
    "",
    "ops..",
])
def test_serve_refuses_admin_api_without_a_valid_session(served: Sandbox, cookie: str | None) -> None:
    cookies = {"cove_console": cookie} if cookie is not None else None
    for method, route in (("GET", "info"), ("GET", "keys"), ("GET", "health")):
        response = api(served, method, route, cookies=cookies)
        assert response.status_code == 401, (route, response.text)
        assert error_type(response) == "UnauthorizedException"
    response = api(served, "POST", "keys", {"description": "x"}, headers=CSRF, cookies=cookies)
    assert response.status_code == 401
    assert all(k["description"] != "x" for k in _keys_as_admin(served))


def test_serve_refuses_tampered_and_non_admin_credentials(served: Sandbox) -> None:
    cookie = sign_in(served).cookies["cove_console"]
    name, expires, mac = cookie.split(".")
    for forged in (f"{name}.{int(expires) + 1000}.{mac}", f"root.{expires}.{mac}", f"{name}.{expires}.{mac[::-1]}"):
        assert api(served, "GET", "info", cookies={"cove_console": forged}).status_code == 401
    # A user of the app's user pool (even in the Admins group), an API key or IAM keys are not console admins.
    key = served.api_key
    assert api(served, "GET", "info", headers={"x-api-key": key}).status_code == 401
    assert cove("users", "--data-dir", str(served.data_dir), "add", "boss@example.com", "--password",
                "Passw0rd!long", "--group", "Admins").returncode == 0
    token = _user_token(served, "boss@example.com", "Passw0rd!long")
    for headers in ({"authorization": token}, {"authorization": f"Bearer {token}"}):
        assert api(served, "GET", "info", headers=headers).status_code == 401
    assert api(served, "GET", "info", cookies={"cove_console": token}).status_code == 401


def test_serve_sign_in(served: Sandbox) -> None:
    assert sign_in(served, password="wrong password!").status_code == 401
    assert error_type(sign_in(served, password="wrong password!")) == "NotAuthorizedException"
    assert sign_in(served, name="nobody").status_code == 401
    bad = api(served, "POST", "session", {"username": ["ops"], "password": 1}, headers=CSRF)
    assert bad.status_code == 401
    assert api(served, "POST", "session", content=b"{not json", headers=CSRF).status_code == 400
    # Login CSRF: the sign-in itself needs the header too.
    assert api(served, "POST", "session", {"username": "ops", "password": ADMIN_PASSWORD}).status_code == 403
    response = sign_in(served)
    assert response.status_code == 200
    set_cookie = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/console"):
        assert attribute in set_cookie
    cookies = {"cove_console": response.cookies["cove_console"]}
    assert api(served, "GET", "session", cookies=cookies).json() == {"policy": "admin", "signed_in": True,
                                                                      "admin": "ops"}
    info = api(served, "GET", "info", cookies=cookies)
    assert info.status_code == 200 and "Task" in info.json()["schema"]["models"]
    out = api(served, "DELETE", "session", cookies=cookies, headers=CSRF)
    assert "Max-Age=0" in out.headers["set-cookie"]


def test_serve_state_changes_need_the_csrf_header_and_our_origin(served: Sandbox) -> None:
    cookies = {"cove_console": sign_in(served).cookies["cove_console"]}
    before = len(_keys_as_admin(served))
    # What a cross-site form can send: a cookie (if SameSite were ignored), a simple content type, no header.
    form = api(served, "POST", "keys", content=b"description=evil", cookies=cookies,
               headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 403 and error_type(form) == "ForbiddenException"
    wrong = api(served, "POST", "keys", {"description": "evil"}, cookies=cookies,
                headers={**CSRF, "origin": "https://evil.example"})
    assert wrong.status_code == 403
    assert api(served, "POST", "keys", {"description": "evil"}, cookies=cookies,
               headers={**CSRF, "x-cove-console": "0"}).status_code == 403
    assert len(_keys_as_admin(served)) == before
    same = api(served, "POST", "keys", {"description": "ok"}, cookies=cookies,
               headers={**CSRF, "origin": f"http://127.0.0.1:{served.port}"})
    assert same.status_code == 200
    # No CORS grant for the admin API: a preflight gets nothing that would let a page on another site in.
    preflight = httpx.options(f"http://127.0.0.1:{served.port}/console/api/keys", timeout=10,
                              headers={"origin": "https://evil.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_serve_audits_admin_actions_without_their_secrets(served: Sandbox) -> None:
    assert sign_in(served, password="not the right one").status_code == 401
    cookies = {"cove_console": sign_in(served).cookies["cove_console"]}
    created = api(served, "POST", "user-pool", {"operation": "AdminCreateUser",
                                                "params": {"Username": "audited@example.com"}},
                  headers=CSRF, cookies=cookies).json()
    username = created["User"]["Username"]
    api(served, "POST", "user-pool", {"operation": "AdminSetUserPassword", "params": {
        "Username": username, "Password": "Secret-Pass-123!", "Permanent": True}}, headers=CSRF, cookies=cookies)
    api(served, "POST", "user-pool", {"operation": "ListUsers"}, headers=CSRF, cookies=cookies)
    api(served, "POST", "sign-in-as", {"username": "audited@example.com"}, headers=CSRF, cookies=cookies)
    entries = api(served, "GET", "logs", cookies=cookies).json()["entries"]
    audit = [e["message"] for e in entries if e["logger"] == "cove.console"]
    assert any(m.startswith("failed console sign-in as 'ops'") for m in audit)
    assert any(m.startswith("ops signed in from 127.0.0.1") for m in audit)
    assert f"ops ran AdminSetUserPassword {username}" in audit
    assert not any("ListUsers" in m for m in audit)  # reads are not audited
    assert "ops got tokens for user audited@example.com" in audit
    assert not any(ADMIN_PASSWORD in m or "Secret-Pass-123!" in m or "not the right one" in m for m in audit)
    assert api(served, "GET", "logs").status_code == 401


def test_deleting_an_admin_ends_their_sessions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = cove("console", "--data-dir", str(data), "create-admin", "temp", "--password", ADMIN_PASSWORD)
    assert created.returncode == 0
    box = start_serve(tmp_path, "--console")
    try:
        cookies = {"cove_console": sign_in(box, "temp").cookies["cove_console"]}
        assert api(box, "GET", "info", cookies=cookies).status_code == 200
        assert cove("console", "--data-dir", str(data), "create-admin", "temp", "--password",
                    "another long password").returncode == 0
        assert api(box, "GET", "info", cookies=cookies).status_code == 401  # password changed
        cookies = {"cove_console": sign_in(box, "temp", "another long password").cookies["cove_console"]}
        assert cove("console", "--data-dir", str(data), "delete-admin", "temp").returncode == 0
        assert api(box, "GET", "info", cookies=cookies).status_code == 401
    finally:
        box.stop()


def test_create_admin_rejects_weak_input(tmp_path: Path) -> None:
    short = cove("console", "--data-dir", str(tmp_path), "create-admin", "a", "--password", "short")
    assert short.returncode == 2 and "at least 12" in short.stderr
    dotted = cove("console", "--data-dir", str(tmp_path), "create-admin", "a.b", "--password", ADMIN_PASSWORD)
    assert dotted.returncode == 2
    assert cove("console", "--data-dir", str(tmp_path), "list-admins").stdout == ""
    assert cove("console", "--data-dir", str(tmp_path), "delete-admin", "a").returncode == 1


# -- cove sandbox ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandbox_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = start_sandbox(tmp_path_factory.mktemp("console-sandbox"), SCHEMA)
    yield box
    box.stop()


def test_sandbox_console_is_open_on_localhost_only(sandbox_box: Sandbox) -> None:
    assert any(line.strip() == f"Console           http://127.0.0.1:{sandbox_box.port}/console"
               for line in sandbox_box.lines)
    assert api(sandbox_box, "GET", "session").json() == {"policy": "local", "signed_in": True, "admin": None}
    assert api(sandbox_box, "GET", "info").status_code == 200
    assert api(sandbox_box, "GET", "info", headers={"host": f"localhost:{sandbox_box.port}"}).status_code == 200
    # DNS rebinding: a page on evil.example whose name now points to 127.0.0.1 sends its own Host.
    for host in ("evil.example", f"evil.example:{sandbox_box.port}", "127.0.0.1.evil.example", ""):
        response = api(sandbox_box, "GET", "info", headers={"host": host})
        assert response.status_code == 403, host
        assert error_type(response) == "ForbiddenException"
    assert api(sandbox_box, "POST", "keys", {"description": "x"}).status_code == 403  # no CSRF header
    assert api(sandbox_box, "POST", "session", {"username": "a", "password": "b"}, headers=CSRF).status_code == 400


def test_sandbox_console_page_headers(sandbox_box: Sandbox) -> None:
    response = httpx.get(f"http://127.0.0.1:{sandbox_box.port}/console", timeout=10)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "<script" in response.text and "http" not in response.text.split("<body")[0].replace("http-equiv", "")
    escaped = httpx.get(f"http://127.0.0.1:{sandbox_box.port}/console/..%2f..%2fserver/app.py", timeout=10)
    assert "CoveApp" not in escaped.text


def test_admin_api_keys(sandbox_box: Sandbox) -> None:
    created = api(sandbox_box, "POST", "keys", {"description": "ci", "expires_in_days": 2}, headers=CSRF).json()
    list_tasks = "query { listTasks { items { id } } }"
    assert "errors" not in sandbox_box.gql(list_tasks, api_key=created["key"])
    rotated = api(sandbox_box, "POST", "keys/rotate", {"key": created["id"]}, headers=CSRF).json()
    assert rotated["revoked"] == created["id"] and rotated["key"] != created["key"]
    assert sandbox_box.post(list_tasks, api_key=created["key"]).status_code == 401  # at once, no cache window
    assert "errors" not in sandbox_box.gql(list_tasks, api_key=rotated["key"])
    states = {k["id"]: k for k in api(sandbox_box, "GET", "keys").json()["api_keys"]}
    assert states[created["id"]]["state"] == "revoked" and states[rotated["id"]]["description"] == "ci"
    assert api(sandbox_box, "POST", "keys/revoke", {"key": rotated["key"]}, headers=CSRF).status_code == 200
    assert sandbox_box.post(list_tasks, api_key=rotated["key"]).status_code == 401
    for bad in ({"expires_in_days": 0}, {"expires_in_days": "7"}, {"expires_in_days": True},
                {"description": 5}, {"description": "x" * 300}):
        response = api(sandbox_box, "POST", "keys", bad, headers=CSRF)
        assert response.status_code == 400 and error_type(response) == "BadRequestException", bad
    assert api(sandbox_box, "POST", "keys/revoke", {"key": "da2-nope"}, headers=CSRF).status_code == 404
    assert api(sandbox_box, "POST", "keys/rotate", {"key": created["id"]}, headers=CSRF).status_code == 404


def test_admin_api_users_and_identities(sandbox_box: Sandbox) -> None:
    def pool(operation: str, **params: object) -> httpx.Response:
        return api(sandbox_box, "POST", "user-pool", {"operation": operation, "params": params}, headers=CSRF)

    created = pool("AdminCreateUser", Username="staff@example.com")
    assert created.status_code == 200, created.text
    username = created.json()["User"]["Username"]
    assert pool("AdminSetUserPassword", Username=username, Password="Passw0rd!long", Permanent=True).status_code == 200
    assert pool("AdminAddUserToGroup", Username=username, GroupName="Staff").status_code == 200
    missing = pool("AdminAddUserToGroup", Username=username, GroupName="Nope")
    assert missing.status_code == 400 and error_type(missing) == "ResourceNotFoundException"
    assert error_type(pool("AdminCreateUser", Username="staff@example.com")) == "UsernameExistsException"
    assert error_type(pool("SignUp", Username="x@example.com")) == "BadRequestException"  # not an admin operation
    assert api(sandbox_box, "POST", "user-pool", {"operation": "ListUsers", "params": []},
               headers=CSRF).status_code == 400
    # The identity picker: tokens for the user, as if they had signed in.
    tokens = api(sandbox_box, "POST", "sign-in-as", {"username": "staff@example.com"}, headers=CSRF).json()
    assert tokens["groups"] == ["Staff"]
    payroll = "query { listPayrolls { items { id } } }"
    denied = sandbox_box.gql(payroll, headers={"x-api-key": None, "authorization": tokens["id_token"]})
    assert denied["errors"][0]["errorType"] == "Unauthorized"
    # IAM, signed by the server for the page: full access.
    body = json.dumps({"query": payroll})
    host = f"127.0.0.1:{sandbox_box.port}"
    signed = api(sandbox_box, "POST", "sign", {"as": "iam", "path": "/graphql", "host": host, "body": body},
                 headers=CSRF).json()
    allowed = httpx.post(sandbox_box.url, content=body, headers=signed, timeout=10).json()
    assert allowed == {"data": {"listPayrolls": {"items": []}}}
    guest = api(sandbox_box, "POST", "sign", {"as": "guest", "path": "/graphql", "host": host, "body": body},
                headers=CSRF).json()
    assert "x-amz-security-token" in guest
    assert httpx.post(sandbox_box.url, content=body, headers=guest, timeout=10).json()["errors"]
    for bad in ({"as": "root", "path": "/graphql", "host": host, "body": body},
                {"as": "iam", "path": "/cognito-idp/", "host": host, "body": body},
                {"as": "iam", "path": "/graphql", "host": host, "body": 5}):
        assert api(sandbox_box, "POST", "sign", bad, headers=CSRF).status_code == 400
    assert pool("AdminDisableUser", Username=username).status_code == 200
    disabled = api(sandbox_box, "POST", "sign-in-as", {"username": "staff@example.com"}, headers=CSRF)
    assert disabled.status_code == 400 and error_type(disabled) == "NotAuthorizedException"
    assert api(sandbox_box, "POST", "sign-in-as", {"username": "ghost@example.com"}, headers=CSRF).status_code == 400


def test_admin_api_counts_and_health(sandbox_box: Sandbox) -> None:
    sandbox_box.gql('mutation { createProject(input: {name: "p"}) { id } }')
    counts = api(sandbox_box, "GET", "counts").json()
    assert counts["Project"] >= 1 and counts["Payroll"] == 0
    health = api(sandbox_box, "GET", "health").json()
    assert health["models"] == api(sandbox_box, "GET", "counts").json()
    assert health["realtime"]["connections"] >= 0 and health["api_keys"]["active"] >= 1
    assert health["ready"]["database"] == "ok" and health["ready"]["api_key"] == "ok"
    assert health["warnings"] == [] and health["metrics"] is None   # no --metrics-port: no metrics kept


def _keys_as_admin(box: Sandbox) -> list[dict[str, object]]:
    cookies = {"cove_console": sign_in(box).cookies["cove_console"]}
    return list(api(box, "GET", "keys", cookies=cookies).json()["api_keys"])


def _user_token(box: Sandbox, email: str, password: str) -> str:
    from authkit import sign_in as user_sign_in

    return str(user_sign_in(box, email, password)["IdToken"])


def test_serve_throttles_repeated_wrong_passwords(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cove("console", "--data-dir", str(data), "create-admin", "ops", "--password", ADMIN_PASSWORD).returncode == 0
    box = start_serve(tmp_path, "--console")
    try:
        for _ in range(5):
            assert sign_in(box, password="guess number n").status_code == 401
        throttled = sign_in(box, password="guess number 6")
        assert throttled.status_code == 429 and error_type(throttled) == "TooManyRequestsException"
        assert "retry-after" in throttled.headers
        # While throttled, even the right password is not checked: guessing cannot go on.
        assert sign_in(box).status_code == 429
    finally:
        box.stop()


def test_serve_sessions_hold_across_worker_processes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cove("console", "--data-dir", str(data), "create-admin", "ops", "--password", ADMIN_PASSWORD).returncode == 0
    box = start_serve(tmp_path, "--console", "--workers", "2")
    try:
        cookies = {"cove_console": sign_in(box).cookies["cove_console"]}
        # New connections land on either worker (SO_REUSEPORT); both know the session's signing secret.
        statuses = {api(box, "GET", "counts", cookies=cookies).status_code for _ in range(16)}
        assert statuses == {200}
        assert {api(box, "GET", "counts").status_code for _ in range(8)} == {401}
    finally:
        box.stop()
