"""Agents speaking straight to a coordinator's bus, without a broker, for tests of the job domain's doors.

`BusAgent` sends what a real agent would (births, job events, statuses, heartbeats) as the MQTT
dispatcher hands them to the bus; `RecordingTransport` stands in for the dispatcher and keeps the
commands that would have gone to agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coordinator.jobs import lifecycle
from coordinator.jobs.bus import UnitOfWork
from coordinator.jobs.commands import COORDINATOR, AgentMessage, AgentMessages, DispatchRound, SubmitJobs
from coordinator.jobs.rows import Outgoing
from coordinator.jobs.submission import JobSpec, queue_jobs
from coordinator.models.jobs import new_id
from protocol import payloads as p

FDM = p.Capabilities(process="fdm_print", materials=("pla", "petg"), build_volume_mm=(200, 200, 180))


def machine_info(machine_id: str, status: str = "idle", **kwargs: Any) -> p.MachineInfo:
    """A machine as a birth lists it (an FDM printer unless `capabilities` says otherwise)."""
    kwargs.setdefault("capabilities", FDM)
    kwargs.setdefault("operator_confirm", False)
    return p.MachineInfo(id=machine_id, driver="simulated", status=status, **kwargs)  # type: ignore[arg-type]


@dataclass
class RecordingTransport:
    """Stands in for the MQTT dispatcher: records what would go to agents."""

    sent: list[Outgoing] = field(default_factory=list)
    wakes: int = 0
    replans: int = 0

    def send(self, commands: list[Outgoing], reannounce: dict[tuple[str, str], str]) -> None:
        self.sent += commands
        self.sent += [Outgoing(f, a, p.Reannounce(reason=why)) for (f, a), why in reannounce.items()]

    def wake(self) -> None:
        self.wakes += 1

    def replan(self) -> None:
        self.replans += 1

    def commands(self, kind: type[Any], agent: str | None = None) -> list[Any]:
        return [o.command for o in self.sent if isinstance(o.command, kind) and agent in (None, o.agent)]


def attach_transport(runtime: Any) -> RecordingTransport:
    transport = RecordingTransport()
    runtime.outbox.transport = transport
    return transport


class BusAgent:
    """One agent's messages, numbered as its link would number them, handed to the bus."""

    def __init__(
        self, runtime: Any, fablab: str = "fablab-a", agent: str = "agent-1", boot_seq: int = 1
    ) -> None:
        self.runtime, self.fablab, self.agent = runtime, fablab, agent
        self.boot_seq, self.seq = boot_seq, 0

    def birth(self, *machines: p.MachineInfo, jobs: dict[str, p.MachineJob] | None = None) -> Any:
        """Come online (a new boot) with these machines; `jobs` maps a machine id to its job."""
        self.boot_seq += 1
        self.seq = 0
        listed = tuple(m.model_copy(update={"job": (jobs or {}).get(m.id)}) for m in machines)
        state = p.AgentState(fablab=self.fablab, agent=self.agent, online=True, software="test",
                             boot_seq=self.boot_seq, seq=0, machines=listed)  # fmt: skip
        return self._hand("state", state)

    def death(self) -> Any:
        state = p.AgentState(fablab=self.fablab, agent=self.agent, online=False, boot_seq=self.boot_seq)
        return self._hand("state", state)

    def send(self, event_type: type[Any], **fields: Any) -> Any:
        """The next event of this agent's sequence."""
        self.seq += 1
        return self._hand("events", event_type(boot_seq=self.boot_seq, seq=self.seq, **fields))

    def job_event(self, event_type: type[Any], offer: p.JobOffer, **fields: Any) -> Any:
        ids = {"job_id": offer.job_id, "attempt_id": offer.attempt_id, "machine_id": offer.machine_id}
        return self.send(event_type, **ids, **fields)

    def _hand(self, channel: str, message: Any) -> Any:
        return self.runtime.bus.handle(
            AgentMessages((AgentMessage(self.fablab, self.agent, channel, message),))
        )


def submit(runtime: Any, quantity: int = 1, **spec: Any) -> list[str]:
    fields: dict[str, Any] = {"file_sha256": "a" * 64, "file_name": "part.gcode", "process": "fdm_print"}
    fields.update(spec)
    return list(runtime.bus.handle(SubmitJobs(JobSpec(**fields), quantity, COORDINATOR)))


def offers_after_round(runtime: Any, transport: RecordingTransport) -> list[p.JobOffer]:
    """Run a dispatch round; the offers it sent."""
    before = len(transport.sent)
    runtime.bus.handle(DispatchRound())
    return [o.command for o in transport.sent[before:] if isinstance(o.command, p.JobOffer)]


def offer_to(
    runtime: Any, job_id: str, fablab: str, agent: str, machine_id: str, lease_s: float = 600
) -> p.JobOffer:
    """Offer one job to one machine as a dispatch round would, without asking the policy."""
    return runtime.bus.run(lambda uow: _offer(uow, job_id, fablab, machine_id, lease_s))  # type: ignore[no-any-return]


def _offer(uow: UnitOfWork, job_id: str, fablab: str, machine_id: str, lease_s: float) -> p.JobOffer:
    job = uow.store.jobs([job_id])[job_id]
    machine = uow.store.machines([(fablab, machine_id)])[(fablab, machine_id)]
    offer = p.JobOffer(job_id=job_id, attempt_id=new_id(), machine_id=machine_id, lease_s=lease_s)
    decision = lifecycle.offer(job, machine, attempt_id=offer.attempt_id, lease_s=lease_s, now=uow.now(),
                               command=offer)  # fmt: skip
    assert decision.outcome == "applied", f"job {job_id} is {job.state}: it cannot be offered"
    uow.apply(decision)
    return offer


def running_job(
    runtime: Any, agent: BusAgent, machine_id: str, progress: float = 0.4, eta_s: float = 1800.0, **spec: Any
) -> tuple[str, p.JobOffer]:
    """A new job offered to `machine_id` and running there at `progress`; its id and offer.

    It is submitted and offered in one unit of work, so a dispatcher running beside the test cannot
    give it to another machine first.
    """
    fields: dict[str, Any] = {"file_sha256": "a" * 64, "file_name": "part.gcode", "process": "fdm_print"}
    fields.update(spec)

    def work(uow: UnitOfWork) -> p.JobOffer:
        (job_id,) = queue_jobs(uow, JobSpec(**fields), 1, "test")
        return _offer(uow, job_id, agent.fablab, machine_id, 600)

    offer: p.JobOffer = runtime.bus.run(work)
    agent.job_event(p.JobAccepted, offer)
    agent.job_event(p.JobProgress, offer, progress=progress, eta_s=eta_s)
    return offer.job_id, offer
