"""The user pool's signing keys in the database, on SQLite and PostgreSQL: the newest key signs, a
rotation by one process is used and accepted by the others, retired keys verify until their tokens
expire, the first key is made once however many processes start at once, a data directory's
``keys/*.pem`` from before the upgrade is imported, and damaged rows or unknown kids are refused."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from identity_stores import BACKENDS, open_identity_store, raw_execute, second_store

from cove.identity import keys as keys_module
from cove.identity.keys import CLOCK_MARGIN, KeyRing, new_stored_key, rotate_signing_key
from cove.identity.tokens import TokenError, UserPoolTokens
from cove.store.identity_state import IdentityStore, StoredSigningKey
from cove.store.sqlite.identity import SQLiteIdentityStore

pytestmark = pytest.mark.anyio
ISSUER = "https://cove.example/cognito-idp/us-east-1_test"
PRE_UPGRADE_KEYS = Path(__file__).parent / "fixtures" / "pre_upgrade_keys"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async with open_identity_store(request.param, tmp_path) as opened:
        yield opened


def tokens(ring: KeyRing, validity: int = 3600) -> UserPoolTokens:
    return UserPoolTokens(ring, issuer=ISSUER, client_id="client", access_validity=validity, id_validity=validity)


async def issue(ring: KeyRing, validity: int = 3600) -> str:
    access, _, _ = await tokens(ring, validity).issue(sub="sub-ada", username="ada", groups=[], attributes={},
                                                      origin_jti="o", auth_time=int(time.time()))
    return access


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_the_first_open_makes_one_key_and_later_opens_use_it(store: IdentityStore, tmp_path: Path) -> None:
    ring = await KeyRing.open(store)
    assert [k.kid for k in await store.signing_keys()] == [ring.current.kid]
    async with second_store(store, tmp_path) as other:
        again = await KeyRing.open(other)
        assert again.current.kid == ring.current.kid
        assert (await tokens(again).verify(await issue(ring)))["sub"] == "sub-ada"
    jwks = ring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [ring.current.kid] and "d" not in jwks["keys"][0]


async def test_rings_opened_at_once_on_two_connections_share_one_key(store: IdentityStore, tmp_path: Path) -> None:
    async with second_store(store, tmp_path) as other:
        rings = await asyncio.gather(KeyRing.open(store), KeyRing.open(other), KeyRing.open(store))
    assert len({r.current.kid for r in rings}) == 1
    assert len(await store.signing_keys()) == 1


async def test_a_rotation_by_another_process_is_accepted_at_once_and_used_when_stale(
        store: IdentityStore, tmp_path: Path) -> None:
    here = await KeyRing.open(store)
    before = await issue(here)
    async with second_store(store, tmp_path) as other:
        there = await KeyRing.open(other)
        new = await rotate_signing_key(other)
        await there.load()
        after = await issue(there)
    assert kid_of(after) == new.kid != kid_of(before)
    # This process has not re-read its keys: the unknown kid makes it (no waiting for RELOAD_EVERY).
    assert (await tokens(here).verify(after))["sub"] == "sub-ada"
    assert (await tokens(here).verify(before))["sub"] == "sub-ada"   # retired, its tokens still live
    # It keeps signing with the old key until its ring is stale, then with the new one.
    here._loaded_at -= 5.0   # a miss reloaded it just now: the new key is known already
    assert kid_of(await issue(here)) == new.kid
    assert [k["kid"] for k in here.jwks()["keys"]] == [new.kid, kid_of(before)]


async def test_a_stale_ring_re_reads_before_signing(store: IdentityStore, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    here = await KeyRing.open(store)
    old = here.current.kid
    async with second_store(store, tmp_path) as other:
        new = await rotate_signing_key(other)
    assert kid_of(await issue(here)) == old          # read less than RELOAD_EVERY ago
    monkeypatch.setattr(keys_module, "RELOAD_EVERY", 0.0)
    assert kid_of(await issue(here)) == new.kid


async def test_a_token_of_a_key_retired_longer_than_a_token_lives_is_refused(store: IdentityStore) -> None:
    ring = await KeyRing.open(store, token_lifetime=3600)
    current = ring.current
    # An old key retired just long enough ago that every token it signed has expired...
    old = new_stored_key(time.time() - 10_000)
    retired = StoredSigningKey(old.kid, old.pem, old.created_at, time.time() - 3600 - CLOCK_MARGIN - 1)
    # ...and one retired recently.
    recent_new = new_stored_key(time.time() - 500)
    recent = StoredSigningKey(recent_new.kid, recent_new.pem, recent_new.created_at, time.time() - 100)
    await store.add_signing_key(retired)
    await store.add_signing_key(recent)
    await ring.load()
    assert ring.current.kid == current.kid
    verifier = tokens(ring)
    signer = tokens(ring)
    by_old = signer.sign(next(k for k in ring.keys if k.kid == old.kid), sub="s", username="u", groups=[],
                         attributes={}, origin_jti="o", auth_time=1)[0]
    by_recent = signer.sign(next(k for k in ring.keys if k.kid == recent.kid), sub="s", username="u", groups=[],
                            attributes={}, origin_jti="o", auth_time=1)[0]
    with pytest.raises(TokenError, match="unknown signing key"):
        await verifier.verify(by_old)   # its exp is still in the future, but its key's time is over
    assert (await verifier.verify(by_recent))["sub"] == "s"
    assert {k["kid"] for k in ring.jwks()["keys"]} == {current.kid, recent.kid}


async def test_unknown_kids_are_refused_and_re_read_at_most_once_a_gap(store: IdentityStore,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ring = await KeyRing.open(store)
    good = await issue(ring)
    counted = CountingStore(store)
    ring.store = counted
    monkeypatch.setattr(keys_module, "MISS_RELOAD_GAP", 0.3)
    header, payload, signature = good.split(".")
    forged = []
    for kid in ("20991231235959-deadbeef", "nope", "x" * 5000, "../../etc/passwd", "' OR 1=1 --", ""):
        head = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode()).decode()
        forged.append(f"{head}.{payload}.{signature}")
    started = time.monotonic()
    results = await asyncio.gather(*(tokens(ring).verify(t) for t in forged * 5), return_exceptions=True)
    assert all(isinstance(r, TokenError) and "unknown signing key" in str(r) for r in results), results
    # 30 refusals, two plausible kids among them: the concurrent misses shared one re-read, at most 2 in all
    assert 1 <= counted.reads <= 2 and time.monotonic() - started < 2.0
    assert (await tokens(ring).verify(good))["sub"] == "sub-ada"


async def test_a_damaged_or_swapped_key_row_never_signs_or_verifies(store: IdentityStore) -> None:
    ring = await KeyRing.open(store)
    first = ring.current.kid
    token = await issue(ring)
    # Someone with write access to the database swaps the current key's PEM for garbage.
    await raw_execute(store, "UPDATE _cove_signing_keys SET pem = 'not a key' WHERE kid = $1", first)
    fresh = await KeyRing.open(store)   # another process starting now: ignores the row, makes a new key
    assert fresh.current.kid != first
    with pytest.raises(TokenError, match="unknown signing key"):
        await tokens(fresh).verify(token)
    # A small or non-RSA key is refused too; a swapped-in valid key does not verify the old tokens.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def pem(private: Any) -> str:
        return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    await store.add_signing_key(StoredSigningKey("weak", pem(weak), time.time() + 10), retire_others=True)
    await store.add_signing_key(StoredSigningKey("curve", pem(ec.generate_private_key(ec.SECP256R1())),
                                                 time.time() + 20))
    signer = fresh.current.kid
    by_original = await issue(fresh)
    await raw_execute(store, "UPDATE _cove_signing_keys SET pem = $2 WHERE kid = $1", signer,
                      new_stored_key().pem)
    other = await KeyRing.open(store)
    # weak and curve are unusable, so no unretired key can sign: the ring made a new one
    usable = {k.kid for k in other.keys}
    assert signer in usable and not usable & {first, "weak", "curve"}
    assert other.current.kid not in (first, signer, "weak", "curve")
    with pytest.raises(TokenError, match="signature"):
        await tokens(other).verify(by_original)   # the kid's row holds another key now


async def test_rotate_signing_key_keeps_earlier_tokens_until_they_expire(store: IdentityStore) -> None:
    ring = await KeyRing.open(store, token_lifetime=2)
    before = await issue(ring, validity=2)
    new = await rotate_signing_key(store)
    stored = {k.kid: k for k in await store.signing_keys()}
    assert stored[new.kid].retired_at is None and stored[kid_of(before)].retired_at == new.created_at
    assert kid_of(await issue(ring)) == kid_of(before)   # this process has not re-read yet
    await ring.load()
    assert kid_of(await issue(ring)) == new.kid
    assert (await tokens(ring).verify(before))["sub"] == "sub-ada"


# -- data directories from before the keys moved into the database ----------------------------------

def pre_upgrade_data_dir(tmp_path: Path) -> Path:
    """A data directory as older versions left it: two PEM files (the newer one signing)."""
    data_dir = tmp_path / "data"
    shutil.copytree(PRE_UPGRADE_KEYS, data_dir / "keys")
    for i, path in enumerate(sorted((data_dir / "keys").glob("*.pem"))):
        os.utime(path, (1_700_000_000 + i * 1000, 1_700_000_000 + i * 1000))
    return data_dir


def pre_upgrade_token(kid: str, *, exp: float) -> str:
    private = (PRE_UPGRADE_KEYS / f"{kid}.pem").read_bytes()
    claims = {"sub": "sub-old", "iss": ISSUER, "client_id": "client", "token_use": "access", "username": "old",
              "iat": int(time.time()) - 60, "exp": int(exp), "auth_time": 1, "origin_jti": "o"}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


async def test_pre_upgrade_keys_are_imported_once_and_their_tokens_verify(tmp_path: Path) -> None:
    data_dir = pre_upgrade_data_dir(tmp_path)
    older, newer = sorted(p.stem for p in PRE_UPGRADE_KEYS.glob("*.pem"))
    store = SQLiteIdentityStore(data_dir / "data.sqlite")
    try:
        ring = await KeyRing.open(store)
        assert ring.current.kid == newer and len(await store.signing_keys()) == 2
        verifier = tokens(ring)
        for kid in (older, newer):
            assert (await verifier.verify(pre_upgrade_token(kid, exp=time.time() + 600)))["sub"] == "sub-old"
        with pytest.raises(TokenError, match="expired"):
            await verifier.verify(pre_upgrade_token(newer, exp=time.time() - 600))
        stored = {k.kid: k for k in await store.signing_keys()}
        assert stored[newer].retired_at is None and stored[older].retired_at is not None
        assert stored[newer].created_at == 1_700_001_000
    finally:
        await store.close()
    # Once imported, the files are not read again: a later file (or one put back) is not trusted.
    (data_dir / "keys" / "20991231000000-ffffffff.pem").write_text(new_stored_key().pem)
    again = SQLiteIdentityStore(data_dir / "data.sqlite")
    try:
        assert [k.kid for k in await again.signing_keys()] == [older, newer]
    finally:
        await again.close()


async def test_a_damaged_pre_upgrade_file_is_skipped(tmp_path: Path) -> None:
    data_dir = pre_upgrade_data_dir(tmp_path)
    (data_dir / "keys" / "20261120000000-00000000.pem").write_bytes(b"\xff\xfe not ascii")
    (data_dir / "keys" / "20261121000000-00000000.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n")
    store = SQLiteIdentityStore(data_dir / "data.sqlite")
    try:
        ring = await KeyRing.open(store)
        # the readable-but-broken newest file was imported, is unusable, so a fresh key signs
        assert ring.current.kid not in {p.stem for p in (data_dir / "keys").glob("*.pem")}
        newer = sorted(p.stem for p in PRE_UPGRADE_KEYS.glob("*.pem"))[-1]
        assert (await tokens(ring).verify(pre_upgrade_token(newer, exp=time.time() + 60)))["sub"] == "sub-old"
    finally:
        await store.close()


# -- separate processes ------------------------------------------------------------------------------

_OPEN_RING = """
import asyncio, sys, time
sys.path.insert(0, {tests!r})
from cove.identity.keys import KeyRing

