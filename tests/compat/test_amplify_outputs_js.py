"""The stock aws-amplify JS data client against real Amplify Gen 2 backends served by Cove from their
outputs (issue 9): tests/amplify_suite.py's plan, every model, index and relationship of the
fixtures, one `node amplify_driver.mjs` process per fixture.

Signed-in calls send the user's Cognito access token in the `Authorization` header, which is exactly
what aws-amplify's `userPool` mode puts on the wire; the driver does it with the per-call
`authMode: "lambda", authToken` options (the data client's way to send a given token) because its
`userPool` mode needs Amplify Auth signed in, which tests/compat/test_amplify_auth.py covers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from amplify_suite import add_users, run_suite
from test_amplify_js import AmplifyDriver, require_node_env

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class AmplifyBackend:
    """amplify_suite.Backend over aws-amplify's generateClient()."""

    # Its hasOne loader ignores targetNames (the older shape): see amplify_suite._relationships.
    lazy_loads_older_has_one = False

    def __init__(self, driver: AmplifyDriver, tokens: dict[str, Any]) -> None:
        self.driver = driver
        self.options: dict[str, dict[str, Any]] = {"api_key": {"authMode": "apiKey"}}
        for name, t in tokens.items():
            self.options[name] = {"authMode": "lambda", "authToken": t["AccessToken"]}

    def _run(self, op: str, who: str, **step: Any) -> tuple[Any, list[Any]]:
        line = self.driver.run(op, options={**self.options[who], **step.pop("extra", {})}, **step)
        result = line["result"]
        if "parent" in result:  # lazy: the parent itself was not returned
            return None, result["parent"].get("errors") or ["parent not found"]
        return result.get("data"), result.get("errors") or []

    def create(self, model: str, data: dict[str, Any], who: str) -> tuple[Any, list[Any]]:
        return self._run("create", who, model=model, input=data)

    def get(self, model: str, ident: dict[str, Any], who: str, selection: list[str] | None = None) -> Any:
        extra = {"selectionSet": selection} if selection else {}
        return self._run("get", who, model=model, identifier=ident, extra=extra)

    def update(self, model: str, data: dict[str, Any], who: str) -> tuple[Any, list[Any]]:
        return self._run("update", who, model=model, input=data)

    def delete(self, model: str, ident: dict[str, Any], who: str) -> tuple[Any, list[Any]]:
        return self._run("delete", who, model=model, identifier=ident)

    def list(self, model: str, filter: dict[str, Any] | None, who: str) -> tuple[Any, list[Any]]:
        step: dict[str, Any] = {"model": model, "limit": 1000}
        if filter is not None:
            step["filter"] = filter
        return self._run("list", who, **step)

    def index(self, model: str, query: str, keys: dict[str, Any], who: str) -> tuple[Any, list[Any]]:
        return self._run("index", who, model=model, query=query, keys=keys)

    def lazy(self, model: str, ident: dict[str, Any], relation: str, who: str) -> tuple[Any, list[Any]]:
        return self._run("lazy", who, model=model, identifier=ident, field=relation)


@pytest.mark.parametrize("name", ["amplify_data_modeled_outputs.json", "amplify_data_cart_customer_outputs.json",
                                  "amplify_outputs_gen2_blog.json"])
def test_every_model_and_relationship_with_aws_amplify(name: str, sandbox_factory: Any) -> None:
    node = require_node_env()
    box = sandbox_factory(FIXTURES / name)
    tokens = add_users(box)
    driver = AmplifyDriver(node, box.outputs_path, lambda: "".join(box.lines[-40:]))
    try:
        report = run_suite(AmplifyBackend(driver, tokens), box.outputs)
    finally:
        driver.close()
    assert len(report.checked) > 20
    assert not report.problems, f"{len(report.problems)} of {len(report.checked)} checks failed:\n" + \
        "\n".join(report.problems)


def test_custom_operations_with_aws_amplify(tmp_path: Path, sandbox_factory: Any) -> None:
    node = require_node_env()
    handlers = tmp_path / "handlers.py"
    handlers.write_text("def echo(event):\n    return {'resultContent': event['arguments']['argumentContent']}\n\n"
                        "def likePostReturnPost(event):\n"
                        "    return {'id': event['arguments']['postId'][0], 'content': 'liked',\n"
                        "            'createdAt': '2024-01-01T00:00:00.000Z',\n"
                        "            'updatedAt': '2024-01-01T00:00:00.000Z'}\n")
    box = sandbox_factory(FIXTURES / "amplify_data_modeled_outputs.json", "--handlers", str(handlers))
    driver = AmplifyDriver(node, box.outputs_path, lambda: "".join(box.lines[-40:]))
    try:
        line = driver.run("custom", kind="query", name="echo", args={"argumentContent": "hi"})
        assert line["result"].get("data") == {"resultContent": "hi"}, json.dumps(line, indent=1)
        line = driver.run("custom", kind="mutation", name="likePost", args={"postId": "p"})
        errors = line["result"].get("errors") or []
        assert errors and "likePost has no handler" in errors[0]["message"], json.dumps(line, indent=1)
        # a custom subscription, following the custom mutation that returns its type
        line = driver.run("subscribe", **{"as": "liked", "custom": "onPostLiked"})
        assert not line["result"].get("errors"), json.dumps(line, indent=1)
        line = driver.run("custom", kind="mutation", name="likePostReturnPost", args={"postId": ["p1"]})
        assert line["result"]["data"]["id"] == "p1", json.dumps(line, indent=1)
        line = driver.run("events", **{"as": "liked"})
        events = line["result"]["data"]
        assert [e["id"] for e in events] == ["p1"] and events[0]["content"] == "liked", json.dumps(line, indent=1)
        driver.run("unsubscribe", **{"as": "liked"})
    finally:
        driver.close()
