"""Which economic events a source event is: plain facts in, drafts of ledger rows out. No I/O.

An attempt (a job on one machine, from its start to its end) uses the machine for its hours, consumes
the filament it used, credits the operators who acted on it with work and, when it made the part,
produces the part: one produce per job, however many attempts it took. An assembly bench's attempt is
work at the build site. Publishing a design version is work by its publisher and maintainers, and
cites what it derives from. A purchase received is a transfer from its supplier to the build site.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from protocol.processes import ASSEMBLY


class Action(StrEnum):
    """The Valueflows actions the ledger records."""

    PRODUCE = "produce"
    CONSUME = "consume"
    USE = "use"
    WORK = "work"
    TRANSFER = "transfer"
    CITE = "cite"


class Unit(StrEnum):
    EACH = "each"
    GRAM = "g"
    HOUR = "hour"


COMMONS = "commons"  # the receiver of designs: everyone who may build them


def person(name: str) -> str:
    """The agent id of a person (an API token's name)."""
    return f"person:{name}"


def fablab(lab: str) -> str:
    return f"fablab:{lab}"


@dataclass(frozen=True)
class Draft:
    """One ledger row before it is written; `key` makes it unique to its source event."""

    key: str
    source_kind: str
    source_id: str
    action: Action
    provider: str
    receiver: str
    resource_kind: str
    resource: str
    quantity: float
    unit: Unit
    at: datetime
    begin: datetime | None = None
    end: datetime | None = None
    build_id: str | None = None
    job_id: str | None = None
    design: str | None = None
    design_version: str | None = None
    fablab: str | None = None
    machine_id: str | None = None
    spool_id: int | None = None
    note: str = ""


# ---- attempts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptFacts:
    """What the ledger needs of one ended attempt of a job that a machine started (or finished)."""

    attempt_id: str
    job_id: str
    state: str  # done, failed, cancelled, expired...
    fablab: str
    machine_id: str
    process: str
    started_at: datetime
    ended_at: datetime
    part: str  # the resource made: "design@version#part", or the job's file
    copies: int = 1
    design: str | None = None
    design_version: str | None = None
    build_id: str | None = None
    beneficiary: str = ""  # the agent the part is made for (who started the build); else the fablab
    operators: tuple[str, ...] = ()  # people who acted on the attempt (prepared, paused, failed it)
    material: str | None = None
    grams: float | None = None
    spool_id: int | None = None


def part_resource(design: str | None, version: str | None, part_id: str | None, file_sha256: str) -> str:
    """A part as a resource: its design version and part id, or the file a job was submitted with."""
    if design and part_id:
        return f"{design}@{version or 'latest'}#{part_id}"
    return f"file:{file_sha256}" if len(file_sha256) == 64 else file_sha256


def attempt_events(run: AttemptFacts) -> list[Draft]:
    """The events of an attempt: machine use, material, operators' work, and the part when it was made
    (keyed by the job, so a job produces its part once)."""
    hours = max(0.0, (run.ended_at - run.started_at).total_seconds() / 3600)
    lab, machine, key = fablab(run.fablab), f"{run.fablab}/{run.machine_id}", f"attempt:{run.attempt_id}"
    base = Draft(key=f"{key}:use", source_kind="attempt", source_id=run.attempt_id, action=Action.USE,
                 provider=lab, receiver=run.beneficiary or lab, resource_kind="machine", resource=machine,
                 quantity=round(hours, 4), unit=Unit.HOUR, at=run.ended_at, begin=run.started_at,
                 end=run.ended_at, build_id=run.build_id, job_id=run.job_id, design=run.design,
                 design_version=run.design_version, fablab=run.fablab, machine_id=run.machine_id,
                 note=f"{run.process} attempt, {run.state}")  # fmt: skip
    drafts = [base]
    if run.grams is not None and run.grams > 0:
        drafts.append(replace(base, key=f"{key}:consume", action=Action.CONSUME, resource_kind="material",
                              resource=run.material or "filament", quantity=round(run.grams, 2),
                              unit=Unit.GRAM, spool_id=run.spool_id, note=""))  # fmt: skip
    drafts += _work(run, base, hours)
    if run.state == "done":
        made = float(run.copies)
        drafts.append(replace(base, key=f"job:{run.job_id}:produce", action=Action.PRODUCE,
                              resource_kind="part", resource=run.part, quantity=made, unit=Unit.EACH,
                              note=""))  # fmt: skip
    return drafts


def _work(run: AttemptFacts, base: Draft, hours: float) -> list[Draft]:
    """Assembly is work for the bench's hours (by its operators, else by the fablab); at a machine, each
    operator who acted on the attempt is credited once."""
    key = f"attempt:{run.attempt_id}:work"
    if run.process == ASSEMBLY:
        workers = [person(name) for name in run.operators] or [fablab(run.fablab)]
        share = round(hours / len(workers), 4)
        return [replace(base, key=f"{key}:{who}", action=Action.WORK, provider=who, resource_kind="part",
                        resource=run.part, quantity=share, note="assembly") for who in workers]  # fmt: skip
    return [
        replace(base, key=f"{key}:{person(name)}", action=Action.WORK, provider=person(name), quantity=1.0,
                unit=Unit.EACH, note="operator's intervention")
        for name in run.operators
    ]  # fmt: skip


# ---- designs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishFacts:
    """A design version as it was published."""

    design: str
    version: str
    published_by: str
    at: datetime
    maintainers: tuple[str, ...] = ()
    lineage: dict[str, str] = field(default_factory=dict)  # derivative_of, variant_of: "slug@version"
    homepage: str = ""  # where an imported design came from


def publish_events(facts: PublishFacts) -> list[Draft]:
    """Work by the publisher and each maintainer; a citation of each design it derives from."""
    ref = f"{facts.design}@{facts.version}"
    base = Draft(key="", source_kind="publish", source_id=ref, action=Action.WORK, provider=COMMONS,
                 receiver=COMMONS, resource_kind="design", resource=ref, quantity=1.0, unit=Unit.EACH,
                 at=facts.at, design=facts.design, design_version=facts.version)  # fmt: skip
    people = [name for name in dict.fromkeys((facts.published_by, *facts.maintainers)) if name]
    drafts = [
        replace(base, key=f"publish:{ref}:work:{name}", provider=person(name),
                note="published" if name == facts.published_by else "maintains")
        for name in people
    ]  # fmt: skip
    cited = [(kind, source) for kind, source in sorted(facts.lineage.items()) if source]
    if facts.homepage:
        cited.append(("source", facts.homepage))
    provider = person(facts.published_by) if facts.published_by else COMMONS
    drafts += [
        replace(base, key=f"publish:{ref}:cite:{kind}", action=Action.CITE, provider=provider,
                resource=source, note=kind.replace("_", "-"))
        for kind, source in cited
    ]  # fmt: skip
    return drafts


# ---- purchases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseFacts:
    """A purchase line received at a build's site."""

    item_id: int
    build_id: str
    part_id: str
    name: str
    quantity: float
    unit: str
    site: str
    supplier: str
    at: datetime
    design: str | None = None
    design_version: str | None = None


def purchase_events(facts: PurchaseFacts) -> list[Draft]:
    """The parts move from their supplier to the build site."""
    unit = Unit.GRAM if facts.unit == "g" else Unit.EACH
    supplier = f"supplier:{facts.supplier}" if facts.supplier else "supplier:unknown"
    note = facts.name if facts.unit in ("g", "pcs", "each", "") else f"{facts.name} ({facts.unit})"
    resource = part_resource(facts.design, facts.design_version, facts.part_id, facts.part_id)
    return [
        Draft(key=f"purchase:{facts.item_id}:transfer", source_kind="purchase", source_id=str(facts.item_id),
              action=Action.TRANSFER, provider=supplier, receiver=fablab(facts.site),
              resource_kind="purchase", resource=resource, quantity=facts.quantity, unit=unit, at=facts.at,
              build_id=facts.build_id, design=facts.design, design_version=facts.design_version,
              fablab=facts.site, note=note)
    ]  # fmt: skip
