"""Schemathesis against the coordinator's WSGI app: every operation, with a token of every role and none.

The run fails on any 5xx, any status an operation does not declare, and any body that does not match its
declared schema. The coordinator is fresh for the run, with the example designs published, the demo's
fablabs and machines, a build and a file job, so that reads find data; half of the generated path
parameters are replaced by ids that exist. No dispatcher runs: what would need one must still answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from coordinator.app import create_app
from coordinator.runtime import Runtime
from coordinator.settings import load_settings
from tests.conftest import POSTGRES_ENV, database_kinds
from tests.support.databases import scratch_postgres
from tests.support.seeded import ROLES, Seeded, seed

pytestmark = pytest.mark.slow
# Valid and invalid examples per operation, each sent per role: about a minute per database on two cores.
EXAMPLES = int(os.environ.get("PEERFAB_FUZZ_EXAMPLES", "4"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")  # fmt: skip


@pytest.fixture(scope="module", params=database_kinds())
def coordinator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, Seeded]]:
    """A fresh coordinator for the run, on SQLite, and on PostgreSQL when the suite has one."""
    folder = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{folder / 'db.sqlite'}"
        else:
            url = stack.enter_context(scratch_postgres(os.environ[POSTGRES_ENV], prefix="peerfab_fuzz"))
        overrides = {"database": {"url": url}, "storage": {"data_dir": str(folder)}}
        rt = Runtime.open(load_settings(env={}, overrides=overrides))
        app = create_app(rt=rt)
        yield app, seed(rt, app.test_client())
        rt.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(coordinator: tuple[Any, Seeded]) -> Any:
    app, seeded = coordinator
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
        known = seeded.ids
        choices = {
            name: st.one_of(st.just(value), st.sampled_from(known[name])) if name in known else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    return schema


def test_every_operation_answers_as_declared(api_schema: Any, coordinator: tuple[Any, Seeded]) -> None:
    """Valid and invalid requests for every operation, each sent once per role and once without a token."""
    _, seeded = coordinator
    headers = [seeded.auth(role) for role in ROLES] + [{}]
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
