"""The bundled example's schema (src/cove/example_schema.py) with one secondary index, for
bench/postgres.py: `Todo` by (priority, done, id), so the list workload's filter
(`priority = high AND done = false`, first page in id order) is answered by walking one B-tree
range, at 10,000 rows as at 1,000,000. The index adds no query field, so the GraphQL schema and
the documents are the SQLite benchmark's."""

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
    }).secondary_indexes(lambda index: [index("priority").sort_keys(["done", "id"]).query_field(None)]),
    "TodoList": a.model({
        "name": a.string().required(),
        "todos": a.has_many("Todo", "listId"),
    }),
}).authorization(lambda allow: [allow.public_api_key()])

data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
