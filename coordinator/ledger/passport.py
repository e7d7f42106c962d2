"""A build's passport: its provenance and its ledger events, signed by the coordinator (Ed25519).

The signed bytes are the passport in canonical form, so a copy re-indented or with its keys reordered
still verifies, and any changed figure does not:

    canonical JSON of the passport without `ledger` and `signature`   (keys sorted, no blanks, UTF-8,
                                                                        integral numbers without ".0")
    "\\n"
    the `ledger` (Valueflows JSON-LD) normalised by URDNA2015 to N-Quads

The key is made once, when the coordinator first starts, and kept in its data folder (mode 0600); a key
file that is not a key or that others may read stops the start. Its public half is served at
/api/v1/passport-key. docs/commons.md says how a third party verifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld  # type: ignore[import-untyped]
from sqlmodel import Session

from coordinator.ledger import export, provenance, valueflows
from protocol.errors import InvalidInput

FORMAT = "peerfab-passport/1"
ALGORITHM = "Ed25519"
CANONICALIZATION = "peerfab-passport/1: canonical JSON, then the ledger by URDNA2015 (N-Quads)"
KEY_FILE = "passport-ed25519.pem"
KEY_MODE = 0o600

# ---- the key -------------------------------------------------------------------------------------


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_key(data_dir: Path) -> Ed25519PrivateKey:
    """The coordinator's signing key: read from the data folder, made there (mode 0600) the first time.

    InvalidInput naming the file when it cannot be read, is not an Ed25519 key, or others may read it.
    """
    path = key_path(data_dir)
    if not path.exists():
        _create_key(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        pem = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: the passport signing key cannot be read ({exc.strerror})") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"{path}: the passport signing key is open to others (mode {mode:o}); "
            f"make it its owner's only (chmod 600 {path}), and replace it if others may have copied it"
        )
    return _private_key(pem, path)


def _private_key(pem: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"{path}: not a PEM private key; restore the file from a backup, or move it away to make a new "
            "key (passports signed with the old one then no longer verify against /passport-key)"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path}: not an Ed25519 private key")
    return key


def _create_key(path: Path) -> None:
    """Write a new key whole and on disk, never readable by others, and never over a key another
    process just made."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())  # whole on disk before it gets its name: a crash leaves no half key
    try:
        os.link(temporary, path)  # fails if the key exists: the first key made stays the key
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def key_id(public: Ed25519PublicKey) -> str:
    """A key's fingerprint: ed25519: and the SHA-256 of its raw bytes (first 32 hex digits)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def public_key(private: Ed25519PrivateKey) -> dict[str, Any]:
    """The public half, as PEM and as a JWK (RFC 8037)."""
    public = private.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    kid = key_id(public)
    return {"algorithm": ALGORITHM, "key_id": kid, "pem": pem.decode(),
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid}}  # fmt: skip


def read_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    """A PEM public key (or private key, whose public half is taken) from `where`."""
    try:
        key: Any = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{where}: not a PEM key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"{where}: not an Ed25519 key")
    return key


# ---- the passport --------------------------------------------------------------------------------


def passport(session: Session, build_id: str, key: Ed25519PrivateKey, now: datetime) -> dict[str, Any]:
    """A build's provenance and ledger events, signed."""
    origin = provenance.provenance(session, build_id)
    ledger = export.export_all(session, export.LedgerQuery(build=build_id))
    body = {"passport": FORMAT, "build": build_id, "issued_at": now.isoformat(), "provenance": origin,
            "ledger": {"@context": ledger["@context"], "@graph": ledger["@graph"]}}  # fmt: skip
    return sign(body, key)


def sign(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The body with its signature."""
    value = key.sign(signed_bytes(body))
    signature = {"algorithm": ALGORITHM, "key_id": key_id(key.public_key()),
                 "canonicalization": CANONICALIZATION, "value": base64.b64encode(value).decode()}  # fmt: skip
    return {**body, "signature": signature}


def signed_bytes(doc: dict[str, Any]) -> bytes:
    """What the signature covers: the passport in canonical form (see the module's docstring)."""
    head = {name: value for name, value in doc.items() if name not in ("ledger", "signature")}
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": valueflows.load_document,
    }
    try:
        quads = str(jsonld.normalize(doc.get("ledger") or {}, options))
    except jsonld.JsonLdError as exc:
        raise InvalidInput(f"the passport's ledger is not JSON-LD peerfab can read offline: {exc}") from exc
    return canonical_json(head) + b"\n" + quads.encode()


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, no blanks, UTF-8; a number that is whole is written without a fraction."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def verify(doc: Any, key: Ed25519PublicKey) -> dict[str, Any]:
    """The passport, if its signature holds for `key`; else InvalidInput saying why."""
    if not isinstance(doc, dict) or doc.get("passport") != FORMAT:
        raise InvalidInput(f'not a peerfab passport: no "passport": "{FORMAT}"')
    signature = doc.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        raise InvalidInput("the passport has no signature")
    expected = key_id(key)
    if signature.get("key_id") != expected:
        raise InvalidInput(f"the passport was signed by key {signature.get('key_id')}, not by {expected}")
    try:
        key.verify(base64.b64decode(signature["value"], validate=True), signed_bytes(doc))
    except (InvalidSignature, ValueError) as exc:
        raise InvalidInput(
            f"the passport of build {doc.get('build')} does not match its signature: "
            "it was changed after it was signed"
        ) from exc
    return doc
