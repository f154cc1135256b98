"""``COVE_*`` environment variables: every option of `cove sandbox` and `cove serve` can be set as one.

The variable of ``--broker-url`` is ``COVE_BROKER_URL``; the schema argument's is ``COVE_SCHEMA``. A flag on
the command line wins over its variable. Switches take ``1/true/yes/on`` or ``0/false/no/off``;
repeatable options take a comma-separated list. A bad value is reported (naming the variable) only when
the command would use it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

PREFIX = "COVE_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class InvalidEnvironment:
    """Stands in for an option's default when its variable holds a bad value."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidEnvironment({self.message!r})"


def variable_name(action: argparse.Action) -> str | None:
    """``--data-dir`` -> ``COVE_DATA_DIR``; a positional -> ``COVE_<DEST>``; None for --help."""
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
        return None
    longs = [o for o in action.option_strings if o.startswith("--")]
    if action.option_strings and not longs:
        return None
    name = longs[0][2:] if longs else action.dest
    return PREFIX + name.upper().replace("-", "_")


def variables(parser: argparse.ArgumentParser, only: Iterable[str] | None = None) -> dict[str, argparse.Action]:
    wanted = set(only) if only is not None else None
    out = {}
    for action in parser._actions:
        name = variable_name(action)
        if name is not None and (wanted is None or wanted & set(action.option_strings)):
            out[name] = action
    return out


def apply_environment(parser: argparse.ArgumentParser, environ: Mapping[str, str],
                      only: Iterable[str] | None = None) -> None:
    """Make each option's variable its default (flags still win) and name the variable in its help."""
    for name, action in variables(parser, only).items():
        action.help = f"{action.help} [env {name}]" if action.help else f"[env {name}]"
        raw = environ.get(name)
        if raw is None:
            continue
        try:
            action.default = _convert(action, raw)
        except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
            action.default = InvalidEnvironment(f"{name}={raw!r}: {exc}")


def invalid_values(args: argparse.Namespace) -> list[str]:
    """Messages for the variables with bad values that this command would have used."""
    return [value.message for value in vars(args).values() if isinstance(value, InvalidEnvironment)]


def _convert(action: argparse.Action, raw: str) -> Any:
    if action.nargs == 0:  # a switch (store_true)
        text = raw.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("use 1/true/yes/on or 0/false/no/off")
    if isinstance(action, argparse._AppendAction):
        return [_one(action, item.strip()) for item in raw.split(",") if item.strip()]
    return _one(action, raw)


def _one(action: argparse.Action, raw: str) -> Any:
    value = action.type(raw) if callable(action.type) else raw
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"choose from {', '.join(map(str, action.choices))}")
    return value
