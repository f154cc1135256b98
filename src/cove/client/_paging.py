"""Following ``next_token`` across pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ._records import Result
from .errors import GraphQLResponseError

T = TypeVar("T")


def paginate(fetch: Callable[..., Result[list[T]]], /, *args: Any, **kwargs: Any) -> Iterator[T]:
    """Yield every item of every page: calls ``fetch(*args, next_token=..., **kwargs)`` until the
    returned ``next_token`` is null. Works with any sync list-shaped call::

        for todo in paginate(client.models.Todo.list, filter={"done": {"eq": False}}):
            ...
        for todo in paginate(client.models.Todo.listTodoByStatus, {"status": "open"}, limit=50):
            ...

    Pages may be empty while more follow (AppSync filters after reading a page); they are skipped.
    A page with GraphQL errors yields its items, then raises
    :class:`~cove.client.errors.GraphQLResponseError`.
    """
    token = kwargs.pop("next_token", None)
    while True:
        result = fetch(*args, next_token=token, **kwargs)
        yield from result.data
        if result.errors:
            raise GraphQLResponseError(result.errors, result)
        token = result.next_token
        if not token:
            return


async def apaginate(fetch: Callable[..., Awaitable[Result[list[T]]]], /, *args: Any,
                    **kwargs: Any) -> AsyncIterator[T]:
    """The async twin of :func:`paginate`: ``async for todo in apaginate(aclient.models.Todo.list)``."""
    token = kwargs.pop("next_token", None)
    while True:
        result = await fetch(*args, next_token=token, **kwargs)
        for item in result.data:
            yield item
        if result.errors:
            raise GraphQLResponseError(result.errors, result)
        token = result.next_token
        if not token:
            return
