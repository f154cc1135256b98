"""The schema compiler: DSL builders -> the internal description (model.py), validated on the way.

``implicit_auth_fields`` and ``validate_relations`` are shared with ``from_mis.py``, the other way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cove.wire.scalars import ScalarError, parse_scalar

from .dsl import (
    CustomTypeBuilder,
    EnumBuilder,
    FieldBuilder,
    IndexBuilder,
    ModelBuilder,
    OperationBuilder,
    RelationBuilder,
    SchemaBuilder,
    collect_rules,
)
from .model import (
    DISABLEABLE,
    FIELD_OPERATIONS,
    STRING_LIKE,
    AuthorizationModes,
    AuthRule,
    CustomOperation,
    CustomType,
    Enum,
    Field,
    Model,
    Relation,
    Schema,
    SchemaError,
    SecondaryIndex,
    TypeRef,
)
from .naming import pascal, pluralize


def compile_schema(builder: SchemaBuilder, modes: AuthorizationModes | None = None) -> Schema:
    """The internal description of ``a.schema({...})``; raises SchemaError naming what is wrong."""
    schema = Schema(authorization_modes=modes or AuthorizationModes())
    schema_rules = collect_rules(builder.rules, "a.schema") if builder.rules else None
    pending_models: dict[str, ModelBuilder] = {}
    for name, item in builder.types.items():
        if not name.isidentifier() or name.startswith("_"):
            raise SchemaError(f"{name!r} is not a valid type name")
        if isinstance(item, ModelBuilder):
            pending_models[name] = item
        elif isinstance(item, EnumBuilder):
            schema.enums[name] = _enum(name, item)
        elif isinstance(item, CustomTypeBuilder):
            schema.custom_types[name] = CustomType(name, {})
        elif isinstance(item, OperationBuilder):
            pass  # compiled after types are known
        else:
            raise SchemaError(f"{name}: expected a.model(), a.enum(), a.custom_type() or an operation, "
                              f"got {type(item).__name__}")
    # Custom types may reference each other, so fill them once every name is known.
    for name, item in builder.types.items():
        if isinstance(item, CustomTypeBuilder):
            schema.custom_types[name].fields = _fields(schema, name, item.custom_fields or {}, kind="type")
    for name, mb in pending_models.items():
        schema.models[name] = _model(schema, name, mb, schema_rules)
    for name, item in builder.types.items():
        if isinstance(item, OperationBuilder):
            _operation(schema, name, item, schema_rules)
    validate_relations(schema)
    return schema


def _enum(name: str, builder: EnumBuilder) -> Enum:
    values = builder.enum_values or ()
    if not values:
        raise SchemaError(f"enum {name}: give at least one value")
    for v in values:
        if not isinstance(v, str) or not v.isidentifier():
            raise SchemaError(f"enum {name}: {v!r} is not a valid enum value (letters, digits and _)")
    if len(set(values)) != len(values):
        raise SchemaError(f"enum {name}: values repeat")
    return Enum(name, values)


def _fields(schema: Schema, owner: str, builders: Mapping[str, Any], *, kind: str) -> dict[str, Field]:
    fields: dict[str, Field] = {}
    for fname, fb in builders.items():
        where = f"{owner}.{fname}"
        if not isinstance(fname, str) or not fname.isidentifier() or fname.startswith("__"):
            raise SchemaError(f"{where}: not a valid field name")
        if isinstance(fb, RelationBuilder):
            if kind != "model":
                raise SchemaError(f"{where}: relationships belong on models, not on {kind}s")
            fields[fname] = Field(
                fname, TypeRef("model", fb.related), required=fb.required_,
                is_array=fb.kind == "has_many",
                relation=Relation(fb.kind, fb.related, fb.references),  # type: ignore[arg-type]
                rules=collect_rules(fb.rules, where) if fb.rules else None)
            _check_field_rules(fields[fname], where)
            continue
        if not isinstance(fb, FieldBuilder):
            raise SchemaError(f"{where}: expected a field builder such as a.string(), got {fb!r}")
        fields[fname] = _field(schema, owner, fname, fb, where)
    return fields


def _field(schema: Schema, owner: str, fname: str, fb: FieldBuilder, where: str) -> Field:
    if fb.kind == "scalar":
        ref = TypeRef("scalar", fb.type_name)
    elif fb.kind == "enum":
        ename = owner + pascal(fname)
        if ename in schema.enums and tuple(schema.enums[ename].values) != fb.enum_values:
            raise SchemaError(f"{where}: inline enum name {ename} clashes with another type")
        try:
            schema.enums[ename] = _enum(ename, fb)  # type: ignore[arg-type]
        except SchemaError as exc:
            raise SchemaError(f"{where}: {exc}") from None
        ref = TypeRef("enum", ename)
    elif fb.kind == "custom":
        cname = owner + pascal(fname)
        schema.custom_types[cname] = CustomType(cname, {})
        schema.custom_types[cname].fields = _fields(schema, cname, fb.custom_fields or {}, kind="type")
        ref = TypeRef("custom", cname)
    elif fb.kind == "ref":
        target = fb.type_name
        if target in schema.enums:
            ref = TypeRef("enum", target)
        elif target in schema.custom_types:
            ref = TypeRef("custom", target)
        else:
            raise SchemaError(f"{where}: a.ref({target!r}) names no enum or custom type in the schema")
    else:  # pragma: no cover - builders only make the kinds above
        raise SchemaError(f"{where}: unknown field kind {fb.kind}")
    field = Field(fname, ref, required=fb.required_, is_array=fb.is_array, array_required=fb.array_required,
                  rules=collect_rules(fb.rules, where) if fb.rules else None)
    if fb.has_default:
        field.default = _check_default(schema, field, fb.default_, where)
        field.has_default = True
    _check_field_rules(field, where)
    return field


def _check_field_rules(field: Field, where: str) -> None:
    for rule in field.rules or ():
        for op in rule.operations:
            if op not in FIELD_OPERATIONS:
                raise SchemaError(f"{where}: '{op}' operation is not allowed at the field level")


def _check_default(schema: Schema, field: Field, value: Any, where: str) -> Any:
    if value is None:
        raise SchemaError(f"{where}: .default(None) is meaningless; leave the field optional instead")
    if field.is_array or field.type.kind == "custom":
        raise SchemaError(f"{where}: .default() applies to scalar and enum fields only")
    if field.type.kind == "enum":
        values = schema.enums[field.type.name].values
        if value not in values:
            raise SchemaError(f"{where}: default {value!r} is not one of the enum's values {list(values)}")
        return value
    try:
        return parse_scalar(field.type.name, value)
    except ScalarError as exc:
        raise SchemaError(f"{where}: default {value!r} is not a valid {field.type.name}: {exc}") from None


def _model(schema: Schema, name: str, mb: ModelBuilder, schema_rules: list[AuthRule] | None) -> Model:
    user_fields = _fields(schema, name, mb.fields, kind="model")
    fields: dict[str, Field] = {}
    identifier = mb.identifier_
    if not identifier:
        raise SchemaError(f"{name}: .identifier([]) needs at least one field")
    if identifier == ("id",) and "id" not in user_fields:
        fields["id"] = Field("id", TypeRef("scalar", "ID"), required=True, implicit=True)
    fields.update(user_fields)
    for ts in ("createdAt", "updatedAt"):
        if ts not in fields:
            fields[ts] = Field(ts, TypeRef("scalar", "AWSDateTime"), required=True, read_only=True, implicit=True)
    for key in identifier:
        f = fields.get(key)
        if f is None:
            raise SchemaError(f"{name}.{key}: identifier field is not a field of the model")
        if f.relation is not None or f.is_array or f.type.kind not in ("scalar", "enum"):
            raise SchemaError(f"{name}.{key}: identifier fields must be scalars or enums")
        if not f.required and not (key == "id" and f.type.name == "ID"):
            raise SchemaError(f"{name}.{key}: identifier fields must be .required()")
        f.required = True
    for op in mb.disabled:
        if op not in DISABLEABLE:
            raise SchemaError(f"{name}: .disable_operations(): unknown operation {op!r}; "
                              f"use any of {', '.join(DISABLEABLE)}")
    if mb.rules is not None:
        rules = collect_rules(mb.rules, name)
    elif schema_rules is not None:
        rules = [AuthRule(**vars(r)) for r in schema_rules]
    else:
        raise SchemaError(
            f"Model {name} is missing authorization rules. Add global rules with "
            f"a.schema({{...}}).authorization(lambda allow: [...]) or rules on the model with "
            f"a.model({{...}}).authorization(lambda allow: [...])")
    model = Model(name, pluralize(name), fields, identifier, [], frozenset(mb.disabled), rules)
    implicit_auth_fields(model)
    if mb.indexes is not None:
        model.indexes = _indexes(model, mb)
    if mb.searchable_:
        model.searchable = _searchable(model, mb.searchable_)
    return model


def _searchable(model: Model, names: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(names)) != len(names):
        raise SchemaError(f"{model.name}: .searchable() names a field twice")
    for name in names:
        f = model.fields.get(name)
        if f is None or f.relation is not None or f.is_array or not (
                f.type.kind == "enum" or (f.type.kind == "scalar" and f.type.name in STRING_LIKE)):
            raise SchemaError(f"{model.name}.{name}: searchable fields must be text (string-like or enum) fields "
                              "holding one value")
    return names


def implicit_auth_fields(model: Model) -> None:
    """Owner and group fields named by rules exist even when the model does not declare them."""
    for rule in model.rules:
        for fname, is_list in ((rule.owner_field, rule.owner_is_list),
                               (rule.groups_field, rule.groups_field_is_list)):
            if not fname:
                continue
            existing = model.fields.get(fname)
            if existing is None:
                model.fields[fname] = Field(fname, TypeRef("scalar", "String"), is_array=is_list, implicit=True)
            elif existing.type.name not in ("String", "ID") or existing.relation is not None:
                raise SchemaError(f"{model.name}.{fname}: owner and group fields must be strings")


def _indexes(model: Model, mb: ModelBuilder) -> list[SecondaryIndex]:
    assert mb.indexes is not None
    built = list(mb.indexes(IndexBuilder))
    result = []
    for ib in built:
        if not isinstance(ib, IndexBuilder):
            raise SchemaError(f"{model.name}: .secondary_indexes() must return index(...) builders")
        for key in (ib.pk, *ib.sort_keys_):
            f = model.fields.get(key)
            if f is None or f.relation is not None or f.is_array or f.type.kind not in ("scalar", "enum"):
                raise SchemaError(f"{model.name}.{key}: index fields must be scalar or enum fields of the model")
        suffix = "And".join(pascal(k) for k in (ib.pk, *ib.sort_keys_))
        name = ib.name_ or (model.plural_name[:1].lower() + model.plural_name[1:] + "By" + suffix)
        if ib.query_field_ is True:
            query_field: str | None = f"list{model.name}By{suffix}"
        else:
            query_field = ib.query_field_ or None
        result.append(SecondaryIndex(ib.pk, ib.sort_keys_, name, query_field))
    return result


def _operation(schema: Schema, name: str, ob: OperationBuilder, schema_rules: list[AuthRule] | None) -> None:
    args = _fields(schema, name, ob.arguments_, kind="argument")
    returns = None
    if ob.returns_ is not None:
        rb = ob.returns_
        if rb.kind == "ref" and rb.type_name in schema.models:
            returns = Field("returns", TypeRef("model", rb.type_name), required=rb.required_,
                            is_array=rb.is_array, array_required=rb.array_required)
        elif rb.kind == "custom":
            tname = pascal(name) + "ReturnType"
            schema.custom_types[tname] = CustomType(tname, _fields(schema, tname, rb.custom_fields or {}, kind="type"))
            returns = Field("returns", TypeRef("custom", tname), required=rb.required_, is_array=rb.is_array,
                            array_required=rb.array_required)
        else:
            returns = _field(schema, name, "returns", rb, f"{name}.returns")
    if ob.rules is not None:
        rules = collect_rules(ob.rules, name)
    elif schema_rules is not None:
        rules = list(schema_rules)
    else:
        raise SchemaError(f"Operation {name} is missing authorization rules")
    op = CustomOperation(ob.kind, name, args, returns, rules, ob.handler_, ob.for_)  # type: ignore[arg-type]
    {"query": schema.queries, "mutation": schema.mutations, "subscription": schema.subscriptions}[ob.kind][name] = op


def validate_relations(schema: Schema) -> None:
    """Every relationship names a defined model and reference fields that exist, one per key field."""
    for model in schema.models.values():
        for f in model.fields.values():
            rel = f.relation
            if rel is None:
                continue
            where = f"{model.name}.{f.name}"
            related = schema.models.get(rel.related_model)
            if related is None:
                raise SchemaError(f"{where}: related model {rel.related_model!r} is not defined in the schema")
            if rel.parent_holds_key:
                holder, key_model = model, related
            else:
                holder, key_model = related, model
            refs = rel.key_fields if rel.parent_holds_key else rel.references
            if len(refs) != len(key_model.identifier):
                raise SchemaError(f"{where}: references {list(refs)} must name one field per "
                                  f"identifier field of {key_model.name} {list(key_model.identifier)}")
            for ref in refs:
                if ref not in holder.fields or holder.fields[ref].relation is not None:
                    raise SchemaError(f"{where}: reference field {holder.name}.{ref} is not defined; "
                                      f"declare it, e.g. \"{ref}\": a.id()")
