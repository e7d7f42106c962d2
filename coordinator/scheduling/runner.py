"""Planning entry points: a heuristic schedule at once, CP-SAT improvements in the background."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable

from coordinator.scheduling import cpsat, genetic, tabu
from coordinator.scheduling.bounds import lower_bound
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.lns import Search, improve_with_lns
from coordinator.scheduling.model import FixedTask, Problem, Schedule, ScheduledTask, ScheduleStatus
from coordinator.scheduling.process import GeneticProcess
from coordinator.scheduling.rules import RULES, Solution, better, improve, justify, run_rule
from protocol.errors import InvalidInput

POLICIES = ("cpsat", "sampling", *RULES)
OnSchedule = Callable[[Schedule], None]
# share of the background time the neighbour thread spends sampling before the LNS starts
SAMPLING_SHARE = 0.3
# seconds the runner waits for a schedule from the genetic process before checking for a stop
PUMP_WAIT = 0.1
# share of the time CP-SAT searches the whole single-mode model before an LNS thread takes its core
PROOF_SHARE = 0.3
# on shops of unit machines: share of the time CP-SAT searches first on one core, share after which the
# heuristics give both cores to CP-SAT, and share of it without a better schedule after which they give
# them earlier
SHOP_PROOF_SHARE = 0.1
SHOP_SHARE = 0.7
SHOP_STALL = 0.3


def to_schedule(
    inst: Instance, solution: Solution, lower: int, status: ScheduleStatus, policy: str
) -> Schedule:
    """Wrap an index-based solution as a Schedule."""
    tasks = tuple(
        ScheduledTask(inst.ids[j], solution.modes[j], solution.starts[j], solution.ends[j])
        for j in range(inst.n)
    )
    makespan_only = not inst.previous and all(due is None for due in inst.due)
    if makespan_only and solution.makespan <= lower:
        status = ScheduleStatus.OPTIMAL
    bound = min(lower, solution.makespan)
    return Schedule(solution.makespan, bound, status, tasks, solution.objective, policy)


class PlanHandle:
    """The best schedule so far; CP-SAT keeps improving it in a daemon thread until done."""

    def __init__(self, inst: Instance, lower: int, on_schedule: OnSchedule | None) -> None:
        self._inst = inst
        self._lower = lower
        self._on_schedule = on_schedule
        self._lock = threading.Lock()
        self._solution: Solution | None = None
        self._status = ScheduleStatus.HEURISTIC
        self._policy = ""
        self._best: Schedule | None = None
        self._improved_at = time.monotonic()
        self._done = threading.Event()
        self._stop = threading.Event()
        self._lns_stop = threading.Event()

    @property
    def best(self) -> Schedule:
        """The best schedule published so far."""
        with self._lock:
            assert self._best is not None
            return self._best

    @property
    def done(self) -> bool:
        """Whether the background search has finished."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Schedule:
        """Block until the search ends (or `timeout` passes) and return the best schedule."""
        self._done.wait(timeout)
        return self.best

    def cancel(self) -> None:
        """Stop the search soon; the best schedule so far stays available."""
        self._stop.set()
        self._lns_stop.set()

    def publish(self, solution: Solution, lower: int, status: ScheduleStatus, policy: str) -> None:
        """Record a solution and a bound; tell the subscriber when the schedule got better."""
        with self._lock:
            self._lower = max(self._lower, lower)
            improved = better(self._inst, solution, self._solution)
            if improved:
                self._solution, self._status, self._policy = solution, status, policy
                self._improved_at = time.monotonic()
            elif status is ScheduleStatus.OPTIMAL:
                self._status = status
            assert self._solution is not None
            schedule = to_schedule(self._inst, self._solution, self._lower, self._status, self._policy)
            self._best = schedule
        if schedule.status is ScheduleStatus.OPTIMAL:
            # proved, or as short as the lower bound: nothing left to search for
            self._stop.set()
            self._lns_stop.set()
        if improved and self._on_schedule is not None:
            self._on_schedule(schedule)

    def search(self, time_limit: float) -> None:
        """Improve the best solution with CP-SAT, then with LNS, then mark the handle done."""
        try:
            self._search(time_limit)
        finally:
            self._done.set()

    def _search(self, time_limit: float) -> None:
        deadline = time.monotonic() + time_limit
        assert self._solution is not None
        built = cpsat.CpModel(self._inst, self._solution.makespan, self._lower)
        if tabu.applies(self._inst):
            built.hint(self._solution)
            self._shop(built, deadline)
        elif genetic.applies(self._inst):
            self._hybrid(built, deadline)
        else:
            built.hint(self._solution)
            self._classic(built, deadline)

    def _classic(self, built: cpsat.CpModel, deadline: float) -> None:
        """CP-SAT on one core for the whole time; sampling then LNS on the others."""
        workers = max(1, (os.cpu_count() or 1) - 1)
        helper = threading.Thread(target=self._neighbourhoods, args=(built, deadline, workers), daemon=True)
        helper.start()
        result = self._prove(built, deadline - time.monotonic())
        helper.join()
        self._publish_result(result)

    def _hybrid(self, built: cpsat.CpModel, deadline: float) -> None:
        """Genetic search in a child process and CP-SAT on the whole model, then LNS in CP-SAT's place.

        Each has a core of its own: the genetic search finds most of the improvements, CP-SAT gives
        the bound and proves the small instances optimal early. CP-SAT gets no hint here: the genetic
        search gives good schedules within a second anyway, and the warm start's hint slows CP-SAT's
        own search (j3046_7 of multi-mode PSPLIB: optimal in 6.0 s with the hint, 3.0 s without).
        When it has not proved optimality within its share of the time, the LNS takes over every
        core but the genetic search's; the genetic search and the LNS hand their better schedules to
        each other.
        """
        assert self._solution is not None
        child = GeneticProcess(self._inst.problem, deadline - time.monotonic(), start=self._solution)
        child.start()

        def from_lns(solution: Solution) -> None:
            self._found(solution)
            child.send(solution)

        search = Search(built, self._solution, deadline, self._lns_stop, from_lns)
        threads = [
            threading.Thread(
                target=self._pump, args=(child, search, deadline, self._lns_stop), daemon=True, name="genetic"
            ),
        ]
        threads[0].start()
        result = self._prove(built, PROOF_SHARE * (deadline - time.monotonic()))
        if not result.optimal and search.running():
            # every core but the genetic search's
            workers = max(1, (os.cpu_count() or 2) - 1)
            threads.append(threading.Thread(target=search.run, args=(workers, 0), daemon=True))
            threads[-1].start()
        for thread in threads:
            thread.join()
        child.stop(wait=False)
        while (found := child.receive(0.0)) is not None:
            self._found(found)
        self._publish_result(result)

    def _shop(self, built: cpsat.CpModel, deadline: float) -> None:
        """CP-SAT on one core while the genetic process starts on the other, then the genetic process
        and the tabu search a core each, then CP-SAT on both cores.

        CP-SAT's first SHOP_PROOF_SHARE of the time proves the smallest shops optimal at once. The two
        heuristics hand their better schedules to each other. Once neither has found a better schedule
        for SHOP_STALL of the time, or SHOP_SHARE of it has passed, CP-SAT searches the whole model from
        the best schedule on every core for the rest: it gives the bound, and on small shops it proves
        or finds the optimum where the heuristics stall.
        """
        assert self._solution is not None
        began = time.monotonic()
        child = GeneticProcess(self._inst.problem, deadline - began, start=self._solution)
        child.start()
        heuristics = threading.Event()

        def shared(solution: Solution) -> None:
            self._found(solution)
            child.send(solution)

        search = tabu.TabuSearch(self._inst, self._solution, deadline, heuristics, shared)
        threads = [
            threading.Thread(
                target=self._pump, args=(child, search, deadline, heuristics), daemon=True, name="genetic"
            ),
            threading.Thread(target=search.run, daemon=True, name="tabu"),
        ]
        threads[0].start()
        first = self._prove(built, SHOP_PROOF_SHARE * (deadline - began))
        if not first.optimal:
            with self._lock:
                search.adopt(self._solution)
            threads[1].start()
            self._until_stalled(began, deadline)
        heuristics.set()
        child.stop(wait=False)
        for thread in threads:
            if thread.is_alive():
                # a search still compiling its code (the first on a machine) ends by itself later
                thread.join(max(0.0, deadline - time.monotonic()))
        while (found := child.receive(0.0)) is not None:
            self._found(found)
        self._publish_result(first)
        if not self._lns_stop.is_set():
            self._publish_result(self._prove_from_best(built, deadline))

    def _until_stalled(self, began: float, deadline: float) -> None:
        """Wait until the heuristics stall or have had their share of the time (see `_shop`)."""
        limit = deadline - began
        searching = time.monotonic()
        while not self._lns_stop.wait(PUMP_WAIT):
            now = time.monotonic()
            quiet = now - max(searching, self._improved_at)
            if now - began >= SHOP_SHARE * limit or quiet >= SHOP_STALL * limit:
                return

    def _prove_from_best(self, built: cpsat.CpModel, deadline: float) -> cpsat.CpResult:
        """CP-SAT on the whole model, every core, from the best schedule, until the deadline."""
        with self._lock:
            assert self._solution is not None
            built.model.clear_hints()
            built.hint(self._solution)
        return cpsat.solve(
            built,
            deadline - time.monotonic(),
            on_solution=lambda found, _bound: self._found(found),
            stop=self._stop,
        )

    def _pump(
        self, child: GeneticProcess, search: Search | tabu.TabuSearch, deadline: float, stop: threading.Event
    ) -> None:
        """Publish the child's schedules and give them to the other search until the time is up or
        `stop` is set."""
        while not stop.is_set() and time.monotonic() < deadline:
            found = child.receive(PUMP_WAIT)
            if found is None:
                if not child.alive:
                    return  # the child ended early (all it reported was taken): nothing left to wait for
                continue
            self._found(found)
            search.adopt(found)

    def _prove(self, built: cpsat.CpModel, time_limit: float) -> cpsat.CpResult:
        """CP-SAT on the whole model with one worker; stop the other searches when it proves optimality."""
        result = cpsat.solve(
            built,
            time_limit,
            on_solution=lambda found, _bound: self._found(found),
            stop=self._stop,
            workers=1,
        )
        if result.optimal:
            self._lns_stop.set()
        return result

    def _publish_result(self, result: cpsat.CpResult) -> None:
        if result.solution is not None:
            status = ScheduleStatus.OPTIMAL if result.optimal else ScheduleStatus.FEASIBLE
            self.publish(result.solution, result.bound, status, "cpsat")

    def _neighbourhoods(self, built: cpsat.CpModel, deadline: float, workers: int) -> None:
        """Sampling first, then LNS from the best schedule found."""
        assert self._solution is not None
        left = deadline - time.monotonic()
        improve(
            self._inst,
            SAMPLING_SHARE * left,
            seed=1,
            on_better=self._found,
            start=self._solution,
            stop=self._lns_stop,
        )
        with self._lock:
            best = self._solution
        improve_with_lns(
            built,
            best,
            deadline - time.monotonic(),
            workers,
            stop=self._lns_stop,
            on_better=self._found,
        )

    def _found(self, solution: Solution) -> None:
        self.publish(solution, 0, ScheduleStatus.FEASIBLE, "cpsat")

    def finish(self) -> None:
        """Mark the search as finished without running it."""
        self._done.set()


