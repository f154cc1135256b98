"""``NAME=VALUE`` command-line settings applied to a dataclass of numbers: ``--limit``,
``--realtime-limit`` and ``--auth-limit`` all parse this way."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

Settings = TypeVar("Settings")


def parse_settings(target: Settings, items: list[str] | None, flag: str) -> Settings:
    """Apply ``NAME=VALUE`` items to a dataclass of numbers; ValueError names the flag and the choices."""
    known = {f.name: f for f in fields(target)}  # type: ignore[arg-type]
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise ValueError(f"{flag} {item!r}: use NAME=VALUE with NAME one of " + ", ".join(known))
        kind = int if known[name].type in ("int", int) else float
        try:
            number = kind(value)
        except ValueError:
            raise ValueError(f"{flag} {item!r}: {value!r} is not a number"
                             + (" (a whole one)" if kind is int else "")) from None
        if number < 0:
            raise ValueError(f"{flag} {item!r}: the value must not be negative")
        setattr(target, name, number)
    return target
