"""Pause and resume a streaming job from the terminal: keys when stdin is a terminal, signals always.

`p` (or `!`, Grbl's feed-hold character) pauses, `r` (or `~`, cycle start) resumes; SIGUSR1 pauses
and SIGUSR2 resumes, for scripts and for a machine started in the background. Ctrl-C cancels.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol

PAUSE_KEYS = frozenset("pP!")
RESUME_KEYS = frozenset("rR~")


class Pausable(Protocol):
    """Anything with pause and resume (a StreamRunner, a driver)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


@contextmanager
def operator_controls(target: Pausable) -> Iterator[None]:
    """Route keys and SIGUSR1/SIGUSR2 to `target` while the block runs."""
    stop = threading.Event()
    with _signals(target), _keys(target, stop):
        try:
            yield
        finally:
            stop.set()


@contextmanager
def _signals(target: Pausable) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    handlers = {signal.SIGUSR1: target.pause, signal.SIGUSR2: target.resume}
    previous = {number: signal.getsignal(number) for number in handlers}
    for number, action in handlers.items():
        signal.signal(number, _call(action))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _call(action: Any) -> Any:
    def handler(_signum: int, _frame: object) -> None:
        action()

    return handler


@contextmanager
def _keys(target: Pausable, stop: threading.Event) -> Iterator[None]:
    stdin = sys.stdin
    if stdin is None or not _is_terminal(stdin):
        yield
        return
    import termios
    import tty

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)  # single keys without Enter; Ctrl-C still raises KeyboardInterrupt
    reader = threading.Thread(target=_read_keys, args=(fd, target, stop), daemon=True)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join(1.0)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _is_terminal(stream: Any) -> bool:
    with suppress(AttributeError, ValueError, OSError):
        return bool(stream.isatty())
    return False


def _read_keys(fd: int, target: Pausable, stop: threading.Event) -> None:
    while not stop.is_set():
        readable, _, _ = select.select([fd], [], [], 0.1)
        if not readable:
            continue
        key = os.read(fd, 1).decode("latin-1")
        if key in PAUSE_KEYS:
            target.pause()
        elif key in RESUME_KEYS:
            target.resume()
