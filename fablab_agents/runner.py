"""One machine of the agent: takes offers, prepares and runs jobs, waits for the operator afterwards.

Nothing reaches the machine before the file's sha256 and its G-code safety check have passed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fablab_agents.config import AgentConfig, MachineConfig
from fablab_agents.downloads import DownloadError, fetch
from fablab_agents.machines import Driver, DriverEvents, Outcome, check_file
from protocol.payloads import (
    MAX_REASON,
    AgentEnvelope,
    HeartbeatJob,
    JobAccepted,
    JobCancelled,
    JobControl,
    JobDone,
    JobFailed,
    JobOffer,
    JobPaused,
    JobProgress,
    JobRejected,
    JobResumed,
    MachineInfo,
    MachineJob,
    MachineStatus,
    MachineStatusEvent,
)

log = logging.getLogger(__name__)

Emit = Callable[[AgentEnvelope], None]
Persist = Callable[[str, dict[str, Any]], None]
DriverCall = Callable[[], None]
REMEMBERED_ATTEMPTS = 200
MAX_PROBLEMS_IN_REASON = 5
MAX_WARNINGS = 50
WAITING_REASON = "bed not clear: remove the part, then confirm"


class Refused(Exception):
    """An offer this machine will not run; the message is the reason sent to the coordinator."""


@dataclass
class ActiveJob:
    """The agent's view of the job on a machine."""

    job_id: str
    attempt_id: str
    state: str  # preparing, running, paused, done, failed, cancelled
    progress: float = 0.0
    eta_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    reported_progress: float = 0.0
    reported_at: float = field(default_factory=time.monotonic)


