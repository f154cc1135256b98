"""Sign-up policy against real servers: self sign-up off, confirmation required (and `cove serve`'s
default), the on_send_code hook for every code, and the SMTP sender delivering to a real SMTP server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from authkit import PASSWORD, auth_info, idp, sign_in
from botocore.exceptions import ClientError
from conftest import EXAMPLES, Sandbox, free_port, start_sandbox

from cove.identity.delivery import CodeEvent, DeliveryConfigError, SmtpSender

POLICY = EXAMPLES / "auth_policy_schema.py"
ADMIN_ONLY = EXAMPLES / "auth_admin_only_schema.py"
AUTH = EXAMPLES / "auth_schema.py"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Any]:
    started: list[Sandbox] = []

    def start(command: str, schema: Path, *extra: str, env: dict[str, str] | None = None) -> Sandbox:
        folder = tmp_path / f"s{len(started)}"
        folder.mkdir()
        box = start_sandbox(folder, schema, *extra, command=command, env_extra=env)
        started.append(box)
        return box

    yield start  # the hook schema writes codes.jsonl into the server's folder
    for box in started:
        box.stop()


def email() -> str:
    return f"p{uuid.uuid4().hex[:10]}@example.com"


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return str(exc.value.response["Error"]["Code"]), str(exc.value.response["Error"]["Message"])


def codes(box: Sandbox, address: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
    path = box.data_dir.parent / "codes.jsonl"
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        found = [c for c in found if c["destination"] == address]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def iam_keys(box: Sandbox) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-m", "cove", "iam", "--data-dir", str(box.data_dir), "create"],
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]


def test_self_sign_up_off_refuses_sign_up_but_admins_create_users(servers: Any) -> None:
    box = servers("sandbox", ADMIN_ONLY, "--no-watch")
    auth, _ = auth_info(box)
    address = email()
    with pytest.raises(ClientError) as exc:
        idp(box).sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    assert error_of(exc) == ("NotAuthorizedException", "SignUp is not permitted for this user pool")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    admin = idp(box, iam_keys(box))
    created = admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=address,
                                      TemporaryPassword="Temp-passw0rd", MessageAction="SUPPRESS")
    assert created["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    cli = subprocess.run([sys.executable, "-m", "cove", "users", "--data-dir", str(box.data_dir), "add",
                          "second@example.com", "--password", PASSWORD], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert sign_in(box, "second@example.com")["AccessToken"]
    # The refused sign-up left nothing behind: the admin-created user is the only one with that address.
    users = admin.list_users(UserPoolId=auth["user_pool_id"])["Users"]
    assert sorted(u["UserStatus"] for u in users) == ["CONFIRMED", "FORCE_CHANGE_PASSWORD"]
    described = admin.describe_user_pool(UserPoolId=auth["user_pool_id"])["UserPool"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True

    # Without MessageAction the temporary password is delivered (the sandbox prints it); RESEND makes a new one.
    invited = email()
    admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=invited)
    first = printed_password(box, invited)
    challenge = idp(box).initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": invited, "PASSWORD": first})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=invited, MessageAction="RESEND")
    second = printed_password(box, invited, 2)
    assert second != first
    with pytest.raises(ClientError) as exc:
        sign_in(box, invited, first)
    assert error_of(exc)[0] == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username="second@example.com",
                                MessageAction="RESEND")
    assert error_of(exc) == ("UnsupportedUserStateException",
                             f"Resend not possible. {second_sub(admin, auth)} status is not FORCE_CHANGE_PASSWORD.")


def printed_password(box: Sandbox, address: str, count: int = 1, timeout: float = 10.0) -> str:
    pattern = re.compile(rf"Temporary password for {re.escape(address)}: (\S+)")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m.group(1) for line in box.lines if (m := pattern.search(line))]
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no temporary password for {address}:\n" + "".join(box.lines[-20:]))


def second_sub(admin: Any, auth: dict[str, Any]) -> str:
    return str(admin.admin_get_user(UserPoolId=auth["user_pool_id"], Username="second@example.com")["Username"])


def test_hook_receives_sign_up_resend_and_forgot_password_codes(servers: Any) -> None:
    box = servers("sandbox", POLICY, "--no-watch")
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    r = client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    assert r["UserConfirmed"] is False  # require_confirmation=True wins over the sandbox's confirm-at-once
    assert r["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    with pytest.raises(ClientError) as exc:
        sign_in(box, address)
    assert error_of(exc)[0] == "UserNotConfirmedException"
    [first] = codes(box, address)
    assert first["trigger"] == "sign_up" and first["trigger_source"] == "CustomMessage_SignUp"
    assert first["email"] == address and first["username"] == r["UserSub"] and first["medium"] == "EMAIL"
    assert first["pool"] == auth["user_pool_id"]
    assert not any(first["code"] in line for line in box.lines)  # a hook replaces printing

    client.resend_confirmation_code(ClientId=auth["user_pool_client_id"], Username=address)
    resent = codes(box, address, 2)[1]
    assert resent["trigger"] == "resend_code" and resent["trigger_source"] == "CustomMessage_ResendCode"
    with pytest.raises(ClientError) as exc:
        client.confirm_sign_up(ClientId=auth["user_pool_client_id"], Username=address, ConfirmationCode=first["code"]
                               if first["code"] != resent["code"] else "000000x")
    assert error_of(exc)[0] == "CodeMismatchException"
    client.confirm_sign_up(ClientId=auth["user_pool_client_id"], Username=address, ConfirmationCode=resent["code"])
    assert sign_in(box, address)["AccessToken"]

    client.forgot_password(ClientId=auth["user_pool_client_id"], Username=address)
    reset = codes(box, address, 3)[2]
    assert reset["trigger"] == "forgot_password" and reset["trigger_source"] == "CustomMessage_ForgotPassword"
    client.confirm_forgot_password(ClientId=auth["user_pool_client_id"], Username=address,
                                   ConfirmationCode=reset["code"], Password="N3w-passw0rd")
    assert sign_in(box, address, "N3w-passw0rd")["AccessToken"]

    invited = email()
    idp(box, iam_keys(box)).admin_create_user(UserPoolId=auth["user_pool_id"], Username=invited,
                                              TemporaryPassword="Temp-passw0rd1")
    [invitation] = codes(box, invited)
    assert invitation["trigger"] == "admin_create_user" and invitation["code"] == "Temp-passw0rd1"
    assert invitation["trigger_source"] == "CustomMessage_AdminCreateUser"


def test_failed_delivery_is_a_clear_error_and_leaves_nothing_behind(servers: Any) -> None:
    box = servers("sandbox", POLICY, "--no-watch")
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    marker = box.data_dir.parent / "FAIL_DELIVERY"
    marker.touch()
    with pytest.raises(ClientError) as exc:
        client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    code, message = error_of(exc)
    assert code == "CodeDeliveryFailureException" and "relay" not in message  # details stay in the server log
    marker.unlink()
    # The failed sign-up created no user: the same address signs up now.
    r = client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    assert r["UserConfirmed"] is False and codes(box, address)
    # A failed password-reset delivery withdraws the code it made.
    client.confirm_sign_up(ClientId=auth["user_pool_client_id"], Username=address,
                           ConfirmationCode=codes(box, address)[0]["code"])
    marker.touch()
    with pytest.raises(ClientError) as exc:
        client.forgot_password(ClientId=auth["user_pool_client_id"], Username=address)
    assert error_of(exc)[0] == "CodeDeliveryFailureException"
    marker.unlink()
    with pytest.raises(ClientError) as exc:
        client.confirm_forgot_password(ClientId=auth["user_pool_client_id"], Username=address,
                                       ConfirmationCode="123456", Password="N3w-passw0rd")
    assert error_of(exc)[0] == "CodeMismatchException"
    # An invitation that cannot be delivered creates no user.
    admin = idp(box, iam_keys(box))
    invited = email()
    marker.touch()
    with pytest.raises(ClientError) as exc:
        admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=invited)
    assert error_of(exc)[0] == "CodeDeliveryFailureException"
    marker.unlink()
    assert admin.admin_create_user(UserPoolId=auth["user_pool_id"], Username=invited)["User"]["Username"]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def wait_for_mail(inbox: _Inbox, address: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for to, m in inbox.messages if address in to]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no mail for {address}; got {inbox.messages}")


def test_serve_requires_confirmation_by_default_and_smtp_delivers_codes(servers: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    env = {"COVE_SMTP_HOST": "127.0.0.1", "COVE_SMTP_PORT": str(controller.port), "COVE_SMTP_SECURITY": "none",
           "COVE_SMTP_FROM": "Cove <auth@cove.test>"}
    box = servers("serve", AUTH, env=env)
    auth, _ = auth_info(box)
    client = idp(box)
    address = email()
    r = client.sign_up(ClientId=auth["user_pool_client_id"], Username=address, Password=PASSWORD)
    assert r["UserConfirmed"] is False  # production: no confirm-at-once unless define_auth says so
    [mail] = wait_for_mail(inbox, address)
    assert mail["From"] == "Cove <auth@cove.test>" and mail["To"] == address
    assert mail["Subject"] == "Your verification code"
    code = mail.get_payload().split()[-1]
    assert len(code) == 6 and code.isdigit()
    assert not any(code in line for line in box.lines)  # `cove serve` never prints codes
    client.confirm_sign_up(ClientId=auth["user_pool_client_id"], Username=address, ConfirmationCode=code)
    assert sign_in(box, address)["AccessToken"]
    client.forgot_password(ClientId=auth["user_pool_client_id"], Username=address)
    reset = wait_for_mail(inbox, address, 2)[1]
    assert reset["Subject"] == "Your password reset code"
    invited = email()
    idp(box, iam_keys(box)).admin_create_user(UserPoolId=auth["user_pool_id"], Username=invited)
    [invitation] = wait_for_mail(inbox, invited)
    assert invitation["Subject"] == "Your temporary password"
    temporary = invitation.get_payload(decode=True).decode().split("temporary password is ")[1].split()[0]
    challenge = client.initiate_auth(ClientId=auth["user_pool_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": invited, "PASSWORD": temporary})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_serve_without_any_delivery_warns_and_refuses_sign_up_cleanly(servers: Any) -> None:
    box = servers("serve", AUTH, env={"COVE_SMTP_HOST": ""})
    assert any("none can be delivered" in line for line in box.lines)
    auth, _ = auth_info(box)
    with pytest.raises(ClientError) as exc:
        idp(box).sign_up(ClientId=auth["user_pool_client_id"], Username=email(), Password=PASSWORD)
    assert error_of(exc)[0] == "CodeDeliveryFailureException"


def test_bad_smtp_environment_stops_the_server_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "cove", "serve", str(AUTH), "--port", str(free_port()),
                             "--data-dir", str(tmp_path / "d"), "--outputs", str(tmp_path / "o.json")],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={**os.environ, "COVE_SMTP_HOST": "mail.example", "COVE_SMTP_PORT": "smtp"})
    assert result.returncode == 2
    assert "COVE_SMTP_PORT='smtp' is not a number" in result.stderr


def test_smtp_sender_configuration_from_environment() -> None:
    assert SmtpSender.from_env({}) is None
    sender = SmtpSender.from_env({"COVE_SMTP_HOST": "mail.example", "COVE_SMTP_SECURITY": "tls",
                                  "COVE_SMTP_USERNAME": "u", "COVE_SMTP_PASSWORD": "secret"})
    assert sender is not None and sender.port == 465 and sender.sender == "no-reply@mail.example"
    assert "secret" not in repr(sender)
    with pytest.raises(DeliveryConfigError, match="use one of starttls, tls, none"):
        SmtpSender.from_env({"COVE_SMTP_HOST": "mail.example", "COVE_SMTP_SECURITY": "ssl3"})
    sms = CodeEvent("sign_up", "123456", "+15550001111", "SMS", "u", {}, "pool")
    from cove.identity.delivery import CodeDeliveryError

    with pytest.raises(CodeDeliveryError, match="e-mail only"):
        SmtpSender("127.0.0.1", 25, security="none")(sms)
