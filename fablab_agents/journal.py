"""The agent's durable store: an ordered journal of outgoing events, the boot counter, machine state.

An event is appended before anything tries to send it; it leaves the journal only once the broker
acknowledged it, so a crash, a restart or a network outage never loses one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol.payloads import AgentEnvelope

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS machine (id TEXT PRIMARY KEY, record TEXT NOT NULL);
"""

# Dropped first when the journal is full: a later progress report supersedes an earlier one.
_EXPENDABLE = ("job:progress", "agent:heartbeat")


@dataclass(frozen=True)
class Entry:
    """One journaled event, without its boot_seq/seq (stamped at send time)."""

    id: int
    msg_id: str
    type: str
    payload: dict[str, Any]

    def stamped(self, boot_seq: int, seq: int) -> bytes:
        """The wire bytes of this event for one send."""
        return json.dumps({**self.payload, "boot_seq": boot_seq, "seq": seq}).encode()


class Journal:
    """SQLite journal in `<data_dir>/journal.db`; safe to use from several threads."""

    def __init__(self, path: Path, max_entries: int = 100_000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL + NORMAL: an append survives a process crash; the cost per event stays small.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, event: AgentEnvelope) -> Entry:
        """Write an event at the end of the journal; its msg_id is fixed from now on."""
        payload = json.loads(event.model_dump_json(by_alias=True, exclude={"boot_seq", "seq"}))
        kind = str(payload.get("type", ""))
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO entry (msg_id, type, payload) VALUES (?, ?, ?)",
                (event.msg_id, kind, json.dumps(payload)),
            )
            entry_id = int(cursor.lastrowid or 0)
            self._trim()
        return Entry(entry_id, event.msg_id, kind, payload)

    def pending(self, after: int = 0, limit: int = 100) -> list[Entry]:
        """Entries with an id above `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, msg_id, type, payload FROM entry WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Entry(row[0], row[1], row[2], json.loads(row[3])) for row in rows]

    def remove(self, entry_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM entry WHERE id = ?", (entry_id,))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM entry").fetchone()[0])

    def next_boot_seq(self) -> int:
        """Bump and persist the boot counter; the first connection gets 1."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'boot_seq'").fetchone()
            value = (int(row[0]) if row else 0) + 1
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('boot_seq', ?)", (str(value),))
        return value

    def save_machine(self, machine_id: str, record: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO machine (id, record) VALUES (?, ?)",
                (machine_id, json.dumps(record)),
            )

    def load_machines(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, record FROM machine").fetchall()
        return {row[0]: json.loads(row[1]) for row in rows}

    def _trim(self) -> None:
        excess = self._db.execute("SELECT COUNT(*) FROM entry").fetchone()[0] - self.max_entries
        if excess <= 0:
            return
        marks = ",".join("?" for _ in _EXPENDABLE)
        self._db.execute(
            f"DELETE FROM entry WHERE id IN (SELECT id FROM entry WHERE type IN ({marks}) "
            "ORDER BY id LIMIT ?)",
            (*_EXPENDABLE, excess),
        )
