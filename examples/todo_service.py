"""An async web service (Starlette) in front of the data API, using the typed async client.

    cove sandbox --typed-client examples/cove_client.py     # writes ./amplify_outputs.json
    pip install -e '.[examples]'                            # starlette and uvicorn (from the checkout)
    COVE_OUTPUTS=amplify_outputs.json uvicorn --app-dir examples todo_service:app --port 8000

    curl -X POST localhost:8000/todos -d '{"content": "buy milk", "priority": "high"}'
    curl localhost:8000/todos?priority=high
    curl -X PATCH localhost:8000/todos/<id> -d '{"done": true}'
    curl -X DELETE localhost:8000/todos/<id>

One async client is opened when the app starts and shared by every request; GraphQL errors come
back as HTTP 400 with AppSync's messages.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, TypedDict, cast

from cove_client import AsyncClient, AsyncTodo, TodoFilter, TodoPriority, TodoUpdateInput, generate_async_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import cove

PRIORITIES: tuple[TodoPriority, ...] = ("low", "medium", "high")


class TodoOut(TypedDict):
    id: str
    content: str
    done: bool
    priority: TodoPriority | None
    due: str | None


def todo_json(todo: AsyncTodo) -> TodoOut:
    return {"id": todo.id, "content": todo.content, "done": bool(todo.done), "priority": todo.priority,
            "due": todo.due}


def client_of(request: Request) -> AsyncClient:
    return cast(AsyncClient, request.app.state.client)


def errors_json(errors: list[cove.client.GraphQLError]) -> JSONResponse:
    return JSONResponse({"errors": [e.message for e in errors]}, status_code=400)


async def body_of(request: Request) -> dict[str, Any]:
    try:
        body: object = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        return {}
    return cast(dict[str, Any], body) if isinstance(body, dict) else {}


def priority_of(value: object) -> TodoPriority | None:
    for p in PRIORITIES:
        if value == p:
            return p
    return None


async def list_todos(request: Request) -> Response:
    filter: TodoFilter = {}
    priority = priority_of(request.query_params.get("priority"))
    if priority is not None:
        filter["priority"] = {"eq": priority}
    todos = [todo_json(t) async for t in client_of(request).models.Todo.list_all(filter=filter)]
    return JSONResponse({"todos": todos})


async def create_todo(request: Request) -> Response:
    body = await body_of(request)
    content = body.get("content")
    if not isinstance(content, str) or not content:
        return JSONResponse({"errors": ["content is required"]}, status_code=400)
    result = await client_of(request).models.Todo.create({"content": content, "priority": priority_of(body.get("priority"))})
    if result.errors or result.data is None:
        return errors_json(result.errors)
    return JSONResponse(todo_json(result.data), status_code=201)


async def update_todo(request: Request) -> Response:
    body = await body_of(request)
    changes: TodoUpdateInput = {"id": request.path_params["id"]}
    if isinstance(body.get("done"), bool):
        changes["done"] = body["done"]
    if isinstance(body.get("content"), str):
        changes["content"] = body["content"]
    result = await client_of(request).models.Todo.update(changes)
    if result.errors or result.data is None:
        return errors_json(result.errors)
    return JSONResponse(todo_json(result.data))


async def delete_todo(request: Request) -> Response:
    result = await client_of(request).models.Todo.delete({"id": request.path_params["id"]})
    if result.errors:
        return errors_json(result.errors)
    return Response(status_code=204)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncGenerator[None]:
    cove.configure(os.environ.get("COVE_OUTPUTS", "amplify_outputs.json"))
    async with generate_async_client() as client:
        app.state.client = client
        yield


app = Starlette(routes=[
    Route("/todos", list_todos, methods=["GET"]),
    Route("/todos", create_todo, methods=["POST"]),
    Route("/todos/{id}", update_todo, methods=["PATCH"]),
    Route("/todos/{id}", delete_todo, methods=["DELETE"]),
], lifespan=lifespan)