def _warm_start(inst: Instance, budget: float) -> Solution:
    """A justified latest-start schedule where the genetic process takes over, else rule sampling."""
    if genetic.applies(inst):
        return justify(inst, run_rule(inst, "lst"))
    return improve(inst, budget)


def start_plan(
    problem: Problem, time_limit: float = 10.0, on_schedule: OnSchedule | None = None
) -> PlanHandle:
    """Return at once with a heuristic schedule; CP-SAT improves it in the background."""
    began = time.monotonic()
    inst = Instance(problem)
    lower = lower_bound(inst)
    handle = PlanHandle(inst, lower, on_schedule)
    warm = _warm_start(inst, min(1.0, 0.15 * time_limit))
    handle.publish(warm, lower, ScheduleStatus.HEURISTIC, "sampling")
    left = time_limit - (time.monotonic() - began)
    if handle.best.status is ScheduleStatus.OPTIMAL or left <= 0.05:
        handle.finish()
        return handle
    threading.Thread(target=handle.search, args=(left,), daemon=True, name="cpsat").start()
    return handle


def plan(
    problem: Problem,
    policy: str = "cpsat",
    time_limit: float = 10.0,
    on_schedule: OnSchedule | None = None,
) -> Schedule:
    """Schedule a problem with a policy: cpsat, sampling, or a single priority rule."""
    if policy not in POLICIES:
        raise InvalidInput(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if policy == "cpsat":
        return start_plan(problem, time_limit, on_schedule).wait()
    inst = Instance(problem)
    lower = lower_bound(inst)
    solution = improve(inst, time_limit) if policy == "sampling" else run_rule(inst, policy)
    schedule = to_schedule(inst, solution, lower, ScheduleStatus.HEURISTIC, policy)
    if on_schedule is not None:
        on_schedule(schedule)
    return schedule


def replan(
    problem: Problem,
    previous: Schedule | Iterable[ScheduledTask],
    fixed: Iterable[FixedTask] = (),
    policy: str = "cpsat",
    time_limit: float = 10.0,
) -> Schedule:
    """Plan again with running tasks pinned, keeping close to the previous plan."""
    tasks = previous.tasks if isinstance(previous, Schedule) else tuple(previous)
    known = {t.id for t in problem.tasks}
    again = dataclasses.replace(
        problem,
        fixed=tuple(fixed),
        previous=tuple(t for t in tasks if t.id in known),
    )
    return plan(again, policy, time_limit)
