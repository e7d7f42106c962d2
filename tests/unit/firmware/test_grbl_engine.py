"""The Grbl engine against scripted controller answers, with a hand-driven clock."""

from __future__ import annotations

import pytest

from firmware_bridge.events import Failed, Finished, StreamState
from firmware_bridge.gcode import prepare_lines
from firmware_bridge.grbl import GrblConfig, GrblEngine, parse_status
from firmware_bridge.grbl_codes import describe_error
from protocol.errors import InvalidInput

BANNER = b"\r\nGrbl 1.1h ['$' for help]\r\n"


def started(*commands: str, **config: object) -> tuple[GrblEngine, bytes]:
    engine = GrblEngine(list(prepare_lines(commands)), GrblConfig(**config))  # type: ignore[arg-type]
    engine.poll(0.0)
    engine.receive(BANNER, 0.0)
    return engine, engine.data_to_send(0.0)


def test_character_counting_fills_the_receive_buffer_but_never_overflows_it() -> None:
    line = "G1 X10.000 Y20.000 F500"  # 24 bytes with its newline
    engine, first = started(*([line] * 10))
    assert first.count(b"\n") == 5  # 5 * 24 = 120 <= 127, a sixth would not fit
    engine.receive(b"ok\n", 0.1)
    assert engine.data_to_send(0.1).count(b"\n") == 1


def test_settings_are_written_one_at_a_time() -> None:
    engine, first = started("$110=500", "$111=500", "G0 X1")
    assert first == b"$110=500\n"
    engine.receive(b"ok\n", 0.1)
    assert engine.data_to_send(0.1) == b"$111=500\n"
    engine.receive(b"ok\n", 0.2)
    assert engine.data_to_send(0.2) == b"G0 X1\n"


def test_status_queries_stay_at_or_below_five_per_second() -> None:
    engine, _ = started("G1 X1 F100")
    queries = 0
    for tick in range(1, 101):  # one second of polling at 100 Hz
        engine.poll(tick / 100)
        queries += engine.data_to_send(tick / 100).count(b"?")
        engine.receive(b"<Run|MPos:1.000,0.000,0.000|FS:100,0>\n", tick / 100)
    assert 1 <= queries <= 5


def test_unsupported_command_fails_the_job_with_its_line_number() -> None:
    engine, _ = started("G17", "G42 D08", "G1 X1")
    events = engine.receive(b"ok\nerror:20\n", 0.1)
    assert b"!" in engine.data_to_send(0.1)  # feed hold before anything else runs
    engine.receive(b"<Hold:0|MPos:0.000,0.000,0.000|FS:0,0>\n", 0.2)
    assert engine.data_to_send(0.2) == b"\x18"
    events += engine.receive(BANNER, 0.3)
    failure = events[-1]
    assert isinstance(failure, Failed) and failure.line == 2
    assert "error:20" in failure.reason and "G42 D08" in failure.reason


def test_alarm_is_fatal_and_stops_streaming() -> None:
    engine, _ = started(*(["G1 X1"] * 40))
    events = engine.receive(b"ALARM:1\n", 0.1)
    assert isinstance(events[0], Failed) and "hard limit" in events[0].reason
    assert engine.data_to_send(0.1) == b""


def test_banner_in_the_middle_of_a_job_is_a_reset() -> None:
    engine, _ = started("G1 X1", "G1 X2")
    events = engine.receive(b"ok\n" + BANNER, 0.1)
    assert any(isinstance(e, Failed) and "reset" in e.reason for e in events)


def test_done_only_after_last_ok_and_idle() -> None:
    engine, _ = started("G1 X1")
    engine.receive(b"ok\n", 0.1)
    assert engine.state is StreamState.STREAMING
    engine.poll(0.5)
    assert engine.data_to_send(0.5) == b"?"
    events = engine.receive(b"<Idle|MPos:1.000,0.000,0.000|FS:0,0>\n", 0.6)
    assert events[-1] == Finished()


