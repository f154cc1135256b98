"""Delivering confirmation and password-reset codes: a Python hook, or e-mail over SMTP.

``define_auth(on_send_code=fn)`` is called with a :class:`CodeEvent` for every code the user pool
makes, in the spirit of Cognito's custom message and custom sender triggers. Without a hook,
``COVE_SMTP_HOST`` (and friends) turn on :class:`SmtpSender`, which uses the standard library's
``smtplib``: hooks (SMTP's too) run on a worker thread, so a blocking send costs no event-loop
time and needs no extra dependency.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

# Cognito's trigger sources for the same moments.
TRIGGER_SOURCES = {"sign_up": "CustomMessage_SignUp", "resend_code": "CustomMessage_ResendCode",
                   "forgot_password": "CustomMessage_ForgotPassword",
                   "admin_create_user": "CustomMessage_AdminCreateUser"}
SECURITY_MODES = ("starttls", "tls", "none")


class CodeDeliveryError(Exception):
    """A code could not be delivered (the user pool answers CodeDeliveryFailureException)."""


class DeliveryConfigError(ValueError):
    """The COVE_SMTP_* environment is unusable; the server refuses to start."""


@dataclass(frozen=True)
class CodeEvent:
    """One code to deliver. ``trigger`` is ``"sign_up"``, ``"resend_code"``, ``"forgot_password"`` or
    ``"admin_create_user"`` (then ``code`` is the user's temporary password)."""

    trigger: str
    code: str
    destination: str                 # the e-mail address or phone number
    delivery_medium: str             # "EMAIL" | "SMS"
    username: str
    user_attributes: Mapping[str, str]
    user_pool_id: str

    @property
    def trigger_source(self) -> str:
        """Cognito's name for the trigger, e.g. ``CustomMessage_SignUp``."""
        return TRIGGER_SOURCES[self.trigger]


CodeHook = Callable[[CodeEvent], Any]


async def deliver(hook: CodeHook, event: CodeEvent) -> None:
    """Run a sync or async hook to completion on a worker thread (README: "It runs in a worker thread;
    an async function is awaited there"); any failure becomes CodeDeliveryError."""
    try:
        await asyncio.to_thread(_run_hook, hook, event)
    except CodeDeliveryError:
        raise
    except Exception as exc:
        raise CodeDeliveryError(f"{type(exc).__name__}: {exc}") from exc


def _run_hook(hook: CodeHook, event: CodeEvent) -> None:
    result = hook(event)
    if inspect.isawaitable(result):
        asyncio.run(_wait(result))  # on the worker thread, where no event loop runs


async def _wait(awaitable: Any) -> None:
    await awaitable


def message_text(event: CodeEvent) -> tuple[str, str]:
    """The subject and body of the e-mail for an event."""
    if event.trigger == "forgot_password":
        return "Your password reset code", f"Your password reset code is {event.code}\n"
    if event.trigger == "admin_create_user":
        return "Your temporary password", (f"Your username is {event.destination}\n"
                                           f"Your temporary password is {event.code}\n"
                                           "You will choose a new password when you sign in.\n")
    return "Your verification code", f"Your verification code is {event.code}\n"


@dataclass(frozen=True)
class SmtpSender:
    """An ``on_send_code`` hook that e-mails the code; ``security`` is starttls, tls (SMTPS) or none."""

    host: str
    port: int = 587
    sender: str = "no-reply@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "starttls"
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise DeliveryConfigError(f"SMTP security {self.security!r}: use one of {', '.join(SECURITY_MODES)}")
        if not 0 < self.port < 65536:
            raise DeliveryConfigError(f"SMTP port {self.port} is not a port number")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpSender | None:
        """The sender COVE_SMTP_HOST, _PORT, _FROM, _USERNAME, _PASSWORD, _SECURITY describe, or None."""
        env = os.environ if env is None else env
        host = env.get("COVE_SMTP_HOST", "").strip()
        if not host:
            return None
        security = env.get("COVE_SMTP_SECURITY", "starttls").strip().lower()
        default_port = {"tls": 465, "starttls": 587}.get(security, 25)
        raw_port = env.get("COVE_SMTP_PORT", "").strip()
        try:
            port = int(raw_port) if raw_port else default_port
        except ValueError:
            raise DeliveryConfigError(f"COVE_SMTP_PORT={raw_port!r} is not a number") from None
        return cls(host=host, port=port, sender=env.get("COVE_SMTP_FROM", "").strip() or f"no-reply@{host}",
                   username=env.get("COVE_SMTP_USERNAME") or None, password=env.get("COVE_SMTP_PASSWORD") or None,
                   security=security)

    def __call__(self, event: CodeEvent) -> None:
        if event.delivery_medium != "EMAIL":
            raise CodeDeliveryError("the SMTP sender delivers e-mail only; deliver SMS codes with "
                                    "define_auth(on_send_code=...)")
        subject, body = message_text(event)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = event.destination
        message["Subject"] = subject
        message.set_content(body)
        try:
            self._send(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise CodeDeliveryError(f"SMTP {self.host}:{self.port}: {exc}") from exc

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
