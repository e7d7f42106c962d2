"""A fake Grbl 1.1 on a pty pair: character-counted receive buffer, real-time bytes, faults."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from tests.support.pty_firmware import PtyFirmware

BANNER = "Grbl 1.1h ['$' for help]"
_UNSUPPORTED = re.compile(r"\bG4[12]\b")  # cutter radius compensation is not in Grbl


@dataclass
class GrblFaults:
    """Faults to inject, keyed by the 1-based count of lines received."""

    alarm_at: int | None = None
    reset_at: int | None = None
    silent_after: int | None = None
    reject: dict[int, int] = field(default_factory=dict)


class FakeGrbl(PtyFirmware):
    """Runs until stopped; `executed` lists the lines Grbl accepted, in order."""

    EOL = "\r\n"

    def __init__(self, faults: GrblFaults | None = None, rx_size: int = 128, exec_time: float = 0.0):
        super().__init__()
        self.faults = faults or GrblFaults()
        self.capacity = rx_size - 1
        self.exec_time = exec_time
        self.executed: list[str] = []
        self.received: list[str] = []
        self.settings: dict[str, str] = {}
        self.errors: list[str] = []
        self.realtime: list[bytes] = []
        self.state = "Idle"
        self._rx = bytearray()
        self._busy_until = 0.0

    def _boot(self) -> None:
        self._say(BANNER)

    def _take(self, data: bytes) -> None:
        for byte in data:
            self._on_byte(bytes([byte]))
        if len(self._rx) > self.capacity:
            self.errors.append(f"serial RX overflow: {len(self._rx)} bytes")

    def _on_byte(self, byte: bytes) -> None:
        if byte == b"?":
            self.realtime.append(byte)
            self._say(f"<{self.state}|MPos:0.000,0.000,0.000|FS:0,0>")
        elif byte == b"!":
            self.realtime.append(byte)
            self.state = "Hold:0" if self.state != "Alarm" else self.state
        elif byte == b"~":
            self.realtime.append(byte)
            self.state = "Idle" if self.state.startswith("Hold") else self.state
        elif byte == b"\x18":
            self.realtime.append(byte)
            self._rx.clear()
            self.state = "Idle"
            self._say(BANNER)
        else:
            self._rx += byte

    def _step(self) -> bool:
        if self.state != "Idle" or time.monotonic() < self._busy_until:
            return False
        end = self._rx.find(b"\n")
        if end < 0:
            return False
        line = bytes(self._rx[:end]).decode().strip()
        del self._rx[: end + 1]
        self.received.append(line)
        self._busy_until = time.monotonic() + self.exec_time
        self._execute(len(self.received), line)
        return True

    def _execute(self, count: int, line: str) -> None:
        if line.startswith("$") and "=" in line:
            if self._rx:
                self.errors.append(f"line arrived during EEPROM write of {line!r}")
            key, value = line.split("=", 1)
            self.settings[key] = value
        if count == self.faults.alarm_at:
            self.state = "Alarm"
            self._say("ALARM:1", "[MSG:Reset to continue]")
        elif count == self.faults.reset_at:
            self._rx.clear()
            self._say(BANNER)
        elif count in self.faults.reject:
            self._say(f"error:{self.faults.reject[count]}")
        elif _UNSUPPORTED.search(line.upper()):
            self._say("error:20")
        else:
            self.executed.append(line)
            self._say("ok")
        if count == self.faults.silent_after:
            self._silent = True
