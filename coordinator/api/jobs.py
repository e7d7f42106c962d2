"""Jobs: submit (an uploaded file or a design part), list, read with history; cancel, pause, resume, fail."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint
from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from werkzeug.datastructures import FileStorage

from coordinator.api.auth import auth, current_actor, roles
from coordinator.api.schemas import JobDetailOut, JobOut, JobPageOut, SubmittedOut, errors
from coordinator.db import session_scope
from coordinator.jobs import queries
from coordinator.jobs.commands import CancelJob, FailJob, PauseJob, ResumeJob, SubmitJobs, SupplyMachineFile
from coordinator.jobs.lifecycle import JobState, allowed_controls
from coordinator.jobs.submission import MAX_QUANTITY, JobSpec, spec_for_part, store_upload
from coordinator.models.auth import Role
from coordinator.models.base import aware
from coordinator.models.jobs import Job, JobAttempt, JobEvent
from coordinator.runtime import runtime
from protocol.errors import InvalidInput
from protocol.processes import MACHINE_PROCESSES, check_process

bp = APIBlueprint("jobs", __name__, tag="Jobs")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
    priority: int = Field(0, ge=-100, le=100)
    max_attempts: int = Field(3, ge=1, le=20)


class PartJobRequest(_Request):
    """A job for a part of a published design."""

    design: str = Field(min_length=1, max_length=64)
    version: str = Field("latest", min_length=1, max_length=64)
    part: str = Field(min_length=1, max_length=128)


class FileJobForm(_Request):
    """Form fields that go with an uploaded file (G-code, toolpath...)."""

    process: str = Field(min_length=1, max_length=32, json_schema_extra={"enum": list(MACHINE_PROCESSES)})
    material: str | None = Field(None, max_length=64)
    nozzle_mm: float | None = Field(None, gt=0, le=5)
    min_box_mm: tuple[float, float, float] | None = None

    @field_validator("process")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_process(value)  # a job no machine can run would wait forever: refuse it now

    @field_validator("min_box_mm", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v for v in value.split(",")] if isinstance(value, str) else value


def submit_body() -> dict[str, Any]:
    """The two request bodies of POST /jobs: a file with form fields, or JSON naming a design part."""
    form = FileJobForm.model_json_schema()
    form["properties"]["file"] = {"type": "string", "format": "binary", "description": "G-code, toolpath..."}
    box = {"type": "string", "pattern": "^[^,]+,[^,]+,[^,]+$", "description": "smallest box: x,y,z in mm"}
    form["properties"]["min_box_mm"] = box
    form["required"] = ["file", *form.get("required", [])]
    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": form},
            "application/json": {"schema": PartJobRequest.model_json_schema()},
        },
    }


def machine_file_body() -> dict[str, Any]:
    """The request body of POST /jobs/<id>/machine-file: the operator's file."""
    file = {"type": "string", "format": "binary", "description": "G-code or toolpath for the job's machine"}
    schema = {"type": "object", "properties": {"file": file}, "required": ["file"]}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


class StateQuery(BaseModel):
    state: JobState | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=queries.MAX_OFFSET)


class FailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="what went wrong on the machine")


@bp.post("/jobs")
@bp.auth_required(auth, **roles(Role.BUILDER, Role.OPERATOR))
@bp.output(SubmittedOut, status_code=201, description="jobs queued, one per unit of quantity")
@bp.doc(
    summary="Submit jobs",
    description="Multipart: `file` plus form fields process, material, nozzle_mm, min_box_mm "
    "(x,y,z), quantity, priority. JSON: {design, version, part, quantity, priority}.",
    responses=errors(
        401,
        403,
        413,
        _400="bad request (an unknown process names the known ones)",
        _404="no such design, version or part",
    ),  # fmt: skip
    extensions={"requestBody": submit_body()},
)
def submit() -> tuple[dict[str, Any], int]:
    """Queue a job per unit of quantity (builder or operator role)."""
    created = _submit_file() if request.files else _submit_part()
    with session_scope(runtime().engine) as session:
        summaries = [job_summary(j) for j in queries.get_jobs(session, created)]
    return {"group_id": summaries[0]["group_id"], "jobs": summaries}, 201


