"""Every real manifest and BOM of the corpus gets its expected outcome, through the CLI a user runs.

The corpus is ../shared/realworld/commons (when present) and tests/fixtures/importers/corpus, each with an
expected.tsv: `import` means the file is valid by its format and must become a package that validates
(exit 0); `reject` means it is invalid and must be refused with exit 2 and a message naming the file.
Nothing may exit 0 with an invalid package. The counts are printed (pytest -s shows them).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from coordinator.bom.package import load_package
from coordinator.cli import cli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "importers" / "corpus"
COMMONS = Path(__file__).resolve().parents[3].parent / "shared" / "realworld" / "commons"
# Files whose outcome deliberately differs from commons/expected.tsv, and why.
DECIDED = {
    "okh-toml/heimeliq-product-template/okh.toml": (
        "reject",
        "an unfilled template: name 'FIXME Produktname' and licensor 'FIXME Vorname ...' are placeholders",
    ),
}


@dataclass(frozen=True)
class Case:
    """One corpus file, how to import it and what must happen."""

    folder: Path
    kind: str
    path: str
    expected: str

    @property
    def file(self) -> Path:
        return self.folder / self.path


def _cases(folder: Path) -> list[Case]:
    table = folder / "expected.tsv"
    if not table.is_file():
        return []
    with table.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    return [Case(folder, r["kind"], r["path"], DECIDED.get(r["path"], (r["expected"],))[0]) for r in rows]


def _command(case: Case, out: Path) -> list[str]:
    if case.kind.startswith("okh"):
        return ["design", "import-okh", str(case.file), "--out", str(out)]
    fmt = case.kind.split("/")[-1]
    return ["design", "import-bom", str(case.file), "--format", fmt, "--out", str(out),
            "--name", "Corpus board", "--license", "CERN-OHL-S-2.0"]  # fmt: skip


def _outcome(case: Case, tmp_path: Path) -> tuple[str, str]:
    out = tmp_path / "package"
    result = CliRunner().invoke(cli, _command(case, out))
    if result.exit_code == 0:
        package = load_package(out)
        return ("import" if package.ok else "INVALID PACKAGE WITH EXIT 0"), package.error_report()
    if result.exit_code == 2 and result.stderr.startswith("error: "):
        return "reject", result.stderr
    return f"exit {result.exit_code}", result.output + repr(result.exception)


CASES = _cases(FIXTURES) + _cases(COMMONS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.folder.name}/{c.path}")
def test_corpus_file_gets_its_expected_outcome(case, tmp_path):
    outcome, detail = _outcome(case, tmp_path)

    assert outcome == case.expected, detail
    if outcome == "reject":
        assert case.file.name in detail  # the message names the file


def test_corpus_counts(tmp_path, capsys):
    counts: Counter[str] = Counter()
    for number, case in enumerate(CASES):
        outcome, _ = _outcome(case, tmp_path / str(number))
        counts[f"{case.expected}:{'as expected' if outcome == case.expected else outcome}"] += 1
    valid = sum(n for key, n in counts.items() if key.startswith("import:"))
    imported = counts["import:as expected"]
    with capsys.disabled():
        print(f"\ncorpus: {len(CASES)} files; {imported}/{valid} valid files import; counts {dict(counts)}")
    assert not any("INVALID" in key for key in counts)
    assert imported >= 0.9 * valid
