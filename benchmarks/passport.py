"""Time to make, sign and verify a build's passport, on a coordinator's data folder (e.g. the demo's).

    python benchmarks/passport.py --data-dir FOLDER [--repeat 5]

Prints the passport's size, the time to load its provenance and ledger, to canonicalise it (URDNA2015),
to sign and to verify it, the median of `--repeat` runs. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from sqlmodel import Session, col, select

from coordinator.ledger import passport
from coordinator.models.base import utcnow
from coordinator.models.builds import Build
from coordinator.runtime import Runtime
from coordinator.settings import load_settings


def _timed(repeat: int, work) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings(None)
    settings.storage.data_dir = args.data_dir
    rt = Runtime.open(settings, run_migrations=False)
    key = passport.load_key(args.data_dir)
    with Session(rt.engine) as session:
        build = session.exec(select(Build).order_by(col(Build.created_at))).first()
        assert build is not None, "no build in this data folder"
        made = _timed(args.repeat, lambda: passport.passport(session, build.id, key, utcnow()))
        doc = passport.passport(session, build.id, key, utcnow())
    size = len(json.dumps(doc).encode())
    canonical = _timed(args.repeat, lambda: passport.signed_bytes(doc))
    signed = _timed(args.repeat, lambda: passport.sign(doc, key))
    checked = _timed(args.repeat, lambda: passport.verify(doc, key.public_key()))
    events = len(doc["ledger"]["@graph"])
    print(f"build {build.id}: {len(doc['provenance']['parts'])} parts, {events} events, {size / 1000:.0f} kB")
    print(f"make (load, canonicalise, sign) {made:.3f} s; canonicalise {canonical:.3f} s; "
          f"sign {signed:.3f} s; verify {checked:.3f} s (median of {args.repeat})")  # fmt: skip


if __name__ == "__main__":
    main()
