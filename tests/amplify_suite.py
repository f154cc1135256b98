"""One suite, two clients: every model and relationship of a real Amplify outputs file, exercised
through Cove's Python client (tests/schema/test_amplify_outputs.py) or the stock aws-amplify JS client
(tests/compat/test_amplify_outputs_js.py) against `cove sandbox <their outputs>`.

The plan is read from the model introspection itself: for each model, who may create it (API key,
an owner, a member of the group a rule names), a value for every field, then create, get, update,
list, filtered list, every index query field, delete; for each relationship, a lazy load and a nested
selection set; and for each model, callers the rules refuse (API key, another user, a user outside
the group) are refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from authkit import PASSWORD, sign_in

Json = dict[str, Any]

#: Who calls: the API key, or a signed-in user of the sandbox's user pool.
ACTORS = ("api_key", "alice", "bob", "admin")
#: Groups of the users (admin is in every group the fixtures' rules name).
GROUPS = {"alice": (), "bob": (), "admin": ("Admin", "Admins", "Editors")}
#: Group a dynamic-group record is given, so that admin (and not alice or bob) belongs to it.
RECORD_GROUP = "Editors"


class Backend(Protocol):
    """What the suite needs from a client. Each call returns (data, errors)."""

    def create(self, model: str, data: Json, who: str) -> tuple[Any, list[Any]]: ...
    def get(self, model: str, ident: Json, who: str, selection: list[str] | None = None) -> tuple[Any, list[Any]]: ...
    def update(self, model: str, data: Json, who: str) -> tuple[Any, list[Any]]: ...
    def delete(self, model: str, ident: Json, who: str) -> tuple[Any, list[Any]]: ...
    def list(self, model: str, filter: Json | None, who: str) -> tuple[Any, list[Any]]: ...
    def index(self, model: str, query: str, keys: Json, who: str) -> tuple[Any, list[Any]]: ...
    def lazy(self, model: str, ident: Json, relation: str, who: str) -> tuple[Any, list[Any]]: ...


def add_users(box: Any) -> dict[str, Json]:
    """alice, bob and admin in the sandbox's user pool; their Cognito tokens by name."""
    tokens = {}
    for name in ("alice", "bob", "admin"):
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
        cmd = [sys.executable, "-m", "cove", "users", "--data-dir", str(box.data_dir), "add", email,
               "--password", PASSWORD]
        for group in GROUPS[name]:
            if group in _pool_groups(box):
                cmd += ["--group", group]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        tokens[name] = sign_in(box, email)
    return tokens


def _pool_groups(box: Any) -> set[str]:
    return {name for entry in box.outputs["auth"].get("groups") or () for name in entry}


# ------------------------------------------------------------------------------ reading the plan

@dataclass
class ModelPlan:
    name: str
    raw: Json
    identifier: tuple[str, ...]
    rules: list[Json]
    creator: str | None = None
    group_value: Any = None          # set on the record's groupsField
    outsiders: list[str] = field(default_factory=list)

    @property
    def fields(self) -> dict[str, Json]:
        return self.raw["fields"]


def _rules(raw: Json, default_type: str) -> list[Json]:
    for attr in raw.get("attributes") or ():
        if attr.get("type") == "auth":
            return list(attr["properties"].get("rules") or ())
    # No auth attribute: the API's default mode (AppSync).
    return [{"allow": "public", "provider": "apiKey"}] if default_type == "API_KEY" else \
        [{"allow": "private", "provider": "userPools"}]


def _grants(rule: Json, op: str) -> bool:
    ops = rule.get("operations") or ["create", "update", "delete", "read"]
    return op in ops or (op in ("get", "list") and "read" in ops)


def allowed(plan: ModelPlan, who: str, op: str) -> bool:
    """Whether `who` may do `op` on a record `plan.creator` made (the rule semantics, from the MIS)."""
    for rule in plan.rules:
        if not _grants(rule, op):
            continue
        allow, provider = rule.get("allow"), rule.get("provider")
        if who == "api_key":
            if allow == "public" and provider in (None, "apiKey"):
                return True
            continue
        if provider not in (None, "userPools"):
            continue
        if allow == "private":
            return True
        if allow == "owner" and who == plan.creator:
            return True
        if allow == "groups" and rule.get("groups") and set(rule["groups"]) & set(GROUPS[who]):
            return True
        if allow == "groups" and rule.get("groupsField") and RECORD_GROUP in GROUPS[who]:
            return True
    return False


def plan_models(outputs: Json) -> dict[str, ModelPlan]:
    mis = outputs["data"]["model_introspection"]
    default_type = outputs["data"]["default_authorization_type"]
    plans = {}
    for name, raw in mis["models"].items():
        pk = raw["primaryKeyInfo"]
        plan = ModelPlan(name, raw, (pk["primaryKeyFieldName"], *pk["sortKeyFieldNames"]), _rules(raw, default_type))
        for rule in plan.rules:
            if rule.get("allow") == "groups" and rule.get("groupsField"):
                f = raw["fields"].get(rule["groupsField"])
                plan.group_value = [RECORD_GROUP] if f is not None and f.get("isArray") else RECORD_GROUP
        for who in ("api_key", "alice", "admin"):
            plan.creator = who
            if allowed(plan, who, "create") and allowed(plan, who, "get"):
                break
        else:
            plan.creator = None
        if plan.creator is not None:
            plan.outsiders = [w for w in ACTORS if w != plan.creator and not allowed(plan, w, "get")]
        plans[name] = plan
    return plans


