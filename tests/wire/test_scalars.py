"""Unit tests for cove.wire.scalars (no server needed)."""

from __future__ import annotations

import uuid

import pytest

from cove.wire.scalars import SCALAR_PARSERS, ScalarError, iso_millis, new_record_id, parse_scalar

ALL_SCALARS = [
    "ID", "String", "Int", "Float", "Boolean", "AWSDate", "AWSTime", "AWSDateTime", "AWSTimestamp",
    "AWSEmail", "AWSJSON", "AWSPhone", "AWSURL", "AWSIPAddress",
]


def test_parsers_cover_every_scalar() -> None:
    assert set(SCALAR_PARSERS) == set(ALL_SCALARS)


def test_unknown_scalar_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        parse_scalar("Nope", "x")


def test_scalar_error_is_value_error() -> None:
    assert issubclass(ScalarError, ValueError)


@pytest.mark.parametrize("name", ALL_SCALARS)
def test_none_is_rejected(name: str) -> None:
    with pytest.raises(ScalarError):
        parse_scalar(name, None)


# (scalar, input, expected normalised output)
VALID = [
    ("ID", "abc", "abc"),
    ("ID", "", ""),
    ("ID", 42, "42"),
    ("ID", -7, "-7"),
    ("String", "hello", "hello"),
    ("String", "", ""),
    ("String", "ünïcødé ✓", "ünïcødé ✓"),
    ("Int", 0, 0),
    ("Int", 2**31 - 1, 2**31 - 1),
    ("Int", -(2**31), -(2**31)),
    ("Int", 3.0, 3),
    ("AWSTimestamp", 0, 0),
    ("AWSTimestamp", 1_700_000_000, 1_700_000_000),
    ("AWSTimestamp", 2**63 - 1, 2**63 - 1),
    ("AWSTimestamp", -(2**63), -(2**63)),
    ("AWSTimestamp", 2**31, 2**31),
    ("Float", 1.5, 1.5),
    ("Float", 3, 3.0),
    ("Float", -0.0, -0.0),
    ("Float", 1e308, 1e308),
    ("Boolean", True, True),
    ("Boolean", False, False),
    # AWSDate
    ("AWSDate", "2024-01-01", "2024-01-01"),
    ("AWSDate", "2024-02-29", "2024-02-29"),
    ("AWSDate", "2000-02-29", "2000-02-29"),
    ("AWSDate", "2024-12-31", "2024-12-31"),
    ("AWSDate", "2024-01-01Z", "2024-01-01Z"),
    ("AWSDate", "2024-01-01+05:30", "2024-01-01+05:30"),
    ("AWSDate", "2024-01-01-08:00", "2024-01-01-08:00"),
    ("AWSDate", "2024-01-01+05:30:15", "2024-01-01+05:30:15"),
    ("AWSDate", "1970-04-30", "1970-04-30"),
    # AWSTime
    ("AWSTime", "12:30", "12:30"),
    ("AWSTime", "00:00", "00:00"),
    ("AWSTime", "23:59:59", "23:59:59"),
    ("AWSTime", "12:30:45.123", "12:30:45.123"),
    ("AWSTime", "12:30:45.1", "12:30:45.1"),
    ("AWSTime", "12:30:45.123456789", "12:30:45.123456789"),
    ("AWSTime", "12:30Z", "12:30Z"),
    ("AWSTime", "12:30:45-07:00", "12:30:45-07:00"),
    ("AWSTime", "12:30:45.5+01:00:30", "12:30:45.5+01:00:30"),
    # AWSDateTime
    ("AWSDateTime", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
    ("AWSDateTime", "2024-01-01T10:00:00.123Z", "2024-01-01T10:00:00.123Z"),
    ("AWSDateTime", "2024-01-01T10:00Z", "2024-01-01T10:00Z"),
    ("AWSDateTime", "2024-01-01T10:00:00+05:30", "2024-01-01T10:00:00+05:30"),
    ("AWSDateTime", "2024-01-01T23:59:59.999999999-23:59", "2024-01-01T23:59:59.999999999-23:59"),
    ("AWSDateTime", "2024-02-29T00:00:00+01:00:00", "2024-02-29T00:00:00+01:00:00"),
    # AWSEmail
    ("AWSEmail", "user@example.com", "user@example.com"),
    ("AWSEmail", "first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
    ("AWSEmail", "user@localhost", "user@localhost"),
    ("AWSEmail", "o'neil_x-y@my-domain.org", "o'neil_x-y@my-domain.org"),
    ("AWSEmail", "!#$%&'*+/=?^_`{|}~-@example.com", "!#$%&'*+/=?^_`{|}~-@example.com"),
    ("AWSEmail", "a@b.c", "a@b.c"),
    ("AWSEmail", "USER@EXAMPLE.COM", "USER@EXAMPLE.COM"),
    # AWSJSON
    ("AWSJSON", '{"a": 1, "b": [true, null]}', '{"a":1,"b":[true,null]}'),
    ("AWSJSON", "[]", "[]"),
    ("AWSJSON", "  42 ", "42"),
    ("AWSJSON", '"text"', '"text"'),
    ("AWSJSON", "null", "null"),
    ("AWSJSON", '{"k": "ünï"}', '{"k":"ünï"}'),
    ("AWSJSON", {"a": 1, "b": {"c": [1, 2]}}, '{"a":1,"b":{"c":[1,2]}}'),
    ("AWSJSON", [1, "x", None], '[1,"x",null]'),
    ("AWSJSON", 5, "5"),
    ("AWSJSON", 2.5, "2.5"),
    ("AWSJSON", True, "true"),
    ("AWSJSON", {"big": 2**70}, '{"big":1180591620717411303424}'),
    # AWSPhone
    ("AWSPhone", "+1 555-555-5555", "+1 555-555-5555"),
    ("AWSPhone", "5555555", "5555555"),
    ("AWSPhone", "555-5555", "555-5555"),
    ("AWSPhone", "+44 20 7946 0958", "+44 20 7946 0958"),
    ("AWSPhone", "(555) 555-5555", "(555) 555-5555"),
    ("AWSPhone", "+1 (555) 555-5555", "+1 (555) 555-5555"),
    ("AWSPhone", "555.555.5555", "555.555.5555"),
    ("AWSPhone", "+123456789012345", "+123456789012345"),
    # AWSURL
    ("AWSURL", "http://x", "http://x"),
    ("AWSURL", "https://example.com/path?q=1#frag", "https://example.com/path?q=1#frag"),
    ("AWSURL", "https://user:pw@example.com:8443/a", "https://user:pw@example.com:8443/a"),
    ("AWSURL", "http://[::1]:8080/", "http://[::1]:8080/"),
    ("AWSURL", "http://127.0.0.1", "http://127.0.0.1"),
    ("AWSURL", "ftp://files.example.com/x.txt", "ftp://files.example.com/x.txt"),
    ("AWSURL", "git+ssh://host/repo", "git+ssh://host/repo"),
    ("AWSURL", "mailto:someone@example.com", "mailto:someone@example.com"),
    ("AWSURL", "HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM"),
    ("AWSURL", "https://example.com?q={x}", "https://example.com?q={x}"),
    # AWSIPAddress
    ("AWSIPAddress", "10.0.0.1", "10.0.0.1"),
    ("AWSIPAddress", "10.0.0.0/8", "10.0.0.0/8"),
    ("AWSIPAddress", "10.0.0.1/32", "10.0.0.1/32"),
    ("AWSIPAddress", "0.0.0.0/0", "0.0.0.0/0"),
    ("AWSIPAddress", "::1", "::1"),
    ("AWSIPAddress", "2001:db8::/32", "2001:db8::/32"),
    ("AWSIPAddress", "2001:db8::1/128", "2001:db8::1/128"),
    ("AWSIPAddress", "::ffff:192.168.0.1", "::ffff:192.168.0.1"),
    ("AWSIPAddress", "FE80::1", "FE80::1"),
]


@pytest.mark.parametrize(("name", "value", "expected"), VALID)
def test_valid(name: str, value: object, expected: object) -> None:
    result = parse_scalar(name, value)
    assert result == expected
    assert type(result) is type(expected)


INVALID = [
    ("ID", True),
    ("ID", 1.5),
    ("ID", ["a"]),
    ("String", 1),
    ("String", True),
    ("String", {"a": 1}),
    ("Int", True),
    ("Int", False),
    ("Int", 2**31),
    ("Int", -(2**31) - 1),
    ("Int", 1.5),
    ("Int", "1"),
    ("Int", float("inf")),
    ("AWSTimestamp", True),
    ("AWSTimestamp", 2**63),
    ("AWSTimestamp", "1700000000"),
    ("AWSTimestamp", 1.5),
    ("Float", True),
    ("Float", "1.5"),
    ("Float", float("nan")),
    ("Float", float("inf")),
    ("Float", 10**400),
    ("Boolean", 1),
    ("Boolean", "true"),
    ("Boolean", 0),
    # AWSDate
    ("AWSDate", "2024-02-30"),
    ("AWSDate", "2023-02-29"),
    ("AWSDate", "1900-02-29"),
    ("AWSDate", "2024-13-01"),
    ("AWSDate", "2024-00-10"),
    ("AWSDate", "2024-04-31"),
    ("AWSDate", "2024-01-00"),
    ("AWSDate", "2024-1-01"),
    ("AWSDate", "24-01-01"),
    ("AWSDate", "2024/01/01"),
    ("AWSDate", "2024-01-01T00:00:00Z"),
    ("AWSDate", "2024-01-01+24:00"),
    ("AWSDate", "2024-01-01+05:60"),
    ("AWSDate", "2024-01-01+0530"),
    ("AWSDate", "2024-01-01z"),
    ("AWSDate", "2024-01-01\n"),
    ("AWSDate", " 2024-01-01"),
    ("AWSDate", "\uff12\uff10\uff12\uff14-01-01"),  # full-width digits
    ("AWSDate", ""),
    ("AWSDate", 20240101),
    # AWSTime
    ("AWSTime", "12:60"),
    ("AWSTime", "24:00"),
    ("AWSTime", "12:30:60"),
    ("AWSTime", "12"),
    ("AWSTime", "1:30"),
    ("AWSTime", "12:30:45."),
    ("AWSTime", "12:30:45.1234567890"),
    ("AWSTime", "12:30.5"),
    ("AWSTime", "12:30+25:00"),
    ("AWSTime", "12:30 Z"),
    ("AWSTime", 1230),
    # AWSDateTime
    ("AWSDateTime", "2024-01-01T10:00:00"),
    ("AWSDateTime", "2024-01-01T10:00"),
    ("AWSDateTime", "2024-01-01 10:00:00Z"),
    ("AWSDateTime", "2024-01-01t10:00:00Z"),
    ("AWSDateTime", "2024-01-01"),
    ("AWSDateTime", "2024-01-01Z"),
    ("AWSDateTime", "2024-02-30T10:00:00Z"),
    ("AWSDateTime", "2024-01-01T24:00:00Z"),
    ("AWSDateTime", "2024-01-01T10:60:00Z"),
    ("AWSDateTime", "2024-01-01T10:00:60Z"),
    ("AWSDateTime", "2024-01-01T10:00:00+24:00"),
    ("AWSDateTime", "2024-01-01T10:00:00+01:00:60"),
    ("AWSDateTime", "2024-01-01T10:00:00+01"),
    ("AWSDateTime", "2024-01-01T10:00:00.Z"),
    ("AWSDateTime", 1700000000),
    # AWSEmail
    ("AWSEmail", "plainaddress"),
    ("AWSEmail", "@example.com"),
    ("AWSEmail", "user@"),
    ("AWSEmail", "user@@example.com"),
    ("AWSEmail", "a@b@c.com"),
    ("AWSEmail", ".user@example.com"),
    ("AWSEmail", "user.@example.com"),
    ("AWSEmail", "us..er@example.com"),
    ("AWSEmail", "user@-example.com"),
    ("AWSEmail", "user@example-.com"),
    ("AWSEmail", "user@example..com"),
    ("AWSEmail", "user@example.com."),
    ("AWSEmail", "user name@example.com"),
    ("AWSEmail", "user@exa_mple.com"),
    ("AWSEmail", "user@example.com "),
    ("AWSEmail", "x" * 65 + "@example.com"),
    ("AWSEmail", "user@" + "a" * 64 + ".com"),
    ("AWSEmail", 5),
    # AWSJSON
    ("AWSJSON", '{"a":1'),
    ("AWSJSON", ""),
    ("AWSJSON", "   "),
    ("AWSJSON", "not json"),
    ("AWSJSON", "{'a': 1}"),
    ("AWSJSON", "NaN"),
    ("AWSJSON", "[1,]"),
    ("AWSJSON", float("nan")),
    ("AWSJSON", {"a": object()}),
    ("AWSJSON", object()),
    # AWSPhone
    ("AWSPhone", "abc"),
    ("AWSPhone", "123456"),
    ("AWSPhone", "1234567890123456"),
    ("AWSPhone", "+1  555 555 5555"),
    ("AWSPhone", "555--555-5555"),
    ("AWSPhone", "++1 555 555 5555"),
    ("AWSPhone", "1+555 555 5555"),
    ("AWSPhone", "555-555-5555 ext 12"),
    ("AWSPhone", "(555 555-5555"),
    ("AWSPhone", "555-555-5555-"),
    ("AWSPhone", "-555-555-5555"),
    ("AWSPhone", ""),
    ("AWSPhone", 5555555555),
    # AWSURL
    ("AWSURL", "x"),
    ("AWSURL", "example.com"),
    ("AWSURL", "//example.com"),
    ("AWSURL", "http://"),
    ("AWSURL", "http:///path"),
    ("AWSURL", "http://:80/"),
    ("AWSURL", "http://user@/x"),
    ("AWSURL", "http://exa mple.com"),
    ("AWSURL", "http://example.com/a b"),
    ("AWSURL", "http://example.com:abc/"),
    ("AWSURL", "http://[::1/"),
    ("AWSURL", "http://[zz]/"),
    ("AWSURL", "1http://example.com"),
    ("AWSURL", "mailto:"),
    ("AWSURL", "urn:isbn:123"),
    ("AWSURL", "http://example.com\n"),
    ("AWSURL", ""),
    ("AWSURL", 123),
    # AWSIPAddress
    ("AWSIPAddress", "10.0.0.1/33"),
    ("AWSIPAddress", "::1/129"),
    ("AWSIPAddress", "256.0.0.1"),
    ("AWSIPAddress", "10.0.0"),
    ("AWSIPAddress", "10.0.0.1/"),
    ("AWSIPAddress", "10.0.0.1/-1"),
    ("AWSIPAddress", "10.0.0.1/8/8"),
    ("AWSIPAddress", "10.0.0.1/ 8"),
    ("AWSIPAddress", "010.0.0.1"),
    ("AWSIPAddress", "fe80::1%eth0"),
    ("AWSIPAddress", "::g"),
    ("AWSIPAddress", "localhost"),
    ("AWSIPAddress", ""),
    ("AWSIPAddress", 167772161),
]


@pytest.mark.parametrize(("name", "value"), INVALID)
def test_invalid(name: str, value: object) -> None:
    with pytest.raises(ScalarError) as info:
        parse_scalar(name, value)
    message = str(info.value)
    assert message and "\n" not in message


def test_error_message_is_a_readable_sentence() -> None:
    with pytest.raises(ScalarError) as info:
        parse_scalar("AWSDate", "2024-13-01")
    assert str(info.value) == (
        "'2024-13-01' is not a valid AWSDate (expected YYYY-MM-DD with an optional zone offset)"
    )


def test_type_error_message_names_the_type() -> None:
    with pytest.raises(ScalarError, match="AWSDate expects a string, got int"):
        parse_scalar("AWSDate", 5)


def test_long_values_are_truncated_in_messages() -> None:
    with pytest.raises(ScalarError) as info:
        parse_scalar("AWSEmail", "x" * 1000)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("name", ["AWSDate", "AWSTime", "AWSDateTime", "AWSEmail", "AWSPhone", "AWSURL",
                                  "AWSIPAddress", "String"])
def test_string_scalars_return_input_unchanged(name: str) -> None:
    sample = {
        "AWSDate": "2024-05-06+02:00",
        "AWSTime": "01:02:03.456Z",
        "AWSDateTime": "2024-05-06T01:02:03.456+02:00",
        "AWSEmail": "me@example.org",
        "AWSPhone": "+33 1 23 45 67 89",
        "AWSURL": "https://example.org/",
        "AWSIPAddress": "192.168.1.0/24",
        "String": "whatever",
    }[name]
    assert parse_scalar(name, sample) is sample


def test_iso_millis_formats_utc_with_milliseconds_across_second_boundaries() -> None:
    assert iso_millis(0.5) == "1970-01-01T00:00:00.500Z"
    assert iso_millis(1_700_000_000.999) == "2023-11-14T22:13:20.999Z"
    assert iso_millis(1_700_000_001.0) == "2023-11-14T22:13:21.000Z"   # the cached second moves on
    assert iso_millis(1_700_000_000.25) == "2023-11-14T22:13:20.250Z"  # and back


def test_new_record_id_is_a_random_version_4_uuid() -> None:
    ids = [new_record_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:2000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    # every hex digit shows up in every random position: no position is stuck
    for position in (0, 15, 19, 35):
        assert len({text[position] for text in ids}) == (4 if position == 19 else 16)
