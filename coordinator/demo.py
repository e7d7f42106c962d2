"""The demo: a coordinator, an embedded broker and three simulated fablabs building an example design.

Everything runs in this process on the embedded defaults (SQLite, amqtt), so a newcomer needs nothing
installed. The time scale is chosen from the plan so that the build takes about two minutes.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from coordinator.db import session_scope
from coordinator.jobs.commands import OrderPurchases, ReceivePurchases, StartBuild
from coordinator.models.builds import Build, BuildState
from coordinator.models.jobs import AgentLink
from coordinator.planning.breakdown import break_down
from coordinator.planning.matching import MachineView
from coordinator.planning.network import transport_table
from coordinator.planning.problem import BuildInput, Network, build_problem
from coordinator.process import CoordinatorProcess
from coordinator.runtime import Runtime
from coordinator.scheduling.runner import plan
from coordinator.services import builds, designs, network
from coordinator.services.auth import Actor
from coordinator.services.network import view_from_capabilities
from coordinator.settings import Settings, load_settings

log = logging.getLogger(__name__)
DEMO = Actor(name="demo-builder", role="builder")  # the builder whose token the demo prints
DEMO_ROLES = ("designer", "builder", "operator")
DESIGNER = "demo-designer"  # the name of the designer token the demo prints
TARGET_S = 120.0
PRINTER = {"process": "fdm_print", "make": "Prusa", "model": "i3 MK3S+", "build_volume_mm": [250, 210, 210],
           "nozzle_mm": 0.4, "materials": ["pla", "petg"], "max_hotend_c": 285, "max_bed_c": 120}  # fmt: skip
BIG_PRINTER = {**PRINTER, "make": "Voron", "model": "2.4 350", "build_volume_mm": [350, 350, 340],
               "materials": ["pla", "petg", "asa", "abs"], "speed_factor": 1.6}  # fmt: skip
BENCH = {"process": "assembly", "make": "workbench", "model": "assembly bench"}


def spool(material: str, colour: str, remaining_g: float, number: str) -> dict[str, Any]:
    """What a printer's agent config says is loaded (1 kg spools at a common price)."""
    price = {"pla": 24.99, "petg": 29.99}.get(material, 34.99)
    return {"id": number, "material": material, "colour": colour, "initial_g": 1000,
            "remaining_g": remaining_g, "vendor": "Prusament", "cost_per_kg": price}  # fmt: skip


def printer(base: dict[str, Any], loaded: dict[str, Any]) -> dict[str, Any]:
    return {**base, "spool": loaded}


@dataclass(frozen=True)
class DemoFablab:
    id: str
    name: str
    place: tuple[float, float]
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    hourly_rate: float | None = None  # what a machine hour costs there (EUR): the ledger's cost of a job


