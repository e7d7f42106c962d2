from __future__ import annotations

from coordinator.planning.matching import MachineView, Requirement, closest_machine, eligible, shortcomings

PRUSA = MachineView("lab-a/prusa", "lab-a", "fdm_print", ("pla", "petg"), (250, 210, 210), 0.4)
VORON = MachineView("lab-b/voron", "lab-b", "fdm_print", ("abs", "asa"), (350, 350, 340), 0.6)
ROUTER = MachineView("lab-b/router", "lab-b", "cnc_router", ("plywood",), (1200, 2400, 100))


def test_process_material_and_nozzle_must_match() -> None:
    req = Requirement("fdm_print", "pla", (50, 20, 10), nozzle_mm=0.4)
    assert [m.key for m in eligible(req, [PRUSA, VORON, ROUTER])] == ["lab-a/prusa"]
    assert "material pla not loaded" in shortcomings(req, VORON)[0]


def test_part_fits_only_when_turned_diagonally() -> None:
    long_bar = Requirement("fdm_print", "pla", (300, 10, 8))  # longer than either bed side
    assert eligible(long_bar, [PRUSA]) == [PRUSA]  # 300 mm lies along the 325 mm diagonal
    too_long = Requirement("fdm_print", "pla", (330, 10, 8))
    assert eligible(too_long, [PRUSA]) == []
    assert "does not fit the build volume" in shortcomings(too_long, PRUSA)[0]


def test_tall_part_may_lie_down() -> None:
    tower = Requirement("fdm_print", "pla", (240, 30, 30))  # taller than 210 standing, fits lying
    assert eligible(tower, [PRUSA]) == [PRUSA]


def test_closest_machine_names_what_it_lacks() -> None:
    req = Requirement("fdm_print", "tpu", (400, 40, 20))
    unmatched = closest_machine("gasket", req, [PRUSA, VORON, ROUTER])
    assert unmatched.closest == "lab-b/voron"  # fits, only lacks the material
    assert unmatched.lacks == ("material tpu not loaded (has abs, asa)",)
    assert "closest is lab-b/voron" in unmatched.message


def test_no_machine_with_the_process() -> None:
    unmatched = closest_machine("plate", Requirement("plasma_cut", "steel"), [PRUSA, ROUTER])
    assert unmatched.closest is None and "plasma_cut" in unmatched.message


def test_family_stock_covers_grades_and_grades_do_not_mix() -> None:
    plasma = MachineView("lab-c/plasma", "lab-c", "plasma_cut", ("steel",), (1500, 3000, 50))
    graded = MachineView("lab-c/plasma2", "lab-c", "plasma_cut", ("steel_s355",), (1500, 3000, 50))
    s235 = Requirement("plasma_cut", "steel_s235")
    assert eligible(s235, [plasma, graded]) == [plasma]
    assert eligible(Requirement("plasma_cut", "steel"), [graded]) == [graded]  # any steel will do
    assert eligible(Requirement("plasma_cut", "steel_s355"), [graded]) == [graded]
    assert eligible(Requirement("plasma_cut", "steel_s235"), [graded]) == []