# ------------------------------------------------------------------------------ values

def _scalar(type_name: str, salt: str) -> Any:
    return {
        "ID": f"id-{salt}", "String": f"s-{salt}", "Int": 7, "Float": 2.5, "Boolean": True,
        "AWSDate": "2024-05-01", "AWSTime": "12:30:00.000Z", "AWSDateTime": "2024-05-01T12:30:00.000Z",
        "AWSTimestamp": 1714566600, "AWSEmail": "a@example.com", "AWSJSON": json.dumps({"k": salt}),
        "AWSPhone": "+15555550100", "AWSURL": "https://example.com/x", "AWSIPAddress": "127.0.0.1",
    }[type_name]


def value_for(mis: Json, f: Json, salt: str, depth: int = 0) -> Any:
    t = f["type"]
    if isinstance(t, str):
        one: Any = _scalar(t, salt)
    elif "enum" in t:
        one = mis["enums"][t["enum"]]["values"][0]
    elif "nonModel" in t and depth < 3:
        fields = mis["nonModels"][t["nonModel"]]["fields"]
        one = {n: value_for(mis, sub, salt, depth + 1) for n, sub in fields.items()
               if not isinstance(sub["type"], dict) or "model" not in sub["type"]}
    else:
        return None
    return [one] if f.get("isArray") else one


def stored_fields(plan: ModelPlan) -> dict[str, Json]:
    """Fields a create may give: no relationships, no server-set timestamps, no owner fields."""
    owner_fields = {r.get("ownerField") or "owner" for r in plan.rules if r.get("allow") == "owner"}
    return {n: f for n, f in plan.fields.items()
            if not (isinstance(f["type"], dict) and "model" in f["type"])
            and not f.get("isReadOnly") and n not in ("createdAt", "updatedAt") and n not in owner_fields}


def create_input(mis: Json, plan: ModelPlan, salt: str) -> Json:
    out = {}
    for n, f in stored_fields(plan).items():
        if n == "id" and plan.identifier == ("id",):
            continue  # the server generates it
        value = value_for(mis, f, f"{salt}-{n}")
        if value is not None:
            out[n] = value
    for rule in plan.rules:
        if rule.get("allow") == "groups" and rule.get("groupsField"):
            out[rule["groupsField"]] = plan.group_value
    return out


def ident_of(plan: ModelPlan, record: Json) -> Json:
    return {k: record[k] for k in plan.identifier}


def _string_field(plan: ModelPlan) -> str | None:
    for n, f in stored_fields(plan).items():
        if f["type"] == "String" and not f.get("isArray") and n not in plan.identifier:
            groups = {r.get("groupsField") for r in plan.rules}
            if n not in groups:
                return n
    return None


# ------------------------------------------------------------------------------ the suite

