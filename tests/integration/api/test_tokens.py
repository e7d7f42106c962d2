"""Tokens scoped to fablabs and with an end; the check the API makes before acting on a fablab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from coordinator.cli import cli
from coordinator.models.auth import ApiToken
from coordinator.services.auth import Actor, parse_duration
from protocol.errors import InvalidInput
from tests.support.auth import bearer
from tests.support.network import add_machine

PROFILE = {"name": "Lab A", "latitude": 52.5, "longitude": 13.4}


@pytest.fixture
def labs(runtime):  # type: ignore[no-untyped-def]
    with Session(runtime.engine) as session:
        add_machine(session, "lab-a", "p1", "fdm_print")
        add_machine(session, "lab-b", "p1", "fdm_print")
        session.commit()


def test_a_scoped_operator_acts_on_its_own_fablab_only(client, token_for, labs) -> None:  # type: ignore[no-untyped-def]
    scoped = token_for("operator", "lab-a-staff", fablabs=["lab-a"])
    own = client.put("/api/v1/fablabs/lab-a/profile", json=PROFILE, headers=bearer(scoped))
    assert own.status_code == 200, own.json
    other = client.put("/api/v1/fablabs/lab-b/profile", json=PROFILE, headers=bearer(scoped))
    assert other.status_code == 403 and "lab-a" in other.json["message"]
    anywhere = token_for("operator", "network-staff")
    assert (
        client.put("/api/v1/fablabs/lab-b/profile", json=PROFILE, headers=bearer(anywhere)).status_code == 200
    )


def test_a_profile_is_only_made_for_a_known_fablab(client, token_for, labs) -> None:  # type: ignore[no-untyped-def]
    response = client.put(
        "/api/v1/fablabs/lab-nowhere/profile", json=PROFILE, headers=bearer(token_for("admin"))
    )
    assert response.status_code == 404 and "no fablab 'lab-nowhere' is known" in response.json["message"]
    assert client.get("/api/v1/fablabs/lab-nowhere/profile").status_code == 404


def test_an_expired_token_is_refused(client, token_for, runtime, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = token_for("designer", "temp", expires_in=timedelta(hours=1))
    headers = bearer(token)
    fork = {"slug": "other"}
    assert client.post("/api/v1/designs/none/fork", json=fork, headers=headers).status_code == 404
    with Session(runtime.engine) as session:
        record = session.exec(select(ApiToken).where(ApiToken.name == "temp")).one()
        record.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(record)
        session.commit()
    assert client.post("/api/v1/designs/none/fork", json=fork, headers=headers).status_code == 401


def test_actor_rules() -> None:
    scoped = Actor("lab-a-staff", "operator", ("lab-a",))
    assert scoped.may_act_on("lab-a") and not scoped.may_act_on("lab-b")
    assert Actor("anyone", "operator").may_act_on("lab-b")
    assert Actor("root", "admin", ("lab-a",)).may_act_on("lab-b")
    assert scoped.owns("lab-a-staff") and not scoped.owns("someone") and not scoped.owns("")
    assert Actor("root", "admin").owns("someone")


def test_durations() -> None:
    assert parse_duration("30d") == timedelta(days=30) and parse_duration("12h") == timedelta(hours=12)
    for bad in ("30", "d", "0d", "-1d", "1y", "99999w"):
        with pytest.raises(InvalidInput):
            parse_duration(bad)


def test_cli_creates_scoped_expiring_tokens(tmp_path: Path) -> None:
    env = {"PEERFAB_STORAGE__DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    made = runner.invoke(
        cli, ["token", "create", "--role", "operator", "--fablab", "lab-a", "--fablab", "lab-b",
              "--expires-in", "30d", "--name", "staff"], env=env,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.stdout.strip().startswith("pf_") and "lab-a, lab-b" in made.stderr
    listing = runner.invoke(cli, ["token", "list"], env=env).output.split("\t")
    assert listing[1:5] == ["operator", "active", "staff", "lab-a,lab-b"]
    expires = datetime.strptime(listing[5].strip(), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    unnamed = [runner.invoke(cli, ["token", "create", "--role", "designer"], env=env) for _ in range(2)]
    names = [
        line.split("\t")[3] for line in runner.invoke(cli, ["token", "list"], env=env).output.splitlines()
    ]
    assert (
        all(r.exit_code == 0 for r in unnamed) and len(set(names)) == 3
    )  # unnamed tokens are never one person


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "designer", "--fablab", "lab-a"], "cannot be scoped"),
        (["--role", "operator", "--fablab", "Lab A"], "invalid fablab id"),
        (["--role", "operator", "--expires-in", "soon"], "duration 'soon'"),
        (["--role", "operator", "--name", "evil\u202ename"], "bidirectional"),
    ],
)
def test_cli_refuses_bad_token_options_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        cli, ["token", "create", *args], env={"PEERFAB_STORAGE__DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 2 and message in result.output
