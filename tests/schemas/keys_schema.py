"""Composite primary keys and secondary indexes."""

from cove import a, define_data

schema = a.schema({
    "Order": a.model({
        "customerId": a.string().required(),
        "placedAt": a.datetime().required(),
        "total": a.float(),
        "status": a.enum(["open", "shipped"]),
    }).identifier(["customerId", "placedAt"])
      .secondary_indexes(lambda index: [index("status").sort_keys(["total"])]),
    "Reading": a.model({
        "device": a.id().required(),
        "day": a.date().required(),
        "seq": a.integer().required(),
        "value": a.float(),
    }).identifier(["device", "day", "seq"]),
}).authorization(lambda allow: [allow.public_api_key()])

data = define_data(schema=schema)
