"""Custom query/mutation handlers: the event, sync and async handlers, data access, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cove

SCHEMA = '''
from cove import a, define_data

def echo(event):
    return f"{event['arguments']['message']} ({event['typeName']}.{event['fieldName']})"

def add_todo(event, context):
    created = context.client.models.Todo.create({"content": event["arguments"]["content"]})
    return created.data["id"]

async def count_todos(event, context):
    page = await context.async_client.models.Todo.list()
    return len(page.data)

def fail(event):
    raise ValueError("no such thing")

schema = a.schema({
    "Todo": a.model({"content": a.string().required()}),
    "echo": a.query().arguments({"message": a.string().required()}).returns(a.string()).handler(echo),
    "countTodos": a.query().returns(a.integer()).handler(count_todos),
    "addTodo": a.mutation().arguments({"content": a.string().required()}).returns(a.id()).handler(add_todo),
    "fail": a.query().returns(a.string()).handler(fail),
}).authorization(lambda allow: [allow.public_api_key()])
data = define_data(schema=schema)
'''


def test_handlers_get_the_event_and_read_and_write_data(tmp_path: Path, sandbox_factory: Any) -> None:
    (tmp_path / "schema.py").write_text(SCHEMA)
    box = sandbox_factory(tmp_path / "schema.py")
    client = cove.generate_client(config=box.outputs)
    assert client.queries.echo({"message": "hi"}).data == "hi (Query.echo)"
    with client.models.Todo.on_create() as sub:
        new_id = client.mutations.addTodo({"content": "from a handler"}).data
        event = sub.receive(timeout=10)       # a handler's writes notify subscribers too
    assert event.id == new_id and event.content == "from a handler"
    assert client.models.Todo.get({"id": new_id}).data.content == "from a handler"
    assert client.queries.countTodos().data == 1    # an async handler, with the async client
    failed = client.queries.fail()
    assert failed.data is None
    (error,) = failed.errors
    assert (error.message, error.error_type) == ("no such thing", "Lambda:Unhandled")
