"""Internal schema -> GraphQL SDL in AppSync's dialect (names and inputs of reference section 5)."""

from __future__ import annotations

from . import sdl_extensions
from .model import AWS_SCALARS, AuthRule, CustomOperation, Field, Model, Schema
from .naming import (
    composite_key_input,
    condition_input,
    connection_type,
    filter_input,
    get_field,
    list_field,
    mutation_field,
    scalar_filter_input,
    sort_key_argument,
    subscription_field,
    subscription_filter_input,
    subscription_scalar_input,
)

_PRELUDE = """\
directive @aws_api_key on FIELD_DEFINITION | OBJECT
directive @aws_iam on FIELD_DEFINITION | OBJECT
directive @aws_oidc on FIELD_DEFINITION | OBJECT
directive @aws_lambda on FIELD_DEFINITION | OBJECT
directive @aws_cognito_user_pools(cognito_groups: [String]) on FIELD_DEFINITION | OBJECT
directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION
"""

_STRING_OPS = ("ne", "eq", "le", "lt", "ge", "gt", "contains", "notContains")

_SHARED_INPUTS = """\
enum ModelSortDirection {
  ASC
  DESC
}

enum ModelAttributeTypes {
  binary
  binarySet
  bool
  list
  map
  number
  numberSet
  string
  stringSet
  _null
}

input ModelSizeInput {
  ne: Int
  eq: Int
  le: Int
  lt: Int
  ge: Int
  gt: Int
  between: [Int]
}
"""


def _string_like_input(name: str, scalar: str) -> str:
    ops = "\n".join(f"  {op}: {scalar}" for op in _STRING_OPS)
    return (f"input {name} {{\n{ops}\n  between: [{scalar}]\n  beginsWith: {scalar}\n"
            f"  attributeExists: Boolean\n  attributeType: ModelAttributeTypes\n  size: ModelSizeInput\n}}\n")


def _number_input(name: str, scalar: str) -> str:
    ops = "\n".join(f"  {op}: {scalar}" for op in ("ne", "eq", "le", "lt", "ge", "gt"))
    return (f"input {name} {{\n{ops}\n  between: [{scalar}]\n  attributeExists: Boolean\n"
            f"  attributeType: ModelAttributeTypes\n}}\n")


def _subscription_input(name: str, scalar: str, *, string_like: bool, boolean: bool = False) -> str:
    if boolean:
        return f"input {name} {{\n  ne: {scalar}\n  eq: {scalar}\n}}\n"
    ops = ["ne", "eq", "le", "lt", "ge", "gt"] + (["contains", "notContains"] if string_like else [])
    lines = [f"  {op}: {scalar}" for op in ops] + [f"  between: [{scalar}]"]
    if string_like:
        lines.append(f"  beginsWith: {scalar}")
    lines += [f"  in: [{scalar}]", f"  notIn: [{scalar}]"]
    return f"input {name} {{\n" + "\n".join(lines) + "\n}\n"


def _key_condition(name: str, scalar: str, *, begins_with: bool) -> str:
    lines = [f"  {op}: {scalar}" for op in ("eq", "le", "lt", "ge", "gt")] + [f"  between: [{scalar}]"]
    if begins_with:
        lines.append(f"  beginsWith: {scalar}")
    return f"input {name} {{\n" + "\n".join(lines) + "\n}\n"


def scalar_inputs() -> str:
    parts = [
        _string_like_input("ModelStringInput", "String"),
        _string_like_input("ModelIDInput", "ID"),
        _number_input("ModelIntInput", "Int"),
        _number_input("ModelFloatInput", "Float"),
        "input ModelBooleanInput {\n  ne: Boolean\n  eq: Boolean\n  attributeExists: Boolean\n"
        "  attributeType: ModelAttributeTypes\n}\n",
        _subscription_input("ModelSubscriptionStringInput", "String", string_like=True),
        _subscription_input("ModelSubscriptionIDInput", "ID", string_like=True),
        _subscription_input("ModelSubscriptionIntInput", "Int", string_like=False),
        _subscription_input("ModelSubscriptionFloatInput", "Float", string_like=False),
        _subscription_input("ModelSubscriptionBooleanInput", "Boolean", string_like=False, boolean=True),
        _key_condition("ModelStringKeyConditionInput", "String", begins_with=True),
        _key_condition("ModelIDKeyConditionInput", "ID", begins_with=True),
        _key_condition("ModelIntKeyConditionInput", "Int", begins_with=False),
        _key_condition("ModelFloatKeyConditionInput", "Float", begins_with=False),
    ]
    return "\n".join(parts)


