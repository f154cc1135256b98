"""API key lifetime: warn before the last valid key expires, and rotate keys with a grace period.

A server does not renew keys by itself (a new key must reach the clients, e.g. in
amplify_outputs.json), so it says so early: at start and every hour it logs a warning when the
last valid key expires within ``WARNING_DAYS``; the same text is served with the service document.
``cove keys rotate`` makes a new key and keeps the older ones valid only for a grace period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cove.schema.model import Schema
from cove.store.base import ApiKey, DatabaseUnavailable, KeyStore

DAY = 86400.0
WARNING_DAYS = 3.0
CHECK_INTERVAL = 3600.0
_log = logging.getLogger("cove.server")


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def api_key_warning(keys: list[ApiKey], now: float, warning_days: float = WARNING_DAYS) -> str | None:
    """A warning when no key outlives the warning window (names key ids, never the keys), or None."""
    valid = [k for k in keys if not k.revoked and k.expires_at > now]
    if not valid:
        return ("every API key has expired or been revoked: requests with an API key are refused; "
                "run `cove keys rotate` and give clients the new key")
    last = max(valid, key=lambda k: k.expires_at)
    left = last.expires_at - now
    if left > warning_days * DAY:
        return None
    return (f"the last valid API key (id {last.id}) expires in {left / DAY:.1f} days, at {_when(last.expires_at)}; "
            "run `cove keys rotate` and give clients the new key")


@dataclass(frozen=True)
class Rotation:
    new: ApiKey
    shortened: list[ApiKey]     # the older keys, now valid until the end of the grace period


async def rotate_api_keys(keys: KeyStore, *, lifetime: float, grace: float, description: str | None = None,
                          now: float | None = None) -> Rotation:
    """Create a key valid for ``lifetime`` seconds; every other valid key stays valid for ``grace`` more
    seconds at most (never longer than it already was)."""
    now = time.time() if now is None else now
    older = [k for k in await keys.api_keys() if not k.revoked and k.expires_at > now]
    new = await keys.create_api_key(expires_at=now + lifetime, description=description or "rotated")
    shortened = []
    for key in older:
        until = min(key.expires_at, now + grace)
        await keys.set_api_key_expiry(key.id, until)
        shortened.append(ApiKey(key.id, key.key, key.description, key.created_at, until, key.revoked))
    return Rotation(new, shortened)


async def ensure_api_key(keys: KeyStore, schema: Schema) -> str:
    """Reuse a key that is valid for at least another day, so the outputs file stays stable."""
    now = time.time()
    for key in reversed(await keys.api_keys()):
        if not key.revoked and key.expires_at > now + DAY:
            return key.key
    days = schema.authorization_modes.api_key_expires_in_days
    created = await keys.create_api_key(expires_at=now + days * DAY,
                                        description=schema.authorization_modes.api_key_description or "sandbox")
    expiring = [k for k in await keys.api_keys() if not k.revoked and now < k.expires_at <= now + DAY]
    if expiring:
        _log.warning(
            "API key %s expires within a day: created API key %s (written to the outputs file); give clients "
            "the new key", expiring[-1].id, created.id)
    return created.key


class ApiKeyWatch:
    """Logs ``api_key_warning`` at start and every ``interval`` seconds, while the schema uses API keys.
    ``warning()`` answers from the keys read last (``refresh``), so it never waits."""

    def __init__(self, keys: KeyStore, uses_api_keys: Callable[[], bool], interval: float = CHECK_INTERVAL) -> None:
        self.keys = keys
        self.uses_api_keys = uses_api_keys
        self.interval = interval
        self._seen: list[ApiKey] | None = None

    async def refresh(self) -> None:
        self._seen = await self.keys.api_keys()

    def warning(self) -> str | None:
        if not self.uses_api_keys() or self._seen is None:
            return None
        return api_key_warning(self._seen, time.time())

    def check(self) -> None:
        warning = self.warning()
        if warning is not None:
            _log.warning("%s", warning)

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except DatabaseUnavailable:
                pass  # the database is away for now: the next round reads the keys again
            else:
                self.check()
            await asyncio.sleep(self.interval)
