"""The bench's to-do model, readable and writable with an API key or by any signed-in user."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Todo": a.model({
        "content": a.string().required(),
        "done": a.boolean().default(False),
        "priority": a.enum(["low", "medium", "high"]),
        "due": a.date(),
        "tags": a.string().array(),
        "listId": a.id(),
    }),
}).authorization(lambda allow: [allow.public_api_key(), allow.authenticated()])

# `cove serve` requires confirmed sign-ups by default; the benchmark signs its user up without a code.
auth = define_auth(login_with={"email": True}, allow_guest_access=True, require_confirmation=False)
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
