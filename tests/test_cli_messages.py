"""The `cove` command's help, version and error messages: each says what happened and what to do."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import cove.auth as cove_auth
from cove import __version__
from cove.cli import build_parser

from conftest import free_port, start_sandbox


def cove(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cove", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, input=stdin)


def parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list:
    """(path, parser, help of the command) for every command and subcommand."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                found.append((path + (name,), child, helps.get(name)))
                found += parsers(child, path + (name,))
    return found


def test_every_command_and_option_has_help() -> None:
    commands = parsers(build_parser())
    assert len(commands) > 15
    missing = [" ".join(path) for path, _, text in commands if not text]
    for path, parser, _ in commands:
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction) and not action.help:
                missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_cove_alone_prints_help() -> None:
    result = cove()
    assert result.returncode == 0, result.stderr
    assert "usage: cove" in result.stdout and "sandbox" in result.stdout and "generate" in result.stdout


def test_version() -> None:
    result = cove("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"cove {__version__}"


def test_port_in_use_names_the_port_and_suggests_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cove("sandbox", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                      "--outputs", str(tmp_path / "o.json"))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: port {port} on 127.0.0.1 is already in use (another cove sandbox?); "
                                     "stop it or choose another port with --port")


def test_generate_sdl_into_a_closed_pipe_ends_quietly() -> None:
    # `cove generate sdl | head -1`: the reader goes away before cove writes.
    process = subprocess.Popen([sys.executable, "-m", "cove", "generate", "sdl"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert err.decode() == ""
    assert process.returncode == 0


def test_serve_says_serve(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "cove", "serve", "--port", str(port), "--data-dir",
                                str(tmp_path / "d"), "--outputs", str(tmp_path / "o.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(10)
    assert banner.startswith("Cove serving cove.example_schema:data"), banner
    assert "sandbox" not in banner


def test_serve_does_not_offer_sandbox_only_options() -> None:
    serve_help = cove("serve", "--help").stdout
    sandbox_help = cove("sandbox", "--help").stdout
    for option in ("--no-watch", "--typed-client"):
        assert option in sandbox_help
        assert option not in serve_help


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_unreachable_broker_is_reported_once(tmp_path: Path, workers: str) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = cove("serve", "--workers", workers, "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
                  "--outputs", str(tmp_path / "o.json"), "--broker-url", dead)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot reach the broker at {dead}"), result.stderr


def test_module_attribute_schema_is_found_in_the_current_directory(tmp_path: Path) -> None:
    # As `uvicorn main:app` does: the folder the command runs in is importable.
    (tmp_path / "myschema.py").write_text(
        "from cove import a, define_data\n"
        "schema = a.schema({'Note': a.model({'body': a.string()})})\n"
        "schema = schema.authorization(lambda allow: [allow.public_api_key()])\n"
        "backend = define_data(schema=schema)\n")
    # The console script, not `python -m cove` (which puts the current directory on sys.path itself).
    script = Path(sys.executable).with_name("cove")
    result = subprocess.run([str(script), "generate", "sdl", "myschema:backend"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "type Note" in result.stdout


# ---------------------------------------------------------------- data commands


def test_data_commands_refuse_a_missing_data_dir(tmp_path: Path) -> None:
    for command in (["users", "list"], ["keys", "list"], ["iam", "list"]):
        result = cove(command[0], "--data-dir", str(tmp_path / "nowhere"), *command[1:])
        assert result.returncode == 2
        assert f"error: no Cove data in {tmp_path / 'nowhere'}/" in result.stderr
        assert "--create" in result.stderr
        assert not (tmp_path / "nowhere").exists()
    created = cove("keys", "--data-dir", str(tmp_path / "new"), "--create", "list")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "new" / "data.sqlite").is_file()
    # the options work after the subcommand too
    assert cove("users", "list", "--data-dir", str(tmp_path / "new")).returncode == 0
    assert cove("iam", "list", "--data-dir", str(tmp_path / "other"), "--create").returncode == 0
    assert cove("keys", "list", "--data-dir", str(tmp_path / "third")).returncode == 2


AUTH_SCHEMA = """
from cove import a, define_auth, define_data
schema = a.schema({"Note": a.model({"body": a.string()}).authorization(lambda allow: [allow.authenticated()])})
auth = define_auth(login_with={"email": True}, groups=["Admins", "Editors"])
data = define_data(schema=schema)
"""


@pytest.fixture
def auth_data_dir(tmp_path: Path) -> Path:
    """A data dir a sandbox with a user pool (region eu-west-1) has run on."""
    (tmp_path / "schema.py").write_text(AUTH_SCHEMA)
    box = start_sandbox(tmp_path, tmp_path / "schema.py", "--region", "eu-west-1")
    box.stop()
    return box.data_dir


def test_users_add_with_an_unknown_group_adds_nobody(auth_data_dir: Path) -> None:
    result = cove("users", "--data-dir", str(auth_data_dir), "add", "ada@example.com", "--password", "Passw0rd!",
                  "--group", "Admin")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no group Admin in the user pool; its groups are: Admins, Editors; "
                                     "no user was added")
    assert "ada@example.com" not in cove("users", "--data-dir", str(auth_data_dir), "list").stdout


def test_users_password_from_stdin_and_region_from_the_data_dir(auth_data_dir: Path, tmp_path: Path) -> None:
    added = cove("users", "--data-dir", str(auth_data_dir), "add", "ada@example.com", "--password-stdin",
                 "--group", "Admins", stdin="Passw0rd!\n")
    assert added.returncode == 0, added.stderr
    # The user signs in with SRP against a sandbox in eu-west-1: the verifier was made for that pool.
    (tmp_path / "again").mkdir()
    box = start_sandbox(tmp_path / "again", tmp_path / "schema.py", "--region", "eu-west-1", data_dir=auth_data_dir)
    try:
        result = cove_auth.sign_in(username="ada@example.com", password="Passw0rd!", config=box.outputs)
        assert result.is_signed_in
        cove_auth.sign_out(config=box.outputs)
    finally:
        box.stop()


def test_users_add_without_a_password_says_how_to_give_one(auth_data_dir: Path) -> None:
    result = cove("users", "--data-dir", str(auth_data_dir), "add", "ada@example.com", stdin="")
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr


def test_every_command_that_touches_data_takes_a_database_url() -> None:
    """`--database-url` (and COVE_DATABASE_URL) wherever data is read or written, on the command and on
    each subcommand, so `cove users --database-url U list` and `cove users list --database-url U` both work."""
    found = {" ".join(path): parser for path, parser, _ in parsers(build_parser())}
    data_commands = ["sandbox", "serve", "keys", "users", "iam", "console", "export", "import", "migrate", "backup",
                     "restore", "seed"]
    subcommands = [name for name in found if name.split()[0] in ("keys", "users", "iam", "console") and " " in name]
    assert len(subcommands) >= 10
    for name in data_commands + subcommands:
        options = {o for action in found[name]._actions for o in action.option_strings}
        assert "--database-url" in options, name
    for name in ("keys", "users", "iam", "console", "export", "import", "migrate", "sandbox", "serve"):
        helps = [a.help or "" for a in found[name]._actions if "--database-url" in a.option_strings]
        assert "[env COVE_DATABASE_URL]" in helps[0], name
