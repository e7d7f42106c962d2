"""Outages at the coordinator's site cost no print: real agents keep printing, and the coordinator,
back after three lease lengths, lets their attempts go on instead of starting them over.
"""

from __future__ import annotations

import time

import pytest

from tests.support.waiting import wait_until

from .conftest import LEASE_S

pytestmark = pytest.mark.slow

OUTAGE_S = 3 * LEASE_S
# the e2e part takes 294 simulated seconds: at this scale about 20 s, so it outlives the outage
TIME_SCALE = 15.0


def _printing(site, start_agent, jobs: int = 2) -> list[str]:
    for n in range(jobs):
        start_agent(f"agent-{n}", time_scale=TIME_SCALE)
    ids = site.submit(jobs)
    wait_until(lambda: all(site.states()[i] == "running" for i in ids), timeout_s=20, what="all jobs running")
    return ids


def _no_print_restarted(site, ids: list[str]) -> None:
    wait_until(lambda: site.all_done(ids), timeout_s=90, what="every job done")
    counts = site.final_event_counts()
    assert all(counts.get(i) == 1 for i in ids), counts  # each ended once
    for job_id in ids:
        assert [a.state for a in site.attempts(job_id)] == ["done"], site.attempts(job_id)  # never restarted


def test_coordinator_and_broker_down_together_for_three_leases(site, start_agent, mosquitto) -> None:
    ids = _printing(site, start_agent)
    mosquitto.stop()  # the site's power goes: broker and coordinator at once
    site.power_cut()
    time.sleep(OUTAGE_S)
    mosquitto.start()
    site.power_back()
    _no_print_restarted(site, ids)
    assert site.dispatcher.stats["lease_restarts"] >= len(ids)


def test_coordinator_down_with_a_broker_queue_too_small_for_the_outage(site, start_agent, mosquitto) -> None:
    mosquitto.extra_config = "max_queued_messages 3\n"  # far fewer than the agents send meanwhile
    mosquitto.restart()
    wait_until(lambda: site.dispatcher.link.connected, what="the coordinator back on the broker")
    ids = _printing(site, start_agent)
    site.power_cut()  # the broker keeps the coordinator's session, and drops all but 3 messages for it
    time.sleep(OUTAGE_S)
    site.power_back()
    _no_print_restarted(site, ids)
