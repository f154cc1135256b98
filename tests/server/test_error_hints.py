"""AppSync's error names stay, and a plain-words hint says what went wrong and what to do."""

from __future__ import annotations

import pytest

import cove
from cove.client import NoValidAuthTokensError
from conftest import Sandbox


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_write_to_a_missing_record_says_there_is_none(sandbox: Sandbox, operation: str) -> None:
    client = cove.generate_client(config=sandbox.outputs)
    method = getattr(client.models.Todo, operation)
    result = method({"id": "no-such-id"})
    (error,) = result.errors
    assert error.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert error.message == "The conditional request failed: no Todo record with key id='no-such-id'"


def test_user_pool_request_without_a_token_says_how_to_get_one(sandbox: Sandbox) -> None:
    client = cove.generate_client(config=sandbox.outputs, auth_mode="user_pool")
    with pytest.raises(NoValidAuthTokensError) as raised:
        client.models.Todo.list()
    message = str(raised.value)
    assert message.startswith("No federated jwt: ")  # Amplify's words first
    assert "cove.auth.sign_in(...)" in message and "auth_token=" in message
