"""The Marlin engine against scripted firmware answers, with a hand-driven clock."""

from __future__ import annotations

import pytest

from firmware_bridge.events import (
    Failed,
    Finished,
    MachineWarning,
    Paused,
    Progress,
    StreamState,
    Temperatures,
)
from firmware_bridge.gcode import checksum, number_line, prepare_lines, strip_comment
from firmware_bridge.marlin import MarlinConfig, MarlinEngine
from protocol.errors import InvalidInput


def job(*commands: str) -> list:
    return list(prepare_lines(commands))


def started(commands: list, **config: object) -> tuple[MarlinEngine, list[str]]:
    """An engine past the M110 handshake; returns it and the lines it sent first."""
    engine = MarlinEngine(commands, MarlinConfig(**config))  # type: ignore[arg-type]
    engine.poll(0.0)
    engine.receive(b"start\n", 0.0)
    assert sent(engine, 0.0) == ["N0 M110 N0*125"]
    engine.receive(b"ok\n", 0.0)
    return engine, sent(engine, 0.0)


def sent(engine: MarlinEngine, now: float) -> list[str]:
    return engine.data_to_send(now).decode().splitlines()


def test_comments_and_blank_lines_are_stripped() -> None:
    lines = job("; header", "", "G1 X1 ; move", "(note) G1 Y2 (inline)", "   ", "M104 S200")
    assert [(line.source_line, line.text) for line in lines] == [
        (3, "G1 X1"),
        (4, "G1 Y2"),
        (6, "M104 S200"),
    ]
    assert strip_comment("G28 (home) ;all") == "G28"


def test_line_numbers_and_checksums_follow_reprap_rules() -> None:
    assert number_line(1, "G28") == f"N1 G28*{checksum('N1 G28')}"
    assert checksum("N0 M110 N0") == 125  # matches what Marlin itself computes


def test_waits_for_boot_before_the_handshake() -> None:
    engine = MarlinEngine(job("G28"), MarlinConfig(boot_wait=2.0))
    engine.poll(10.0)
    assert sent(engine, 10.0) == []
    engine.poll(12.5)
    assert sent(engine, 12.5) == ["N0 M110 N0*125"]


def test_keeps_four_lines_in_flight_and_refills_on_each_ok() -> None:
    engine, first = started(job(*(f"G1 X{i}" for i in range(10))))
    assert [line.split()[0] for line in first] == ["N1", "N2", "N3", "N4"]
    engine.receive(b"ok\n", 0.1)
    assert [line.split()[0] for line in sent(engine, 0.1)] == ["N5"]


def test_byte_cap_limits_long_lines() -> None:
    long = "G1 X100.000 Y100.000 Z0.200 E12.34567 F1800 ; a long slicer line"
    engine, first = started(job(*([long] * 6)), rx_bytes=128)
    assert len(first) == 2
    assert sum(len(line) + 1 for line in first) <= 128


def test_resend_rewinds_to_the_requested_line() -> None:
    engine, first = started(job(*(f"G1 X{i}" for i in range(6))))
    engine.receive(b"ok\nError:checksum mismatch, Last Line: 1\nResend: 2\nok\n", 0.1)
    again = sent(engine, 0.1)
    assert again[0].startswith("N2 G1 X1*")
    assert engine.progress.lines_done == 1


def test_stale_resend_for_an_acknowledged_line_is_ignored() -> None:
    engine, _ = started(job(*(f"G1 X{i}" for i in range(8))))
    engine.receive(b"ok\nok\nok\n", 0.1)
    engine.data_to_send(0.1)
    engine.receive(b"Resend: 1\nok\n", 0.2)
    assert sent(engine, 0.2) == []
    assert engine.state is StreamState.STREAMING


def test_repeated_resends_of_one_line_end_in_a_resend_loop_error() -> None:
    engine, _ = started(job("G1 X1", "G1 X2"), max_resends=3)
    events = []
    rejection = b"Error:checksum mismatch, Last Line: 0\nResend: 1\nok\n"
    for step in range(5):
        # both lines in flight are rejected each time: the firmware never gets line 1 right
        events += engine.receive(rejection * 2, step)
        engine.data_to_send(step)
    failures = [event for event in events if isinstance(event, Failed)]
    assert failures and "resend loop" in failures[0].reason
    assert failures[0].line == 1


def test_busy_keepalive_holds_off_the_timeout() -> None:
    engine, _ = started(job("G28", "G1 X1"), command_timeout=5.0, long_timeout=5.0)
    for second in range(1, 20, 2):
        assert engine.receive(b"echo:busy: processing\n", float(second)) == []
        assert not [e for e in engine.poll(float(second)) if isinstance(e, Failed)]
    engine.receive(b"ok\nok\n", 20.0)
    assert engine.state is StreamState.DONE


