"""The agent's own install: a fresh venv with only `pip install peerfab` (no coordinator extra) runs an
agent that makes a part for a real coordinator, and pulls none of the coordinator's heavy libraries.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "flask", "apiflask", "ortools", "numba", "scipy", "trimesh", "alembic")


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the base install of this checkout (the agent and the bridge)."""
    folder = tmp_path_factory.mktemp("agent-venv")
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    source = tmp_path_factory.mktemp("agent-source") / "peerfab"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", "__pycache__", "node_modules"),
    )
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_the_agent_install_has_none_of_the_coordinators_libraries(agent_venv: Path) -> None:
    python = str(agent_venv / "bin" / "python")
    probe = "import importlib.util as u, sys; print(','.join(m for m in sys.argv[1:] if u.find_spec(m)))"
    found = subprocess.run([python, "-c", probe, *HEAVY], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "", f"the agent's install pulled in {found.stdout.strip()}"
    demo = subprocess.run([str(agent_venv / "bin" / "peerfab"), "demo"], capture_output=True, text=True)
    assert demo.returncode == 2 and "pip install 'peerfab[coordinator]'" in demo.stderr


def test_an_agent_from_its_own_install_makes_a_part(
    agent_venv: Path, site, tmp_path: Path, mosquitto
) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "agent.toml"
    config.write_text(
        "[agent]\n"
        'fablab = "lab-e2e"\n'
        'id = "pi-agent"\n'
        f'coordinator_url = "{site.settings.server.public_url}"\n'
        f'mqtt_url = "{mosquitto.url}"\n'
        "heartbeat_s = 0.5\n"
        "local_port = 0\n"
    )
    command = [
        str(agent_venv / "bin" / "peerfab"),
        "agent",
        "run",
        "--config",
        str(config),
        "--simulate",
        "1",
        "--time-scale",
        "1000",
        "--duration",
        "120",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        (job_id,) = site.submit(1)
        wait_until(lambda: site.all_done([job_id]), timeout_s=60, what="the part made by the Pi-style agent")
        [attempt] = site.attempts(job_id)
        assert (attempt.agent, attempt.machine_id, attempt.state) == ("pi-agent", "sim-1", "done")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert sys.executable not in output  # the agent ran from its own venv, not this one's
