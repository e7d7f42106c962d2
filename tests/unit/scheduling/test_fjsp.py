"""Flexible job-shop reader: a tiny handmade instance, its optimum and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.fjsp import read_fjsp
from coordinator.scheduling.runner import plan
from protocol.errors import InvalidInput

# two jobs of two operations on two machines; the optimum is 7 (every machine choice gives at least 7)
TINY = """2 2 1.5
2 2 1 3 2 5 1 2 2
2 1 1 2 2 1 4 2 3
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.fjs"
    path.write_text(TINY)
    return path


def test_reads_one_task_per_operation_and_one_mode_per_machine(tiny: Path) -> None:
    problem = read_fjsp(tiny)
    assert problem.name == "tiny"
    assert [r.id for r in problem.resources] == ["M1", "M2"]
    assert all(r.capacity == 1 for r in problem.resources)
    assert [t.id for t in problem.tasks] == ["1.1", "1.2", "2.1", "2.2"]
    first = problem.tasks[0]
    assert [(m.name, m.duration, dict(m.demands)) for m in first.modes] == [
        ("M1", 3, {"M1": 1}),
        ("M2", 5, {"M2": 1}),
    ]
    assert {(a.before, a.after) for a in problem.precedences} == {("1.1", "1.2"), ("2.1", "2.2")}


def test_tiny_instance_is_solved_to_its_optimum(tiny: Path) -> None:
    problem = read_fjsp(tiny)
    schedule = plan(problem, "cpsat", time_limit=2)
    assert schedule.makespan == 7 and schedule.status == "optimal"
    assert check_schedule(problem, schedule) == []


def test_header_without_mean_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "short.fjs"
    path.write_text("1 1\n1 1 1 4\n")
    assert read_fjsp(path).tasks[0].modes[0].duration == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: empty file"),
        ("2\n", ":1: expected 'jobs machines"),
        ("3 2\n1 1 1 4\n", ":1: 3 jobs announced, 1 given"),
        ("1 2\n1 1 3 4\n", ":2: job 1 operation 1: machine 3 not in 1..2"),
        ("1 2\n2 1 1 4\n", ":2: job 1 ends early: missing operation 2's number of machines"),
        ("1 2\n1 1 1 4 9\n", ":2: job 1: 1 numbers left over"),
        ("1 2\n1 1 1 x\n", ":2: expected an integer, got 'x'"),
        ("1 2\n1 0\n", ":2: job 1 operation 1 has no machine"),
    ],
)
def test_broken_files_name_file_line_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.fjs"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        read_fjsp(path)
    assert str(path) in err.value.message and message in err.value.message


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        read_fjsp(tmp_path / "nope.fjs")
