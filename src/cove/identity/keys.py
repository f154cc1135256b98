"""The user pool's RS256 signing keys, kept as PEM files in the data directory.

``<data_dir>/keys/<kid>.pem`` (mode 0600); the newest file signs, every file verifies, so a key
rotated with :meth:`KeyRing.rotate` keeps earlier tokens valid until they expire. The public halves
are served as a JWKS document.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cove.private_files import private_dir


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public.public_numbers()
        return {"alg": "RS256", "e": _b64(numbers.e), "kid": self.kid, "kty": "RSA", "n": _b64(numbers.n),
                "use": "sig"}


class KeyRing:
    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.keys: list[SigningKey] = []
        self._by_kid: dict[str, rsa.RSAPublicKey] = {}
        self._loaded_at = 0.0
        self.load()
        if not self.keys:
            self.rotate()

    def load(self) -> None:
        keys = []
        if self.folder.is_dir():
            files = sorted(self.folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime_ns, p.name))
            for path in files:
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
                if isinstance(private, rsa.RSAPrivateKey):
                    keys.append(SigningKey(path.stem, private))
        self.keys = keys
        self._loaded_at = time.monotonic()
        self._by_kid = {k.kid: k.public for k in keys}

    def rotate(self) -> SigningKey:
        """Create a new signing key; earlier keys keep verifying."""
        private_dir(self.folder)
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        tmp = self.folder / f".{kid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, self.folder / f"{kid}.pem")
        self.load()
        return self.current

    @property
    def current(self) -> SigningKey:
        return self.keys[-1]

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        key = self._by_kid.get(kid)
        if key is None and time.monotonic() - self._loaded_at > 5.0:  # another process may have rotated
            self.load()
            key = self._by_kid.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in reversed(self.keys)]}
