"""Files by content hash: what agents download and check before anything reaches a machine."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response, send_file

from coordinator.db import session_scope
from coordinator.runtime import runtime
from coordinator.services import designs

bp = APIBlueprint("files", __name__, tag="Files")


@bp.get("/files/<sha256>")
@bp.doc(responses={200: "the file", 404: "no such file"})
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
