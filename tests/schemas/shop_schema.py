"""A shop: the typed-client tests' schema (custom types, enums, a composite key, an index,
relationships both ways, custom queries and mutations with Python handlers)."""

from cove import a, define_data


def order_count(event: dict) -> int:
    return 3 if event["arguments"]["customerId"] else 0


def quote(event: dict) -> dict:
    args = event["arguments"]
    lines = args["lines"]
    total = sum(line["quantity"] * line["unitPrice"] for line in lines)
    return {"total": total, "currency": args.get("currency") or "EUR", "lineCount": len(lines)}


def greet(event: dict) -> str:
    names = event["arguments"].get("names") or ["world"]
    return "hello " + ", ".join(names)


schema = a.schema({
    "Currency": a.enum(["EUR", "USD", "GBP"]),
    "Address": a.custom_type({
        "street": a.string().required(),
        "city": a.string().required(),
        "zip": a.string(),
    }),
    "Line": a.custom_type({
        "sku": a.string().required(),
        "quantity": a.integer().required(),
        "unitPrice": a.float().required(),
    }),
    "Customer": a.model({
        "name": a.string().required(),
        "email": a.email(),
        "tier": a.enum(["basic", "gold"]),
        "address": a.ref("Address"),
        "orders": a.has_many("Order", "customerId"),
    }).searchable(["name", "email"]),
    "Order": a.model({
        "customerId": a.id().required(),
        "placedAt": a.datetime().required(),
        "total": a.float().required(),
        "currency": a.ref("Currency").required(),
        "status": a.enum(["open", "shipped", "closed"]),
        "lines": a.ref("Line").array(),
        "notes": a.string().array(),
        "customer": a.belongs_to("Customer", "customerId"),
    }).identifier(["customerId", "placedAt"]).secondary_indexes(
        lambda index: [index("status").sort_keys(["placedAt"])]),
    "orderCount": a.query().arguments({"customerId": a.id().required()}).returns(a.integer()).handler(order_count),
    "greet": a.query().arguments({"names": a.string().required().array()}).returns(a.string().required()).handler(greet),
    "quote": a.mutation().arguments({
        "lines": a.ref("Line").required().array().required(),
        "currency": a.ref("Currency"),
    }).returns(a.custom_type({
        "total": a.float().required(),
        "currency": a.ref("Currency").required(),
        "lineCount": a.integer().required(),
    })).handler(quote),
}).authorization(lambda allow: [allow.public_api_key()])

data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
