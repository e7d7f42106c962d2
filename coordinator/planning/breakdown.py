"""Explode a design version into what a build needs: fabrication tasks, assembly tasks, purchases.

Pure: a Bom, mesh reports and a unit count in; plain dataclasses out. Durations are minutes at a
machine speed factor of 1 (a faster machine divides them).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from coordinator.bom.graph import Bom, totals
from coordinator.bom.manifest import AssemblyPart, FabricatedPart, PurchasedPart
from coordinator.planning.matching import Requirement

# Setup and per-file time for processes whose file is not a mesh (cut files, boards, machine files):
# minutes to fixture stock and run a typical part, used until a machine reports its own figures.
DEFAULT_MINUTES = {
    "plasma_cut": 25,
    "waterjet_cut": 40,
    "laser_cut": 15,
    "cnc_router": 45,
    "cnc_mill": 90,
    "cnc_lathe": 60,
    "pcb_mill": 60,
    "pcb_fab": 240,
    "pcb_assembly": 120,
    "sla_print": 180,
    "sls_print": 480,
    "weld": 60,
    "sheet_bend": 20,
    "fdm_print": 120,
}
PLATE_PROCESSES = frozenset({"fdm_print", "sla_print"})
PLATE_MAX_COPIES = 8
PLATE_MAX_COPY_MINUTES = 90  # only short parts share a plate: one failed long print should not cost many
PLATE_BED_MM = (200.0, 200.0)  # the smallest common bed; packing is judged against it
PLATE_FILL = 0.55  # share of the bed area copies may cover, spacing and brim included
PLATE_TIME_SAVING = 0.92  # one heat-up, one bed levelling and one removal per plate
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class FabTask:
    """Make `copies` of one fabricated part on one machine, in one job."""

    id: str
    part_id: str
    copies: int
    requirement: Requirement
    minutes: float  # at speed factor 1, all copies
    file: str
    instances: tuple[int, ...]  # which instances of the part this plate makes (0-based)


@dataclass(frozen=True)
class AssemblyTask:
    id: str
    part_id: str
    instance: int
    minutes: float
    site: str  # "build-site" or "fablab"
    release_minutes: float  # purchased parts it needs arrive then
    children: tuple[str, ...] = ()  # ids of the tasks (fab or assembly) it waits for


@dataclass(frozen=True)
class PurchaseLine:
    part_id: str
    name: str
    quantity: float
    unit: str
    supplier: str
    mpn: str
    manufacturer: str
    unit_cost: float | None
    currency: str
    lead_time_days: float | None
    url: str

    @property
    def total_cost(self) -> float | None:
        return None if self.unit_cost is None else round(self.unit_cost * self.quantity, 2)


@dataclass
class Breakdown:
    units: int
    root: str = ""
    fab_tasks: list[FabTask] = field(default_factory=list)
    assembly_tasks: list[AssemblyTask] = field(default_factory=list)
    purchases: list[PurchaseLine] = field(default_factory=list)

    def task_ids(self) -> list[str]:
        return [t.id for t in self.fab_tasks] + [t.id for t in self.assembly_tasks]


def break_down(bom: Bom, units: int, mesh_reports: Mapping[str, Mapping[str, Any]]) -> Breakdown:
    """Tasks and purchases for `units` of the design; mesh_reports are keyed by part file path."""
    need = totals(bom, units)
    result = Breakdown(units=units, root=bom.root)
    fab_of: dict[str, list[str]] = {}  # part id -> task id of each instance
    for part_id, quantity in sorted(need.items()):
        part = bom.parts[part_id]
        if isinstance(part, FabricatedPart):
            tasks = _fab_tasks(part, int(quantity), mesh_reports.get(part.file, {}))
            result.fab_tasks.extend(tasks)
            fab_of[part_id] = [task.id for task in tasks for _ in task.instances]
        elif isinstance(part, PurchasedPart):
            result.purchases.append(_purchase(part, quantity))
    result.assembly_tasks = _assembly_tasks(bom, need, fab_of)
    return result


def requirement_for(part: FabricatedPart, report: Mapping[str, Any]) -> Requirement:
    box = report.get("min_box_mm")
    return Requirement(
        process=part.process,
        material=part.material,
        min_box_mm=tuple(box) if box else None,  # type: ignore[arg-type]
        nozzle_mm=part.nozzle_mm,
        tolerance_mm=part.tolerance_mm,
        colour=part.colour or None,
    )


def copy_minutes(part: FabricatedPart, report: Mapping[str, Any]) -> float:
    """Minutes to make one copy at speed factor 1."""
    seconds = report.get("est_print_time_s")
    if seconds and part.process in PLATE_PROCESSES | {"fdm_print"}:
        return max(1.0, float(seconds) / 60.0)
    return float(DEFAULT_MINUTES.get(part.process, 60))


def copies_per_plate(part: FabricatedPart, report: Mapping[str, Any], minutes: float) -> int:
    """How many copies of a small part share one plate (1 for large, long or non-printed parts)."""
    box = report.get("min_box_mm")
    if part.process not in PLATE_PROCESSES or not box or minutes > PLATE_MAX_COPY_MINUTES:
        return 1
    footprint = float(box[0]) * float(box[1])  # lying on its largest face
    if footprint <= 0:
        return 1
    fit = int(PLATE_BED_MM[0] * PLATE_BED_MM[1] * PLATE_FILL // footprint)
    return max(1, min(PLATE_MAX_COPIES, fit))


def _fab_tasks(part: FabricatedPart, quantity: int, report: Mapping[str, Any]) -> list[FabTask]:
    minutes = copy_minutes(part, report)
    per_plate = copies_per_plate(part, report, minutes)
    plates = math.ceil(quantity / per_plate)
    tasks = []
    for plate in range(plates):
        instances = tuple(range(plate * per_plate, min(quantity, (plate + 1) * per_plate)))
        saving = PLATE_TIME_SAVING if len(instances) > 1 else 1.0
        tasks.append(
            FabTask(
                id=f"fab:{part.id}:{plate + 1}",
                part_id=part.id,
                copies=len(instances),
                requirement=requirement_for(part, report),
                minutes=round(minutes * len(instances) * saving, 1),
                file=part.file,
                instances=instances,
            )
        )
    return tasks


def _purchase(part: PurchasedPart, quantity: float) -> PurchaseLine:
    return PurchaseLine(
        part_id=part.id,
        name=part.name,
        quantity=quantity,
        unit=part.unit,
        supplier=part.supplier,
        mpn=part.mpn,
        manufacturer=part.manufacturer,
        unit_cost=part.unit_cost,
        currency=part.currency,
        lead_time_days=part.lead_time_days,
        url=part.url,
    )


def _assembly_tasks(bom: Bom, need: Mapping[str, float], fab_of: dict[str, list[str]]) -> list[AssemblyTask]:
    """One task per assembly instance; child instances are handed out to parent instances in order."""
    instance_ids: dict[str, list[str]] = dict(fab_of)
    next_free: dict[str, int] = defaultdict(int)
    tasks: list[AssemblyTask] = []
    reachable = bom.graph.subgraph(nx.descendants(bom.graph, bom.root) | {bom.root})
    # Children before parents, so a parent can claim its children's task ids.
    for part_id in reversed(list(nx.topological_sort(reachable))):
        part = bom.parts[part_id]
        if not isinstance(part, AssemblyPart):
            continue
        count = int(need[part_id])
        ids = [f"asm:{part_id}:{i + 1}" for i in range(count)]
        instance_ids[part_id] = ids
        for index, task_id in enumerate(ids):
            children, release = _claim_children(bom, part, instance_ids, next_free)
            tasks.append(
                AssemblyTask(
                    id=task_id,
                    part_id=part_id,
                    instance=index,
                    minutes=round(part.labour_h * 60, 1),
                    site=part.assembled_at,
                    release_minutes=release,
                    children=children,
                )
            )
    return tasks


def _claim_children(
    bom: Bom, part: AssemblyPart, instance_ids: dict[str, list[str]], next_free: dict[str, int]
) -> tuple[tuple[str, ...], float]:
    children: list[str] = []
    release = 0.0
    for child_id, attrs in bom.graph[part.id].items():
        child = bom.parts[child_id]
        if isinstance(child, PurchasedPart):
            release = max(release, (child.lead_time_days or 0.0) * MINUTES_PER_DAY)
            continue
        quantity = int(attrs["quantity"])
        start = next_free[child_id]
        claimed = instance_ids[child_id][start : start + quantity]
        next_free[child_id] = start + quantity
        children.extend(dict.fromkeys(claimed))  # a plate counts once even if it holds several copies
    return tuple(dict.fromkeys(children)), release
