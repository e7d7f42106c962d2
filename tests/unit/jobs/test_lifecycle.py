"""The job lifecycle on plain snapshots: transitions, what people may do, machine statuses, leases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from coordinator.jobs import lifecycle
from coordinator.jobs.lifecycle import (
    ACTIVE_STATES,
    FINAL_STATES,
    TRANSITIONS,
    AttemptState,
    JobState,
    Trigger,
    allowed_controls,
)
from coordinator.jobs.rows import AttemptSnap, JobEnded, JobSnap, JobStarted, MachineSnap
from protocol import payloads as p

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def job(state: str = JobState.RUNNING, attempts: int = 1, max_attempts: int = 3) -> JobSnap:
    return JobSnap("j1", state, attempts, max_attempts, "a1" if state != JobState.QUEUED else None,
                   "lab", "m1", 0.4, 600.0, "", None, 7)  # fmt: skip


def attempt(state: str = AttemptState.RUNNING, lease_left_s: float = 30.0) -> AttemptSnap:
    return AttemptSnap("a1", "j1", "lab", "agent", "m1", state, 60.0, NOW + timedelta(seconds=lease_left_s),
                       NOW - timedelta(minutes=5), None, "")  # fmt: skip


def machine(status: str = "running", operator_confirm: bool = True) -> MachineSnap:
    return MachineSnap("lab", "m1", "agent", status, operator_confirm, NOW, "fdm_print")


def rows_of(decision: lifecycle.Decision, kind: type) -> list:  # type: ignore[type-arg]
    return [row for row in decision.rows if isinstance(row, kind)]


@pytest.mark.parametrize("trigger", list(TRANSITIONS))
@pytest.mark.parametrize("state", list(JobState))
def test_every_trigger_moves_only_from_the_states_it_allows(trigger: Trigger, state: JobState) -> None:
    allowed, _target = TRANSITIONS[trigger]
    decision = lifecycle.transition(job(state), trigger, NOW, attempt=attempt(), machine=machine())
    if state not in allowed:
        assert decision.outcome == "refused" and not decision.rows and not decision.events
    else:
        assert decision.outcome == "applied"


def test_no_trigger_leaves_a_final_state() -> None:
    for allowed, _ in TRANSITIONS.values():
        assert not allowed & FINAL_STATES


def test_pause_and_resume_never_end_the_job() -> None:
    paused = lifecycle.transition(job(), Trigger.PAUSED, NOW, attempt=attempt(), machine=machine())
    [after] = rows_of(paused, JobSnap)
    assert after.state == JobState.PAUSED and after.ended_at is None and after.progress == 0.4
    assert rows_of(paused, MachineSnap)[0].status == "paused"
    assert not [e for e in paused.happened if isinstance(e, JobEnded)]
    resumed = lifecycle.transition(after, Trigger.RESUMED, NOW, attempt=rows_of(paused, AttemptSnap)[0])
    [running] = rows_of(resumed, JobSnap)
    assert running.state == JobState.RUNNING and running.progress == 0.4  # from where it was


@pytest.mark.parametrize(
    ("state", "controls"),
    [
        (JobState.QUEUED, {"cancel"}),
        (JobState.ASSIGNED, {"cancel", "fail"}),
        (JobState.RUNNING, {"pause", "cancel", "fail"}),
        (JobState.PAUSED, {"resume", "cancel", "fail"}),
        (JobState.WAITING_OPERATOR, {"resume", "cancel", "fail"}),
        (JobState.DONE, set()),
        (JobState.CANCELLED, set()),
    ],
)
def test_only_the_controls_the_state_allows_are_offered(state: JobState, controls: set[str]) -> None:
    assert allowed_controls(state) == controls


def test_a_pause_request_changes_nothing_until_the_machine_says_it_paused() -> None:
    decision = lifecycle.request_control(job(), attempt(), "pause", "olga", NOW)
    assert decision.rows == []
    [command] = [o.command for o in decision.commands]
    assert isinstance(command, p.JobControl) and command.type == "job:pause"
    assert [e.type for e in decision.events] == ["operator:pause"]
    assert (
        lifecycle.request_control(job(JobState.PAUSED), attempt(), "pause", "olga", NOW).outcome == "refused"
    )


def test_cancel_tells_the_machine_and_leaves_the_attempt_cancelling() -> None:
    decision = lifecycle.cancel(job(), attempt(), machine(), "ben", NOW)
    [after] = rows_of(decision, JobSnap)
    assert after.state == JobState.CANCELLED and after.reason == "cancelled by ben" and after.ended_at == NOW
    assert rows_of(decision, AttemptSnap)[0].state == AttemptState.CANCELLING
    assert [o.command.type for o in decision.commands] == ["job:cancel"]  # type: ignore[attr-defined]
    assert [e.state for e in decision.happened if isinstance(e, JobEnded)] == ["cancelled"]


def test_a_failure_sends_the_job_round_again_until_its_attempts_are_used() -> None:
    again = lifecycle.transition(job(attempts=1), Trigger.FAILED, NOW, attempt=attempt(), reason="jam")
    [queued] = rows_of(again, JobSnap)
    assert (queued.state, queued.attempt_id, queued.progress, queued.reason) == ("queued", None, 0.0, "jam")
    assert again.wake and not again.happened
    last = lifecycle.transition(job(attempts=3), Trigger.FAILED, NOW, attempt=attempt(), reason="jam")
    [failed] = rows_of(last, JobSnap)
    assert failed.state == JobState.FAILED and failed.reason == "jam"
    assert [e.reason for e in last.happened if isinstance(e, JobEnded)] == ["jam"]


def test_an_operator_marking_a_job_failed_stops_the_machine_and_retries() -> None:
    decision = lifecycle.mark_failed(job(), attempt(), machine(), "spaghetti", "olga", NOW)
    assert rows_of(decision, JobSnap)[0].state == JobState.QUEUED
    assert "marked failed by olga: spaghetti" in rows_of(decision, AttemptSnap)[0].reason
    assert [o.command.type for o in decision.commands] == ["job:cancel"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("trigger", "before", "confirm", "after"),
    [
        (Trigger.ACCEPTED, "preparing", True, "running"),
        (Trigger.PROGRESS, "preparing", True, "running"),
        (Trigger.PAUSED, "running", True, "paused"),
        (Trigger.RESUMED, "paused", True, "running"),
        (Trigger.DONE, "running", True, "waiting_operator"),  # the part is still on the bed
        (Trigger.DONE, "running", False, "idle"),
        (Trigger.FAILED, "running", True, "waiting_operator"),
        (Trigger.LEASE_EXPIRED, "running", True, "running"),  # nobody heard from it: its report will say
        (Trigger.DONE, "offline", True, "offline"),
    ],
)
def test_a_machine_is_assumed_to_do_what_its_jobs_transition_implies(
    trigger: Trigger, before: str, confirm: bool, after: str
) -> None:
    state = JobState.ASSIGNED if trigger in (Trigger.ACCEPTED, Trigger.PROGRESS) else JobState.RUNNING
    state = JobState.PAUSED if trigger == Trigger.RESUMED else state
    decision = lifecycle.transition(
        job(state), trigger, NOW, attempt=attempt(), machine=machine(before, confirm)
    )
    statuses = [m.status for m in rows_of(decision, MachineSnap)]
    assert (statuses[-1] if statuses else before) == after


def test_an_offer_makes_an_attempt_with_its_lease_and_the_machine_preparing() -> None:
    command = p.JobOffer(job_id="j1", attempt_id="a9", machine_id="m1", lease_s=60)
    decision = lifecycle.offer(job(JobState.QUEUED, attempts=0), machine("idle"), attempt_id="a9", lease_s=60,
                               now=NOW, command=command)  # fmt: skip
    [assigned] = rows_of(decision, JobSnap)
    [made] = rows_of(decision, AttemptSnap)
    assert (assigned.state, assigned.attempts, assigned.attempt_id) == ("assigned", 1, "a9")
    assert made.lease_expires_at == NOW + timedelta(seconds=60) and made.state == AttemptState.OFFERED
    assert rows_of(decision, MachineSnap)[0].status == "preparing"
    assert [o.command for o in decision.commands] == [command]


def test_started_and_ended_are_told_once() -> None:
    accepted = lifecycle.transition(job(JobState.ASSIGNED), Trigger.ACCEPTED, NOW, attempt=attempt())
    assert [type(e) for e in accepted.happened] == [JobStarted]
    progress = lifecycle.transition(job(JobState.ACCEPTED), Trigger.PROGRESS, NOW, attempt=attempt())
    assert progress.happened == []
    done = lifecycle.transition(job(), Trigger.DONE, NOW, attempt=attempt())
    assert [type(e) for e in done.happened] == [JobEnded] and rows_of(done, JobSnap)[0].progress == 1.0


def test_a_lease_is_renewed_only_when_it_matters() -> None:
    assert lifecycle.renewed(attempt(lease_left_s=50), NOW) is None  # more than three quarters left
    renewed = lifecycle.renewed(attempt(lease_left_s=30), NOW)
    assert renewed is not None and renewed.lease_expires_at == NOW + timedelta(seconds=60)
    assert lifecycle.renewed(attempt(AttemptState.DONE, lease_left_s=1), NOW) is None


def test_a_lapsed_lease_requeues_the_current_attempt_and_closes_a_stale_one() -> None:
    lapsed = attempt(lease_left_s=-1)
    decision = lifecycle.expire_lease(job(), lapsed, machine(), NOW)
    assert rows_of(decision, JobSnap)[0].state == JobState.QUEUED
    assert rows_of(decision, AttemptSnap)[0].state == AttemptState.EXPIRED
    stale = lifecycle.expire_lease(replace(job(), attempt_id="other"), lapsed, None, NOW)
    assert [a.state for a in rows_of(stale, AttemptSnap)] == ["expired"] and not rows_of(stale, JobSnap)


def test_a_restart_gives_live_leases_a_full_run_from_now() -> None:
    restarted = lifecycle.restart_lease(attempt(lease_left_s=-3600), NOW)
    assert restarted is not None and restarted.lease_expires_at == NOW + timedelta(seconds=60)
    assert lifecycle.restart_lease(attempt(lease_left_s=600), NOW) is None  # more than a lease already
    assert lifecycle.restart_lease(attempt(AttemptState.EXPIRED, lease_left_s=-1), NOW) is None


def test_active_states_are_exactly_those_with_a_machine_on_them() -> None:
    assert set(ACTIVE_STATES) == set(JobState) - FINAL_STATES - {JobState.QUEUED}
