# %% [markdown]
# # A walkthrough of Cove's typed client
#
# Run it cell by cell (VS Code, Jupyter with jupytext, or `python examples/walkthrough.py`) next to
# a running sandbox:
#
#     cove sandbox --typed-client examples/cove_client.py
#
# `examples/cove_client.py` is generated from the schema (`cove generate client`); the sandbox
# rewrites it whenever the schema changes, as it rewrites `amplify_outputs.json`.

# %%
from __future__ import annotations

import os

from cove_client import Todo, TodoFilter, generate_client

import cove

cove.configure(os.environ.get("COVE_OUTPUTS", "amplify_outputs.json"))
client = generate_client()

# %% [markdown]
# ## Create: the input is a TypedDict
# `content` is required and `createdAt` is absent (the server sets it): the editor and the type
# checkers say so before anything runs.

# %%
result = client.models.Todo.create({"content": "write the walkthrough", "priority": "high", "tags": ["docs"]})
print(result.errors or "created")
todo = result.data
assert todo is not None
print(todo.content, todo.priority, todo.tags, todo.createdAt)

# %% [markdown]
# ## Records are typed objects, and still mappings

# %%
def summary(t: Todo) -> str:
    return f"{t.content} ({t.priority or 'no priority'})"

print(summary(todo), todo["content"], dict(todo)["id"] == todo.id)

# %% [markdown]
# ## Filters are typed per field

# %%
docs_only: TodoFilter = {"tags": {"contains": "docs"}, "done": {"ne": True}}
page = client.models.Todo.list(filter=docs_only, limit=10)
print([t.content for t in page.data], page.next_token)

# %% [markdown]
# ## Relationships load lazily, typed too

# %%
inbox = client.models.TodoList.create({"name": "Inbox"}).data
assert inbox is not None
client.models.Todo.update({"id": todo.id, "listId": inbox.id})
print([t.content for t in inbox.todos().data])

# %% [markdown]
# ## Real-time: a subscription is a context manager and an iterator

# %%
with client.models.Todo.on_create(filter={"content": {"beginsWith": "ping"}}) as created:
    client.models.Todo.create({"content": "ping from the walkthrough"})
    event = next(created)
    print("received:", event.content)
    client.models.Todo.delete(event)

# %% [markdown]
# ## Errors come back in `result.errors`, not as exceptions

# %%
missing = client.models.Todo.update({"id": "no-such-id", "done": True})
print(missing.data, [e.error_type for e in missing.errors])

# %%
client.models.Todo.delete(todo)
client.models.TodoList.delete(inbox)
client.close()
