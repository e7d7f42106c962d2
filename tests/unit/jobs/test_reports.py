"""What agents report, on plain snapshots: message order, job events, heartbeats, statuses, births."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from coordinator.jobs import reports
from coordinator.jobs.lifecycle import AttemptState, JobState
from coordinator.jobs.reports import MAX_GAP, Order
from coordinator.jobs.rows import AttemptSnap, JobSnap, LinkSnap, MachineSnap, Source
from protocol import payloads as p

from .test_lifecycle import NOW, attempt, job, machine

LINK = LinkSnap("lab", "agent", True, 4, 10, "birth-4", "test", NOW)
AGENT = Source("lab", "agent", "m-1")


def ids(**extra: object) -> dict[str, object]:
    return {"job_id": "j1", "attempt_id": "a1", "machine_id": "m1", **extra}


def test_messages_in_order_advance_the_sequence() -> None:
    verdict, link = reports.check_event_order(LINK, 4, 11)
    assert verdict == Order.IN_ORDER and link.last_seq == 11


def test_duplicates_and_old_boots_are_dropped() -> None:
    assert reports.check_event_order(LINK, 4, 10)[0] == Order.DUPLICATE
    assert reports.check_event_order(LINK, 3, 99)[0] == Order.STALE


def test_one_message_far_ahead_does_not_silence_the_agents_real_messages() -> None:
    verdict, link = reports.check_event_order(LINK, 4, 60)  # a forged sequence number, 50 ahead
    assert verdict == Order.GAP and verdict in reports.PROCESSED and verdict in reports.ASK_REANNOUNCE
    assert link.last_seq == 10  # nothing adopted from it
    for seq in (11, 12, 13):  # the agent's real events go on being processed in order
        verdict, link = reports.check_event_order(link, 4, seq)
        assert verdict == Order.IN_ORDER
    assert link.last_seq == 13


def test_an_impossible_sequence_is_dropped_and_answered_with_a_reannounce_request() -> None:
    verdict, link = reports.check_event_order(LINK, 4, 10 + MAX_GAP + 1)
    assert (
        verdict == Order.IMPOSSIBLE and verdict not in reports.PROCESSED and verdict in reports.ASK_REANNOUNCE
    )
    assert link == LINK


def test_an_event_of_a_boot_with_no_birth_yet_is_processed_but_adopts_nothing() -> None:
    verdict, link = reports.check_event_order(LINK, 9, 1)
    assert verdict == Order.FOREIGN_BOOT and verdict in reports.PROCESSED and link == LINK


def test_a_birth_starts_its_boot() -> None:
    state = p.AgentState(fablab="lab", agent="agent", online=True, boot_seq=5, seq=0)
    verdict, link = reports.check_birth_order(LINK, state)
    assert verdict == Order.NEW_BOOT and (link.boot_seq, link.last_seq) == (5, 0)
    retained = p.AgentState(fablab="lab", agent="agent", online=True, boot_seq=4, msg_id="birth-4")
    assert reports.check_birth_order(LINK, retained)[0] == Order.DUPLICATE


def test_a_job_event_moves_the_job_and_renews_the_lease() -> None:
    event = p.JobProgress(**ids(progress=0.6, eta_s=120))  # type: ignore[arg-type]
    decision = reports.apply_job_event(
        job(JobState.ACCEPTED), attempt(lease_left_s=10), machine(), event, AGENT, NOW
    )
    [after] = [r for r in decision.rows if isinstance(r, JobSnap)]
    assert (after.state, after.progress, after.eta_s) == ("running", 0.6, 120)
    [lease] = [r for r in decision.rows if isinstance(r, AttemptSnap)]
    assert lease.lease_expires_at == NOW + timedelta(seconds=60)


def test_progress_within_running_writes_no_event_row() -> None:
    event = p.JobProgress(**ids(progress=0.7))  # type: ignore[arg-type]
    decision = reports.apply_job_event(job(), attempt(), machine(), event, AGENT, NOW)
    assert decision.events == [] and [r.progress for r in decision.rows if isinstance(r, JobSnap)] == [0.7]


def test_a_paused_report_pauses_the_job_and_its_machine() -> None:
    decision = reports.apply_job_event(job(), attempt(), machine(), p.JobPaused(**ids()), AGENT, NOW)  # type: ignore[arg-type]
    assert [r.state for r in decision.rows if isinstance(r, JobSnap)] == ["paused"]
    assert [r.status for r in decision.rows if isinstance(r, MachineSnap)] == ["paused"]


def test_an_event_of_an_older_attempt_is_refused_and_a_working_machine_told_to_stop() -> None:
    moved_on = replace(job(), attempt_id="a2")
    decision = reports.apply_job_event(
        moved_on, attempt(), machine(), p.JobProgress(**ids(progress=0.5)), AGENT, NOW
    )  # type: ignore[arg-type]
    assert decision.outcome == "stale" and not [r for r in decision.rows if isinstance(r, JobSnap)]
    assert [o.command.type for o in decision.commands] == ["job:cancel"]  # type: ignore[attr-defined]
    done = reports.apply_job_event(moved_on, attempt(), machine(), p.JobDone(**ids()), AGENT, NOW)  # type: ignore[arg-type]
    assert done.commands == [] and [r.state for r in done.rows if isinstance(r, AttemptSnap)] == ["done"]


def test_an_event_for_another_agents_attempt_changes_nothing() -> None:
    other = Source("lab", "intruder", "m-2")
    decision = reports.apply_job_event(job(), attempt(), machine(), p.JobDone(**ids()), other, NOW)  # type: ignore[arg-type]
    assert decision.outcome == "unknown" and decision.rows == []


def test_a_second_done_is_refused() -> None:
    ended = replace(job(JobState.DONE), ended_at=NOW)
    decision = reports.apply_job_event(
        ended, attempt(AttemptState.DONE), machine(), p.JobDone(**ids()), AGENT, NOW
    )  # type: ignore[arg-type]
    assert decision.outcome == "refused" and decision.events == []


def test_a_heartbeat_renews_a_current_attempt_and_drops_a_stale_one() -> None:
    entry = p.HeartbeatJob(job_id="j1", attempt_id="a1", progress=0.5)
    decision = reports.apply_heartbeat(job(), attempt(lease_left_s=5), entry, AGENT, NOW)
    assert {type(r) for r in decision.rows} == {AttemptSnap, JobSnap}
    stale = reports.apply_heartbeat(replace(job(), attempt_id="a2"), attempt(), entry, AGENT, NOW)
    assert [o.command.type for o in stale.commands] == ["job:cancel"]  # type: ignore[attr-defined]


def test_a_status_that_did_not_change_is_written_at_most_twice_a_minute() -> None:
    status = p.MachineStatusEvent(machine_id="m1", status="running")
    assert reports.apply_status(machine(), "agent", status, NOW + timedelta(seconds=5)).rows == []
    later = reports.apply_status(machine(), "agent", status, NOW + timedelta(seconds=31))
    assert [m.last_seen for m in later.rows] == [NOW + timedelta(seconds=31)]  # type: ignore[union-attr]
    idle = reports.apply_status(machine(), "agent", p.MachineStatusEvent(machine_id="m1", status="idle"), NOW)
    assert idle.wake and [m.status for m in idle.rows] == ["idle"]  # type: ignore[union-attr]
    assert reports.apply_status(machine(), "someone-else", status, NOW).outcome == "unknown"


def test_a_birth_reconciles_the_jobs_it_reports_and_cancels_what_it_should_not_run() -> None:
    running = p.MachineJob(job_id="j1", attempt_id="a1", state="paused", progress=0.55)
    foreign = p.MachineJob(job_id="j9", attempt_id="a9", state="running", progress=0.1)
    infos = (
        p.MachineInfo(
            id="m1",
            driver="x",
            status="paused",
            capabilities=p.Capabilities(process="fdm_print"),
            job=running,
        ),
        p.MachineInfo(
            id="m2",
            driver="x",
            status="running",
            capabilities=p.Capabilities(process="fdm_print"),
            job=foreign,
        ),
    )
    state = p.AgentState(fablab="lab", agent="agent", online=True, boot_seq=5, machines=infos)
    decision = reports.reconcile([(attempt(lease_left_s=-100), job(), machine())], state, NOW)
    jobs = [r for r in decision.rows if isinstance(r, JobSnap)]
    assert jobs[-1].state == "paused" and jobs[-1].progress == 0.55
    leases = [r.lease_expires_at for r in decision.rows if isinstance(r, AttemptSnap)]
    assert leases[-1] > NOW  # the birth renewed the lapsed lease: the print goes on
    assert [(o.command.type, o.command.attempt_id) for o in decision.commands] == [("job:cancel", "a9")]  # type: ignore[attr-defined]


def test_an_attempt_the_birth_does_not_mention_is_left_to_its_lease() -> None:
    state = p.AgentState(fablab="lab", agent="agent", online=True, boot_seq=5, machines=())
    decision = reports.reconcile([(attempt(), job(), machine())], state, NOW)
    assert decision.rows == [] and decision.commands == []


def test_last_seen_is_kept_to_its_resolution() -> None:
    assert reports.link_seen(LINK, NOW + timedelta(seconds=10)) == LINK
    assert reports.link_seen(LINK, NOW + timedelta(seconds=40)).last_seen == NOW + timedelta(seconds=40)


def test_an_acceptance_carries_the_machines_own_estimates() -> None:
    estimates = p.Estimates(duration_s=5400, filament_mm=12000, filament_g=36.5, source="PrusaSlicer 2.5.0")
    accepted = p.JobAccepted(**ids(estimates=estimates))  # type: ignore[arg-type]
    decision = reports.apply_job_event(job(JobState.ASSIGNED), attempt(), machine(), accepted, AGENT, NOW)
    [after] = [r for r in decision.rows if isinstance(r, JobSnap)]
    assert (after.estimate_s, after.filament_g, after.estimate_source) == (5400, 36.5, "PrusaSlicer 2.5.0")
