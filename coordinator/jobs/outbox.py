"""After a unit of work commits: commands to the agents, a dispatch round, and the live stream.

The outbox is the one way out of the job domain. It never runs before the commit, so an agent is
never told about a change that was rolled back, and a dashboard never shows one.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from coordinator.jobs.rows import Outgoing
from coordinator.jobs.store import Written

log = logging.getLogger(__name__)


@dataclass
class Effects:
    """What a unit of work asks for once it has committed."""

    commands: list[Outgoing] = field(default_factory=list)
    reannounce: dict[tuple[str, str], str] = field(default_factory=dict)
    wake: bool = False  # a dispatch round is wanted
    replan: bool = False  # the work of a build changed: plan again
    written: Written = field(default_factory=Written)

    def merge(self, other: Effects) -> None:
        self.commands += other.commands
        self.reannounce.update(other.reannounce)
        self.wake = self.wake or other.wake
        self.replan = self.replan or other.replan
        self.written.jobs += other.written.jobs
        self.written.machines += other.written.machines
        self.written.links += other.written.links
        self.written.events += other.written.events


class Transport(Protocol):
    """What reaches the agents: the MQTT dispatcher, when it runs in this coordinator."""

    def send(self, commands: list[Outgoing], reannounce: dict[tuple[str, str], str]) -> None: ...

    def wake(self) -> None: ...

    def replan(self) -> None: ...


@dataclass(frozen=True)
class LiveItem:
    """One change as a dashboard page receives it: `key` names what changed, `text` is the SSE text,
    and an event-log row carries its id."""

    key: str
    text: str
    event_id: int | None = None


class Behind(Exception):
    """A reader asked for items the stream no longer holds: it must start again from the database."""


class LiveStream:
    """The latest changes in memory: published once, read by every open page from its own position.

    Items live in a ring of `capacity`; a reader more than that far behind gets `Behind`. At most
    `max_readers` read at once (each is a page holding a server thread).
    """

    def __init__(self, capacity: int = 50_000, max_readers: int = 200) -> None:
        self.capacity = capacity
        self.max_readers = max_readers
        self.format: Callable[[Written], list[LiveItem]] | None = None
        self._items: deque[LiveItem] = deque()
        self._first = 0  # position of _items[0]
        self._changed = threading.Condition()
        self._readers = 0

    def publish(self, written: Written) -> None:
        """Append what a commit wrote (formatted once for every reader); skipped while nobody reads."""
        if self.format is None or self._readers == 0:
            return
        items = self.format(written)
        if not items:
            return
        with self._changed:
            self._items.extend(items)
            excess = len(self._items) - self.capacity
            for _ in range(max(0, excess)):
                self._items.popleft()
            self._first += max(0, excess)
            self._changed.notify_all()

    def head(self) -> int:
        """The position just after the newest item: where a new reader starts."""
        with self._changed:
            return self._first + len(self._items)

    def read(self, position: int, timeout: float) -> tuple[int, list[LiveItem]]:
        """Items after `position` (waiting up to `timeout` for the first one) and the new position."""
        with self._changed:
            if position < self._first:
                raise Behind(f"{self._first - position} changes were dropped before this reader got them")
            end = self._first + len(self._items)
            if position >= end:
                self._changed.wait(timeout)
                end = self._first + len(self._items)
                if position < self._first:
                    raise Behind("changes were dropped while this reader waited")
            start = position - self._first
            return end, [self._items[i] for i in range(start, end - self._first)]

    def join(self) -> bool:
        """Count a new reader; False when `max_readers` read already. Publishing stops without readers."""
        with self._changed:
            if self._readers >= self.max_readers:
                return False
            self._readers += 1
            return True

    def leave(self) -> None:
        with self._changed:
            self._readers -= 1


class Outbox:
    """Hands a committed unit of work's effects to the agents' transport and to the live stream."""

    def __init__(self, live: LiveStream) -> None:
        self.live = live
        self.transport: Transport | None = None
        # others told of every committed unit of work (the notifier); each must return at once
        self.listeners: list[Callable[[Effects], None]] = []

    @property
    def reachable(self) -> bool:
        """Whether commands can reach agents from this coordinator (its dispatcher runs)."""
        return self.transport is not None

    def deliver(self, effects: Effects) -> None:
        """Send the commands, ask for a round or a new plan, and push the changes to open pages."""
        transport = self.transport
        if transport is not None:
            if effects.commands or effects.reannounce:
                transport.send(effects.commands, effects.reannounce)
            if effects.wake:
                transport.wake()
            if effects.replan:
                transport.replan()
        elif effects.commands:
            log.warning("no dispatcher in this coordinator: %d commands not sent", len(effects.commands))
        try:
            self.live.publish(effects.written)
        except Exception:  # noqa: BLE001 -- a page that cannot be told must not undo a committed change
            log.exception("live stream publish failed")
        for listener in self.listeners:
            try:
                listener(effects)
            except Exception:  # noqa: BLE001 -- nor may a listener that failed
                log.exception("outbox listener failed")
