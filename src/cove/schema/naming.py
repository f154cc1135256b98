"""AppSync's generated names for a model's operations and input types (reference section 5), and the
word helpers they are built with (``pascal``, ``pluralize``)."""

from __future__ import annotations

from .model import NUMERIC, STRING_LIKE, Field, Model, Schema, SecondaryIndex


def pascal(name: str) -> str:
    """``todoItem`` -> ``TodoItem``: only the first letter changes."""
    return name[:1].upper() + name[1:]


def pluralize(word: str) -> str:
    """English plural as Amplify's `pluralize` gives it for typical model names."""
    irregular = {"person": "people", "child": "children", "man": "men", "woman": "women",
                 "mouse": "mice", "goose": "geese", "tooth": "teeth", "foot": "feet"}
    lower = word.lower()
    for singular, plural in irregular.items():
        if lower.endswith(singular):
            stem = word[: len(word) - len(singular)]
            cased = plural if word[-len(singular)].islower() else plural.capitalize()
            return stem + cased
    if lower.endswith("quiz"):
        return word + "zes"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if lower.endswith("y") and len(word) > 1 and lower[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def camel_join(names: tuple[str, ...] | list[str]) -> str:
    first, *rest = names
    return first + "".join(pascal(n) for n in rest)


def get_field(model: Model) -> str:
    return f"get{model.name}"


def list_field(model: Model) -> str:
    return f"list{model.plural_name}"


def count_field(model: Model) -> str:
    return f"count{model.plural_name}"


def search_field(model: Model) -> str:
    return f"search{model.plural_name}"


def aggregate_field(model: Model) -> str:
    return f"aggregate{model.plural_name}"


def sort_input(model: Model) -> str:
    return f"Model{model.name}SortInput"


def field_enum(model: Model) -> str:
    """The enum naming a model's orderable fields (for sorting, grouping and aggregating)."""
    return f"Model{model.name}OrderableField"


TRANSACT_FIELD = "transactWrite"
TRANSACT_ITEM_INPUT = "TransactWriteItemInput"
TRANSACT_RESULT = "TransactWriteItemResult"


def transact_input(op: str, model: Model) -> str:
    return f"Transact{op[:1].upper() + op[1:]}{model.name}Input"


def mutation_field(op: str, model: Model) -> str:
    return f"{op}{model.name}"


def subscription_field(op: str, model: Model) -> str:
    return f"on{pascal(op)}{model.name}"


def filter_input(model: Model) -> str:
    return f"Model{model.name}FilterInput"


def condition_input(model: Model) -> str:
    return f"Model{model.name}ConditionInput"


def subscription_filter_input(model: Model) -> str:
    return f"ModelSubscription{model.name}FilterInput"


def connection_type(model_name: str) -> str:
    return f"Model{model_name}Connection"


def scalar_filter_input(schema: Schema, field: Field) -> str | None:
    """The `Model*Input` type a field is filtered with, or None if it cannot be filtered."""
    t = field.type
    if field.relation is not None or t.kind in ("custom", "model"):
        return None
    if t.kind == "enum":
        return f"Model{t.name}ListInput" if field.is_array else f"Model{t.name}Input"
    if t.name == "ID":
        return "ModelIDInput"
    if t.name in STRING_LIKE:
        return "ModelStringInput"
    if t.name in ("Int", "AWSTimestamp"):
        return "ModelIntInput"
    if t.name == "Float":
        return "ModelFloatInput"
    if t.name == "Boolean":
        return "ModelBooleanInput"
    return None  # pragma: no cover


def subscription_scalar_input(field: Field) -> str | None:
    t = field.type
    if field.relation is not None or t.kind in ("custom", "model"):
        return None
    if t.kind == "enum":
        return "ModelSubscriptionStringInput"
    if t.name == "ID":
        return "ModelSubscriptionIDInput"
    if t.name in STRING_LIKE:
        return "ModelSubscriptionStringInput"
    if t.name in ("Int", "AWSTimestamp"):
        return "ModelSubscriptionIntInput"
    if t.name == "Float":
        return "ModelSubscriptionFloatInput"
    if t.name == "Boolean":
        return "ModelSubscriptionBooleanInput"
    return None  # pragma: no cover


def key_condition_scalar(field: Field) -> str:
    """`Model<Scalar>KeyConditionInput` for a single sort key."""
    t = field.type
    if t.kind == "enum" or (t.name in STRING_LIKE and t.name != "ID"):
        return "ModelStringKeyConditionInput"
    if t.name == "ID":
        return "ModelIDKeyConditionInput"
    if t.name in ("Int", "AWSTimestamp"):
        return "ModelIntKeyConditionInput"
    if t.name in NUMERIC:
        return "ModelFloatKeyConditionInput"
    return "ModelStringKeyConditionInput"


def sort_key_argument(model: Model, sort_keys: tuple[str, ...], index: SecondaryIndex | None) -> tuple[str, str]:
    """(argument name, input type) of the sort-key condition for the primary key or an index."""
    if len(sort_keys) == 1:
        return sort_keys[0], key_condition_scalar(model.fields[sort_keys[0]])
    label = "Primary" if index is None else pascal(index.name)
    return camel_join(list(sort_keys)), f"Model{model.name}{label}CompositeKeyConditionInput"


def composite_key_input(model: Model, index: SecondaryIndex | None) -> str:
    label = "Primary" if index is None else pascal(index.name)
    return f"Model{model.name}{label}CompositeKeyInput"
