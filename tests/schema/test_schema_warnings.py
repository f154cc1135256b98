"""Rules nobody can satisfy, and owner fields that look like typos, are reported with what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cove import a, define_auth, define_data
from cove.schema.checks import schema_warnings
from cove.schema.define import attach_auth


def warnings_for(rules: Any, *, auth: Any = None, modes: dict[str, Any] | None = None,
                 fields: dict[str, Any] | None = None) -> list[str]:
    schema = a.schema({"Post": a.model({"title": a.string(), **(fields or {})}).authorization(rules)})
    data = define_data(schema=schema, authorization_modes=modes or {"default_authorization_mode": "api_key"})
    if auth is not None:
        attach_auth(data, auth)
    return schema_warnings(data.schema)


def test_owner_rule_without_define_auth() -> None:
    (warning,) = warnings_for(lambda allow: [allow.owner()])
    assert warning == ("Post: allow.owner() needs a user pool, but the schema file has no `auth = define_auth(...)`: "
                       "nobody can sign in, so the rule lets no one through. "
                       "Add auth = define_auth(login_with={'email': True}).")


def test_group_that_define_auth_does_not_declare() -> None:
    (warning,) = warnings_for(lambda allow: [allow.group("Admin")], auth=define_auth(groups=["Admins"]))
    assert warning == ("Post: allow.groups(['Admin']) names groups define_auth(groups=...) does not declare: "
                       "'Admin' (did you mean 'Admins'?); the declared groups are: Admins")


def test_oidc_rule_without_an_oidc_mode() -> None:
    (warning,) = warnings_for(lambda allow: [allow.authenticated("oidc")])
    assert warning.startswith("Post: allow.authenticated('oidc') needs an OIDC mode, but define_data has none: "
                              "add oidc_authorization_mode to define_data(authorization_modes=...)")


def test_guest_rule_without_guest_access() -> None:
    (warning,) = warnings_for(lambda allow: [allow.guest()], auth=define_auth())
    assert warning == ("Post: allow.guest() lets guests in, but define_auth(...) does not: "
                       "add allow_guest_access=True")


def test_owner_field_that_looks_like_a_typo() -> None:
    (warning,) = warnings_for(lambda allow: [allow.owners_defined_in("editor")], auth=define_auth(),
                              fields={"editors": a.string().array()})
    assert warning.startswith("Post: allow.owners_defined_in('editor') adds a field 'editor' that the model does "
                              "not declare, next to its field 'editors'; a typo?")


def test_satisfiable_rules_give_no_warning() -> None:
    oidc = {"default_authorization_mode": "user_pool", "oidc_authorization_mode": {
        "oidc_provider_name": "corp", "oidc_issuer_url": "https://login.example.com"}}
    assert warnings_for(lambda allow: [allow.owner(), allow.group("Admins"), allow.authenticated("oidc"),
                                       allow.guest(), allow.owners_defined_in("editors"), allow.public_api_key()],
                        auth=define_auth(groups=["Admins"], allow_guest_access=True), modes=oidc,
                        fields={"editors": a.string().array()}) == []


def test_the_sandbox_prints_the_warning(tmp_path: Path, sandbox_factory: Any) -> None:
    schema = tmp_path / "schema.py"
    schema.write_text("from cove import a, define_data\n"
                      "schema = a.schema({'Note': a.model({'body': a.string()}).authorization(\n"
                      "    lambda allow: [allow.owner(), allow.public_api_key()])})\n"
                      "data = define_data(schema=schema)\n")
    box = sandbox_factory(schema)
    assert any(line.startswith("Warning: Note: allow.owner() needs a user pool") for line in box.lines), box.lines
