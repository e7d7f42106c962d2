"""Dispatch throughput: job lifecycles through the coordinator vs raw paho QoS 1 round trips.

    python benchmarks/dispatch.py --jobs 10000 --agents 500 [--database URL]

Starts a private Mosquitto on a free port, and runs on a fresh SQLite file or, given a PostgreSQL
URL, on a scratch database created on that server and dropped afterwards. Simulated agents (one
paho client each, all driven by one selector loop in a child process) accept every offer and
finish it at once, so what is measured is the protocol and database cost only. A lifecycle is
submit -> offer -> accepted -> done, each step a committed transition in the coordinator's database.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import selectors
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from coordinator.db import session_scope  # noqa: E402
from coordinator.heap import settle_after_startup  # noqa: E402
from coordinator.models.jobs import Job, JobState, Machine  # noqa: E402
from coordinator.mqtt.network import READER_THREAD  # noqa: E402
from coordinator.mqtt.service import DispatchService  # noqa: E402
from coordinator.runtime import Runtime  # noqa: E402
from coordinator.services import jobs  # noqa: E402
from coordinator.settings import load_settings  # noqa: E402
from protocol import payloads as p  # noqa: E402
from protocol import topics  # noqa: E402
from tests.support.databases import add_database_option, bench_database  # noqa: E402
from tests.support.mosquitto import Mosquitto  # noqa: E402

FABLAB = "bench-lab"
UNBOUNDED_QUEUES = "max_queued_messages 0\n"  # the fleet's bursts exceed Mosquitto's default of 1000
CAPS = p.Capabilities(process="fdm_print", build_volume_mm=(250, 210, 210), nozzle_mm=0.4, materials=("pla",))


# ---- raw paho round trips ----------------------------------------------------------------------


def _echo(port: int, ready: mp.synchronize.Event, stop: mp.synchronize.Event) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo")
    client.max_inflight_messages_set(100)
    client.on_message = lambda c, _u, m: c.publish("bench/pong", m.payload, qos=1)
    client.connect("127.0.0.1", port)
    client.subscribe("bench/ping", qos=1)
    client.loop_start()
    time.sleep(0.3)
    ready.set()
    stop.wait(600)
    client.disconnect()
    client.loop_stop()


def raw_round_trips(port: int, count: int, window: int = 100) -> float:
    """QoS 1 publish + echo by a second client, `window` in flight; round trips per second."""
    ready, stop = mp.Event(), mp.Event()
    echo = mp.Process(target=_echo, args=(port, ready, stop), daemon=True)
    echo.start()
    ready.wait(10)
    received = threading.Semaphore(0)
    done = threading.Event()
    counter = [0]

    def on_pong(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        counter[0] += 1
        received.release()
        if counter[0] == count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ping")
    client.max_inflight_messages_set(window)
    client.on_message = on_pong
    client.connect("127.0.0.1", port)
    client.subscribe("bench/pong", qos=1)
    client.loop_start()
    time.sleep(0.3)
    payload = p.encode(p.Heartbeat(boot_seq=1, seq=1))
    started = time.perf_counter()
    for sent in range(count):
        if sent >= window:
            received.acquire(timeout=10)
        client.publish("bench/ping", payload, qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    stop.set()
    echo.join(10)
    return counter[0] / elapsed


# ---- simulated agents --------------------------------------------------------------------------


def birth(agent: str) -> p.AgentState:
    """The birth of a simulated agent with one idle printer."""
    machine = p.MachineInfo(
        id=f"m-{agent}", driver="simulated", status="idle", capabilities=CAPS, operator_confirm=False
    )
    return p.AgentState(fablab=FABLAB, agent=agent, online=True, boot_seq=1, seq=0, machines=(machine,))


def answers(offer: p.JobOffer, seq: int) -> tuple[p.JobAccepted, p.JobDone]:
    """A simulated agent's reply to an offer: accepted at `seq`, done at `seq + 1`."""
    ids = {"job_id": offer.job_id, "attempt_id": offer.attempt_id, "machine_id": offer.machine_id}
    return p.JobAccepted(boot_seq=1, seq=seq, **ids), p.JobDone(boot_seq=1, seq=seq + 1, **ids)


class _Agent:
    """One agent with one machine that accepts and finishes every offer immediately."""

    def __init__(self, index: int, port: int, finished: Synchronized[int]) -> None:
        self.name = f"agent-{index}"
        self.finished = finished
        self.seq = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{self.name}")
        self.client.max_inflight_messages_set(100)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.connect("127.0.0.1", port, keepalive=120)

    def _topic(self, channel: topics.AgentChannel) -> str:
        return topics.agent_topic(FABLAB, self.name, channel)

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(self._topic("commands"), qos=1)
        client.publish(self._topic("state"), p.encode(birth(self.name)), qos=1, retain=True)

    def _on_message(self, client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        offer = p.decode_command(message.payload)
        if not isinstance(offer, p.JobOffer):
            return
        for event in answers(offer, self.seq + 1):
            client.publish(self._topic("events"), p.encode(event), qos=1)
        self.seq += 2
        with self.finished.get_lock():
            self.finished.value += 1


def run_agents(port: int, count: int, stop: mp.synchronize.Event, finished: Synchronized[int]) -> None:
    """Drive `count` agents from one thread with a selector over their sockets."""
    agents = [_Agent(i, port, finished) for i in range(count)]
    selector = selectors.DefaultSelector()
    for agent in agents:
        selector.register(agent.client.socket(), selectors.EVENT_READ, agent)
    last_misc = time.monotonic()
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.05):
            key.data.client.loop_read()
        for agent in agents:
            if agent.client.want_write():
                agent.client.loop_write()
        if time.monotonic() - last_misc > 1.0:
            last_misc = time.monotonic()
            for agent in agents:
                agent.client.loop_misc()
    for agent in agents:
        agent.client.disconnect()


