"""The genetic search in a child process: feasible schedules, schedules both ways, and it ends by itself."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from coordinator.scheduling import genetic, lns
from coordinator.scheduling.cpsat import CpModel
from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.jsonformat import problem_to_dict
from coordinator.scheduling.model import ScheduleStatus
from coordinator.scheduling.process import GeneticProcess, decode, encode, serve
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.rules import run_rule
from coordinator.scheduling.runner import to_schedule


def test_schedules_survive_the_line_format(psplib_dir: Path) -> None:
    inst = Instance(read_psplib(psplib_dir / "j30" / "j301_1.sm"))
    solution = run_rule(inst, "lst")
    assert decode(encode(solution)) == solution


def test_the_child_reports_feasible_schedules_and_stops_by_itself(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j60" / "j6013_1.sm")
    inst = Instance(problem)
    start = run_rule(inst, "lst")
    child = GeneticProcess(problem, 1.0, start=start)
    child.start()
    found = []
    began = time.monotonic()
    while child.alive and time.monotonic() - began < 30:
        if (solution := child.receive(0.1)) is not None:
            found.append(solution)
    while (solution := child.receive(0.0)) is not None:
        found.append(solution)
    child.stop()
    assert not child.alive
    assert found
    assert all(b.makespan < a.makespan for a, b in zip(found, found[1:], strict=False))
    assert found[-1].makespan < start.makespan
    schedule = to_schedule(inst, found[-1], 0, ScheduleStatus.HEURISTIC, "genetic")
    assert check_schedule(problem, schedule) == []


def test_stop_ends_a_long_search_early(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j120" / "j12011_1.sm")
    child = GeneticProcess(problem, 60.0)
    child.start()
    child.receive(0.5)
    child.stop()
    assert not child.alive


def test_stop_without_waiting_returns_at_once_and_the_child_ends_by_itself(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j120" / "j12011_1.sm")
    child = GeneticProcess(problem, 60.0)
    child.start()
    child.receive(0.5)
    began = time.monotonic()
    child.stop(wait=False)
    assert time.monotonic() - began < 0.5
    # it may still be compiling on a new machine; then it ends after one generation
    while child.alive and time.monotonic() - began < 60:
        time.sleep(0.05)
    assert not child.alive


def test_serve_adopts_schedules_sent_to_it(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j30" / "j301_1.sm")
    inst = Instance(problem)
    better = genetic.evolve(inst, 1.0, seed=4)
    setup = json.dumps({"problem": problem_to_dict(problem), "budget": 0.5, "seed": 0})
    read, write = os.pipe()
    stdin, sender = os.fdopen(read), os.fdopen(write, "w")
    stdout = io.StringIO()
    try:
        sender.write("\n".join([setup, "null", encode(better)]) + "\n")
        sender.flush()
        # the input stays open while the search runs: closing it would ask the search to stop
        serve(stdin, stdout)
    finally:
        sender.close()  # end of input first: serve's reader thread returns and lets go of stdin
        stdin.close()
    reported = [decode(line) for line in stdout.getvalue().splitlines()]
    assert reported and reported[-1].makespan <= better.makespan


def test_the_population_adopts_an_outside_schedule(psplib_dir: Path) -> None:
    inst = Instance(read_psplib(psplib_dir / "j60" / "j6041_3.sm"))
    search = genetic.Genetic(inst, random.Random(1))
    search.seed(None)
    outside = genetic.evolve(inst, 1.0, seed=9)
    search.adopt(outside)
    assert len(search.population) == genetic.POPULATION
    assert search.best().makespan <= outside.makespan


def test_lns_adopts_only_better_schedules(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j30" / "j301_1.sm")
    inst = Instance(problem)
    worse, good = run_rule(inst, "fifo"), genetic.evolve(inst, 0.5, seed=1)
    search = lns.Search(CpModel(inst, worse.makespan, 0), good, time.monotonic() + 1, threading.Event(), None)
    search.adopt(worse)
    assert search.best is good
    best = search.run(1)
    assert best.makespan <= good.makespan
    assert check_schedule(problem, to_schedule(inst, best, 0, ScheduleStatus.FEASIBLE, "lns")) == []


def test_without_a_child_interpreter_the_search_runs_in_a_thread(
    psplib_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    problem = read_psplib(psplib_dir / "j30" / "j301_1.sm")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    child = GeneticProcess(problem, 0.5)
    child.start()
    found = []
    while (solution := child.receive(2.0)) is not None:
        found.append(solution)
    child.stop()
    assert not child.alive
    assert found and found[-1].makespan >= 43
