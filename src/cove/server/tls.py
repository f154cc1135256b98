"""A local certificate authority and server certificate for ``cove sandbox --tls``.

The stock aws-amplify client only opens ``wss://`` real-time connections, so a sandbox that serves
it subscriptions must speak TLS. ``--tls`` makes (once) a private CA and a server certificate
signed by it, both kept in ``<data dir>/tls/``; HTTPS and WSS are then served on the same port.
Trust the CA (``ca.pem``) once and every later certificate is trusted too:

- Node: ``NODE_EXTRA_CA_CERTS=<data dir>/tls/ca.pem``
- Python: Cove's client trusts it automatically (the outputs file names it); elsewhere
  ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` or ``verify=<path>``
- the system: copy it to ``/usr/local/share/ca-certificates/cove-sandbox.crt`` and run
  ``update-ca-certificates`` (Debian/Ubuntu), or add it to the keychain (macOS).

The server certificate names ``localhost``, ``127.0.0.1``, ``::1`` and the ``--host`` given, is
valid for 397 days (the most browsers accept) and is re-issued when it is within 30 days of
expiry or when the host changes. The CA key never leaves the data directory (mode 0600).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cove.private_files import private_dir

__all__ = ["TlsFiles", "ensure_certificates", "trust_hint"]

CA_DAYS = 3650
CERT_DAYS = 397
RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    cert: Path
    key: Path
    created: bool


def _hosts_for(host: str, extra: list[str]) -> list[str]:
    names = ["localhost", "127.0.0.1", "::1"]
    candidates = [host, *extra]
    if host in ("0.0.0.0", "::", ""):
        candidates.append(socket.gethostname())
    for h in candidates:
        h = h.strip("[]")
        if h and h not in ("0.0.0.0", "::") and h not in names:
            names.append(h)
    return names


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def ensure_certificates(data_dir: Path, host: str, extra_hosts: list[str] | None = None) -> TlsFiles:
    """The CA and server certificate in ``<data_dir>/tls``, creating or renewing them if needed."""
    folder = private_dir(Path(data_dir) / "tls")
    ca_cert, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    cert, key, meta_path = folder / "cert.pem", folder / "key.pem", folder / "cove-tls.json"
    hosts = _hosts_for(host, extra_hosts or [])
    now = dt.datetime.now(dt.UTC)
    try:
        meta = json.loads(meta_path.read_text())
        fresh = (all(p.exists() for p in (ca_cert, ca_key, cert, key))
                 and set(hosts) <= set(meta["hosts"])
                 and dt.datetime.fromisoformat(meta["cert_not_after"]) - now > dt.timedelta(days=RENEW_BEFORE_DAYS)
                 and dt.datetime.fromisoformat(meta["ca_not_after"]) - now > dt.timedelta(days=CERT_DAYS))
    except (OSError, ValueError, KeyError, TypeError):
        fresh = False
    if fresh:
        return TlsFiles(ca_cert, cert, key, created=False)
    return _issue(folder, ca_cert, ca_key, cert, key, meta_path, hosts, now)


def _issue(folder: Path, ca_cert_path: Path, ca_key_path: Path, cert_path: Path, key_path: Path, meta_path: Path,
           hosts: list[str], now: dt.datetime) -> TlsFiles:
    # Imported here: only `--tls` start-ups that need a new certificate pay for it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    pem = serialization.Encoding.PEM
    ca_key = ca_cert = None
    if ca_cert_path.exists() and ca_key_path.exists():
        try:
            loaded = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
            if loaded.not_valid_after_utc - now > dt.timedelta(days=CERT_DAYS):
                ca_cert = loaded
                ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        except ValueError:
            ca_cert = ca_key = None
    if ca_cert is None or ca_key is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cove sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Cove sandbox CA {socket.gethostname()} "
                                                    f"{now.strftime('%Y%m%d%H%M%S')}"),
        ])
        ca_cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(ca_key_path, ca_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        _write_public(ca_cert_path, ca_cert.public_bytes(pem))

    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cove sandbox"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    _write_private(key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    _write_public(cert_path, cert.public_bytes(pem))
    meta = {"hosts": hosts, "cert_not_after": cert.not_valid_after_utc.isoformat(),
            "ca_not_after": ca_cert.not_valid_after_utc.isoformat()}
    _write_public(meta_path, json.dumps(meta, indent=1).encode())
    return TlsFiles(ca_cert_path, cert_path, key_path, created=True)


def trust_hint(ca: Path) -> list[str]:
    """Lines telling the user how to trust the CA."""
    path = Path(ca).resolve()
    return [
        f"Trust the sandbox CA once: {path}",
        f"  Node:     NODE_EXTRA_CA_CERTS={path} node app.js",
        "  Python:   cove's client trusts it via the outputs file; others: SSL_CERT_FILE="
        f"{path} (or verify='{path}')",
        f"  System:   sudo cp {path} /usr/local/share/ca-certificates/cove-sandbox.crt && "
        "sudo update-ca-certificates",
    ]
