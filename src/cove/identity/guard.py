"""Brute-force guards for the identity endpoints: per-address throttles, and the limits of the
per-login lockouts.

The throttles live in this server process's memory, in tables of bounded size (the least recently
seen key is forgotten first), so no stream of invented addresses or logins can grow them without
limit; with ``cove serve --workers N`` each process keeps its own. Wrong passwords, wrong codes and
codes sent are counted in the database instead (see ``Accounts``), so those limits hold across
processes and hosts.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from cove.settings import parse_settings

# Which per-address throttle an operation draws on (X-Amz-Target operation -> AuthLimits field).
THROTTLED = {
    "SignUp": "sign_up_per_minute",
    "InitiateAuth": "sign_in_per_minute",
    "RespondToAuthChallenge": "sign_in_per_minute",
    "ForgotPassword": "code_requests_per_minute",
    "ResendConfirmationCode": "code_requests_per_minute",
    "ConfirmSignUp": "code_requests_per_minute",
    "ConfirmForgotPassword": "code_requests_per_minute",
    "GetId": "get_id_per_minute",
}


@dataclass
class AuthLimits:
    """``cove sandbox|serve --auth-limit NAME=VALUE`` sets any of these; 0 turns a throttle off."""

    #: Requests per client address and minute (a token bucket holding a minute's worth).
    sign_in_per_minute: int = 300
    sign_up_per_minute: int = 100
    code_requests_per_minute: int = 60
    get_id_per_minute: int = 300
    #: Wrong passwords for one login before it locks; each further one doubles the lock (1 s, 2 s, ...).
    password_failures: int = 5
    lockout_max_seconds: int = 900
    #: Wrong tries before a confirmation or reset code stops working.
    code_attempts: int = 5
    #: Codes sent to one user per hour (ForgotPassword, ResendConfirmationCode).
    codes_per_user_per_hour: int = 10
    #: Addresses each of the four throttle tables remembers: about 5 MiB a table when full.
    max_tracked: int = 20_000

    @classmethod
    def parse(cls, items: list[str] | None) -> AuthLimits:
        return parse_settings(cls(), items, "--auth-limit")


class _Bounded:
    """An LRU table: the least recently touched key goes first when it is full."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max(1, max_keys)
        self.entries: OrderedDict[str, list[float]] = OrderedDict()
        self.lock = threading.Lock()

    def touch(self, key: str, default: list[float]) -> list[float]:
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = default
            while len(self.entries) > self.max_keys:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(key)
        return entry


class RateLimiter:
    """A token bucket per key: ``per_period`` requests, refilled evenly over ``period`` seconds."""

    def __init__(self, per_period: int, period: float, max_keys: int) -> None:
        self.capacity = float(per_period)
        self.rate = per_period / period if period else 0.0
        self.table = _Bounded(max_keys)

    def allow(self, key: str) -> bool:
        if self.capacity <= 0:
            return True
        now = time.monotonic()
        with self.table.lock:
            entry = self.table.touch(key, [self.capacity, now])
            entry[0] = min(self.capacity, entry[0] + (now - entry[1]) * self.rate)
            entry[1] = now
            if entry[0] < 1:
                return False
            entry[0] -= 1
            return True


def unknown_login_key(login: str) -> str:
    """The key for a login that names no user: a short digest, so long invented logins cannot swell
    the tables (a known user's key is their username, a UUID)."""
    return "?" + hashlib.blake2b(login.lower().encode(), digest_size=16).hexdigest()


class Guard:
    """One server process's throttles and lockouts (kept across schema reloads)."""

    def __init__(self, limits: AuthLimits | None = None) -> None:
        self.limits = limits = limits or AuthLimits()
        self._throttles = {name: RateLimiter(getattr(limits, name), 60.0, limits.max_tracked)
                           for name in set(THROTTLED.values())}

    def admit(self, operation: str, address: str | None) -> bool:
        """Whether a request for ``operation`` from ``address`` is within its throttle."""
        name = THROTTLED.get(operation)
        return name is None or address is None or self._throttles[name].allow(address)
