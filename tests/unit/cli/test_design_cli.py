from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coordinator.cli import cli
from tests.support.packages import default_parts, write_package


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_validate_accepts_a_valid_package(tmp_path: Path) -> None:
    result = run("design", "validate", str(write_package(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "5 parts" in result.output


def test_validate_rejects_a_cycle_naming_its_parts(tmp_path: Path) -> None:
    parts = default_parts()
    parts[0]["children"].append({"part": "root", "quantity": 1})  # frame contains the root
    result = run("design", "validate", str(write_package(tmp_path, parts=parts)))
    assert result.exit_code == 2
    assert "cycle" in result.output and (
        "frame -> root -> frame" in result.output or "root -> frame -> root" in result.output
    )


def test_validate_json_report_and_unreadable_path(tmp_path: Path) -> None:
    good = write_package(tmp_path / "good")
    result = run("design", "validate", "--json", str(good), str(tmp_path / "missing"))
    assert result.exit_code == 2
    reports = json.loads(result.output)
    assert [r["ok"] for r in reports] == [True, False]
    assert "no such file or folder" in reports[1]["problems"][0]["message"]


def test_token_create_prints_a_token_once(tmp_path: Path) -> None:
    env = {"PEERFAB_STORAGE__DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["token", "create", "--role", "designer", "--name", "alice"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("pf_")
    listing = CliRunner().invoke(cli, ["token", "list"], env=env)
    assert "designer\tactive\talice" in listing.output and "pf_" not in listing.output


def test_bad_config_is_exit_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[server]\nprot = 1\n")
    result = CliRunner().invoke(cli, ["token", "list", "--config", str(config)])
    assert result.exit_code == 2
    assert "server.prot: unknown key" in result.output and "Traceback" not in result.output


def test_validate_passes_over_folders_and_files_that_are_no_packages(tmp_path: Path) -> None:
    good = write_package(tmp_path / "good")
    (tmp_path / "generator").mkdir()
    (tmp_path / "generate.py").write_text("print('hi')\n")

    result = run("design", "validate", str(good), str(tmp_path / "generator"), str(tmp_path / "generate.py"))

    assert result.exit_code == 0, result.output
    assert "generator: not a design package (no design.toml); skipped" in result.stderr
    assert "generate.py: not a design package" in result.stderr
    only_notes = run("design", "validate", str(tmp_path / "generator"))
    assert only_notes.exit_code == 2 and "no design package among" in only_notes.stderr
