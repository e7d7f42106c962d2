"""Upload limits: how fast, and at what cost in memory and writes, an oversized upload is refused.

Each scenario is posted over HTTP to a coordinator in a process of its own, once with this code and
once with the code before the limits were checked early (a git revision, unpacked to a temporary
folder), in the same run. For the server process it measures the wall time of the request, the peak
memory above what the process held before it (VmHWM, reset through /proc/PID/clear_refs), and the bytes
it wrote (wchar of /proc/PID/io).

Run: python benchmarks/limits.py [--triangles 10000000] [--baseline REV] [--skip-baseline] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import tomli_w

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "bb2ddf4"  # the coordinator before triangle counts, ratio checks and text limits
MB = 1e6

SERVER = r"""
import sys, tempfile
from pathlib import Path
import coordinator
assert str(Path(coordinator.__file__).resolve()).startswith(sys.argv[1]), coordinator.__file__
from werkzeug.serving import make_server
from coordinator.app import create_app
from coordinator.db import session_scope
from coordinator.runtime import Runtime
from coordinator.services.auth import create_token
from coordinator.settings import load_settings
settings = load_settings(env={}, overrides={"storage": {"data_dir": sys.argv[2]}})
rt = Runtime.open(settings)
with session_scope(rt.engine) as session:
    _, token = create_token(session, "designer", "bench")
