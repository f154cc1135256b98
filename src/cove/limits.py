"""``NAME=VALUE`` command-line settings applied to a dataclass of limits (``--auth-limit``)."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

T = TypeVar("T")


def parse_assignments(cls: type[T], items: list[str] | None, flag: str) -> T:
    """An instance of ``cls`` (a dataclass of whole-number limits) with each ``NAME=VALUE`` applied;
    ``ValueError`` names the flag and the accepted names."""
    limits = cls()
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in names:
            raise ValueError(f"{flag} {item!r}: use NAME=VALUE with NAME one of {', '.join(names)}")
        if not value.strip().isdigit():
            raise ValueError(f"{flag} {item!r}: {value!r} is not a whole number >= 0")
        setattr(limits, name, int(value))
    return limits
