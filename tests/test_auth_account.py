"""cove.auth's account functions (reset_password, confirm_reset_password, update_password,
update_user_attributes, delete_user), sync and async, against a sandbox's user pool."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from authkit import PASSWORD, idp
from conftest import EXAMPLES, start_sandbox
from test_user_pool import wait_for_code

import cove
from cove import auth as cove_auth

SCHEMA = EXAMPLES / "auth_schema.py"
NEW_PASSWORD = "N3w-passw0rd!"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("account"), SCHEMA, "--no-watch")
    yield b
    b.stop()


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    cove_auth._sessions.clear()
    yield
    cove_auth._sessions.clear()


def new_user(box: Any) -> str:
    address = f"a{uuid.uuid4().hex[:10]}@example.com"
    assert cove.auth.sign_up(username=address, password=PASSWORD, config=box.outputs).is_sign_up_complete
    return address


def attributes_of(box: Any) -> dict[str, str]:
    token = cove.auth.fetch_auth_session(config=box.outputs).tokens.access_token.token  # type: ignore[union-attr]
    return {a["Name"]: a["Value"] for a in idp(box).get_user(AccessToken=token)["UserAttributes"]}


def test_reset_password_with_the_delivered_code(box: Any) -> None:
    config = box.outputs
    address = new_user(box)
    started = cove.auth.reset_password(username=address, config=config)
    assert not started.is_password_reset and started.next_step == "CONFIRM_RESET_PASSWORD_WITH_CODE"
    assert started.code_delivery_details == {"Destination": f"{address[0]}***@e***", "DeliveryMedium": "EMAIL",
                                             "AttributeName": "email"}
    code = wait_for_code(box, "Password reset code", address)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.confirm_reset_password(username=address, confirmation_code="000000" if code != "000000" else "1",
                                         new_password=NEW_PASSWORD, config=config)
    assert exc.value.name == "CodeMismatchException"
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.confirm_reset_password(username=address, confirmation_code=code, new_password="short",
                                         config=config)
    assert exc.value.name == "InvalidPasswordException"
    cove.auth.confirm_reset_password(username=address, confirmation_code=code, new_password=NEW_PASSWORD,
                                     config=config)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    assert exc.value.name == "NotAuthorizedException"
    assert cove.auth.sign_in(username=address, password=NEW_PASSWORD, config=config).is_signed_in
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.reset_password(username="nobody@example.com", config=config)
    assert exc.value.name == "UserNotFoundException"


def test_update_password_attributes_and_delete_user(box: Any) -> None:
    config = box.outputs
    address = new_user(box)
    cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.update_password(old_password="Wrong-passw0rd", new_password=NEW_PASSWORD, config=config)
    assert exc.value.name == "NotAuthorizedException"
    cove.auth.update_password(old_password=PASSWORD, new_password=NEW_PASSWORD, config=config)

    results = cove.auth.update_user_attributes(user_attributes={"name": "Ada", "locale": "en"}, config=config)
    assert set(results) == {"name", "locale"}
    assert all(r.is_updated and r.next_step == "DONE" for r in results.values())
    attrs = attributes_of(box)
    assert attrs["name"] == "Ada" and attrs["locale"] == "en" and attrs["email"] == address

    cove.auth.sign_out(config=config)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    assert exc.value.name == "NotAuthorizedException"
    cove.auth.sign_in(username=address, password=NEW_PASSWORD, config=config)

    cove.auth.delete_user(config=config)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.get_current_user(config=config)
    assert exc.value.name == "UserUnAuthenticatedException"
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.sign_in(username=address, password=NEW_PASSWORD, config=config)
    assert exc.value.name in ("NotAuthorizedException", "UserNotFoundException")
    assert cove.auth.sign_up(username=address, password=PASSWORD, config=config).is_sign_up_complete


def test_signed_in_functions_need_a_session(box: Any) -> None:
    config = box.outputs
    for call in (lambda: cove.auth.update_password(old_password=PASSWORD, new_password=NEW_PASSWORD, config=config),
                 lambda: cove.auth.update_user_attributes(user_attributes={"name": "x"}, config=config),
                 lambda: cove.auth.delete_user(config=config)):
        with pytest.raises(cove_auth.AuthError) as exc:
            call()
        assert exc.value.name == "UserUnAuthenticatedException"


def test_async_twins(box: Any) -> None:
    config = box.outputs
    address = new_user(box)

    async def scenario() -> None:
        started = await cove.auth.areset_password(username=address, config=config)
        assert started.next_step == "CONFIRM_RESET_PASSWORD_WITH_CODE"
        code = await asyncio.to_thread(wait_for_code, box, "Password reset code", address)
        await cove.auth.aconfirm_reset_password(username=address, confirmation_code=code, new_password=NEW_PASSWORD,
                                                config=config)
        assert (await cove.auth.asign_in(username=address, password=NEW_PASSWORD, config=config)).is_signed_in
        await cove.auth.aupdate_password(old_password=NEW_PASSWORD, new_password=PASSWORD, config=config)
        results = await cove.auth.aupdate_user_attributes(user_attributes={"nickname": "ada"}, config=config)
        assert results["nickname"].is_updated
        with pytest.raises(cove_auth.AuthError) as exc:
            await cove.auth.aupdate_user_attributes(user_attributes={"email": "other@example.com"}, config=config)
        assert exc.value.name == "InvalidParameterException"
        await cove.auth.adelete_user(config=config)
        with pytest.raises(cove_auth.AuthError) as exc:
            await cove.auth.asign_in(username=address, password=PASSWORD, config=config)
        assert exc.value.name in ("NotAuthorizedException", "UserNotFoundException")

    asyncio.run(scenario())