app = create_app(rt=rt)
server = make_server("127.0.0.1", 0, app)
print("READY", server.server_port, token, flush=True)
server.serve_forever()
"""


@dataclass
class Result:
    code: str
    scenario: str
    status: int
    seconds: float
    peak_mb: float
    written_mb: float
    message: str


class Server:
    """A coordinator from `code_root` in its own process, on a free port, with a designer token."""

    def __init__(self, code_root: Path, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(code_root)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(code_root.resolve()), str(data_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True, cwd=code_root,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"the coordinator from {code_root} did not start")
        self.url, self.token = f"http://127.0.0.1:{ready[1]}", ready[2]

    def status(self, key: str) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / MB
        raise KeyError(key)

    def written(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1]) / MB
        raise KeyError("wchar")

    def post(self, archive: Path, code: str, scenario: str) -> Result:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        before, wrote = self.status("VmRSS"), self.written()
        start = time.perf_counter()
        with archive.open("rb") as body:
            response = requests.post(
                f"{self.url}/api/v1/designs", headers={"Authorization": f"Bearer {self.token}"},
                files={"archive": (archive.name, body)}, timeout=3600,
            )  # fmt: skip
        seconds = time.perf_counter() - start
        message = response.json().get("message", "") if response.status_code >= 400 else "published"
        return Result(code, scenario, response.status_code, seconds, self.status("VmHWM") - before,
                      self.written() - wrote, message[:90])  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def manifest(slug: str, mesh: str | None) -> bytes:
    parts: list[dict[str, object]] = [
        {"id": "root", "kind": "assembly", "name": "Root", "children": [{"part": "plate", "quantity": 1}]},
    ]
    if mesh:
        parts.append({"id": "plate", "kind": "fabricated", "name": "Plate", "process": "fdm_print",
                      "material": "PLA", "file": mesh})  # fmt: skip
    else:
        parts.append({"id": "plate", "kind": "purchased", "name": "Plate"})
    design = {"name": "Benchmark", "slug": slug, "version": "1.0.0", "licenses": ["MIT"], "root": "root"}
    return tomli_w.dumps({"design": design, "part": parts}).encode()


def grid_stl(path: Path, triangles: int) -> None:
    """A flat square grid of `triangles` facets as binary STL, written a row at a time."""
    side = int(np.ceil(np.sqrt(triangles / 2)))
    rows = int(np.ceil(triangles / (2 * side)))
    record = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    with path.open("wb") as out:
        out.write(b"benchmark grid".ljust(80, b" ") + np.uint32(2 * side * rows).tobytes())
        x = np.arange(side, dtype=np.float32)
        for y in range(rows):
            facets = np.zeros(2 * side, dtype=record)
            facets["normal"][:, 2] = 1
            a, b = (
                np.stack([x, np.full(side, y), np.zeros(side)], 1),
                np.stack([x + 1, np.full(side, y), np.zeros(side)], 1),
            )
            c, d = a + [0, 1, 0], b + [0, 1, 0]
            facets["v"][0::2] = np.stack([a, b, d], 1)
            facets["v"][1::2] = np.stack([a, d, c], 1)
            out.write(facets.tobytes())


def stl_archive(folder: Path, triangles: int) -> Path:
    stl = folder / "plate.stl"
    grid_stl(stl, triangles)
    archive = folder / f"stl-{triangles // 1_000_000}M.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
        out.writestr("design.toml", manifest("stl-bench", "plate.stl"))
        out.write(stl, "plate.stl")
    stl.unlink()
    return archive


def bomb_archive(folder: Path, unpacked: int = 2_000_000_000) -> Path:
    """A zip that unpacks about 100 times larger than it is: noise spread thinly through zeros."""
    archive = folder / "bomb-100to1.zip"
    rng = np.random.default_rng(1)
    block = 1 << 20
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("design.toml", manifest("bomb-bench", None))
        with out.open("fill.bin", "w", force_zip64=True) as member:
            for _ in range(unpacked // block):
                chunk = np.zeros(block, dtype=np.uint8)
                chunk[rng.integers(0, block, 2300)] = rng.integers(0, 256, 2300, dtype=np.uint8)
                member.write(chunk.tobytes())
    return archive


def example_archive(folder: Path) -> Path:
    """A real example design, as `peerfab design push` would send it."""
    source = ROOT / "designs" / "reprap-printer"
    archive = folder / "reprap-printer.tar.gz"
    with tarfile.open(archive, "w:gz") as out:
        for item in sorted(source.rglob("*")):
            if item.is_file():
                out.add(item, arcname=item.relative_to(source).as_posix())
    return archive


def baseline_tree(revision: str, folder: Path) -> Path:
    target = folder / f"baseline-{revision}"
    target.mkdir()
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tree:
        tree.extractall(target, filter="data")
    return target


def run(code: str, code_root: Path, archives: dict[str, Path], work: Path) -> list[Result]:
    results = []
    for scenario, archive in archives.items():
        data_dir = Path(tempfile.mkdtemp(prefix=f"{code}-{scenario}-", dir=work))
        server = Server(code_root, data_dir)
        try:
            results.append(server.post(archive, code, scenario))
            print(f"  {code} {scenario}: {results[-1]}", file=sys.stderr, flush=True)
        finally:
            server.stop()
    return results


def table(results: list[Result], sizes: dict[str, float]) -> str:
    lines = [
        "| upload | archive | code | answer | time | peak memory above idle | bytes written | message |",
        "|---|---:|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {sizes[r.scenario]:.1f} MB | {r.code} | {r.status} | {r.seconds:.2f} s "
            f"| {r.peak_mb:.0f} MB | {r.written_mb:.0f} MB | {r.message} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triangles", type=int, default=10_000_000)
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the code to compare with")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="peerfab-limits-") as tmp:
        work = Path(tmp)
        archives = {
            f"{args.triangles / 1e6:g} M-triangle STL": stl_archive(work, args.triangles),
            "100:1 zip bomb, 2 GB unpacked": bomb_archive(work),
            "example design (control)": example_archive(work),
        }
        sizes = {name: path.stat().st_size / MB for name, path in archives.items()}
        results = run("this code", ROOT, archives, work)
        if not args.skip_baseline:
            results += run(f"before ({args.baseline})", baseline_tree(args.baseline, work), archives, work)
        text = table(sorted(results, key=lambda r: list(archives).index(r.scenario)), sizes)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
