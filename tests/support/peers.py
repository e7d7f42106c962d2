"""What the real peers the tests run (OctoPrint, PrusaLink, Moonraker) share: private venvs and stopping them.

Each peer pins libraries peerfab runs newer releases of, so each lives in its own venv at the top of
the repository (git-ignored), created the first time a test needs it and reused after that. A file lock
keeps parallel test processes from building the same venv twice.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 900


class PeerUnavailable(RuntimeError):
    """A real peer could not be installed or started here."""


def peer_python(venv_name: str, requirement: str) -> Path:
    """The Python of `ROOT/venv_name` with `requirement` installed, building the venv once."""
    venv = ROOT / venv_name
    python = venv / "bin" / "python"
    ready = venv / f".ready-{requirement}"
    if ready.exists():
        return python
    with open(ROOT / f"{venv_name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            _install(venv, python, requirement)
            ready.write_text(requirement)
    return python


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """Ask a peer's process to stop; kill it when it has not stopped within `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _install(venv: Path, python: Path, requirement: str) -> None:
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", requirement],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerUnavailable(f"{' '.join(step)}: {exc}") from exc
        if done.returncode != 0:
            raise PeerUnavailable(f"{' '.join(step)} failed: {done.stderr[-2000:]}")