def _uploaded_file() -> FileStorage:
    """The request's multipart `file`; a 400 without one."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("multipart request needs a 'file' part")
    return upload


def _upload_name(upload: FileStorage) -> str:
    return Path(upload.filename or "").name


def _stored_upload() -> tuple[str, str, int]:
    """The request's multipart `file`, put in the file store: (its name, sha256, size)."""
    upload = _uploaded_file()
    rt = runtime()
    with tempfile.NamedTemporaryFile(dir=rt.settings.storage.data_dir) as tmp:
        upload.save(tmp.name)
        with session_scope(rt.engine) as session:
            digest, size = store_upload(session, rt.store, Path(tmp.name))
    return _upload_name(upload), digest, size


def _submit_file() -> list[str]:
    form = _parse(FileJobForm, request.form.to_dict())
    name, digest, size = _stored_upload()
    spec = JobSpec(
        file_sha256=digest,
        file_name=name,
        file_size=size,
        process=form.process,
        material=form.material,
        nozzle_mm=form.nozzle_mm,
        min_box_mm=form.min_box_mm,
        priority=form.priority,
        max_attempts=form.max_attempts,
    )
    return list(runtime().bus.handle(SubmitJobs(spec, form.quantity, current_actor())))


def _submit_part() -> list[str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a multipart form with a file, or a JSON object naming a design part")
    req = _parse(PartJobRequest, body)
    rt = runtime()
    with session_scope(rt.engine) as session:
        spec = spec_for_part(
            session, req.design, req.version, req.part, priority=req.priority, max_attempts=req.max_attempts
        )
    return list(rt.bus.handle(SubmitJobs(spec, req.quantity, current_actor())))


def _parse(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInput(f"invalid job request: {problems}") from exc


@bp.get("/jobs")
@bp.input(StateQuery, location="query")
@bp.output(JobPageOut)
@bp.doc(responses=errors(401, 422))
def list_jobs(query_data: StateQuery) -> dict[str, Any]:
    """Jobs, newest first (?state=queued&limit=&offset=)."""
    state = query_data.state.value if query_data.state else None
    with session_scope(runtime().engine) as session:
        found = queries.list_jobs(session, state, query_data.limit, query_data.offset)
        return {"jobs": [job_summary(j) for j in found], "counts": queries.count_by_state(session)}


@bp.get("/jobs/<job_id>")
@bp.output(JobDetailOut)
@bp.doc(responses=errors(401, 404))
def get_job(job_id: str) -> dict[str, Any]:
    """One job with its attempts and events."""
    with session_scope(runtime().engine) as session:
        job = queries.get_job(session, job_id)
        attempts, events = queries.job_history(session, job_id)
        return {
            **job_summary(job),
            "attempts": [attempt_dict(a) for a in attempts],
            "events": [event_dict(e) for e in events],
        }


@bp.post("/jobs/<job_id>/cancel")
@bp.auth_required(auth, **roles(Role.BUILDER, Role.OPERATOR))
@bp.output(JobOut, description="cancelled")
@bp.doc(responses=errors(401, _403="not yours", _404="no such job", _409="already ended"))
def cancel(job_id: str) -> dict[str, Any]:
    """Cancel a job that has not ended (who submitted it, or an operator of its fablab); its machine stops."""
    runtime().bus.handle(CancelJob(job_id, current_actor()))
    return _summary(job_id)


@bp.post("/jobs/<job_id>/pause")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.output(JobOut, description="asked")
@bp.doc(responses=errors(401, _403="not your fablab", _404="no such job", _409="not running"))
def pause(job_id: str) -> dict[str, Any]:
    """Ask the machine making a job to pause (operator role); the job is paused once the machine is."""
    runtime().bus.handle(PauseJob(job_id, current_actor()))
    return _summary(job_id)


@bp.post("/jobs/<job_id>/resume")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.output(JobOut, description="asked")
@bp.doc(responses=errors(401, _403="not your fablab", _404="no such job", _409="not paused"))
def resume(job_id: str) -> dict[str, Any]:
    """Ask the machine holding a paused job to go on (operator role)."""
    runtime().bus.handle(ResumeJob(job_id, current_actor()))
    return _summary(job_id)


@bp.post("/jobs/<job_id>/fail")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.input(FailIn, location="json")
@bp.output(JobOut, description="failed")
@bp.doc(
    responses=errors(400, 401, 413, 422, _403="not your fablab", _404="no such job", _409="no machine on it")
)
def fail(job_id: str, json_data: FailIn) -> dict[str, Any]:
    """The job failed on its machine (operator role): it stops there; made again while attempts remain."""
    runtime().bus.handle(FailJob(job_id, json_data.reason, current_actor()))
    return _summary(job_id)


@bp.post("/jobs/<job_id>/machine-file")
@bp.auth_required(auth, **roles(Role.OPERATOR))
@bp.output(JobOut, description="sent to the machine")
@bp.doc(
    summary="Give a job that needs preparation its machine file",
    description="Multipart `file`: the G-code an operator made from the job's source file (a PCB's Gerber "
    "files, say). It is checked against the machine's limits and sent to the machine, which runs it.",
    responses=errors(401, 413, _400="no file, or the file fails the G-code safety check",
                     _403="not your fablab", _404="no such job",
                     _409="the job does not wait for a prepared file"),
    extensions={"requestBody": machine_file_body()},
)  # fmt: skip
def machine_file(job_id: str) -> dict[str, Any]:
    """Hand the machine of a job that needs preparation the file an operator prepared (operator role)."""
    upload = _uploaded_file()
    rt = runtime()
    with tempfile.NamedTemporaryFile(dir=rt.settings.storage.data_dir) as tmp:
        upload.save(tmp.name)
        rt.bus.handle(SupplyMachineFile(job_id, Path(tmp.name), _upload_name(upload), current_actor()))
    return _summary(job_id)


def _summary(job_id: str) -> dict[str, Any]:
    with session_scope(runtime().engine) as session:
        return job_summary(queries.get_job(session, job_id))


def _iso(value: Any) -> str | None:
    return aware(value).isoformat() if value is not None else None


def job_summary(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "group_id": job.group_id,
        "state": job.state,
        "process": job.process,
        "material": job.material,
        "min_box_mm": job.min_box_mm,
        "nozzle_mm": job.nozzle_mm,
        "file": {"sha256": job.file_sha256, "name": job.file_name, "size": job.file_size},
        "design": {"slug": job.design, "version": job.design_version, "part": job.part_id}
        if job.design
        else None,
        "priority": job.priority,
        "created_at": _iso(job.created_at),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "attempt_id": job.attempt_id,
        "fablab": job.fablab,
        "machine": job.machine_id,
        "progress": job.progress,
        "eta_s": job.eta_s,
        "estimates": {
            "duration_s": job.estimate_s,
            "filament_mm": job.filament_mm,
            "filament_g": job.filament_g,
            "source": job.estimate_source,
        }
        if job.estimate_source
        else None,
        "reason": job.reason,
        "ended_at": _iso(job.ended_at),
        "actions": sorted(allowed_controls(job.state)),
    }


def attempt_dict(attempt: JobAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "fablab": attempt.fablab,
        "agent": attempt.agent,
        "machine": attempt.machine_id,
        "state": attempt.state,
        "lease_expires_at": _iso(attempt.lease_expires_at),
        "created_at": _iso(attempt.created_at),
        "ended_at": _iso(attempt.ended_at),
        "reason": attempt.reason,
    }


def event_dict(event: JobEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "attempt_id": event.attempt_id,
        "from": event.from_state,
        "to": event.to_state,
        "payload": event.payload,
        "agent": f"{event.fablab}/{event.agent}" if event.agent else None,
        "at": _iso(event.at),
    }
