"""How states look on a page: a text label, a tone (colour) and an icon, never colour alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Badge:
    """A state as shown: label text, tone class and icon id of the sprite in base.html."""

    label: str
    tone: str
    icon: str

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "tone": self.tone, "icon": self.icon}


MACHINE_BADGES: dict[str, Badge] = {
    "idle": Badge("Online, idle", "ok", "online"),
    "preparing": Badge("Preparing", "busy", "send"),
    "running": Badge("Working", "busy", "play"),
    "waiting_operator": Badge("Waiting for operator", "warn", "hand"),
    "paused": Badge("Paused", "warn", "pause"),
    "offline": Badge("Offline", "off", "offline"),
    "error": Badge("Error", "bad", "error"),
}

HELD_BADGE = Badge("Held for maintenance", "warn", "hand")
LOW_BADGE = Badge("Low", "warn", "error")

JOB_BADGES: dict[str, Badge] = {
    "queued": Badge("Queued", "off", "clock"),
    "assigned": Badge("Offered", "busy", "send"),
    "needs_preparation": Badge("Needs preparation", "warn", "hand"),
    "accepted": Badge("Accepted", "busy", "send"),
    "running": Badge("Running", "busy", "play"),
    "paused": Badge("Paused", "warn", "pause"),
    "waiting_operator": Badge("Waiting for operator", "warn", "hand"),
    "done": Badge("Done", "ok", "check"),
    "failed": Badge("Failed", "bad", "error"),
    "cancelled": Badge("Cancelled", "off", "cancel"),
}

# what a machine at work is doing, by its process
_WORKING = {
    "fdm_print": "Printing",
    "sla_print": "Printing",
    "sls_print": "Printing",
    "laser_cut": "Cutting",
    "plasma_cut": "Cutting",
    "cnc_router": "Milling",
    "cnc_mill": "Milling",
    "pcb_fab": "Milling",
    "assembly": "Assembling",
}


def machine_badge(status: str, process: str | None = None) -> Badge:
    """The badge of a machine status; a working printer says Printing, a laser Cutting."""
    if status == "busy":  # agents of the first release
        status = "running"
    badge = MACHINE_BADGES.get(status, Badge(status.replace("_", " ").capitalize(), "off", "offline"))
    if status == "running" and process in _WORKING:
        return Badge(_WORKING[process], badge.tone, badge.icon)
    return badge


def job_badge(state: str) -> Badge:
    return JOB_BADGES.get(state, Badge(state.replace("_", " ").capitalize(), "off", "clock"))


def duration(seconds: float | None) -> str:
    """A short human duration: 45 s, 12 min, 3 h 05 min."""
    if seconds is None:
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago a moment was, for 'last seen' columns."""
    if moment is None:
        return "never"
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = ((now or datetime.now(UTC)) - moment).total_seconds()
    return "just now" if delta < 5 else f"{duration(delta)} ago"


def iso(moment: datetime | None) -> str:
    """A stored moment as ISO 8601 UTC (SQLite hands back naive datetimes)."""
    if moment is None:
        return ""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat(timespec="seconds")


def percent(fraction: float | None) -> int:
    return round(max(0.0, min(1.0, float(fraction or 0.0))) * 100)


def quantity(value: float) -> str:
    """A BOM quantity without float noise: 2, 0.5, 1.25."""
    return f"{value:g}"


def money(amounts: dict[str, Any]) -> str:
    return ", ".join(f"{amount:,.2f} {currency}" for currency, amount in amounts.items()) or "none"


def children_changes(old: Any, new: Any) -> list[str]:
    """What changed in an assembly's children, one line per child: 'bolt: 4 → 6'."""
    before = {c["part"]: c["quantity"] for c in old or []}
    after = {c["part"]: c["quantity"] for c in new or []}
    lines = []
    for part in sorted(set(before) | set(after)):
        if part not in after:
            lines.append(f"{part}: removed (was {quantity(before[part])})")
        elif part not in before:
            lines.append(f"{part}: added ({quantity(after[part])})")
        elif before[part] != after[part]:
            lines.append(f"{part}: {quantity(before[part])} → {quantity(after[part])}")
    return lines
