"""Files by content hash: what agents download and check before anything reaches a machine."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.schemas import FileSchema
from flask import Response, send_file

from coordinator.api.schemas import errors
from coordinator.db import session_scope
from coordinator.runtime import runtime
from coordinator.services import designs

bp = APIBlueprint("files", __name__, tag="Files")


@bp.get("/files/<sha256>")
@bp.output(FileSchema(), content_type="application/octet-stream", description="the file")
@bp.doc(responses=errors(401, 404, _400="not a sha256 hex digest"))
def download(sha256: str) -> Response:
    """Download a stored file by its sha256 (ETag is the hash)."""
    rt = runtime()
    with session_scope(rt.engine) as session:
        record = designs.stored_file(session, sha256.lower())
    path = rt.store.path_for(record.sha256)
    response = send_file(path, mimetype="application/octet-stream", etag=record.sha256, conditional=True)
    response.headers["X-Content-SHA256"] = record.sha256
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
