"""Property: no response or event, at any depth, holds a value the reader's own plain `get` would not return.

A few schemas are generated (fixed seeds): a Parent with many Children, each model with owner, group,
dynamic-group ("team"), signed-in and API-key rules drawn at random, and fields with owner, group or
signed-in field-level rules. Each schema runs in its own sandbox, seeded by a writer with records owned
by different users. Hypothesis then draws identities (API key, users in and out of groups) and operations
(get, list with nested and/or/not filters, index queries with sort-key conditions, nested selections
through both relations, subscriptions with filters followed by a mutation) and checks every object in
every answer against what the same identity's `get` of that record returns.

Runs derandomized (a fixed seed), so CI sees the same examples every time.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from authkit import User
from conftest import Sandbox, start_sandbox
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from realtime_support import Raw, api_key_auth

from cove.wire.filters import matches

SCHEMA_SEEDS = (11, 23, 47)
VALUES = ["alpha", "beta", "gamma", "delta"]
FIELDS = {"Parent": ["a", "b"], "Child": ["c", "d"]}
SCALARS = {"Parent": ["id", "a", "b", "team", "owner", "createdAt"],
           "Child": ["id", "c", "d", "team", "owner", "parentId", "createdAt"]}
FIELD_RULES = {
    "owner": "allow.owner()",
    "admins": 'allow.group("Admins")',
    "signed_in": 'allow.authenticated().to(["read"])',
}
MODEL_RULES = [
    'allow.authenticated().to(["read"])',
    'allow.group("Admins").to(["read"])',
    'allow.group_defined_in("team").to(["read"])',
    'allow.public_api_key().to(["read"])',
]


def schema_source(seed: int) -> str:
    """A schema whose rules are drawn from `seed`; Writers may do anything, so they seed the data."""
    rng = random.Random(seed)
    models = []
    for model, fields in FIELDS.items():
        rules = ['allow.owner()', 'allow.group("Writers")'] + [r for r in MODEL_RULES if rng.random() < 0.5]
        lines = []
        for name in fields:
            kind = rng.choice([None, *FIELD_RULES])
            rule = "" if kind is None else \
                f'.authorization(lambda allow: [{FIELD_RULES[kind]}, allow.group("Writers")])'
            lines.append(f'        "{name}": a.string(){rule},')
        lines.append('        "team": a.string(),')
        if model == "Parent":
            lines.append('        "children": a.has_many("Child", "parentId"),')
            extra = ""
        else:
            lines += ['        "parentId": a.id(),', '        "parent": a.belongs_to("Parent", "parentId"),']
            extra = ('\n      .secondary_indexes(lambda index: [index("c").sort_keys(["d"])'
                     '.query_field("childrenByC")])')
        models.append(f'    "{model}": a.model({{\n' + "\n".join(lines) +
                      f'\n    }}).authorization(lambda allow: [{", ".join(rules)}]){extra},')
    return ("from cove import a, define_auth, define_data\n\nschema = a.schema({\n" + "\n".join(models) +
            "\n})\nauth = define_auth(login_with={'email': True}, groups=['Admins', 'Writers', 'Blue', 'Red'])\n"
            "data = define_data(schema=schema, authorization_modes={'default_authorization_mode': 'user_pool', "
            "'api_key_authorization_mode': {'expires_in_days': 30}})\n")


class ApiKeyCaller:
    def __init__(self, box: Sandbox) -> None:
        self.box = box

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.box.gql(query, variables)

    def auth(self) -> dict[str, str]:
        return api_key_auth(self.box)


class World:
    def __init__(self, box: Sandbox, seed: int) -> None:
        self.box = box
        self.users = {"alice": User(box, "alice"), "bob": User(box, "bob", ("Admins",)),
                      "carol": User(box, "carol", ("Blue",))}
        self.writer = User(box, "writer", ("Writers",))
        self.callers: list[Any] = [ApiKeyCaller(box), *self.users.values()]
        # Views fetched during one example (records do not change within one).
        self.views: dict[tuple[int, str, str], tuple[dict[str, Any] | None, set[str]]] = {}
        rng = random.Random(seed)
        owners = [u.username for u in self.users.values()]
        self.ids: dict[str, list[str]] = {"Parent": [], "Child": []}
        for _ in range(5):
            self.ids["Parent"].append(self._create("Parent", rng, owners, {}))
        for _ in range(10):
            self.ids["Child"].append(self._create("Child", rng, owners, {"parentId": rng.choice(self.ids["Parent"])}))

    def _create(self, model: str, rng: random.Random, owners: list[str], extra: dict[str, Any]) -> str:
        values = {name: rng.choice(VALUES) for name in FIELDS[model]}
        values.update(extra, owner=rng.choice(owners), team=rng.choice(["Blue", "Red", None]))
        return str(self.writer.create(model, "id", **values)["id"])

    def view(self, caller: Any, model: str, record_id: str) -> dict[str, Any] | None:
        """What `caller`'s own plain get returns of this record (None: nothing)."""
        return self.visible(caller, model, record_id)[0]

    def visible(self, caller: Any, model: str, record_id: str) -> tuple[dict[str, Any] | None, set[str]]:
        """(`caller`'s own get of this record, the fields it was refused)."""
        key = (id(caller), model, record_id)
        if key in self.views:
            return self.views[key]
        body = caller.gql(f"query ($id: ID!) {{ get{model}(id: $id) {{ {' '.join(SCALARS[model])} }} }}",
                          {"id": record_id})
        hidden = {e["path"][1] for e in body.get("errors") or () if len(e.get("path") or ()) == 2}
        seen = self.views[key] = (body.get("data") or {}).get(f"get{model}"), hidden
        return seen

    def expected_ids(self, caller: Any, model: str, flt: dict[str, Any] | None) -> set[str]:
        """The records a list with `flt` may return to `caller`: those it can get whose view matches, a
        test of a field it may not read on that record counting as false (it must tell nothing)."""
        out = set()
        for record_id in self.ids[model]:
            seen, hidden = self.visible(caller, model, record_id)
            if seen is not None and (flt is None or matches(blind(flt, hidden), seen)):
                out.add(record_id)
        return out

    def check(self, caller: Any, answer: Any, where: str) -> None:
        """Every object of `answer` (a response body or an event payload) against `caller`'s views."""
        for model, obj in objects(answer):
            record_id = obj.get("id")
            assert record_id is not None, f"{where}: every selection includes id: {obj}"
            seen = self.view(caller, model, record_id)
            for name, value in obj.items():
                if name in SCALARS[model] and value is not None:
                    assert seen is not None and seen.get(name) == value, (
                        f"{where}: {getattr(caller, 'email', 'the API key')} received "
                        f"{model}.{name}={value!r} of {record_id}, but its own get returns {seen}")


