"""Genetic search in a child process, so that it has a core of its own next to CP-SAT.

Threads of one Python process share the interpreter lock; CP-SAT releases it while it searches, but a
Python metaheuristic in a thread competes with every solution callback. A child interpreter avoids that.
The two sides talk in JSON lines: the parent writes the problem, the budget and a start schedule, then any
schedule found elsewhere (which joins the child's population); the child writes each better schedule it
finds. Closing the child's input asks it to stop. Run as `python -m coordinator.scheduling.process`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from coordinator.scheduling import genetic
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.jsonformat import problem_from_dict, problem_to_dict
from coordinator.scheduling.model import Problem
from coordinator.scheduling.rules import Solution

# seconds the parent waits for the child to exit after asking it to stop
JOIN_TIMEOUT = 2.0
# seconds a child asked to stop without waiting may go on (compiling, one generation) before it is ended
REAP_GRACE = 120.0


def encode(solution: Solution) -> str:
    """One JSON line for a schedule."""
    return json.dumps([solution.modes, solution.starts, solution.ends, solution.makespan, solution.objective])


def decode(line: str) -> Solution:
    """The schedule of one JSON line."""
    modes, starts, ends, makespan, value = json.loads(line)
    return Solution(modes, starts, ends, makespan, value)


def _child_environment() -> dict[str, str]:
    """The parent's environment, with this package importable wherever the parent runs from."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class GeneticProcess:
    """A genetic search running in a child interpreter for a fixed budget."""

    def __init__(self, problem: Problem, budget: float, start: Solution | None = None, seed: int = 1) -> None:
        self._setup: dict[str, Any] = {"problem": problem_to_dict(problem), "budget": budget, "seed": seed}
        self._start = start
        self._found: queue.Queue[Solution | None] = queue.Queue()
        self._child: subprocess.Popen[str] | None = None
        self._write = threading.Lock()
        # used only when no child can be started: the search then runs in a thread of this process
        self._thread: threading.Thread | None = None
        self._inbox: queue.Queue[Solution] = queue.Queue()
        self._stop = threading.Event()

    def start(self) -> None:
        """Launch the child and a thread that collects its schedules."""
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "coordinator.scheduling.process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=_child_environment(),
            )
        except OSError:
            self._thread = threading.Thread(target=self._evolve_here, daemon=True, name="genetic-search")
            self._thread.start()
            return
        self._line(json.dumps(self._setup))
        self._line(encode(self._start) if self._start is not None else "null")
        assert self._child.stdout is not None
        threading.Thread(target=self._collect, args=(self._child.stdout,), daemon=True).start()

    def _evolve_here(self) -> None:
        """The same search in a thread, sharing the interpreter: slower, but never missing."""
        setup = self._setup
        inst = Instance(problem_from_dict(setup["problem"]))
        genetic.evolve(
            inst,
            setup["budget"],
            seed=setup["seed"],
            on_better=self._found.put,
            start=self._start,
            stop=self._stop,
            incoming=lambda: _next(self._inbox),
        )
        self._found.put(None)

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            with contextlib.suppress(ValueError):  # a child ended mid-line leaves a partial last line
                self._found.put(decode(line))
        self._found.put(None)

    def _line(self, text: str) -> None:
        child = self._child
        if child is None or child.stdin is None or child.stdin.closed:
            return
        with self._write:
            try:
                child.stdin.write(text + "\n")
                child.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the child has ended

    def receive(self, timeout: float) -> Solution | None:
        """The next better schedule the child reported, or None if none came within `timeout`."""
        try:
            found = self._found.get(timeout=max(0.0, timeout)) if timeout > 0 else self._found.get_nowait()
        except queue.Empty:
            return None
        if found is None:
            self._found.put(None)  # keep the end marker for later calls
        return found

    def send(self, solution: Solution) -> None:
        """Offer the child a schedule found elsewhere."""
        if self._thread is not None:
            self._inbox.put(solution)
        self._line(encode(solution))

    @property
    def alive(self) -> bool:
        """Whether the child is still running."""
        if self._thread is not None:
            return self._thread.is_alive()
        return self._child is not None and self._child.poll() is None

    def stop(self, wait: bool = True) -> None:
        """Ask the child to finish.

        With `wait`, wait a little and end it if it has not finished. Without, return at once and let
        it end by itself: the first search on a machine may still be compiling the search code, which
        is cached for every later search once it is done; only a child still running after
        REAP_GRACE seconds is ended.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)
        child = self._child
        if child is None:
            return
        with self._write:
            if child.stdin is not None and not child.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    child.stdin.close()
        if wait:
            _reap(child, JOIN_TIMEOUT)
        else:
            threading.Thread(target=_reap, args=(child, REAP_GRACE), daemon=True, name="genetic-reap").start()


def _reap(child: subprocess.Popen[str], grace: float) -> None:
    """Wait up to `grace` seconds for a child asked to stop, then end it."""
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(JOIN_TIMEOUT)


def _next(inbox: queue.Queue[Solution]) -> Solution | None:
    """The next queued schedule, if any."""
    try:
        return inbox.get_nowait()
    except queue.Empty:
        return None


def _read_input(stream: IO[str], inbox: queue.Queue[Solution], stop: threading.Event) -> None:
    """Child side: queue the schedules the parent sends; stop when its input closes."""
    for line in stream:
        inbox.put(decode(line))
    stop.set()


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    """Child side: evolve until the budget ends or the input closes, reporting better schedules."""
    setup: dict[str, Any] = json.loads(stdin.readline())
    first = stdin.readline().strip()
    start = decode(first) if first and first != "null" else None
    inst = Instance(problem_from_dict(setup["problem"]))
    inbox: queue.Queue[Solution] = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=_read_input, args=(stdin, inbox, stop), daemon=True).start()

    def report(solution: Solution) -> None:
        stdout.write(encode(solution) + "\n")
        stdout.flush()

    genetic.evolve(
        inst,
        setup["budget"],
        seed=setup["seed"],
        on_better=report,
        start=start,
        stop=stop,
        incoming=lambda: _next(inbox),
    )


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):  # the parent may stop listening first
        serve(sys.stdin, sys.stdout)
