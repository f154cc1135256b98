"""The user pool's RS256 signing keys, kept in the database (``IdentityStore.signing_keys``).

Every process of a database shares them: the newest unretired key signs; a rotation
(:func:`rotate_signing_key`, from any process) adds a key and retires the others, which keep verifying
the tokens they signed until those expire (``retired_at`` + the longest token lifetime). A process
re-reads the keys every :data:`RELOAD_EVERY` seconds, and at once (at most once a
:data:`MISS_RELOAD_GAP`) when a token names a kid it does not know, so a rotation made on one host is
used and accepted by all. The first process to start creates the first key, race-free
(``add_first_signing_key``). The public halves are served as a JWKS document.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cove.store.identity_state import IdentityStore, StoredSigningKey

RELOAD_EVERY = 60.0        # seconds: how soon a rotation made by another process is used here
MISS_RELOAD_GAP = 1.0      # seconds between reloads caused by unknown kids (each waits for the next one)
CLOCK_MARGIN = 60.0        # seconds a retired key verifies past its tokens' lifetime (clock skew between hosts)
MIN_KEY_BITS = 2048
# Kids Cove makes (and any sane kid): a token naming anything else is refused without a reload.
_PLAUSIBLE_KID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_log = logging.getLogger("cove.identity")


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey
    created_at: float = 0.0
    retired_at: float | None = None

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public.public_numbers()
        return {"alg": "RS256", "e": _b64(numbers.e), "kid": self.kid, "kty": "RSA", "n": _b64(numbers.n),
                "use": "sig"}


def new_stored_key(now: float | None = None) -> StoredSigningKey:
    """A fresh 2048-bit RSA key as stored (a kid that sorts by creation time, then random)."""
    when = time.time() if now is None else now
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = time.strftime("%Y%m%d%H%M%S", time.gmtime(when)) + "-" + secrets.token_hex(4)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    return StoredSigningKey(kid, pem, when)


async def rotate_signing_key(store: IdentityStore) -> StoredSigningKey:
    """A new signing key for every process of the database (each uses it within RELOAD_EVERY s and
    accepts its tokens at once); the previous keys verify until their tokens expire. For the CLI."""
    key = await asyncio.to_thread(new_stored_key)
    await store.add_signing_key(key, retire_others=True)
    return key


class KeyRing:
    """The keys of one database as this process last read them. Build with ``await KeyRing.open(store)``."""

    def __init__(self, store: IdentityStore, *, token_lifetime: float = 3600.0) -> None:
        self.store = store
        #: The longest lifetime of a token this pool issues: how long a retired key keeps verifying.
        self.token_lifetime = token_lifetime
        self.keys: list[SigningKey] = []          # usable keys, oldest first (retired ones included)
        self._parsed: dict[tuple[str, str], SigningKey | None] = {}   # (kid, pem) -> key; None: unusable
        self._loaded_at = float("-inf")            # time.monotonic() when the last load began
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._unretired_rows = 0                   # as last read, usable or not

    @classmethod
    async def open(cls, store: IdentityStore, *, token_lifetime: float = 3600.0) -> KeyRing:
        """The database's keys; the first process to open them creates the first one."""
        ring = cls(store, token_lifetime=token_lifetime)
        await ring.load()
        if ring._signer() is None:
            await ring._replace_signer()
        return ring

    async def _replace_signer(self) -> None:
        """No usable key may sign: add one (the first, race-free; or, when the unretired ones are
        unusable, a rotation that retires them)."""
        new = await asyncio.to_thread(new_stored_key)
        # Decide on one fresh read: another process may have just added a usable key.
        await self.load()
        if self._signer() is not None:
            return
        if self._unretired_rows:
            await self.store.add_signing_key(new, retire_others=True)   # they are all unusable: replace them
        else:
            await self.store.add_first_signing_key(new)   # False: another process's came first; use it
        await self.load()
        if self._signer() is None:
            raise RuntimeError("the user pool has no usable signing key")  # only if every write was undone

    async def load(self) -> None:
        """Read the keys again (parsing only the ones not seen before)."""
        self._loaded_at = time.monotonic()
        usable = []
        rows = await self.store.signing_keys()
        self._unretired_rows = sum(1 for k in rows if k.retired_at is None)
        for stored in rows:
            cache_key = (stored.kid, stored.pem)
            if cache_key not in self._parsed:
                self._parsed[cache_key] = _parse(stored)
            parsed = self._parsed[cache_key]
            if parsed is not None:
                # the retirement may have changed since it was parsed
                usable.append(SigningKey(parsed.kid, parsed.private, stored.created_at, stored.retired_at))
        self.keys = usable

    def verifies(self, key: SigningKey, now: float | None = None) -> bool:
        """An unretired key, or a retired one whose tokens may not have expired yet."""
        if key.retired_at is None:
            return True
        return (time.time() if now is None else now) < key.retired_at + self.token_lifetime + CLOCK_MARGIN

    def _signer(self) -> SigningKey | None:
        signing = [k for k in self.keys if k.retired_at is None]
        return signing[-1] if signing else None

    @property
    def current(self) -> SigningKey:
        """The key that signs, as last loaded (``await signing_key()`` re-reads when stale)."""
        key = self._signer()
        if key is None:
            raise RuntimeError("the user pool has no signing key: open the ring with KeyRing.open")
        return key

    async def signing_key(self) -> SigningKey:
        """The newest unretired key, re-read when the last read is older than RELOAD_EVERY."""
        await self._refresh_if_stale()
        if self._signer() is None:   # retired by another process without a successor, or tampered with
            await self._replace_signer()
        return self.current

    async def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The key that verifies tokens of ``kid``, or None (unknown, or retired past its tokens' lifetime)."""
        await self._refresh_if_stale()
        key = self._find(kid)
        if key is None and _PLAUSIBLE_KID.fullmatch(kid):
            await self._reload_after(time.monotonic(), MISS_RELOAD_GAP)   # another process may have rotated
            key = self._find(kid)
        return key.public if key is not None and self.verifies(key) else None

    def _find(self, kid: str) -> SigningKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    async def _refresh_if_stale(self) -> None:
        if time.monotonic() - self._loaded_at < RELOAD_EVERY:
            return
        try:
            await self._reload_after(time.monotonic() - RELOAD_EVERY, 0.0)
        except Exception as exc:  # the database is down: keep verifying and signing with the keys read last
            _log.warning("could not re-read the signing keys (%s); using the ones read before", exc)

    async def _reload_after(self, asked_at: float, gap: float) -> None:
        """Make sure a load that began at or after ``asked_at`` has finished: concurrent callers share
        one, and loads are at least ``gap`` seconds apart."""
        async with self._loop_lock():
            if self._loaded_at >= asked_at:
                return
            wait = self._loaded_at + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await self.load()

    def _loop_lock(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one loop; Cove opens the ring in one loop and serves in another.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    def jwks(self) -> dict[str, object]:
        """The public halves of the keys that verify, newest first."""
        now = time.time()
        return {"keys": [k.jwk() for k in reversed(self.keys) if self.verifies(k, now)]}

    async def current_jwks(self) -> dict[str, object]:
        """``jwks()`` after re-reading the keys when stale (another process may have rotated)."""
        await self._refresh_if_stale()
        return self.jwks()


def _parse(stored: StoredSigningKey) -> SigningKey | None:
    """The stored key, or None (logged) when it is not a usable RSA private key: a damaged or
    tampered row never signs or verifies, and never stops the others from working."""
    try:
        private = serialization.load_pem_private_key(stored.pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        _log.warning("signing key %r in the database is not a PEM private key (%s); ignored", stored.kid, exc)
        return None
    if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < MIN_KEY_BITS:
        _log.warning("signing key %r in the database is not an RSA key of %d bits or more; ignored",
                     stored.kid, MIN_KEY_BITS)
        return None
    return SigningKey(stored.kid, private, stored.created_at, stored.retired_at)
