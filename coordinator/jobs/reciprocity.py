"""Reciprocity: who gave to others' builds, and the queue order that lets them go first (optional).

The value equation is pure code: ledger flows in, a score per party out. A party is a fablab (the
site of a build) or a person (who started it). What a party gave to others' builds, decayed by age,
against what it received from others, gives a score between 0 and 1 (0.5 for a party with no
record). When machines are contended, a job of a high-scoring party is offered as if it had been
queued up to `advance_s` earlier (a low-scoring party's as if later); a job that has waited
`max_wait_s` goes ahead of every job of its priority that has not, whatever the scores. The
queries that feed it are at the bottom, apart from the equation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from coordinator.ledger.mapping import Action, Unit, fablab, person
from coordinator.models.builds import Build
from coordinator.models.jobs import Job
from coordinator.models.ledger import LedgerEvent
from coordinator.settings import ReciprocitySettings

NEUTRAL = 0.5  # the score of a party with no record
COUNTED = (Action.USE, Action.CONSUME, Action.PRODUCE, Action.WORK)


@dataclass(frozen=True)
class Flow:
    """One ledger event as the equation sees it: who provided how much, for whom, when."""

    action: str
    unit: str
    quantity: float
    provider: str
    receivers: frozenset[str]  # the parties of the build it was for, else the event's receiver
    at: datetime


@dataclass
class Balance:
    """Decayed value a party gave to others and received from others."""

    gave: float = 0.0
    received: float = 0.0


def value(flow: Flow, weights: ReciprocitySettings) -> float:
    """The flow's value: hours of machine or bench × w_h, grams × w_g, parts × w_p, other work × w_d."""
    if flow.unit == Unit.HOUR and flow.action in (Action.USE, Action.WORK):
        return flow.quantity * weights.hour_weight
    if flow.action == Action.CONSUME and flow.unit == Unit.GRAM:
        return flow.quantity * weights.gram_weight
    if flow.action == Action.PRODUCE:
        return flow.quantity * weights.part_weight
    if flow.action == Action.WORK:
        return flow.quantity * weights.work_weight
    return 0.0


def decay(age: timedelta, weights: ReciprocitySettings) -> float:
    """Half as much every `half_life_days`; nothing past `window_days` (or from the future)."""
    days = age.total_seconds() / 86400
    if days > weights.window_days or days < -1 / 24:
        return 0.0
    return float(0.5 ** (max(days, 0.0) / weights.half_life_days))


def balances(flows: Iterable[Flow], now: datetime, weights: ReciprocitySettings) -> dict[str, Balance]:
    """What each party gave to others' builds and received from others, decayed to `now`."""
    result: dict[str, Balance] = {}
    for flow in flows:
        if flow.provider in flow.receivers:
            continue  # a party's work for its own build is neither given nor received
        worth = value(flow, weights) * decay(now - flow.at, weights)
        if worth <= 0:
            continue
        result.setdefault(flow.provider, Balance()).gave += worth
        for receiver in flow.receivers:
            result.setdefault(receiver, Balance()).received += worth
    return result


def score(balance: Balance | None, prior: float) -> float:
    """(gave + prior) / (gave + received + 2 prior): 1 for a pure giver, 0 for a pure taker."""
    if balance is None:
        return NEUTRAL
    return (balance.gave + prior) / (balance.gave + balance.received + 2 * prior)


