"""Where each part of a build came from, and what it cost.

For every task of a build (a plate of copies of a part, or one assembly): the design version and its
people, every attempt with its fablab, machine, operators, spool, material, start and end, the file
the machine ran, and the cost. A cost is the filament used times its spool's price per kilogram plus
the hours on the machine times its fablab's hourly rate, each where it is set; failed attempts cost
too. The build's estimate is taken from the estimates made when it started (minutes per task, grams
per part, the planned machine), its actual cost from the runs so far; purchases count in both.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from coordinator.models.base import aware
from coordinator.models.builds import Build, BuildTask, FablabProfile, PurchaseItem, PurchaseState
from coordinator.models.designs import Design, DesignMaintainer, DesignVersion
from coordinator.models.fablab import JobRun, Spool
from coordinator.models.jobs import Job, JobAttempt, JobEvent
from coordinator.models.ledger import LedgerEvent
from coordinator.services import builds

Money = dict[str, float]  # currency -> amount


@dataclass
class Prices:
    """What peerfab knows of prices: each fablab's hourly rate, spools' price per kilogram."""

    rates: dict[str, tuple[float, str]] = field(default_factory=dict)  # fablab -> (per hour, currency)
    spools: dict[int, Spool] = field(default_factory=dict)
    per_kg: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)  # (fablab, material)

    def machine(self, fablab: str, hours: float) -> Money:
        rate = self.rates.get(fablab)
        return {} if rate is None else {rate[1]: hours * rate[0]}

    def material(self, fablab: str, material: str | None, grams: float | None) -> Money:
        """Grams of a material at a fablab's going price (its spools' mean), before a spool is chosen."""
        price = self.per_kg.get((fablab, (material or "").lower()))
        return {} if price is None or not grams else {price[1]: grams / 1000 * price[0]}


def load_prices(session: Session) -> Prices:
    prices = Prices()
    for profile in session.exec(select(FablabProfile).where(col(FablabProfile.hourly_rate).is_not(None))):
        prices.rates[profile.fablab] = (float(profile.hourly_rate or 0.0), profile.currency)
    found: dict[tuple[str, str], list[Spool]] = defaultdict(list)
    for spool in session.exec(select(Spool)):
        assert spool.id is not None
        prices.spools[spool.id] = spool
        if spool.cost_per_kg is not None and not spool.archived:
            found[(spool.fablab, spool.material.lower())].append(spool)
    for key, spools in found.items():
        mean = sum(s.cost_per_kg or 0.0 for s in spools) / len(spools)
        prices.per_kg[key] = (mean, spools[0].currency)
    return prices


def add(total: Money, more: Money) -> Money:
    """`more` added into `total` (returned); amounts rounded to cents."""
    for currency, amount in more.items():
        total[currency] = round(total.get(currency, 0.0) + amount, 2)
    return total


# ---- provenance ----------------------------------------------------------------------------------


def provenance(session: Session, build_id: str) -> dict[str, Any]:
    """A build's parts with where, how and by whom each was made, and its costs."""
    build = builds.get_build(session, build_id)
    prices = load_prices(session)
    rows = builds.build_tasks(session, build.id)
    runs = session.exec(select(JobRun).where(JobRun.build_id == build.id).order_by(col(JobRun.id))).all()
    unrun = _attempts_without_runs(session, build.id, {r.attempt_id for r in runs})
    jobs = _jobs(session, {r.job_id for r in runs} | {u.job_id or "" for u, _ in unrun}
                 | {j.id for _, j in rows if j is not None})  # fmt: skip
    events = _operator_events(session, list(jobs))
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        job = jobs.get(run.job_id)
        by_task[_task_id(job)].append(_attempt(run, job, events.get(run.attempt_id, []), prices))
    for use, attempt in unrun:
        by_task[_task_id(jobs.get(use.job_id or ""))].append(_recorded_attempt(use, attempt, prices))
    parts = [_part(task, job, sorted(by_task[task.task_id], key=lambda a: a["started_at"]))
             for task, job in rows]  # fmt: skip
    purchases = builds.purchases(session, build.id)
    return {
        "build": build.id, "design": build.design, "version": build.design_version, "units": build.units,
        "site": build.site, "state": build.state, "contributors": contributors(session, build),
        "parts": parts, "cost": _build_cost(build, rows, parts, purchases, prices),
    }  # fmt: skip


