"""Genetic search in a child process, so that it has a core of its own next to CP-SAT.

Threads of one Python process share the interpreter lock; CP-SAT releases it while it searches, but a
Python metaheuristic in a thread competes with every solution callback. A child process avoids that.
Schedules flow both ways through queues: the child reports each better schedule it finds, and the
parent may send it schedules found elsewhere, which join the child's population.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from coordinator.scheduling import genetic
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.jsonformat import problem_from_dict, problem_to_dict
from coordinator.scheduling.model import Problem
from coordinator.scheduling.rules import Solution

# seconds the parent waits for the child to exit after asking it to stop
JOIN_TIMEOUT = 2.0


def _context() -> BaseContext:
    """Fork is unsafe next to running solver threads; forkserver starts children cheaply where it exists."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _child(
    problem: dict[str, Any],
    budget: float,
    start: Solution | None,
    seed: int,
    outbox: Queue[Solution],
    inbox: Queue[Solution],
    stop: Event,
) -> None:
    """Body of the child: evolve until the budget ends or the parent sets `stop`."""
    inst = Instance(problem_from_dict(problem))

    def incoming() -> Solution | None:
        try:
            return inbox.get_nowait()
        except queue.Empty:
            return None

    genetic.evolve(inst, budget, seed=seed, on_better=outbox.put, start=start, stop=stop, incoming=incoming)
    outbox.close()
    outbox.join_thread()


class GeneticProcess:
    """A genetic search running in a child process for a fixed budget."""

    def __init__(self, problem: Problem, budget: float, start: Solution | None = None, seed: int = 1) -> None:
        context = _context()
        self.deadline = time.monotonic() + budget
        self._outbox: Queue[Solution] = context.Queue()
        self._inbox: Queue[Solution] = context.Queue()
        self._stop: Event = context.Event()
        self._process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_child,
            # plain data crosses the process boundary; the problem's frozen mappings do not pickle
            args=(problem_to_dict(problem), budget, start, seed, self._outbox, self._inbox, self._stop),
            daemon=True,
            name="genetic",
        )

    def start(self) -> None:
        """Launch the child."""
        self._process.start()

    def receive(self, timeout: float) -> Solution | None:
        """The next better schedule the child reported, or None if none came within `timeout`."""
        try:
            return self._outbox.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def send(self, solution: Solution) -> None:
        """Offer the child a schedule found elsewhere."""
        if self._process.is_alive():
            self._inbox.put(solution)

    @property
    def alive(self) -> bool:
        """Whether the child is still running."""
        return self._process.is_alive()

    def stop(self) -> None:
        """Ask the child to finish, wait a little, and end it if it does not."""
        self._stop.set()
        self._process.join(JOIN_TIMEOUT)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(JOIN_TIMEOUT)
        self._inbox.close()
        self._inbox.cancel_join_thread()
