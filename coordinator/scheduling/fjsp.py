"""Reader for flexible job-shop files (`.fjs`, Brandimarte's format).

The first line holds the number of jobs and of machines (a third number, the mean number of machines
per operation, may follow and is ignored). Each further line is one job: its number of operations, then
for each operation the number of machines that can run it followed by that many `machine duration`
pairs, machines counted from 1. Each operation becomes a task `"<job>.<operation>"` with one mode per
eligible machine (resource `M<k>`, capacity 1), and each operation waits for the one before it.
"""

from __future__ import annotations

from pathlib import Path

from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, Task
from coordinator.scheduling.psplib import read_text
from protocol.errors import InvalidInput


def read_fjsp(path: str | Path) -> Problem:
    """Parse a flexible job-shop `.fjs` file into a Problem."""
    path = Path(path)
    return parse_fjsp(read_text(path), path)


def parse_fjsp(text: str, path: Path) -> Problem:
    """Parse `.fjs` text; `path` is used in error messages and as the problem's name."""
    rows = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1)]
    rows = [(number, tokens) for number, tokens in rows if tokens]
    if not rows:
        raise InvalidInput(f"{path}:1: empty file")
    number, header = rows[0]
    if len(header) not in (2, 3):
        raise InvalidInput(f"{path}:{number}: expected 'jobs machines [mean machines per operation]'")
    jobs, machines = _int(header[0], path, number), _int(header[1], path, number)
    if jobs < 1 or machines < 1:
        raise InvalidInput(f"{path}:{number}: jobs and machines must be at least 1")
    if len(rows) - 1 < jobs:
        raise InvalidInput(f"{path}:{number}: {jobs} jobs announced, {len(rows) - 1} given")
    tasks: list[Task] = []
    arcs: list[Precedence] = []
    for job, (line, tokens) in enumerate(rows[1 : jobs + 1], start=1):
        operations = _job(tokens, job, machines, path, line)
        tasks += operations
        arcs += [Precedence(a.id, b.id) for a, b in zip(operations, operations[1:], strict=False)]
    resources = tuple(Resource(f"M{k}") for k in range(1, machines + 1))
    return Problem(resources, tuple(tasks), tuple(arcs), name=path.stem)


def _int(token: str, path: Path, line: int) -> int:
    try:
        return int(token)
    except ValueError:
        raise InvalidInput(f"{path}:{line}: expected an integer, got {token!r}") from None


def _job(tokens: list[str], job: int, machines: int, path: Path, line: int) -> list[Task]:
    """The operations of one job line, in order."""
    values = [_int(token, path, line) for token in tokens]
    pos = 0

    def take(what: str) -> int:
        nonlocal pos
        if pos >= len(values):
            raise InvalidInput(f"{path}:{line}: job {job} ends early: missing {what}")
        pos += 1
        return values[pos - 1]

    operations: list[Task] = []
    for op in range(1, take("the number of operations") + 1):
        modes: list[Mode] = []
        for _ in range(take(f"operation {op}'s number of machines")):
            machine, duration = take(f"operation {op}'s machine"), take(f"operation {op}'s duration")
            if not 1 <= machine <= machines:
                raise InvalidInput(
                    f"{path}:{line}: job {job} operation {op}: machine {machine} not in 1..{machines}"
                )
            if duration < 0:
                raise InvalidInput(f"{path}:{line}: job {job} operation {op}: negative duration")
            modes.append(Mode(duration, {f"M{machine}": 1}, name=f"M{machine}"))
        if not modes:
            raise InvalidInput(f"{path}:{line}: job {job} operation {op} has no machine")
        operations.append(Task(f"{job}.{op}", tuple(modes)))
    if pos != len(values):
        raise InvalidInput(f"{path}:{line}: job {job}: {len(values) - pos} numbers left over")
    return operations
