"""API key lifetime: warnings before the last key expires (log and service document), `cove keys rotate`
with a grace period, against a real sandbox."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from cove.server.api_key_lifetime import DAY, ApiKeyWatch, api_key_warning
from cove.store.base import ApiKey


def keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cove", "keys", "--data-dir", str(data_dir), "--create", *args],
                          capture_output=True, text=True, timeout=60)


def service_document(box: Any) -> dict[str, Any]:
    response = httpx.get(f"http://127.0.0.1:{box.port}/", timeout=10)
    assert response.status_code == 200
    return dict(response.json())


def status_with(box: Any, key: str) -> int:
    return box.post("query { __typename }", api_key=key).status_code


def test_server_warns_days_ahead_and_rotation_keeps_the_old_key_for_the_grace_period(
        sandbox_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    created = keys(data_dir, "create", "--expires-in", "2d")
    assert created.returncode == 0, created.stderr
    old_key = created.stdout.strip()
    box = sandbox_factory(None, "--no-watch", data_dir=data_dir)
    assert box.api_key == old_key  # still valid for more than a day: reused
    deadline = time.monotonic() + 10
    while not any("expires in" in line for line in box.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    [logged] = [line for line in box.lines if "expires in" in line]
    assert "the last valid API key" in logged and "cove keys rotate" in logged
    assert "days" in logged and old_key not in logged  # names the key id, never the key
    [warning] = service_document(box)["warnings"]
    assert "expires in 2.0 days" in warning or "expires in 1.9 days" in warning

    outputs = box.outputs_path
    rotated = keys(data_dir, "rotate", "--grace", "2s", "--outputs", str(outputs))
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.strip()
    assert new_key.startswith("da2-") and new_key != old_key
    assert "stays valid until" in rotated.stderr
    assert json.loads(outputs.read_text())["data"]["api_key"] == new_key
    assert service_document(box)["warnings"] == []  # the new key lives 7 days
    assert status_with(box, new_key) == 200
    assert status_with(box, old_key) == 200  # within the grace period
    deadline = time.monotonic() + 20
    while status_with(box, old_key) == 200 and time.monotonic() < deadline:
        time.sleep(0.25)
    response = box.post("query { __typename }", api_key=old_key)
    assert response.status_code == 401 and "the API key has expired" in response.text
    assert status_with(box, new_key) == 200
    listing = keys(data_dir, "list").stdout.splitlines()
    states = {line.split("\t")[0]: line.split("\t")[1] for line in listing}
    assert states == {old_key: "expired", new_key: "active"}


def test_a_restart_replaces_a_key_that_expires_within_a_day_and_says_so(sandbox_factory: Any,
                                                                        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    old_key = keys(data_dir, "create", "--expires-in", "12h").stdout.strip()
    box = sandbox_factory(None, "--no-watch", data_dir=data_dir)
    assert box.api_key != old_key
    deadline = time.monotonic() + 10
    while not any("expires within a day" in line for line in box.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    [logged] = [line for line in box.lines if "expires within a day" in line]
    assert "written to the outputs file" in logged and old_key not in logged and box.api_key not in logged
    assert status_with(box, old_key) == 200 and status_with(box, box.api_key) == 200


def test_every_key_revoked_is_reported(sandbox_factory: Any) -> None:
    box = sandbox_factory(None, "--no-watch")
    assert service_document(box)["warnings"] == []
    assert keys(box.data_dir, "revoke", box.api_key).returncode == 0
    [warning] = service_document(box)["warnings"]
    assert warning.startswith("every API key has expired or been revoked")


def test_rotate_with_a_bad_outputs_file_changes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = keys(data_dir, "create").stdout.strip()
    bad = tmp_path / "outputs.json"
    bad.write_text("{not json")
    result = keys(data_dir, "rotate", "--outputs", str(bad))
    assert result.returncode == 1 and "outputs.json" in result.stderr
    assert [line.split("\t")[:2] for line in keys(data_dir, "list").stdout.splitlines()] == [[first, "active"]]
    assert keys(data_dir, "rotate", "--grace", "soon").returncode == 2  # argparse: a clear usage error


def test_warning_window() -> None:
    now = 1_000_000.0

    def key(expires_in_days: float, revoked: bool = False) -> ApiKey:
        return ApiKey(f"id{expires_in_days}", f"da2-{expires_in_days}", None, now, now + expires_in_days * DAY, revoked)

    assert api_key_warning([key(10)], now) is None
    assert api_key_warning([key(1), key(10)], now) is None  # a longer-lived key covers the window
    assert "expires in 2.5 days" in (api_key_warning([key(2.5), key(10, revoked=True)], now) or "")
    assert (api_key_warning([key(-1)], now) or "").startswith("every API key has expired")

    class Keys:
        async def api_keys(self) -> list[ApiKey]:
            return [key(-1)]

    watch = ApiKeyWatch(Keys(), lambda: True)  # type: ignore[arg-type]
    assert watch.warning() is None   # nothing read yet
    asyncio.run(watch.refresh())
    assert watch.warning() is not None
    watch.uses_api_keys = lambda: False
    assert watch.warning() is None  # the schema takes no API keys
