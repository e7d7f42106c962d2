"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and an MQTT broker.

Under CI (CI=true) PostgreSQL and Mosquitto are required: a missing service fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import scratch_postgres
from tests.support.fake_prusa_mk3 import FakePrusaMK3
from tests.support.moonraker_peer import MoonrakerServer, moonraker_python
from tests.support.mosquitto import Mosquitto, mosquitto_binary
from tests.support.octoprint_peer import TEST_PRINTER, OctoPrintServer, OctoPrintUnavailable, octoprint_python
from tests.support.peers import PeerUnavailable
from tests.support.prusalink_peer import PrusaLinkServer, prusalink_python

POSTGRES_ENV = "PEERFAB_TEST_POSTGRES_URL"
REALWORLD = Path(__file__).resolve().parents[1].parent / "shared" / "realworld"
UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    if UNDER_CI and not os.environ.get(POSTGRES_ENV):
        raise pytest.UsageError(f"CI is set but {POSTGRES_ENV} is not: PostgreSQL tests would not run")


def database_kinds() -> list[str]:
    """SQLite always; PostgreSQL too when the suite is given one."""
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=database_kinds())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'peerfab.db'}"
        return
    yield from _fresh_postgres_database(os.environ[POSTGRES_ENV])


def _fresh_postgres_database(admin_url: str) -> Iterator[str]:
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_postgres(admin_url, prefix="peerfab_test"))
        except Exception as exc:  # a configured but unreachable PostgreSQL is a failure, never a skip
            pytest.fail(f"cannot create a test database through {POSTGRES_ENV}={admin_url}: {exc}")
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """Coordinator settings on a fresh database and a private data directory."""
    from coordinator.settings import load_settings

    return load_settings(
        env={},
        overrides={"database": {"url": database_url}, "storage": {"data_dir": str(tmp_path / "data")}},
    )


@pytest.fixture
def runtime(settings):  # type: ignore[no-untyped-def]
    from coordinator.runtime import Runtime

    rt = Runtime.open(settings)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def app(runtime):  # type: ignore[no-untyped-def]
    from coordinator.app import create_app

    application = create_app(rt=runtime)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def token_for(runtime):  # type: ignore[no-untyped-def]
    """Make a bearer token with a role: token_for('designer') -> 'pf_...'.

    The name is who the token acts as (default `test-ROLE`); `fablabs` and `expires_in` scope it.
    """
    from coordinator.db import session_scope
    from coordinator.services.auth import create_token

    def make(role: str, name: str = "", **scope: Any) -> str:
        with session_scope(runtime.engine) as session:
            _, plain = create_token(session, role, name=name or f"test-{role}", **scope)
        return plain

    return make


@pytest.fixture
def realworld() -> Path:
    """The folder of real published files; tests that need it skip on a clone without it."""
    if not REALWORLD.is_dir():
        pytest.skip("../shared/realworld is not present")
    return REALWORLD


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto on a free port (anonymous); fails under CI when mosquitto is missing."""
    if mosquitto_binary() is None:
        if UNDER_CI:
            pytest.fail("mosquitto is required under CI")
        pytest.skip("mosquitto is not installed")
    broker = Mosquitto(workdir=tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


def unavailable_peer(name: str, reason: str) -> None:
    """A real peer a test needs is missing: a failure under CI, a skip elsewhere."""
    if UNDER_CI:
        pytest.fail(f"{name} is required under CI: {reason}")
    pytest.skip(f"{name} is not available: {reason}")


def peer_venv(name: str, make: Callable[[], Path]) -> Path:
    """A real peer's venv from `make`; a peer that cannot be had fails under CI and skips elsewhere."""
    try:
        return make()
    except PeerUnavailable as exc:
        unavailable_peer(name, str(exc))
        raise


@pytest.fixture(scope="session")
def octoprint_venv() -> Path:
    """The OctoPrint venv, created from PyPI on first use."""
    return peer_venv("OctoPrint", octoprint_python)


def serve_octoprint(folder: Path) -> Iterator[OctoPrintServer]:
    """A real OctoPrint server in `folder` for a fixture's scope (its virtual printer not yet connected)."""
    try:
        server = OctoPrintServer(folder, virtual_printer=TEST_PRINTER)
    except OctoPrintUnavailable as exc:
        unavailable_peer("OctoPrint", str(exc))
        raise
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prusalink_venv() -> Path:
    """The PrusaLink venv, created from PyPI on first use."""
    return peer_venv("PrusaLink", prusalink_python)


@pytest.fixture(scope="session")
def moonraker_venv() -> Path:
    """The Moonraker venv, created from PyPI on first use."""
    return peer_venv("Moonraker", moonraker_python)


@contextmanager
def running_moonraker(folder: Path) -> Iterator[MoonrakerServer]:
    """A real Moonraker in `folder` in front of a fake klippy that is ready, for a with block."""
    try:
        server = MoonrakerServer(folder)
    except PeerUnavailable as exc:
        unavailable_peer("Moonraker", str(exc))
        raise
    try:
        yield server
    finally:
        server.close()


def serve_prusalink(folder: Path, exec_time: float) -> Iterator[tuple[PrusaLinkServer, FakePrusaMK3]]:
    """A real PrusaLink server in `folder`, idle in front of a fake MK3S, for a fixture's scope."""
    firmware = FakePrusaMK3(exec_time=exec_time)
    firmware.start()
    try:
        server = PrusaLinkServer(folder, firmware.port)
    except PeerUnavailable as exc:
        firmware.stop()
        unavailable_peer("PrusaLink", str(exc))
        raise
    yield server, firmware
    server.stop()
    firmware.stop()
