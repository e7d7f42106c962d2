"""Mesh analysis speed, and calibration of the FDM print-time model against slicer estimates.

Run: python benchmarks/mesh.py [--realworld ../shared/realworld]
"""

from __future__ import annotations

import argparse
import io
import math
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coordinator.mesh.analysis import analyze_mesh  # noqa: E402
from coordinator.mesh.printtime import DEFAULT_PROFILE  # noqa: E402

FILAMENT_AREA_MM2 = math.pi * (1.75 / 2) ** 2


def best_of(runs: int, action: Callable[[], object]) -> float:
    """Fastest of `runs` timings, in seconds."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def sphere_stl(triangles: int) -> bytes:
    """A binary STL sphere with about `triangles` faces."""
    count = int(math.sqrt(triangles / 4))
    mesh = trimesh.creation.uv_sphere(radius=50, count=[count, count])
    data: bytes = trimesh.exchange.stl.export_stl(mesh)
    return data


def bench_generated() -> None:
    """Bare load (with and without processing) against the full analysis."""
    print("| mesh | triangles | load process=False | load process=True | analyze_mesh |")
    print("|---|---:|---:|---:|---:|")
    for target in (200_000, 1_000_000):
        data = sphere_stl(target)
        tris = (len(data) - 84) // 50
        runs = 3 if target < 500_000 else 1
        raw = best_of(runs, lambda d=data: trimesh.load(io.BytesIO(d), file_type="stl", process=False))
        processed = best_of(runs, lambda d=data: trimesh.load(io.BytesIO(d), file_type="stl", process=True))
        full = best_of(runs, lambda d=data: analyze_mesh(d))
        print(f"| sphere | {tris:,} | {raw:.3f} s | {processed:.3f} s | {full:.3f} s |")


def bench_prusa(realworld: Path) -> None:
    """Full analysis of the 40 Prusa MK3S parts."""
    folder = realworld / "stl" / "prusa-i3-mk3s"
    paths = sorted(folder.glob("*.stl"))
    if not paths:
        print(f"(no Prusa parts under {folder})")
        return
    timings = {p.name: best_of(3, lambda p=p: analyze_mesh(p, material="PETG")) for p in paths}
    loads = sum(best_of(3, lambda p=p: trimesh.load(p, force="mesh")) for p in paths)
    slowest = max(timings, key=timings.__getitem__)
    print(
        f"\nPrusa MK3S parts: {len(paths)} files, analyze_mesh total {sum(timings.values()):.2f} s, "
        f"median {statistics.median(timings.values()) * 1000:.0f} ms, slowest {slowest} "
        f"{timings[slowest] * 1000:.0f} ms; bare trimesh.load (default processing) total {loads:.2f} s"
    )


def gcode_facts(path: Path) -> dict[str, float]:
    """Extruded volume, layer count and the slicer's own time estimate from a G-code file."""
    relative, e_now, extruded, marked = False, 0.0, 0.0, 0
    layers: set[float] = set()
    z = 0.0
    slicer_s = math.nan
    for line in path.read_text(errors="replace").splitlines():
        slicer_s = _slicer_time(line, slicer_s)
        marked += line.startswith((";LAYER_CHANGE", ";LAYER:"))
        code = line.split(";", 1)[0].strip()
        if code.startswith(("M82", "G90")):
            relative = False
        elif code.startswith(("M83", "G91")):
            relative = True
        elif code.startswith("G92") and "E" in code:
            e_now = _axis(code, "E") or 0.0
        elif code.startswith(("G1", "G0", "G2", "G3")):
            z = _axis(code, "Z") or z
            e = _axis(code, "E")
            if e is None:
                continue
            delta = e if relative else e - e_now
            e_now = e_now + e if relative else e
            # Retractions and their recoveries cancel out, so the net sum is the filament used.
            extruded += delta
            if delta > 0:
                layers.add(round(z, 3))
    # A spiral vase climbs continuously: its slicer's layer markers count its layers.
    count = marked or len(layers)
    return {"volume_mm3": extruded * FILAMENT_AREA_MM2, "layers": count, "slicer_s": slicer_s}


def _axis(code: str, axis: str) -> float | None:
    match = re.search(rf"{axis}(-?[\d.]+)", code)
    return float(match.group(1)) if match else None


def _slicer_time(line: str, current: float) -> float:
    if line.startswith(";TIME:"):
        return float(line[6:])
    if "estimated printing time (normal mode)" in line:
        spec = line.split("=", 1)[1]
        units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([dhms])", spec)))
    return current


def calibrate(realworld: Path) -> None:
    """Model time from each G-code's real extruded volume and layer count, against the slicer's."""
    folder = realworld / "gcode" / "fdm"
    p = DEFAULT_PROFILE
    print("\n| G-code | extruded cm3 | layers | slicer | model | model/slicer |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in sorted(folder.glob("*.gcode")):
        facts = gcode_facts(path)
        if math.isnan(facts["slicer_s"]):
            continue
        # Slicers leave heat-up out of their estimate, so the model's start time is left out too.
        model = (
            facts["volume_mm3"] / p.flow_mm3_s * (1 + p.travel_factor) + facts["layers"] * p.layer_overhead_s
        )
        print(
            f"| {path.name} | {facts['volume_mm3'] / 1000:.2f} | {facts['layers']} | "
            f"{facts['slicer_s'] / 60:.1f} min | {model / 60:.1f} min | {model / facts['slicer_s']:.2f} |"
        )


def main() -> None:
    """Print every table as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[2] / "shared" / "realworld"
    parser.add_argument("--realworld", type=Path, default=default)
    args = parser.parse_args()
    bench_generated()
    if args.realworld.is_dir():
        bench_prusa(args.realworld)
        calibrate(args.realworld)


if __name__ == "__main__":
    main()