_DIRECTIVE_FOR_PROVIDER = {
    "apiKey": "@aws_api_key",
    "identityPool": "@aws_iam",
    "iam": "@aws_iam",
    "userPools": "@aws_cognito_user_pools",
    "oidc": "@aws_oidc",
    "function": "@aws_lambda",
}


def auth_directives(rules: list[AuthRule]) -> str:
    """AppSync's per-type mode directives. `@aws_iam` is always present: Gen 2 enables generic IAM
    access for trusted back-end code."""
    found: list[str] = []
    for rule in rules:
        d = _DIRECTIVE_FOR_PROVIDER[rule.provider]
        if d not in found:
            found.append(d)
    if "@aws_iam" not in found:
        found.append("@aws_iam")
    return " ".join(found)


def _input_type(field: Field, *, force_optional: bool = False) -> str:
    t = field.type
    name = t.name + "Input" if t.kind == "custom" else t.name
    required = field.required and not force_optional
    inner = name + ("!" if field.required and field.is_array else "") if field.is_array else name
    if field.is_array:
        outer = f"[{inner}]"
        return outer + ("!" if field.array_required and not force_optional else "")
    return inner + ("!" if required else "")


def _output_field(schema: Schema, model: Model | None, field: Field) -> str:
    rel = field.relation
    if rel is not None and rel.kind == "has_many":
        related = schema.models[rel.related_model]
        return (f"  {field.name}(filter: {filter_input(related)}, sortDirection: ModelSortDirection, "
                f"limit: Int, nextToken: String): {connection_type(related.name)}")
    if rel is not None:
        return f"  {field.name}: {field.type.name}" + ("!" if field.required else "")
    return f"  {field.name}: {field.graphql_type}"


def _model_sdl(schema: Schema, model: Model) -> list[str]:
    out: list[str] = []
    directives = auth_directives(model.rules)
    body = "\n".join(_output_field(schema, model, f) for f in model.fields.values())
    out.append(f"type {model.name} {directives} {{\n{body}\n}}\n")
    out.append(f"type {connection_type(model.name)} {directives} {{\n  items: [{model.name}]!\n"
               f"  nextToken: String\n}}\n")

    stored = model.stored_fields()
    # Create: identifier optional only for the implicit id; defaults and timestamps make fields optional.
    create_lines = []
    for f in stored:
        if f.read_only:
            continue
        # AppSync fills createdAt/updatedAt when a write leaves them out, declared or not.
        optional = f.has_default or (f.name == "id" and not model.is_custom_primary_key) \
            or f.name in model.timestamp_fields
        create_lines.append(f"  {f.name}: {_input_type(f, force_optional=optional)}")
    out.append(f"input Create{model.name}Input {{\n" + "\n".join(create_lines) + "\n}\n")
    update_lines = []
    for f in stored:
        if f.read_only:
            continue
        if f.name in model.identifier:
            update_lines.append(f"  {f.name}: {f.type.name}!")
        else:
            update_lines.append(f"  {f.name}: {_input_type(f, force_optional=True)}")
    out.append(f"input Update{model.name}Input {{\n" + "\n".join(update_lines) + "\n}\n")
    delete_lines = [f"  {k}: {model.fields[k].type.name}!" for k in model.identifier]
    out.append(f"input Delete{model.name}Input {{\n" + "\n".join(delete_lines) + "\n}\n")

    filter_lines, condition_lines, sub_lines = [], [], []
    owner_fields = {r.owner_field for r in model.rules if r.strategy == "owner" and r.owner_field}
    group_fields = {r.groups_field for r in model.rules if r.strategy == "groups" and r.groups_field}
    for f in stored:
        ftype = scalar_filter_input(schema, f)
        if ftype is not None:
            filter_lines.append(f"  {f.name}: {ftype}")
            if f.name not in model.identifier:
                condition_lines.append(f"  {f.name}: {ftype}")
        stype = subscription_scalar_input(f)
        # The server injects its own filter on dynamic owner/group fields.
        if stype is not None and f.name not in owner_fields and f.name not in group_fields:
            sub_lines.append(f"  {f.name}: {stype}")
    fname, cname, sname = filter_input(model), condition_input(model), subscription_filter_input(model)
    filter_lines += [f"  and: [{fname}]", f"  or: [{fname}]", f"  not: {fname}"]
    condition_lines += [f"  and: [{cname}]", f"  or: [{cname}]", f"  not: {cname}"]
    sub_lines += [f"  and: [{sname}]", f"  or: [{sname}]"]
    out.append(f"input {fname} {{\n" + "\n".join(filter_lines) + "\n}\n")
    out.append(f"input {cname} {{\n" + "\n".join(condition_lines) + "\n}\n")
    out.append(f"input {sname} {{\n" + "\n".join(sub_lines) + "\n}\n")

    # Composite sort-key condition inputs, for the primary key and each index.
    for sort_keys, index in [(model.sort_keys, None)] + [(ix.sort_keys, ix) for ix in model.indexes]:
        if len(sort_keys) > 1:
            key_input = composite_key_input(model, index)
            _, cond = sort_key_argument(model, sort_keys, index)
            fields = "\n".join(f"  {k}: {model.fields[k].type.name}" for k in sort_keys)
            out.append(f"input {key_input} {{\n{fields}\n}}\n")
            ops = "\n".join(f"  {op}: {key_input}" for op in ("eq", "le", "lt", "ge", "gt"))
            out.append(f"input {cond} {{\n{ops}\n  between: [{key_input}]\n  beginsWith: {key_input}\n}}\n")
    return out


