"""Broker credentials: Mosquitto-compatible hashes and an ACL that confines each agent."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.cli import cli
from fablab_agents import credentials
from protocol.errors import InvalidInput


def test_hash_matches_mosquitto_format_and_verifies() -> None:
    salt = bytes(range(12))
    hashed = credentials.hash_password("secret", salt)
    assert hashed.startswith("$7$101$" + base64.b64encode(salt).decode() + "$")
    assert credentials.verify_password("secret", hashed)
    assert not credentials.verify_password("Secret", hashed)


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd not installed")
def test_our_hash_equals_mosquitto_passwd_for_the_same_salt(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    passwd.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "alice", "pa ss"], check=True, timeout=10)
    stored = passwd.read_text().strip().partition(":")[2]
    assert credentials.verify_password("pa ss", stored)


def test_fallback_writer_replaces_an_existing_user(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    credentials.set_password(passwd, "lab.a1", "one", use_tool=False)
    credentials.set_password(passwd, "other", "x", use_tool=False)
    credentials.set_password(passwd, "lab.a1", "two", use_tool=False)
    assert credentials.users(passwd) == ["other", "lab.a1"]
    line = next(x for x in passwd.read_text().splitlines() if x.startswith("lab.a1:"))
    assert credentials.verify_password("two", line.partition(":")[2])


def test_acl_confines_agents_and_gives_the_coordinator_its_role() -> None:
    text = credentials.render_acl(["lab-a.a1", "peerfab-coordinator", "stranger"])
    agent_block = text.split("user lab-a.a1\n")[1].split("\n\n")[0]
    assert agent_block.splitlines() == [
        "topic write peerfab/v1/fablabs/lab-a/agents/a1/state",
        "topic write peerfab/v1/fablabs/lab-a/agents/a1/events",
        "topic read peerfab/v1/fablabs/lab-a/agents/a1/commands",
        "topic read peerfab/v1/coordinator/state",
    ]
    assert "topic write peerfab/v1/fablabs/+/agents/+/commands" in text
    assert "user stranger" not in text


def test_bad_ids_are_refused() -> None:
    with pytest.raises(InvalidInput, match="fablab id"):
        credentials.agent_username("Lab/#", "a1")


def test_cli_add_prints_a_working_url_and_regenerates_the_acl(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    args = ["--passwd-file", str(passwd), "--acl-file", str(acl), "--broker", "broker.lab:1883"]
    runner = CliRunner()
    first = runner.invoke(cli, ["agent", "credentials", "add", "--fablab", "lab-a", "--agent", "a1", *args])
    again = runner.invoke(
        cli, ["agent", "credentials", "add", "--fablab", "lab-a", "--agent", "a1", "--password", "p w", *args]
    )
    coordinator = runner.invoke(cli, ["agent", "credentials", "coordinator", "--password", "c", *args])
    assert first.exit_code == again.exit_code == coordinator.exit_code == 0, first.output
    assert first.stdout.strip().startswith("mqtt://lab-a.a1:")
    assert again.stdout.strip() == "mqtt://lab-a.a1:p%20w@broker.lab:1883"
    assert credentials.users(passwd) == ["lab-a.a1", "peerfab-coordinator"]
    assert acl.read_text().count("user lab-a.a1\n") == 1
    assert "user peerfab-coordinator" in acl.read_text()


def test_cli_add_rejects_a_bad_agent_id_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "agent",
            "credentials",
            "add",
            "--fablab",
            "lab-a",
            "--agent",
            "a+",
            "--passwd-file",
            str(tmp_path / "p"),
            "--acl-file",
            str(tmp_path / "a"),
        ],
    )
    assert result.exit_code == 2
    assert "invalid agent id" in result.output


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("use_tool", [False, True], ids=["own-writer", "mosquitto_passwd"])
def test_cli_writes_files_nobody_else_can_read(tmp_path: Path, use_tool: bool) -> None:
    if use_tool and shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd not installed")
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    if use_tool:
        credentials.set_password(passwd, "lab-a.a1", "secret")
    else:
        credentials.set_password(passwd, "lab-a.a1", "secret", use_tool=False)
    credentials.write_acl(acl, passwd)
    assert (_mode(passwd), _mode(acl)) == (0o600, 0o640)


def test_regeneration_keeps_the_admins_group_mode_but_never_others(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    credentials.set_password(passwd, "lab-a.a1", "one", use_tool=False)
    credentials.write_acl(acl, passwd)
    passwd.chmod(0o640)  # what docs/brokers.md asks the admin to do for the broker's group
    acl.chmod(0o644)  # a file left world-readable by an older version
    credentials.set_password(passwd, "lab-a.a2", "two", use_tool=False)
    credentials.write_acl(acl, passwd)
    assert (_mode(passwd), _mode(acl)) == (0o640, 0o640)
