"""JSON problem format: round trip and errors that say where the problem is."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coordinator.scheduling.instance import Instance
from coordinator.scheduling.jsonformat import problem_from_dict, problem_to_dict, read_problem
from protocol.errors import InvalidInput
from tests.unit.scheduling.samples import small_shop, transport

Change = Callable[[dict[str, Any]], object]


def test_round_trip_keeps_the_problem(tmp_path: Path) -> None:
    for problem in (small_shop(), transport()):
        path = tmp_path / "p.json"
        path.write_text(json.dumps(problem_to_dict(problem)))
        again = read_problem(path)
        assert again.tasks == problem.tasks
        assert again.resources == problem.resources
        assert again.precedences == problem.precedences


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "resources": [],\n  "tasks": [,]\n}')
    with pytest.raises(InvalidInput, match=r"bad.json:3: invalid JSON"):
        read_problem(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tasks"][1]["modes"][0].update(duration=-1), "tasks[1].modes[0].duration"),
        (lambda d: d["tasks"][0].update(colour="red"), "tasks[0]: unknown key 'colour'"),
        (lambda d: d["resources"][0].pop("id"), "resources[0]: missing key 'id'"),
        (lambda d: d["resources"][0].update(calendar=[[5, 1]]), "resources[0].calendar[0]"),
        (lambda d: d["precedences"][0].update(lag="soon"), "precedences[0].lag"),
    ],
)
def test_field_errors_name_the_field(change: Change, message: str) -> None:
    data = problem_to_dict(transport())
    change(data)
    with pytest.raises(InvalidInput) as err:
        problem_from_dict(data, "plan.json")
    assert err.value.message.startswith("plan.json: ")
    assert message in err.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tasks"][0]["modes"][0].update(demands={"lathe": 1}), "unknown resource 'lathe'"),
        (lambda d: d["precedences"].append({"before": "assembly", "after": "part"}), "cycle"),
        (lambda d: d["precedences"][0].update(mode_lags=[1]), "mode_lags needs 2 entries"),
        (lambda d: d["tasks"][0]["modes"][0].update(demands={"near": 2}), "capacity 1"),
        (lambda d: d["tasks"].append(dict(d["tasks"][0])), "duplicate task id 'part'"),
    ],
)
def test_inconsistent_problems_are_rejected(change: Change, message: str) -> None:
    data = problem_to_dict(transport())
    change(data)
    with pytest.raises(InvalidInput, match=message):
        Instance(problem_from_dict(data))
