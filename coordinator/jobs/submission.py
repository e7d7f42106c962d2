"""What a new job is made of: its spec (a file and the machine it needs), from an upload or a design part."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from coordinator.filestore import FileStore
from coordinator.jobs.lifecycle import JobState, submitted
from coordinator.models.designs import MeshAnalysis, StoredFile
from coordinator.models.jobs import new_id
from protocol.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from coordinator.jobs.bus import UnitOfWork

MAX_QUANTITY = 1000


@dataclass(frozen=True)
class JobSpec:
    """What a job needs: the file to run and the machine it can run on."""

    file_sha256: str
    file_name: str
    process: str
    material: str | None = None
    min_box_mm: tuple[float, float, float] | None = None
    nozzle_mm: float | None = None
    file_size: int = 0
    design: str | None = None
    design_version: str | None = None
    part_id: str | None = None
    priority: int = 0
    max_attempts: int = 3
    params: dict[str, Any] = field(default_factory=dict)


def check_submission(spec: JobSpec, quantity: int) -> None:
    """Refuse a submission that cannot be right, before anything is written."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between 1 and {MAX_QUANTITY}, got {quantity}")
    if spec.max_attempts < 1:
        raise InvalidInput(f"max_attempts must be at least 1, got {spec.max_attempts}")


def job_row(spec: JobSpec, group: str, submitted_by: str, now: datetime) -> dict[str, Any]:
    """A new queued job as plain values: every column of `job`."""
    return {
        "id": new_id(),
        "group_id": group,
        "state": JobState.QUEUED.value,
        "process": spec.process,
        "material": spec.material,
        "min_box_mm": sorted(spec.min_box_mm, reverse=True) if spec.min_box_mm else None,
        "nozzle_mm": spec.nozzle_mm,
        "file_sha256": spec.file_sha256,
        "file_name": spec.file_name,
        "file_size": spec.file_size,
        "design": spec.design,
        "design_version": spec.design_version,
        "part_id": spec.part_id,
        "params": dict(spec.params),
        "priority": spec.priority,
        "submitted_by": submitted_by,
        "created_at": now,
        "attempts": 0,
        "max_attempts": spec.max_attempts,
        "attempt_id": None,
        "fablab": None,
        "machine_id": None,
        "progress": 0.0,
        "eta_s": None,
        "estimate_s": None,
        "filament_mm": None,
        "filament_g": None,
        "estimate_source": "",
        "reason": "",
        "ended_at": None,
        "version": 1,
    }


def queue_jobs(uow: UnitOfWork, spec: JobSpec, quantity: int, submitted_by: str) -> list[str]:
    """Queue `quantity` identical jobs as one group, each with its own life; return their ids."""
    check_submission(spec, quantity)
    now, group = uow.now(), new_id()
    rows = [job_row(spec, group, submitted_by, now) for _ in range(quantity)]
    uow.store.insert_jobs(rows, [submitted(row["id"], now) for row in rows])
    uow.effects.wake = True
    return [row["id"] for row in rows]


def store_upload(session: Session, store: FileStore, path: Path) -> tuple[str, int]:
    """Put an uploaded file in the content store (and its table); return (sha256, size)."""
    digest, _ = store.put_file(path)
    size = path.stat().st_size
    if session.get(StoredFile, digest) is None:
        session.add(StoredFile(sha256=digest, size=size))
    return digest, size


def spec_for_part(session: Session, slug: str, version: str, part_id: str, **extra: Any) -> JobSpec:
    """A job spec from a published design part: its file, process, material and mesh box."""
    from coordinator.services import designs

    release = designs.get_version(session, slug, version)
    part = next((p for p in designs.version_parts(session, release) if p.part_id == part_id), None)
    if part is None:
        raise NotFound(f"design {slug!r} {release.version} has no part {part_id!r}")
    if not part.file_sha256 or not part.process:
        raise InvalidInput(f"part {part_id!r} of {slug!r} {release.version} has no file or process to make")
    stored = session.get(StoredFile, part.file_sha256)
    extra["params"] = {**_preparation_hints(part.data), **extra.get("params", {})}
    return JobSpec(
        file_sha256=part.file_sha256,
        file_name=Path(part.file_path or part_id).name,
        file_size=stored.size if stored else 0,
        process=part.process,
        material=part.material,
        min_box_mm=_mesh_box(session, part.file_sha256),
        design=slug,
        design_version=release.version,
        part_id=part_id,
        **extra,
    )


def _preparation_hints(data: dict[str, Any]) -> dict[str, Any]:
    """What the machine's preparation needs from the design's part: the sheet's thickness for a cut table."""
    thickness = data.get("thickness_mm")
    return {"thickness_mm": thickness} if thickness else {}


def _mesh_box(session: Session, sha256: str) -> tuple[float, float, float] | None:
    analysis = session.get(MeshAnalysis, sha256)
    box = (analysis.report or {}).get("min_box_mm") if analysis else None
    if not box or len(box) != 3:
        return None
    a, b, c = sorted((float(x) for x in box), reverse=True)
    return (a, b, c)
