"""One model with a field of every scalar kind, for the filter tests (test_filters*.py and
store/test_contract_filters.py)."""

from cove import a, define_data

schema = a.schema({
    "Kind": a.enum(["ALPHA", "BETA", "GAMMA", "DELTA"]),
    "Item": a.model({
        "name": a.string(),
        "code": a.id(),
        "count": a.integer(),
        "score": a.float(),
        "flag": a.boolean(),
        "day": a.date(),
        "at": a.datetime(),
        "tm": a.time(),
        "ts": a.timestamp(),
        "email": a.email(),
        "meta": a.json(),
        "phone": a.phone(),
        "site": a.url(),
        "ip": a.ip_address(),
        "kind": a.ref("Kind"),
        "tags": a.string().array(),
        "kinds": a.ref("Kind").array(),
        "nums": a.integer().array(),
    }),
}).authorization(lambda allow: [allow.public_api_key()])

data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