def contributors(session: Session, build: Build) -> list[str]:
    """The people of the design version built: its authors, its publisher and its maintainers."""
    found = session.exec(
        select(DesignVersion, Design)
        .join(Design, col(Design.id) == col(DesignVersion.design_id))
        .where(Design.slug == build.design, DesignVersion.version == build.design_version)
    ).first()
    if found is None:
        return []
    version, design = found
    maintainers = session.exec(
        select(DesignMaintainer.name)
        .where(DesignMaintainer.design_id == design.id)
        .order_by(col(DesignMaintainer.id))
    ).all()
    people = [*version.authors, version.published_by, *maintainers]
    return [name for name in dict.fromkeys(people) if name]


def _task_id(job: Job | None) -> str:
    return str((job.params or {}).get("task", "")) if job else ""


def _attempts_without_runs(
    session: Session, build_id: str, with_runs: set[str]
) -> list[tuple[LedgerEvent, JobAttempt | None]]:
    """Attempts the ledger recorded that have no run (their machine's reports came in one batch, or out
    of order): their machine use, and the attempt."""
    uses = session.exec(
        select(LedgerEvent).where(
            LedgerEvent.build_id == build_id,
            LedgerEvent.action == "use",
            LedgerEvent.source_kind == "attempt",
        )
    ).all()
    missing = [use for use in uses if use.source_id not in with_runs]
    if not missing:
        return []
    found = session.exec(select(JobAttempt).where(col(JobAttempt.id).in_([u.source_id for u in missing])))
    attempts = {a.id: a for a in found}
    return [(use, attempts.get(use.source_id)) for use in missing]


def _jobs(session: Session, ids: set[str]) -> dict[str, Job]:
    if not ids:
        return {}
    return {job.id: job for job in session.exec(select(Job).where(col(Job.id).in_(sorted(ids))))}


def _operator_events(session: Session, job_ids: list[str]) -> dict[str, list[JobEvent]]:
    """Per attempt, what people asked of it (pause, resume, a prepared file), in order."""
    if not job_ids:
        return {}
    rows = session.exec(
        select(JobEvent)
        .where(col(JobEvent.job_id).in_(job_ids), col(JobEvent.type).startswith("operator:"))
        .order_by(col(JobEvent.id))
    ).all()
    found: dict[str, list[JobEvent]] = defaultdict(list)
    for event in rows:
        if event.attempt_id:
            found[event.attempt_id].append(event)
    return found