def test_pause_resume_and_cancel_use_real_time_bytes() -> None:
    engine, _ = started(*(["G1 X1"] * 40))
    engine.pause()
    assert engine.data_to_send(0.1) == b"!"
    engine.resume()
    assert engine.data_to_send(0.2).startswith(b"~")
    engine.cancel()
    engine.receive(b"<Hold:0|MPos:0.000,0.000,0.000|FS:0,0>\n", 0.3)
    assert engine.data_to_send(0.3).endswith(b"\x18")
    assert engine.receive(BANNER, 0.4)[-1] == Finished(cancelled=True)


def test_no_banner_sends_a_soft_reset_then_gives_up() -> None:
    engine = GrblEngine(list(prepare_lines(["G0 X1"])), GrblConfig(boot_wait=1, connect_timeout=3))
    engine.poll(0.0)
    engine.poll(1.5)
    assert engine.data_to_send(1.5) == b"\x18"
    assert isinstance(engine.poll(4.0)[0], Failed)


def test_status_report_parsing() -> None:
    status = parse_status("<Run|MPos:1.500,-2.000,3.250|FS:500,12000|WCO:0.000,0.000,0.000>")
    assert status is not None
    assert status.state == "Run" and status.machine_pos == (1.5, -2.0, 3.25)
    assert (status.feed, status.spindle) == (500.0, 12000.0)
    assert parse_status("[MSG:Caution: Unlocked]") is None


def test_error_codes_have_text_and_config_bounds_are_checked() -> None:
    assert describe_error(22) == "error:22 (feed rate not set)"
    with pytest.raises(InvalidInput, match="5 Hz"):
        GrblConfig(status_interval=0.05)
    with pytest.raises(InvalidInput, match="line 1"):
        GrblEngine(list(prepare_lines(["G1 X" + "1" * 200])))


def stop_after_hold(engine: GrblEngine, now: float) -> list:
    engine.receive(b"<Hold:0|MPos:0.000,0.000,0.000|FS:0,0>\n", now)
    engine.data_to_send(now)
    return engine.receive(BANNER, now + 0.1)


def test_the_first_error_of_a_burst_is_the_one_reported() -> None:
    engine, _ = started("G21", "G42 D08", "G1 X1", "G43 H99", "G1 X2")
    events = engine.receive(b"ok\nerror:20\nok\nerror:37\n", 0.1)
    events += stop_after_hold(engine, 0.2)
    failure = events[-1]
    assert isinstance(failure, Failed) and failure.line == 2
    assert "G42 D08" in failure.reason and "error:20" in failure.reason
    assert "error:37" not in failure.reason


def test_an_alarm_names_the_line_it_interrupted() -> None:
    engine, _ = started("G21", "G1 X500 F100", "G1 X1")
    events = engine.receive(b"ok\nALARM:2\n", 0.1)
    failure = events[-1]
    assert isinstance(failure, Failed) and failure.line == 2
    assert "line 2" in failure.reason and "G1 X500 F100" in failure.reason and "ALARM:2" in failure.reason


def test_a_machine_that_answers_but_does_not_move_is_a_stall() -> None:
    engine, _ = started("G1 X100 F10", "G1 X0", stall_s=30.0, response_timeout=5.0)
    engine.receive(b"ok\n", 0.1)
    failures = []
    for tick in range(1, 200):
        now = tick * 0.25
        events = engine.poll(now)
        engine.data_to_send(now)
        events += engine.receive(b"<Run|MPos:5.000,0.000,0.000|FS:0,0>\n", now)
        failures += [e for e in events if isinstance(e, Failed)]
    assert failures and "stalled" in failures[0].reason and failures[0].line == 2


def test_moving_or_held_is_not_a_stall() -> None:
    engine, _ = started("G1 X100 F10", "G1 X0", stall_s=30.0, response_timeout=5.0)
    for tick in range(1, 400):
        now = tick * 0.25
        report = b"<Run|MPos:" + f"{tick * 0.01:.3f}".encode() + b",0.000,0.000|FS:10,0>\n"
        if tick >= 200:
            report = b"<Hold:0|MPos:2.000,0.000,0.000|FS:0,0>\n"
        events = engine.poll(now)
        engine.data_to_send(now)
        events += engine.receive(report, now)
        assert not [e for e in events if isinstance(e, Failed)]