class Report:
    """Collects every mismatch, so one run shows them all (and says what was covered)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked: list[str] = []

    def check(self, ok: bool, what: str, detail: Any = None) -> bool:
        self.checked.append(what)
        if not ok:
            self.problems.append(f"{what}: {detail!r}"[:600])
        return ok


def _ok(report: Report, what: str, result: tuple[Any, list[Any]]) -> Any:
    data, errors = result
    report.check(not errors, what, errors)
    return data


def _refused(result: tuple[Any, list[Any]]) -> bool:
    data, errors = result
    return bool(errors) and not data


def run_suite(backend: Backend, outputs: Json) -> Report:
    report = Report()
    mis = outputs["data"]["model_introspection"]
    plans = plan_models(outputs)
    records: dict[str, Json] = {}
    salt = uuid.uuid4().hex[:8]
    for name, plan in plans.items():
        if plan.creator is None:
            # Only a mode these tests do not drive (IAM) may write it: everyone here is refused.
            for who in ("api_key", "alice"):
                report.check(_refused(backend.create(name, create_input(mis, plan, salt), who)),
                             f"{name}: create refused for {who}")
            continue
        given = create_input(mis, plan, salt)
        created = _ok(report, f"{name}: create as {plan.creator}", backend.create(name, given, plan.creator))
        if not created:
            continue
        for n, v in given.items():
            if mis["models"][name]["fields"].get(n, {}).get("type") != "AWSJSON":
                report.check(created.get(n) == v, f"{name}.{n} read back as given", (created.get(n), v))
        for ts in ("createdAt", "updatedAt"):
            report.check(isinstance(created.get(ts), str), f"{name}.{ts} filled by the server", created.get(ts))
        for rule in plan.rules:
            if rule.get("allow") == "owner" and plan.creator != "api_key":
                owner = created.get(rule.get("ownerField") or "owner")
                report.check(isinstance(owner, str) and "::" in owner, f"{name}: owner read back as sub::username",
                             owner)
        records[name] = created
        ident = ident_of(plan, created)
        got = _ok(report, f"{name}: get", backend.get(name, ident, plan.creator))
        report.check(bool(got) and ident_of(plan, got) == ident, f"{name}: get finds it", got)
        text = _string_field(plan)
        if text is not None:
            updated = _ok(report, f"{name}: update", backend.update(name, {**ident, text: "changed-" + salt},
                                                                   plan.creator))
            if updated:
                report.check(updated.get(text) == "changed-" + salt, f"{name}: update applied", updated)
                report.check(updated["updatedAt"] >= created["updatedAt"], f"{name}: updatedAt moves on", updated)
                records[name] = {**created, **updated}
        listed = _ok(report, f"{name}: list", backend.list(name, None, plan.creator)) or []
        report.check(ident in [ident_of(plan, r) for r in listed], f"{name}: list has it", len(listed))
        pk = plan.identifier[0]
        filtered = _ok(report, f"{name}: filtered list",
                       backend.list(name, {pk: {"eq": created[pk]}}, plan.creator)) or []
        report.check([ident_of(plan, r) for r in filtered] == [ident], f"{name}: filtered list is exact", filtered)
        for attr in plan.raw.get("attributes") or ():
            props = attr.get("properties") or {}
            if attr.get("type") != "key" or not props.get("queryField"):
                continue
            keys = {props["fields"][0]: records[name].get(props["fields"][0])}
            if len(props["fields"]) == 2:
                keys[props["fields"][1]] = {"eq": records[name].get(props["fields"][1])}
            found = _ok(report, f"{name}: index {props['queryField']}",
                        backend.index(name, props["queryField"], keys, plan.creator)) or []
            report.check(ident in [ident_of(plan, r) for r in found], f"{name}: index {props['queryField']} finds it",
                         found)
        for who in plan.outsiders:
            report.check(_refused(backend.get(name, ident, who)), f"{name}: {who} may not read it")
    _relationships(backend, mis, plans, records, report)
    for name, record in records.items():
        plan = plans[name]
        assert plan.creator is not None
        ident = ident_of(plan, record)
        _ok(report, f"{name}: delete", backend.delete(name, ident, plan.creator))
        gone, _ = backend.get(name, ident, plan.creator)
        report.check(gone is None, f"{name}: gone after delete", gone)
    return report


def _relationships(backend: Backend, mis: Json, plans: dict[str, ModelPlan], records: dict[str, Json],
                   report: Report) -> None:
    """Link every related pair of records, then load each relationship lazily and in a selection set."""
    for name, plan in plans.items():
        for fname, f in plan.fields.items():
            assoc = f.get("association")
            if assoc is None or name not in records:
                continue
            related_name = f["type"]["model"]
            related = plans[related_name]
            if related_name not in records:
                continue
            kind = assoc["connectionType"]
            parent, child = records[name], records[related_name]
            targets = assoc.get("targetNames") or []
            if kind == "BELONGS_TO" or (kind == "HAS_ONE" and targets):
                holder, holder_plan, keys, key_source = name, plan, targets, ident_of(related, child)
            else:
                holder, holder_plan, keys, key_source = related_name, related, assoc["associatedWith"], \
                    ident_of(plan, parent)
            link = dict(zip(keys, key_source.values(), strict=False))
            _ok(report, f"{name}.{fname}: link {holder} {link}",
                backend.update(holder, {**ident_of(holder_plan, records[holder]), **link}, holder_plan.creator))
            records[holder] = {**records[holder], **link}
            reader = next((w for w in ("api_key", "alice", "admin") if w in (plan.creator, related.creator)
                           and allowed(plan, w, "get") and allowed(related, w, "list")
                           and _readable(related, w)), None)
            if reader is None:
                continue  # no single caller may read both sides (e.g. API-key parent, owner-only children)
            want = ident_of(related, records[related_name])
            loaded = _ok(report, f"{name}.{fname}: lazy load as {reader}",
                         backend.lazy(name, ident_of(plan, parent), fname, reader))
            items = loaded if isinstance(loaded, list) else [loaded] if loaded else []
            if kind == "HAS_ONE" and targets and not getattr(backend, "lazy_loads_older_has_one", True):
                # aws-amplify 6.22.1's loader lists the related model by `associatedWith` (its id) equal
                # to this record's id, ignoring targetNames: AppSync answers that query with nothing too.
                report.check(loaded is None, f"{name}.{fname}: lazy load answers the client's own query", loaded)
            else:
                report.check(want in [ident_of(related, r) for r in items], f"{name}.{fname}: lazy load finds it",
                             loaded)
            nested = _ok(report, f"{name}.{fname}: selection set as {reader}",
                         backend.get(name, ident_of(plan, parent), reader, [*plan.identifier, f"{fname}.*"]))
            value = (nested or {}).get(fname)
            items = value if isinstance(value, list) else [value] if value else []
            report.check(want in [ident_of(related, r) for r in items], f"{name}.{fname}: selection set finds it",
                         nested)


def _readable(plan: ModelPlan, who: str) -> bool:
    return plan.creator == who or who not in plan.outsiders and allowed(plan, who, "get")