# ---- the coordinator's side --------------------------------------------------------------------


def _count(rt: Runtime, query: object) -> int:
    with Session(rt.engine) as session:
        return int(session.exec(query).one())  # type: ignore[call-overload]


def _wait(rt: Runtime, query: object, target: int, timeout_s: float, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while _count(rt, query) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {_count(rt, query)} of {target} after {timeout_s}s")
        time.sleep(interval_s)


def _wait_for_fleet(finished: Synchronized[int], target: int, timeout_s: float) -> None:
    """Until the fleet has sent `target` job:done events (a shared counter: no query, no lock held)."""
    deadline = time.monotonic() + timeout_s
    while finished.value < target and time.monotonic() < deadline:
        time.sleep(0.02)


def thread_cpu_s(name: str) -> float:
    """CPU seconds used so far by the named thread of this process; NaN where /proc is missing."""
    thread = next((t for t in threading.enumerate() if t.name == name), None)
    return _cpu_s(Path(f"/proc/self/task/{thread.native_id}/stat") if thread and thread.native_id else None)


def process_cpu_s(pid: int) -> float:
    """CPU seconds used so far by a process (all its threads); NaN where /proc is missing."""
    return _cpu_s(Path(f"/proc/{pid}/stat"))


def _cpu_s(stat: Path | None) -> float:
    if stat is None or not stat.exists():
        return float("nan")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lifecycles(rt: Runtime, port: int, agents: int, count: int) -> tuple[float, dict[str, float]]:
    """Job lifecycles per second through the dispatcher, and its counters."""
    stop, finished = mp.Event(), mp.Value("q", 0)
    fleet = mp.Process(target=run_agents, args=(port, agents, stop, finished), daemon=True)
    service = DispatchService(rt, lease_s=600, tick_s=0.5)
    service.start()
    settle_after_startup()  # as `peerfab coordinator` does once it is up
    fleet.start()
    idle = select(func.count()).select_from(Machine).where(Machine.status == "idle")
    _wait(rt, idle, agents, 120)
    spec = jobs.JobSpec(file_sha256="0" * 64, file_name="bench.gcode", process="fdm_print", material="pla")
    assert service.link is not None and service.link.pid is not None
    network_pid = service.link.pid
    started, worker_cpu = time.perf_counter(), thread_cpu_s("dispatch-worker")
    network_cpu, reader_cpu = process_cpu_s(network_pid), thread_cpu_s(READER_THREAD)
    with session_scope(rt.engine) as session:
        for _ in range(0, count, jobs.MAX_QUANTITY):
            jobs.submit_jobs(session, spec, min(jobs.MAX_QUANTITY, count - _))
    service.wake()
    done = select(func.count()).select_from(Job).where(Job.state == JobState.DONE)
    # counting done jobs in the database every 50 ms from the start took the coordinator's
    # interpreter lock away from the dispatcher: wait for the fleet's own count, then for the commits
    _wait_for_fleet(finished, count, 1800)
    _wait(rt, done, count, 60, interval_s=0.005)
    elapsed = time.perf_counter() - started
    worker_cpu = thread_cpu_s("dispatch-worker") - worker_cpu
    network_cpu = process_cpu_s(network_pid) - network_cpu
    reader_cpu = thread_cpu_s(READER_THREAD) - reader_cpu
    stop.set()
    fleet.join(30)
    service.stop()
    per_job = {
        "worker_ms_per_job": round(1000 * worker_cpu / count, 3),
        "network_ms_per_job": round(1000 * network_cpu / count, 3),
        "reader_ms_per_job": round(1000 * reader_cpu / count, 3),
    }
    return count / elapsed, {**service.stats, **per_job}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--raw", type=int, default=20_000, help="raw round trips to time")
    add_database_option(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        database = stack.enter_context(bench_database(args.database))
        broker = Mosquitto(workdir=Path(tmp) / "mosquitto", extra_config=UNBOUNDED_QUEUES).start()
        stack.callback(broker.stop)
        settings = load_settings(
            env={},
            overrides={
                "database": {"url": database},
                "storage": {"data_dir": str(Path(tmp) / "data")},
                "mqtt": {"url": broker.url},
            },
        )
        rt = Runtime.open(settings)
        # the raw rate before and after the lifecycles, so a machine that slows down or speeds up
        # during the run moves both sides of the ratio alike
        raw_before = raw_round_trips(broker.port, args.raw)
        rate, stats = lifecycles(rt, broker.port, args.agents, args.jobs)
        raw_after = raw_round_trips(broker.port, args.raw)
        rt.engine.dispose()
    raw = (raw_before + raw_after) / 2
    print(f"database            {rt.engine.dialect.name}")
    print(f"jobs / agents       {args.jobs} / {args.agents}")
    print(f"raw QoS1 round trips {raw:10.0f} /s   (before {raw_before:.0f}, after {raw_after:.0f})")
    print(f"job lifecycles       {rate:10.0f} /s   ({3 * rate:.0f} protocol messages/s)")
    print(f"ratio                {rate / raw:10.2f}   (target >= 0.25)")
    print(f"worker CPU           {stats.pop('worker_ms_per_job'):10.2f} ms per lifecycle")
    print(f"MQTT process CPU     {stats.pop('network_ms_per_job'):10.2f} ms per lifecycle (its own core)")
    print(f"MQTT reader CPU      {stats.pop('reader_ms_per_job'):10.2f} ms per lifecycle (the coordinator's)")
    print(f"dispatcher           {stats}")


if __name__ == "__main__":
    main()
