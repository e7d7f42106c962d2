"""Spools of filament: the inventory of each fablab, what is loaded where, and what jobs use.

A machine's loaded spool is the inventory spool an operator loaded on it; failing that, the spool
its agent's config names (`spool = {...}` in `[machine ...]`), as long as the inventory does not
know that spool yet: the first job on it adds it to the inventory, and from then on the inventory
is the truth (an operator moves, tops up or empties spools on the dashboard or through the API).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from coordinator.models.base import utcnow
from coordinator.models.fablab import Spool, SpoolSource
from coordinator.models.jobs import Machine
from coordinator.planning.matching import LoadedSpool
from protocol.errors import Conflict, InvalidInput, NotFound
from protocol.payloads import LoadedSpool as ReportedSpool

MAX_SPOOL_G = 100_000.0
EDITABLE = (
    "material",
    "colour",
    "diameter_mm",
    "vendor",
    "name",
    "initial_g",
    "remaining_g",
    "cost_per_kg",
    "currency",
    "archived",
)
LOW_SHARE = 0.1  # a spool with less than this share of its initial weight left is "low"


@dataclass(frozen=True)
class Loaded:
    """What a machine has loaded: an inventory spool, or one only its agent reported so far."""

    fablab: str
    machine_id: str
    spool: Spool | None
    reported: ReportedSpool | None

    def view(self) -> LoadedSpool:
        """The spool as matching sees it."""
        if self.spool is not None:
            s = self.spool
            label = f"spool {s.id}" + (f" ({s.name})" if s.name else "")
            return LoadedSpool(label, s.material.lower(), s.colour, s.remaining_g)
        assert self.reported is not None
        r = self.reported
        label = f"spool {r.id or 'reported by ' + self.machine_id + chr(39) + 's agent'}"
        return LoadedSpool(label, r.material.lower(), r.colour, r.remaining_g)


def reported_spool(capabilities: Mapping[str, Any] | None) -> ReportedSpool | None:
    """The spool an agent's birth names for a machine (in its capabilities), if any."""
    data = (capabilities or {}).get("spool")
    if not data:
        return None
    try:
        return ReportedSpool.model_validate(data)
    except ValueError:
        return None  # a birth was checked on arrival; an unreadable old row is simply not used


def reported_key(machine_id: str, spool: ReportedSpool) -> str:
    """How the inventory knows an agent's spool: its id, or what the machine says of it."""
    return spool.id or f"{machine_id}:{spool.material}:{spool.colour}".lower()


MachineRow = tuple[str, str, Mapping[str, Any] | None]  # fablab, machine id, capabilities


def loaded_spools(
    session: Session, fablab: str | None = None, machines: Iterable[MachineRow] | None = None
) -> dict[tuple[str, str], Loaded]:
    """The spool loaded on every machine that has one (of one fablab when given; of `machines`, with
    the capabilities the caller read already, when given)."""
    spools = select(Spool).where(col(Spool.machine_id).is_not(None), col(Spool.archived).is_(False))
    known = select(Spool.fablab, Spool.external_id).where(Spool.external_id != "")
    if fablab is not None:
        spools, known = spools.where(Spool.fablab == fablab), known.where(Spool.fablab == fablab)
    if machines is None:
        query = select(Machine.fablab, Machine.machine_id, Machine.capabilities)
        machines = session.exec(query if fablab is None else query.where(Machine.fablab == fablab)).all()
    result: dict[tuple[str, str], Loaded] = {}
    for spool in session.exec(spools):
        assert spool.machine_id is not None
        result[(spool.fablab, spool.machine_id)] = Loaded(spool.fablab, spool.machine_id, spool, None)
    tracked = {(lab, ext) for lab, ext in session.exec(known).all()}
    for lab, machine_id, caps in machines:
        reported = reported_spool(caps)
        key = (lab, machine_id)
        if reported is None or key in result or (lab, reported_key(machine_id, reported)) in tracked:
            continue
        result[key] = Loaded(lab, machine_id, None, reported)
    return result


def adopt(session: Session, loaded: Loaded, now: datetime) -> Spool:
    """The inventory spool of what is loaded: a spool only the agent knew becomes an inventory spool."""
    if loaded.spool is not None:
        return loaded.spool
    r = loaded.reported
    assert r is not None
    initial = r.initial_g or r.remaining_g or 1000.0
    spool = Spool(
        fablab=loaded.fablab,
        material=r.material.lower(),
        colour=r.colour,
        diameter_mm=r.diameter_mm,
        vendor=r.vendor,
        name=r.id,
        initial_g=initial,
        remaining_g=r.remaining_g or initial,
        cost_per_kg=r.cost_per_kg,
        machine_id=loaded.machine_id,
        external_id=reported_key(loaded.machine_id, r),
        loaded_at=now,
    )
    session.add(spool)
    session.flush()
    return spool


def use(session: Session, spool_id: int, grams: float, *, synced: bool) -> None:
    """Take `grams` off a spool (negative gives back); one atomic update, so no concurrent use is lost."""
    if not grams:
        return
    values: dict[str, Any] = {"remaining_g": col(Spool.remaining_g) - grams}
    if not synced:
        values["unsynced_g"] = col(Spool.unsynced_g) + grams
    session.execute(update(Spool).where(col(Spool.id) == spool_id).values(**values))


