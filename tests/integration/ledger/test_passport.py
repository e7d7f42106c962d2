"""A build's signed passport: it verifies, a changed figure does not, and the key outlives a restart."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.app import create_app
from coordinator.cli import cli
from coordinator.ledger import passport
from coordinator.runtime import Runtime
from protocol.errors import InvalidInput
from tests.support.live import serve


def _save(client, build_id: str, folder: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """The build's passport and the coordinator's public key, saved as a third party would."""
    response = client.get(f"/api/v1/builds/{build_id}/passport")
    assert response.status_code == 200, response.json
    (folder / "passport.json").write_text(response.get_data(as_text=True))
    (folder / "key.pem").write_text(client.get("/api/v1/passport-key").json["pem"])
    return folder / "passport.json", folder / "key.pem"


def _verify(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["passport", "verify", *args])


def test_a_passport_verifies_and_holds_the_builds_provenance_and_ledger(client, built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    saved, key = _save(client, built, tmp_path)
    doc = json.loads(saved.read_text())
    assert doc["build"] == built and doc["provenance"]["build"] == built
    assert len(doc["ledger"]["@graph"]) == client.get(f"/api/v1/ledger?build={built}").json["total"] == 11
    assert doc["signature"]["key_id"] == client.get("/api/v1/passport-key").json["key_id"]
    result = _verify(str(saved), "--key", str(key))
    assert result.exit_code == 0, result.output
    assert f"valid: passport of build {built}, 3 parts and 11 ledger events" in result.output
    # re-indented, its keys in another order: the same passport
    saved.write_text(json.dumps(dict(reversed(list(doc.items()))), indent=4))
    assert _verify(str(saved), "--key", str(key)).exit_code == 0


def test_a_changed_quantity_fails_verification(client, built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    saved, key = _save(client, built, tmp_path)
    doc = json.loads(saved.read_text())
    produced = next(e for e in doc["ledger"]["@graph"] if e["action"] == "produce")
    produced["resourceQuantity"]["hasNumericalValue"] += 1
    saved.write_text(json.dumps(doc))
    result = _verify(str(saved), "--key", str(key))
    assert result.exit_code == 2
    assert f"error: the passport of build {built} does not match its signature" in result.output
    doc = json.loads(_save(client, built, tmp_path)[0].read_text())
    doc["provenance"]["parts"][0]["copies"] = 40  # the provenance is signed too
    saved.write_text(json.dumps(doc))
    assert "does not match its signature" in _verify(str(saved), "--key", str(key)).output


def test_bad_input_to_verify_is_named(client, built, tmp_path) -> None:  # type: ignore[no-untyped-def]
    saved, key = _save(client, built, tmp_path)
    assert "--key PEM or --url URL" in _verify(str(saved)).output
    other = tmp_path / "other.pem"
    other.write_text(passport.public_key(passport.Ed25519PrivateKey.generate())["pem"])
    wrong = _verify(str(saved), "--key", str(other))
    assert wrong.exit_code == 2 and "was signed by key ed25519:" in wrong.output
    (tmp_path / "junk.json").write_text("{not json")
    junk = _verify(str(tmp_path / "junk.json"), "--key", str(key))
    assert junk.exit_code == 2 and "junk.json: not JSON" in junk.output
    assert client.get("/api/v1/builds/nope/passport").status_code == 404


def test_the_key_is_kept_private_and_survives_a_restart(runtime, client, built) -> None:  # type: ignore[no-untyped-def]
    before = client.get("/api/v1/passport-key").json
    path = passport.key_path(runtime.settings.storage.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Runtime.open(runtime.settings)
    try:
        restarted = create_app(rt=again).test_client()
        assert restarted.get("/api/v1/passport-key").json == before
        signed = restarted.get(f"/api/v1/builds/{built}/passport").json
        passport.verify(signed, passport.read_public_key(before["pem"].encode(), "the key served before"))
    finally:
        again.engine.dispose()


def test_verify_asks_a_coordinator_with_private_reads_for_its_key_with_a_token(
    runtime, client, built, token_for, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    saved, _ = _save(client, built, tmp_path)
    runtime.settings.auth.public_reads = False
    token = token_for("builder")
    with serve(client.application) as url:
        refused = _verify(str(saved), "--url", url)
        verified = _verify(str(saved), "--url", url, "--token", token)
    assert refused.exit_code == 2 and "401" in refused.output
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith(f"valid: passport of build {built}")


def test_a_coordinator_with_a_corrupt_key_does_not_start(settings) -> None:  # type: ignore[no-untyped-def]
    path = passport.key_path(settings.storage.data_dir)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\ntruncated")
    path.chmod(0o600)
    with pytest.raises(InvalidInput, match=f"{path}: not a PEM private key"):
        Runtime.open(settings)


def test_the_key_is_made_when_the_coordinator_starts(settings) -> None:  # type: ignore[no-untyped-def]
    rt = Runtime.open(settings)
    try:
        path = passport.key_path(settings.storage.data_dir)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert passport.public_key(rt.passport_key) == passport.public_key(passport.load_key(path.parent))
    finally:
        rt.engine.dispose()
