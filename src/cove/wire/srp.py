"""Cognito's SRP-6a variant (``USER_SRP_AUTH``, aws-amplify's default sign-in flow), server side.

The group is RFC 5054's 3072-bit prime with g = 2; hashes are SHA-256 over Java-style two's
complement hex (:func:`pad_hex`); ``x = H(salt | H(poolName + userId + ":" + password))``; the
session key is HKDF(S, u, "Caldera Derived Key") truncated to 16 bytes; the client proves it with
``HMAC(key, poolName + userId + secretBlock + timestamp)``. At sign-up the server keeps the salt
and verifier ``v = g^x``; it never needs the password again for this flow.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import secrets
import time

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF")
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key\x01"


class SrpError(ValueError):
    pass


def pad_hex(value: int) -> str:
    """Even-length hex with a leading ``00`` when the top bit is set (non-negative values only)."""
    text = format(value, "x")
    if len(text) % 2:
        text = "0" + text
    if text[0] in "89abcdef":
        text = "00" + text
    return text


def hash_hex(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(hash_hex(pad_hex(N) + pad_hex(G)), 16)


def pool_name(user_pool_id: str) -> str:
    return user_pool_id.split("_", 1)[1] if "_" in user_pool_id else ""


def compute_x(salt_hex: str, pool: str, user_id: str, password: str) -> int:
    inner = hashlib.sha256(f"{pool}{user_id}:{password}".encode()).hexdigest()
    return int(hash_hex(pad_hex(int(salt_hex, 16)) + inner), 16)


def make_verifier(pool: str, user_id: str, password: str) -> tuple[str, str]:
    """``(salt_hex, verifier_hex)`` to store for a user."""
    salt = pad_hex(int.from_bytes(secrets.token_bytes(16), "big") | 1)
    v = pow(G, compute_x(salt, pool, user_id, password), N)
    return salt, format(v, "x")


def server_ephemeral(verifier_hex: str) -> tuple[int, int]:
    """``(b, B)``: the server's secret and public values for one sign-in."""
    v = int(verifier_hex, 16)
    while True:
        b = int.from_bytes(secrets.token_bytes(128), "big")
        B = (K * v + pow(G, b, N)) % N
        if B % N:
            return b, B


def _hkdf(ikm: bytes, salt: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, INFO, hashlib.sha256).digest()[:16]


def session_key(A: int, B: int, b: int, verifier_hex: str) -> bytes:
    if A % N == 0:
        raise SrpError("SRP_A mod N cannot be 0")
    u = int(hash_hex(pad_hex(A) + pad_hex(B)), 16)
    if u == 0:
        raise SrpError("u cannot be 0")
    v = int(verifier_hex, 16)
    S = pow(A * pow(v, u, N), b, N)
    return _hkdf(bytes.fromhex(pad_hex(S)), bytes.fromhex(pad_hex(u)))


def signature(key: bytes, pool: str, user_id: str, secret_block_b64: str, timestamp: str) -> str:
    try:
        block = base64.b64decode(secret_block_b64 + "=" * (-len(secret_block_b64) % 4))
    except ValueError:
        raise SrpError("malformed secret block") from None
    msg = pool.encode() + user_id.encode() + block + timestamp.encode()
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


# -- the client side (Cove's Python client, and tests) ---------------------------------------------

def client_ephemeral() -> tuple[int, int]:
    a = int.from_bytes(secrets.token_bytes(128), "big")
    return a, pow(G, a, N)


def client_session_key(a: int, A: int, B: int, salt_hex: str, pool: str, user_id: str, password: str) -> bytes:
    if B % N == 0:
        raise SrpError("SRP_B mod N cannot be 0")
    u = int(hash_hex(pad_hex(A) + pad_hex(B)), 16)
    if u == 0:
        raise SrpError("u cannot be 0")
    x = compute_x(salt_hex, pool, user_id, password)
    S = pow((B - K * pow(G, x, N)) % N, a + u * x, N)
    return _hkdf(bytes.fromhex(pad_hex(S)), bytes.fromhex(pad_hex(u)))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def now_string(now: float | None = None) -> str:
    """``Tue Nov 3 05:04:09 UTC 2026`` (day of month not padded), as Cognito's clients send it."""
    t = time.gmtime(now if now is not None else time.time())
    return (f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday} {t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d} UTC {t.tm_year}")


def parse_timestamp(text: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(text.replace(" UTC ", " "), "%a %b %d %H:%M:%S %Y")))
    except (ValueError, OverflowError):
        return None
