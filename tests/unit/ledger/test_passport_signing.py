"""Passport signing without a server: the key file, the canonical form, and what breaks a signature."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path

import pytest

from coordinator.ledger import passport, valueflows
from protocol.errors import InvalidInput

LEDGER = {
    "@context": valueflows.context()["@context"],
    "@graph": [{"id": "peerfab:ledger:1", "type": "EconomicEvent", "action": "produce",
                "provider": "peerfab:fablab:lab-a", "receiver": "peerfab:person:bea",
                "resourceQuantity": {"type": "Measure", "hasNumericalValue": 2.0, "hasUnit": "one"},
                "hasPointInTime": "2026-12-06T05:31:57+00:00"}],
}  # fmt: skip
BODY = {"passport": passport.FORMAT, "build": "b1", "issued_at": "2026-12-06T06:00:00+00:00",
        "provenance": {"build": "b1", "parts": [{"task": "fab:clip:1", "copies": 2, "grams": 24.0}]},
        "ledger": LEDGER}  # fmt: skip


def test_the_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = passport.load_key(tmp_path / "data")
    path = passport.key_path(tmp_path / "data")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert passport.public_key(passport.load_key(tmp_path / "data")) == passport.public_key(first)
    assert [p.name for p in path.parent.iterdir()] == [passport.KEY_FILE]  # no temporary file left


def test_a_key_others_may_read_is_refused_naming_the_file(tmp_path: Path) -> None:
    passport.load_key(tmp_path)
    path = passport.key_path(tmp_path)
    path.chmod(0o644)
    with pytest.raises(InvalidInput, match=f"{path}: .*open to others \\(mode 644\\).*chmod 600"):
        passport.load_key(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # left as found: the operator decides


@pytest.mark.parametrize("content", [b"", b"-----BEGIN PRIVATE KEY-----\nnot base64\n", b"\x00" * 64])
def test_a_corrupt_key_is_refused_naming_the_file_and_kept(tmp_path: Path, content: bytes) -> None:
    path = passport.key_path(tmp_path)
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(InvalidInput, match=f"{path}: not a PEM private key"):
        passport.load_key(tmp_path)
    assert path.read_bytes() == content  # never replaced: passports signed with it must stay checkable


def test_a_signed_passport_verifies_whatever_its_layout(tmp_path: Path) -> None:
    key = passport.load_key(tmp_path)
    signed = passport.sign(copy.deepcopy(BODY), key)
    relaid = json.loads(json.dumps(signed, indent=3, sort_keys=True))
    relaid["provenance"]["parts"][0]["grams"] = 24  # 24.0 written as 24 by another JSON writer
    assert passport.verify(relaid, key.public_key())["build"] == "b1"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["ledger"]["@graph"][0]["resourceQuantity"].update(hasNumericalValue=3.0),
        lambda d: d["ledger"]["@graph"][0].update(provider="peerfab:fablab:lab-b"),
        lambda d: d["provenance"]["parts"][0].update(copies=3),
        lambda d: d.update(issued_at="2027-01-01T00:00:00+00:00"),
    ],
)
def test_any_changed_figure_breaks_the_signature(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    key = passport.load_key(tmp_path)
    signed = passport.sign(copy.deepcopy(BODY), key)
    change(signed)
    with pytest.raises(InvalidInput, match="changed after it was signed"):
        passport.verify(signed, key.public_key())


def test_a_remote_context_is_never_fetched(tmp_path: Path) -> None:
    key = passport.load_key(tmp_path)
    signed = passport.sign(copy.deepcopy(BODY), key)
    signed["ledger"]["@context"] = "https://example.org/context.jsonld"
    with pytest.raises(InvalidInput, match="offline"):
        passport.verify(signed, key.public_key())
