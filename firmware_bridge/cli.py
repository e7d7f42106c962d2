"""`peerfab bridge`: stream a G-code file to a machine, or check one against machine limits."""

from __future__ import annotations

import threading
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from firmware_bridge.controls import operator_controls
from firmware_bridge.events import Event, Failed, Finished, MachineMessage, MachineWarning, Paused, Resumed
from firmware_bridge.events import Progress as JobProgress
from firmware_bridge.gcode import SourceLine, read_job
from firmware_bridge.gcode_check import Limits, check_gcode
from firmware_bridge.grbl import GrblConfig, GrblEngine
from firmware_bridge.marlin import MarlinConfig, MarlinEngine
from firmware_bridge.serial_transport import Engine, StreamRunner, open_port
from protocol.errors import InvalidInput


@click.group("bridge")
def bridge_group() -> None:
    """Talk to a printer or CNC machine directly over a serial port."""


@bridge_group.command("print")
@click.option("--port", required=True, help="Device path or pyserial URL (socket://host:port).")
@click.option("--baud", default=115200, show_default=True, type=click.IntRange(1200, 4_000_000))
@click.option("--firmware", type=click.Choice(["marlin", "grbl"]), default="marlin", show_default=True)
@click.option(
    "--buffer",
    type=click.IntRange(1, 4096),
    default=None,
    help="Marlin: lines in flight (default 4). Grbl: receive buffer bytes (default 128).",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, help="Answer timeout, s.")
@click.option(
    "--boot-wait",
    type=click.FloatRange(0, 60),
    default=None,
    help="Seconds to wait for the firmware's start banner before talking (2 / 2.5 by default).",
)
@click.option(
    "--stall",
    type=click.FloatRange(0, 86400),
    default=600.0,
    show_default=True,
    help="Fail when the machine answers but makes no progress for this long, s (0: off).",
)
@click.argument("file", type=click.Path(path_type=Path))
def print_command(
    port: str,
    baud: int,
    firmware: str,
    buffer: int | None,
    timeout: float | None,
    boot_wait: float | None,
    stall: float,
    file: Path,
) -> None:
    """Stream FILE to a machine; exit 0 only if the machine acknowledged every line.

    While streaming, `p` (or `!`) pauses and `r` (or `~`) resumes when stdin is a terminal;
    SIGUSR1 pauses and SIGUSR2 resumes; Ctrl-C cancels.
    """
    engine = _build_engine(firmware, read_job(file), buffer, timeout, boot_wait, stall)
    serial_port = open_port(port, baud)
    try:
        outcome = _stream(engine, serial_port, file.name)
    finally:
        serial_port.close()
    if isinstance(outcome, Failed):
        click.echo(f"error: machine failure: {outcome.reason}", err=True)
        raise SystemExit(1)
    if outcome.cancelled:
        click.echo("cancelled: heaters and fan switched off", err=True)
        raise SystemExit(1)
    click.echo(f"done: {file.name} streamed, every line acknowledged")


def _build_engine(
    firmware: str,
    lines: list[SourceLine],
    buffer: int | None,
    timeout: float | None,
    boot_wait: float | None,
    stall: float = 600.0,
) -> MarlinEngine | GrblEngine:
    if firmware == "grbl":
        grbl = GrblConfig(
            rx_bytes=buffer or GrblConfig.rx_bytes,
            response_timeout=timeout or GrblConfig.response_timeout,
            boot_wait=GrblConfig.boot_wait if boot_wait is None else boot_wait,
            stall_s=stall or None,
        )
        return GrblEngine(lines, grbl)
    command_timeout = timeout or MarlinConfig.command_timeout
    marlin = MarlinConfig(
        buffer_lines=buffer or MarlinConfig.buffer_lines,
        command_timeout=command_timeout,
        long_timeout=max(command_timeout, MarlinConfig.long_timeout),
        boot_wait=MarlinConfig.boot_wait if boot_wait is None else boot_wait,
        stall_s=stall or None,
    )
    return MarlinEngine(lines, marlin)


def _stream(engine: Engine, serial_port: object, name: str) -> Failed | Finished:
    console = Console(stderr=True)
    outcome: list[Failed | Finished] = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(name, total=None)

        def on_event(event: Event) -> None:
            if isinstance(event, JobProgress):
                bar.update(task, completed=event.bytes_done, total=event.bytes_total)
            elif isinstance(event, MachineMessage):
                console.log(event.text)
            elif isinstance(event, MachineWarning):
                console.log(f"[yellow]warning:[/yellow] {event.message}", markup=True)
            elif isinstance(event, Paused):
                console.log("paused: press r (or send SIGUSR2) to resume")
            elif isinstance(event, Resumed):
                console.log("resumed")
            elif isinstance(event, Failed | Finished):
                outcome.append(event)

        runner = StreamRunner(engine, serial_port, on_event)  # type: ignore[arg-type]
        _run_interruptible(runner)
    return outcome[0] if outcome else Failed("streaming stopped without an outcome")


def _run_interruptible(runner: StreamRunner) -> None:
    thread = threading.Thread(target=runner.run, name="bridge-stream", daemon=True)
    thread.start()
    try:
        with operator_controls(runner):
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        runner.cancel()  # Ctrl-C cancels cleanly: heaters off, no motion
        thread.join()


@bridge_group.command("check")
@click.option("--max-hotend", type=float, default=None, help="Highest hotend temperature, °C.")
@click.option("--max-bed", type=float, default=None, help="Highest bed temperature, °C.")
@click.option("--max-spindle", type=float, default=None, help="Highest spindle speed (M3/M4 S).")
@click.option("--volume", default=None, help="Build volume XxYxZ in mm, e.g. 250x210x210.")
@click.option("--volume-min", default="0x0x0", show_default=True, help="Lowest X, Y, Z in mm.")
@click.argument("file", type=click.Path(path_type=Path))
def check_command(
    max_hotend: float | None,
    max_bed: float | None,
    max_spindle: float | None,
    volume: str | None,
    volume_min: str,
    file: Path,
) -> None:
    """Check FILE against machine limits; exit 1 when it has problems."""
    limits = Limits(
        max_hotend=max_hotend,
        max_bed=max_bed,
        max_spindle=max_spindle,
        volume_min=parse_volume(volume_min, "--volume-min"),
        volume_max=parse_volume(volume, "--volume") if volume else None,
    )
    problems = _check_file(file, limits)
    for problem in problems:
        click.echo(f"{file}:{problem.line}: {problem.message}")
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        raise SystemExit(1)
    click.echo(f"{file}: no problems found")


def _check_file(file: Path, limits: Limits) -> list:
    try:
        with file.open(encoding="utf-8") as handle:
            return check_gcode(handle, limits)
    except FileNotFoundError as exc:
        raise InvalidInput(f"{file}: no such G-code file") from exc
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{file}: not a readable G-code text file") from exc


def parse_volume(text: str, option: str) -> tuple[float, float, float]:
    """Parse `250x210x210` into three floats; bad text is an error naming the option."""
    parts = text.lower().split("x")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 3:
        raise InvalidInput(f"{option}: expected three numbers like 250x210x210, got {text!r}")
    return values  # type: ignore[return-value]
