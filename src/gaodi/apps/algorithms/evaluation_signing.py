"""The platform's Ed25519 signing key and certificate signatures (Art. 10 mutual recognition).

The key is generated once into settings.VAR_DIR / "keys/ed25519.pem" (mode 0600) unless the setting
or environment variable GAODI_SIGNING_KEY_FILE names another file. A certificate is the canonical
JSON of its payload (sorted keys, no spaces, UTF-8) signed with that key; anyone holding the public
key (published at /verify/public-key.pem) can check it offline (docs/evaluation.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


def key_path() -> Path:
    configured = getattr(settings, "GAODI_SIGNING_KEY_FILE", None) or os.environ.get("GAODI_SIGNING_KEY_FILE")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "keys" / "ed25519.pem"


def private_key() -> Ed25519PrivateKey:
    path = key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key() -> Ed25519PublicKey:
    return private_key().public_key()


def public_key_pem() -> bytes:
    return public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey | None = None) -> str:
    der = (key or public_key()).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def sign(payload: dict[str, Any]) -> tuple[str, str]:
    """(canonical JSON text, base64 signature)."""
    body = canonical(payload)
    return body.decode(), base64.b64encode(private_key().sign(body)).decode()


def verify(payload: dict[str, Any], signature: str, key: Ed25519PublicKey | None = None) -> bool:
    try:
        (key or public_key()).verify(base64.b64decode(signature, validate=True), canonical(payload))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def document(payload_text: str, signature: str, key_fingerprint: str) -> dict[str, Any]:
    """The downloadable certificate.json: the payload, its signature and which key signed it."""
    return {"certificate": json.loads(payload_text), "signature": signature, "algorithm": "Ed25519",
            "public_key_sha256": key_fingerprint}
