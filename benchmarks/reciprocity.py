"""Reciprocity under contention: each fablab's waiting time with the plain order and with reciprocity.

Six fablabs with two printers each share their machines. Their past contributions to each other's
builds differ (seeded into the commons ledger by the ledger's own mapping and `record`, see
`tests/support/contributions.py`): lab-1 made the most for others, lab-6 received the most and gave
nothing. Each lab then starts builds at random times over the first hours; a build's parts arrive
as jobs at once, so the printers are contended for most of the run. The dispatch rounds run in
process, in simulated time, through the real bus: each round offers jobs, the machine accepts and
starts at once and reports done when its job's simulated duration is over, and a round runs after
every arrival and completion. Both runs get the same builds (same seed) on fresh databases: the
plan policy (the builds' jobs carry no plan here, so it matches them first-in first-out) and the
same with reciprocity on.

For each lab: the mean and p95 wait (queued to offered, simulated minutes), and the longest wait
anyone had. Run: python benchmarks/reciprocity.py [--seed 7] [--database URL] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
import random
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coordinator.db import session_scope  # noqa: E402
from coordinator.jobs.commands import COORDINATOR, DispatchRound, SubmitJobs  # noqa: E402
from coordinator.jobs.dispatch import PlanPolicy  # noqa: E402
from coordinator.jobs.reciprocity import ReciprocityOrder  # noqa: E402
from coordinator.jobs.submission import JobSpec  # noqa: E402
from coordinator.models.builds import BuildState  # noqa: E402
from coordinator.models.jobs import AgentLink, Fablab, Job, Machine  # noqa: E402
from coordinator.runtime import Runtime  # noqa: E402
from coordinator.settings import ReciprocitySettings, load_settings  # noqa: E402
from protocol import payloads as p  # noqa: E402
from tests.support.agents import BusAgent, RecordingTransport, attach_transport  # noqa: E402
from tests.support.contributions import give, seeded_build  # noqa: E402
from tests.support.databases import add_database_option, bench_database  # noqa: E402

LABS = [f"lab-{n}" for n in range(1, 7)]
# machine hours each lab made for other labs' builds, and received from them, over the last 60 days
GIVEN_HOURS = {"lab-1": 200, "lab-2": 120, "lab-3": 60, "lab-4": 40, "lab-5": 20, "lab-6": 0}
RECEIVED_HOURS = {"lab-1": 20, "lab-2": 40, "lab-3": 60, "lab-4": 80, "lab-5": 100, "lab-6": 140}
PRINTERS_PER_LAB = 2
PRINTER = {"process": "fdm_print", "materials": ["pla"], "build_volume_mm": [250, 210, 210], "nozzle_mm": 0.4}
SPEC = JobSpec(file_sha256="b" * 64, file_name="part.gcode", process="fdm_print", material="pla")
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Arrival:
    at_s: float
    lab: str
    minutes: list[float]  # one job per part, its simulated duration


def builds(seed: int, per_lab: int, hours: float) -> list[Arrival]:
    """Each lab starts `per_lab` builds at random times in the first `hours`; 4 to 10 parts each."""
    rng = random.Random(seed)
    arrivals = [
        Arrival(rng.uniform(0, hours * 3600), lab, [rng.uniform(20, 100) for _ in range(rng.randint(4, 10))])
        for lab in LABS
        for _ in range(per_lab)
    ]
    return sorted(arrivals, key=lambda a: a.at_s)


@dataclass
class Sim:
    """One run: the coordinator's bus on a fresh database, the simulated clock and the machines."""

    runtime: Runtime
    now_s: float = 0.0
    submitted: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # job: lab, at, minutes
    waits: dict[str, list[float]] = field(default_factory=dict)
    agents: dict[str, BusAgent] = field(default_factory=dict)

    def clock(self) -> datetime:
        return START + timedelta(seconds=self.now_s)


