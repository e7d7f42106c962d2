from __future__ import annotations

from pathlib import Path

from coordinator.bom.package import load_package
from coordinator.planning.breakdown import break_down
from coordinator.planning.matching import MachineView
from coordinator.planning.problem import BuildInput, Network, build_problem, task_key
from tests.support.packages import write_package

BENCH = MachineView("lab-a/bench", "lab-a", "assembly")
SMALL = {"min_box_mm": [20.0, 10.0, 5.0], "est_print_time_s": 600.0}  # 10 min, 200 mm2 footprint


def breakdown(tmp_path: Path, units: int = 3, parts: list | None = None):  # type: ignore[no-untyped-def]
    bom = load_package(write_package(tmp_path, parts=parts)).bom()
    return break_down(bom, units, {"files/bracket.stl": SMALL})


def test_small_parts_share_plates_and_assemblies_claim_them(tmp_path: Path) -> None:
    result = breakdown(tmp_path)
    # 12 brackets, 8 per plate -> 2 plates of 8 and 4 copies
    assert [(t.id, t.copies) for t in result.fab_tasks] == [("fab:bracket:1", 8), ("fab:bracket:2", 4)]
    assert result.fab_tasks[0].minutes == round(10 * 8 * 0.92, 1)
    frames = {t.id: t for t in result.assembly_tasks if t.part_id == "frame"}
    assert frames["asm:frame:1"].children == ("fab:bracket:1",)
    assert frames["asm:frame:3"].children == ("fab:bracket:2",)  # brackets 8..11
    assert frames["asm:frame:1"].release_minutes == 5 * 24 * 60  # waits for the rails (5 days)
    roots = [t for t in result.assembly_tasks if t.part_id == "root"]
    assert [r.children for r in roots] == [("asm:frame:1",), ("asm:frame:2",), ("asm:frame:3",)]


def test_purchase_list_totals(tmp_path: Path) -> None:
    purchases = {p.part_id: p for p in breakdown(tmp_path).purchases}
    assert purchases["bolt"].quantity == 36 and purchases["bolt"].total_cost == 1.8
    assert purchases["rail"].supplier == "Misumi" and purchases["rail"].lead_time_days == 5


def test_problem_has_a_mode_per_eligible_machine_and_transport_lags(tmp_path: Path) -> None:
    result = breakdown(tmp_path, units=1)
    machines = [
        MachineView("lab-a/p1", "lab-a", "fdm_print", ("pla",), (250, 210, 210), speed_factor=1.0),
        MachineView("lab-b/p2", "lab-b", "fdm_print", ("pla",), (250, 210, 210), speed_factor=2.0),
        MachineView("lab-b/r1", "lab-b", "cnc_router", ("plywood",), (1000, 1000, 100)),
        BENCH,
    ]
    network = Network(machines, {("lab-b", "lab-a"): 180})
    planning = build_problem([BuildInput("b1", result, site="lab-a")], network)
    fab = next(t for t in planning.problem.tasks if t.id == task_key("b1", "fab:bracket:1"))
    assert [m.name for m in fab.modes] == ["lab-a/p1", "lab-b/p2"]
    assert [m.duration for m in fab.modes] == [37, 19]  # 4 copies: 36.8 min, halved on the fast one
    lag = next(p for p in planning.problem.precedences if p.before == fab.id)
    assert lag.mode_lags == (0, 180)
    assert planning.unmatched == []


def test_unmatched_part_is_reported_once_with_the_closest_machine(tmp_path: Path) -> None:
    result = breakdown(tmp_path, units=2)
    machines = [MachineView("lab-a/p1", "lab-a", "fdm_print", ("petg",), (250, 210, 210)), BENCH]
    planning = build_problem([BuildInput("b1", result, site="lab-a")], Network(machines, {}))
    assert len(planning.unmatched) == 1
    assert planning.unmatched[0].closest == "lab-a/p1"
    assert "material pla not loaded" in planning.unmatched[0].message


def test_done_tasks_are_left_out_and_running_ones_pinned(tmp_path: Path) -> None:
    result = breakdown(tmp_path, units=3)
    machines = [MachineView("lab-a/p1", "lab-a", "fdm_print", ("pla",), (250, 210, 210)), BENCH]
    build = BuildInput(
        "b1", result, "lab-a", done=frozenset({"fab:bracket:1"}), running={"fab:bracket:2": ("lab-a/p1", 0)}
    )
    planning = build_problem([build], Network(machines, {}))
    ids = {t.id for t in planning.problem.tasks}
    assert task_key("b1", "fab:bracket:1") not in ids
    assert planning.problem.fixed[0].id == task_key("b1", "fab:bracket:2")


def test_assemblies_need_a_bench_at_the_site(tmp_path: Path) -> None:
    result = breakdown(tmp_path, units=1)
    machines = [MachineView("lab-a/p1", "lab-a", "fdm_print", ("pla",), (250, 210, 210)), BENCH]
    planning = build_problem([BuildInput("b1", result, site="lab-b")], Network(machines, {}))
    assert [u.message for u in planning.unmatched] == ["part 'frame': no bench at lab-b"]
    at_site = build_problem([BuildInput("b1", result, site="lab-a")], Network(machines, {}))
    frame = next(t for t in at_site.problem.tasks if t.id == task_key("b1", "asm:frame:1"))
    assert [m.name for m in frame.modes] == ["lab-a/bench"] and frame.release == 5 * 24 * 60
