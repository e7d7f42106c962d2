"""The one rule for how long a task takes on a machine, and which figure it used."""

from __future__ import annotations

from coordinator.planning.breakdown import Breakdown, FabTask
from coordinator.planning.durations import Duration, MachineEstimate, Source, duration
from coordinator.planning.matching import MachineView, Requirement
from coordinator.planning.problem import BuildInput, Network, build_problem, task_key

MEASURED = {"lab-a/p1": 0.5}


def test_the_machines_own_estimate_comes_first() -> None:
    own = MachineEstimate("lab-a/p1", 5400.0)
    assert duration(120.0, "lab-a/p1", 2.0, MEASURED, own) == Duration(90.0, Source.SLICER)


def test_another_machines_estimate_is_not_carried_over() -> None:
    own = MachineEstimate("lab-b/p2", 5400.0)
    assert duration(120.0, "lab-a/p1", 2.0, MEASURED, own) == Duration(240.0, Source.MEASURED)
    assert duration(120.0, "lab-c/p3", 2.0, MEASURED, own) == Duration(60.0, Source.DECLARED)


def test_a_measured_speed_factor_beats_the_declared_one() -> None:
    assert duration(120.0, "lab-a/p1", 1.0, MEASURED) == Duration(240.0, Source.MEASURED)


def test_without_anything_learned_the_declared_speed_divides_the_breakdown_estimate() -> None:
    assert duration(120.0, "lab-a/p1", 1.6) == Duration(75.0, Source.DECLARED)


def test_a_machine_at_speed_one_takes_the_breakdown_estimate_as_it_is() -> None:
    assert duration(120.0, "lab-a/p1", 1.0) == Duration(120.0, Source.MESH)
    assert duration(120.0, "lab-a/p1", 0.0) == Duration(120.0, Source.MESH)


def test_an_empty_own_estimate_is_no_estimate() -> None:
    own = MachineEstimate("lab-a/p1", 0.0)
    assert duration(120.0, "lab-a/p1", 2.0, {}, own) == Duration(60.0, Source.DECLARED)


def test_the_problem_takes_learned_durations_per_mode_and_names_their_source() -> None:
    req = Requirement("fdm_print", "pla")
    fab = [FabTask(f"fab:{part}:1", part, 1, req, 100.0, "", (0,)) for part in ("a", "b")]
    breakdown = Breakdown(units=1, root="plate", fab_tasks=fab)
    machines = [MachineView(f"lab-a/{name}", "lab-a", "fdm_print", ("pla",), speed_factor=speed)
                for name, speed in (("p1", 1.0), ("p2", 2.0), ("p3", 1.0))]  # fmt: skip
    build = BuildInput(
        "b1", breakdown, site="lab-a", estimates={"fab:a:1": MachineEstimate("lab-a/p3", 1800)}
    )
    planning = build_problem([build], Network(machines, {}, measured_speeds=MEASURED))
    tasks = {t.id: t for t in planning.problem.tasks}
    a, b = task_key("b1", "fab:a:1"), task_key("b1", "fab:b:1")
    assert [m.duration for m in tasks[a].modes] == [200, 50, 30]
    assert planning.sources[a] == ("measured speed", "declared speed", "slicer")
    assert [m.duration for m in tasks[b].modes] == [200, 50, 100]
    assert planning.sources[b] == ("measured speed", "declared speed", "mesh estimate")
