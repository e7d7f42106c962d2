"""A fleet as it really loads the coordinator: many machines reporting, jobs ending steadily, people watching.

N agents × M machines on a private Mosquitto (simulated in one harness process, `fleet_harness.py`):
every machine sends its status every 5 s and its progress every 10 s while printing, every agent a
heartbeat every 10 s, and jobs end at a steady rate (`--end-rate`); 100 dashboard pages follow the live
stream. The coordinator (HTTP server and dispatcher, as `peerfab coordinator` runs them) runs in this
process on the database given. After a warm-up (every machine printing), it measures for `--duration`:

- event lag: an agent publishes a progress report -> the coordinator committed it;
- dispatch latency: a machine said it is idle (with jobs queued for it) -> the offer reached the agent;
- push latency: a change committed -> a dashboard page received it;
- baseline: the event lag a bare subscriber to the same topics sees in the same run (the broker's and the
  loaded machine's share of the lag, before any coordinator work);

each as p50/p99, and the coordinator's CPU (its process and its MQTT network process, in cores) and
memory. Run: python benchmarks/fleet.py --machines 5000 --duration 120 --database URL --json
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fleet_harness import FleetPlan, run_fleet, run_floor, run_viewers  # noqa: E402
from coordinator.dashboard.live import latest_event_id  # noqa: E402
from coordinator.db import session_scope  # noqa: E402
from coordinator.jobs.commands import COORDINATOR, SubmitJobs  # noqa: E402
from coordinator.jobs.outbox import Effects  # noqa: E402
from coordinator.jobs.submission import JobSpec  # noqa: E402
from coordinator.process import CoordinatorProcess  # noqa: E402
from coordinator.settings import load_settings  # noqa: E402
from tests.support.databases import add_database_option, bench_database  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402

SPEC = JobSpec(file_sha256="f" * 64, file_name="part.gcode", process="fdm_print", material="pla")
TARGETS = {"event_lag_p99_s": 1.0, "dispatch_latency_p99_s": 2.0, "push_latency_p99_s": 2.0, "cpu_cores": 1.0}


@dataclass
class Commits:
    """When the coordinator committed what the harness sent (recorded by a hook on its outbox)."""

    progress: dict[str, float]
    events: dict[int, float]

    def record(self, effects: Effects) -> None:
        at = time.time()
        for job in effects.written.jobs:
            self.progress.setdefault(f"{job.id}|{round(job.progress, 6)}", at)
        for event_id, _row in effects.written.events:
            self.events[event_id] = at


def hook(process: CoordinatorProcess, commits: Commits) -> None:
    outbox = process.runtime.outbox  # type: ignore[union-attr]
    deliver = outbox.deliver

    def recording(effects: Effects) -> None:
        commits.record(effects)
        deliver(effects)

    outbox.deliver = recording  # type: ignore[method-assign]


def profile_worker(process: CoordinatorProcess, profiler: cProfile.Profile, after: float) -> None:
    """Profile the dispatcher worker's steps (bursts, rounds, housekeeping) once `after` has passed."""
    dispatcher = process.dispatcher
    assert dispatcher is not None
    guarded = dispatcher._guarded

    def profiled(name: str, step: Any, *args: Any) -> None:
        if time.time() < after:
            guarded(name, step, *args)
            return
        profiler.enable()
        try:
            guarded(name, step, *args)
        finally:
            profiler.disable()

    dispatcher._guarded = profiled  # type: ignore[method-assign]


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p99": None, "n": 0}
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 4),
        "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 4),
        "n": len(ordered),
    }


class CpuMeter:
    """CPU seconds and resident memory of this process and its children (the MQTT network process), but
    not of the load's processes (fleet, viewers, baseline subscriber)."""

    def __init__(self, load: list[int]) -> None:
        self.me = psutil.Process()
        self.load = set(load)
        self.peak_rss = 0

    def processes(self) -> list[psutil.Process]:
        return [self.me, *[c for c in self.me.children(recursive=True) if c.pid not in self.load]]

    def cpu_s(self) -> float:
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total

    def sample_rss(self) -> None:
        rss = 0
        for proc in self.processes():
            try:
                rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        self.peak_rss = max(self.peak_rss, rss)


def run(args: argparse.Namespace, database_url: str | None, workdir: Path) -> dict[str, Any]:
    broker = Mosquitto(
        workdir=workdir / "mosquitto",
        extra_config="max_queued_messages 1000000\nmax_inflight_messages 1000\n",
    ).start()
    overrides: dict[str, Any] = {
        "storage": {"data_dir": str(workdir / "data")},
        "server": {"port": 0, "event_streams": args.viewers + 20},
        "mqtt": {"url": broker.url, "client_id": "fleet-coordinator"},
        "dispatch": {"tick_s": 1.0},
    }
    if database_url:
        overrides["database"] = {"url": database_url}
    process = CoordinatorProcess(load_settings(env={}, overrides=overrides)).start()
    commits = Commits({}, {})
    hook(process, commits)
    try:
        return measure(args, process, broker, commits, workdir)
    finally:
        process.stop()
        broker.stop()


