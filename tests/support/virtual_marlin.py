"""OctoPrint's virtual Marlin printer behind a pty, with a record of every command it executed.

Runs under the Python of the OctoPrint venv (OctoPrint pins its own Flask), never imports peerfab:

    .venv-octoprint/bin/python virtual_marlin.py --log executed.txt --settings '{"enable_eeprom": false}'

It prints `PORT /dev/pts/N` once the pty is ready and serves until its stdin closes. The record
cannot be faked by the host: it is written by the virtual printer itself, at the one point where
it has accepted a line (line number and checksum checked) and dispatches the command, so a line
it refused, dropped or never saw is absent and a line it ran twice appears twice.

Quirks of the virtual printer this bridge works around:
- it parses one line per write and keeps any second line of a write until the next write, so the
  bridge hands it one line per write;
- `time_scale` runs its simulated clock (moves, dwells, heating at 10 °C/s) that many times faster,
  so a real slicer file with heat-up and a 30 s dwell streams in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import tempfile
import threading
import time as real_time
import tty
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class Settings:
    """The part of OctoPrint's settings object the virtual printer reads."""

    def __init__(self, values: dict[str, Any], basefolder: Path) -> None:
        self._values = values
        self._basefolder = basefolder

    def get(self, path: list[str], merged: bool = False) -> Any:
        value: Any = self._values
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def get_int(self, path: list[str]) -> int:
        return int(self.get(path))

    def get_float(self, path: list[str]) -> float:
        return float(self.get(path))

    def get_boolean(self, path: list[str]) -> bool:
        return bool(self.get(path))

    def global_get_basefolder(self, name: str) -> str:
        folder = self._basefolder / name
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)


class Recorder:
    """Stands in for the printer's command regex: logs each command it is asked to dispatch."""

    def __init__(self, pattern: Any, log: Path) -> None:
        self._pattern = pattern
        self._log = log.open("a", encoding="ascii", errors="replace", buffering=1)
        self._lock = threading.Lock()

    def match(self, data: str) -> Any:
        with self._lock:
            self._log.write(data.strip() + "\n")
        return self._pattern.match(data)


def scaled_clock(scale: float) -> SimpleNamespace:
    """A `time` module whose monotonic clock runs `scale` times faster."""
    start = real_time.monotonic()

    def monotonic() -> float:
        return start + (real_time.monotonic() - start) * scale

    def sleep(seconds: float) -> None:
        real_time.sleep(max(0.0, seconds) / scale)

    return SimpleNamespace(monotonic=monotonic, sleep=sleep, time=real_time.time)


def build_printer(options: dict[str, Any], log: Path, workdir: Path) -> Any:
    """A VirtualPrinter with the plugin's defaults overlaid by `options`."""
    from octoprint.plugins.virtual_printer import VirtualPrinterPlugin, virtual

    values = VirtualPrinterPlugin().get_settings_defaults()
    scale = float(options.pop("time_scale", 1.0))
    values.update(options)
    virtual.plugin_manager = lambda: SimpleNamespace(get_hooks=lambda name: {})
    virtual.time = scaled_clock(scale)
    virtual.VirtualPrinter.command_regex = Recorder(virtual.VirtualPrinter.command_regex, log)
    profiles = SimpleNamespace(get_current_or_default=lambda: {"volume": {}})
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    return virtual.VirtualPrinter(
        Settings(values, workdir), profiles, data_folder=str(data), read_timeout=0.05
    )


def host_to_printer(master: int, printer: Any, stop: threading.Event) -> None:
    """Feed what the host writes to the printer, one complete line per write."""
    pending = b""
    while not stop.is_set():
        readable, _, _ = select.select([master], [], [], 0.05)
        if not readable:
            continue
        try:
            pending += os.read(master, 4096)
        except OSError:
            return
        *lines, pending = pending.split(b"\n")
        for line in lines:
            data = line + b"\n"
            while data and not stop.is_set():
                data = data[printer.write(data) :]


def printer_to_host(master: int, printer: Any, stop: threading.Event) -> None:
    """Copy every reply of the printer to the host, one line each."""
    while not stop.is_set():
        line = printer.readline()
        if line:
            text = line.rstrip(b"\r\n")
            os.write(master, text + b"\n")


def main() -> None:
    """Serve the virtual printer on a pty until stdin closes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--settings", default="{}")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="virtual-marlin-"))
    printer = build_printer(json.loads(args.settings), args.log, workdir)
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()
    for target in (host_to_printer, printer_to_host):
        threading.Thread(target=target, args=(master, printer, stop), daemon=True).start()
    print(f"PORT {os.ttyname(slave)}", flush=True)
    sys.stdin.read()  # the parent closes our stdin to stop us
    stop.set()
    printer.close()
    os._exit(0)  # the printer's own threads are not daemons and may sit in a long dwell


if __name__ == "__main__":
    main()
