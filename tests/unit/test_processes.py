"""One list of processes: what design manifests, agent configs, matching, OKW and file jobs check against."""

from __future__ import annotations

import pytest

from coordinator.bom.manifest import PROCESSES
from coordinator.demo import FABLABS
from coordinator.importers.okw import PROCESS_ARTICLES
from coordinator.planning.matching import COMPATIBLE_PROCESSES
from coordinator.planning.problem import ASSEMBLY_PROCESS
from fablab_agents.config import load_agent_config
from protocol.errors import InvalidInput
from protocol.processes import ASSEMBLY, FABRICATION_PROCESSES, MACHINE_PROCESSES, check_process


def test_every_check_reads_the_one_list() -> None:
    assert PROCESSES is FABRICATION_PROCESSES and ASSEMBLY_PROCESS == ASSEMBLY
    assert set(MACHINE_PROCESSES) == {*FABRICATION_PROCESSES, ASSEMBLY}
    assert set(PROCESS_ARTICLES) == set(MACHINE_PROCESSES)  # every process has its OKW article, and no other
    for process, stand_ins in COMPATIBLE_PROCESSES.items():
        assert {process, *stand_ins} <= set(MACHINE_PROCESSES)
    assert {caps["process"] for lab in FABLABS for caps in lab.machines.values()} <= set(MACHINE_PROCESSES)


def test_an_unknown_process_is_refused_naming_the_known_ones() -> None:
    assert check_process("laser_cut") == "laser_cut"
    with pytest.raises(InvalidInput) as refused:
        check_process("teleport", "[machine m1] process")
    assert str(refused.value).startswith("[machine m1] process: no machine runs 'teleport'; known processes:")
    assert all(process in str(refused.value) for process in MACHINE_PROCESSES)


def test_an_agent_config_with_an_unknown_process_is_refused() -> None:
    agent = {"fablab": "lab", "id": "a", "coordinator_url": "http://h", "mqtt_url": "mqtt://h"}
    with pytest.raises(InvalidInput, match=r"\[machine m1\] process: no machine runs 'teleport'"):
        load_agent_config({"agent": agent, "machine m1": {"driver": "simulated", "process": "teleport"}})
    config = load_agent_config({"agent": agent, "machine m1": {"driver": "simulated", "process": "assembly"}})
    assert config.machines[0].capabilities.process == "assembly"
