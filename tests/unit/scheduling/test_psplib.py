"""PSPLIB reader: real single-mode files, a handmade multi-mode file and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.scheduling.psplib import read_psplib
from protocol.errors import InvalidInput
from tests.unit.scheduling.samples import MULTI_MODE


def test_reads_real_single_mode_file(psplib_dir: Path) -> None:
    problem = read_psplib(psplib_dir / "j30" / "j301_1.sm")
    assert len(problem.tasks) == 32
    assert [r.id for r in problem.resources] == ["R1", "R2", "R3", "R4"]
    assert [r.capacity for r in problem.resources] == [12, 13, 4, 12]
    job2 = problem.tasks[1]
    assert job2.id == "2" and job2.modes[0].duration == 8 and job2.modes[0].demands["R1"] == 4
    assert {(a.before, a.after) for a in problem.precedences if a.before == "1"} == {
        ("1", "2"),
        ("1", "3"),
        ("1", "4"),
    }


def test_reads_multi_mode_file_with_budgets(multi_mode_file: Path) -> None:
    problem = read_psplib(multi_mode_file)
    assert [len(t.modes) for t in problem.tasks] == [1, 2, 2, 1]
    budget = next(r for r in problem.resources if r.id == "N1")
    assert not budget.renewable and budget.capacity == 4
    assert problem.tasks[2].modes[1].duration == 5


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  2        2          1           4\n", "  2        2          1\n", ":16: precedence row"),
        ("         2     5       1    1\n  3", "  3", "job 2: 2 modes announced, 1 given"),
        ("    1    4\n", "    1\n", "expected 2 resource availabilities"),
        ("  4      1     0       0    0\n", "  4      1     x       0    0\n", "expected integers"),
        ("RESOURCEAVAILABILITIES:", "AVAILABILITY:", "missing section 'RESOURCEAVAILABILITIES'"),
        ("jobs (incl. supersource/sink ):  4", "jobs: 4", "not a PSPLIB file"),
    ],
)
def test_broken_files_name_file_line_and_problem(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in MULTI_MODE
    path = tmp_path / "broken.mm"
    path.write_text(MULTI_MODE.replace(old, new, 1))
    with pytest.raises(InvalidInput) as err:
        read_psplib(path)
    assert str(path) in err.value.message
    assert message in err.value.message


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        read_psplib(tmp_path / "nope.sm")
