"""DSSE v1 envelopes: a payload, its type, and Ed25519 signatures over the pre-authentication encoding.

A signature covers ``PAE(payloadType, payload)``, never the JSON around it, so the payload type
is bound into what was signed (a signature for one type cannot be replayed as another)::

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sandbox.attest._keys import key_id

__all__ = ["PAYLOAD_TYPE", "Envelope", "EnvelopeError", "pae", "sign"]

PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """The bytes are not a well-formed DSSE envelope (the attestation is invalid, exit 1)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """The DSSE v1 pre-authentication encoding of ``payload`` of type ``payload_type``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed envelope: the decoded payload and its ``(keyid, signature bytes)`` pairs."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]

    def to_json(self) -> dict[str, Any]:
        return {"payloadType": self.payload_type, "payload": base64.b64encode(self.payload).decode("ascii"),
                "signatures": [{"keyid": kid, "sig": base64.b64encode(sig).decode("ascii")}
                               for kid, sig in self.signatures]}

    def to_bytes(self) -> bytes:
        """The canonical file form: sorted keys, no spaces, ASCII, one trailing newline."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> "Envelope":
        """Parse strictly: any malformed field makes the whole envelope invalid."""
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise EnvelopeError(f"not JSON ({error})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("payloadType"), str):
            raise EnvelopeError("not a DSSE envelope: no payloadType string")
        signatures = obj.get("signatures")
        if not isinstance(signatures, list) or not signatures:
            raise EnvelopeError("a DSSE envelope needs at least one signature")
        pairs = []
        for number, entry in enumerate(signatures, 1):
            if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
                raise EnvelopeError(f"signature {number} has no sig string")
            pairs.append((str(entry.get("keyid", "")), _b64(entry["sig"], f"signature {number}")))
        if not isinstance(obj.get("payload"), str):
            raise EnvelopeError("no payload string")
        envelope = cls(obj["payloadType"], _b64(obj["payload"], "the payload"), tuple(pairs))
        # The signatures cover the payload, not the JSON around it: demanding the one form this
        # module writes means no byte of the file can change (spacing, a keyid) and still verify.
        if data != envelope.to_bytes():
            raise EnvelopeError("the file is not in the canonical form sandbox writes (sorted keys, no spaces, "
                                "one trailing newline): it was edited or re-serialised after signing")
        return envelope

    def signed_by(self, keys: Sequence[Ed25519PublicKey]) -> tuple[str, ...]:
        """The ids of the distinct ``keys`` with a valid signature on this envelope.

        Every signature is tried against every key (a keyid is a hint, not evidence; it must
        still name the key that made the signature), and a key counts once however many of its
        signatures the envelope holds.
        """
        message = pae(self.payload_type, self.payload)
        valid: dict[str, None] = {}
        for key in keys:
            for kid, signature in self.signatures:
                if kid != key_id(key):
                    continue
                try:
                    key.verify(signature, message)
                except InvalidSignature:
                    continue
                valid[key_id(key)] = None
                break
        return tuple(valid)


def sign(payload: bytes, keys: Sequence[Ed25519PrivateKey], payload_type: str = PAYLOAD_TYPE) -> Envelope:
    """An envelope of ``payload`` with one signature per distinct key."""
    message = pae(payload_type, payload)
    unique = {key_id(k.public_key()): k for k in keys}
    return Envelope(payload_type, payload, tuple((kid, key.sign(message)) for kid, key in unique.items()))


def _b64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise EnvelopeError(f"{what} is not valid base64 ({error})") from None
    # The last character's unused bits are ignored by decoding: only the canonical text counts.
    if base64.b64encode(data).decode("ascii") != text:
        raise EnvelopeError(f"{what} is not canonical base64 (edited after signing)")
    return data
