"""Coordinator (HTTP + dispatcher) and real fablab agents on simulated printers over Mosquitto."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, func, select
from werkzeug.serving import make_server

from coordinator.app import create_app
from coordinator.db import session_scope
from coordinator.jobs.commands import COORDINATOR, SubmitJobs
from coordinator.jobs.lifecycle import FINAL_STATES
from coordinator.jobs.submission import JobSpec, store_upload
from coordinator.models.jobs import Job, JobAttempt, JobEvent
from coordinator.mqtt.service import DispatchService
from coordinator.runtime import Runtime
from fablab_agents.agent import Agent
from fablab_agents.config import load_agent_config

FABLAB = "lab-e2e"
LEASE_S = 3.0
# long slow moves: a few simulated minutes, a second or two at the test's time scale
GCODE = (
    b"; e2e part\nG21\nG90\nM140 S60\nM104 S210\nG28\nG1 Z0.2 F3000\n"
    + b"".join(f"G1 X{20 + (i % 2) * 150} Y{20 + i} E{i + 1} F1200\n".encode() for i in range(40))
    + b"M104 S0\nM140 S0\n"
)


class Site:
    """The coordinator side of an e2e run: database, HTTP file server and dispatcher."""

    def __init__(self, settings: Any, broker_url: str) -> None:
        self.settings = settings
        self.settings.mqtt.url = broker_url
        self.runtime = Runtime.open(settings)
        self.http = make_server("127.0.0.1", 0, create_app(rt=self.runtime), threaded=True)
        self.settings.server.public_url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.dispatcher = self._dispatcher()

    def _dispatcher(self) -> DispatchService:
        return DispatchService(self.runtime, lease_s=LEASE_S, tick_s=0.1, reannounce_every_s=0.5).start()

    def restart_dispatcher(self, down_s: float = 1.0) -> None:
        """Stop the dispatcher and drop every DB connection, then start afresh on the same DB."""
        self.dispatcher.stop()
        self.runtime.engine.dispose()
        time.sleep(down_s)
        self.runtime = Runtime.open(self.settings)
        self.dispatcher = self._dispatcher()

    def power_cut(self) -> None:
        """The coordinator's process dies at once: no goodbye to the broker, every connection dropped."""
        self.dispatcher.kill()
        self.runtime.engine.dispose()

    def power_back(self) -> None:
        """The coordinator starts again on the same database and broker session."""
        self.runtime = Runtime.open(self.settings)
        self.dispatcher = self._dispatcher()

    def submit(self, quantity: int = 1) -> list[str]:
        source = Path(self.settings.storage.data_dir) / "part.gcode"
        source.write_bytes(GCODE)
        with session_scope(self.runtime.engine) as session:
            digest, size = store_upload(session, self.runtime.store, source)
        spec = JobSpec(file_sha256=digest, file_name="part.gcode", file_size=size, process="fdm_print",
                       material="pla")  # fmt: skip
        return list(self.runtime.bus.handle(SubmitJobs(spec, quantity, COORDINATOR)))

    def states(self) -> dict[str, str]:
        with Session(self.runtime.engine) as session:
            return {j.id: j.state for j in session.exec(select(Job)).all()}

    def all_done(self, ids: list[str]) -> bool:
        states = self.states()
        return all(states.get(i) == "done" for i in ids)

    def final_event_counts(self) -> dict[str, int]:
        with Session(self.runtime.engine) as session:
            rows = session.exec(
                select(JobEvent.job_id, func.count())
                .where(col(JobEvent.to_state).in_(list(FINAL_STATES)))
                .group_by(JobEvent.job_id)
            ).all()
            return {job_id: n for job_id, n in rows}

    def attempts(self, job_id: str) -> list[JobAttempt]:
        with Session(self.runtime.engine) as session:
            query = select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(col(JobAttempt.created_at))
            return list(session.exec(query).all())

    def close(self) -> None:
        self.dispatcher.stop()
        self.http.shutdown()
        self.runtime.engine.dispose()


@pytest.fixture
def site(settings: Any, mosquitto: Any) -> Iterator[Site]:
    running = Site(settings, mosquitto.url)
    yield running
    running.close()


@pytest.fixture
def start_agent(site: Site, mosquitto: Any, tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    """Start a real agent with one simulated printer; every agent is stopped at the end."""
    started: list[Agent] = []

    def start(name: str, time_scale: float = 100.0, operator_confirm: bool = False) -> Agent:
        config = load_agent_config(
            {
                "agent": {
                    "fablab": FABLAB,
                    "id": name,
                    "coordinator_url": site.settings.server.public_url,
                    "mqtt_url": mosquitto.url,
                    "heartbeat_s": 0.5,
                    "local_port": 0,
                    "reconnect_max_s": 0.5,
                    "progress_interval_s": 0.2,
                },
                f"machine {name}-printer": {
                    "driver": "simulated",
                    "process": "fdm_print",
                    "build_volume_mm": [250, 210, 210],
                    "materials": ["pla"],
                    "max_hotend_c": 260,
                    "max_bed_c": 110,
                    "operator_confirm": operator_confirm,
                    "time_scale": time_scale,
                },
            }
        )
        agent = Agent(config, tmp_path / "agents" / name)
        agent.start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
