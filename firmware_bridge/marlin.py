"""Sans-io engine for Marlin and other RepRap firmwares: numbered, checksummed, windowed streaming.

Feed received bytes to `receive`, call `poll` now and then for timeouts, and write whatever
`data_to_send` returns. The engine never touches a port or a clock: `now` is always passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from firmware_bridge.events import (
    TERMINAL_STATES,
    Event,
    Failed,
    Finished,
    MachineMessage,
    MachineWarning,
    Paused,
    Progress,
    Resumed,
    StreamState,
    Temperatures,
)
from firmware_bridge.gcode import SourceLine, command_code, number_line
from firmware_bridge.marlin_replies import ParsedReply, Reply, classify
from firmware_bridge.watchdog import StallWatchdog
from protocol.errors import InvalidInput

# Commands that may legitimately keep the firmware silent for long (heating, homing, probing).
LONG_COMMANDS = frozenset({"M109", "M190", "M191", "M116", "G28", "G29", "G4", "M400", "M600"})
HEAT_WAITS = frozenset({"M109", "M190", "M191", "M116"})
SAFE_STOP = ("M104 S0", "M140 S0", "M107")


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
    stall_s: float | None = 600.0

    def __post_init__(self) -> None:
        if self.buffer_lines < 1:
            raise InvalidInput(f"buffer_lines must be at least 1, got {self.buffer_lines}")
        if self.rx_bytes < 16:
            raise InvalidInput(f"rx_bytes must be at least 16, got {self.rx_bytes}")
        if self.command_timeout <= 0 or self.long_timeout < self.command_timeout:
            raise InvalidInput("timeouts must be positive and long_timeout >= command_timeout")
        if self.max_resends < 1:
            raise InvalidInput(f"max_resends must be at least 1, got {self.max_resends}")
        if self.stall_s is not None and self.stall_s < 0:
            raise InvalidInput(f"stall_s must be positive (or 0 to switch it off), got {self.stall_s}")


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
        self._lost_line: int | None = None
        self._error_prefix: str | None = None
        self._last_send = 0.0
        self._now = 0.0
        self._watchdog = StallWatchdog(self.config.stall_s)
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
        self._now = now
        self._rx += data
        while (end := self._rx.find(b"\n")) >= 0:
            raw = bytes(self._rx[:end]).decode("latin-1").strip()
            del self._rx[: end + 1]
            if raw and not self.finished:
                self._handle_line(raw, now)
        return self._take_events()

    def poll(self, now: float) -> list[Event]:
        """Check timeouts and the stall watchdog; call it regularly even when nothing arrives."""
        self._now = now
        if self._started_at is None:
            self._started_at = now  # the boot wait starts when the port is first polled
        if self.state is StreamState.CONNECTING and not self._booted:
            if now - self._started_at >= self.config.boot_wait:
                self._booted = True
                self._last_activity = now
        elif self._lost_line is not None and now - self._last_activity > self.config.resend_grace:
            self._resend_lost_line()  # the printer dropped a line and asked for nothing
        elif self._doubted is not None and now - self._last_activity > self.config.resend_grace:
            self._rewind(self._doubted)  # the ignored request was real: the printer went quiet
        elif self._inflight and now - self._last_activity > self._timeout():
            waiting = self._inflight[0].number
            self._fail(
                f"no answer from the printer for {self._timeout():.0f} s while waiting for "
                f"'{self._commands[waiting]}': printer dead or disconnected",
                waiting,
            )
        else:
            self._check_stall(now)
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
            self._finish_if_drained()  # paused after the last line went out: nothing else will end it

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
        self._last_send = now
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
        reply = classify(line)
        if self._error_prefix is not None:
            reply = self._join_error(reply)
        if self._lost_line is not None and reply.kind is not Reply.RESEND:
            self._resend_lost_line()
        if reply.kind is not Reply.WAIT:
            self._last_activity = now
        handler = self._HANDLERS.get(reply.kind)
        if handler is None:
            self._events.append(MachineMessage(line))
        else:
            handler(self, reply)

    def _join_error(self, reply: ParsedReply) -> ParsedReply:
        """Marlin splits MINTEMP/MAXTEMP as `Error:0` then `: Extruder switched off...`."""
        prefix, self._error_prefix = self._error_prefix, None
        return ParsedReply(Reply.FATAL, f"{prefix} {reply.text.lstrip(': ')}".strip())

    def _on_ok(self, reply: ParsedReply) -> None:
        if reply.temperatures:
            self._on_temperatures(reply)
        if reply.number is not None and self._ack_through(reply.number):
            return
        if self._swallow_ok:
            self._swallow_ok -= 1  # Marlin follows every resend request with its own ok
            return
        if self._inflight and reply.number is None:
            self._ack_through(self._inflight[0].number)

    def _ack_through(self, number: int) -> bool:
        """Acknowledge every line in flight up to `number`; False when it is not in flight."""
        if not any(entry.number == number for entry in self._inflight):
            return False
        while self._inflight and self._inflight[0].number <= number:
            self._ack(self._inflight.popleft())
        self._report_paused_when_drained()
        self._finish_if_drained()
        return True

    def _ack(self, entry: _InFlight) -> None:
        self._inflight_bytes -= entry.wire_bytes
        self._acked = entry.number + 1
        self._resend_counts.pop(entry.number, None)
        self._watchdog.progressed(self._now)
        if entry.number == self._doubted:
            self._doubted = None
        if self.state is StreamState.CONNECTING:
            self.state = StreamState.STREAMING
        if 1 <= entry.number < self._file_end:
            self._bytes_done += len(self._commands[entry.number]) + 1
            self._events.append(self.progress)

    def _on_resend(self, reply: ParsedReply) -> None:
        number = reply.number
        self._swallow_ok += 1
        self._lost_line = None
        oldest = self._inflight[0].number if self._inflight else self._next
        if number is None or number < oldest or number >= self._next:
            return  # stale: that line was acknowledged already, or was never sent
        if self._stale_resends and number == self._rewound_to:
            self._stale_resends -= 1  # likely an echo from a line sent before the rewind
            self._doubted = number
            return
        self._rewind(number)

    def _on_lost_line(self, reply: ParsedReply) -> None:
        """The firmware dropped a line without asking for it again: resend unless a Resend follows."""
        self._events.append(MachineMessage(f"Error:{reply.text}"))
        if not self._inflight:
            return
        wanted = reply.number + 1 if reply.number is not None else self._inflight[0].number
        self._lost_line = max(wanted, self._inflight[0].number)

    def _resend_lost_line(self) -> None:
        number, self._lost_line = self._lost_line, None
        if number is not None and self._inflight and number < self._next:
            self._rewind(number)

    def _on_wait(self, reply: ParsedReply) -> None:
        """`wait` means the firmware is idle with an empty input: lines in flight were lost."""
        grace = self.config.resend_grace
        quiet = self._now - max(self._last_activity, self._last_send) > grace
        if self._inflight and quiet:
            self._rewind(self._inflight[0].number, echoes=0)

    def _rewind(self, number: int, echoes: int | None = None) -> None:
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
        self._stale_resends = max(0, len(dropped) - 1) if echoes is None else echoes
        self._rewound_to = number
        for entry in dropped:
            self._inflight.remove(entry)
            self._inflight_bytes -= entry.wire_bytes
        self._next = number

    def _on_unknown_command(self, reply: ParsedReply) -> None:
        number = self._inflight_with_code(reply.command)
        what = reply.command or "a command"
        self._warn(f"the printer skipped {what} it does not know ({reply.text})", number)

    def _inflight_with_code(self, code: str | None) -> int | None:
        for entry in self._inflight:
            if code and command_code(self._commands[entry.number]) == code:
                return entry.number
        return self._inflight[0].number if self._inflight else None

    def _on_warning(self, reply: ParsedReply) -> None:
        self._warn(reply.text, self._inflight[0].number if self._inflight else None)

    def _on_error_prefix(self, reply: ParsedReply) -> None:
        self._error_prefix = f"Error:{reply.text}"

    def _on_fatal(self, reply: ParsedReply) -> None:
        number = self._inflight[0].number if self._inflight else None
        self._fail(f"printer error: {reply.text}", number)

    def _on_start(self, reply: ParsedReply) -> None:
        if self.state is StreamState.CONNECTING and self._next == 0:
            self._booted = True
            return
        if self.state is StreamState.CONNECTING:
            self._rewind_all()  # the board rebooted under our M110, which it never saw
            return
        self._fail(
            "printer reset: the firmware restarted in the middle of the job; nothing more is sent "
            f"({max(0, self._acked - 1)} file commands were acknowledged before it)",
            None,
        )

    def _rewind_all(self) -> None:
        self._inflight.clear()
        self._inflight_bytes = 0
        self._next = 0

    def _on_busy(self, reply: ParsedReply) -> None:
        """A keep-alive: the answer clock was already reset; nothing else to do."""

    def _on_user_wait(self, reply: ParsedReply) -> None:
        self._watchdog.progressed(self._now)  # waiting for the operator is not a stall
        self._events.append(MachineMessage(reply.text))

    def _on_temperatures(self, reply: ParsedReply) -> None:
        self.temperatures.update(reply.temperatures)
        if self._heat_wait_in_flight():
            self._watchdog.temperatures(reply.temperatures, self._now)
        self._events.append(Temperatures(reply.temperatures))

    def _on_line_error(self, reply: ParsedReply) -> None:
        self._events.append(MachineMessage(f"Error:{reply.text}"))  # a Resend request follows

    def _heat_wait_in_flight(self) -> bool:
        return any(command_code(self._commands[e.number]) in HEAT_WAITS for e in self._inflight)

    _HANDLERS: ClassVar[dict[Reply, Callable[[MarlinEngine, ParsedReply], None]]] = {
        Reply.OK: _on_ok,
        Reply.RESEND: _on_resend,
        Reply.START: _on_start,
        Reply.BUSY: _on_busy,
        Reply.USER_WAIT: _on_user_wait,
        Reply.WAIT: _on_wait,
        Reply.TEMPERATURES: _on_temperatures,
        Reply.LINE_ERROR: _on_line_error,
        Reply.LOST_LINE: _on_lost_line,
        Reply.UNKNOWN_COMMAND: _on_unknown_command,
        Reply.WARNING: _on_warning,
        Reply.ERROR_PREFIX: _on_error_prefix,
        Reply.FATAL: _on_fatal,
    }

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

    def _check_stall(self, now: float) -> None:
        self._watchdog.hold(self.state is not StreamState.STREAMING or not self._inflight, now)
        idle = self._watchdog.stalled_for(now)
        if idle is None:
            return
        waiting = self._inflight[0].number
        self._fail(
            f"stalled: the printer kept answering but acknowledged no line for {idle:.0f} s "
            f"(stall_s {self.config.stall_s:g}) while running '{self._commands[waiting]}'",
            waiting,
        )

    def _where(self, number: int | None) -> tuple[str, int | None]:
        source = self._sources[number] if number is not None else None
        return (f" (file line {source})" if source is not None else ""), source

    def _warn(self, message: str, number: int | None) -> None:
        where, source = self._where(number)
        self._events.append(MachineWarning(message + where, source))

    def _fail(self, reason: str, number: int | None) -> None:
        where, source = self._where(number)
        self.state = StreamState.FAILED
        self._events.append(Failed(reason + where, source))

    def _take_events(self) -> list[Event]:
        events, self._events = self._events, []
        return events
