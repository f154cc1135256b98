"""A script that uses the typed client: lists, to-dos, filters, pages, relationships.

Start the sandbox on the bundled example schema, then run this from the same folder:

    cove sandbox --typed-client examples/cove_client.py     # writes ./amplify_outputs.json
    python examples/todo_script.py                          # or: python examples/todo_script.py path/to/amplify_outputs.json

Every call is checked by pyright and mypy: ``todo.content`` is a ``str``, ``todo.priority`` a
``Literal["low", "medium", "high"] | None``, and a misspelled field or a wrong value is an error
before the script runs.
"""

from __future__ import annotations

import sys

from cove_client import Todo, TodoCreateInput, TodoList, generate_client

import cove


def describe(todo: Todo) -> str:
    mark = "x" if todo.done else " "
    priority = f" !{todo.priority}" if todo.priority is not None else ""
    return f"[{mark}] {todo.content}{priority}"


def main(outputs: str = "amplify_outputs.json") -> int:
    cove.configure(outputs)
    with generate_client() as client:
        created = client.models.TodoList.create({"name": "Groceries"})
        if created.errors or created.data is None:
            print("could not create the list:", created.errors)
            return 1
        groceries: TodoList = created.data

        items: list[TodoCreateInput] = [
            {"content": "milk", "priority": "high", "listId": groceries.id},
            {"content": "bread", "tags": ["bakery"], "list": groceries},
            {"content": "coffee", "priority": "medium", "due": "2030-01-31", "listId": groceries.id},
        ]
        todos: list[Todo] = []
        for item in items:
            todo = client.models.Todo.create(item).data
            if todo is not None:
                todos.append(todo)
        print(f"created {len(todos)} to-dos in {groceries.name!r}")

        bread = todos[1]
        updated = client.models.Todo.update({"id": bread.id, "done": True}).data
        if updated is not None:
            print("updated:", describe(updated))

        urgent = client.models.Todo.list(filter={"priority": {"eq": "high"}, "listId": {"eq": groceries.id}})
        print("high priority:", ", ".join(t.content for t in urgent.data))

        print(f"everything in {groceries.name!r}:")
        for todo in groceries.todos(limit=50).data:
            print("  ", describe(todo))

        open_items = [t.content for t in client.models.Todo.list_all(filter={"done": {"ne": True}}, limit=2)]
        print(f"{len(open_items)} open to-dos in total (read two at a time)")

        parent = todos[0].list().data
        print("milk belongs to:", parent.name if parent is not None else None)

        for todo in todos:
            client.models.Todo.delete(todo)
        client.models.TodoList.delete({"id": groceries.id})
        print("cleaned up; priorities are", client.enums.TodoPriority.values())
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
