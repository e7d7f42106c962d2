"""Maintenance: what each machine has done (hours, filament, jobs) and the tasks due on it.

A task is due when the machine has run `every_hours`, used `every_kg` or made `every_jobs` since the
task was last done, or `every_days` have passed. A machine with a task due is held out of dispatch
and planning until an operator signs the task off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from coordinator.models.base import aware, utcnow
from coordinator.models.fablab import MachineCounter, MaintenanceTask
from coordinator.models.jobs import Machine
from protocol.errors import InvalidInput, NotFound

INTERVALS = ("every_hours", "every_kg", "every_jobs", "every_days")


@dataclass(frozen=True)
class TaskState:
    """A task with how far along its interval the machine is (1.0 = due)."""

    task: MaintenanceTask
    share: float  # the largest share of any of its intervals used up
    why: str  # what makes it due, or how far it is

    @property
    def due(self) -> bool:
        return self.share >= 1.0


def count(session: Session, fablab: str, machine_id: str, seconds: float, grams: float, jobs: int) -> None:
    """Add one run to a machine's counters (created at its first run), in one statement."""
    table = MachineCounter.__table__  # type: ignore[attr-defined]
    values = {
        "fablab": fablab,
        "machine_id": machine_id,
        "print_s": seconds,
        "filament_g": grams,
        "jobs": jobs,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["fablab", "machine_id"],
        set_={
            "print_s": table.c.print_s + seconds,
            "filament_g": table.c.filament_g + grams,
            "jobs": table.c.jobs + jobs,
        },
    )
    session.execute(statement)


def counters(session: Session, fablab: str, machine_id: str) -> MachineCounter:
    found = session.get(MachineCounter, (fablab, machine_id))
    return found or MachineCounter(fablab=fablab, machine_id=machine_id)


def state(task: MaintenanceTask, counter: MachineCounter, now: datetime) -> TaskState:
    """How far along its intervals a task is."""
    used: list[tuple[float, str]] = []
    if task.every_hours:
        hours = (counter.print_s - task.done_print_s) / 3600
        used.append((hours / task.every_hours, f"{hours:.1f} of {task.every_hours:g} h"))
    if task.every_kg:
        kg = (counter.filament_g - task.done_filament_g) / 1000
        used.append((kg / task.every_kg, f"{kg:.2f} of {task.every_kg:g} kg"))
    if task.every_jobs:
        jobs = counter.jobs - task.done_jobs
        used.append((jobs / task.every_jobs, f"{jobs} of {task.every_jobs} jobs"))
    if task.every_days:
        days = (now - aware(task.done_at)).total_seconds() / 86400
        used.append((days / task.every_days, f"{days:.1f} of {task.every_days:g} days"))
    share, why = max(used, default=(0.0, "no interval"))
    return TaskState(task, share, why)


def task_states(session: Session, fablab: str | None = None, now: datetime | None = None) -> list[TaskState]:
    """Every task (of one fablab when given), with its progress towards being due."""
    now = now or utcnow()
    query = select(MaintenanceTask).order_by(
        col(MaintenanceTask.fablab), col(MaintenanceTask.machine_id), col(MaintenanceTask.id)
    )
    if fablab is not None:
        query = query.where(MaintenanceTask.fablab == fablab)
    tasks = list(session.exec(query))
    keys = {(t.fablab, t.machine_id) for t in tasks}
    found = {
        (c.fablab, c.machine_id): c
        for c in session.exec(select(MachineCounter))
        if (c.fablab, c.machine_id) in keys
    }
    return [
        state(
            t,
            found.get((t.fablab, t.machine_id)) or MachineCounter(fablab=t.fablab, machine_id=t.machine_id),
            now,
        )
        for t in tasks
    ]


def held_machines(session: Session, now: datetime | None = None) -> dict[tuple[str, str], str]:
    """Machines with a task due, and why: they get no job until the task is signed off."""
    held: dict[tuple[str, str], str] = {}
    for item in task_states(session, now=now):
        if item.due:
            key = (item.task.fablab, item.task.machine_id)
            reason = f"{item.task.name} is due ({item.why})"
            held[key] = f"{held[key]}; {reason}" if key in held else reason
    return held


def check_task(fields: dict[str, Any]) -> None:
    """Refuse a task that could never be due, or a negative interval, naming the field."""
    if not any(fields.get(name) for name in INTERVALS):
        raise InvalidInput(f"a maintenance task needs at least one interval: {', '.join(INTERVALS)}")
    for name in INTERVALS:
        value = fields.get(name)
        if value is not None and value <= 0:
            raise InvalidInput(f"{name} must be greater than 0, got {value}")
    if not str(fields.get("name") or "").strip():
        raise InvalidInput("a maintenance task needs a name (e.g. 'nozzle change')")


def add_task(
    session: Session, fablab: str, machine_id: str, fields: dict[str, Any], by: str
) -> MaintenanceTask:
    """A new task on a machine, counted from now (as if just done)."""
    if session.get(Machine, (fablab, machine_id)) is None:
        raise NotFound(f"fablab {fablab!r} has no machine {machine_id!r}")
    check_task(fields)
    counter = counters(session, fablab, machine_id)
    task = MaintenanceTask(
        fablab=fablab,
        machine_id=machine_id,
        name=fields["name"].strip(),
        every_hours=fields.get("every_hours"),
        every_kg=fields.get("every_kg"),
        every_jobs=fields.get("every_jobs"),
        every_days=fields.get("every_days"),
        done_print_s=counter.print_s,
        done_filament_g=counter.filament_g,
        done_jobs=counter.jobs,
        done_at=utcnow(),
        done_by=by,
    )
    session.add(task)
    session.flush()
    return task


def get_task(session: Session, fablab: str, task_id: int) -> MaintenanceTask:
    task = session.get(MaintenanceTask, task_id)
    if task is None or task.fablab != fablab:
        raise NotFound(f"fablab {fablab!r} has no maintenance task {task_id}")
    return task


def sign_off(
    session: Session, task: MaintenanceTask, by: str, note: str = "", now: datetime | None = None
) -> None:
    """The task was done: its intervals start again from the machine's counters now."""
    counter = counters(session, task.fablab, task.machine_id)
    task.done_print_s, task.done_filament_g, task.done_jobs = (
        counter.print_s,
        counter.filament_g,
        counter.jobs,
    )
    task.done_at, task.done_by, task.note = now or utcnow(), by, note.strip()[:500]
    session.add(task)


def task_row(item: TaskState) -> dict[str, Any]:
    t = item.task
    return {
        "id": t.id,
        "fablab": t.fablab,
        "machine_id": t.machine_id,
        "name": t.name,
        "every_hours": t.every_hours,
        "every_kg": t.every_kg,
        "every_jobs": t.every_jobs,
        "every_days": t.every_days,
        "done_at": aware(t.done_at).isoformat(),
        "done_by": t.done_by,
        "note": t.note,
        "share": round(item.share, 3),
        "progress": item.why,
        "due": item.due,
    }


def counter_row(counter: MachineCounter) -> dict[str, Any]:
    return {
        "fablab": counter.fablab,
        "machine_id": counter.machine_id,
        "print_hours": round(counter.print_s / 3600, 2),
        "filament_kg": round(counter.filament_g / 1000, 3),
        "jobs": counter.jobs,
    }
