"""The journal keeps events in order across restarts and lets go of them only when told."""

from __future__ import annotations

import json
from pathlib import Path

from fablab_agents.journal import Journal
from protocol.payloads import JobDone, JobProgress, decode_event


def progress(value: float) -> JobProgress:
    return JobProgress(job_id="j1", attempt_id="a1", machine_id="m1", progress=value)


def test_entries_survive_a_reopen_in_order_with_their_msg_ids(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    written = [journal.append(progress(p / 10)).msg_id for p in range(5)]
    journal.close()
    reopened = Journal(tmp_path / "journal.db")
    assert [e.msg_id for e in reopened.pending()] == written


def test_stamping_sets_sequence_and_keeps_the_event_valid(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    event = JobDone(job_id="j1", attempt_id="a1", machine_id="m1", duration_s=3.5)
    entry = journal.append(event)
    wire = decode_event(entry.stamped(boot_seq=4, seq=9))
    assert (wire.boot_seq, wire.seq, wire.msg_id, wire.duration_s) == (4, 9, event.msg_id, 3.5)
    assert json.loads(entry.stamped(5, 1))["boot_seq"] == 5


def test_remove_and_cursor(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    first, second, third = (journal.append(progress(p / 10)) for p in range(3))
    journal.remove(first.id)
    assert [e.id for e in journal.pending()] == [second.id, third.id]
    assert [e.id for e in journal.pending(after=second.id)] == [third.id]
    assert journal.count() == 2


def test_boot_seq_grows_across_reopens(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    assert [journal.next_boot_seq(), journal.next_boot_seq()] == [1, 2]
    journal.close()
    assert Journal(tmp_path / "journal.db").next_boot_seq() == 3


def test_a_full_journal_drops_progress_before_outcomes(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db", max_entries=100)
    done = journal.append(JobDone(job_id="j0", attempt_id="a0", machine_id="m1"))
    for p in range(150):
        journal.append(progress(p / 150))
    kept = journal.pending(limit=1000)
    assert len(kept) == 100
    assert kept[0].msg_id == done.msg_id
    assert kept[-1].payload["progress"] == 149 / 150


def test_machine_state_round_trips(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.db")
    journal.save_machine("m1", {"status": "waiting_operator", "job": None})
    journal.save_machine("m1", {"status": "idle", "job": None})
    assert journal.load_machines() == {"m1": {"status": "idle", "job": None}}
