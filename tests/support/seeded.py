"""A coordinator with data to read: the example designs, the demo's fablabs, a build and a file job.

Designs are published and the build and the job are made through the services and the API, as users
make them; machines are written as agent births would write them (no dispatcher runs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from coordinator.db import session_scope
from coordinator.demo import FABLABS, publish_examples
from coordinator.runtime import Runtime
from coordinator.services.auth import create_token
from tests.support.network import add_machine

ROLES = ("admin", "designer", "operator", "builder", "agent")


@dataclass
class Seeded:
    """What exists: a token per role (named `seed-ROLE`) and the ids a client may name."""

    tokens: dict[str, str]
    build: dict[str, Any]
    job: dict[str, Any]
    ids: dict[str, list[Any]] = field(default_factory=dict)
    fablab_rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def seed(rt: Runtime, client: Any) -> Seeded:
    """Publish the examples, add the demo's machines, start a build and submit a file job."""
    refs = publish_examples(rt)
    with session_scope(rt.engine) as session:
        for lab in FABLABS:
            for machine_id, announced in lab.machines.items():
                caps = dict(announced)
                process, materials = caps.pop("process"), tuple(caps.pop("materials", ()))
                volume = tuple(caps.pop("build_volume_mm", (0, 0, 0)))
                add_machine(session, lab.id, machine_id, process, materials=materials, volume=volume, **caps)
        tokens = {role: create_token(session, role, name=f"seed-{role}")[1] for role in ROLES}
    builder = {"Authorization": f"Bearer {tokens['builder']}"}
    slug, version = refs[0].split("@")
    build = client.post("/api/v1/builds", json={"design": slug, "site": "fablab-berlin"}, headers=builder)
    assert build.status_code == 201, build.json
    upload = {"file": (io.BytesIO(b"G28\nG1 X10\n"), "part.gcode"), "process": "fdm_print"}
    job = client.post("/api/v1/jobs", data=upload, headers=builder, content_type="multipart/form-data")
    assert job.status_code == 201, job.json
    seeded = Seeded(tokens=tokens, build=build.json, job=job.json["jobs"][0])
    seeded.fablab_rows = _fablab_rows(client, seeded)
    seeded.ids = {
        "slug": [ref.split("@")[0] for ref in refs],
        "version": ["latest", version, "1.0.0"],
        "job_id": [seeded.job["id"], *(t["job"] for t in seeded.build["tasks"] if t["job"])],
        "build_id": [seeded.build["id"]],
        "task_id": [t["task"] for t in seeded.build["tasks"]],
        "fablab": [lab.id for lab in FABLABS],
        "machine_id": ["prusa-1", "bench-1", "laser-1"],
        "sha256": [seeded.job["file"]["sha256"]],
        "part_id": ["frame", "board", "enclosure-base"],
        "name": ["demo", "seed-designer"],
        "spool_id": [seeded.fablab_rows["spool"]["id"]],
        "maintenance_id": [seeded.fablab_rows["maintenance"]["id"]],
        "sub_id": [seeded.fablab_rows["subscription"]["id"]],
    }
    return seeded


def _fablab_rows(client: Any, seeded: Seeded) -> dict[str, dict[str, Any]]:
    """A spool loaded on a printer, a maintenance task on it and a webhook subscription, as staff add them."""
    operator = seeded.auth("operator")
    made = {
        "spool": client.post(
            "/api/v1/fablabs/fablab-berlin/spools", headers=operator,
            json={"material": "pla", "colour": "red", "initial_g": 1000, "machine_id": "prusa-1"},
        ),
        "maintenance": client.post(
            "/api/v1/fablabs/fablab-berlin/machines/prusa-1/maintenance", headers=operator,
            json={"name": "nozzle change", "every_hours": 500},
        ),
        "subscription": client.post(
            "/api/v1/notifications/subscriptions", headers=operator,
            json={"kinds": ["job_failed"], "channel": "webhook", "url": "http://127.0.0.1:9/hook"},
        ),
    }  # fmt: skip
    for what, response in made.items():
        assert response.status_code == 201, (what, response.json)
    return {what: response.json for what, response in made.items()}
