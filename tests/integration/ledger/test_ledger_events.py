"""The ledger records each part made, each machine hour and gram used, once, as the jobs really end."""

from __future__ import annotations

from collections import Counter

from coordinator.db import session_scope
from coordinator.jobs.commands import Actor, CancelJob, ReceivePurchases
from coordinator.models.auth import Role
from coordinator.services import designs
from protocol import payloads as p
from tests.integration.ledger.conftest import Machine, ledger, start_build, tasks
from tests.support.agents import offer_to
from tests.support.packages import write_package


def test_each_finished_part_is_produced_once_where_it_was_made(network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start_build(network)
    plate = tasks(network, build_id)["fab:bracket:1"]
    printer = Machine(network, "prusa-1")
    printer.make(plate.job_id, filament_used_g=24.0)

    produced = ledger(network, action="produce")
    assert len(produced) == 1
    (made,) = produced
    assert (made.fablab, made.machine_id, made.build_id) == ("lab-a", "prusa-1", build_id)
    assert made.resource == "test-machine@1.0.0#bracket" and made.quantity == plate.copies == 4
    assert made.receiver == "person:bea" and made.provider == "fablab:lab-a"
    (used,) = ledger(network, action="use")
    assert used.resource == "lab-a/prusa-1" and used.unit == "hour" and used.begin is not None
    (consumed,) = ledger(network, action="consume")
    assert (consumed.quantity, consumed.unit, consumed.resource) == (24.0, "g", "PLA")
    assert consumed.spool_id is not None


def test_a_failed_attempt_counts_as_use_and_the_part_is_produced_once(network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start_build(network)
    job_id = tasks(network, build_id)["fab:bracket:1"].job_id
    printer = Machine(network, "prusa-1")
    printer.fail(printer.start(job_id), "spaghetti")  # the job goes back to the queue
    again = printer.start(job_id)  # the failed attempt is recorded as the next one starts
    assert Counter(e.action for e in ledger(network, job_id=job_id)) == {"use": 1, "consume": 1}
    printer.finish(again)

    events = ledger(network, job_id=job_id)
    assert Counter(e.action for e in events) == {"use": 2, "consume": 2, "produce": 1}
    failed = [e for e in events if e.action == "use" and "failed" in e.note]
    assert len(failed) == 1 and failed[0].machine_id == "prusa-1"


def test_replayed_job_endings_add_nothing(network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start_build(network)
    job_id = tasks(network, build_id)["fab:bracket:1"].job_id
    printer = Machine(network, "prusa-1")
    offer = printer.start(job_id)
    done = printer.finish(offer)
    before = [(e.key, e.quantity) for e in ledger(network)]
    printer.hand(done)  # the same message again
    printer.finish(offer)  # the agent says it again under a new number
    assert [(e.key, e.quantity) for e in ledger(network)] == before
    assert len([e for e in ledger(network) if e.action == "produce"]) == 1


def test_assembly_is_work_at_the_bench_and_purchases_are_transfers(network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start_build(network)
    received = ReceivePurchases(build_id, None, Actor("bea", Role.BUILDER))
    network.bus.handle(received)
    network.bus.handle(received)  # received again: nothing new arrived
    rows = tasks(network, build_id)
    Machine(network, "prusa-1").make(rows["fab:bracket:1"].job_id)
    bench = Machine(network, "bench")
    bench.make(rows["asm:frame:1"].job_id)
    bench.make(rows["asm:root:1"].job_id)

    work = ledger(network, action="work", build_id=build_id)
    assert [(e.provider, e.resource, e.unit) for e in work] == [
        ("fablab:lab-a", "test-machine@1.0.0#frame", "hour"),
        ("fablab:lab-a", "test-machine@1.0.0#root", "hour"),
    ]
    assert {e.resource for e in ledger(network, action="produce")} == {
        "test-machine@1.0.0#bracket", "test-machine@1.0.0#frame", "test-machine@1.0.0#root",
    }  # fmt: skip
    transfers = {e.resource: (e.provider, e.receiver, e.quantity) for e in ledger(network, action="transfer")}
    assert transfers["test-machine@1.0.0#rail"] == ("supplier:Misumi", "fablab:lab-a", 2.0)
    assert len(ledger(network, action="transfer")) == len(transfers) == 2


def test_publishing_is_work_by_its_people_and_cites_what_it_derives_from(
    runtime, published, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    (work,) = ledger(runtime, action="work")
    assert (work.provider, work.receiver, work.resource) == ("person:ada", "commons", "test-machine@1.0.0")
    lineage = {"lineage": {"derivative-of": "test-machine@1.0.0"}}
    package = write_package(tmp_path / "fork", slug="better-machine", design_extra=lineage)
    with session_scope(runtime.engine) as session:
        designs.publish_path(session, runtime.store, package, runtime.settings.limits, by="bo")
    (cite,) = ledger(runtime, action="cite")
    assert (cite.provider, cite.resource, cite.design) == (
        "person:bo",
        "test-machine@1.0.0",
        "better-machine",
    )
    assert [e.provider for e in ledger(runtime, action="work", design="better-machine")] == ["person:bo"]


def test_reports_handled_in_one_batch_still_count_the_attempt(client, network, published) -> None:  # type: ignore[no-untyped-def]
    build_id = start_build(network)
    job_id = tasks(network, build_id)["fab:bracket:1"].job_id
    printer = Machine(network, "prusa-1")
    offer = offer_to(network, job_id, "lab-a", "agent-1", "prusa-1")
    reports = [p.JobAccepted(**printer.ids(offer)), p.JobFailed(**printer.ids(offer), reason="warped")]
    printer.hand(*reports)  # accepted and failed together: the attempt ends in the unit of work it starts
    printer.make(job_id)

    assert Counter(e.action for e in ledger(network, job_id=job_id)) == {"use": 2, "consume": 1, "produce": 1}
    plate = {p["task"]: p for p in client.get(f"/api/v1/builds/{build_id}/provenance").json["parts"]}
    assert [a["state"] for a in plate["fab:bracket:1"]["attempts"]] == ["failed", "done"]


def test_a_job_cancelled_mid_print_counts_its_machine_time_and_makes_nothing(network, published) -> None:  # type: ignore[no-untyped-def]
    job_id = tasks(network, start_build(network))["fab:bracket:1"].job_id
    printer = Machine(network, "prusa-1")
    offer = printer.start(job_id)
    network.bus.handle(CancelJob(job_id, Actor("bea", Role.BUILDER)))
    assert Counter(e.action for e in ledger(network, job_id=job_id)) == {"use": 1, "consume": 1}
    printer.hand(p.JobCancelled(**printer.ids(offer)))  # the machine confirms it stopped: nothing new

    events = ledger(network, job_id=job_id)
    assert Counter(e.action for e in events) == {"use": 1, "consume": 1}
    assert "cancelled" in events[0].note
