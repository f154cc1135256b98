"""Hostile tests: nothing secret leaks through files, the outputs file, errors or echoed headers."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authkit import auth_info, sign_up_and_in
from conftest import EXAMPLES, start_sandbox

from cove.wire.filters import MAX_FILTER_DEPTH, MAX_FILTER_TERMS

SCHEMA = EXAMPLES / "security_schema.py"
LIST = "query ($f: ModelItemFilterInput) { listItems(filter: $f, limit: 5) { items { id } } }"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("exposure"), SCHEMA, "--no-watch")
    yield b
    b.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def nested(depth: int, field: str = "name") -> dict[str, Any]:
    flt: dict[str, Any] = {field: {"eq": "x"}}
    for i in range(depth):
        flt = {("and", "or", "not")[i % 3]: flt if i % 3 == 2 else [flt]}
    return flt


# -- files -----------------------------------------------------------------------------------------

def test_data_dir_and_every_database_file_are_private(box: Any) -> None:
    box.gql('mutation { createItem(input: {name: "wal"}) { id } }')  # the WAL and its index exist now
    data = box.data_dir
    assert mode(data) == 0o700
    files = [data / name for name in ("data.sqlite", "data.sqlite-wal", "data.sqlite-shm", "data.sqlite.lock")]
    assert all(f.exists() for f in files)
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert not (data / "keys").exists()   # the signing keys are in the (private) database, not in files


def test_files_left_readable_by_older_versions_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir()
    with sqlite3.connect(data / "data.sqlite") as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE t (x)")
    for f in data.iterdir():
        f.chmod(0o644)
    b = start_sandbox(tmp_path, SCHEMA, "--no-watch", data_dir=data)
    try:
        leftovers = {f.name: mode(f) for f in data.iterdir() if f.name.startswith("data.sqlite")}
        assert leftovers and set(leftovers.values()) == {0o600}, leftovers
    finally:
        b.stop()


def test_command_line_creates_a_private_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / ".cove"
    subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(data), "--create", "create"],
                   check=True,
                   capture_output=True)
    assert mode(data) == 0o700 and mode(data / "data.sqlite") == 0o600


def test_console_admins_and_restores_create_private_data_dirs(tmp_path: Path) -> None:
    def cove(*args: object) -> None:
        subprocess.run([sys.executable, "-m", "cove", *map(str, args)], check=True, capture_output=True)

    admins = tmp_path / "admins" / ".cove"
    cove("console", "--data-dir", admins, "create-admin", "ops", "--password", "correct horse battery")
    assert mode(admins) == 0o700 and mode(admins / "data.sqlite") == 0o600
    cove("backup", tmp_path / "backup.sqlite", "--data-dir", admins)
    restored = tmp_path / "restored" / ".cove"
    cove("restore", tmp_path / "backup.sqlite", "--data-dir", restored)
    assert mode(restored) == 0o700 and mode(restored / "data.sqlite") == 0o600


def test_tls_private_keys_are_private(tmp_path: Path) -> None:
    b = start_sandbox(tmp_path, SCHEMA, "--no-watch", "--tls")
    try:
        tls = b.data_dir / "tls"
        assert mode(tls) == 0o700
        assert mode(tls / "key.pem") == mode(tls / "ca-key.pem") == 0o600
    finally:
        b.stop()


# -- the outputs file --------------------------------------------------------------------------------

def test_outputs_name_no_server_path(box: Any) -> None:
    text = box.outputs_path.read_text()
    assert "data_dir" not in json.loads(text)["custom"]["cove"]
    for path in (box.data_dir, box.data_dir.resolve()):
        assert str(path) not in text


# -- errors ----------------------------------------------------------------------------------------

def test_a_too_deep_filter_gets_invalid_arguments_not_database_internals(box: Any) -> None:
    ok = box.gql(LIST, {"f": nested(MAX_FILTER_DEPTH)})
    assert "errors" not in ok, ok
    for depth in (MAX_FILTER_DEPTH + 1, 60, 200):
        out = box.gql(LIST, {"f": nested(depth)})
        assert out["data"]["listItems"] is None
        error = out["errors"][0]
        assert error["errorType"] == "InvalidArgumentsError", error
        assert f"more than {MAX_FILTER_DEPTH} levels" in error["message"]
        assert "stack" not in json.dumps(out) and "SELECT" not in json.dumps(out)


def test_a_too_large_filter_or_condition_gets_invalid_arguments(box: Any) -> None:
    wide = {"or": [{"name": {"eq": str(i)}} for i in range(MAX_FILTER_TERMS // 2 - 1)]}
    assert "errors" not in box.gql(LIST, {"f": wide})
    for flt in ({"or": [{"name": {"eq": str(i)}} for i in range(MAX_FILTER_TERMS)]},
                {"and": [{} for _ in range(MAX_FILTER_TERMS + 1)]},
                {"rank": {"between": [1, 2]}, "or": [{"rank": {"eq": i}} for i in range(MAX_FILTER_TERMS)]}):
        error = box.gql(LIST, {"f": flt})["errors"][0]
        assert error["errorType"] == "InvalidArgumentsError" and str(MAX_FILTER_TERMS) in error["message"]
    item = box.gql('mutation { createItem(input: {name: "kept"}) { id } }')["data"]["createItem"]
    out = box.gql("mutation ($id: ID!, $c: ModelItemConditionInput) { updateItem(input: {id: $id, name: \"lost\"}, "
                  "condition: $c) { id } }", {"id": item["id"], "c": nested(200)})
    assert out["errors"][0]["errorType"] == "InvalidArgumentsError"
    kept = box.gql("query ($id: ID!) { getItem(id: $id) { name } }", {"id": item["id"]})
    assert kept["data"]["getItem"]["name"] == "kept"  # nothing half written


def test_deep_filters_under_an_owner_rule_still_run(box: Any) -> None:
    """The rule's own filter is AND-ed to the user's: the deepest allowed filter must still compile."""
    tokens = sign_up_and_in(box, f"u{uuid.uuid4().hex[:10]}@example.com")
    r = httpx.post(box.url, headers={"authorization": tokens["IdToken"]}, timeout=30, json={
        "query": "query ($f: ModelNoteFilterInput) { listNotes(filter: $f) { items { id } } }",
        "variables": {"f": {"and": [nested(MAX_FILTER_DEPTH - 1, "body")]}}})
    assert r.status_code == 200 and "errors" not in r.json(), r.text


def test_a_full_disk_gets_an_appsync_error_and_the_traceback_stays_in_the_log(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, hard))  # inherited by the sandbox: files stop at 4 MiB
    try:
        b = start_sandbox(tmp_path, SCHEMA, "--no-watch")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    try:
        big = "x" * 400_000
        for _ in range(40):
            r = b.post("mutation ($n: String) { createItem(input: {name: $n}) { id } }", {"n": big})
            if r.status_code != 200 or "errors" in r.json():
                break
        else:
            pytest.fail("the disk never filled up")
        assert r.status_code == 500, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert r.headers["x-amzn-errortype"] == "InternalFailure"
        error = r.json()["errors"][0]
        assert error["errorType"] == "InternalFailure" and "reference" in error["message"]
        assert "sqlite" not in r.text.lower() and "Traceback" not in r.text and "disk" not in r.text
        deadline = time.monotonic() + 5
        while "Traceback" not in "".join(b.lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        log = "".join(b.lines)
        assert "Traceback" in log and error["message"].split("reference ")[1].rstrip(")") in log
        assert b.post("query { listItems(limit: 1) { items { id } } }").status_code == 200  # still serving
    finally:
        b.stop()


# -- echoed headers --------------------------------------------------------------------------------

@pytest.mark.parametrize("client_id", ["a\r\nX-Injected: 1", "a\nb", "\x00\x7f\u2028é", "x" * 5000])
def test_hostile_client_id_cannot_break_the_response_headers(box: Any, client_id: str) -> None:
    endpoint = auth_info(box)[1]["user_pool_endpoint"]
    r = httpx.post(endpoint, content=json.dumps({"ClientId": client_id, "Username": "a@b.co", "Password": "x"}),
                   headers={"x-amz-target": "AWSCognitoIdentityProviderService.SignUp",
                            "content-type": "application/x-amz-json-1.1"}, timeout=30)
    assert r.status_code == 400
    assert r.json()["__type"] == "ResourceNotFoundException"
    assert r.json()["message"] == f"User pool client {client_id} does not exist."  # the body keeps it, JSON-escaped
    header = r.headers["x-amzn-errormessage"]
    assert "X-Injected" not in r.headers and all(" " <= c <= "~" for c in header) and len(header) <= 1024


def test_preflight_echo_is_sanitised(box: Any) -> None:
    for path in ("/graphql", "/cognito-idp/"):
        r = httpx.options(box.url.replace("/graphql", path), timeout=30,
                          headers={"access-control-request-headers": "x-api-key, ".encode() + "é".encode() * 3000,
                                   "origin": "http://app.example", "access-control-request-method": "POST"})
        assert r.status_code == 204
        allowed = r.headers["access-control-allow-headers"]
        assert allowed.startswith("x-api-key") and len(allowed) <= 1024 and allowed.isascii()


def test_a_filter_over_a_damaged_value_does_not_echo_sqlite(box: Any) -> None:
    item = box.gql('mutation { createItem(input: {name: "damaged", tags: ["a"]}) { id } }')["data"]["createItem"]
    with sqlite3.connect(box.data_dir / "data.sqlite") as db:
        db.execute('UPDATE "Item" SET tags = ? WHERE id = ?', ("[not json", item["id"]))
    out = box.gql("query { listItems(filter: {tags: {size: {eq: 1}}}) { items { id } } }")
    error = out["errors"][0]
    assert error["errorType"] == "Unrecognized Filter", error
    assert "JSON" not in error["message"] and "malformed" not in error["message"]
