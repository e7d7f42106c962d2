"""The dispatcher's own cost: its burst and round steps fed directly, with no broker in between.

    python benchmarks/dispatch_steps.py [--jobs 3000] [--agents 500] [--database URL]

500 agents are born, `--jobs` jobs are submitted, then dispatch rounds alternate with bursts of
the agents' `job:accepted` and `job:done` events (500 messages a burst, as the dispatcher
drains them) until every job is done. It reports wall time and the calling thread's CPU time per
job lifecycle. With no MQTT in the way, the figures move less from run to run than those of
benchmarks/dispatch.py: use it to compare changes of the dispatcher, alternating runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dispatch import FABLAB, answers, birth  # noqa: E402
from coordinator.db import session_scope  # noqa: E402
from coordinator.heap import settle_after_startup  # noqa: E402
from coordinator.mqtt.handlers import Incoming  # noqa: E402
from coordinator.mqtt.service import DispatchService  # noqa: E402
from coordinator.runtime import Runtime  # noqa: E402
from coordinator.services import jobs  # noqa: E402
from coordinator.services.jobs import Effects  # noqa: E402
from coordinator.settings import load_settings  # noqa: E402
from protocol import payloads as p  # noqa: E402
from protocol import topics  # noqa: E402
from tests.support.databases import add_database_option, bench_database  # noqa: E402

BURST = 500


def births(agents: int) -> list[Incoming]:
    return [
        Incoming(topics.agent_topic(FABLAB, f"agent-{i}", "state"), p.encode(birth(f"agent-{i}")))
        for i in range(agents)
    ]


def replies(offers: list[tuple[str, str, p.JobOffer]], seqs: dict[str, int]) -> list[Incoming]:
    """Each offer accepted and done at once, as the simulated agents of the MQTT benchmark do."""
    messages = []
    for fablab, agent, offer in offers:
        events = answers(offer, seqs.get(agent, 0) + 1)
        seqs[agent] = events[-1].seq
        topic = topics.agent_topic(fablab, agent, "events")
        messages += [Incoming(topic, p.encode(event)) for event in events]
    return messages


def run(rt: Runtime, agents: int, count: int) -> tuple[float, float, dict[str, int]]:
    """(wall ms, CPU ms) per lifecycle and the dispatcher's counters."""
    service = DispatchService(rt, lease_s=600, tick_s=0.5)  # not started: no broker, no threads
    service._handle_burst(births(agents), Effects())
    settle_after_startup()
    spec = jobs.JobSpec(file_sha256="0" * 64, file_name="bench.gcode", process="fdm_print", material="pla")
    seqs: dict[str, int] = {}
    wall, cpu = time.perf_counter(), time.thread_time()
    with session_scope(rt.engine) as session:
        for first in range(0, count, jobs.MAX_QUANTITY):
            jobs.submit_jobs(session, spec, min(jobs.MAX_QUANTITY, count - first))
    while True:
        effects = Effects()
        service._round(effects)
        offers = [(fablab, agent, c) for fablab, agent, c in effects.commands if isinstance(c, p.JobOffer)]
        pending = replies(offers, seqs)
        if not pending:
            break
        for start in range(0, len(pending), BURST):
            service._handle_burst(pending[start : start + BURST], Effects())
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    with session_scope(rt.engine) as session:
        done = jobs.count_by_state(session).get("done", 0)
    if done != count:
        raise SystemExit(f"only {done} of {count} jobs ended done")
    return 1000 * wall / count, 1000 * cpu / count, service.stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--agents", type=int, default=500)
    add_database_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        database = stack.enter_context(bench_database(args.database))
        overrides = {"database": {"url": database}, "storage": {"data_dir": str(Path(tmp) / "data")}}
        rt = Runtime.open(load_settings(env={}, overrides=overrides))
        try:
            wall_ms, cpu_ms, stats = run(rt, args.agents, args.jobs)
        finally:
            rt.engine.dispose()
    print(f"database     {rt.engine.dialect.name}")
    print(f"jobs/agents  {args.jobs} / {args.agents}")
    print(f"wall         {wall_ms:.3f} ms per lifecycle")
    print(f"CPU          {cpu_ms:.3f} ms per lifecycle")
    print(f"dispatcher   {stats}")


if __name__ == "__main__":
    main()