def measure(
    args: argparse.Namespace, process: CoordinatorProcess, broker: Mosquitto, commits: Commits, workdir: Path
) -> dict[str, Any]:
    rt = process.runtime
    assert rt is not None
    machines = args.agents * args.machines_per_agent
    job_s = machines / args.end_rate
    jobs = machines + int(args.end_rate * (args.duration + args.warmup) * 1.5) + 100
    for start in range(0, jobs, 1000):
        rt.bus.handle(SubmitJobs(SPEC, min(1000, jobs - start), COORDINATOR))
    with session_scope(rt.engine) as session:
        after = latest_event_id(session)
    warm_until = time.time() + args.warmup
    stop_at = warm_until + args.duration
    profiler = cProfile.Profile()
    if args.profile:
        profile_worker(process, profiler, warm_until)
    plan = FleetPlan(
        broker.host,
        broker.port,
        args.fablabs,
        args.agents // args.fablabs,
        args.machines_per_agent,
        job_s,
        stop_at=stop_at,
        out=str(workdir / "fleet.json"),
    )
    context = mp.get_context("spawn")
    fleet = context.Process(target=run_fleet, args=(asdict(plan),), name="fleet")
    viewers = context.Process(
        target=run_viewers,
        args=(process.url, args.viewers, after, stop_at, str(workdir / "viewers.json")),
        name="fleet-viewers",
    )
    floor = context.Process(
        target=run_floor,
        args=(broker.host, broker.port, stop_at, str(workdir / "floor.json")),
        name="fleet-floor",
    )
    floor.start()
    fleet.start()
    viewers.start()
    meter = CpuMeter([p.pid for p in (floor, fleet, viewers) if p.pid is not None])
    while time.time() < warm_until:
        time.sleep(0.5)
    cpu_start, wall_start = meter.cpu_s(), time.time()
    while time.time() < stop_at:
        meter.sample_rss()
        time.sleep(1.0)
    cpu_end, wall_end = meter.cpu_s(), time.time()
    if args.profile:
        profiler.dump_stats(args.profile)
    fleet.join(120)
    viewers.join(120)
    floor.join(120)
    seen = json.loads((workdir / "fleet.json").read_text())
    seen["floor"] = json.loads((workdir / "floor.json").read_text())
    watched = json.loads((workdir / "viewers.json").read_text())
    return report(
        args,
        seen,
        watched,
        commits,
        warm_until,
        stop_at,
        (cpu_end - cpu_start) / (wall_end - wall_start),
        meter.peak_rss,
        process.dispatcher.stats if process.dispatcher else {},
        process.dispatcher.timings.report() if process.dispatcher else {},
    )


def report(
    args: argparse.Namespace,
    seen: dict[str, Any],
    watched: dict[str, Any],
    commits: Commits,
    start: float,
    stop: float,
    cores: float,
    rss: int,
    stats: dict[str, int],
    timings: dict[str, dict[str, float]],
) -> dict[str, Any]:
    lags = [
        commits.progress[key] - sent
        for key, sent in seen["progress"].items()
        if start <= sent <= stop and key in commits.progress
    ]
    floor = [
        seen["floor"][key] - sent
        for key, sent in seen["progress"].items()
        if start <= sent <= stop and key in seen["floor"]
    ]
    sent_in_window = sum(1 for sent in seen["progress"].values() if start <= sent <= stop)
    dispatch = _dispatch_latencies(seen, start, stop)
    pushes = [
        at - commits.events[int(event_id)]
        for page in watched["seen"]
        for event_id, at in page.items()
        if int(event_id) in commits.events and start <= commits.events[int(event_id)] <= stop
    ]
    result = {
        "machines": args.agents * args.machines_per_agent,
        "agents": args.agents,
        "viewers": args.viewers,
        "duration_s": args.duration,
        "database": "postgresql" if args.database else "sqlite",
        "messages_per_s": round(seen["published"] / (args.duration + args.warmup), 1),
        "jobs_ended": sum(1 for t in seen["ended"].values() if start <= t <= stop),
        "event_lag_s": percentiles(lags),
        "progress_reports_committed": f"{len(lags)} of {sent_in_window}",
        "baseline_event_lag_s": percentiles(floor),
        "dispatch_latency_s": percentiles(dispatch),
        "push_latency_s": percentiles(pushes),
        "viewer_errors": len(watched["errors"]),
        "cpu_cores": round(cores, 3),
        "rss_mb": round(rss / 2**20, 1),
        "dispatcher": stats,
        "worker_steps": timings,
    }
    result["targets_met"] = _met(result)
    return result


def _dispatch_latencies(seen: dict[str, Any], start: float, stop: float) -> list[float]:
    """For each offer in the window: from the machine's last idle report before it to its arrival."""
    latencies = []
    for _job, machine, arrived in seen["offers"]:
        idle = [t for t in seen["idle"].get(machine, []) if t <= arrived]
        if idle and start <= idle[-1] <= stop:
            latencies.append(arrived - idle[-1])
    return latencies


def _met(result: dict[str, Any]) -> bool:
    values = {
        "event_lag_p99_s": result["event_lag_s"]["p99"],
        "dispatch_latency_p99_s": result["dispatch_latency_s"]["p99"],
        "push_latency_p99_s": result["push_latency_s"]["p99"],
        "cpu_cores": result["cpu_cores"],
    }
    return all(v is not None and v <= TARGETS[k] for k, v in values.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=5000, help="machines in the fleet")
    parser.add_argument("--machines-per-agent", type=int, default=10)
    parser.add_argument("--fablabs", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds measured after the warm-up")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds for births and the first offers")
    parser.add_argument("--end-rate", type=float, default=3.0, help="jobs ending per second")
    parser.add_argument("--viewers", type=int, default=100, help="dashboard pages following the live stream")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", type=Path, help="cProfile the worker's window into FILE")
    add_database_option(parser)
    args = parser.parse_args()
    args.agents = max(1, args.machines // args.machines_per_agent)
    args.fablabs = max(1, min(args.fablabs, args.agents))
    args.agents -= args.agents % args.fablabs
    with bench_database(args.database) as url, tempfile.TemporaryDirectory(prefix="peerfab-fleet-") as tmp:
        result = run(args, url, Path(tmp))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
