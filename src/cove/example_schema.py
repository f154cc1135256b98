"""The schema `cove sandbox` serves when none is given: a small to-do app.

Copy it to start your own: `cove sandbox my_schema.py`.
"""

from cove import a, define_data

schema = a.schema({
    "Todo": a.model({
        "content": a.string().required(),
        "done": a.boolean().default(False),
        "priority": a.enum(["low", "medium", "high"]),
        "due": a.date(),
        "tags": a.string().array(),
        "listId": a.id(),
        "list": a.belongs_to("TodoList", "listId"),
    }),
    "TodoList": a.model({
        "name": a.string().required(),
        "todos": a.has_many("Todo", "listId"),
    }),
}).authorization(lambda allow: [allow.public_api_key()])

data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