def test_silence_declares_the_printer_dead() -> None:
    engine, _ = started(job("G1 X1"), command_timeout=5.0)
    assert engine.poll(4.0) == []
    events = engine.poll(6.0)
    assert isinstance(events[0], Failed) and "printer dead" in events[0].reason


def test_heat_wait_uses_the_long_timeout_and_reports_temperatures() -> None:
    engine, _ = started(job("M109 S210", "G1 X1"), command_timeout=5.0, long_timeout=600.0)
    events = engine.receive(b" T:150.2 /210.0 B:60.1 /60.0 @:127 B@:0 W:?\n", 1.0)
    assert events == [Temperatures({"hotend": (150.2, 210.0), "bed": (60.1, 60.0)})]
    assert engine.poll(100.0) == []
    assert isinstance(engine.poll(700.0)[0], Failed)


def test_m105_answer_updates_temperatures() -> None:
    engine, _ = started(job("M105"))
    events = engine.receive(b"ok T:201.3 /210.0 B:59.8 /60.0 @:64 B@:30\n", 0.1)
    assert engine.temperatures["hotend"] == (201.3, 210.0)
    assert isinstance(events[-1], Finished)


@pytest.mark.parametrize(
    "line",
    [b"Error:Printer halted. kill() called!\n", b"Error:Thermal Runaway, system stopped!\n"],
)
def test_fatal_errors_fail_the_job(line: bytes) -> None:
    engine, _ = started(job("G1 X1", "G1 X2"))
    events = engine.receive(line, 0.1)
    assert isinstance(events[0], Failed) and engine.state is StreamState.FAILED


def test_reset_in_the_middle_of_the_job_is_fatal() -> None:
    engine, _ = started(job("G1 X1", "G1 X2"))
    events = engine.receive(b"ok\nstart\n", 0.1)
    assert any(isinstance(e, Failed) and "printer reset" in e.reason for e in events)


def test_progress_counts_acknowledged_bytes() -> None:
    engine, _ = started(job("G1 X1", "G1 X22"))
    events = engine.receive(b"ok\n", 0.1)
    assert events == [Progress(6, 13, 1, 2)]
    assert events[0].fraction == pytest.approx(6 / 13)


def test_pause_stops_new_lines_and_resume_goes_on() -> None:
    engine, _ = started(job(*(f"G1 X{i}" for i in range(8))))
    engine.pause()
    events = engine.receive(b"ok\nok\nok\n", 0.1)
    assert sent(engine, 0.1) == []
    assert not any(isinstance(e, Paused) for e in events)
    assert isinstance(engine.receive(b"ok\n", 0.2)[-1], Paused)
    engine.resume()
    assert len(sent(engine, 0.3)) == 4


def test_a_pause_after_the_last_line_went_out_ends_done_on_resume() -> None:
    engine, first = started(job("G1 X1", "G4 S20", "G1 X2"))
    assert len(first) == 3  # the whole job is in the printer's buffer
    engine.pause()
    assert isinstance(engine.receive(b"ok\nok\nok\n", 0.1)[-1], Paused)
    engine.resume()  # no line is left to send, no answer will come: the resume itself ends the job
    assert engine.receive(b"", 0.2)[-1] == Finished()
    assert engine.state is StreamState.DONE


def test_cancel_sends_the_safe_stop_sequence_without_motion() -> None:
    engine, _ = started(job(*(f"G1 X{i}" for i in range(20))))
    engine.cancel()
    engine.receive(b"ok\nok\nok\nok\n", 0.1)
    stop = [line.split(" ", 1)[1].rsplit("*", 1)[0] for line in sent(engine, 0.1)]
    assert stop == ["M104 S0", "M140 S0", "M107"]
    events = engine.receive(b"ok\nok\nok\n", 0.2)
    assert events[-1] == Finished(cancelled=True)


def test_bad_config_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="buffer_lines"):
        MarlinConfig(buffer_lines=0)


def numbers(lines: list[str]) -> list[int]:
    return [int(line.split()[0][1:]) for line in lines]


def test_unknown_command_is_a_warning_naming_the_file_line_and_the_job_goes_on() -> None:
    engine, _ = started(job("M201 X500 Y500", "G1 X1"))
    events = engine.receive(b"Error:Unknown command M201\nok\n", 0.1)
    warnings = [e for e in events if isinstance(e, MachineWarning)]
    assert warnings and warnings[0].line == 1 and "M201" in warnings[0].message
    assert "file line 1" in warnings[0].message
    events = engine.receive(b'echo:Unknown command: "G1 X1"\nok\n', 0.2)
    assert any(isinstance(e, MachineWarning) and e.line == 2 for e in events)
    assert events[-1] == Finished()


