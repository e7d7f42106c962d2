"""Scheduling benchmark: fifo, lst and cpsat on PSPLIB, flexible job-shop and generated build instances.

Run `python benchmarks/scheduling.py [--time-limit 10] [--sets psplib,fjsp,j30mm,generated,speed]
[--instances mk06,j6013_1] [--runs 3] [--out docs/benchmarks-scheduling.md]`. PSPLIB files are read from
../shared/realworld/psplib beside the repository when present (or --psplib DIR); flexible job-shop files from
benchmarks/data/fjsp and multi-mode PSPLIB files from benchmarks/data/psplib-mm (see SOURCES.md in each), each
beside plain CP-SAT (the same model alone on every core, no warm start) at the same time limit. --instances
keeps only the named files of the PSPLIB, fjsp and multi-mode sets. --runs repeats each fjsp and multi-mode
instance with both solvers (the searches are parallel and stopped by the clock, so runs differ).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coordinator.scheduling import cpsat
from coordinator.scheduling.bounds import lower_bound
from coordinator.scheduling.feasibility import check_schedule
from coordinator.scheduling.fjsp import read_fjsp
from coordinator.scheduling.generator import generate
from coordinator.scheduling.instance import Instance
from coordinator.scheduling.model import Problem, Schedule, ScheduleStatus
from coordinator.scheduling.psplib import read_psplib
from coordinator.scheduling.rules import RULES, run_rule
from coordinator.scheduling.runner import plan, to_schedule
from protocol.errors import InvalidInput

PSPLIB = Path(__file__).resolve().parents[1].parent / "shared" / "realworld" / "psplib"
FJSP = Path(__file__).resolve().parent / "data" / "fjsp"
MULTI_MODE = Path(__file__).resolve().parent / "data" / "psplib-mm"
SETS = ("psplib", "fjsp", "j30mm", "generated", "speed")
# (seed, fablabs, machines, designs, builds): from a small network to the largest one
GENERATED = (
    (1, 5, 20, 2, 4),
    (2, 10, 60, 3, 10),
    (3, 20, 150, 4, 20),
    (4, 35, 300, 5, 30),
    (5, 50, 500, 6, 40),
)
PARTS = (10, 30)
NOTE = (
    "cpsat figures vary between runs: the search is parallel and stopped by the clock. Generated "
    "makespans move in steps of nights and weekends, since a job starts only while its fablab is "
    "staffed; the lower bound ignores opening hours, so it is weak on the small networks."
)
# the rule-speed instance: about 2,000 tasks on 200 machines
SPEED = (11, 25, 200, 6, 62)


@dataclass
class Row:
    """One instance's results."""

    name: str
    best_known: int | None
    results: dict[str, Schedule]
    seconds: float
    tasks: int


def best_known(folder: Path) -> dict[str, int]:
    """Best known makespan (upper bound) per instance from optimum.csv."""
    table: dict[str, int] = {}
    path = folder / "optimum.csv"
    if path.exists():
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                table[Path(row["problem"]).stem] = int(row["optimum"].split("..")[-1])
    return table


def run(problem: Problem, known: int | None, time_limit: float) -> Row:
    """Plan one problem under every policy and check each schedule."""
    results: dict[str, Schedule] = {}
    began = time.monotonic()
    for policy in ("fifo", "lst"):
        results[policy] = plan(problem, policy)
    began = time.monotonic()
    results["cpsat"] = plan(problem, "cpsat", time_limit)
    seconds = time.monotonic() - began
    for policy, schedule in results.items():
        checked(problem, schedule, policy)
    return Row(problem.name, known, results, seconds, len(problem.tasks))


def checked(problem: Problem, schedule: Schedule, who: str) -> Schedule:
    """The schedule, once it is known to keep every constraint (else the run stops, naming it)."""
    if errors := check_schedule(problem, schedule):
        raise SystemExit(f"{problem.name} {who}: infeasible schedule: {errors[0]}")
    return schedule


def gap(value: int, reference: int) -> float:
    """Relative distance above a reference value."""
    return (value - reference) / reference if reference else 0.0


