"""Tests that fail when something is undocumented (in the style of datasette's test_docs.py).

- every option of the documented commands appears in README.md;
- the README's two commands exist, and CI runs the same test command;
- every name of the public surface the project promises (the names users type) exists on `a`, `allow` and the builders.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from cove import a, allow
from cove.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def subcommand(*path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        parser = sub.choices[name]
    return parser


def options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(opt for action in parser._actions for opt in action.option_strings
                  if opt.startswith("--") and opt != "--help")


def documented(option: str) -> bool:
    """`--port` counts only as itself, not as part of `--port-range`."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", README) is not None


COMMANDS = [("sandbox",), ("serve",), ("keys",), ("keys", "create"), ("users",), ("users", "add"), ("iam",),
            ("iam", "create"), ("keys", "rotate"), ("backup",), ("restore",), ("export",), ("import",), ("seed",),
            ("console",), ("console", "create-admin"), ("migrate",)]


def test_commands_have_options() -> None:
    # Guards the parametrization below against a parser refactor that finds nothing.
    assert "--port" in options(subcommand("sandbox"))
    assert "--workers" in options(subcommand("serve"))
    assert "--expires-in" in options(subcommand("keys", "create"))


@pytest.mark.parametrize(
    ("command", "option"),
    [(command, option) for command in COMMANDS for option in options(subcommand(*command))],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_command_option_is_documented(command: tuple[str, ...], option: str) -> None:
    assert documented(option), f"`cove {' '.join(command)} {option}` is not mentioned in README.md"


@pytest.mark.parametrize("script", ["scripts/sandbox.sh", "scripts/test.sh"])
def test_readme_has_the_two_commands(script: str) -> None:
    assert f"bash {script}" in README
    assert (ROOT / script).is_file()


def test_ci_runs_the_test_script() -> None:
    run = ROOT / ".ci" / "run"
    assert run.is_file()
    calls = [line for line in run.read_text().splitlines()
             if "scripts/test.sh" in line and not line.lstrip().startswith("#")]
    assert calls, ".ci/run does not call scripts/test.sh"


# The public surface: the names users type (the README documents each).
DESIGN_FIELD_BUILDERS = [
    "id", "string", "integer", "float", "boolean", "date", "time", "datetime", "timestamp", "email", "json",
    "phone", "url", "ip_address", "enum", "custom_type", "ref",
]
DESIGN_RELATIONSHIPS = ["has_many", "belongs_to", "has_one"]
DESIGN_OTHER_A = ["schema", "model", "query", "mutation", "subscription"]
DESIGN_RULES = [
    "public_api_key", "guest", "authenticated", "owner", "owner_defined_in", "owners_defined_in", "group",
    "groups", "group_defined_in", "groups_defined_in", "custom",
]
DESIGN_RULE_MODIFIERS = ["to", "identity_claim", "with_claim_in"]
DESIGN_FIELD_MODIFIERS = ["required", "array", "default", "authorization"]
DESIGN_MODEL_MODIFIERS = ["identifier", "secondary_indexes", "disable_operations", "authorization"]
DESIGN_OPERATION_MODIFIERS = ["arguments", "returns", "handler", "authorization"]


@pytest.mark.parametrize("name", DESIGN_FIELD_BUILDERS + DESIGN_RELATIONSHIPS + DESIGN_OTHER_A)
def test_a_has(name: str) -> None:
    assert callable(getattr(a, name, None)), f"a.{name} is in the public surface but missing"


@pytest.mark.parametrize("name", DESIGN_RULES)
def test_allow_has(name: str) -> None:
    assert callable(getattr(allow, name, None)), f"allow.{name} is in the public surface but missing"


def test_builders_return_objects_with_the_documented_modifiers() -> None:
    rule = allow.owner()
    for name in DESIGN_RULE_MODIFIERS:
        assert callable(getattr(rule, name, None)), f"allow.owner().{name}"
    for builder in DESIGN_FIELD_BUILDERS:
        made = getattr(a, builder)(*{"enum": (["x"],), "custom_type": ({},), "ref": ("X",)}.get(builder, ()))
        for name in DESIGN_FIELD_MODIFIERS:
            assert callable(getattr(made, name, None)), f"a.{builder}().{name}"
    model = a.model({})
    for name in DESIGN_MODEL_MODIFIERS:
        assert callable(getattr(model, name, None)), f"a.model().{name}"
    for kind in ("query", "mutation", "subscription"):
        op = getattr(a, kind)()
        for name in DESIGN_OPERATION_MODIFIERS:
            assert callable(getattr(op, name, None)), f"a.{kind}().{name}"


@pytest.mark.parametrize("name", DESIGN_FIELD_BUILDERS + DESIGN_RELATIONSHIPS)
def test_readme_lists_field_builder(name: str) -> None:
    assert f"a.{name}(" in README, f"a.{name}() is not in README.md's schema DSL section"


@pytest.mark.parametrize("name", DESIGN_RULES)
def test_readme_lists_rule(name: str) -> None:
    assert re.search(rf"\b{name}\(", README), f"allow.{name}() is not in README.md's rules"


# README, "Configuration from the environment": one table of the COVE_* variables of the server commands.
ENV_ROW = re.compile(r"^\| `(COVE_[A-Z_]+)` \| `([^`]+)`", re.MULTILINE)


def environment_table() -> dict[str, str]:
    section = README.split("### Configuration from the environment", 1)[1].split("\n#", 1)[0]
    return dict(ENV_ROW.findall(section))


def cli_variables() -> dict[str, str]:
    from cove.environment import variables

    out: dict[str, str] = {}
    for command in ("serve", "sandbox"):
        for name, action in variables(subcommand(command)).items():
            out[name] = action.option_strings[0] if action.option_strings else action.dest.upper()
    return out


def test_environment_table_guard() -> None:
    assert {"COVE_PORT", "COVE_SCHEMA", "COVE_WORKERS", "COVE_NO_WATCH"} <= set(cli_variables())
    assert "COVE_PORT" in environment_table()


def test_environment_table_matches_the_cli() -> None:
    table = environment_table()
    cli = cli_variables()
    assert sorted(set(cli) - set(table)) == [], "COVE_* variables of the CLI missing from README's table"
    assert sorted(set(table) - set(cli)) == [], "README's table lists variables the CLI does not read"
    for name, option in cli.items():
        assert table[name] == (option if option.startswith("--") else "SCHEMA"), \
            f"README says {name} sets {table[name]}, the CLI says {option}"
