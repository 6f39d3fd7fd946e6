"""DSSE envelopes and keys: the specification's PAE vector, signatures, one-byte tampering, key files."""

from __future__ import annotations

import base64
import stat

import pytest

from sandbox.attest import AttestError, Envelope, EnvelopeError, generate, key_id, load_private, load_public, pae, sign


def test_pae_matches_the_dsse_specification_vector():
    assert pae("http://example.com/HelloWorld", b"hello world") == \
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


@pytest.fixture
def keys(tmp_path):
    made = [generate(tmp_path / name) for name in ("a", "b")]
    return [load_private(private) for private, _, _ in made], [load_public(public) for _, public, _ in made]


def test_keygen_writes_a_0600_private_key_and_a_public_key_and_never_overwrites(tmp_path):
    private, public, kid = generate(tmp_path / "gate")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.name == "gate.pub" and b"BEGIN PUBLIC KEY" in public.read_bytes()
    assert key_id(load_public(public)) == kid == key_id(load_private(private).public_key())
    with pytest.raises(AttestError, match="already exists"):
        generate(tmp_path / "gate")
    with pytest.raises(AttestError, match="not an unencrypted PEM private key"):
        load_private(public)


def test_signatures_verify_and_count_each_distinct_key_once(keys):
    private, public = keys
    envelope = Envelope.from_bytes(sign(b'{"x":1}', [private[0], private[0], private[1]]).to_bytes())
    assert len(envelope.signatures) == 2
    assert set(envelope.signed_by(public)) == {key_id(k) for k in public}
    assert envelope.signed_by([public[0], public[0]]) == (key_id(public[0]),)
    only_a = Envelope.from_bytes(sign(b"{}", [private[0]]).to_bytes())
    assert only_a.signed_by([public[1]]) == ()


def _flip(text: str, index: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return text[:index] + alphabet[(alphabet.index(text[index]) + 1) % 64] + text[index + 1:]


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_one_changed_character_of_payload_or_signature_breaks_it(keys, field):
    private, public = keys
    data = sign(b'{"accepted":true}', [private[0]]).to_bytes()
    envelope = Envelope.from_bytes(data)
    text = base64.b64encode(envelope.payload if field == "payload" else envelope.signatures[0][1]).decode()
    tampered = data.replace(text.encode(), _flip(text, 3).encode())
    assert tampered != data and len(tampered) == len(data)
    assert Envelope.from_bytes(tampered).signed_by(public) == ()


def test_non_canonical_base64_and_reserialised_json_are_refused(keys):
    private, _ = keys
    data = sign(b"hello", [private[0]]).to_bytes()  # aGVsbG8= : the 8's low bits are unused
    with pytest.raises(EnvelopeError, match="canonical base64"):
        Envelope.from_bytes(data.replace(b"aGVsbG8=", b"aGVsbG9="))
    with pytest.raises(EnvelopeError, match="canonical form"):
        Envelope.from_bytes(data.replace(b'","', b'", "', 1))
    with pytest.raises(EnvelopeError, match="not JSON"):
        Envelope.from_bytes(data[:-5])
