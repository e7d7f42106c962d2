"""Seeded generator of realistic build-planning problems (times in minutes)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from coordinator.scheduling.model import Calendar, Mode, Precedence, Problem, Resource, Task

DAY = 24 * 60
PROCESSES: dict[str, tuple[tuple[str, ...], float, tuple[int, int]]] = {
    # process: (materials, share of machines, base duration range in minutes)
    "fdm": (("pla", "petg", "abs"), 0.6, (60, 600)),
    "sla": (("resin",), 0.1, (120, 480)),
    "cnc": (("plywood", "aluminium"), 0.15, (30, 240)),
    "laser": (("acrylic", "plywood"), 0.15, (10, 60)),
}
HOURS = {"staffed": (9 * 60, 17 * 60), "extended": (8 * 60, 21 * 60), "farm": None}


@dataclass(frozen=True)
class Fablab:
    """A site with a position (km) and start windows (None: always staffed)."""

    id: str
    x: float
    y: float
    calendar: Calendar | None


@dataclass(frozen=True)
class Machine:
    """A machine of one process, some materials and a speed factor."""

    id: str
    fablab: Fablab
    process: str
    materials: frozenset[str]
    speed: float


def opening_hours(kind: str, days: int, weekends: bool) -> Calendar | None:
    """Daily start windows over `days` days, optionally closed on days 6 and 7 of each week."""
    hours = HOURS[kind]
    if hours is None:
        return None
    return tuple((d * DAY + hours[0], d * DAY + hours[1]) for d in range(days) if weekends or d % 7 < 5)


def transport(a: Fablab, b: Fablab) -> int:
    """Minutes to move a part between fablabs: pickup plus road time."""
    if a.id == b.id:
        return 0
    return 120 + round(math.dist((a.x, a.y), (b.x, b.y)) * 1.2)


class _Builder:
    def __init__(self, seed: int, fablabs: int, machines: int, days: int) -> None:
        self.rng = random.Random(seed)
        self.labs = [self._fablab(k, days) for k in range(fablabs)]
        self.machines = [self._machine(k) for k in range(machines)]
        self.tasks: list[Task] = []
        self.arcs: list[Precedence] = []
        self.benches: dict[str, Resource] = {}

    def _fablab(self, k: int, days: int) -> Fablab:
        kind = self.rng.choices(list(HOURS), weights=(5, 3, 2))[0]
        weekends = kind == "farm" or self.rng.random() < 0.3
        calendar = opening_hours(kind, days, weekends)
        return Fablab(f"lab{k}", self.rng.uniform(0, 600), self.rng.uniform(0, 600), calendar)

    def _machine(self, k: int) -> Machine:
        names = list(PROCESSES)
        # the first machines cover every process so that every part has somewhere to go
        process = (
            names[k]
            if k < len(names)
            else self.rng.choices(names, weights=[p[1] for p in PROCESSES.values()])[0]
        )
        materials = PROCESSES[process][0]
        chosen = frozenset(self.rng.sample(materials, self.rng.randint(1, len(materials))))
        lab = self.labs[k % len(self.labs)] if k < len(self.labs) else self.rng.choice(self.labs)
        return Machine(f"{lab.id}-{process}{k}", lab, process, chosen, self.rng.uniform(0.6, 1.6))

    def design(self, parts: int) -> list[tuple[str, str, int, int, int]]:
        """Parts as (process, material, minutes, copies, subassembly)."""
        groups = max(1, parts // 5)
        out = []
        for _ in range(parts):
            process = self.rng.choices(list(PROCESSES), weights=[p[1] for p in PROCESSES.values()])[0]
            offered = sorted({m for mc in self.machines if mc.process == process for m in mc.materials})
            low, high = PROCESSES[process][2]
            copies = self.rng.choices((1, 2, 4), weights=(6, 3, 1))[0]
            out.append(
                (
                    process,
                    self.rng.choice(offered),
                    self.rng.randint(low, high),
                    copies,
                    self.rng.randrange(groups),
                )
            )
        return out

    def build(self, b: int, parts: list[tuple[str, str, int, int, int]], max_modes: int) -> None:
        site = self.rng.choice(self.labs)
        bench = self.benches.setdefault(
            site.id, Resource(f"{site.id}-bench", self.rng.choice((1, 2)), site.calendar)
        )
        release = self.rng.randrange(0, 3 * DAY, 60)
        final = f"b{b}-final"
        groups = sorted({p[4] for p in parts})
        for g in groups:
            sub = f"b{b}-sub{g}"
            self.tasks.append(self._assembly(sub, bench, release))
            self.arcs.append(Precedence(sub, final))
        self.tasks.append(self._assembly(final, bench, release))
        for k, (process, material, minutes, copies, g) in enumerate(parts):
            machines = self._eligible(process, material, site, max_modes)
            for c in range(copies):
                tid = f"b{b}-p{k}-{c}"
                modes = tuple(Mode(math.ceil(minutes / m.speed), {m.id: 1}, name=m.id) for m in machines)
                self.tasks.append(Task(tid, modes, release=release))
                lags = tuple(transport(m.fablab, site) for m in machines)
                self.arcs.append(Precedence(tid, f"b{b}-sub{g}", mode_lags=lags))

    def _assembly(self, tid: str, bench: Resource, release: int) -> Task:
        minutes = self.rng.randint(20, 120)
        return Task(tid, (Mode(minutes, {bench.id: 1}, name=bench.id),), release=release)

    def _eligible(self, process: str, material: str, site: Fablab, count: int) -> list[Machine]:
        able = [m for m in self.machines if m.process == process and material in m.materials]
        able.sort(key=lambda m: transport(m.fablab, site))
        nearby = able[: 2 * count]
        return sorted(self.rng.sample(nearby, min(count, len(nearby))), key=lambda m: m.id)


def generate(
    seed: int,
    fablabs: int = 10,
    machines: int = 60,
    designs: int = 3,
    builds: int = 6,
    parts: tuple[int, int] = (5, 20),
    max_modes: int = 4,
    days: int = 120,
) -> Problem:
    """A problem with `builds` builds of `designs` designs across fablabs with opening hours."""
    gen = _Builder(seed, fablabs, machines, days)
    catalogue = [gen.design(gen.rng.randint(*parts)) for _ in range(designs)]
    for b in range(builds):
        gen.build(b, catalogue[b % designs], max_modes)
    resources = tuple(Resource(m.id, 1, m.fablab.calendar) for m in gen.machines) + tuple(
        gen.benches.values()
    )
    name = f"gen-s{seed}-f{fablabs}-m{machines}-b{builds}"
    return Problem(resources, tuple(gen.tasks), tuple(gen.arcs), name=name)
