"""A small fablab network written straight into the coordinator's tables (as agent births would)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from coordinator.models.jobs import AgentLink, Fablab, Machine


def add_machine(
    session: Session, fablab: str, machine_id: str, process: str, *, materials: tuple[str, ...] = (),
    volume: tuple[float, float, float] = (250, 210, 210), speed: float = 1.0, online: bool = True,
    agent: str = "agent-1", **caps: Any,
) -> Machine:  # fmt: skip
    """An idle machine of an (online) agent."""
    if session.get(Fablab, fablab) is None:
        session.add(Fablab(id=fablab))
    link = session.get(AgentLink, (fablab, agent))
    if link is None:
        session.add(AgentLink(fablab=fablab, agent=agent, online=online))
    capabilities = {"process": process, "materials": list(materials), "build_volume_mm": list(volume),
                    "speed_factor": speed, **caps}  # fmt: skip
    machine = Machine(fablab=fablab, agent=agent, machine_id=machine_id, capabilities=capabilities,
                      status="idle", operator_confirm=False)  # fmt: skip
    session.add(machine)
    session.flush()
    return machine
