"""The fablab network as planning sees it: machines with capabilities, places, hours, transport."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from coordinator.bom.text import check_name
from coordinator.fablab.statistics import measured_speeds
from coordinator.importers import okw
from coordinator.models.builds import FablabProfile
from coordinator.models.jobs import AgentLink, Fablab, Machine
from coordinator.planning.matching import MachineView
from coordinator.planning.network import parse_opening_hours, start_calendar, transport_table
from coordinator.planning.problem import Network
from protocol.errors import InvalidInput, NotFound
from protocol.topics import validate_id

MACHINE_KEY_SEPARATOR = "/"


def machine_key(fablab: str, machine_id: str) -> str:
    return f"{fablab}{MACHINE_KEY_SEPARATOR}{machine_id}"


def split_machine_key(key: str) -> tuple[str, str]:
    fablab, _, machine_id = key.partition(MACHINE_KEY_SEPARATOR)
    return fablab, machine_id


def _view(machine: Machine, online: bool) -> MachineView:
    return view_from_capabilities(machine.fablab, machine.machine_id, machine.capabilities or {}, online)


def view_from_capabilities(
    fablab: str, machine_id: str, caps: dict[str, Any], online: bool = True
) -> MachineView:
    """A machine as matching sees it, from the capabilities its agent announced."""
    volume = caps.get("build_volume_mm") or (0, 0, 0)
    return MachineView(
        key=machine_key(fablab, machine_id),
        fablab=fablab,
        process=str(caps.get("process", "")),
        materials=tuple(str(m).lower() for m in caps.get("materials") or ()),
        build_volume_mm=(float(volume[0]), float(volume[1]), float(volume[2])),
        nozzle_mm=caps.get("nozzle_mm"),
        tolerance_mm=caps.get("tolerance_mm"),
        speed_factor=float(caps.get("speed_factor") or 1.0),
        online=online,
    )


# a machine in one of these states takes no work, whatever its agent says
_DOWN_STATUSES = frozenset({"offline", "error"})


def machine_views(session: Session, *, include_offline: bool = False) -> list[MachineView]:
    """Every known machine (online ones only unless asked), minus fablabs that take no build work,
    with its loaded spool and maintenance hold (a held machine is matched, and says why it cannot)."""
    from coordinator.fablab.conditions import machine_conditions, with_condition

    online_agents = _online_agents(session)
    refusing = _refusing_fablabs(session)
    conditions = machine_conditions(session)
    views = []
    for machine in session.exec(select(Machine).order_by(Machine.fablab, Machine.machine_id)):  # type: ignore[arg-type]
        online = _takes_work(machine.fablab, machine.agent, machine.status, online_agents)
        if machine.fablab not in refusing and (online or include_offline):
            condition = conditions.get((machine.fablab, machine.machine_id))
            views.append(with_condition(_view(machine, online), condition))
    return views


def online_machine_keys(session: Session) -> frozenset[str]:
    """Keys of the machines that take work now, read from key columns only (no capabilities): online,
    in a fablab that takes build work, not held for maintenance."""
    from coordinator.fablab.maintenance import held_machines

    online_agents = _online_agents(session)
    refusing = _refusing_fablabs(session)
    held = held_machines(session)
    rows = session.exec(select(Machine.fablab, Machine.machine_id, Machine.agent, Machine.status)).all()
    return frozenset(
        machine_key(fablab, machine_id)
        for fablab, machine_id, agent, status in rows
        if _takes_work(fablab, agent, status, online_agents)
        and fablab not in refusing
        and (fablab, machine_id) not in held
    )


def _takes_work(fablab: str, agent: str, status: str, online_agents: set[tuple[str, str]]) -> bool:
    """Online: its agent is connected and the machine is neither offline nor in error."""
    return (fablab, agent) in online_agents and status not in _DOWN_STATUSES


def _online_agents(session: Session) -> set[tuple[str, str]]:
    query = select(AgentLink.fablab, AgentLink.agent).where(col(AgentLink.online).is_(True))
    return {(fablab, agent) for fablab, agent in session.exec(query).all()}


def _refusing_fablabs(session: Session) -> set[str]:
    return set(session.exec(select(FablabProfile.fablab).where(FablabProfile.accepts == "none")).all())


def network(session: Session, origin: datetime, sites: Sequence[str]) -> Network:
    """Machines (with their measured speed factors), start calendars and transport times for a plan made
    at `origin`."""
    profiles = {p.fablab: p for p in session.exec(select(FablabProfile))}
    fablabs = {f.id for f in session.exec(select(Fablab))} | set(profiles) | set(sites)
    places = {f: _place(profiles.get(f)) for f in fablabs}
    calendars = {}
    for fablab, profile in profiles.items():
        calendar = start_calendar(profile.opening_hours, origin, profile.timezone_offset_min)
        if calendar is not None:
            calendars[fablab] = calendar
    return Network(
        machines=machine_views(session),
        transport_minutes=transport_table(places, list(sites)),
        calendars=calendars,
        measured_speeds=measured_speeds(session),
    )


def _place(profile: FablabProfile | None) -> tuple[float, float] | None:
    if profile is None or profile.latitude is None or profile.longitude is None:
        return None
    return (profile.latitude, profile.longitude)


def set_profile(
    session: Session, fablab: str, data: dict[str, Any], *, register: bool = False
) -> FablabProfile:
    """Create or update a fablab's place, opening hours and work policy, for a known fablab only: the
    fields in `data` are set, the others keep their values (their defaults on a new profile).

    `register` makes the fablab known first: for local set-ups (the demo) that describe fablabs
    before their agents connect; the API never does.
    """
    if register and session.get(Fablab, fablab) is None:
        session.add(Fablab(id=fablab, name=str(data.get("name", ""))))
        session.flush()
    if session.get(Fablab, fablab) is None:
        raise NotFound(f"no fablab {fablab!r} is known; it becomes known when one of its agents connects")
    check_name(str(data.get("name", "")), "fablab name")
    parse_opening_hours(data.get("opening_hours") or {})
    if data.get("accepts", "all") not in {"all", "none"}:
        raise InvalidInput("accepts must be 'all' or 'none'")
    profile = session.get(FablabProfile, fablab) or FablabProfile(fablab=fablab)
    for key, value in data.items():
        setattr(profile, key, value)
    session.add(profile)
    session.flush()
    return profile


def get_profile(session: Session, fablab: str) -> FablabProfile:
    profile = session.get(FablabProfile, fablab)
    if profile is None:
        raise NotFound(f"fablab {fablab!r} has no profile")
    return profile


# ---- Open Know-Where ----------------------------------------------------------------------------

_EQUIPMENT_KEYS = ("process", "make", "model", "materials", "build_volume_mm", "nozzle_mm", "speed_factor",
                   "tolerance_mm")  # fmt: skip


def okw_record(session: Session, fablab: str) -> dict[str, Any]:
    """A fablab as an Open Know-Where facility: its profile, declared equipment and agents' machines."""
    profile = session.get(FablabProfile, fablab)
    known = require_known_fablab(session, fablab)
    machines = list(session.exec(select(Machine).where(Machine.fablab == fablab)))
    data = profile.model_dump() if profile else {"fablab": fablab, "name": known.name if known else ""}
    announced = {m.machine_id: machine_equipment(m) for m in machines}
    declared = [e for e in (profile.equipment if profile else []) if e.get("id") not in announced]
    return okw.facility(data, [*declared, *announced.values()])


