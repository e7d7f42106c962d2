"""Regenerate every example design package: `python -m designs.generate [OUTPUT_DIR]`.

The output is deterministic: running it again gives byte-identical files and sha256s.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `designs` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designs.generator import arduino, ceb_press, reprap, spool_holder, wikispeed  # noqa: E402
from designs.generator.package import Package  # noqa: E402

BUILDERS: tuple[Callable[[], Package], ...] = (
    reprap.build,
    partial(reprap.build, "1.1.0"),
    ceb_press.build,
    arduino.build,
    wikispeed.build,
    spool_holder.build,
)


def generate(root: Path) -> list[Path]:
    """Write every example package under `root`; return the package folders."""
    return [builder().write(root) for builder in BUILDERS]


def main(argv: list[str]) -> None:
    """Command-line entry point."""
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for folder in generate(root):
        print(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
