"""Ed25519 key files: ``sandbox keygen FILE`` writes FILE (private, mode 0600) and FILE.pub."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sandbox._errors import SandboxError

__all__ = ["AttestError", "generate", "key_id", "load_private", "load_public"]


class AttestError(SandboxError):
    """A key or attestation file cannot be used as given (CLI exit code 2)."""


def generate(path: str | os.PathLike[str]) -> tuple[Path, Path, str]:
    """Write a new private key to ``path`` (PEM, mode 0600) and its public key to ``path.pub``.

    Refuses to overwrite either file: a replaced key silently orphans every attestation it signed.
    Returns both paths and the key id.
    """
    private_path = Path(path)
    public_path = private_path.with_name(private_path.name + ".pub")
    for existing in (private_path, public_path):
        if existing.exists():
            raise AttestError(f"{existing}: already exists; keygen never overwrites a key (remove it first, "
                              "or choose another FILE)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    # O_EXCL with the mode given at creation: the secret is never readable by others, not even briefly.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    os.chmod(private_path, 0o600)  # the umask may have cleared bits, never added them; be explicit
    public_path.write_bytes(_public_pem(key.public_key()))
    return private_path, public_path, key_id(key.public_key())


def load_private(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``."""
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise AttestError(f"{path}: not an unencrypted PEM private key ({error}); make one with "
                          "`sandbox keygen FILE`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AttestError(f"{path}: a {type(key).__name__}, but attestations are signed with Ed25519 keys; "
                          "make one with `sandbox keygen FILE`")
    return key


def load_public(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file ``path`` (a FILE.pub that keygen wrote)."""
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise AttestError(f"{path}: not a PEM public key ({error}); pass the FILE.pub that "
                          "`sandbox keygen FILE` wrote") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AttestError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """sha256 (hex) of the raw 32-byte public key: the same key always has the same id."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise AttestError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
