"""Load and exhaustion tests: a blog with posts (relationships both ways), a to-do, and custom
operations whose handlers sleep, raise or await."""

import asyncio
import time

from cove import a, define_data


def slow(event: dict) -> str:
    time.sleep(event["arguments"]["seconds"])
    return "slept"


async def slow_async(event: dict) -> str:
    await asyncio.sleep(event["arguments"]["seconds"])
    return "awaited"


class QuotaError(Exception):
    pass


def boom(event: dict) -> str:
    raise QuotaError("quota exhausted for " + event["arguments"]["who"])


def bump(event: dict) -> int:
    return event["arguments"]["n"] + 1


PUBLIC = lambda allow: [allow.public_api_key()]  # noqa: E731

schema = a.schema({
    "Blog": a.model({"name": a.string().required(), "posts": a.has_many("Post", "blogId")}),
    "Post": a.model({
        "title": a.string().required(),
        "blogId": a.id(),
        "blog": a.belongs_to("Blog", "blogId"),
    }),
    "Todo": a.model({"content": a.string().required(), "done": a.boolean()}),
    "slow": a.query().arguments({"seconds": a.float().required()}).returns(a.string()).handler(slow)
    .authorization(PUBLIC),
    "slowAsync": a.query().arguments({"seconds": a.float().required()}).returns(a.string())
    .handler(slow_async).authorization(PUBLIC),
    "boom": a.query().arguments({"who": a.string().required()}).returns(a.string()).handler(boom)
    .authorization(PUBLIC),
    "bump": a.mutation().arguments({"n": a.integer().required()}).returns(a.integer()).handler(bump)
    .authorization(PUBLIC),
}).authorization(lambda allow: [allow.public_api_key()])

data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
