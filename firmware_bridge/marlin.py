"""Sans-io engine for Marlin and other RepRap firmwares: numbered, checksummed, windowed streaming.

Feed received bytes to `receive`, call `poll` now and then for timeouts, and write whatever
`data_to_send` returns. The engine never touches a port or a clock: `now` is always passed in.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from firmware_bridge.events import (
    TERMINAL_STATES,
    Event,
    Failed,
    Finished,
    MachineMessage,
    Paused,
    Progress,
    Resumed,
    StreamState,
    Temperatures,
)
from firmware_bridge.gcode import SourceLine, command_code, number_line
from firmware_bridge.reports import first_int, parse_temperatures
from protocol.errors import InvalidInput

# Commands that may legitimately keep the firmware silent for long (heating, homing, probing).
LONG_COMMANDS = frozenset({"M109", "M190", "M191", "M116", "G28", "G29", "G4", "M400", "M600"})
HEAT_WAITS = frozenset({"M109", "M190", "M191", "M116"})
SAFE_STOP = ("M104 S0", "M140 S0", "M107")
_LINE_ERROR = re.compile(r"checksum|last line|line number", re.IGNORECASE)


@dataclass(frozen=True)
class MarlinConfig:
    """Flow-control and timeout settings; defaults match an AVR Marlin build."""

    buffer_lines: int = 4
    rx_bytes: int = 128
    command_timeout: float = 30.0
    long_timeout: float = 900.0
    boot_wait: float = 2.0
    max_resends: int = 5
    resend_grace: float = 0.5

    def __post_init__(self) -> None:
        if self.buffer_lines < 1:
            raise InvalidInput(f"buffer_lines must be at least 1, got {self.buffer_lines}")
        if self.rx_bytes < 16:
            raise InvalidInput(f"rx_bytes must be at least 16, got {self.rx_bytes}")
        if self.command_timeout <= 0 or self.long_timeout < self.command_timeout:
            raise InvalidInput("timeouts must be positive and long_timeout >= command_timeout")
        if self.max_resends < 1:
            raise InvalidInput(f"max_resends must be at least 1, got {self.max_resends}")


@dataclass
class _InFlight:
    number: int
    wire_bytes: int


class MarlinEngine:
    """Streams a job to a RepRap-style firmware; line 0 is the `M110 N0` that resets numbering."""

    def __init__(self, lines: Sequence[SourceLine], config: MarlinConfig | None = None) -> None:
        self.config = config or MarlinConfig()
        self._commands = ["M110 N0", *(line.text for line in lines)]
        self._sources: list[int | None] = [None, *(line.source_line for line in lines)]
        self._file_end = len(self._commands)
        self._bytes_total = sum(len(text) + 1 for text in self._commands[1:])
        self._bytes_done = 0
        self._next = 0
        self._acked = 0
        self._inflight: deque[_InFlight] = deque()
        self._inflight_bytes = 0
        self._outbox = bytearray()
        self._rx = bytearray()
        self._events: list[Event] = []
        self.state = StreamState.CONNECTING
        self._started_at: float | None = None
        self._booted = False
        self._last_activity = 0.0
        self._swallow_ok = 0
        self._stale_resends = 0
        self._rewound_to = -1
        self._doubted: int | None = None
        self._resend_counts: dict[int, int] = {}
        self._pause_reported = False
        self.temperatures: dict[str, tuple[float, float | None]] = {}

    # -- public API -------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the job reached a terminal state."""
        return self.state in TERMINAL_STATES

    @property
    def progress(self) -> Progress:
        """Acknowledged bytes and lines of the job file so far."""
        lines_done = max(0, min(self._acked, self._file_end) - 1)
        return Progress(self._bytes_done, self._bytes_total, lines_done, self._file_end - 1)

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Take bytes read from the printer and return the events they cause."""
        self._rx += data
        while (end := self._rx.find(b"\n")) >= 0:
            raw = bytes(self._rx[:end]).decode("latin-1").strip()
            del self._rx[: end + 1]
            if raw and not self.finished:
                self._handle_line(raw, now)
        return self._take_events()

    def poll(self, now: float) -> list[Event]:
        """Check timeouts; call it regularly even when nothing arrives."""
        if self._started_at is None:
            self._started_at = now  # the boot wait starts when the port is first polled
        if self.state is StreamState.CONNECTING and not self._booted:
            if now - self._started_at >= self.config.boot_wait:
                self._booted = True
                self._last_activity = now
        elif self._doubted is not None and now - self._last_activity > self.config.resend_grace:
            self._rewind(self._doubted)  # the ignored request was real: the printer went quiet
        elif self._inflight and now - self._last_activity > self._timeout():
            waiting = self._inflight[0].number
            self._fail(
                f"no answer from the printer for {self._timeout():.0f} s while waiting for "
                f"'{self._commands[waiting]}': printer dead or disconnected",
                waiting,
            )
        return self._take_events()

    def data_to_send(self, now: float) -> bytes:
        """Return the bytes to write now, keeping within the firmware's line and byte buffers."""
        while self._may_send():
            self._send_next(now)
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def pause(self) -> None:
        """Stop sending new lines; lines already sent are still acknowledged."""
        if self.state is StreamState.STREAMING:
            self.state = StreamState.PAUSED
            self._pause_reported = False
            self._report_paused_when_drained()

    def resume(self) -> None:
        """Go on sending after a pause."""
        if self.state is StreamState.PAUSED:
            self.state = StreamState.STREAMING
            self._events.append(Resumed())

    def cancel(self) -> None:
        """Stop the job: no more file lines, then heaters and fan off, with no motion."""
        if self.finished or self.state is StreamState.CANCELLING:
            return
        stop = list(SAFE_STOP)
        if any(command_code(self._commands[e.number]) in HEAT_WAITS for e in self._inflight):
            stop.insert(0, "M108")  # breaks a heat wait when the firmware has an emergency parser
        keep = max(self._next, 1)
        self._commands = [*self._commands[:keep], *stop]
        self._sources = [*self._sources[:keep], *([None] * len(stop))]
        self._file_end = min(self._file_end, keep)
        self.state = StreamState.CANCELLING
        self._finish_if_drained()

    # -- sending ----------------------------------------------------------------------------

    def _may_send(self) -> bool:
        if self._next >= len(self._commands) or self.finished:
            return False
        if self.state is StreamState.PAUSED:
            return False
        if self.state is StreamState.CONNECTING and (not self._booted or self._next > 0):
            return False
        if len(self._inflight) >= self.config.buffer_lines:
            return False
        size = len(self._wire(self._next))
        return not self._inflight or self._inflight_bytes + size <= self.config.rx_bytes

    def _wire(self, number: int) -> bytes:
        return (number_line(number, self._commands[number]) + "\n").encode("ascii", "replace")

    def _send_next(self, now: float) -> None:
        wire = self._wire(self._next)
        if not self._inflight:
            self._last_activity = now  # the clock for an answer starts with the first line out
        self._inflight.append(_InFlight(self._next, len(wire)))
        self._inflight_bytes += len(wire)
        self._outbox += wire
        self._next += 1

    def _timeout(self) -> float:
        codes = (command_code(self._commands[e.number]) for e in self._inflight)
        if any(code in LONG_COMMANDS for code in codes):
            return self.config.long_timeout
        return self.config.command_timeout

    # -- receiving --------------------------------------------------------------------------

    def _handle_line(self, line: str, now: float) -> None:
        self._last_activity = now
        lower = line.lower()
        if lower.startswith("ok"):
            self._on_ok(line)
        elif lower.startswith("resend:") or lower.startswith("rs "):
            self._on_resend(line)
        elif lower.startswith("error:") or line.startswith("!!"):
            self._on_error(line)
        elif lower == "start":
            self._on_start()
        elif lower.startswith(("busy:", "echo:busy", "wait")):
            pass  # keep-alive: the timestamp above is all it is for
        elif "T:" in line and (readings := parse_temperatures(line)):
            self._on_temperatures(readings)
        else:
            self._events.append(MachineMessage(line))

    def _on_ok(self, line: str) -> None:
        if "T:" in line and (readings := parse_temperatures(line)):
            self._on_temperatures(readings)
        if self._swallow_ok:
            self._swallow_ok -= 1  # Marlin follows every resend request with its own ok
            return
        if not self._inflight:
            return
        entry = self._inflight.popleft()
        self._inflight_bytes -= entry.wire_bytes
        self._acked = entry.number + 1
        self._resend_counts.pop(entry.number, None)
        if entry.number == self._doubted:
            self._doubted = None
        if self.state is StreamState.CONNECTING:
            self.state = StreamState.STREAMING
        if 1 <= entry.number < self._file_end:
            self._bytes_done += len(self._commands[entry.number]) + 1
            self._events.append(self.progress)
        self._report_paused_when_drained()
        self._finish_if_drained()

    def _on_resend(self, line: str) -> None:
        number = first_int(line.split(":", 1)[-1] if ":" in line else line[2:])
        self._swallow_ok += 1
        oldest = self._inflight[0].number if self._inflight else self._next
        if number is None or number < oldest or number >= self._next:
            return  # stale: that line was acknowledged already, or was never sent
        if self._stale_resends and number == self._rewound_to:
            self._stale_resends -= 1  # likely an echo from a line sent before the rewind
            self._doubted = number
            return
        self._rewind(number)

    def _rewind(self, number: int) -> None:
        count = self._resend_counts.get(number, 0) + 1
        self._resend_counts[number] = count
        if count > self.config.max_resends:
            self._fail(
                f"resend loop: the printer asked for line N{number} '{self._commands[number]}' {count} times",
                number,
            )
            return
        self._doubted = None
        dropped = [e for e in self._inflight if e.number >= number]
        self._stale_resends = max(0, len(dropped) - 1)
        self._rewound_to = number
        for entry in dropped:
            self._inflight.remove(entry)
            self._inflight_bytes -= entry.wire_bytes
        self._next = number

    def _on_error(self, line: str) -> None:
        if _LINE_ERROR.search(line):
            self._events.append(MachineMessage(line))  # a Resend request follows
            return
        number = self._inflight[0].number if self._inflight else None
        self._fail(f"printer error: {line}", number)

    def _on_start(self) -> None:
        if self.state is StreamState.CONNECTING and self._next == 0:
            self._booted = True
            return
        if self.state is StreamState.CONNECTING:
            self._rewind_all()  # the board rebooted under our M110, which it never saw
            return
        self._fail("printer reset: the firmware restarted in the middle of the job", None)

    def _rewind_all(self) -> None:
        self._inflight.clear()
        self._inflight_bytes = 0
        self._next = 0

    def _on_temperatures(self, readings: dict[str, tuple[float, float | None]]) -> None:
        self.temperatures.update(readings)
        self._events.append(Temperatures(readings))

    # -- outcomes ---------------------------------------------------------------------------

    def _report_paused_when_drained(self) -> None:
        if self.state is StreamState.PAUSED and not self._inflight and not self._pause_reported:
            self._pause_reported = True
            self._events.append(Paused())

    def _finish_if_drained(self) -> None:
        if self._inflight or self._next < len(self._commands):
            return
        if self.state is StreamState.STREAMING:
            self.state = StreamState.DONE
            self._events.append(Finished())
        elif self.state is StreamState.CANCELLING:
            self.state = StreamState.CANCELLED
            self._events.append(Finished(cancelled=True))

    def _fail(self, reason: str, number: int | None) -> None:
        source = self._sources[number] if number is not None else None
        where = f" (file line {source})" if source is not None else ""
        self.state = StreamState.FAILED
        self._events.append(Failed(reason + where, source))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
