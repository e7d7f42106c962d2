"""History read back: success rates, hours, material and estimate accuracy per machine, fablab, design.

Everything comes from the runs (`job_run`): one per attempt of a job that a machine started. A run
that ended `done` is a success; `failed`, `expired` (its machine went silent) and an attempt that
went back to the queue count against the machine; a job cancelled by a person counts for neither.

`measured_speed_factors` is what the planner and the dispatcher use instead of the speed factors agents
declare (coordinator/planning/durations.py).
"""

from __future__ import annotations

import statistics as stats
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from coordinator.models.base import aware
from coordinator.models.fablab import JobRun
from coordinator.models.jobs import Machine

GROUPS = ("machine", "fablab", "design")
SUCCESS = frozenset({"done"})
NEUTRAL = frozenset({"cancelled", "running"})  # a person's cancel, or not ended yet
MIN_RUNS_FOR_SPEED = 3


@dataclass
class Figures:
    """What a group of runs adds up to."""

    key: str
    runs: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    hours: float = 0.0
    filament_g: float = 0.0
    cost: dict[str, float] = field(default_factory=dict)
    planned_ratios: list[float] = field(default_factory=list)  # actual / coordinator's estimate, done runs
    slicer_ratios: list[float] = field(default_factory=list)  # actual / the machine's own estimate

    @property
    def success_rate(self) -> float | None:
        judged = self.done + self.failed
        return self.done / judged if judged else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "runs": self.runs,
            "done": self.done,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "success_rate": None if self.success_rate is None else round(self.success_rate, 3),
            "hours": round(self.hours, 3),
            "filament_g": round(self.filament_g, 1),
            "cost": {k: round(v, 2) for k, v in self.cost.items()},
            "estimate_ratio": _median(self.planned_ratios),
            "slicer_ratio": _median(self.slicer_ratios),
            "estimated_runs": len(self.planned_ratios),
        }


def _median(values: list[float]) -> float | None:
    return round(stats.median(values), 3) if values else None


def group_key(run: JobRun, by: str) -> str:
    if by == "machine":
        return f"{run.fablab}/{run.machine_id}"
    if by == "fablab":
        return run.fablab
    return run.design or "(no design)"


def figures(runs: Iterable[JobRun], by: str) -> list[Figures]:
    """Runs added up per machine, fablab or design, sorted by key."""
    if by not in GROUPS:
        from protocol.errors import InvalidInput

        raise InvalidInput(f"statistics are grouped by {', '.join(GROUPS)}; got {by!r}")
    groups: dict[str, Figures] = {}
    for run in runs:
        key = group_key(run, by)
        add(groups.setdefault(key, Figures(key)), run)
    return [groups[k] for k in sorted(groups)]


def add(figure: Figures, run: JobRun) -> None:
    """Count one run into a group."""
    figure.runs += 1
    if run.state in SUCCESS:
        figure.done += 1
    elif run.state == "cancelled":
        figure.cancelled += 1
    elif run.state not in NEUTRAL:
        figure.failed += 1
    actual = duration_s(run)
    if actual is not None:
        figure.hours += actual / 3600
    figure.filament_g += run.filament_used_g or 0.0
    if run.cost is not None:
        figure.cost[run.currency] = figure.cost.get(run.currency, 0.0) + run.cost
    if run.state in SUCCESS and actual:
        if run.planned_s:
            figure.planned_ratios.append(actual / run.planned_s)
        if run.estimate_s:
            figure.slicer_ratios.append(actual / run.estimate_s)


def duration_s(run: JobRun) -> float | None:
    if run.ended_at is None:
        return None
    return max(0.0, (aware(run.ended_at) - aware(run.started_at)).total_seconds())


def runs(session: Session, *, fablab: str | None = None, since: datetime | None = None) -> list[JobRun]:
    query = select(JobRun).order_by(col(JobRun.id))
    if fablab is not None:
        query = query.where(JobRun.fablab == fablab)
    if since is not None:
        query = query.where(col(JobRun.started_at) >= since)
    return list(session.exec(query))


def summary(
    session: Session, by: str, *, fablab: str | None = None, since: datetime | None = None
) -> dict[str, Any]:
    """The statistics the API and the pages show: per group, and over all runs."""
    found = runs(session, fablab=fablab, since=since)
    total = Figures("all")
    for run in found:
        add(total, run)
    return {"by": by, "groups": [f.as_dict() for f in figures(found, by)], "total": total.as_dict()}


@dataclass(frozen=True)
class MeasuredSpeed:
    """A machine's speed as measured: how much faster than the coordinator's estimates it works."""

    machine: str  # "fablab/machine"
    declared: float  # the speed factor its agent announces
    measured: float  # declared x (estimated time / actual time) over its done runs
    runs: int


def measured_speed_factors(
    session: Session, min_runs: int = MIN_RUNS_FOR_SPEED, machine_ids: Collection[str] | None = None
) -> dict[str, MeasuredSpeed]:
    """Per machine with at least `min_runs` done runs that had an estimate: its measured speed factor
    (of the machines with one of `machine_ids` only, when given).

    The estimate of a run is the build breakdown's minutes at speed 1 divided by the machine's declared
    speed factor, so a machine whose runs take as long as estimated measures its declared factor; one
    whose runs take twice as long measures half of it.
    """
    planned: dict[str, float] = defaultdict(float)
    actual: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    query = select(JobRun).where(JobRun.state == "done", col(JobRun.planned_s).is_not(None))
    if machine_ids is not None:
        query = query.where(col(JobRun.machine_id).in_(machine_ids))
    for run in session.exec(query):
        took = duration_s(run)
        if not took or not run.planned_s:
            continue
        key = f"{run.fablab}/{run.machine_id}"
        planned[key] += run.planned_s
        actual[key] += took
        count[key] += 1
    if not planned:
        return {}
    declared = _declared(session, machine_ids)
    result = {}
    for key in planned:
        if count[key] >= min_runs and actual[key] > 0:
            base = declared.get(key, 1.0)
            result[key] = MeasuredSpeed(key, base, round(base * planned[key] / actual[key], 3), count[key])
    return result


def measured_speeds(session: Session, machine_ids: Collection[str] | None = None) -> dict[str, float]:
    """Measured speed factor by machine key, for the machines with enough done runs (the planner's)."""
    return {key: m.measured for key, m in measured_speed_factors(session, machine_ids=machine_ids).items()}


def _declared(session: Session, machine_ids: Collection[str] | None = None) -> dict[str, float]:
    query = select(Machine.fablab, Machine.machine_id, Machine.capabilities)
    if machine_ids is not None:
        query = query.where(col(Machine.machine_id).in_(machine_ids))
    rows = session.exec(query).all()
    return {f"{lab}/{mid}": float((caps or {}).get("speed_factor") or 1.0) for lab, mid, caps in rows}


def run_row(run: JobRun) -> dict[str, Any]:
    took = duration_s(run)
    return {
        "job": run.job_id, "attempt": run.attempt_id, "machine": f"{run.fablab}/{run.machine_id}",
        "design": run.design, "part": run.part_id, "build": run.build_id, "state": run.state,
        "started_at": aware(run.started_at).isoformat(),
        "ended_at": aware(run.ended_at).isoformat() if run.ended_at else None,
        "duration_s": None if took is None else round(took, 1), "planned_s": run.planned_s,
        "estimate_s": run.estimate_s, "spool": run.spool_id, "filament_estimate_g": run.filament_estimate_g,
        "filament_used_g": run.filament_used_g, "filament_source": run.filament_source, "cost": run.cost,
        "currency": run.currency,
    }  # fmt: skip
