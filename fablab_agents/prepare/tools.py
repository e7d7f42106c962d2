"""Running an external slicer: found on PATH or where the config says, bounded in time, its reason kept."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from fablab_agents.prepare.model import PreparationError

# PrusaSlicer logs as `[date] [thread] [level]   message`; CuraEngine as `[LEVEL] message`.
_LOG_LINE = re.compile(r"^(?:\[[^\]]*\]\s*){0,2}\[(\w+)\]\s*(.*)$")
_QUIET_LEVELS = frozenset({"trace", "debug", "info"})


def find_binary(configured: str | None, names: tuple[str, ...]) -> str:
    """The configured path, else the first of `names` on PATH, else the first name (reported if missing)."""
    if configured:
        return configured
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return names[0]


def run_tool(args: list[str], *, timeout_s: float, what: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a slicer; a missing binary or a run past the time limit is a PreparationError."""
    try:
        return subprocess.run(
            args, capture_output=True, text=True, errors="replace", timeout=timeout_s, cwd=cwd, check=False
        )
    except FileNotFoundError as exc:
        raise PreparationError(
            f"{what}: {args[0]} is not installed here (install it or set slicer_path)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise PreparationError(f"{what} did not finish within slicer_timeout_s = {timeout_s:g} s") from exc


def tool_reason(output: str, *, logged_only: bool = False, limit: int = 4) -> str:
    """The lines of a tool's output that say what went wrong, without progress and trace noise.

    `logged_only` keeps only lines with a log level (CuraEngine prints its banner and steps plainly).
    """
    reasons: list[str] = []
    for raw in output.splitlines():
        line = raw.strip()
        match = _LOG_LINE.match(line)
        if match:
            level, line = match.group(1).lower(), match.group(2).strip()
            if level in _QUIET_LEVELS:
                continue
        elif logged_only:
            continue
        line = line.removeprefix("what():").removeprefix("error:").strip()
        if _is_noise(line) or line in reasons:
            continue
        reasons.append(line)
    return "; ".join(reasons[-limit:]) or "no reason given"


def _is_noise(line: str) -> bool:
    return (
        not line
        or "=>" in line  # PrusaSlicer progress: `70 => Infilling layers`
        or line.startswith(("terminate called", "-s ", "Progress:", "Cura_SteamEngine", "Copyright"))
    )
