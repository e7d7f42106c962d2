"""What matching needs to know of a machine beyond its capabilities: its spool, and a maintenance hold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlmodel import Session

from coordinator.fablab.maintenance import held_machines
from coordinator.fablab.spools import MachineRow, loaded_spools
from coordinator.planning.matching import LoadedSpool, MachineView


@dataclass(frozen=True)
class Condition:
    spool: LoadedSpool | None = None
    held: str = ""


def machine_conditions(
    session: Session, now: datetime | None = None, machines: Iterable[MachineRow] | None = None
) -> dict[tuple[str, str], Condition]:
    """The spool and the maintenance hold of every machine that has either (of `machines`, whose
    capabilities the caller read already, when given: a dispatch round reads only its idle ones)."""
    spools = {key: loaded.view() for key, loaded in loaded_spools(session, machines=machines).items()}
    held = held_machines(session, now)
    return {key: Condition(spools.get(key), held.get(key, "")) for key in set(spools) | set(held)}


def with_condition(view: MachineView, condition: Condition | None) -> MachineView:
    """The machine as matching sees it, with what is loaded on it and whether it is held."""
    if condition is None:
        return view
    return replace(view, spool=condition.spool, held=condition.held)
