"""A ``backend`` fixture per backend name: every test in tests/store/test_contract*.py runs on each.

SQLite in a data dir; PostgreSQL in a fresh schema of the test server (pg_support), one per test
directory, so a second ``open_for_test`` of the same directory opens the same database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pg_support import fresh_postgres_url

from cove import a, define_data
from cove.schema.model import Schema
from cove.store import open_backend
from cove.store.base import Backend

BACKENDS = ["sqlite", "postgres"]
# PostgreSQL's text cannot hold U+0000: a text value holding it is refused (TextNotStorable); lists
# and custom types (JSON) keep it on both.
TEXT_HOLDS_NUL = {"sqlite": True, "postgres": False}
_postgres_urls: dict[Path, str] = {}


POST_FIELDS = {"blogId": a.id(), "title": a.string(), "rank": a.integer(), "score": a.float(),
               "draft": a.boolean(), "tags": a.string().array(), "meta": a.json()}


def contract_schema(post: dict[str, Any] | None = None, blog: dict[str, Any] | None = None,
                    *, drop_blog: bool = False) -> Schema:
    """Plain, composite-key and indexed models, relations (one- and two-field references). The
    migration tests change Post's and Blog's stored fields (``post``, ``blog``) or drop Blog."""
    blog_fields = blog if blog is not None else {"name": a.string().required()}
    post_fields = post if post is not None else POST_FIELDS
    models: dict[str, Any] = {}
    if not drop_blog:
        models["Blog"] = a.model({**blog_fields, "posts": a.has_many("Post", "blogId")})
        post_fields = {**post_fields, "blog": a.belongs_to("Blog", "blogId")}
    schema = a.schema({
        **models,
        "Post": a.model(post_fields),
        "Order": a.model({
            "customerId": a.string().required(),
            "placedAt": a.datetime().required(),
            "total": a.float(),
            "status": a.enum(["open", "shipped"]),
            "lines": a.has_many("Line", ["orderCustomer", "orderPlacedAt"]),
        }).identifier(["customerId", "placedAt"])
          .secondary_indexes(lambda index: [index("status").sort_keys(["total"])]),
        "Line": a.model({
            "orderCustomer": a.string(),
            "orderPlacedAt": a.datetime(),
            "sku": a.string(),
            "order": a.belongs_to("Order", ["orderCustomer", "orderPlacedAt"]),
        }),
        "Reading": a.model({
            "device": a.id().required(),
            "day": a.date().required(),
            "seq": a.integer().required(),
            "value": a.float(),
        }).identifier(["device", "day", "seq"]),
    }).authorization(lambda allow: [allow.public_api_key()])
    return define_data(schema=schema).schema


def location_for_test(name: str, directory: Path) -> str:
    """What ``open_backend`` takes for a test database of this backend (the same for the same directory)."""
    if name == "sqlite":
        return str(directory)
    if name == "postgres":
        if directory not in _postgres_urls:
            _postgres_urls[directory] = fresh_postgres_url("store")
        return _postgres_urls[directory]
    raise AssertionError(f"no test database for backend {name!r}")


def open_for_test(name: str, directory: Path) -> Backend:
    return open_backend(location_for_test(name, directory))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def schema() -> Schema:
    return contract_schema()


@pytest.fixture
async def backend(anyio_backend: str, backend_name: str, schema: Schema, tmp_path: Path) -> AsyncIterator[Backend]:
    """A new, empty database with the contract schema applied."""
    opened = open_for_test(backend_name, tmp_path / "data")
    await opened.migrator.apply_schema(schema)
    yield opened
    await opened.close()
