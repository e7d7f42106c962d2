"""Which economic events an attempt, a publication and a purchase become."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from coordinator.ledger import mapping
from coordinator.ledger.mapping import Action, AttemptFacts, PublishFacts, PurchaseFacts, Unit

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RUN = AttemptFacts(
    attempt_id="a7", job_id="j1", state="done", fablab="lab-a", machine_id="prusa-1", process="fdm_print",
    started_at=START, ended_at=START + timedelta(minutes=90), part="press@1.0.0#lever", copies=2,
    design="press", design_version="1.0.0", build_id="b1", beneficiary="person:bea", material="PLA",
    grams=31.256, spool_id=3,
)  # fmt: skip


def _by_action(drafts: list[mapping.Draft]) -> dict[Action, mapping.Draft]:
    return {d.action: d for d in drafts}


def test_a_done_run_uses_the_machine_consumes_material_and_produces_its_copies() -> None:
    events = _by_action(mapping.attempt_events(RUN))
    assert set(events) == {Action.USE, Action.CONSUME, Action.PRODUCE}
    assert (events[Action.USE].quantity, events[Action.USE].unit) == (1.5, Unit.HOUR)
    assert events[Action.USE].resource == "lab-a/prusa-1"
    assert (events[Action.CONSUME].quantity, events[Action.CONSUME].resource) == (31.26, "PLA")
    assert events[Action.CONSUME].spool_id == 3
    made = events[Action.PRODUCE]
    assert (made.quantity, made.unit, made.resource) == (2.0, Unit.EACH, "press@1.0.0#lever")
    assert (made.provider, made.receiver, made.fablab) == ("fablab:lab-a", "person:bea", "lab-a")


def test_a_failed_run_is_use_and_consumption_without_a_part() -> None:
    actions = Counter(d.action for d in mapping.attempt_events(replace(RUN, state="failed")))
    assert actions == {Action.USE: 1, Action.CONSUME: 1}


def test_an_attempt_without_known_filament_consumes_nothing_and_a_job_produces_once() -> None:
    first = mapping.attempt_events(replace(RUN, grams=None))
    assert Action.CONSUME not in {d.action for d in first}
    second = mapping.attempt_events(replace(RUN, attempt_id="a8", grams=None))
    assert {d.key for d in first} & {d.key for d in second} == {"job:j1:produce"}  # one part per job
    assert mapping.attempt_events(RUN) == mapping.attempt_events(RUN)  # the same source, the same keys


def test_operators_are_credited_and_assembly_hours_are_shared_among_them() -> None:
    operated = mapping.attempt_events(replace(RUN, operators=("olga",)))
    at_printer = [d for d in operated if d.action == Action.WORK]
    assert [(d.provider, d.quantity, d.unit) for d in at_printer] == [("person:olga", 1.0, Unit.EACH)]
    bench = replace(RUN, process="assembly", operators=("olga", "ivan"), grams=None)
    work = [d for d in mapping.attempt_events(bench) if d.action == Action.WORK]
    assert [(d.provider, d.quantity, d.unit) for d in work] == [
        ("person:olga", 0.75, Unit.HOUR), ("person:ivan", 0.75, Unit.HOUR),
    ]  # fmt: skip
    alone = [d for d in mapping.attempt_events(replace(bench, operators=())) if d.action == Action.WORK]
    assert [(d.provider, d.quantity) for d in alone] == [("fablab:lab-a", 1.5)]


def test_publishing_is_work_by_each_person_once_and_cites_its_lineage_and_source() -> None:
    facts = PublishFacts(design="press", version="1.1.0", published_by="ada", at=START,
                         maintainers=("ada", "bo"), lineage={"derivative_of": "ceb-press@2.0.0"},
                         homepage="https://example.org/press")  # fmt: skip
    drafts = mapping.publish_events(facts)
    assert [(d.action, d.provider, d.note) for d in drafts] == [
        (Action.WORK, "person:ada", "published"),
        (Action.WORK, "person:bo", "maintains"),
        (Action.CITE, "person:ada", "derivative-of"),
        (Action.CITE, "person:ada", "source"),
    ]
    assert drafts[2].resource == "ceb-press@2.0.0" and drafts[3].resource == "https://example.org/press"
    assert all(d.receiver == mapping.COMMONS and d.source_id == "press@1.1.0" for d in drafts)


def test_a_received_purchase_is_a_transfer_from_its_supplier_to_the_site() -> None:
    facts = PurchaseFacts(item_id=4, build_id="b1", part_id="rail", name="Rail", quantity=4, unit="pcs",
                          site="lab-a", supplier="Misumi", at=START, design="press",
                          design_version="1.0.0")  # fmt: skip
    (transfer,) = mapping.purchase_events(facts)
    assert (transfer.action, transfer.provider, transfer.receiver) == (
        Action.TRANSFER, "supplier:Misumi", "fablab:lab-a",
    )  # fmt: skip
    assert (transfer.resource, transfer.quantity, transfer.unit) == ("press@1.0.0#rail", 4, Unit.EACH)
    unnamed = mapping.purchase_events(replace(facts, supplier=""))[0]
    assert unnamed.provider == "supplier:unknown"
