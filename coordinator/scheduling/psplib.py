"""Reader for PSPLIB single-mode (.sm) and multi-mode (.mm) project files."""

from __future__ import annotations

import re
from pathlib import Path

from coordinator.scheduling.model import Mode, Precedence, Problem, Resource, Task
from protocol.errors import InvalidInput

_COUNT = re.compile(r"^\s*-\s*(renewable|nonrenewable|doubly constrained)\s*:\s*(\d+)", re.I)
_JOBS = re.compile(r"^\s*jobs \(incl\. supersource/sink \)\s*:\s*(\d+)", re.I)


class _Lines:
    """Numbered lines of a file, read forward, with errors that name file and line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.pos = 0

    def error(self, message: str, line: int | None = None) -> InvalidInput:
        number = self.pos if line is None else line
        return InvalidInput(f"{self.path}:{number}: {message}")

    def seek(self, header: str) -> None:
        """Move past the line that starts with `header`."""
        while self.pos < len(self.lines):
            self.pos += 1
            if self.lines[self.pos - 1].strip().upper().startswith(header):
                return
        raise self.error(f"missing section {header!r}", len(self.lines))

    def numbers(self) -> list[int] | None:
        """Integers on the next line, or None at a separator or the end."""
        if self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        self.pos += 1
        if line.startswith("*"):
            return None
        try:
            return [int(tok) for tok in line.split()]
        except ValueError:
            raise self.error(f"expected integers, got {line.strip()!r}") from None


def read_text(path: Path) -> str:
    """A benchmark file's text (plain ASCII in practice; latin-1 never fails to decode)."""
    try:
        return path.read_text(encoding="latin-1")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc


def read_psplib(path: str | Path) -> Problem:
    """Parse a PSPLIB .sm or .mm file into a Problem (task ids are job numbers)."""
    path = Path(path)
    return parse_psplib(read_text(path), path)


def parse_psplib(text: str, path: Path) -> Problem:
    """Parse PSPLIB text; `path` is used in error messages only."""
    lines = _Lines(path, text)
    jobs, counts = _header(lines)
    successors, mode_counts = _precedences(lines, jobs)
    modes = _requests(lines, jobs, mode_counts, counts)
    resources = _availabilities(lines, counts)
    tasks = tuple(Task(str(j), tuple(modes[j])) for j in range(1, jobs + 1))
    arcs = tuple(Precedence(str(j), str(s)) for j in range(1, jobs + 1) for s in successors[j])
    return Problem(resources, tasks, arcs, name=path.stem)


def _header(lines: _Lines) -> tuple[int, dict[str, int]]:
    jobs = None
    counts: dict[str, int] = {}
    while lines.pos < len(lines.lines):
        line = lines.lines[lines.pos]
        lines.pos += 1
        if match := _JOBS.match(line):
            jobs = int(match.group(1))
        elif match := _COUNT.match(line):
            counts[match.group(1).lower()] = int(match.group(2))
        elif line.strip().upper().startswith("PRECEDENCE RELATIONS"):
            lines.pos -= 1
            break
    if jobs is None or "renewable" not in counts:
        raise lines.error("not a PSPLIB file: missing 'jobs' or 'renewable' in the header")
    if counts.get("doubly constrained", 0):
        raise lines.error("doubly constrained resources are not supported")
    return jobs, counts


def _precedences(lines: _Lines, jobs: int) -> tuple[dict[int, list[int]], dict[int, int]]:
    lines.seek("PRECEDENCE RELATIONS")
    lines.pos += 1  # column titles
    successors: dict[int, list[int]] = {}
    mode_counts: dict[int, int] = {}
    while (row := lines.numbers()) is not None:
        if not row:
            continue
        if len(row) < 3 or len(row) != 3 + row[2]:
            raise lines.error("precedence row must be: job, modes, count, successors...")
        job, count, succ = row[0], row[1], row[3:]
        if not 1 <= job <= jobs or any(not 1 <= s <= jobs for s in succ):
            raise lines.error(f"job number out of range 1..{jobs}")
        if count < 1:
            raise lines.error(f"job {job} must have at least one mode")
        successors[job], mode_counts[job] = succ, count
    missing = sorted(set(range(1, jobs + 1)) - set(successors))
    if missing:
        raise lines.error(f"no precedence row for job {missing[0]}")
    return successors, mode_counts


def _resource_names(counts: dict[str, int]) -> list[str]:
    renewable = [f"R{k}" for k in range(1, counts["renewable"] + 1)]
    return renewable + [f"N{k}" for k in range(1, counts.get("nonrenewable", 0) + 1)]


def _requests(
    lines: _Lines, jobs: int, mode_counts: dict[int, int], counts: dict[str, int]
) -> dict[int, list[Mode]]:
    names = _resource_names(counts)
    lines.seek("REQUESTS/DURATIONS")
    lines.pos += 2  # column titles and dashes
    modes: dict[int, list[Mode]] = {}
    job = 0
    while (row := lines.numbers()) is not None:
        if not row:
            continue
        if len(row) == len(names) + 3:
            job, row = row[0], row[1:]
            if job not in mode_counts:
                raise lines.error(f"job {job} is not in the precedence relations")
        elif len(row) != len(names) + 2 or not job:
            raise lines.error(f"expected job, mode, duration and {len(names)} requests")
        number, duration, demands = row[0], row[1], row[2:]
        if number != len(modes.setdefault(job, [])) + 1:
            raise lines.error(f"job {job}: mode {number} out of order")
        modes[job].append(Mode(duration, dict(zip(names, demands, strict=True)), name=str(number)))
    for j in range(1, jobs + 1):
        if len(modes.get(j, [])) != mode_counts[j]:
            raise lines.error(f"job {j}: {mode_counts[j]} modes announced, {len(modes.get(j, []))} given")
    return modes


def _availabilities(lines: _Lines, counts: dict[str, int]) -> tuple[Resource, ...]:
    names = _resource_names(counts)
    lines.seek("RESOURCEAVAILABILITIES")
    lines.pos += 1  # resource names
    row = lines.numbers()
    if row is None or len(row) != len(names):
        raise lines.error(f"expected {len(names)} resource availabilities")
    return tuple(
        Resource(name, capacity, renewable=name.startswith("R"))
        for name, capacity in zip(names, row, strict=True)
    )