def _enum_filter_inputs(schema: Schema) -> list[str]:
    out = []
    for enum in schema.enums.values():
        out.append(f"input Model{enum.name}Input {{\n  eq: {enum.name}\n  ne: {enum.name}\n}}\n")
        out.append(f"input Model{enum.name}ListInput {{\n  eq: [{enum.name}]\n  ne: [{enum.name}]\n"
                   f"  contains: {enum.name}\n  notContains: {enum.name}\n}}\n")
    return out


def query_fields(schema: Schema, model: Model) -> list[str]:
    d = auth_directives(model.rules)
    lines = []
    if model.operation_enabled("get"):
        keys = ", ".join(f"{k}: {model.fields[k].type.name}!" for k in model.identifier)
        lines.append(f"  {get_field(model)}({keys}): {model.name} {d}")
    if model.operation_enabled("list"):
        args = []
        if model.sort_keys:
            pk = model.fields[model.primary_key]
            args.append(f"{pk.name}: {pk.type.name}")
            sk_arg, sk_type = sort_key_argument(model, model.sort_keys, None)
            args.append(f"{sk_arg}: {sk_type}")
        args += [f"filter: {filter_input(model)}", "limit: Int", "nextToken: String"]
        if model.sort_keys:
            args.append("sortDirection: ModelSortDirection")
        args += sdl_extensions.sort_argument(model)
        lines.append(f"  {list_field(model)}({', '.join(args)}): {connection_type(model.name)} {d}")
    if model.operation_enabled("list"):
        for ix in model.indexes:
            if not ix.query_field:
                continue
            pk = model.fields[ix.partition_key]
            args = [f"{pk.name}: {pk.type.name}!"]
            if ix.sort_keys:
                sk_arg, sk_type = sort_key_argument(model, ix.sort_keys, ix)
                args.append(f"{sk_arg}: {sk_type}")
            args += ["sortDirection: ModelSortDirection", f"filter: {filter_input(model)}", "limit: Int",
                     "nextToken: String"]
            lines.append(f"  {ix.query_field}({', '.join(args)}): {connection_type(model.name)} {d}")
    return lines + sdl_extensions.query_fields(schema, model, d)


