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
from fablab_agents.downloads import DownloadError
from fablab_agents.jobfiles import JobFiles, Ready, Refused
from fablab_agents.machines import Driver, DriverEvents, Outcome
from fablab_agents.prepare import NeedsOperator, PreparationError
from fablab_agents.prepare.slicing import grams_per_mm
from protocol.payloads import (
    MAX_REASON,
    AgentEnvelope,
    Estimates,
    HeartbeatJob,
    JobAccepted,
    JobCancelled,
    JobControl,
    JobDone,
    JobFailed,
    JobNeedsPreparation,
    JobOffer,
    JobPaused,
    JobPrepared,
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
# job states in which the machine holds the attempt (its heartbeat keeps the lease)
_LIVE = frozenset({"preparing", "needs_preparation", "running", "paused"})
Persist = Callable[[str, dict[str, Any]], None]
DriverCall = Callable[[], None]
REMEMBERED_ATTEMPTS = 200
MAX_WARNINGS = 50
WAITING_REASON = "bed not clear: remove the part, then confirm"


@dataclass
class ActiveJob:
    """The agent's view of the job on a machine."""

    job_id: str
    attempt_id: str
    state: str  # preparing, needs_preparation, running, paused, done, failed, cancelled
    progress: float = 0.0
    eta_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    reported_progress: float = 0.0
    reported_at: float = field(default_factory=time.monotonic)
    file_name: str = ""  # the file the machine runs (a host knows its job by this name)
    cancelling: bool = False  # asked to stop; the outcome comes from the machine once it has
    material: str = ""  # what the job asks to be made of
    grams_per_mm: float | None = None  # of the job's filament: the slicer's figure, else the material's
    filament_used_g: float | None = None  # what the machine measured, when it measures it


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
        self.files = JobFiles(agent, machine, files_dir)
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
            if self.job is None or self.job.state not in _LIVE:
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
            material = str(offer.requirements.get("material") or "")
            self.job = ActiveJob(offer.job_id, offer.attempt_id, "preparing", eta_s=offer.estimated_s,
                                 material=material)  # fmt: skip
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

    def prepared(self, command: JobPrepared) -> None:
        """An operator made the machine file of the job that waits for it: check it and run it."""
        with self._lock:
            if self.job is None or self.job.attempt_id != command.attempt_id:
                log.info("job:prepared for attempt %s ignored on %s", command.attempt_id, self.id)
                return
            if self.job.state != "needs_preparation":
                return  # a repeated command: the file is on its way already
            self.job.state = "preparing"
            self._set_status(MachineStatus.PREPARING, f"job {command.job_id[:8]}: the operator's file")
        work = self._run_prepared
        threading.Thread(target=work, args=(command,), name=f"prepared-{self.id}", daemon=True).start()

    def confirm_clear(self) -> bool:
        """The operator says the machine is ready again; False when it was not waiting."""
        with self._lock:
            if self.status != MachineStatus.WAITING_OPERATOR:
                return False
            self.job = None
            self._set_status(MachineStatus.IDLE, "cleared by operator")
            return True

    def detach(self) -> None:
        """The agent shuts down: the driver lets the job go (a host goes on printing); its record stays."""
        with self._lock:
            self._detached = True
            active = self.job is not None and self.job.state in ("running", "paused")
        if active:
            self.driver.release()

    def restore(self, record: dict[str, Any]) -> None:
        """Take back the state saved before a restart: a job a host kept printing is watched again,
        one waiting for its operator's file keeps waiting, any other interrupted job is reported failed."""
        with self._lock:
            job = record.get("job")
            self.job = ActiveJob(**{k: v for k, v in job.items() if k in _RESTORED}) if job else None
            self.status = _saved_status(record.get("status"))
            if self.job and self.job.state in ("running", "paused") and self._reattached(self.job):
                return
            if self.job and self.job.state in ("preparing", "running", "paused"):
                self._end_job("failed", "the agent restarted while the job was running")
            elif self.job and self.job.state == "needs_preparation":
                return
            elif self.status not in (MachineStatus.IDLE, MachineStatus.WAITING_OPERATOR):
                self._set_status(MachineStatus.IDLE, "the agent restarted")

    def _reattached(self, job: ActiveJob) -> bool:
        """Whether the machine still runs the job (a host that printed on while the agent was away)."""
        try:
            found = self.driver.reattach(job.file_name, self._driver_events(job.attempt_id))
        except Exception:  # noqa: BLE001 -- a host that cannot be asked is treated as not printing
            log.exception("could not ask %s whether job %s still runs", self.id, job.job_id)
            return False
        if found:
            log.info("job %s still runs on %s after the restart; watching it again", job.job_id, self.id)
        return found

    # ---- preparation (own thread) -------------------------------------------------------------

    def _prepare(self, offer: JobOffer) -> None:
        try:
            ready = self.files.for_offer(offer)
        except NeedsOperator as exc:
            self._needs_operator(offer.attempt_id, str(exc))
            return
        except (Refused, DownloadError, PreparationError) as exc:
            self._give_back(offer, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 -- a job that cannot be prepared must not hold the machine
            log.exception("preparing job %s on %s failed", offer.job_id, self.id)
            self._give_back(offer, f"could not prepare the job: {exc}")
            return
        self._begin(offer.attempt_id, ready, offer.estimated_s)

    def _run_prepared(self, command: JobPrepared) -> None:
        try:
            ready = self.files.for_prepared(command)
        except (Refused, DownloadError, PreparationError) as exc:
            self._needs_operator(
                command.attempt_id, f"the file given ({command.file.name}) cannot run: {exc}"
            )
            return
        except Exception as exc:  # noqa: BLE001 -- the operator can give another file
            log.exception("the prepared file of job %s on %s failed", command.job_id, self.id)
            self._needs_operator(command.attempt_id, f"the file given could not be used: {exc}")
            return
        self._begin(command.attempt_id, ready, None)

    def _begin(self, attempt_id: str, ready: Ready, estimated_s: float | None) -> None:
        """The file is ready and safe: accept the job, say what the preparation expects, start the machine."""
        with self._lock:
            if self._detached or not self._current(attempt_id):
                return
            job = self.job
            assert job is not None
            job.state, job.started, job.file_name = "running", time.monotonic(), ready.path.name
            job.grams_per_mm = _grams_per_mm(ready.estimates, job.material)
            self._warnings = list(ready.warnings)
            eta = (
                ready.estimates.duration_s if ready.estimates and ready.estimates.duration_s else estimated_s
            )
            self._remember(JobAccepted(**self._job_ids(), eta_s=eta, estimates=ready.estimates))
            self._set_status(MachineStatus.RUNNING, f"job {job.job_id[:8]}")
            # under the lock: a cancel, pause or resume reaches the driver once it runs the job
            self._start_driver(attempt_id, ready.path, estimated_s)

    def _needs_operator(self, attempt_id: str, reason: str) -> None:
        """The machine cannot prepare the file itself: it waits for a person to give it its file."""
        with self._lock:
            if self._detached or not self._current(attempt_id):
                return
            assert self.job is not None
            self.job.state = "needs_preparation"
            self._remember(JobNeedsPreparation(**self._job_ids(), reason=reason[:MAX_REASON]))
            self._set_status(MachineStatus.WAITING_OPERATOR, "needs preparation: " + reason)

    def _give_back(self, offer: JobOffer, reason: str) -> None:
        """Reject an offer the machine will not run, and free the machine for the next."""
        with self._lock:
            if self._current(offer.attempt_id):
                self.job = None
                self._reject(offer, reason)
                self._set_status(MachineStatus.IDLE, "offer rejected")

    def _start_driver(self, attempt_id: str, path: Path, estimated_s: float | None) -> None:
        try:
            self.driver.start(path, self._driver_events(attempt_id), estimated_s=estimated_s)
        except Exception as exc:  # a driver that cannot start fails the job, not the agent
            log.exception("driver of %s could not start", self.id)
            with self._lock:
                if self._current(attempt_id):
                    self._end_job("failed", f"machine could not start: {exc}")

    def _current(self, attempt_id: str) -> bool:
        return self.job is not None and self.job.attempt_id == attempt_id

    # ---- driver callbacks (driver threads) ---------------------------------------------------

    def _driver_events(self, attempt_id: str) -> DriverEvents:
        """What the driver reports, for this attempt only (a late report of another is ignored)."""

        def current(act: Callable[..., None]) -> Callable[..., None]:
            def guarded(*args: Any) -> None:
                with self._lock:
                    if self._current(attempt_id) and not self._detached:
                        act(*args)

            return guarded

        return DriverEvents(
            progress=current(lambda fraction, eta: self._progress(min(max(fraction, 0.0), 1.0), eta)),
            paused=current(self._paused),
            resumed=current(self._resumed),
            warning=current(self._warning),
            extruded=current(self._extruded),
            done=current(self._ended),
        )

    def _extruded(self, filament_mm: float) -> None:
        job = self.job
        if job is not None and job.grams_per_mm is not None:
            job.filament_used_g = round(filament_mm * job.grams_per_mm, 2)

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
        if job.state != "running" or job.cancelling:
            return  # a paused machine stands still; hosts go on reporting their unchanged position
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
            self._remember(JobDone(**self._job_ids(), duration_s=round(duration, 3),
                                   filament_used_g=job.filament_used_g, warnings=warnings))  # fmt: skip
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
        if job.state in ("running", "paused"):
            # `job:cancelled` goes out when the driver says the machine stopped (see `_ended`): until
            # then the machine is busy, and takes no next job its driver would refuse
            already, job.cancelling = job.cancelling, True
            return None if already else self.driver.cancel
        job.state = "cancelled"
        self._remember(JobCancelled(**self._job_ids()))
        self.job = None
        self._set_status(MachineStatus.IDLE, "cancelled before it started")
        return None

    def _cancelled_anyway(self, command: JobControl) -> DriverCall | None:
        """Cancelling what is not running is already done: say so (the protocol wants an answer)."""
        known = self._answers.get(command.attempt_id)
        job_id = getattr(known, "job_id", command.job_id)
        self._emit(JobCancelled(job_id=job_id, attempt_id=command.attempt_id, machine_id=self.id))
        return None

    def _pause(self) -> DriverCall | None:
        """Ask the machine to pause; the job is paused when the machine says it stopped."""
        if self.job is None or self.job.state != "running" or self.job.cancelling:
            return None
        return self.driver.pause

    def _resume(self) -> DriverCall | None:
        if self.job is None or self.job.state != "paused" or self.job.cancelling:
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


_RESTORED = ("job_id", "attempt_id", "state", "progress", "eta_s", "file_name", "material", "grams_per_mm")


def _grams_per_mm(estimates: Estimates | None, material: str) -> float | None:
    """What a millimetre of the job's filament weighs: by the slicer's own figures when it gave both (its
    diameter and density), else by the material's density at 1.75 mm."""
    if estimates is not None and estimates.filament_mm and estimates.filament_g:
        return estimates.filament_g / estimates.filament_mm
    return grams_per_mm(material)


def _saved_status(value: Any) -> MachineStatus:
    """A status saved before a restart (an older agent saved "busy" for a machine at work)."""
    try:
        return MachineStatus("running" if value == "busy" else value)
    except ValueError:
        return MachineStatus.IDLE


def _fresh_id() -> str:
    return uuid.uuid4().hex