FABLABS = (
    DemoFablab("fablab-berlin", "Fab Lab Berlin", (52.5200, 13.4050), {
        "prusa-1": printer(PRINTER, spool("pla", "galaxy black", 1000, "B-PLA-01")),
        "prusa-2": printer(PRINTER, spool("petg", "orange", 750, "B-PETG-02")),
        # nearly empty: it takes only small parts, and the dashboard says why it refuses the others
        "voron-1": printer(BIG_PRINTER, spool("pla", "galaxy black", 12, "B-PLA-03")),
        "laser-1": {"process": "laser_cut", "make": "Trotec", "model": "Speedy 400 flexx",
                    "build_volume_mm": [1000, 610, 25],
                    "materials": ["plywood", "acrylic", "steel", "aluminium"]},
        "bench-1": BENCH, "bench-2": BENCH,
    }, hourly_rate=8.0),
    DemoFablab("fablab-leipzig", "Makerspace Leipzig", (51.3397, 12.3731), {
        "prusa-1": printer(PRINTER, spool("pla", "galaxy black", 1000, "L-PLA-01")),
        "prusa-2": printer(PRINTER, spool("petg", "orange", 1000, "L-PETG-01")),
        "plasma-1": {"process": "plasma_cut", "make": "Hypertherm", "model": "Powermax 45 table",
                     "build_volume_mm": [1250, 2500, 20], "materials": ["steel", "stainless"]},
        "mill-1": {"process": "cnc_mill", "make": "Tormach", "model": "PCNC 440",
                   "build_volume_mm": [254, 160, 254], "materials": ["aluminium", "pom"]},
        "bench-1": BENCH,
    }, hourly_rate=6.0),
    DemoFablab("fablab-dresden", "Offene Werkstatt Dresden", (51.0504, 13.7373), {
        "prusa-1": printer(PRINTER, spool("pla", "galaxy black", 1000, "D-PLA-01")),
        "voron-1": printer(BIG_PRINTER, spool("asa", "black", 1000, "D-ASA-01")),
        "pcb-1": {"process": "pcb_fab", "make": "LPKF", "model": "ProtoMat S64",
                  "build_volume_mm": [229, 305, 10], "materials": ["fr4"]},
        "pnp-1": {"process": "pcb_assembly", "make": "Neoden", "model": "YY1",
                  "build_volume_mm": [355, 355, 10], "materials": ["fr4"]},
        "bench-1": BENCH,
    }, hourly_rate=5.0),
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_settings(folder: Path, port: int, dispatch: dict[str, Any] | None = None) -> Settings:
    return load_settings(
        env={},
        overrides={
            "storage": {"data_dir": str(folder)},
            "server": {"port": port},
            "mqtt": {"embedded_port": free_port()},
            "dispatch": dict(dispatch or {}),
        },
    )


def machine_views() -> list[MachineView]:
    """The demo network's machines as the planner sees them (before any agent is up)."""
    return [
        view_from_capabilities(lab.id, mid, caps) for lab in FABLABS for mid, caps in lab.machines.items()
    ]


def estimate_makespan_min(process: CoordinatorProcess, design: str, units: int, site: str) -> int:
    """Plan the build on paper (priority rules, no agents yet) to choose the time scale."""
    rt = process.runtime
    assert rt is not None
    with session_scope(rt.engine) as session:
        release = designs.get_version(session, design, "latest")
        bom = designs.load_bom(session, release)
        reports = designs.mesh_reports(session, release)
        by_path = {
            f.path: reports[f.sha256] for f in designs.version_files(session, release) if f.sha256 in reports
        }
    breakdown = break_down(bom, units, by_path)
    # the demo receives every purchased part at once, so no assembly waits for a delivery
    breakdown.assembly_tasks = [dataclasses.replace(a, release_minutes=0.0) for a in breakdown.assembly_tasks]
    places = {lab.id: lab.place for lab in FABLABS}
    demo_network = Network(machine_views(), transport_table(places, [site]))
    problem = build_problem([BuildInput("demo", breakdown, site)], demo_network).problem
    return max(1, plan(problem, "lst").makespan)


def agent_config(lab: DemoFablab, process: CoordinatorProcess, time_scale: float) -> dict[str, Any]:
    settings = process.settings
    config: dict[str, Any] = {
        "agent": {
            "fablab": lab.id, "id": "agent-1", "coordinator_url": process.url,
            "mqtt_url": f"mqtt://{settings.mqtt.embedded_host}:{settings.mqtt.embedded_port}",
            "heartbeat_s": 5, "local_port": 0, "progress_interval_s": 1.0,
        },
    }  # fmt: skip
    for machine_id, caps in lab.machines.items():
        config[f"machine {machine_id}"] = {**caps, "driver": "simulated", "operator_confirm": False,
                                           "time_scale": time_scale}  # fmt: skip
    return config


class Demo:
    """Runs the whole demo; `start` returns once the build is under way."""

    def __init__(self, folder: Path, port: int, design: str = "reprap-printer", units: int = 1,
                 site: str = "fablab-berlin", target_s: float = TARGET_S,
                 dispatch: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.folder, self.design, self.units, self.site, self.target_s = folder, design, units, site, target_s
        self.process = CoordinatorProcess(demo_settings(folder, port, dispatch))
        self.agents: list[Any] = []
        self.build_id = ""
        self.time_scale = 1.0
        self.published: list[str] = []
        self.tokens: dict[str, str] = {}
        self.delivery_s = target_s / 8  # the parcels take an eighth of the build
        self._stopping = threading.Event()

    def start(self, say: Callable[[str], None] = print) -> Demo:
        self.process.start()
        assert self.process.runtime is not None
        self.published = publish_examples(self.process.runtime)
        say(f"published {len(self.published)} example designs: {', '.join(self.published)}")
        self._set_profiles()
        self.tokens = self._make_tokens()
        makespan = estimate_makespan_min(self.process, self.design, self.units, self.site)
        self.time_scale = max(1.0, makespan * 60.0 / self.target_s)
        say(f"planned {self.design} on paper: {makespan} min of work; running {self.time_scale:.0f}x faster")
        planner = getattr(self.process.dispatcher, "planner", None)
        if planner is not None:
            planner.time_scale = self.time_scale  # plans, ETAs and the Gantt on the demo's clock
        self._start_agents()
        self._wait_for_agents()
        self.build_id = self._start_build()
        say(f"the builder ordered the purchased parts ahead; they arrive in {self.delivery_s:.0f} s")
        threading.Thread(target=self._deliver_purchases, name="demo-delivery", daemon=True).start()
        return self

    def _set_profiles(self) -> None:
        rt = self.process.runtime
        assert rt is not None
        with session_scope(rt.engine) as session:
            for lab in FABLABS:
                profile = {"name": lab.name, "latitude": lab.place[0], "longitude": lab.place[1],
                           "hourly_rate": lab.hourly_rate}  # fmt: skip
                network.set_profile(session, lab.id, profile, register=True)

    def _make_tokens(self) -> dict[str, str]:
        """A token for each person of the demo (shown once), so anyone can sign in and act."""
        from coordinator.services.auth import create_token

        rt = self.process.runtime
        assert rt is not None
        with session_scope(rt.engine) as session:
            return {role: create_token(session, role, name=f"demo-{role}")[1] for role in DEMO_ROLES}

    def _start_agents(self) -> None:
        from fablab_agents.agent import Agent
        from fablab_agents.config import load_agent_config

        for lab in FABLABS:
            config = load_agent_config(agent_config(lab, self.process, self.time_scale))
            agent = Agent(config, self.folder / "agents" / lab.id)
            agent.start()
            self.agents.append(agent)

    def _wait_for_agents(self, timeout_s: float = 30.0) -> None:
        rt = self.process.runtime
        assert rt is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with session_scope(rt.engine) as session:
                online = {link.fablab for link in session.exec(select(AgentLink)) if link.online}
            if online >= {lab.id for lab in FABLABS}:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the demo agents did not come online within {timeout_s:.0f} s")

    def _start_build(self) -> str:
        rt = self.process.runtime
        assert rt is not None
        build_id: str = rt.bus.handle(StartBuild(self.design, "latest", self.units, self.site, 0, None, DEMO))
        # the builder ordered the hardware ahead, so that it arrives as the printing starts
        with session_scope(rt.engine) as session:
            lead = max((p.lead_time_days or 0.0 for p in builds.purchases(session, build_id)), default=0.0)
        ahead = datetime.now(UTC) - timedelta(days=lead)
        rt.bus.handle(OrderPurchases(build_id, None, DEMO, ordered_at=ahead))
        return build_id

    def _deliver_purchases(self) -> None:
        """The parcels arrive and the builder marks them received (until then the build's page waits)."""
        if self._stopping.wait(self.delivery_s) or self.process.runtime is None:
            return
        self.process.runtime.bus.handle(ReceivePurchases(self.build_id, None, DEMO))

    def build_state(self) -> tuple[str, str, dict[str, int]]:
        rt = self.process.runtime
        assert rt is not None
        with session_scope(rt.engine) as session:
            build = session.get(Build, self.build_id)
            assert build is not None
            report = builds.build_report(session, build)
            return build.state, build.reason, report["progress"]

    def wait_until_done(self, timeout_s: float, say: Callable[[str], None] = print) -> bool:
        """Report progress until the build ends; True when it completed."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            state, reason, progress = self.build_state()
            line = f"build {self.build_id}: {state}, {progress['done']}/{progress['total']} tasks done"
            if line != last:
                say(line)
                last = line
            if state == BuildState.DONE:
                return True
            if state in {BuildState.FAILED, BuildState.CANCELLED}:
                say(f"build ended: {reason}")
                return False
            time.sleep(1.0)
        say(f"build not finished after {timeout_s:.0f} s")
        return False

    def stop(self) -> None:
        self._stopping.set()
        for agent in self.agents:
            agent.stop()
        self.process.stop()


def publish_examples(rt: Runtime) -> list[str]:
    """Publish every example design package through the registry service."""
    from designs import example_paths

    refs = []
    for path in example_paths():
        with session_scope(rt.engine) as session:
            # published by the demo's designer, so the designer token it prints maintains them
            version, _ = designs.publish_path(session, rt.store, path, rt.settings.limits, by=DESIGNER)
            refs.append(f"{designs.get_design_by_id(session, version.design_id).slug}@{version.version}")
    return refs