class MachineSlot:
    """Serialises everything that happens to one machine behind one lock."""

    def __init__(
        self,
        agent: AgentConfig,
        machine: MachineConfig,
        driver: Driver,
        files_dir: Path,
        emit: Emit,
        persist: Persist,
    ) -> None:
        self.agent = agent
        self.machine = machine
        self.driver = driver
        self.files_dir = files_dir
        self._emit = emit
        self._persist = persist
        self._lock = threading.RLock()
        self.status: MachineStatus = MachineStatus.IDLE
        self.detail = ""
        self._warnings: list[str] = []
        self.job: ActiveJob | None = None
        self._answers: OrderedDict[str, AgentEnvelope] = OrderedDict()
        self._detached = False

    @property
    def id(self) -> str:
        return self.machine.id

    # ---- views -------------------------------------------------------------------------------

    def info(self) -> MachineInfo:
        """The machine as the birth message describes it."""
        with self._lock:
            job = self.job
            return MachineInfo(
                id=self.id,
                driver=self.machine.driver,
                status=self.status,
                capabilities=self.machine.capabilities,
                operator_confirm=self.machine.operator_confirm,
                job=MachineJob(
                    job_id=job.job_id,
                    attempt_id=job.attempt_id,
                    state=job.state,
                    progress=job.progress,
                )
                if job
                else None,
            )

    def running(self) -> HeartbeatJob | None:
        with self._lock:
            if self.job is None or self.job.state not in ("preparing", "running", "paused"):
                return None
            return HeartbeatJob(
                job_id=self.job.job_id, attempt_id=self.job.attempt_id, progress=self.job.progress
            )

    def holds(self, attempt_id: str) -> bool:
        with self._lock:
            return bool(self.job and self.job.attempt_id == attempt_id) or attempt_id in self._answers

    # ---- commands ----------------------------------------------------------------------------

    def offer(self, offer: JobOffer) -> None:
        """Answer an offer: repeat the known answer, refuse at once, or prepare it in the background."""
        with self._lock:
            if self._repeat_answer(offer.attempt_id):
                return
            if self.status != MachineStatus.IDLE:
                self._reject(offer, f"machine {self.id} is {self.status.value.replace('_', ' ')}")
                return
            if offer.file is None:
                self._reject(offer, "the offer names no file")
                return
            self.job = ActiveJob(offer.job_id, offer.attempt_id, "preparing", eta_s=offer.estimated_s)
            self._warnings = []
            self._set_status(MachineStatus.PREPARING, f"job {offer.job_id[:8]}")
        threading.Thread(target=self._prepare, args=(offer,), name=f"prepare-{self.id}", daemon=True).start()

    def control(self, command: JobControl) -> None:
        """Cancel, pause or resume the job of `command.attempt_id`."""
        with self._lock:
            current = self.job is not None and self.job.attempt_id == command.attempt_id
            if command.type == "job:cancel":
                action = self._cancel(command) if current else self._cancelled_anyway(command)
            elif current and command.type == "job:pause":
                action = self._pause()
            elif current and command.type == "job:resume":
                action = self._resume()
            else:
                log.info("%s for attempt %s ignored on %s", command.type, command.attempt_id, self.id)
                action = None
        # Outside the lock: a driver may report back from its own thread while it stops.
        if action is not None:
            action()

    def confirm_clear(self) -> bool:
        """The operator says the machine is ready again; False when it was not waiting."""
        with self._lock:
            if self.status != MachineStatus.WAITING_OPERATOR:
                return False
            self.job = None
            self._set_status(MachineStatus.IDLE, "cleared by operator")
            return True

    def detach(self) -> None:
        """Stop the machine's driver for a shutdown; the job stays recorded as it was."""
        with self._lock:
            self._detached = True
            active = self.job is not None and self.job.state in ("running", "paused")
        if active:
            self.driver.cancel()

    def restore(self, record: dict[str, Any]) -> None:
        """Take back the state saved before a restart; an interrupted job is reported failed."""
        with self._lock:
            job = record.get("job")
            self.job = ActiveJob(**{k: v for k, v in job.items() if k in _RESTORED}) if job else None
            self.status = _saved_status(record.get("status"))
            if self.job and self.job.state in ("preparing", "running", "paused"):
                self._end_job("failed", "the agent restarted while the job was running")
            elif self.status not in (MachineStatus.IDLE, MachineStatus.WAITING_OPERATOR):
                self._set_status(MachineStatus.IDLE, "the agent restarted")

    # ---- offer preparation (own thread) ------------------------------------------------------

    def _prepare(self, offer: JobOffer) -> None:
        try:
            path = self._verified_file(offer)
        except (Refused, DownloadError) as exc:
            self._give_back(offer, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 -- a job that cannot be prepared must not hold the machine
            log.exception("preparing job %s on %s failed", offer.job_id, self.id)
            self._give_back(offer, f"could not prepare the job: {exc}")
            return
        with self._lock:
            if self._detached or not self._still_current(offer):
                return
            assert self.job is not None
            self.job.state = "running"
            self.job.started = time.monotonic()
            self._remember(JobAccepted(**self._ids(offer), eta_s=offer.estimated_s))
            self._set_status(MachineStatus.RUNNING, f"job {offer.job_id[:8]}")
        self._start_driver(offer, path)

    def _give_back(self, offer: JobOffer, reason: str) -> None:
        """Reject an offer the machine will not run, and free the machine for the next."""
        with self._lock:
            if self._still_current(offer):
                self.job = None
                self._reject(offer, reason)
                self._set_status(MachineStatus.IDLE, "offer rejected")

    def _verified_file(self, offer: JobOffer) -> Path:
        assert offer.file is not None
        path = fetch(
            offer.file,
            self.files_dir,
            max_bytes=int(self.agent.download_max_mb * 1024 * 1024),
            timeout_s=self.agent.download_timeout_s,
            token=self.agent.token,
        )
        problems = check_file(path, self.machine)
        if problems:
            shown = "; ".join(problems[:MAX_PROBLEMS_IN_REASON])
            more = len(problems) - MAX_PROBLEMS_IN_REASON
            suffix = f"; and {more} more" if more > 0 else ""
            raise Refused(f"G-code safety check failed: {shown}{suffix}")
        return path

    def _start_driver(self, offer: JobOffer, path: Path) -> None:
        try:
            self.driver.start(path, self._driver_events(offer), estimated_s=offer.estimated_s)
        except Exception as exc:  # a driver that cannot start fails the job, not the agent
            log.exception("driver of %s could not start", self.id)
            with self._lock:
                if self._still_current(offer):
                    self._end_job("failed", f"machine could not start: {exc}")

    def _still_current(self, offer: JobOffer) -> bool:
        return self.job is not None and self.job.attempt_id == offer.attempt_id

    # ---- driver callbacks (driver threads) ---------------------------------------------------

    def _driver_events(self, offer: JobOffer) -> DriverEvents:
        """What the driver reports, for this offer's attempt only (a late report of another is ignored)."""

        def current(act: Callable[..., None]) -> Callable[..., None]:
            def guarded(*args: Any) -> None:
                with self._lock:
                    if self._still_current(offer) and not self._detached:
                        act(*args)

            return guarded

        return DriverEvents(
            progress=current(lambda fraction, eta: self._progress(min(max(fraction, 0.0), 1.0), eta)),
            paused=current(self._paused),
            resumed=current(self._resumed),
            warning=current(self._warning),
            done=current(self._ended),
        )

    def _ended(self, outcome: Outcome, reason: str) -> None:
        if self.job and self.job.state in ("running", "paused"):
            self._end_job(outcome, reason)

    def _paused(self) -> None:
        """The machine has stopped where it was: the job is paused, not ended."""
        if self.job is not None and self.job.state == "running":
            self.job.state = "paused"
            self._remember(JobPaused(**self._job_ids()))
            self._set_status(MachineStatus.PAUSED, "paused")

    def _resumed(self) -> None:
        if self.job is not None and self.job.state == "paused":
            self.job.state = "running"
            self._remember(JobResumed(**self._job_ids()))
            self._set_status(MachineStatus.RUNNING, "resumed")

    def _warning(self, message: str) -> None:
        if len(self._warnings) < MAX_WARNINGS:
            self._warnings.append(message[:MAX_REASON])

    def _progress(self, fraction: float, eta_s: float | None) -> None:
        job = self.job
        assert job is not None
        job.progress, job.eta_s = fraction, eta_s
        now = time.monotonic()
        step_reached = fraction - job.reported_progress >= self.agent.progress_step
        if step_reached or now - job.reported_at >= self.agent.progress_interval_s:
            job.reported_progress, job.reported_at = fraction, now
            self._emit(JobProgress(**self._job_ids(), progress=fraction, eta_s=eta_s))

    # ---- transitions (lock held) -------------------------------------------------------------

    def _end_job(self, outcome: Outcome, reason: str) -> None:
        job = self.job
        assert job is not None
        job.state = outcome
        warnings = tuple(self._warnings)
        if outcome == "done":
            job.progress = 1.0
            duration = time.monotonic() - job.started
            self._remember(JobDone(**self._job_ids(), duration_s=round(duration, 3), warnings=warnings))
        elif outcome == "cancelled":
            self._remember(JobCancelled(**self._job_ids()))
        else:
            failure = (reason or "machine failure")[:MAX_REASON]
            self._remember(JobFailed(**self._job_ids(), reason=failure, warnings=warnings))
        self._after_job()

    def _after_job(self) -> None:
        if self.machine.operator_confirm:
            self._set_status(MachineStatus.WAITING_OPERATOR, WAITING_REASON)
        else:
            self.job = None
            self._set_status(MachineStatus.IDLE, "job ended")

    def _cancel(self, command: JobControl) -> DriverCall | None:
        job = self.job
        assert job is not None
        if job.state in ("done", "failed", "cancelled"):
            return self._cancelled_anyway(command)
        was_running = job.state in ("running", "paused")
        job.state = "cancelled"
        self._remember(JobCancelled(**self._job_ids()))
        if not was_running:
            self.job = None
            self._set_status(MachineStatus.IDLE, "cancelled before it started")
            return None
        self._after_job()
        return self.driver.cancel

    def _cancelled_anyway(self, command: JobControl) -> DriverCall | None:
        """Cancelling what is not running is already done: say so (the protocol wants an answer)."""
        known = self._answers.get(command.attempt_id)
        job_id = getattr(known, "job_id", command.job_id)
        self._emit(JobCancelled(job_id=job_id, attempt_id=command.attempt_id, machine_id=self.id))
        return None

    def _pause(self) -> DriverCall | None:
        """Ask the machine to pause; the job is paused when the machine says it stopped."""
        if self.job is None or self.job.state != "running":
            return None
        return self.driver.pause

    def _resume(self) -> DriverCall | None:
        if self.job is None or self.job.state != "paused":
            return None
        return self.driver.resume

    def _reject(self, offer: JobOffer, reason: str) -> None:
        log.info("offer %s for %s rejected: %s", offer.attempt_id, self.id, reason)
        self._remember(JobRejected(**self._ids(offer), reason=reason))

    def _repeat_answer(self, attempt_id: str) -> bool:
        """An offer seen before: say again where it stands (a fresh msg_id, same content)."""
        answer = self._answers.get(attempt_id)
        if answer is not None:
            self._emit(answer.model_copy(update={"msg_id": _fresh_id()}))
            return True
        return bool(self.job and self.job.attempt_id == attempt_id)

    def _remember(self, event: AgentEnvelope) -> None:
        attempt_id = getattr(event, "attempt_id", "")
        self._answers[attempt_id] = event
        self._answers.move_to_end(attempt_id)
        while len(self._answers) > REMEMBERED_ATTEMPTS:
            self._answers.popitem(last=False)
        self._emit(event)

    def _set_status(self, status: MachineStatus, detail: str = "") -> None:
        """Change the machine's status and tell the coordinator (every change, at once)."""
        changed = status != self.status
        self.status, self.detail = status, detail
        self._save()
        if changed:
            self._emit(MachineStatusEvent(machine_id=self.id, status=status, detail=detail[:MAX_REASON]))

    def _save(self) -> None:
        job = asdict(self.job) if self.job else None
        if job:
            job = {k: v for k, v in job.items() if k in _RESTORED}
        self._persist(self.id, {"status": self.status.value, "job": job})

    def _ids(self, offer: JobOffer) -> dict[str, str]:
        return {"job_id": offer.job_id, "attempt_id": offer.attempt_id, "machine_id": self.id}

    def _job_ids(self) -> dict[str, str]:
        assert self.job is not None
        return {"job_id": self.job.job_id, "attempt_id": self.job.attempt_id, "machine_id": self.id}


_RESTORED = ("job_id", "attempt_id", "state", "progress", "eta_s")


def _saved_status(value: Any) -> MachineStatus:
    """A status saved before a restart (an older agent saved "busy" for a machine at work)."""
    try:
        return MachineStatus("running" if value == "busy" else value)
    except ValueError:
        return MachineStatus.IDLE


def _fresh_id() -> str:
    return uuid.uuid4().hex
