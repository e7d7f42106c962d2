"""The agent process: machines, journal, MQTT link and operator endpoint wired together."""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path
from typing import Any

from fablab_agents.config import AgentConfig
from fablab_agents.journal import Journal
from fablab_agents.link import MqttLink
from fablab_agents.machines import open_driver
from fablab_agents.operator import OperatorEndpoint
from fablab_agents.runner import MachineSlot
from protocol.errors import NotFound
from protocol.payloads import (
    AgentEnvelope,
    ConfirmClear,
    Heartbeat,
    JobControl,
    JobOffer,
    JobPrepared,
    JobRejected,
    MachineInfo,
    Reannounce,
)

log = logging.getLogger(__name__)

COMMAND_POLL_S = 0.1


class Agent:
    """One fablab agent; `start()` returns at once and the work happens on daemon threads."""

    def __init__(self, config: AgentConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self._commands: queue.Queue[Any] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = True
        self.journal: Journal | None = None
        self.link: MqttLink | None = None
        self.endpoint: OperatorEndpoint | None = None
        self.slots: dict[str, MachineSlot] = {}

    # ---- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Open the journal, restore the machines, and start the link, the endpoint and the timers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.data_dir / "journal.db", self.config.journal_max_entries)
        self._closed = False
        self._stopping.clear()
        try:
            self.slots = {m.id: self._slot(m) for m in self.config.machines}
        except BaseException:
            self._closed = True
            self.journal.close()
            raise
        saved = self.journal.load_machines()
        for machine_id, slot in self.slots.items():
            if machine_id in saved:
                slot.restore(saved[machine_id])
        self.endpoint = OperatorEndpoint(self.config.local_port, self._machines_json, self._confirm)
        self.endpoint.start()
        self._spawn(self._command_loop, "agent-commands")
        self._spawn(self._heartbeat_loop, "agent-heartbeat")
        self.link = MqttLink(self.config, self.journal, self._commands.put, self._birth_machines)
        self.link.start()

    def stop(self) -> None:
        """Clean shutdown: the broker gets a retained offline state from us, not from the will."""
        self._shutdown(kill=False)

    def kill(self) -> None:
        """Crash on purpose: drop the socket without DISCONNECT (the broker publishes the will)."""
        self._shutdown(kill=True)

    # ---- views and operator actions ----------------------------------------------------------

    @property
    def machines(self) -> dict[str, MachineInfo]:
        """Each machine's status, capabilities and current job."""
        return {machine_id: slot.info() for machine_id, slot in self.slots.items()}

    @property
    def ready(self) -> bool:
        """Connected, birth published, events flowing."""
        return self.link is not None and self.link.ready

    @property
    def local_url(self) -> str:
        return self.endpoint.url if self.endpoint else ""

    def confirm_clear(self, machine_id: str) -> bool:
        """The operator cleared the machine; False when it was not waiting for that."""
        slot = self.slots.get(machine_id)
        if slot is None:
            raise NotFound(f"no machine {machine_id!r} on agent {self.config.id}")
        return slot.confirm_clear()

    def emit(self, event: AgentEnvelope) -> None:
        """Journal an event (that is the send: the link picks it up when it can)."""
        if self._closed or self.journal is None:
            log.debug("agent closed, %s not journaled", getattr(event, "type", "event"))
            return
        self.journal.append(event)
        if self.link is not None:
            self.link.notify()

    # ---- internals ---------------------------------------------------------------------------

    def _slot(self, machine: Any) -> MachineSlot:
        assert self.journal is not None
        return MachineSlot(
            self.config,
            machine,
            open_driver(machine),
            self.data_dir / "files",
            self.emit,
            self.journal.save_machine,
        )

    def _shutdown(self, kill: bool) -> None:
        if self._closed:
            return
        self._stopping.set()
        if self.link is not None:
            self.link.kill() if kill else self.link.stop()
        for slot in self.slots.values():
            slot.detach()
        self._closed = True
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self.endpoint is not None:
            self.endpoint.stop()
        if self.journal is not None:
            self.journal.close()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _command_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                command = self._commands.get(timeout=COMMAND_POLL_S)
            except queue.Empty:
                continue
            try:
                self._handle(command)
            except Exception:  # one bad command must not stop the agent
                log.exception("command %s failed", getattr(command, "type", command))

    def _handle(self, command: Any) -> None:
        if isinstance(command, JobOffer):
            self._offer(command)
        elif isinstance(command, JobControl):
            slot = self._slot_for_attempt(command.attempt_id)
            if slot is not None:
                slot.control(command)
        elif isinstance(command, JobPrepared):
            slot = self._slot_for_attempt(command.attempt_id)
            if slot is not None:
                slot.prepared(command)
        elif isinstance(command, ConfirmClear):
            slot = self.slots.get(command.machine_id)
            if slot is not None and not slot.confirm_clear():
                log.info("confirm_clear for %s ignored: not waiting", command.machine_id)
        elif isinstance(command, Reannounce) and self.link is not None:
            self.link.request_rebirth()

    def _offer(self, offer: JobOffer) -> None:
        slot = self.slots.get(offer.machine_id)
        if slot is None:
            self.emit(
                JobRejected(
                    job_id=offer.job_id,
                    attempt_id=offer.attempt_id,
                    machine_id=offer.machine_id,
                    reason=f"no machine {offer.machine_id!r} on agent {self.config.id}",
                )
            )
            return
        slot.offer(offer)

    def _slot_for_attempt(self, attempt_id: str) -> MachineSlot | None:
        """The machine holding an attempt; for an unknown one, the first machine answers."""
        for slot in self.slots.values():
            if slot.holds(attempt_id):
                return slot
        return next(iter(self.slots.values()), None)

    def _heartbeat_loop(self) -> None:
        while not self._stopping.wait(self.config.heartbeat_s):
            # A heartbeat only speaks of the present: none is journaled while the link is down.
            if self.ready:
                jobs = tuple(job for slot in self.slots.values() if (job := slot.running()))
                self.emit(Heartbeat(jobs=jobs))

    def _birth_machines(self) -> tuple[MachineInfo, ...]:
        return tuple(slot.info() for slot in self.slots.values())

    def _machines_json(self) -> list[dict[str, Any]]:
        return [info.model_dump(mode="json") for info in self.machines.values()]

    def _confirm(self, machine_id: str) -> str:
        slot = self.slots.get(machine_id)
        if slot is None:
            return "unknown"
        return "cleared" if slot.confirm_clear() else "not_waiting"
