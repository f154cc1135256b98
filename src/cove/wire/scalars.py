"""Validation and normalisation of GraphQL / AWS AppSync scalar *input* values.

`parse_scalar(name, value)` takes a value as it arrives from JSON variables (or a literal already turned
into a Python value) and returns the normalised Python value to store, or raises `ScalarError` with a
short human-readable sentence. `None` is never a valid input here: nullability is the caller's job.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import time
from collections.abc import Callable

import orjson

__all__ = ["SCALAR_PARSERS", "ScalarError", "parse_scalar"]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class ScalarError(ValueError):
    """An input value is not valid for the named scalar type."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_error(scalar: str, expected: str, value: object) -> ScalarError:
    return ScalarError(f"{scalar} expects {expected}, got {type(value).__name__} {_show(value)}")


def _format_error(scalar: str, value: object, expected: str) -> ScalarError:
    return ScalarError(f"{_show(value)} is not a valid {scalar} (expected {expected})")


# ---------------------------------------------------------------------------------------------------------
# Built-in GraphQL scalars


def _parse_id(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _type_error("ID", "a string or an integer", value)


def _parse_string(value: object) -> str:
    if isinstance(value, str):
        return value
    raise _type_error("String", "a string", value)


def _integral(scalar: str, value: object) -> int:
    """An int (not bool); a finite float with an integral value (JSON `3.0`) is accepted as that int."""
    if isinstance(value, bool):
        raise _type_error(scalar, "an integer", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise _type_error(scalar, "an integer", value)


def _parse_int(value: object) -> int:
    number = _integral("Int", value)
    if not INT32_MIN <= number <= INT32_MAX:
        raise ScalarError(f"{_show(value)} is not a valid Int (must be a signed 32-bit integer)")
    return number


def _parse_timestamp(value: object) -> int:
    number = _integral("AWSTimestamp", value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ScalarError(f"{_show(value)} is not a valid AWSTimestamp (must fit in a signed 64-bit integer)")
    return number


def _parse_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error("Float", "a number", value)
    try:
        result = float(value)
    except OverflowError:
        raise ScalarError(f"{_show(value)} is not a valid Float (out of range)") from None
    if not math.isfinite(result):
        raise ScalarError(f"{_show(value)} is not a valid Float (must be finite)")
    return result


def _parse_boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise _type_error("Boolean", "true or false", value)


# ---------------------------------------------------------------------------------------------------------
# Dates and times

_D = "[0-9]"
_OFFSET = rf"(?:Z|[+-]({_D}{{2}}):({_D}{{2}})(?::({_D}{{2}}))?)"
_DATE = rf"({_D}{{4}})-({_D}{{2}})-({_D}{{2}})"
_TIME = rf"({_D}{{2}}):({_D}{{2}})(?::({_D}{{2}})(?:\.{_D}{{1,9}})?)?"

_DATE_RE = re.compile(rf"{_DATE}{_OFFSET}?\Z")
_TIME_RE = re.compile(rf"{_TIME}{_OFFSET}?\Z")
_DATETIME_RE = re.compile(rf"{_DATE}T{_TIME}{_OFFSET}\Z")

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_DATE_EXPECTED = "YYYY-MM-DD with an optional zone offset"
_TIME_EXPECTED = "hh:mm[:ss[.sss]] with an optional zone offset"
_DATETIME_EXPECTED = "YYYY-MM-DDThh:mm[:ss[.sss]] followed by a zone offset such as Z or +hh:mm"


def _valid_date(year: str, month: str, day: str) -> bool:
    y, m, d = int(year), int(month), int(day)
    if not 1 <= m <= 12 or d < 1:
        return False
    if m == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        return d <= 29
    return d <= _DAYS_IN_MONTH[m]


def _valid_time(hour: str, minute: str, second: str | None) -> bool:
    return int(hour) <= 23 and int(minute) <= 59 and (second is None or int(second) <= 59)


def _valid_offset(hour: str | None, minute: str | None, second: str | None) -> bool:
    if hour is None:  # no offset, or "Z"
        return True
    return _valid_time(hour, minute or "00", second)


def _parse_date(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSDate", "a string", value)
    match = _DATE_RE.match(value)
    if match is None:
        raise _format_error("AWSDate", value, _DATE_EXPECTED)
    g = match.groups()
    if not (_valid_date(g[0], g[1], g[2]) and _valid_offset(g[3], g[4], g[5])):
        raise _format_error("AWSDate", value, _DATE_EXPECTED)
    return value


def _parse_time(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSTime", "a string", value)
    match = _TIME_RE.match(value)
    if match is None:
        raise _format_error("AWSTime", value, _TIME_EXPECTED)
    g = match.groups()
    if not (_valid_time(g[0], g[1], g[2]) and _valid_offset(g[3], g[4], g[5])):
        raise _format_error("AWSTime", value, _TIME_EXPECTED)
    return value


def _parse_datetime(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSDateTime", "a string", value)
    match = _DATETIME_RE.match(value)
    if match is None:
        raise _format_error("AWSDateTime", value, _DATETIME_EXPECTED)
    g = match.groups()
    valid = _valid_date(*g[0:3]) and _valid_time(*g[3:6]) and _valid_offset(*g[6:9])
    if not valid:
        raise _format_error("AWSDateTime", value, _DATETIME_EXPECTED)
    return value


# ---------------------------------------------------------------------------------------------------------
# AWSEmail

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL_RE = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@({_LABEL}(?:\.{_LABEL})*)\Z")
_EMAIL_EXPECTED = "an address of the form local-part@domain"


def _parse_email(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSEmail", "a string", value)
    match = _EMAIL_RE.match(value)
    if match is None:
        raise _format_error("AWSEmail", value, _EMAIL_EXPECTED)
    local, domain = match.groups()
    if len(local) > 64 or len(domain) > 253 or any(len(label) > 63 for label in domain.split(".")):
        raise _format_error("AWSEmail", value, _EMAIL_EXPECTED)
    return value


# ---------------------------------------------------------------------------------------------------------
# AWSJSON


def _dump_json(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        pass
    # orjson refuses integers beyond 64 bits; the standard library does not.
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise ScalarError(f"{_show(value)} is not a valid AWSJSON (cannot be serialised as JSON)") from None


def _parse_json(value: object) -> str:
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise _format_error("AWSJSON", value, "a string holding valid JSON") from None
        return _dump_json(parsed)
    if isinstance(value, float) and not math.isfinite(value):
        raise ScalarError(f"{_show(value)} is not a valid AWSJSON (numbers must be finite)")
    if isinstance(value, (dict, list, int, float)):  # already-parsed JSON from variables (bool is an int)
        return _dump_json(value)
    raise _type_error("AWSJSON", "a JSON string or a JSON value", value)


# ---------------------------------------------------------------------------------------------------------
# AWSPhone

_PHONE_GROUP = r"(?:\([0-9]+\)|[0-9]+)"
_PHONE_RE = re.compile(rf"\+?{_PHONE_GROUP}(?:[ .-]?{_PHONE_GROUP})*\Z")
_PHONE_EXPECTED = "an optional +country code and 7 to 15 digits, optionally grouped with spaces or hyphens"


def _parse_phone(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSPhone", "a string", value)
    if _PHONE_RE.match(value) is None:
        raise _format_error("AWSPhone", value, _PHONE_EXPECTED)
    digits = sum(1 for ch in value if "0" <= ch <= "9")
    if not 7 <= digits <= 15:
        raise _format_error("AWSPhone", value, _PHONE_EXPECTED)
    return value


# ---------------------------------------------------------------------------------------------------------
# AWSURL

_URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(//)?(.*)\Z", re.DOTALL)
_URL_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f-\x9f\s]")  # whitespace and control characters
_PORT_RE = re.compile(r"[0-9]*\Z")
_URL_EXPECTED = "an absolute URL with a scheme, such as https://example.com/path"


def _valid_authority(authority: str) -> bool:
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):  # IPv6 literal
        end = host_port.find("]")
        if end < 0:
            return False
        try:
            ipaddress.IPv6Address(host_port[1:end])
        except ValueError:
            return False
        rest = host_port[end + 1:]
        return rest == "" or (rest[0] == ":" and _PORT_RE.match(rest, 1) is not None)
    host, colon, port = host_port.partition(":")
    if not host or "[" in host or "]" in host:
        return False
    return not colon or _PORT_RE.match(port) is not None


def _parse_url(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSURL", "a string", value)
    match = _URL_RE.match(value)
    if match is None or _URL_FORBIDDEN_RE.search(value) is not None:
        raise _format_error("AWSURL", value, _URL_EXPECTED)
    scheme, slashes, rest = match.groups()
    if slashes:
        end = len(rest)
        for sep in "/?#":
            pos = rest.find(sep)
            if 0 <= pos < end:
                end = pos
        if not _valid_authority(rest[:end]):
            raise _format_error("AWSURL", value, _URL_EXPECTED)
    elif scheme.lower() != "mailto" or not rest:
        raise _format_error("AWSURL", value, _URL_EXPECTED)
    return value


# ---------------------------------------------------------------------------------------------------------
# AWSIPAddress

_PREFIX_RE = re.compile(r"[0-9]{1,3}\Z")
_IP_EXPECTED = "an IPv4 or IPv6 address with an optional /prefix"


def _parse_ip(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("AWSIPAddress", "a string", value)
    address, slash, prefix = value.partition("/")
    if "%" in address:  # IPv6 zone identifiers are not addresses AppSync stores
        raise _format_error("AWSIPAddress", value, _IP_EXPECTED)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise _format_error("AWSIPAddress", value, _IP_EXPECTED) from None
    if slash and (_PREFIX_RE.match(prefix) is None or int(prefix) > ip.max_prefixlen):
        raise _format_error("AWSIPAddress", value, _IP_EXPECTED)
    return value


# ---------------------------------------------------------------------------------------------------------

SCALAR_PARSERS: dict[str, Callable[[object], object]] = {
    "ID": _parse_id,
    "String": _parse_string,
    "Int": _parse_int,
    "Float": _parse_float,
    "Boolean": _parse_boolean,
    "AWSDate": _parse_date,
    "AWSTime": _parse_time,
    "AWSDateTime": _parse_datetime,
    "AWSTimestamp": _parse_timestamp,
    "AWSEmail": _parse_email,
    "AWSJSON": _parse_json,
    "AWSPhone": _parse_phone,
    "AWSURL": _parse_url,
    "AWSIPAddress": _parse_ip,
}


def parse_scalar(name: str, value: object) -> object:
    """Validate an input `value` for the scalar `name`; return the normalised value or raise ScalarError.

    An unknown scalar name is a programming error and raises KeyError.
    """
    try:
        parser = SCALAR_PARSERS[name]
    except KeyError:
        raise KeyError(f"unknown scalar type {name!r}") from None
    return parser(value)


def now_iso() -> str:
    """AppSync's `$util.time.nowISO8601()`: UTC with millisecond precision and a `Z`."""
    return iso_millis(time.time())


_second_shown: tuple[int, str] = (-1, "")   # the last whole second formatted, reused within it


def iso_millis(t: float) -> str:
    """A POSIX time as UTC ISO 8601 with milliseconds and a `Z` (``2026-12-01T03:04:05.678Z``)."""
    global _second_shown
    whole = int(t)
    shown = _second_shown   # read once: another thread may replace it meanwhile
    if shown[0] != whole:
        shown = _second_shown = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{shown[1]}.{int((t - whole) * 1000):03d}Z"


_UUID_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_record_id() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` gives, in a third of its time
    (it is made for every create)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
