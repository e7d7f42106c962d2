"""Matching with loaded spools and maintenance holds: who may take a part, and why not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coordinator.fablab.estimates import filament_grams
from coordinator.fablab.maintenance import state
from coordinator.models.fablab import MachineCounter, MaintenanceTask
from coordinator.planning.matching import (
    LoadedSpool,
    MachineView,
    Requirement,
    closest_machine,
    same_colour,
    shortcomings,
)

PRINTER = MachineView(key="lab/mk4", fablab="lab", process="fdm_print", materials=("pla", "petg"))


def loaded(material: str = "pla", colour: str = "black", remaining: float | None = 500.0) -> MachineView:
    return MachineView(
        key="lab/mk4",
        fablab="lab",
        process="fdm_print",
        spool=LoadedSpool("spool 7", material, colour, remaining),
    )


def test_the_loaded_spool_replaces_the_declared_materials() -> None:
    assert shortcomings(Requirement("fdm_print", material="pla"), loaded()) == []
    assert shortcomings(Requirement("fdm_print", material="petg"), loaded()) == [
        "spool 7 is pla, part needs petg"
    ]
    assert shortcomings(Requirement("fdm_print", material="petg"), PRINTER) == []


def test_a_part_needing_more_than_is_left_is_refused_with_both_figures() -> None:
    req = Requirement("fdm_print", material="pla", filament_g=300.0)
    assert shortcomings(req, loaded(remaining=40.0)) == ["spool 7 has 40 g left, part needs about 300 g"]
    assert shortcomings(req, loaded(remaining=300.0)) == []
    assert shortcomings(req, loaded(remaining=None)) == []  # nobody weighed it: not a reason to refuse


def test_colour_only_when_the_part_asks_for_one() -> None:
    assert (
        shortcomings(Requirement("fdm_print", colour="Signal Orange"), loaded(colour="signal-orange")) == []
    )
    assert shortcomings(Requirement("fdm_print", colour="orange"), loaded(colour="black")) == [
        "spool 7 is black, part needs orange"
    ]
    assert shortcomings(Requirement("fdm_print", colour="orange"), PRINTER) == [
        "no spool known to be loaded; part needs colour orange"
    ]
    assert same_colour("#FF8000", "ff8000") and not same_colour("orange", "")


def test_a_held_machine_says_why_and_the_closest_machine_names_it() -> None:
    held = MachineView(
        key="lab/mk4", fablab="lab", process="fdm_print", materials=("pla",), held="nozzle change is due"
    )
    lacks = shortcomings(Requirement("fdm_print", material="pla"), held)
    assert lacks == ["held for maintenance: nozzle change is due"]
    assert "held for maintenance" in closest_machine("bracket", Requirement("fdm_print"), [held]).message


NOW = datetime(2026, 5, 1, tzinfo=UTC)


def task(**every: float) -> MaintenanceTask:
    return MaintenanceTask(
        fablab="lab",
        machine_id="mk4",
        name="nozzle change",
        done_at=NOW - timedelta(days=10),
        done_print_s=3600.0,
        done_filament_g=100.0,
        done_jobs=2,
        **every,
    )


@pytest.mark.parametrize(
    ("every", "due", "why"),
    [
        ({"every_hours": 2}, False, "1.5 of 2 h"),
        ({"every_hours": 1.5}, True, "1.5 of 1.5 h"),
        ({"every_kg": 0.5}, False, "0.40 of 0.5 kg"),
        ({"every_jobs": 3}, True, "3 of 3 jobs"),
        ({"every_days": 7}, True, "10.0 of 7 days"),
    ],
)
def test_a_task_is_due_once_any_interval_is_used_up(every: dict[str, float], due: bool, why: str) -> None:
    counter = MachineCounter(fablab="lab", machine_id="mk4", print_s=3600.0 * 2.5, filament_g=500.0, jobs=5)
    found = state(task(**every), counter, NOW)
    assert (found.due, found.why) == (due, why)


def test_filament_estimate_from_a_mesh_report() -> None:
    # a 20 mm cube: 8000 mm3, 2400 mm2 of surface; shell 1920 mm3, the rest 20 % infill
    report = {"volume_mm3": 8000.0, "area_mm2": 2400.0, "volume_reliable": True}
    assert filament_grams(report, "pla") == pytest.approx((1920 + 6080 * 0.2) / 1000 * 1.24, abs=0.05)
    assert filament_grams(report, "petg", copies=3) == pytest.approx(
        3 * (1920 + 6080 * 0.2) / 1000 * 1.27, abs=0.1
    )
    assert filament_grams({"volume_mm3": 8000.0, "area_mm2": 2400.0, "volume_reliable": False}, "pla") is None