NEVER = {"id": {"eq": ""}}


def blind(flt: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    """`flt` with every test of a hidden field replaced by one that is always false."""
    ((key, value),) = flt.items()
    if key in ("and", "or"):
        return {key: [blind(part, hidden) for part in value]}
    if key == "not":
        return {key: blind(value, hidden)}
    return NEVER if key in hidden else flt


def objects(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        typename = value.get("__typename")
        if typename in SCALARS:
            yield typename, value
        for v in value.values():
            yield from objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from objects(v)


# ------------------------------------------------------------------------------------------------
# Strategies


def filters(model: str, negation: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Filters (subscription filters have no `not`), nested up to four leaves."""
    names = [*FIELDS[model], *FIELDS[model], "team", "owner"]  # mostly the fields with field rules
    leaf = st.one_of(
        st.builds(lambda f, op, v: {f: {op: v}}, st.sampled_from(names),
                  st.sampled_from(["eq", "ne", "beginsWith", "contains", "gt"]), st.sampled_from([*VALUES, "a", "g"])),
        st.builds(lambda f, b: {f: {"attributeExists": b}}, st.sampled_from(names), st.booleans()))
    def combine(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        both = [st.builds(lambda xs: {"and": xs}, st.lists(inner, min_size=1, max_size=3)),
                st.builds(lambda xs: {"or": xs}, st.lists(inner, min_size=1, max_size=3))]
        return st.one_of(*both, *([st.builds(lambda x: {"not": x}, inner)] if negation else []))

    return st.recursive(leaf, combine, max_leaves=4)


def with_child_filter(document: str, variables: dict[str, Any], child_filter: Any) -> tuple[str, dict[str, Any]]:
    """Declare $cf (the nested children's filter) only when the selection uses it."""
    if "children(filter: $cf)" in document.split("{", 1)[1]:
        return document, {**variables, "cf": child_filter}
    return document.replace(", $cf: ModelChildFilterInput", ""), variables


@st.composite
def selections(draw: Any, model: str, depth: int) -> str:
    """A selection of `model` that always includes __typename and id (so answers can be checked)."""
    fields = draw(st.lists(st.sampled_from(SCALARS[model][1:]), unique=True, max_size=4))
    parts = ["__typename", "id", *fields]
    if depth > 0 and draw(st.booleans()):
        if model == "Parent":
            parts.append("children(filter: $cf) { items { " + draw(selections("Child", depth - 1)) + " } }")
        else:
            parts.append("parent { " + draw(selections("Parent", depth - 1)) + " }")
    return " ".join(parts)


@st.composite
def queries(draw: Any, world: World) -> tuple[str, dict[str, Any], tuple[str, str, dict[str, Any] | None] | None]:
    """(document, variables, what a list returns: (root field, model, the filter incl. key conditions))."""
    model = draw(st.sampled_from(["Parent", "Child"]))
    selection = draw(selections(model, 2))
    child_filter = draw(st.one_of(st.none(), filters("Child")))
    variables: dict[str, Any] = {}
    head = "query ($cf: ModelChildFilterInput"
    kind = draw(st.sampled_from(["get", "list", "index", "index"] if model == "Child" else ["get", "list", "list"]))
    if kind == "get":
        variables["id"] = draw(st.sampled_from(world.ids[model]))
        return (*with_child_filter(f"{head}, $id: ID!) {{ get{model}(id: $id) {{ {selection} }} }}", variables,
                                   child_filter), None)
    if kind == "list":
        variables["f"] = draw(filters(model))
        return (*with_child_filter(f"{head}, $f: Model{model}FilterInput) {{ list{model}s(filter: $f) "
                                   f"{{ items {{ {selection} }} }} }}", variables, child_filter),
                (f"list{model}s", model, variables["f"]))
    variables["c"] = draw(st.sampled_from(VALUES))
    variables["d"] = draw(st.one_of(st.none(), st.builds(lambda op, v: {op: v}, st.sampled_from(["eq", "beginsWith"]),
                                                           st.sampled_from([*VALUES, "a", "g"]))))
    variables["f"] = draw(st.one_of(st.none(), filters("Child")))
    keys = [{"c": {"eq": variables["c"]}}, *([{"d": variables["d"]}] if variables["d"] else [])]
    return (*with_child_filter(f"{head}, $c: String!, $d: ModelStringKeyConditionInput, $f: ModelChildFilterInput) "
                               f"{{ childrenByC(c: $c, d: $d, filter: $f) {{ items {{ {selection} }} }} }}",
                               variables, child_filter),
            ("childrenByC", "Child", {"and": [*keys, *([variables["f"]] if variables["f"] else [])]}))


# ------------------------------------------------------------------------------------------------
# The properties


@pytest.fixture(scope="module", params=SCHEMA_SEEDS, ids=lambda seed: f"schema{seed}")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"property{request.param}")
    schema = folder / "generated_schema.py"
    schema.write_text(schema_source(request.param))
    box = start_sandbox(folder, schema, "--no-watch")
    try:
        yield World(box, request.param)
    finally:
        box.stop()


RUN = settings(derandomize=True, deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(RUN, max_examples=80)
@given(data=st.data())
def test_no_query_answer_holds_a_value_the_reader_could_not_get(world: World, data: Any) -> None:
    world.views.clear()
    caller = data.draw(st.sampled_from(world.callers))
    query, variables, listed = data.draw(queries(world))
    body = caller.gql(query, variables)
    where = f"{query} {json.dumps(variables)}"
    world.check(caller, body, where)
    if listed is not None and (body.get("data") or {}).get(listed[0]) is not None:
        # No filter or key condition is an oracle: what is listed depends only on what the caller can read.
        root, model, flt = listed
        got = {item["id"] for item in body["data"][root]["items"] if item is not None}
        assert got == world.expected_ids(caller, model, flt), where


# The writer (in Writers) reads everything and selects everything, so what each subscriber receives is
# limited only by its own selection and rights.
EVERYTHING = (f"__typename {' '.join(SCALARS['Child'])} parent {{ __typename {' '.join(SCALARS['Parent'])} "
              f"children(filter: $cf) {{ items {{ __typename {' '.join(SCALARS['Child'])} }} }} }}")
MUTATION = "mutation ($i: UpdateChildInput!, $cf: ModelChildFilterInput) {{ updateChild(input: $i) {{ {0} }} }}"
SUBSCRIPTION = ("subscription ($f: ModelSubscriptionChildFilterInput, $cf: ModelChildFilterInput) "
                "{{ onUpdateChild(filter: $f) {{ {0} }} }}")


@settings(RUN, max_examples=12)
@given(data=st.data())
def test_no_event_holds_a_value_the_subscriber_could_not_get(world: World, data: Any) -> None:
    subscribers = data.draw(st.lists(st.tuples(st.sampled_from(world.callers), selections("Child", 2),
                                               st.one_of(st.none(), filters("Child", negation=False))),
                                     min_size=2, max_size=4))
    sockets = []
    try:
        for n, (caller, selection, flt) in enumerate(subscribers):
            conn = Raw(world.box, caller.auth())
            conn.init()
            document, variables = with_child_filter(SUBSCRIPTION.format(selection), {"f": flt}, None)
            conn.start(str(n), document, variables, auth=False)
            answer = conn.recv()
            if answer.get("type") == "start_ack":
                sockets.append((caller, conn, selection))
            else:  # refused (a filter on a hidden field, no read access): nothing to receive
                assert answer.get("type") == "error", answer
                conn.close()
        target = data.draw(st.sampled_from(world.ids["Child"]))
        changes = {name: data.draw(st.sampled_from(VALUES)) for name in FIELDS["Child"]}
        written = world.writer.gql(MUTATION.format(EVERYTHING), {"i": {"id": target, **changes}, "cf": None})
        assert "errors" not in written, written
        deadline = time.monotonic() + 0.6  # for all sockets together: most examples expect some silence
        for caller, conn, selection in sockets:
            try:
                frame = conn.recv(max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                continue
            assert frame.get("type") == "data", frame
            world.views.clear()
            world.check(caller, frame["payload"], f"event of onUpdateChild {{ {selection} }}")
    finally:
        for _, conn, _ in sockets:
            conn.close()
