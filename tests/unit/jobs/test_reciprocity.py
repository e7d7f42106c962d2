"""The reciprocity value equation and the queue order it gives, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coordinator.jobs.dispatch import FifoPolicy, IdleMachine, PlanPolicy, QueuedJob, dispatch_policy
from coordinator.jobs.reciprocity import (
    NEUTRAL,
    Balance,
    Flow,
    balances,
    build_parties,
    decay,
    party_score,
    reorder,
    score,
    value,
)
from coordinator.settings import ReciprocitySettings, load_settings
from protocol.errors import InvalidInput

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
W = ReciprocitySettings(enabled=True)
A, B, C = "fablab:lab-a", "fablab:lab-b", "fablab:lab-c"


def flow(provider: str, receivers: tuple[str, ...], action: str = "use", unit: str = "hour",
         quantity: float = 1.0, days_ago: float = 0.0) -> Flow:  # fmt: skip
    return Flow(action, unit, quantity, provider, frozenset(receivers), NOW - timedelta(days=days_ago))


@dataclass(frozen=True)
class Job:
    id: str
    priority: int
    created_at: datetime


def queued(job_id: str, minutes_ago: float, priority: int = 0) -> Job:
    return Job(job_id, priority, NOW - timedelta(minutes=minutes_ago))


# ---- the value equation ----------------------------------------------------------------------------


def test_each_kind_of_contribution_is_worth_its_weight() -> None:
    weights = ReciprocitySettings(hour_weight=2, gram_weight=0.5, part_weight=3, work_weight=7)
    assert value(flow(A, (B,), "use", "hour", 4), weights) == 8
    assert value(flow(A, (B,), "consume", "g", 10), weights) == 5
    assert value(flow(A, (B,), "produce", "each", 2), weights) == 6
    assert value(flow("person:ada", ("commons",), "work", "each", 1), weights) == 7
    assert value(flow("person:ada", (B,), "work", "hour", 1.5), weights) == 3  # assembly at a bench


def test_older_contributions_count_less_and_past_the_window_nothing() -> None:
    weights = ReciprocitySettings(window_days=90, half_life_days=30)
    assert decay(timedelta(0), weights) == 1
    assert decay(timedelta(days=30), weights) == pytest.approx(0.5)
    assert decay(timedelta(days=60), weights) == pytest.approx(0.25)
    assert decay(timedelta(days=91), weights) == 0


def test_giving_to_others_raises_a_score_and_receiving_lowers_it() -> None:
    found = balances([flow(A, (B, "person:bo"), quantity=10), flow(B, (C,), quantity=1)], NOW, W)
    assert found[A].gave == 10 and found[A].received == 0
    assert found[B].gave == 1 and found[B].received == 10
    assert found["person:bo"].received == 10
    assert score(found[A], W.prior) > NEUTRAL > score(found[B], W.prior)
    assert score(None, W.prior) == NEUTRAL


def test_making_for_ones_own_build_is_neither_given_nor_received() -> None:
    assert balances([flow(A, (A, "person:al"), quantity=50)], NOW, W) == {}


def test_a_score_stays_between_a_pure_taker_and_a_pure_giver() -> None:
    assert 0 < score(Balance(gave=0, received=1e6), 1.0) < 0.01
    assert 0.99 < score(Balance(gave=1e6, received=0), 1.0) < 1


def test_a_job_scores_the_mean_of_its_parties() -> None:
    assert party_score([A, "person:ada"], {A: 0.9, "person:ada": 0.5}) == pytest.approx(0.7)
    assert party_score([], {A: 0.9}) == NEUTRAL


def test_parties_counts_the_site_the_starter_or_both() -> None:
    assert build_parties("lab-a", "ada", "both") == ("fablab:lab-a", "person:ada")
    assert build_parties("lab-a", "ada", "fablab") == ("fablab:lab-a",)
    assert build_parties("lab-a", "ada", "person") == ("person:ada",)
    assert build_parties("lab-a", "", "both") == ("fablab:lab-a",)


# ---- the order ------------------------------------------------------------------------------------


def test_a_contributors_job_goes_ahead_of_an_older_job_of_a_taker() -> None:
    taker, giver = queued("taker", minutes_ago=20), queued("giver", minutes_ago=5)
    order = reorder([taker, giver], {"taker": 0.1, "giver": 0.9}, NOW, W)
    assert [job.id for job in order] == ["giver", "taker"]


def test_a_job_moves_at_most_advance_s_ahead() -> None:
    weights = ReciprocitySettings(advance_s=600, max_wait_s=86400)
    taker, giver = queued("taker", minutes_ago=30), queued("giver", minutes_ago=5)
    order = reorder([taker, giver], {"taker": 0.0, "giver": 1.0}, NOW, weights)
    # the giver moves 10 minutes earlier, the taker 10 later: 25 minutes apart is too far
    assert [job.id for job in order] == ["taker", "giver"]


def test_a_non_contributor_that_waited_past_the_bound_goes_first() -> None:
    weights = ReciprocitySettings(advance_s=3600, max_wait_s=1800)
    jobs = [queued("giver-1", 1), queued("giver-2", 2), queued("taker", 31)]
    order = reorder(jobs, {"giver-1": 1.0, "giver-2": 1.0, "taker": 0.0}, NOW, weights)
    assert [job.id for job in order] == ["taker", "giver-2", "giver-1"]


def test_priority_still_comes_first() -> None:
    jobs = [queued("giver", 5), queued("urgent", 1, priority=5)]
    order = reorder(jobs, {"giver": 1.0, "urgent": 0.0}, NOW, W)
    assert [job.id for job in order] == ["urgent", "giver"]


def test_with_equal_scores_the_queue_order_is_kept() -> None:
    jobs = [queued("c", 1), queued("a", 30), queued("b", 10)]
    assert [job.id for job in reorder(jobs, {}, NOW, W)] == ["a", "b", "c"]


# ---- the policy, off and on ----------------------------------------------------------------------

PRINTER = {"process": "fdm_print", "materials": ["pla"], "build_volume_mm": [250, 210, 210]}


def job(job_id: str, minutes_ago: float) -> QueuedJob:
    return QueuedJob(job_id, "fdm_print", "pla", None, None, 0, NOW - timedelta(minutes=minutes_ago))


def test_off_by_default_the_queue_order_is_unchanged() -> None:
    policy = dispatch_policy(load_settings(env={}))
    assert isinstance(policy, PlanPolicy) and policy.fallback.order is None and policy.lookahead == 0
    machine = IdleMachine("lab-a", "agent-1", "mk3s", PRINTER)
    session: Any = None  # FIFO without an order reads nothing
    pairs = FifoPolicy().choose(session, [job("new", 1), job("old", 30)], [machine])
    assert [j.id for j, _ in pairs] == ["old"]


def test_settings_turn_reciprocity_on_for_either_policy() -> None:
    on = load_settings(env={"PEERFAB_RECIPROCITY__ENABLED": "true", "PEERFAB_DISPATCH__POLICY": "fifo"})
    policy = dispatch_policy(on)
    assert isinstance(policy, FifoPolicy) and policy.order is not None and policy.lookahead == 200


def test_a_bad_reciprocity_setting_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidInput, match=r"reciprocity\.half_life_days"):
        load_settings(env={"PEERFAB_RECIPROCITY__HALF_LIFE_DAYS": "0"})
    with pytest.raises(InvalidInput, match=r"reciprocity\.parties"):
        load_settings(env={"PEERFAB_RECIPROCITY__PARTIES": "everyone"})
