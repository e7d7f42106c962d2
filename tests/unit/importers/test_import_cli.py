"""The import-okh and import-bom commands: packages written, errors as one line and exit 2."""

from __future__ import annotations

from click.testing import CliRunner

from coordinator.bom.package import load_package
from coordinator.cli.design_import import import_bom_command, import_okh_command


def _run(command, *args):
    return CliRunner().invoke(command, [str(a) for a in args])


def test_import_okh_writes_a_package_and_reports_warnings(fixtures, tmp_path):
    out = tmp_path / "drill"

    result = _run(import_okh_command, fixtures / "okh-losh/okh.toml", "--out", out, "--version", "1.2.1")

    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "seed-drill@1.2.1" in result.stdout
    assert "warning:" in result.stderr and "'Wheel'" in result.stderr
    assert load_package(out).ok


def test_import_okh_bad_manifest_is_one_error_and_exit_2(fixtures, tmp_path):
    out = tmp_path / "out"

    result = _run(import_okh_command, fixtures / "okh-v1/invalid.yml", "--out", out)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "line 6, column 20" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_import_okh_refuses_to_overwrite_without_force(fixtures, tmp_path):
    args = (fixtures / "okh-v1/okh.yml", "--out", tmp_path / "out")
    assert _run(import_okh_command, *args).exit_code == 0

    again = _run(import_okh_command, *args)
    forced = _run(import_okh_command, *args, "--force")

    assert again.exit_code == 2 and "pass --force" in again.stderr
    assert forced.exit_code == 0


def test_import_bom_kitspace(fixtures, tmp_path):
    out = tmp_path / "board"

    result = _run(
        import_bom_command, fixtures / "kitspace-comma.tsv", "--format", "kitspace",
        "--out", out, "--name", "Diode Board", "--license", "CERN-OHL-P-2.0",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "1 assembly, 2 purchased parts" in result.stdout
    package = load_package(out)
    assert package.ok and (out / "imported/kitspace-comma.tsv").is_file()


def test_import_bom_csv_with_column_mapping(tmp_path):
    bom = tmp_path / "teile.csv"
    bom.write_text("Menge;Benennung\n4;Winkel\n", encoding="utf-8")

    result = _run(
        import_bom_command, bom, "--format", "csv", "--out", tmp_path / "out", "--name", "Regal",
        "--license", "MIT", "--column", "quantity=Menge", "--column", "name=Benennung",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert load_package(tmp_path / "out").bom().part("winkel").name == "Winkel"


def test_import_bom_bad_quantity_is_reported_with_its_cell(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Reference,Value,Qty\nR1,10k,lots\n")

    result = _run(
        import_bom_command, bom, "--format", "kicad", "--out", tmp_path / "out",
        "--name", "Board", "--license", "MIT",
    )  # fmt: skip

    assert result.exit_code == 2
    assert result.stderr == f"error: {bom}, line 2, column 3 \"Qty\": quantity 'lots' is not a number\n"
    assert not (tmp_path / "out").exists()


def test_import_bom_malformed_column_option(fixtures, tmp_path):
    result = _run(
        import_bom_command, fixtures / "okh-v1/bom.csv", "--format", "csv", "--out",
        tmp_path / "out", "--name", "Sifter", "--license", "MIT", "--column", "quantity",
    )  # fmt: skip

    assert result.exit_code == 2 and "expected FIELD=HEADER" in result.stderr
