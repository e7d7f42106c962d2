"""Fixtures for the scheduling tests: the PSPLIB folder and a handmade multi-mode file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.scheduling.samples import MULTI_MODE


@pytest.fixture
def psplib_dir(realworld: Path) -> Path:
    """The real PSPLIB files, when this machine has them."""
    return realworld / "psplib"


@pytest.fixture
def multi_mode_file(tmp_path: Path) -> Path:
    """A .mm file whose optimum is 7: one fast and one slow job, the budget forbids two fast."""
    path = tmp_path / "handmade.mm"
    path.write_text(MULTI_MODE)
    return path