class Queued(Protocol):
    """What the order needs of a queued job."""

    @property
    def id(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...


Q = TypeVar("Q", bound=Queued)


def order_key(job: Queued, job_score: float, now: datetime, weights: ReciprocitySettings) -> tuple[Any, ...]:
    """Priority first; then jobs past `max_wait_s`, oldest first; then queue time moved by the score."""
    created = _aware(job.created_at)
    if (now - created).total_seconds() >= weights.max_wait_s:
        return (-job.priority, 0, created, job.id)
    moved = created - timedelta(seconds=(2 * job_score - 1) * weights.advance_s)
    return (-job.priority, 1, moved, job.id)


def reorder(
    jobs: Sequence[Q], scores: Mapping[str, float], now: datetime, weights: ReciprocitySettings
) -> list[Q]:
    """The jobs in reciprocity order (`scores` by job id; a job without one is neutral)."""
    return sorted(jobs, key=lambda job: order_key(job, scores.get(job.id, NEUTRAL), now, weights))


def party_score(parties: Sequence[str], scores: Mapping[str, float]) -> float:
    """A job's score: the mean of its parties' scores (neutral without parties)."""
    if not parties:
        return NEUTRAL
    return sum(scores.get(party, NEUTRAL) for party in parties) / len(parties)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---- the order a dispatch policy uses, and its queries -----------------------------------------


@dataclass
class ReciprocityOrder:
    """Orders a page of the queue by reciprocity; scores are read again every `refresh_s`."""

    weights: ReciprocitySettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _scores: dict[str, float] = field(default_factory=dict)
    _read_at: datetime | None = None

    @property
    def lookahead(self) -> int:
        return self.weights.lookahead

    def __call__(self, session: Session, jobs: Sequence[Q]) -> list[Q]:
        now = self.clock()
        if self._read_at is None or (now - self._read_at).total_seconds() >= self.weights.refresh_s:
            self._scores = party_scores(session, now, self.weights)
            self._read_at = now
        parties = job_parties(session, [job.id for job in jobs], self.weights.parties)
        by_job = {job.id: party_score(parties.get(job.id, ()), self._scores) for job in jobs}
        return reorder(jobs, by_job, now, self.weights)


SLICES = 30  # the window is read in this many slices, each summed in the database


def party_scores(session: Session, now: datetime, weights: ReciprocitySettings) -> dict[str, float]:
    """Every party's score from the ledger's events of the last `window_days`."""
    found = party_balances(session, now, weights)
    return {party: score(balance, weights.prior) for party, balance in found.items()}


def party_balances(session: Session, now: datetime, weights: ReciprocitySettings) -> dict[str, Balance]:
    """What every party with a record gave and received over the last `window_days`, decayed to `now`."""
    return balances(ledger_flows(session, now - timedelta(days=weights.window_days), now), now, weights)


@dataclass(frozen=True)
class Standing:
    """A party's balance and score, as the reciprocity view shows it."""

    party: str
    gave: float
    received: float
    score: float

    @property
    def kind(self) -> str:
        """fablab, person, or the party itself for one of neither kind (the commons)."""
        return self.party.split(":", 1)[0]

    @property
    def name(self) -> str:
        """The fablab's id or the person's name (the party itself for the commons)."""
        return self.party.split(":", 1)[-1]

    def row(self) -> dict[str, Any]:
        return {"party": self.party, "kind": self.kind, "name": self.name,
                "gave": round(self.gave, 6), "received": round(self.received, 6),
                "score": round(self.score, 6)}  # fmt: skip


def standings(session: Session, now: datetime, weights: ReciprocitySettings) -> list[Standing]:
    """Every party with a record, highest score first (then by name): what the dispatch order reads."""
    found = party_balances(session, now, weights)
    ranked = [Standing(party, b.gave, b.received, score(b, weights.prior)) for party, b in found.items()]
    return sorted(ranked, key=lambda standing: (-standing.score, standing.party))


def ledger_flows(session: Session, since: datetime, now: datetime) -> list[Flow]:
    """The ledger's use, consume, produce and work since `since`, summed per slice of time, provider,
    receiver and build parties; each sum dated at its slice's middle (half a slice off at most)."""
    step = (now - since) / SLICES
    flows = []
    for n in range(SLICES):
        start = since + step * n
        end = None if n == SLICES - 1 else start + step  # the last slice takes what came in meanwhile
        for action, unit, quantity, provider, receiver, site, started_by in session.execute(
            _slice_query(start, end)
        ).all():
            parties = build_parties(site, started_by, "both") if site else (receiver,)
            flows.append(Flow(action, unit, float(quantity), provider, frozenset(parties), start + step / 2))
    return flows


def _slice_query(start: datetime, end: datetime | None) -> Any:
    """Counted ledger events in [start, end), summed by action, unit, provider, receiver and build parties."""
    keys = (col(LedgerEvent.action), col(LedgerEvent.unit), col(LedgerEvent.provider),
            col(LedgerEvent.receiver), col(Build.site), col(Build.started_by))  # fmt: skip
    query = (
        sa_select(keys[0], keys[1], func.sum(col(LedgerEvent.quantity)), *keys[2:])
        .select_from(LedgerEvent)
        .outerjoin(Build, col(Build.id) == col(LedgerEvent.build_id))
        .where(col(LedgerEvent.at) >= start, col(LedgerEvent.action).in_([str(a) for a in COUNTED]))
        .group_by(*keys)
    )
    return query.where(col(LedgerEvent.at) < end) if end is not None else query


def job_parties(session: Session, job_ids: Sequence[str], which: str) -> dict[str, tuple[str, ...]]:
    """Each job's parties: its build's site and starter, else the person who submitted it."""
    rows = session.exec(select(Job.id, Job.params, Job.submitted_by).where(col(Job.id).in_(job_ids))).all()
    build_of = {job_id: (params or {}).get("build") for job_id, params, _ in rows}
    builds = _build_parties(session, {b for b in build_of.values() if isinstance(b, str)}, which)
    result: dict[str, tuple[str, ...]] = {}
    for job_id, _params, submitted_by in rows:
        build_id = build_of[job_id]
        if isinstance(build_id, str) and build_id in builds:
            result[job_id] = builds[build_id]
        elif submitted_by and which != "fablab":
            result[job_id] = (person(submitted_by),)
    return result


def _build_parties(session: Session, build_ids: set[str], which: str) -> dict[str, tuple[str, ...]]:
    """The parties of each build: its site's fablab and the person who started it (or one of them)."""
    if not build_ids:
        return {}
    rows = session.exec(select(Build.id, Build.site, Build.started_by).where(col(Build.id).in_(build_ids)))
    return {build_id: build_parties(site, started_by, which) for build_id, site, started_by in rows}


def build_parties(site: str, started_by: str | None, which: str) -> tuple[str, ...]:
    """A build's parties: its site's fablab and the person who started it, or the one `which` names."""
    parties = [fablab(site)] if which in ("fablab", "both") else []
    if which in ("person", "both") and started_by:
        parties.append(person(started_by))
    return tuple(parties)
