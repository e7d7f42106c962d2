"""Example design packages made by this project, and the generator that builds them."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent


def example_paths() -> list[Path]:
    """Every example package folder (one holding a design.toml), sorted by name."""
    return sorted(p.parent for p in EXAMPLES_DIR.glob("*/design.toml"))
