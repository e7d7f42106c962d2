"""Contributions: what each fablab and each person gave, summed from the ledger, over a time window and
per build.

`load` reads the ledger summed per agent, action, unit and build in the database (a few rows per agent
and build); `aggregate` is pure: those sums in, each agent's share out. An agent's figures:

- designs and versions: the design versions it published or maintains (work on a publication);
- parts, and parts for others: what its machines produced (produce); a part is made *for others* when
  the build it belongs to is sited at another fablab: the part travels to someone else's build. Parts
  of a build at the fablab's own site, and jobs outside any build, are its own;
- machine hours (use), material in grams (consume);
- work: the work events it gave (interventions, publications, assembly) and the hours of those
  measured in time (assembly at a bench).

Each share is the agent's figure over the total of every agent in the window (None when that total is
nothing), so the shares of all agents of a kind that gives the figure add up to 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from coordinator.ledger import export
from coordinator.ledger.mapping import Action, Unit
from coordinator.models.builds import Build
from coordinator.models.ledger import LedgerEvent
from coordinator.services import builds
from protocol.errors import InvalidInput

KINDS = ("fablab", "person")
SHARED = (("machine_hours", "hours_share"), ("material_g", "material_share"), ("parts", "parts_share"))


@dataclass(frozen=True)
class Sum:
    """The ledger's events of one provider, action, unit, build and source, summed."""

    provider: str
    action: str
    unit: str
    quantity: float
    events: int
    build_id: str | None = None
    site: str | None = None  # the build's site
    source_kind: str = ""
    design: str | None = None
    version: str | None = None


@dataclass
class Share:
    """What one agent gave (or, as the total, every agent together)."""

    agent: str
    parts: float = 0.0
    parts_for_others: float = 0.0
    machine_hours: float = 0.0
    material_g: float = 0.0
    work_events: int = 0
    work_hours: float = 0.0
    designs: set[str] = field(default_factory=set)
    versions: set[str] = field(default_factory=set)

    def add(self, item: Sum) -> None:
        """Count one sum of events in."""
        action, unit = Action(item.action), Unit(item.unit)
        if action == Action.PRODUCE and unit == Unit.EACH:
            self.parts += item.quantity
            if item.site is not None and item.provider != f"fablab:{item.site}":
                self.parts_for_others += item.quantity
        elif action == Action.USE:
            self.machine_hours += item.quantity
        elif action == Action.CONSUME and unit == Unit.GRAM:
            self.material_g += item.quantity
        elif action == Action.WORK:
            self.work_events += item.events
            self.work_hours += item.quantity if unit == Unit.HOUR else 0.0
            if item.source_kind == "publish" and item.design:
                self.designs.add(item.design)
                self.versions.add(f"{item.design}@{item.version}")

    def row(self, total: Share | None = None) -> dict[str, Any]:
        """The share as the API writes it; with `total`, each figure's part of it."""
        kind, _, name = self.agent.partition(":")
        found: dict[str, Any] = {
            "agent": self.agent, "name": name or kind, "designs": len(self.designs),
            "versions": len(self.versions), "parts": round(self.parts, 4),
            "parts_for_others": round(self.parts_for_others, 4),
            "machine_hours": round(self.machine_hours, 4), "material_g": round(self.material_g, 2),
            "work_events": self.work_events,
            "work_hours": round(self.work_hours, 4),
        }  # fmt: skip
        for figure, share in SHARED:
            whole = getattr(total, figure) if total is not None else 0.0
            found[share] = round(getattr(self, figure) / whole, 4) if whole > 0 else None
        return found


def _shares(sums: Iterable[Sum], kind: str) -> tuple[list[Share], Share]:
    """Each agent of the kind's share, largest first, and the total of every agent."""
    agents: dict[str, Share] = {}
    total = Share("all")
    for item in sums:
        total.add(item)
        if item.provider.startswith(f"{kind}:"):
            agents.setdefault(item.provider, Share(item.provider)).add(item)
    ranked = sorted(agents.values(), key=lambda s: (-s.machine_hours, -s.work_hours, -s.work_events, s.agent))
    return ranked, total


def aggregate(sums: list[Sum], kind: str) -> dict[str, Any]:
    """Each agent's contribution over all the sums, and per build (builds in id order)."""
    if kind not in KINDS:
        raise InvalidInput(f"contributions are by {' or '.join(KINDS)}; got {kind!r}")
    agents, total = _shares(sums, kind)
    per_build: dict[str, list[Sum]] = {}
    for item in sums:
        if item.build_id:
            per_build.setdefault(item.build_id, []).append(item)
    builds = []
    for build_id, items in sorted(per_build.items()):
        build_agents, build_total = _shares(items, kind)
        builds.append({
            "build": build_id, "site": items[0].site, "agents": [a.row(build_total) for a in build_agents],
            "total": build_total.row(),
        })  # fmt: skip
    return {"by": kind, "agents": [a.row(total) for a in agents], "total": total.row(), "builds": builds}


def load(session: Session, query: export.LedgerQuery) -> list[Sum]:
    """The ledger's events the query names (build, time), summed per provider, action, unit and build."""
    table = LedgerEvent
    keys = (col(table.provider), col(table.action), col(table.unit), col(table.build_id), col(Build.site),
            col(table.source_kind), col(table.design), col(table.design_version))  # fmt: skip
    grouped = (
        sa_select(*keys, func.sum(table.quantity), func.count())
        .select_from(table)
        .outerjoin(Build, col(Build.id) == col(table.build_id))
        .where(*export.where(query.check()))
        .group_by(*keys)
    )
    return [
        Sum(provider=provider, action=action, unit=unit, quantity=float(total or 0.0), events=int(events),
            build_id=build_id, site=site, source_kind=source_kind, design=design, version=version)
        for provider, action, unit, build_id, site, source_kind, design, version, total, events
        in session.execute(grouped).all()
    ]  # fmt: skip


def contributions(
    session: Session, by: str, *, since: datetime | None = None, until: datetime | None = None,
    build: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Each fablab's or person's contribution over the window (and build), with its share of the total."""
    if by not in KINDS:
        raise InvalidInput(f"contributions are by {' or '.join(KINDS)}; got {by!r}")
    query = export.LedgerQuery(build=build, since=since, until=until).check()
    if build is not None:
        builds.get_build(session, build)
    found = aggregate(load(session, query), by)
    window = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    return {**found, **window, "build": build}