def seed_network(runtime: Runtime, rng: random.Random) -> dict[str, str]:
    """The fablabs, their printers, their past contributions; each lab's live build id."""
    with session_scope(runtime.engine) as session:
        for lab in LABS:
            session.add(Fablab(id=lab))
        session.flush()
        for lab in LABS:
            session.add(AgentLink(fablab=lab, agent="agent-1", online=True))
            for n in range(PRINTERS_PER_LAB):
                session.add(Machine(fablab=lab, machine_id=f"printer-{n}", agent="agent-1",
                                    capabilities=PRINTER, status="idle"))  # fmt: skip
        for giver, taker in contributions(rng):
            at = START - timedelta(days=rng.uniform(1, 60))
            build = seeded_build(session, taker, f"builder-{taker}", at)
            give(session, giver, build, f"builder-{taker}", at, hours=5, grams=250, parts=6)
        return {lab: seeded_build(session, lab, f"builder-{lab}", START, BuildState.ACTIVE) for lab in LABS}


def contributions(rng: random.Random) -> list[tuple[str, str]]:
    """5-hour contributions (giver, taker) that add up to each lab's given and received hours."""
    wanted = {lab: hours // 5 for lab, hours in RECEIVED_HOURS.items()}
    pairs = []
    for giver, hours in GIVEN_HOURS.items():
        for _ in range(hours // 5):
            takers = [lab for lab, left in wanted.items() if left > 0 and lab != giver]
            if takers:
                taker = rng.choices(takers, weights=[wanted[lab] for lab in takers])[0]
                wanted[taker] -= 1
                pairs.append((giver, taker))
    return pairs


def run(arrivals: list[Arrival], url: str | None, data_dir: Path, weights: ReciprocitySettings | None) -> Sim:
    """Every build of `arrivals` through the dispatch rounds; the waits per lab (simulated minutes)."""
    overrides: dict[str, Any] = {"storage": {"data_dir": str(data_dir)}}
    if url:
        overrides["database"] = {"url": url}
    runtime = Runtime.open(load_settings(env={}, overrides=overrides))
    sim = Sim(runtime, agents={lab: BusAgent(runtime, lab, "agent-1") for lab in LABS})
    live = seed_network(runtime, random.Random(1))
    for agent in sim.agents.values():
        agent.birth(*_printers())
    order = ReciprocityOrder(weights, clock=sim.clock) if weights is not None else None
    runtime.bus.deps.policy = PlanPolicy(order)
    transport = attach_transport(runtime)
    events: list[tuple[float, int, str, Any]] = [(a.at_s, n, "arrive", a) for n, a in enumerate(arrivals)]
    heapq.heapify(events)
    serial = len(events)
    while events:
        sim.now_s, _, kind, what = heapq.heappop(events)
        if kind == "arrive":
            _submit(sim, what, live[what.lab])
        else:
            _finish(sim, what)
        while events and events[0][0] == sim.now_s:  # everything of this instant, then one round
            _, _, kind, what = heapq.heappop(events)
            _submit(sim, what, live[what.lab]) if kind == "arrive" else _finish(sim, what)
        for fablab, offer in _round(runtime, transport):
            lab, queued_s, minutes = sim.submitted[offer.job_id]
            sim.waits.setdefault(lab, []).append((sim.now_s - queued_s) / 60)
            agent = sim.agents[fablab]
            agent.job_event(p.JobAccepted, offer)
            agent.job_event(p.JobProgress, offer, progress=0.01)
            serial += 1
            heapq.heappush(events, (sim.now_s + minutes * 60, serial, "finish", (agent, offer)))
    runtime.engine.dispose()
    return sim


def _printers() -> list[p.MachineInfo]:
    caps = p.Capabilities.model_validate(PRINTER)
    return [
        p.MachineInfo(id=f"printer-{n}", driver="simulated", status="idle", capabilities=caps,
                      operator_confirm=False)
        for n in range(PRINTERS_PER_LAB)
    ]  # fmt: skip


def _submit(sim: Sim, arrival: Arrival, build_id: str) -> None:
    """The build's parts are queued now (simulated time), one job each."""
    spec = dataclasses.replace(SPEC, params={"build": build_id})
    ids = list(sim.runtime.bus.handle(SubmitJobs(spec, len(arrival.minutes), COORDINATOR)))
    with session_scope(sim.runtime.engine) as session:
        for n, job_id in enumerate(ids):
            job = session.get(Job, job_id)
            assert job is not None
            job.created_at = sim.clock() + timedelta(microseconds=n)  # queued at simulated time
            sim.submitted[job_id] = (arrival.lab, sim.now_s, arrival.minutes[n])


def _finish(sim: Sim, what: tuple[BusAgent, p.JobOffer]) -> None:
    agent, offer = what
    agent.job_event(p.JobDone, offer)
    agent.send(p.MachineStatusEvent, machine_id=offer.machine_id, status="idle")


def _round(runtime: Runtime, transport: RecordingTransport) -> list[tuple[str, p.JobOffer]]:
    """One dispatch round; the offers it made, with the fablab of each machine."""
    before = len(transport.sent)
    runtime.bus.handle(DispatchRound())
    return [(o.fablab, o.command) for o in transport.sent[before:] if isinstance(o.command, p.JobOffer)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(sims: list[Sim]) -> dict[str, Any]:
    """Each lab's waits over the runs: jobs, mean and p95; the longest wait; the mean time to finish."""
    pooled: dict[str, list[float]] = {}
    for sim in sims:
        for lab, waits in sim.waits.items():
            pooled.setdefault(lab, []).extend(waits)
    labs = {
        lab: {"jobs": len(w), "mean_min": round(statistics.fmean(w), 1), "p95_min": round(p95(w), 1)}
        for lab, w in sorted(pooled.items())
    }
    longest = max(w for waits in pooled.values() for w in waits)
    finish = statistics.fmean(sim.now_s for sim in sims) / 3600
    return {"labs": labs, "longest_wait_min": round(longest, 1), "finish_h": round(finish, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=7, help="first seed")
    parser.add_argument("--runs", type=int, default=5, help="runs with seeds SEED, SEED+1...; waits pooled")
    parser.add_argument("--builds-per-lab", type=int, default=3)
    parser.add_argument("--hours", type=float, default=10.0, help="builds start within the first HOURS")
    add_database_option(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.builds_per_lab < 1 or args.hours <= 0 or args.runs < 1:
        parser.error("--builds-per-lab and --runs must be at least 1, --hours above 0")
    weights = ReciprocitySettings(enabled=True)
    results: dict[str, Any] = {}
    for name, chosen in (("plain", None), ("reciprocity", weights)):
        sims = []
        for seed in range(args.seed, args.seed + args.runs):
            arrivals = builds(seed, args.builds_per_lab, args.hours)
            with bench_database(args.database) as url, tempfile.TemporaryDirectory(prefix="peerfab-") as tmp:
                sims.append(run(arrivals, url, Path(tmp), chosen))
        results[name] = summary(sims)
    results["settings"] = weights.model_dump()
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'lab':6} {'gave h':>6} {'got h':>6} {'jobs':>5} | {'plain mean':>10} {'p95':>6} |"
          f" {'recip mean':>10} {'p95':>6}")  # fmt: skip
    for lab in LABS:
        a, b = results["plain"]["labs"][lab], results["reciprocity"]["labs"][lab]
        print(f"{lab:6} {GIVEN_HOURS[lab]:>6} {RECEIVED_HOURS[lab]:>6} {a['jobs']:>5} | {a['mean_min']:>10}"
              f" {a['p95_min']:>6} | {b['mean_min']:>10} {b['p95_min']:>6}")  # fmt: skip
    for name in ("plain", "reciprocity"):
        r = results[name]
        print(
            f"{name}: longest wait {r['longest_wait_min']} min, all done after {r['finish_h']} h on average"
        )


if __name__ == "__main__":
    main()