async def main():
    kind, where = sys.argv[1], sys.argv[2]
    if kind == "sqlite":
        from cove.store.sqlite.identity import SQLiteIdentityStore
        store = SQLiteIdentityStore(where)
        ring = await KeyRing.open(store)
        await store.close()
    else:
        from identity_stores import postgres_store
        async with postgres_store(where) as store:
            ring = await KeyRing.open(store)
    print(ring.current.kid)

time.sleep(max(0.0, float(sys.argv[3]) - time.time()))   # start together
asyncio.run(main())
"""


@pytest.mark.parametrize("kind", BACKENDS)
def test_processes_starting_at_once_end_with_one_signing_key(kind: str, tmp_path: Path) -> None:
    from pg_support import fresh_postgres_url

    where = str(tmp_path / "data.sqlite") if kind == "sqlite" else fresh_postgres_url("rings")
    script = _OPEN_RING.format(tests=str(Path(__file__).parents[1]))
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", script, kind, where, str(start)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    kids = {out.strip() for out, _ in outputs}
    assert len(kids) == 1, kids


class CountingStore:
    """An identity store that counts how often the signing keys are read."""

    def __init__(self, inner: IdentityStore) -> None:
        self.inner = inner
        self.reads = 0

    async def signing_keys(self) -> list[StoredSigningKey]:
        self.reads += 1
        return await self.inner.signing_keys()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
