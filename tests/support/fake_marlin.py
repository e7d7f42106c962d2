"""A fake Marlin on a pty pair: checks line numbers and checksums, models its buffers, injects faults."""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field

from tests.support.pty_firmware import PtyFirmware, line_checksum

_NUMBERED = re.compile(r"N(-?\d+) (.*)\*(\d+)")


@dataclass
class MarlinFaults:
    """Faults to inject, keyed by line number (N) of the numbered stream."""

    corrupt_once: set[int] = field(default_factory=set)
    wrong_number_once: set[int] = field(default_factory=set)
    always_reject: int | None = None
    busy: dict[int, float] = field(default_factory=dict)
    silent_after: int | None = None
    reset_at: int | None = None
    halt_at: int | None = None
    stale_resend_after: int | None = None
    heat_time: float = 0.3
    boot_banner: bool = True


class FakeMarlin(PtyFirmware):
    """Runs until stopped; `executed` lists the commands it ran, in order."""

    def __init__(
        self,
        faults: MarlinFaults | None = None,
        rx_size: int = 128,
        bufsize: int = 4,
        exec_time: float = 0.0,
    ) -> None:
        super().__init__()
        self.faults = faults or MarlinFaults()
        self.rx_size = rx_size
        self.bufsize = bufsize
        self.exec_time = exec_time
        self.executed: list[str] = []
        self.errors: list[str] = []
        self.overflows = 0
        self.max_rx = 0
        self._rx = bytearray()
        self._queue: deque[tuple[int | None, str]] = deque()
        self._head_done_at: float | None = None
        self._last_n = 0
        self._seen_faults: set[tuple[str, int]] = set()

    def _boot(self) -> None:
        if self.faults.boot_banner:
            self._say("start", "echo:Marlin 2.1.2 (fake)", "echo: Last Updated: 2023-01-01")

    def _step(self) -> bool:
        return self._parse_lines() | self._execute()

    def _take(self, data: bytes) -> None:
        self._rx += data
        self.max_rx = max(self.max_rx, len(self._rx))
        if len(self._rx) > self.rx_size:
            self.overflows += 1
            self.errors.append(f"serial RX overflow: {len(self._rx)} bytes")

    def _parse_lines(self) -> bool:
        parsed = False
        while len(self._queue) < self.bufsize and (end := self._rx.find(b"\n")) >= 0:
            line = bytes(self._rx[:end]).decode().strip()
            del self._rx[: end + 1]
            parsed = True
            if line:
                self._accept(line)
        return parsed

    def _accept(self, line: str) -> None:
        match = _NUMBERED.fullmatch(line)
        if match is None:
            self._queue.append((None, line))
            return
        number, command, check = int(match[1]), match[2], int(match[3])
        if "M110" in command:
            self._last_n = int(command.split("N", 1)[1]) if "N" in command else number
            self._queue.append((number, command))
            return
        if number != self._last_n + 1 or self._inject("wrong", number):
            self._reject("Line Number is not Last Line Number+1")
        elif check != line_checksum(f"N{number} {command}") or self._inject("corrupt", number):
            self._reject("checksum mismatch")
        else:
            self._last_n = number
            self._queue.append((number, command))

    def _inject(self, kind: str, number: int) -> bool:
        if kind == "corrupt" and number == self.faults.always_reject:
            return True
        chosen = self.faults.corrupt_once if kind == "corrupt" else self.faults.wrong_number_once
        if number in chosen and (kind, number) not in self._seen_faults:
            self._seen_faults.add((kind, number))
            return True
        return False

    def _reject(self, reason: str) -> None:
        self._say(f"Error:{reason}, Last Line: {self._last_n}", f"Resend: {self._last_n + 1}", "ok")
        self._rx.clear()  # Marlin flushes what is left in its serial buffer after an error

    def _execute(self) -> bool:
        if not self._queue:
            return False
        now = time.monotonic()
        number, command = self._queue[0]
        if self._head_done_at is None:
            self._head_done_at = now + self._duration(number, command)
        if number in self.faults.busy or command.startswith(("M109", "M190")):
            self._keepalive(number, command)
        if now < self._head_done_at:
            return False
        self._queue.popleft()
        self._head_done_at = None
        self._finish(number, command)
        return True

    def _duration(self, number: int | None, command: str) -> float:
        if command.startswith(("M109", "M190")):
            return self.faults.heat_time
        return self.faults.busy.get(number, self.exec_time) if number is not None else 0.0

    def _keepalive(self, number: int | None, command: str) -> None:
        tick = int(time.monotonic() * 20)
        if getattr(self, "_last_tick", None) == tick:
            return
        self._last_tick = tick
        if command.startswith(("M109", "M190")):
            self._say("T:150.00 /210.00 B:58.00 /60.00 @:127 B@:0 W:?")
        else:
            self._say("echo:busy: processing")

    def _finish(self, number: int | None, command: str) -> None:
        if not command.startswith("M110"):
            self.executed.append(command)
        if number is not None and number == self.faults.halt_at:
            self._say("Error:Printer halted. kill() called!")
            self._silent = True
            return
        if number is not None and number == self.faults.reset_at:
            self._queue.clear()
            self._rx.clear()
            self._last_n = 0
            self._say("start", "echo:Marlin 2.1.2 (fake)")
            return
        if command.startswith("M105"):
            self._say("ok T:201.3 /210.0 B:59.8 /60.0 @:64 B@:30")
        else:
            self._say("ok")
        if number is not None and number == self.faults.stale_resend_after:
            self._say(f"Resend: {number - 2}", "ok")
        if number is not None and number == self.faults.silent_after:
            self._silent = True
