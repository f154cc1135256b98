"""cove.auth (sign-up, sign-in, account functions) and the client's auth modes against a sandbox:
user_pool (with refresh), identity_pool (guest and signed in), iam from the environment, lambda, and
clear errors before anything is sent."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from authkit import PASSWORD, idp
from botocore.exceptions import ClientError
from conftest import EXAMPLES, start_sandbox
from identity.test_user_pool import wait_for_code

import cove
from cove import auth as cove_auth
from cove.client import NoAuthorizationHeaderError, NoCredentialsError, NoValidAuthTokensError, _session

SCHEMA = EXAMPLES / "auth_schema.py"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    b = start_sandbox(tmp_path_factory.mktemp("clientauth"), SCHEMA, "--no-watch")
    yield b
    b.stop()


@pytest.fixture(autouse=True)
def fresh_sessions() -> Iterator[None]:
    _session._sessions.clear()
    yield
    _session._sessions.clear()


def email() -> str:
    return f"c{uuid.uuid4().hex[:10]}@example.com"


def new_user(box: Any) -> str:
    address = email()
    result = cove.auth.sign_up(username=address, password=PASSWORD, config=box.outputs)
    assert result.is_sign_up_complete and result.next_step == "DONE" and result.user_id
    return address


def test_sign_in_with_srp_then_user_pool_mode(box: Any) -> None:
    config = box.outputs
    address = new_user(box)
    result = cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    assert result.is_signed_in and result.next_step == "DONE"
    user = cove.auth.get_current_user(config=config)
    assert user.login_id == address and user.user_id == user.username
    session = cove.auth.fetch_auth_session(config=config)
    assert session.tokens is not None and session.tokens.id_token is not None
    assert session.tokens.id_token.payload["email"] == address
    assert session.user_sub == user.user_id
    with cove.generate_client(config=config, auth_mode="user_pool") as client:
        created = client.models.Note.create({"body": "mine"})
        assert created.errors == [] and created.data.body == "mine"
        assert any(n.id == created.data.id for n in client.models.Note.list().data)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    assert exc.value.name == "UserAlreadyAuthenticatedException"


def test_sign_out_revokes_and_forgets(box: Any) -> None:
    config = box.outputs
    address = new_user(box)
    cove.auth.sign_in(username=address, password=PASSWORD, auth_flow="USER_PASSWORD_AUTH", config=config)
    refresh = cove.auth.fetch_auth_session(config=config).tokens.refresh_token  # type: ignore[union-attr]
    cove.auth.sign_out(config=config)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.get_current_user(config=config)
    assert exc.value.name == "UserUnAuthenticatedException"
    with cove.generate_client(config=config, auth_mode="user_pool") as client, \
            pytest.raises(NoValidAuthTokensError):
        client.models.Note.list()
    with pytest.raises(ClientError):
        idp(box).initiate_auth(ClientId=config["auth"]["user_pool_client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                               AuthParameters={"REFRESH_TOKEN": refresh})


def test_wrong_password_and_unconfirmed(box: Any, sandbox_factory: Any) -> None:
    address = new_user(box)
    with pytest.raises(cove_auth.AuthError) as exc:
        cove.auth.sign_in(username=address, password="Wrong-passw0rd", config=box.outputs)
    assert exc.value.name == "NotAuthorizedException"
    strict = sandbox_factory(SCHEMA, "--no-watch", "--print-codes")
    other = email()
    signed_up = cove.auth.sign_up(username=other, password=PASSWORD, config=strict.outputs)
    assert signed_up.next_step == "CONFIRM_SIGN_UP" and not signed_up.is_sign_up_complete
    assert cove.auth.sign_in(username=other, password=PASSWORD, config=strict.outputs).next_step == "CONFIRM_SIGN_UP"
    code = wait_for_code(strict, "Confirmation code", other)
    assert cove.auth.confirm_sign_up(username=other, confirmation_code=code, config=strict.outputs).is_sign_up_complete
    assert cove.auth.sign_in(username=other, password=PASSWORD, config=strict.outputs).is_signed_in


def test_identity_pool_mode_guest_then_signed_in(box: Any) -> None:
    config = box.outputs
    with cove.generate_client(config=config, auth_mode="identity_pool") as client:
        poster = client.models.Poster.create({"title": "as guest"}, headers={"x-trace": "t1"})
        assert poster.errors == [] and poster.data.title == "as guest"
        denied = client.models.Secret.create({"text": "no"})
        assert denied.data is None and denied.errors[0].error_type == "Unauthorized"
        guest = cove.auth.fetch_auth_session(config=config)
        assert guest.tokens is None and guest.credentials is not None and guest.identity_id
        address = new_user(box)
        cove.auth.sign_in(username=address, password=PASSWORD, config=config)
        secret = client.models.Secret.create({"text": "yes"})
        assert secret.errors == [] and secret.data.text == "yes"
        signed_in = cove.auth.fetch_auth_session(config=config)
        assert signed_in.identity_id == guest.identity_id  # the guest identity was kept
        assert signed_in.credentials != guest.credentials


def test_iam_mode_with_credentials_from_the_environment(sandbox_factory: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    plain = sandbox_factory(None, "--no-watch")  # the bundled example: no define_auth
    out = subprocess.run([sys.executable, "-m", "cove", "iam", "--data-dir", str(plain.data_dir), "create"],
                         capture_output=True, text=True, check=True).stdout
    for line in out.split():
        name, value = line.split("=", 1)
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with cove.generate_client(config=plain.outputs, auth_mode="iam") as client:
        created = client.models.Todo.create({"content": "from a back end"})
        assert created.errors == [] and created.data.content == "from a back end"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with cove.generate_client(config=plain.outputs, auth_mode="iam") as client:
        result = client.models.Todo.list()
        assert result.errors and result.errors[0].error_type == "UnauthorizedException"


def test_missing_credentials_raise_before_sending(box: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    outputs = box.outputs
    no_guests = {**outputs, "auth": {**outputs["auth"], "unauthenticated_identities_enabled": False}}
    cases = [
        (outputs, "user_pool", NoValidAuthTokensError, "No federated jwt"),
        (outputs, "lambda", NoAuthorizationHeaderError, "No auth token specified"),
        (no_guests, "identity_pool", NoCredentialsError, "No credentials"),
        ({k: v for k, v in outputs.items() if k != "auth"}, "iam", NoCredentialsError, "No credentials"),
    ]
    for config, mode, error, message in cases:
        with cove.generate_client(config=config, auth_mode=mode, transport=transport) as client, \
                pytest.raises(error, match=message):
            client.models.Note.list()
    assert sent == []


def test_tokens_are_refreshed_before_they_expire(sandbox_factory: Any) -> None:
    short = sandbox_factory(EXAMPLES / "auth_short_schema.py", "--no-watch")
    config = short.outputs
    address = email()
    cove.auth.sign_up(username=address, password=PASSWORD, config=config)
    cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    first = cove.auth.fetch_auth_session(config=config).tokens
    assert first is not None
    with cove.generate_client(config=config, auth_mode="user_pool") as client:
        assert client.models.Note.create({"body": "1"}).errors == []
        time.sleep(1.6)  # past half of the token's 3 s life: the next call refreshes first
        assert client.models.Note.create({"body": "2"}).errors == []
    second = cove.auth.fetch_auth_session(config=config).tokens
    assert second is not None and second.access_token.token != first.access_token.token
    assert second.refresh_token == first.refresh_token


def test_async_twins(box: Any) -> None:
    config = box.outputs

    async def scenario() -> None:
        address = email()
        assert (await cove.auth.asign_up(username=address, password=PASSWORD, config=config)).is_sign_up_complete
        assert (await cove.auth.asign_in(username=address, password=PASSWORD, config=config)).is_signed_in
        assert (await cove.auth.aget_current_user(config=config)).login_id == address
        session = await cove.auth.afetch_auth_session(config=config)
        assert session.tokens is not None and session.credentials is not None
        async with cove.generate_async_client(config=config, auth_mode="user_pool") as client:
            created = await client.models.Note.create({"body": "async"})
            assert created.errors == [] and created.data.body == "async"
        async with cove.generate_async_client(config=config, auth_mode="identity_pool") as client:
            secret = await client.models.Secret.create({"text": "async"})
            assert secret.errors == [], secret.errors
        await cove.auth.asign_out(config=config)
        async with cove.generate_async_client(config=config, auth_mode="user_pool") as client:
            with pytest.raises(NoValidAuthTokensError):
                await client.models.Note.list()

    asyncio.run(scenario())


def test_endpoints_for_aws_come_from_the_region() -> None:
    outputs = {"version": "1.4", "data": {"url": "https://x.appsync-api.eu-west-1.amazonaws.com/graphql",
                                          "aws_region": "eu-west-1"},
               "auth": {"aws_region": "eu-west-1", "user_pool_id": "eu-west-1_abcdefghi",
                        "user_pool_client_id": "c" * 26, "identity_pool_id": "eu-west-1:x"}}
    pool = _session._Pool.from_config(cove.client.load_config(outputs))
    assert pool.user_pool_endpoint == "https://cognito-idp.eu-west-1.amazonaws.com/"
    assert pool.identity_pool_endpoint == "https://cognito-identity.eu-west-1.amazonaws.com/"
    with pytest.raises(cove.client.ConfigurationError, match="no 'auth' section"):
        cove.auth.sign_in(username="a", password="b", config={"version": "1.4", "data": {"url": "http://x"}})


def test_subscriptions_in_user_pool_and_identity_pool_modes(box: Any) -> None:
    """Real time with the same credentials: JWT in the connection/start headers, SigV4 over
    `/graphql/connect` and each `start` (the server verifies both with cove.wire.sigv4)."""
    config = box.outputs
    address = new_user(box)
    cove.auth.sign_in(username=address, password=PASSWORD, config=config)
    with cove.generate_client(config=config, auth_mode="user_pool") as client:
        with client.models.Note.on_create() as sub:
            made = client.models.Note.create({"body": "live"})
            assert sub.receive(timeout=15).id == made.data.id
        with client.models.Secret.on_create(auth_mode="identity_pool") as sub:
            made = client.models.Secret.create({"text": "live"}, auth_mode="identity_pool")
            assert made.errors == [] and sub.receive(timeout=15).id == made.data.id


# -- account functions: reset_password, confirm_reset_password, update_password, update_user_attributes,
# delete_user (sync and async)

NEW_PASSWORD = "N3w-passw0rd!"


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


def test_async_account_twins(box: Any) -> None:
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