def _part(task: BuildTask, job: Job | None, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    made = next((a for a in reversed(attempts) if a["state"] == "done"), attempts[-1] if attempts else None)
    cost: Money = {}
    for attempt in attempts:
        add(cost, attempt["cost"])
    return {
        "task": task.task_id, "kind": task.kind, "part": task.part_id, "copies": task.copies,
        "job": job.id if job else None, "state": job.state if job else None,
        "design_version": f"{job.design}@{job.design_version}" if job and job.design else None,
        "fablab": made["fablab"] if made else None, "machine": made["machine"] if made else None,
        "operators": made["operators"] if made else [], "material": made["material"] if made else None,
        "spool": made["spool"] if made else None,
        "started_at": made["started_at"] if made else None, "ended_at": made["ended_at"] if made else None,
        "file_sha256": made["file_sha256"] if made else (job.file_sha256 if job else None),
        "attempts": attempts, "cost": cost,
    }  # fmt: skip


def _recorded_attempt(use: LedgerEvent, attempt: JobAttempt | None, prices: Prices) -> dict[str, Any]:
    """An attempt known from its machine use in the ledger (no run: no spool, no filament figure)."""
    begin, end = aware(use.begin or use.at), aware(use.end or use.at)
    return {
        "job": use.job_id or "", "attempt": use.source_id, "state": attempt.state if attempt else "ended",
        "fablab": use.fablab or "", "machine": use.machine_id or "", "operators": [], "material": None,
        "spool": None, "material_g": None, "started_at": begin.isoformat(), "ended_at": end.isoformat(),
        "hours": round(use.quantity, 4), "file_sha256": None,
        "cost": add({}, prices.machine(use.fablab or "", use.quantity)),
    }  # fmt: skip


def _attempt(run: JobRun, job: Job | None, events: list[JobEvent], prices: Prices) -> dict[str, Any]:
    ended = aware(run.ended_at) if run.ended_at else None
    hours = (ended - aware(run.started_at)).total_seconds() / 3600 if ended else None
    spool = prices.spools.get(run.spool_id) if run.spool_id is not None else None
    prepared = [e.payload.get("sha256") for e in events if e.type == "operator:prepared"]
    operators = [str(e.payload["by"]) for e in events if e.payload.get("by")]
    cost: Money = {run.currency: run.cost} if run.cost is not None else {}
    if hours is not None:
        add(cost, prices.machine(run.fablab, hours))
    return {
        "job": run.job_id, "attempt": run.attempt_id, "state": run.state, "fablab": run.fablab,
        "machine": run.machine_id, "operators": list(dict.fromkeys(operators)),
        "material": spool.material if spool else (job.material if job else None), "spool": run.spool_id,
        "material_g": run.filament_used_g, "started_at": aware(run.started_at).isoformat(),
        "ended_at": ended.isoformat() if ended else None,
        "hours": None if hours is None else round(hours, 4),
        "file_sha256": str(prepared[-1]) if prepared and prepared[-1] else (job.file_sha256 if job else None),
        "cost": add({}, cost),
    }  # fmt: skip


# ---- cost ----------------------------------------------------------------------------------------


def _build_cost(
    build: Build,
    rows: list[tuple[BuildTask, Job | None]],
    parts: list[dict[str, Any]],
    purchases: list[PurchaseItem],
    prices: Prices,
) -> dict[str, Any]:
    estimated: Money = {}
    hours_planned = grams_planned = 0.0
    for task, job in rows:
        fablab = _planned_fablab(task, build)
        grams = _grams(job)
        hours_planned += task.minutes / 60
        grams_planned += grams or 0.0
        add(estimated, prices.machine(fablab, task.minutes / 60))
        add(estimated, prices.material(fablab, job.material if job else None, grams))
    actual: Money = {}
    hours_used = grams_used = 0.0
    for part in parts:
        add(actual, part["cost"])
        hours_used += sum(a["hours"] or 0.0 for a in part["attempts"])
        grams_used += sum(a["material_g"] or 0.0 for a in part["attempts"])
    for item in purchases:
        if item.unit_cost is not None:
            add(estimated, {item.currency: item.unit_cost * item.quantity})
            if item.state == PurchaseState.RECEIVED:
                add(actual, {item.currency: item.unit_cost * item.quantity})
    return {
        "estimated": estimated, "actual": actual, "machine_hours_estimated": round(hours_planned, 2),
        "machine_hours_used": round(hours_used, 2), "material_g_estimated": round(grams_planned, 1),
        "material_g_used": round(grams_used, 1),
    }  # fmt: skip


def _planned_fablab(task: BuildTask, build: Build) -> str:
    """Where the task is planned to run; the build site until a plan says otherwise."""
    return task.planned_machine.split("/", 1)[0] if task.planned_machine else build.site


def _grams(job: Job | None) -> float | None:
    value = (job.params or {}).get("filament_g") if job else None
    return float(value) if isinstance(value, int | float) else None