def test_complaints_about_lines_already_in_flight_after_a_resend_are_not_fatal() -> None:
    engine, first = started(job(*(f"G1 X{i}" for i in range(8))))
    assert numbers(first) == [1, 2, 3, 4]
    # line 2 is rejected; 3 and 4 were already on the wire and are refused in turn
    replies = b"ok\nError: Missing checksum\nResend:2\nok\n"
    replies += b"Error: expected line 2 got 3\nResend:2\nok\nError: expected line 2 got 4\nResend:2\nok\n"
    events = engine.receive(replies, 0.1)
    assert not any(isinstance(e, Failed) for e in events)
    assert numbers(sent(engine, 0.1)) == [2, 3, 4, 5]
    engine.receive(b"ok\n" * 4, 0.2)
    assert numbers(sent(engine, 0.2)) == [6, 7, 8]
    assert engine.receive(b"ok\n" * 3, 0.3)[-1] == Finished()


def test_a_dropped_line_without_a_resend_request_is_sent_again() -> None:
    engine, _ = started(job("G1 X1", "G1 X2"), buffer_lines=1)
    engine.receive(b"ok\n", 0.1)
    assert numbers(sent(engine, 0.1)) == [2]
    engine.receive(b"Error: No Line Number with checksum, Last Line: 1\n", 0.2)
    assert sent(engine, 0.3) == []
    engine.poll(1.0)  # nothing followed within the grace time
    assert numbers(sent(engine, 1.0)) == [2]
    assert engine.receive(b"ok\n", 1.1)[-1] == Finished()


def test_numbered_ok_acknowledges_every_line_up_to_its_number() -> None:
    engine, _ = started(job(*(f"G1 X{i}" for i in range(6))))
    engine.receive(b"ok N3 P15 B3\n", 0.1)  # the oks of 1 and 2 were lost on the wire
    assert engine.progress.lines_done == 3
    engine.receive(b"Error: checksum mismatch\nResend: 4\nok N3\n", 0.2)  # the resend's own ok
    assert engine.progress.lines_done == 3
    assert numbers(sent(engine, 0.2))[0] == 4


def test_wait_with_lines_in_flight_resends_the_oldest_by_number() -> None:
    engine, _ = started(job("G1 X1", "G1 X2"), buffer_lines=1)
    engine.receive(b"wait\n", 0.1)  # too soon after sending: the line may still be on its way
    assert sent(engine, 0.1) == []
    engine.receive(b"wait\n", 2.0)
    assert numbers(sent(engine, 2.0)) == [1]


def test_split_maxtemp_error_fails_with_its_full_text() -> None:
    engine, _ = started(job("G1 X1", "G1 X2"))
    events = engine.receive(b"Error:0\n: Extruder switched off. MAXTEMP triggered !\n", 0.1)
    failure = next(e for e in events if isinstance(e, Failed))
    assert "MAXTEMP" in failure.reason and failure.line == 1


def test_busy_forever_is_a_stall() -> None:
    engine, _ = started(job("G28", "G1 X1"), long_timeout=5000.0, stall_s=60.0)
    failures = []
    for second in range(1, 120):
        engine.receive(b"echo:busy: processing\n", float(second))
        failures += [e for e in engine.poll(float(second)) if isinstance(e, Failed)]
    assert failures and "stalled" in failures[0].reason and failures[0].line == 1


def test_heating_with_moving_temperatures_is_not_a_stall() -> None:
    engine, _ = started(job("M109 S210", "G1 X1"), long_timeout=5000.0, stall_s=60.0)
    for second in range(1, 300):
        reading = f"T:{20 + second * 0.5:.1f} /210.0\n".encode()
        engine.receive(reading, float(second))
        assert not [e for e in engine.poll(float(second)) if isinstance(e, Failed)]


def test_user_wait_is_not_a_stall_and_pause_stops_the_clock() -> None:
    engine, _ = started(job("M600", "G1 X1"), long_timeout=5000.0, stall_s=60.0)
    for second in range(1, 200):
        engine.receive(b"echo:busy: paused for user\n", float(second))
        assert not [e for e in engine.poll(float(second)) if isinstance(e, Failed)]


def test_nothing_is_sent_into_a_printer_that_reset() -> None:
    engine, _ = started(job(*(f"G1 X{i}" for i in range(10))))
    events = engine.receive(b"ok\nstart\nResend: 1\nok\n", 0.1)
    assert any(isinstance(e, Failed) and "printer reset" in e.reason for e in events)
    assert sent(engine, 0.2) == []
