"""`peerfab bridge print` against a send-one-line-wait-for-ok host, on OctoPrint's virtual Marlin.

Both hosts stream the same real PrusaSlicer file to the same virtual printer (OctoPrint's own,
on a pty, EEPROM emulation off so M201-M205 are refused, with resend requests and checksum errors
injected by line number), one after the other in each run. Each run checks from the printer's own
record that every command ran exactly once and in order, then reports wall time.

    .venv/bin/python benchmarks/bridge.py [--runs 3] [--time-scale 50] [FILE]

The naive host sends a line, waits for its `ok`, and on a `Resend: N` sends line N next: the
flow control of a ping-pong host such as OctoPrint's default. Faults are limited to those the
printer announces with a resend request, so the naive host needs no timeouts and pays only for
its round trips.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import serial

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge.gcode import number_line, read_job  # noqa: E402
from tests.support.octoprint_peer import virtual_marlin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld" / "gcode" / "fdm" / "benchy_prusaslicer-2.6.1_marlin2.gcode"
FIXTURE = ROOT / "tests" / "fixtures" / "gcode" / "plug-aligner_prusaslicer-2.5_marlin2.gcode"
FAULTS = [f"{n}:{'resend' if i % 2 else 'checksum_mismatch'}" for i, n in enumerate(range(25, 60000, 997))]
BOOT_WAIT = 0.3


def printer_settings(time_scale: float) -> dict[str, object]:
    """The virtual printer both hosts talk to."""
    return {"enable_eeprom": False, "rxBuffer": 1024, "time_scale": time_scale, "simulated_errors": FAULTS}


def run_peerfab(port: str, job: Path) -> float:
    """Wall time of `peerfab bridge print`, as a user runs it."""
    command = [sys.executable, "-c", "from coordinator.cli import main; main()", "bridge", "print"]
    command += ["--port", port, "--boot-wait", str(BOOT_WAIT), str(job)]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "100"}
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"peerfab bridge print failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed


def run_naive(port: str, commands: list[str]) -> float:
    """Wall time of a host that keeps one line in flight."""
    started = time.perf_counter()
    with serial.Serial(port, 115200, timeout=0.05) as link:
        time.sleep(BOOT_WAIT)
        link.reset_input_buffer()
        _send_and_wait(link, 0, "M110 N0")
        number = 1
        while number <= len(commands):
            resend = _send_and_wait(link, number, commands[number - 1])
            number = resend if resend is not None else number + 1
    return time.perf_counter() - started


def _send_and_wait(link: serial.Serial, number: int, command: str) -> int | None:
    link.write((number_line(number, command) + "\n").encode())
    resend = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = link.readline().decode("latin-1").strip()
        if line.lower().startswith("resend"):
            resend = int(line.split(":", 1)[1])
        elif line.startswith("ok"):
            return resend
        elif line == "start" and number > 0:
            raise SystemExit("the printer reset under the naive host")
    raise SystemExit(f"no ok for line {number} within 60 s")


def one_run(job: Path, commands: list[str], time_scale: float, workdir: Path) -> tuple[float, float]:
    """Both hosts once, each on a fresh printer; both must make it run every command once, in order."""
    results = []
    for host in ("peerfab", "naive"):
        with virtual_marlin(workdir / host, **printer_settings(time_scale)) as printer:
            seconds = (
                run_peerfab(printer.port, job) if host == "peerfab" else run_naive(printer.port, commands)
            )
            executed = printer.executed()
        if executed != commands:
            raise SystemExit(f"{host}: the printer did not run every command exactly once in order")
        results.append(seconds)
    return results[0], results[1]


def main() -> None:
    """Run the comparison and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=REALWORLD if REALWORLD.exists() else FIXTURE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=50.0)
    args = parser.parse_args()
    commands = [line.text for line in read_job(args.file)]
    faults = sum(1 for fault in FAULTS if int(fault.split(":")[0]) <= len(commands))
    print(f"{args.file.name}: {len(commands)} commands, {faults} faults, time scale {args.time_scale:g}")
    print("| run | peerfab s | naive s | peerfab / naive | every command once, in order |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(1, args.runs + 1):
            ours, naive = one_run(args.file, commands, args.time_scale, Path(tmp) / str(run))
            print(f"| {run} | {ours:.1f} | {naive:.1f} | {ours / naive:.2f} | yes (both) |", flush=True)


if __name__ == "__main__":
    main()
