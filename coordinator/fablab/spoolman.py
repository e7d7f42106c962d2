"""Spoolman: a fablab that keeps its spools in a Spoolman server lets peerfab read and update it.

peerfab mirrors the lab's Spoolman spools as inventory spools (`external_id` is Spoolman's id; the
spool's Spoolman `location` names the machine it is loaded on: `prusa-1` or `fablab/prusa-1`), so
matching and the job reactions work the same as with peerfab's own inventory. What jobs use is
taken off the mirror in the job's unit of work and counted as not yet told (`unsynced_g`); the
notifier's worker tells Spoolman (`PUT /api/v1/spool/{id}/use` with `use_weight`) and reads the
spools back (`GET /api/v1/spool`), never from the dispatcher's thread.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from sqlalchemy import update
from sqlmodel import Session, col, select

from coordinator.models.fablab import Spool, SpoolSource
from coordinator.models.jobs import Machine
from protocol.errors import InvalidInput

log = logging.getLogger(__name__)
TIMEOUT_S = 5.0


class SpoolmanError(Exception):
    """Spoolman could not be reached or answered with an error."""


class SpoolmanClient:
    """The few calls of Spoolman's REST API (v1) that peerfab uses."""

    def __init__(self, url: str, timeout_s: float = TIMEOUT_S) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = requests.request(method, self.base + path, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise SpoolmanError(f"Spoolman at {self.base} cannot be reached: {exc}") from exc
        if response.status_code >= 400:
            raise SpoolmanError(
                f"Spoolman {method} {path}: HTTP {response.status_code} {response.text[:200]}"
            )
        return response.json() if response.content else None

    def spools(self) -> list[dict[str, Any]]:
        """Every spool that is not archived."""
        found = self._call("GET", "/spool", params={"allow_archived": "false"})
        return list(found or [])

    def use(self, spool_id: str, grams: float) -> None:
        """Record `grams` used from a spool (negative gives back, as Spoolman allows)."""
        self._call("PUT", f"/spool/{spool_id}/use", json={"use_weight": grams})

    def set_location(self, spool_id: str, location: str) -> None:
        self._call("PATCH", f"/spool/{spool_id}", json={"location": location})


def set_source(session: Session, fablab: str, kind: str, url: str = "") -> SpoolSource:
    """Where a fablab keeps its spools: 'peerfab' (its inventory here) or 'spoolman' at `url`."""
    if kind not in ("peerfab", "spoolman"):
        raise InvalidInput(f"spool source must be 'peerfab' or 'spoolman', got {kind!r}")
    if kind == "spoolman" and not url.startswith(("http://", "https://")):
        raise InvalidInput(f"a Spoolman source needs its http(s) URL, got {url!r}")
    source = session.get(SpoolSource, fablab) or SpoolSource(fablab=fablab)
    source.kind, source.url = kind, url.rstrip("/") if kind == "spoolman" else ""
    session.add(source)
    return source


def sync_all(session: Session) -> None:
    """Tell every Spoolman what jobs used, and read its spools back (the notifier runs this)."""
    for source in session.exec(select(SpoolSource).where(SpoolSource.kind == "spoolman")).all():
        try:
            sync(session, source.fablab, SpoolmanClient(source.url))
        except SpoolmanError as exc:
            log.warning("fablab %s: %s", source.fablab, exc)


def sync(session: Session, fablab: str, client: SpoolmanClient) -> int:
    """Push what was used, then mirror Spoolman's spools; return how many spools were read."""
    push_usage(session, fablab, client)
    found = client.spools()
    machines = set(session.exec(select(Machine.machine_id).where(Machine.fablab == fablab)).all())
    mirrored = {
        s.external_id: s
        for s in session.exec(select(Spool).where(Spool.fablab == fablab, Spool.external_id != ""))
    }
    seen = set()
    for data in found:
        external = str(data["id"])
        seen.add(external)
        spool = mirrored.get(external) or Spool(fablab=fablab, material="", external_id=external)
        _mirror(spool, data, _machine_of(data.get("location") or "", fablab, machines))
        session.add(spool)
    for external, spool in mirrored.items():
        if external not in seen and not spool.archived:
            spool.archived, spool.machine_id = True, None  # archived or removed in Spoolman
    session.flush()
    return len(found)


def push_usage(session: Session, fablab: str, client: SpoolmanClient) -> None:
    """Tell Spoolman each spool's use not told yet; what was told is taken off in one statement."""
    pending = session.exec(select(Spool).where(Spool.fablab == fablab, col(Spool.unsynced_g) != 0)).all()
    for spool in pending:
        grams = spool.unsynced_g
        client.use(spool.external_id, round(grams, 3))
        session.execute(
            update(Spool).where(col(Spool.id) == spool.id).values(unsynced_g=col(Spool.unsynced_g) - grams)
        )
        session.commit()  # told is told: a later failure must not tell it twice
        session.refresh(spool)


def _machine_of(location: str, fablab: str, machines: set[str]) -> str | None:
    name = location.strip()
    if "/" in name:
        lab, _, name = name.partition("/")
        if lab != fablab:
            return None
    return name if name in machines else None


def _mirror(spool: Spool, data: dict[str, Any], machine_id: str | None) -> None:
    filament = data.get("filament") or {}
    initial = float(data.get("initial_weight") or filament.get("weight") or 1000.0)
    remaining = data.get("remaining_weight")
    spool.material = str(filament.get("material") or "unknown").lower()
    spool.colour = f"#{filament['color_hex']}" if filament.get("color_hex") else ""
    spool.diameter_mm = float(filament.get("diameter") or 1.75)
    spool.vendor = str((filament.get("vendor") or {}).get("name") or "")
    spool.name = str(filament.get("name") or "")
    spool.initial_g = initial
    # what jobs used here and Spoolman has not been told yet is still off the spool
    spool.remaining_g = (float(remaining) if remaining is not None else initial) - spool.unsynced_g
    spool.cost_per_kg = _cost_per_kg(data, filament, initial)
    spool.archived = bool(data.get("archived"))
    if spool.machine_id != machine_id:
        spool.machine_id = machine_id


def _cost_per_kg(data: dict[str, Any], filament: dict[str, Any], initial_g: float) -> float | None:
    if data.get("price") is not None and initial_g:
        return round(float(data["price"]) / (initial_g / 1000), 2)
    if filament.get("price") is not None and filament.get("weight"):
        return round(float(filament["price"]) / (float(filament["weight"]) / 1000), 2)
    return None