def okw_records(session: Session, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """The fablabs the coordinator knows, by id, as OKW facilities (a page of them when `limit` is given)."""
    ids = sorted(known_fablabs(session))
    page = ids[offset:] if limit is None else ids[offset : offset + limit]
    return [okw_record(session, fablab) for fablab in page]


def require_known_fablab(session: Session, fablab: str) -> Fablab | None:
    """The fablab's agent link row (None for one known by its profile only); NotFound for neither."""
    known = session.get(Fablab, validate_id(fablab, "fablab id"))
    if known is None and session.get(FablabProfile, fablab) is None:
        raise NotFound(f"no fablab {fablab!r}")
    return known


def known_fablabs(session: Session) -> set[str]:
    """Every fablab id with an agent link or a profile."""
    return set(session.exec(select(Fablab.id))) | set(session.exec(select(FablabProfile.fablab)))


def machine_equipment(machine: Machine) -> dict[str, Any]:
    """A machine an agent announced, as an equipment entry of a profile."""
    caps = machine.capabilities or {}
    return {"id": machine.machine_id, **{k: caps[k] for k in _EQUIPMENT_KEYS if caps.get(k) is not None}}


def set_from_okw(
    session: Session, fablab: str, record: dict[str, Any], *, register: bool = False
) -> tuple[FablabProfile, list[str]]:
    """Create or update a fablab's profile from an OKW facility; return it and what could not be read.

    `register` makes a fablab no agent has connected from known (a lab another network publishes).
    """
    data, warnings = okw.read_facility(record, f"OKW facility for {fablab}")
    return set_profile(session, fablab, data, register=register), warnings