def psplib_rows(folder: Path, time_limit: float, chosen: set[str] | None = None) -> list[Row]:
    """Every .sm file of the j30, j60 and j120 folders (only those named in `chosen` when given)."""
    rows = []
    for size in ("j30", "j60", "j120"):
        known = best_known(folder / size)
        for path in sorted((folder / size).glob("*.sm")):
            if chosen is not None and path.stem not in chosen:
                continue
            rows.append(run(read_psplib(path), known.get(path.stem), time_limit))
            _progress(rows[-1])
    return rows


def generated_rows(time_limit: float) -> list[Row]:
    """The seeded build instances of GENERATED."""
    rows = []
    for seed, labs, machines, designs, builds in GENERATED:
        problem = generate(seed, fablabs=labs, machines=machines, designs=designs, builds=builds, parts=PARTS)
        rows.append(run(problem, None, time_limit))
        _progress(rows[-1])
    return rows


def _progress(row: Row) -> None:
    cells = " ".join(f"{p}={s.makespan}" for p, s in row.results.items())
    print(f"{row.name}: {cells} lb={row.results['cpsat'].lower_bound} ({row.seconds:.1f}s)", flush=True)


def psplib_table(rows: list[Row]) -> list[str]:
    """Markdown table and per-set mean gaps for PSPLIB."""
    lines = [
        "| instance | best known | fifo | lst | cpsat | lower bound | gap to best known | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row.results
        known = row.best_known or 0
        lines.append(
            f"| {row.name} | {row.best_known} | {r['fifo'].makespan} | {r['lst'].makespan} | "
            f"{r['cpsat'].makespan} ({r['cpsat'].status}) | {r['cpsat'].lower_bound} | "
            f"{gap(r['cpsat'].makespan, known):.1%} | {row.seconds:.1f} |"
        )
    lines += [
        "",
        "| set | instances | mean gap fifo | mean gap lst | mean gap cpsat |",
        "|---|---|---|---|---|",
    ]
    for size in ("j30", "j60", "j120"):
        chosen = [row for row in rows if row.name.startswith(size) and row.best_known]
        if not chosen:
            continue
        means = [
            statistics.mean(gap(row.results[p].makespan, row.best_known or 0) for row in chosen)
            for p in ("fifo", "lst", "cpsat")
        ]
        lines.append(f"| {size} | {len(chosen)} | " + " | ".join(f"{m:.2%}" for m in means) + " |")
    return lines


def generated_table(rows: list[Row]) -> list[str]:
    """Markdown table for generated build instances (times in minutes)."""
    lines = [
        "| instance | tasks | fifo | lst | cpsat | lower bound | cpsat vs fifo | cpsat vs bound | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row.results
        saving = 1 - r["cpsat"].makespan / r["fifo"].makespan
        lines.append(
            f"| {row.name} | {row.tasks} | {r['fifo'].makespan} | {r['lst'].makespan} | "
            f"{r['cpsat'].makespan} ({r['cpsat'].status}) | {r['cpsat'].lower_bound} | "
            f"-{saving:.1%} | +{gap(r['cpsat'].makespan, r['cpsat'].lower_bound):.1%} | "
            f"{row.seconds:.1f} |"
        )
    if rows:
        mean = statistics.mean(
            1 - row.results["cpsat"].makespan / row.results["fifo"].makespan for row in rows
        )
        lines += ["", f"Mean makespan reduction of cpsat against fifo: {mean:.1%}."]
    return lines


@dataclass
class ShopRow:
    """One flexible job-shop or multi-mode instance: peerfab's search beside plain CP-SAT, once per run."""

    group: str
    name: str
    tasks: int
    best_known: int
    plain: list[int]
    plain_bound: int
    peerfab: list[Schedule]
    seconds: list[float]

    @property
    def ours(self) -> list[int]:
        return [schedule.makespan for schedule in self.peerfab]

    @property
    def lower(self) -> int:
        return max(self.plain_bound, *(schedule.lower_bound for schedule in self.peerfab))


def _plain(row: ShopRow) -> list[int]:
    return row.plain


def _ours(row: ShopRow) -> list[int]:
    return row.ours


def _cell(values: list[int]) -> str:
    """One value, or every run's value."""
    return str(values[0]) if len(values) == 1 else ", ".join(map(str, values))


def _mean_gap(rows: list[ShopRow], values: Callable[[ShopRow], list[int]]) -> float:
    return statistics.mean(gap(v, row.best_known) for row in rows for v in values(row))


def plain_cpsat(problem: Problem, time_limit: float) -> tuple[int, int]:
    """CP-SAT alone on the whole model, every core, no warm start: (makespan, bound)."""
    inst = Instance(problem)
    horizon = run_rule(inst, "fifo").makespan
    result = cpsat.solve(cpsat.CpModel(inst, horizon, lower_bound(inst)), time_limit)
    assert result.solution is not None  # the fifo schedule's makespan leaves room for one
    checked(
        problem,
        to_schedule(inst, result.solution, result.bound, ScheduleStatus.FEASIBLE, "cpsat"),
        "plain CP-SAT",
    )
    return result.solution.makespan, result.bound


def fjsp_rows(
    folder: Path, time_limit: float, chosen: set[str] | None = None, runs: int = 1
) -> list[ShopRow]:
    """Every .fjs file under `folder` with a best-known value in its folder's best_known.csv (only
    those named in `chosen` when given)."""
    rows = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        with (sub / "best_known.csv").open(newline="") as handle:
            known = {row["instance"]: int(row["best_known"]) for row in csv.DictReader(handle)}
        for path in sorted(sub.glob("*.fjs")):
            if chosen is not None and path.stem not in chosen:
                continue
            rows.append(compare(sub.name, read_fjsp(path), known[path.stem], time_limit, runs))
    return rows


def fjsp_table(rows: list[ShopRow]) -> list[str]:
    """Markdown table of peerfab against plain CP-SAT and the best known makespans (every run's value
    where there are several)."""
    lines = [
        "| set | instance | operations | best known | plain CP-SAT | peerfab | lower bound | gap plain "
        "| gap peerfab | time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        status = f" ({row.peerfab[0].status})" if len(row.peerfab) == 1 else ""
        lines.append(
            f"| {row.group} | {row.name} | {row.tasks} | {row.best_known} | {_cell(row.plain)} | "
            f"{_cell(row.ours)}{status} | {row.lower} | "
            f"{_mean_gap([row], _plain):.1%} | {_mean_gap([row], _ours):.1%} | "
            f"{statistics.mean(row.seconds):.1f} |"
        )
    lines.append("")
    for group in sorted({row.group for row in rows}):
        chosen = [row for row in rows if row.group == group]
        worse = sum(statistics.mean(row.ours) > statistics.mean(row.plain) for row in chosen)
        runs = sum(len(row.ours) for row in chosen)
        lines.append(
            f"{group}: mean gap to best known, plain CP-SAT {_mean_gap(chosen, _plain):.2%}, peerfab "
            f"{_mean_gap(chosen, _ours):.2%} ({runs} runs); peerfab worse than plain CP-SAT (mean of its "
            f"runs) on {worse} of {len(chosen)}."
        )
    return lines


def compare(group: str, problem: Problem, best: int, time_limit: float, runs: int = 1) -> ShopRow:
    """peerfab's search beside plain CP-SAT on one problem with a known best makespan, `runs` times."""
    row = ShopRow(group, problem.name, len(problem.tasks), best, [], 0, [], [])
    for _ in range(runs):
        plain, bound = plain_cpsat(problem, time_limit)
        began = time.monotonic()
        schedule = checked(problem, plan(problem, "cpsat", time_limit), "peerfab")
        seconds = time.monotonic() - began
        row.plain.append(plain)
        row.plain_bound = max(row.plain_bound, bound)
        row.peerfab.append(schedule)
        row.seconds.append(seconds)
        print(
            f"{row.name}: peerfab={schedule.makespan} plain={plain} best={best} lb={schedule.lower_bound} "
            f"({seconds:.1f}s)",
            flush=True,
        )
    return row


def infeasible(problem: Problem, time_limit: float) -> str:
    """How peerfab and plain CP-SAT answer a problem that has no feasible schedule."""
    began = time.monotonic()
    try:
        plan(problem, "cpsat", time_limit)
        answer = "a schedule (wrong: there is none)"
    except InvalidInput as exc:
        answer = f"InvalidInput: {exc}"
    ours = time.monotonic() - began
    inst = Instance(problem)
    horizon = sum(max(mode.duration for mode in modes) for modes in inst.modes)
    began = time.monotonic()
    result = cpsat.solve(cpsat.CpModel(inst, horizon, lower_bound(inst)), time_limit)
    plain = "no schedule" if result.solution is None else f"makespan {result.solution.makespan}"
    line = (
        f"{problem.name}: peerfab answers in {ours:.2f} s with {answer}; plain CP-SAT ends in "
        f"{time.monotonic() - began:.2f} s with {plain}."
    )
    print(line, flush=True)
    return line


def multi_mode_lines(
    folder: Path, time_limit: float, chosen: set[str] | None = None, runs: int = 1
) -> list[str]:
    """Table of the .mm files in `folder` against optimum.csv there, then the infeasible ones (only the
    files named in `chosen` when given)."""
    with (folder / "optimum.csv").open(newline="") as handle:
        optimum = {row["instance"]: row["optimum"] for row in csv.DictReader(handle)}
    rows, answers = [], []
    for path in sorted(folder.glob("*.mm")):
        if chosen is not None and path.stem not in chosen:
            continue
        problem, known = read_psplib(path), optimum[path.stem]
        if known == "infeasible":
            answers.append(infeasible(problem, time_limit))
        else:
            rows.append(compare("j30mm", problem, int(known), time_limit, runs))
    reached = sum(all(v == row.best_known for v in row.ours) for row in rows)
    plain = sum(all(v == row.best_known for v in row.plain) for row in rows)
    return [
        *fjsp_table(rows),
        f"At the optimum in every run: peerfab {reached} of {len(rows)}, "
        f"plain CP-SAT {plain} of {len(rows)}.",
        "",
        *answers,
    ]


def speed_lines() -> list[str]:
    """Median time of one pass of each rule on the largest instance, compilation included."""
    seed, labs, machines, designs, builds = SPEED
    problem = generate(seed, fablabs=labs, machines=machines, designs=designs, builds=builds, parts=PARTS)
    lines = [
        f"Serial schedule generation on {len(problem.tasks)} tasks and {machines} machines "
        f"(+ benches), up to 4 modes per task, opening hours and transport lags; median of 5 runs:",
        "",
        "| rule | makespan (min) | time (ms) |",
        "|---|---|---|",
    ]
    for rule in RULES:
        times = []
        for _ in range(5):
            began = time.perf_counter()
            solution = run_rule(Instance(problem), rule)
            times.append(time.perf_counter() - began)
        lines.append(f"| {rule} | {solution.makespan} | {statistics.median(times) * 1000:.0f} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Run everything and write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--psplib", type=Path, default=PSPLIB)
    parser.add_argument("--fjsp", type=Path, default=FJSP)
    parser.add_argument("--multi-mode", type=Path, default=MULTI_MODE)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks-scheduling.md"))
    parser.add_argument("--instances", help="comma-separated file names, no extension (PSPLIB, fjsp, j30mm)")
    parser.add_argument("--runs", type=int, default=1, help="runs per fjsp and j30mm instance")
    args = parser.parse_args(argv)
    chosen = set(args.instances.split(",")) if args.instances else None
    sets = set(args.sets.split(","))
    if not sets <= set(SETS):
        parser.error(f"unknown set in --sets; choose from {', '.join(SETS)}")
    began = time.monotonic()
    lines = [
        "## Scheduling",
        "",
        f"`python benchmarks/scheduling.py`: cpsat gets {args.time_limit:g} s per instance "
        f"(heuristic warm start included) on {os.cpu_count()} cores; fifo and lst are single passes "
        f"of the serial schedule-generation scheme (rules available: {', '.join(RULES)}).",
        "",
        NOTE,
        "",
    ]
    if "psplib" in sets and args.psplib.is_dir():
        lines += ["### PSPLIB", "", *psplib_table(psplib_rows(args.psplib, args.time_limit, chosen)), ""]
    if "fjsp" in sets:
        lines += [
            "### Flexible job shop",
            "",
            *fjsp_table(fjsp_rows(args.fjsp, args.time_limit, chosen, args.runs)),
            "",
        ]
    if "j30mm" in sets:
        multi_mode = multi_mode_lines(args.multi_mode, args.time_limit, chosen, args.runs)
        lines += ["### Multi-mode PSPLIB", "", *multi_mode, ""]
    if "generated" in sets:
        lines += ["### Generated builds", "", *generated_table(generated_rows(args.time_limit)), ""]
    if "speed" in sets:
        lines += ["### Rule speed", "", *speed_lines(), ""]
    lines.append(f"Whole run: {time.monotonic() - began:.0f} s.")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