def _custom_op_line(schema: Schema, op: CustomOperation) -> str:
    args = ", ".join(f"{a.name}: {_input_type(a)}" for a in op.arguments.values())
    ret = op.returns.graphql_type if op.returns is not None else "AWSJSON"
    if op.returns is not None and op.returns.type.kind == "model" and op.returns.is_array:
        ret = f"[{op.returns.type.name}]"
    sig = f"({args})" if args else ""
    extra = ""
    if op.kind == "subscription" and op.subscribes_to:
        extra = " @aws_subscribe(mutations: [" + ", ".join(f'"{m}"' for m in op.subscribes_to) + "])"
    return f"  {op.name}{sig}: {ret} {auth_directives(op.rules)}{extra}"


def to_sdl(schema: Schema) -> str:
    """The full SDL Cove serves: AWS scalar and directive declarations, then AppSync's generated types."""
    parts: list[str] = [_PRELUDE, "".join(f"scalar {s}\n" for s in AWS_SCALARS), _SHARED_INPUTS, scalar_inputs()]
    for enum in schema.enums.values():
        parts.append(f"enum {enum.name} {{\n" + "\n".join(f"  {v}" for v in enum.values) + "\n}\n")
    parts += _enum_filter_inputs(schema)
    for ct in schema.custom_types.values():
        body = "\n".join(f"  {f.name}: {f.graphql_type}" for f in ct.fields.values())
        parts.append(f"type {ct.name} {{\n{body}\n}}\n")
        if ct.name + "Input" in schema.input_types:
            continue  # the introspection declares this input itself (Gen 2 lists it under `inputs`)
        ibody = "\n".join(f"  {f.name}: {_input_type(f)}" for f in ct.fields.values())
        parts.append(f"input {ct.name}Input {{\n{ibody}\n}}\n")
    for it in schema.input_types.values():
        ibody = "\n".join(f"  {f.name}: {_input_type(f)}" for f in it.fields.values())
        parts.append(f"input {it.name} {{\n{ibody}\n}}\n")
    queries: list[str] = []
    mutations: list[str] = []
    subscriptions: list[str] = []
    if schema.models:
        parts.append(sdl_extensions.SHARED)
    for model in schema.models.values():
        parts += _model_sdl(schema, model)
        parts += sdl_extensions.model_types(model)
        queries += query_fields(schema, model)
        d = auth_directives(model.rules)
        for op in ("create", "update", "delete"):
            if model.operation_enabled(op):
                mutations.append(f"  {mutation_field(op, model)}(input: {pascal_op(op)}{model.name}Input!, "
                                 f"condition: {condition_input(model)}): {model.name} {d}")
        owner_args = "".join(f", {r.owner_field}: String" for r in _distinct_owner_rules(model))
        for op in ("create", "update", "delete"):
            if model.operation_enabled("on" + pascal_op(op)):
                subscriptions.append(
                    f"  {subscription_field(op, model)}(filter: {subscription_filter_input(model)}{owner_args}): "
                    f"{model.name} @aws_subscribe(mutations: [\"{mutation_field(op, model)}\"]) {d}")
    queries += [_custom_op_line(schema, op) for op in schema.queries.values()]
    transact_types, transact_line = sdl_extensions.transact_sdl(schema)
    parts += transact_types
    if transact_line is not None:
        mutations.append(transact_line)
    mutations += [_custom_op_line(schema, op) for op in schema.mutations.values()]
    subscriptions += [_custom_op_line(schema, op) for op in schema.subscriptions.values()]
    if not queries:
        # GraphQL requires a Query type; AppSync APIs always have one.
        queries.append("  _empty: String")
    parts.append("type Query {\n" + "\n".join(queries) + "\n}\n")
    if mutations:
        parts.append("type Mutation {\n" + "\n".join(mutations) + "\n}\n")
    if subscriptions:
        parts.append("type Subscription {\n" + "\n".join(subscriptions) + "\n}\n")
    return "\n".join(parts)


def pascal_op(op: str) -> str:
    return op[:1].upper() + op[1:]


def _distinct_owner_rules(model: Model) -> list[AuthRule]:
    seen: set[str] = set()
    rules = []
    for r in model.rules:
        if r.strategy == "owner" and r.owner_field and r.owner_field not in seen:
            seen.add(r.owner_field)
            rules.append(r)
    return rules
