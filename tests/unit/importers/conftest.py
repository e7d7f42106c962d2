"""Fixtures of the importer tests: sample files and a check that a package validates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from coordinator.bom.package import DesignPackage, load_package
from coordinator.importers import ImportedDesign, write_package

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "importers"


@pytest.fixture
def fixtures() -> Path:
    """tests/fixtures/importers."""
    return FIXTURES


@pytest.fixture
def valid_package(tmp_path: Path) -> Callable[[ImportedDesign], DesignPackage]:
    """Write an import to a fresh folder and load it; fails unless the package validates."""

    def write_and_check(imported: ImportedDesign) -> DesignPackage:
        out = write_package(imported, tmp_path / "package")
        package = load_package(out)
        assert package.ok, package.error_report()
        return package

    return write_and_check
