"""Lambda authorizers for tests, written as AppSync expects them (event in, dict out)."""

import asyncio
import os
from pathlib import Path


def _count(name: str) -> None:
    folder = os.environ.get("COVE_TEST_AUTHORIZER_LOG")
    if folder:
        with open(Path(folder) / "calls.log", "a") as fh:
            fh.write(name + "\n")


def handler(event, context):  # an AppSync Python Lambda authorizer, unchanged
    _count("sync:" + event["authorizationToken"])
    token = event["authorizationToken"]
    assert context.get_remaining_time_in_millis() > 0
    if token.startswith("allow-"):
        return {
            "isAuthorized": True,
            "resolverContext": {"user": token[6:], "query": event["requestContext"]["queryString"][:40]},
            "deniedFields": ["arn:aws:appsync:us-east-1:000000000000:apis/x/types/Memo/fields/secret"],
            "ttlOverride": 300 if token.endswith("-cached") else 0,
        }
    if token.startswith("denyops-"):  # operations denied by name, in both spellings AppSync accepts
        arn = "arn:aws:appsync:us-east-1:000000000000:apis/x/types/{}/fields/{}"
        return {"isAuthorized": True, "ttlOverride": 0, "deniedFields": [
            "Query.listMemos", "Mutation.deleteMemo", arn.format("Query", "getMemo"),
            arn.format("Subscription", "onCreateMemo"), "Memo.secret"]}
    if token == "crash":
        raise RuntimeError("boom")
    if token == "bad-answer":
        return {"authorized": "yes"}
    return {"isAuthorized": False}


async def async_handler(event):
    _count("async:" + event["authorizationToken"])
    await asyncio.sleep(0)
    return {"isAuthorized": event["authorizationToken"] == "let-me-in", "resolverContext": {"via": "async"}}
