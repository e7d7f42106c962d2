"""Schemathesis against the coordinator's WSGI app: every operation, with a token of every role and none.

The run fails on any 5xx, any status an operation does not declare, and any body that does not match its
declared schema. The coordinator is fresh for the run, with the example designs published, the demo's
fablabs and machines, a build and a file job, so that reads find data; half of the generated path
parameters are replaced by ids that exist. No dispatcher runs: what would need one must still answer.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from coordinator.app import create_app
from coordinator.db import session_scope
from coordinator.demo import FABLABS, publish_examples
from coordinator.runtime import Runtime
from coordinator.services.auth import create_token
from coordinator.settings import load_settings
from tests.support.network import add_machine

pytestmark = pytest.mark.slow
ROLES = ("admin", "designer", "operator", "builder", "agent", "none")
# Examples per operation and role; the run is kept near a minute on two cores.
EXAMPLES = int(os.environ.get("PEERFAB_FUZZ_EXAMPLES", "6"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")  # fmt: skip
Coordinator = tuple[Any, dict[str, str]]  # the app, and a token per role
KNOWN: dict[str, list[str]] = {}  # path parameter -> values that exist in the fuzzed coordinator


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coordinator]:
    folder = tmp_path_factory.mktemp("fuzz")
    settings = load_settings(
        env={},
        overrides={
            "database": {"url": f"sqlite:///{folder / 'db.sqlite'}"},
            "storage": {"data_dir": str(folder)},
        },
    )
    rt = Runtime.open(settings)
    refs = publish_examples(rt)
    _add_demo_machines(rt)
    tokens = _tokens(rt)
    app = create_app(rt=rt)
    _seed(app.test_client(), tokens, refs)
    yield app, tokens
    rt.engine.dispose()


def _add_demo_machines(rt: Runtime) -> None:
    with session_scope(rt.engine) as session:
        for lab in FABLABS:
            for machine_id, caps in lab.machines.items():
                caps = dict(caps)
                process, materials = caps.pop("process"), tuple(caps.pop("materials", ()))
                volume = tuple(caps.pop("build_volume_mm", (0, 0, 0)))
                add_machine(session, lab.id, machine_id, process, materials=materials, volume=volume, **caps)


def _tokens(rt: Runtime) -> dict[str, str]:
    with session_scope(rt.engine) as session:
        return {role: create_token(session, role, name=f"fuzz-{role}")[1] for role in ROLES if role != "none"}


def _seed(client: Any, tokens: dict[str, str], refs: list[str]) -> None:
    """A build and a file job made through the API, and the ids the fuzzer may aim at."""
    builder = {"Authorization": f"Bearer {tokens['builder']}"}
    slug, version = refs[0].split("@")
    build = client.post("/api/v1/builds", json={"design": slug, "site": "fablab-berlin"}, headers=builder)
    assert build.status_code == 201, build.json
    upload = {"file": (io.BytesIO(b"G28\nG1 X10\n"), "part.gcode"), "process": "fdm_print"}
    job = client.post("/api/v1/jobs", data=upload, headers=builder, content_type="multipart/form-data")
    assert job.status_code == 201, job.json
    report = build.json
    KNOWN.update(
        slug=[ref.split("@")[0] for ref in refs],
        version=["latest", version, "1.0.0"],
        job_id=[job.json["jobs"][0]["id"], *(t["job"] for t in report["tasks"] if t["job"])],
        build_id=[report["id"]],
        task_id=[t["task"] for t in report["tasks"]],
        fablab=[lab.id for lab in FABLABS],
        machine_id=["prusa-1", "bench-1", "laser-1"],
        sha256=[job.json["jobs"][0]["file"]["sha256"]],
        part_id=["frame", "board", "enclosure-base"],
        name=["demo", "fuzz-designer"],
    )


@pytest.fixture(scope="module")
def api_schema(coordinator: Coordinator) -> Any:
    app, _ = coordinator
    config = schemathesis.config.SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "mode": "all"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        """Each path parameter as generated, or one that exists (so reads and actions reach data)."""
        if not path_parameters:
            return st.just(path_parameters)
        choices = {
            name: st.one_of(st.just(value), st.sampled_from(KNOWN[name])) if name in KNOWN else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    return schema


def test_every_operation_answers_as_declared(api_schema: Any, coordinator: Coordinator) -> None:
    """Valid and invalid requests for every operation, each sent once per role and once without a token."""
    _, tokens = coordinator
    headers = [{"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {} for role in ROLES]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 35, "the document lost operations"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, api_schema.hooks, headers)


def _fuzz(operation: Any, mode: GenerationMode, hooks: Any, headers: list[dict[str, str]]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode, hooks=hooks))
    def run(case: Any) -> None:
        for each in headers:
            case.call_and_validate(headers=each)

    try:
        run()
    except Unsatisfiable:
        # an operation with nothing to negate (GET /health) has no invalid requests; every one has valid ones
        if mode is GenerationMode.POSITIVE:
            raise
