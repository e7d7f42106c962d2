"""Sans-io engine for Grbl 1.1: character-counting streaming, real-time commands, status reports.

Grbl acknowledges each line with `ok` or `error:N` once its parser has taken it from the serial
receive buffer, so the host may keep several lines in that buffer as long as their bytes fit.
Real-time bytes (`?`, `!`, `~`, Ctrl-X) are picked off on arrival and never count.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

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
)
from firmware_bridge.gcode import SourceLine
from firmware_bridge.grbl_codes import describe_alarm, describe_error
from firmware_bridge.reports import first_int
from firmware_bridge.watchdog import StallWatchdog
from protocol.errors import InvalidInput

STATUS_REQUEST = b"?"
FEED_HOLD = b"!"
CYCLE_START = b"~"
SOFT_RESET = b"\x18"
MIN_STATUS_INTERVAL = 0.2  # Grbl's documentation asks for at most 5 status queries a second
HELD_STATES = ("Hold", "Door", "Sleep")  # stopped on purpose (feed hold, safety door): not a stall
_BANNER = re.compile(r"^Grbl\w*\s+\d")


@dataclass(frozen=True)
class GrblConfig:
    """Buffer size and timing; defaults match an Arduino Uno build of Grbl 1.1."""

    rx_bytes: int = 128
    status_interval: float = 0.2
    response_timeout: float = 10.0
    boot_wait: float = 2.5
    connect_timeout: float = 10.0
    stall_s: float | None = 600.0

    def __post_init__(self) -> None:
        if self.stall_s is not None and self.stall_s < 0:
            raise InvalidInput(f"stall_s must be positive (or 0 to switch it off), got {self.stall_s}")
        if self.rx_bytes < 16:
            raise InvalidInput(f"rx_bytes must be at least 16, got {self.rx_bytes}")
        if self.status_interval < MIN_STATUS_INTERVAL:
            raise InvalidInput(
                f"status_interval must be at least {MIN_STATUS_INTERVAL} s (5 Hz), got {self.status_interval}"
            )
        if self.response_timeout <= self.status_interval:
            raise InvalidInput("response_timeout must be longer than status_interval")


@dataclass(frozen=True)
class GrblStatus:
    """A parsed `<State|MPos:...|FS:...>` real-time status report."""

    state: str
    machine_pos: tuple[float, ...] | None = None
    work_pos: tuple[float, ...] | None = None
    feed: float | None = None
    spindle: float | None = None
    fields: dict[str, str] = field(default_factory=dict)


def parse_status(line: str) -> GrblStatus | None:
    """Parse a Grbl 1.1 status report; return None when the line is not one."""
    if not (line.startswith("<") and line.endswith(">")):
        return None
    state, *parts = line[1:-1].split("|")
    fields = dict(part.split(":", 1) for part in parts if ":" in part)
    speeds = _numbers(fields.get("FS") or fields.get("F"))
    return GrblStatus(
        state=state,
        machine_pos=_numbers(fields.get("MPos")),
        work_pos=_numbers(fields.get("WPos")),
        feed=speeds[0] if speeds else None,
        spindle=speeds[1] if speeds and len(speeds) > 1 else None,
        fields=fields,
    )


def _numbers(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(value) for value in text.split(","))
    except ValueError:
        return None


@dataclass
class _InFlight:
    index: int
    wire_bytes: int


class GrblEngine:
    """Streams a job to Grbl, counting the bytes that sit in its receive buffer."""

    def __init__(self, lines: Sequence[SourceLine], config: GrblConfig | None = None) -> None:
        self.config = config or GrblConfig()
        self._lines = list(lines)
        self._wires = [(line.text + "\n").encode("ascii", "replace") for line in self._lines]
        self._check_lengths()
        self._bytes_total = sum(len(wire) for wire in self._wires)
        self._bytes_done = 0
        self._next = 0
        self._inflight: deque[_InFlight] = deque()
        self._inflight_bytes = 0
        self._outbox = bytearray()
        self._rx = bytearray()
        self._events: list[Event] = []
        self.state = StreamState.CONNECTING
        self.status: GrblStatus | None = None
        self._started_at: float | None = None
        self._last_rx = 0.0
        self._last_status_request = -1e9
        self._reset_sent = False
        self._reset_sent_for_stop = False
        self._idle_probe_sent = False
        self._failure: Failed | None = None
        self._now = 0.0
        self._watchdog = StallWatchdog(self.config.stall_s)

    def _check_lengths(self) -> None:
        capacity = self.config.rx_bytes - 1  # Grbl's ring buffer keeps one slot free
        for line, wire in zip(self._lines, self._wires, strict=True):
            if len(wire) > capacity:
                raise InvalidInput(
                    f"line {line.source_line}: {len(wire)} bytes is longer than Grbl's "
                    f"{capacity}-byte receive buffer"
                )

    # -- public API -------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the job reached a terminal state."""
        return self.state in TERMINAL_STATES

    @property
    def progress(self) -> Progress:
        """Acknowledged bytes and lines so far."""
        acked = self._next - len(self._inflight)
        return Progress(self._bytes_done, self._bytes_total, acked, len(self._lines))

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Take bytes read from Grbl and return the events they cause."""
        self._now = now
        self._rx += data
        if data:
            self._last_rx = now
        while (end := self._rx.find(b"\n")) >= 0:
            raw = bytes(self._rx[:end]).decode("latin-1").strip()
            del self._rx[: end + 1]
            if raw and not self.finished:
                self._handle_line(raw)
        return self._take_events()

    def poll(self, now: float) -> list[Event]:
        """Send status queries and check for silence; call it regularly."""
        self._now = now
        if self._started_at is None:
            self._started_at = self._last_rx = now  # timers start when the port is first polled
        if self.state is StreamState.CONNECTING:
            self._poll_connecting(now)
        elif not self.finished:
            if now - self._last_rx > self.config.response_timeout:
                self._end_failed(
                    f"no answer from Grbl for {self.config.response_timeout:.0f} s: "
                    "controller dead or disconnected"
                )
            elif now - self._last_status_request >= self.config.status_interval:
                self._request_status(now)
            self._check_stall(now)
        return self._take_events()

    def data_to_send(self, now: float) -> bytes:
        """Return the bytes to write now: queued real-time bytes, then lines that fit."""
        while self._may_send():
            self._send_next()
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def pause(self) -> None:
        """Feed hold: the machine decelerates to a stop and keeps its position."""
        if self.state is StreamState.STREAMING:
            self._outbox += FEED_HOLD
            self.state = StreamState.PAUSED
            self._events.append(Paused())

    def resume(self) -> None:
        """Cycle start after a feed hold."""
        if self.state is StreamState.PAUSED:
            self._outbox += CYCLE_START
            self.state = StreamState.STREAMING
            self._events.append(Resumed())

    def cancel(self) -> None:
        """Feed hold, then a soft reset once stopped, so the position is kept."""
        if self.finished or self.state is StreamState.CANCELLING:
            return
        if self.state is StreamState.CONNECTING:
            self.state = StreamState.CANCELLED
            self._events.append(Finished(cancelled=True))
            return
        self._begin_stop()

    # -- sending ----------------------------------------------------------------------------

    def _may_send(self) -> bool:
        if self.state is not StreamState.STREAMING or self._next >= len(self._lines):
            return False
        if self._inflight and self._is_setting(self._inflight[-1].index):
            return False  # EEPROM writes stall Grbl's serial interrupt: one at a time
        if self._is_setting(self._next):
            return not self._inflight
        capacity = self.config.rx_bytes - 1
        return self._inflight_bytes + len(self._wires[self._next]) <= capacity

    def _is_setting(self, index: int) -> bool:
        return self._lines[index].text.startswith("$")

    def _send_next(self) -> None:
        wire = self._wires[self._next]
        self._inflight.append(_InFlight(self._next, len(wire)))
        self._inflight_bytes += len(wire)
        self._outbox += wire
        self._next += 1

    def _request_status(self, now: float) -> None:
        self._outbox += STATUS_REQUEST
        self._last_status_request = now
        if self._all_acked():
            self._idle_probe_sent = True

    def _poll_connecting(self, now: float) -> None:
        waited = now - (now if self._started_at is None else self._started_at)
        if waited > self.config.connect_timeout:
            self._end_failed("no Grbl welcome banner: is this a Grbl controller at this baud?")
        elif waited >= self.config.boot_wait and not self._reset_sent:
            self._outbox += SOFT_RESET  # an already-running Grbl prints its banner on reset
            self._reset_sent = True

    def _begin_stop(self) -> None:
        self._outbox += FEED_HOLD
        self.state = StreamState.CANCELLING

    # -- receiving --------------------------------------------------------------------------

    def _handle_line(self, line: str) -> None:
        if line == "ok":
            self._on_ok()
        elif line.startswith("error:"):
            self._on_error(line)
        elif line.startswith("ALARM:"):
            self._on_alarm(line)
        elif _BANNER.match(line):
            self._on_banner(line)
        elif (status := parse_status(line)) is not None:
            self._on_status(status)
        else:
            self._events.append(MachineMessage(line))

    def _on_ok(self) -> None:
        if not self._inflight:
            return
        entry = self._inflight.popleft()
        self._inflight_bytes -= entry.wire_bytes
        self._bytes_done += entry.wire_bytes
        self._watchdog.progressed(self._now)
        self._events.append(self.progress)

    def _on_error(self, line: str) -> None:
        code = first_int(line) or 0
        if not self._inflight:
            self._events.append(MachineMessage(line))
            return
        entry = self._inflight.popleft()
        self._inflight_bytes -= entry.wire_bytes
        source = self._lines[entry.index]
        message = f"line {source.source_line}: Grbl rejected '{source.text}' with {describe_error(code)}"
        if self._failure is not None:
            # later lines of the burst were already in Grbl's buffer; the first error is the cause
            self._events.append(MachineMessage(message))
            return
        self._failure = Failed(message, source.source_line)
        if self.state is not StreamState.CANCELLING:
            self._begin_stop()

    def _on_alarm(self, line: str) -> None:
        code = first_int(line) or 0
        if not self._inflight:
            self._end_failed(f"Grbl raised {describe_alarm(code)}; streaming stopped")
            return
        source = self._lines[self._inflight[0].index]
        self._end_failed(
            f"line {source.source_line}: Grbl raised {describe_alarm(code)} while running "
            f"'{source.text}'; streaming stopped",
            source.source_line,
        )

    def _on_banner(self, line: str) -> None:
        if self.state is StreamState.CONNECTING:
            self.state = StreamState.STREAMING
            self._events.append(MachineMessage(line))
            self._finish_if_done()
        elif self.state is StreamState.CANCELLING and self._reset_sent_for_stop:
            self._end_stopped()
        else:
            self._end_failed("controller reset: Grbl restarted in the middle of the job")

    def _on_status(self, status: GrblStatus) -> None:
        self.status = status
        if status.machine_pos is not None:
            self._watchdog.position(status.machine_pos, self._now)
        if status.state.startswith("Alarm") and self.state is not StreamState.CANCELLING:
            self._end_failed("Grbl is in alarm state; home ($H) or unlock ($X) it first")
        elif self.state is StreamState.CANCELLING:
            self._reset_when_stopped(status)
        elif self._idle_probe_sent and status.state in ("Idle", "Check"):
            self._finish_if_done()

    def _reset_when_stopped(self, status: GrblStatus) -> None:
        stopped = status.state in ("Hold:0", "Idle", "Check") or status.state.startswith("Alarm")
        if stopped and not self._reset_sent_for_stop:
            self._outbox += SOFT_RESET
            self._reset_sent_for_stop = True

    # -- outcomes ---------------------------------------------------------------------------

    def _check_stall(self, now: float) -> None:
        machine_held = self.status is not None and self.status.state.startswith(HELD_STATES)
        self._watchdog.hold(self.state is not StreamState.STREAMING or machine_held, now)
        idle = self._watchdog.stalled_for(now)
        if idle is None or not self._inflight:
            return
        source = self._lines[self._inflight[0].index]
        self._end_failed(
            f"line {source.source_line}: stalled: Grbl kept answering but acknowledged no line and "
            f"did not move for {idle:.0f} s (stall_s {self.config.stall_s:g}) while running "
            f"'{source.text}'",
            source.source_line,
        )

    def _all_acked(self) -> bool:
        return self._next >= len(self._lines) and not self._inflight

    def _finish_if_done(self) -> None:
        if self.state is StreamState.STREAMING and self._all_acked() and self._idle_probe_sent:
            self.state = StreamState.DONE
            self._events.append(Finished())

    def _end_stopped(self) -> None:
        if self._failure is not None:
            self.state = StreamState.FAILED
            self._events.append(self._failure)
        else:
            self.state = StreamState.CANCELLED
            self._events.append(Finished(cancelled=True))

    def _end_failed(self, reason: str, line: int | None = None) -> None:
        if self._failure is not None:
            reason = f"{self._failure.reason}; then {reason}"
            line = self._failure.line
        self.state = StreamState.FAILED
        self._events.append(Failed(reason, line))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
