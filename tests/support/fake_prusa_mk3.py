"""A fake Prusa MK3S firmware (the Marlin fork PrusaLink talks to) on a pty pair.

It answers what PrusaLink 0.8.1 asks a printer before it calls it ready (firmware version, printer type,
nozzle, serial number, EEPROM reads, mesh, speed and flow, print info) and runs a G-code file streamed
with line numbers and checksums. Pause, resume and stop are the firmware's host actions
(`// action:paused`, `// action:resumed`, `// action:cancel`); an `M600` waits for
`confirm_at_printer()` and says `echo:busy: paused for user` meanwhile; `halt_after` injects the
thermal-runaway stop a real printer reports. Nothing moves: each command takes `exec_time` seconds
and then says `ok`.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque

from tests.support.pty_firmware import PtyFirmware, line_checksum

FIRMWARE = "3.14.0-8000"
PRINTER_TYPE = 302  # MK3S, as `M862.2 Q` reports it
SERIAL_NUMBER = "CZPX1234X004XC12345"
_NUMBERED = re.compile(r"N(-?\d+) (.*)\*(\d+)")
_EEPROM_READ = re.compile(r"D3 Ax([0-9A-Fa-f]+) C(\d+)")
_EEPROM_WRITE = re.compile(r"D3 Ax([0-9A-Fa-f]+)(?: C\d+)? X([0-9A-Fa-f]+)")
_TARGET = re.compile(r"S(-?\d+(?:\.\d+)?)")
_LINE_NUMBER = re.compile(r"N(-?\d+)")
_PROGRESS = re.compile(r" P(\d+)")


class FakePrusaMK3(PtyFirmware):
    """Runs until stopped; `executed` lists the numbered (file) commands it ran, in order."""

    def __init__(self, exec_time: float = 0.0) -> None:
        super().__init__()
        self.exec_time = exec_time
        self.executed: list[str] = []
        self.received: list[str] = []
        self._rx = bytearray()
        self._queue: deque[str] = deque()
        self._busy_until = 0.0
        self._last_n = 0
        self._targets = {"T": 0.0, "B": 0.0}
        self._progress = 0
        self._report_every = 0.0
        self._next_busy = 0.0
        self._next_report = 0.0
        self._paused = False
        self._waiting = False  # while an M600 waits for the user at the printer
        self._confirmed = threading.Event()  # set from the test's thread by confirm_at_printer()
        self.eeprom: dict[int, int] = {}  # bytes written with D3 (the job id, for one); unwritten ones read 0
        self.halt_after: int | None = None  # file lines to run before a thermal runaway halts it

    def _boot(self) -> None:
        self._say("start", f"echo: {FIRMWARE}")

    def _take(self, data: bytes) -> None:
        self._rx += data
        while (end := self._rx.find(b"\n")) >= 0:
            line = bytes(self._rx[:end]).decode(errors="replace").strip()
            del self._rx[: end + 1]
            if line:
                self.received.append(line)
                self._accept(line)

    def _accept(self, line: str) -> None:
        match = _NUMBERED.fullmatch(line)
        if match is None:
            self._renumber(line, self._last_n)
            self._queue.append(line)
            return
        number, command = int(match[1]), match[2]
        if int(match[3]) != line_checksum(f"N{number} {command}"):
            self._say(
                f"Error:checksum mismatch, Last Line: {self._last_n}", f"Resend: {self._last_n + 1}", "ok"
            )
        elif command.startswith("M110"):
            self._renumber(command, number)
            self._queue.append(command)
        elif number != self._last_n + 1:
            self._say(f"Error:Line Number is not Last Line Number+1, Last Line: {self._last_n}")
            self._say(f"Resend: {self._last_n + 1}", "ok")
        else:
            self._last_n = number
            self.executed.append(command.strip())
            self._queue.append(command.strip())

    def _renumber(self, command: str, number: int) -> None:
        """`M110 Nx` sets the last line number to x (to the line's own number without an argument)."""
        if command.startswith("M110"):
            argument = _LINE_NUMBER.search(command)
            self._last_n = int(argument[1]) if argument else number

    def _step(self) -> bool:
        now = time.monotonic()
        if self._report_every and now >= self._next_report:
            self._next_report = now + self._report_every
            self._say(self._temperatures())
        if self._waiting:
            return self._wait_for_user(now)
        if not self._queue or now < self._busy_until:
            return False
        command = self._queue.popleft()
        self._busy_until = now + self.exec_time
        self._answer(command)
        return True

    def confirm_at_printer(self) -> None:
        """The user at the printer confirms what an M600 asked for (the filament is changed).

        Only the fake's own thread writes to the port: it answers the `ok` at its next step, so no
        `busy` line can follow the `ok` it ends.
        """
        self._confirmed.set()

    def _wait_for_user(self, now: float) -> bool:
        if self._confirmed.is_set():
            self._confirmed.clear()
            self._waiting = False
            self._say("ok")
            return True
        if now >= self._next_busy:
            self._next_busy = now + 1.0
            self._say("echo:busy: paused for user")
        return False

    def _answer(self, command: str) -> None:
        if self.halt_after is not None and len(self.executed) >= self.halt_after:
            self.halt_after = None
            self._say("Error: HEATBED THERMAL RUNAWAY", "Error:Printer halted. kill() called!")
            self._silent = True
            return
        code = command.split(" ", 1)[0]
        if code == "M600":
            self._next_busy = 0.0
            self._waiting = True
            return
        self._say(*self._reply(code, command), "ok")

    def _reply(self, code: str, command: str) -> list[str]:
        if (read := _EEPROM_READ.fullmatch(command)) is not None:
            return self._eeprom_lines(int(read[1], 16), int(read[2]))
        if (write := _EEPROM_WRITE.fullmatch(command)) is not None:
            data = bytes.fromhex(write[2])
            self.eeprom.update((int(write[1], 16) + offset, byte) for offset, byte in enumerate(data))
            return []
        handler = self._HANDLERS.get(code)
        return handler(self, command) if handler else []

    def _eeprom_lines(self, address: int, count: int) -> list[str]:
        """A `D3` dump of `count` bytes from `address`, sixteen to a line as the firmware prints it."""
        lines = []
        for start in range(address, address + count, 16):
            data = (self.eeprom.get(at, 0) for at in range(start, min(start + 16, address + count)))
            lines.append(f"{start:06x}  " + " ".join(f"{byte:02x}" for byte in data))
        return lines

    def _temperatures(self) -> str:
        hotend, bed = self._targets["T"], self._targets["B"]
        return (
            f"T:{hotend:.1f} /{hotend:.1f} B:{bed:.1f} /{bed:.1f} T0:{hotend:.1f} /{hotend:.1f} "
            f"@:0 B@:0 P:35.0 A:30.0"
        )

    def _set_target(self, command: str) -> list[str]:
        if (value := _TARGET.search(command)) is not None:
            self._targets["B" if command.startswith(("M140", "M190")) else "T"] = float(value[1])
        return []

    def _autoreport(self, command: str) -> list[str]:
        interval = _TARGET.search(command)
        self._report_every = float(interval[1]) if interval else 0.0
        return []

    def _progress_report(self, command: str) -> list[str]:
        if (value := _PROGRESS.search(command)) is not None:
            self._progress = int(value[1])
        done = f"Percent done: {self._progress}; print time remaining in mins: 1; Change in mins: -1"
        return [f"NORMAL MODE: {done}", f"SILENT MODE: {done}"]

    def _pause(self, command: str) -> list[str]:
        self._paused = True
        return ["// action:paused"]

    def _resume(self, command: str) -> list[str]:
        self._paused = False
        return ["// action:resumed"]

    def _cancel(self, command: str) -> list[str]:
        self._paused = False
        return ["// action:cancel"]

    _HANDLERS = {
        "PRUSA": lambda self, command: [FIRMWARE if command == "PRUSA Fir" else SERIAL_NUMBER],
        "M862.2": lambda self, command: [str(PRINTER_TYPE)],
        "M862.1": lambda self, command: ["0.40"],
        "M420": lambda self, command: ["Mesh bed leveling not active."],
        "M220": lambda self, command: ["100%"],
        "M221": lambda self, command: ["100%"],
        "M27": lambda self, command: ["Print saved" if self._paused else "Not SD printing"],
        "M20": lambda self, command: ["Begin file list", "End file list"],
        "M21": lambda self, command: ["echo:SD init fail"],
        "M105": lambda self, command: [],
        "M104": _set_target,
        "M109": _set_target,
        "M140": _set_target,
        "M190": _set_target,
        "M155": _autoreport,
        "M73": _progress_report,
        "M601": _pause,
        "M602": _resume,
        "M603": _cancel,
    }