def uses_spoolman(session: Session, fablab: str) -> bool:
    source = session.get(SpoolSource, fablab)
    return source is not None and source.kind == "spoolman"


# ---- the inventory -----------------------------------------------------------------------------


def get_spool(session: Session, fablab: str, spool_id: int) -> Spool:
    spool = session.get(Spool, spool_id)
    if spool is None or spool.fablab != fablab:
        raise NotFound(f"fablab {fablab!r} has no spool {spool_id}")
    return spool


def list_spools(session: Session, fablab: str | None = None, *, archived: bool = False) -> list[Spool]:
    query = select(Spool).order_by(col(Spool.fablab), col(Spool.id))
    if fablab is not None:
        query = query.where(Spool.fablab == fablab)
    if not archived:
        query = query.where(col(Spool.archived).is_(False))
    return list(session.exec(query))


def check_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Refuse what a spool cannot be, naming the field, before anything is written."""
    unknown = set(changes) - set(EDITABLE) - {"machine_id"}
    if unknown:
        raise InvalidInput(
            f"unknown spool field {sorted(unknown)[0]!r}; known: {', '.join(EDITABLE)}, machine_id"
        )
    for name in ("initial_g", "remaining_g"):
        value = changes.get(name)
        if value is not None and not 0 <= float(value) <= MAX_SPOOL_G:
            raise InvalidInput(f"spool {name} must be between 0 and {MAX_SPOOL_G:.0f} g, got {value}")
    if changes.get("diameter_mm") is not None and not 0 < float(changes["diameter_mm"]) <= 10:
        raise InvalidInput(f"spool diameter_mm must be above 0 and at most 10, got {changes['diameter_mm']}")
    if changes.get("cost_per_kg") is not None and float(changes["cost_per_kg"]) < 0:
        raise InvalidInput("spool cost_per_kg must not be negative")
    if "material" in changes and not str(changes["material"] or "").strip():
        raise InvalidInput("a spool needs a material (field 'material', e.g. pla)")
    return changes


def save_spool(session: Session, fablab: str, spool_id: int | None, changes: dict[str, Any]) -> Spool:
    """Create a spool (no id) or change one; `machine_id` loads it there ("" or None unloads it)."""
    check_changes(changes)
    spool = get_spool(session, fablab, spool_id) if spool_id is not None else _new(fablab, changes)
    for name in EDITABLE:
        if name in changes and changes[name] is not None:
            setattr(spool, name, changes[name].strip().lower() if name == "material" else changes[name])
    if spool.remaining_g > spool.initial_g:
        spool.initial_g = spool.remaining_g  # topped up, or a heavier spool than its label says
    if "machine_id" in changes:
        load(session, spool, changes["machine_id"] or None)
    session.add(spool)
    session.flush()
    return spool


def _new(fablab: str, changes: dict[str, Any]) -> Spool:
    if not str(changes.get("material") or "").strip():
        raise InvalidInput("a new spool needs a material (field 'material', e.g. pla)")
    initial = float(changes.get("initial_g") or changes.get("remaining_g") or 1000.0)
    return Spool(fablab=fablab, material="", initial_g=initial, remaining_g=initial)


def load(session: Session, spool: Spool, machine_id: str | None) -> None:
    """Load a spool on a machine of its fablab (what was loaded there comes off), or unload it."""
    if machine_id is not None:
        if session.get(Machine, (spool.fablab, machine_id)) is None:
            raise NotFound(f"fablab {spool.fablab!r} has no machine {machine_id!r}")
        if spool.archived:
            raise Conflict(f"spool {spool.id} is archived (empty); it cannot be loaded")
        for other in session.exec(
            select(Spool).where(Spool.fablab == spool.fablab, Spool.machine_id == machine_id)
        ):
            if other.id != spool.id:
                other.machine_id, other.loaded_at = None, None
    spool.machine_id = machine_id
    spool.loaded_at = utcnow() if machine_id else None


def spool_row(spool: Spool) -> dict[str, Any]:
    """A spool for the API and the pages."""
    share = spool.remaining_g / spool.initial_g if spool.initial_g else 0.0
    value = None if spool.cost_per_kg is None else round(spool.remaining_g / 1000 * spool.cost_per_kg, 2)
    return {
        "id": spool.id,
        "fablab": spool.fablab,
        "material": spool.material,
        "colour": spool.colour,
        "diameter_mm": spool.diameter_mm,
        "vendor": spool.vendor,
        "name": spool.name,
        "initial_g": round(spool.initial_g, 1),
        "remaining_g": round(spool.remaining_g, 1),
        "remaining_share": round(share, 3),
        "low": share < LOW_SHARE,
        "cost_per_kg": spool.cost_per_kg,
        "currency": spool.currency,
        "value": value,
        "machine_id": spool.machine_id,
        "external_id": spool.external_id,
        "archived": spool.archived,
    }


def reported_row(loaded: Loaded) -> dict[str, Any]:
    """A spool only an agent reported so far (not in the inventory yet)."""
    r = loaded.reported
    assert r is not None
    return {
        "id": None,
        "fablab": loaded.fablab,
        "material": r.material,
        "colour": r.colour,
        "diameter_mm": r.diameter_mm,
        "vendor": r.vendor,
        "name": r.id,
        "initial_g": r.initial_g,
        "remaining_g": r.remaining_g,
        "machine_id": loaded.machine_id,
        "reported_by_agent": True,
    }
