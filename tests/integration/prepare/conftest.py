"""Real slicers for the preparation tests: Debian's prusa-slicer and CuraEngine; required under CI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fablab_agents.config import AgentConfig, MachineConfig, load_agent_config
from tests.conftest import UNDER_CI

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "agent.workshop.example.toml"


def _require(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        if UNDER_CI:
            pytest.fail(f"{binary} is not installed (.ci/run installs it with apt-get)")
        pytest.skip(f"{binary} is not installed")
    return found


@pytest.fixture(scope="session")
def workshop() -> AgentConfig:
    """The example agent config with its printers, laser, plasma table and router."""
    return load_agent_config(EXAMPLE)


def _machine(workshop: AgentConfig, machine_id: str, binary: str) -> MachineConfig:
    _require(binary)
    machine = workshop.machine(machine_id)
    assert machine is not None
    return machine


@pytest.fixture(scope="session")
def prusa(workshop: AgentConfig) -> MachineConfig:
    """The example's PrusaSlicer printer (the stock profile with PLA and PETG overlays)."""
    return _machine(workshop, "prusa-1", "prusa-slicer")


@pytest.fixture(scope="session")
def cura(workshop: AgentConfig) -> MachineConfig:
    """The example's CuraEngine printer (the definition written for peerfab)."""
    return _machine(workshop, "cura-1", "CuraEngine")
