"""Real OctoPrint for tests and benchmarks: its own venv, its virtual printer on a pty, its server.

OctoPrint pins Flask < 3.1, Werkzeug < 3.1 and Click < 8.3 while peerfab's coordinator runs on newer
releases, so the two cannot share a venv. OctoPrint goes into `.venv-octoprint/` (see peers.py).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support.peers import PeerUnavailable, peer_python, stop_process
from tests.support.ports import free_port

OCTOPRINT_VERSION = "1.11.8"
BRIDGE = Path(__file__).with_name("virtual_marlin.py")
# The server's virtual printer in tests: no random faults, and a receive buffer its default 64 bytes
# would deadlock after a resend.
TEST_PRINTER = {"simulated_errors": [], "rxBuffer": 1024, "enable_eeprom": False}


class OctoPrintUnavailable(PeerUnavailable):
    """OctoPrint could not be installed or started here."""


def octoprint_python() -> Path:
    """The Python of the OctoPrint venv, creating the venv from PyPI once (safe across processes)."""
    try:
        return peer_python(".venv-octoprint", f"octoprint=={OCTOPRINT_VERSION}")
    except PeerUnavailable as exc:
        raise OctoPrintUnavailable(str(exc)) from exc


class VirtualMarlin:
    """OctoPrint's virtual Marlin behind a pty; `executed()` is what the printer itself ran."""

    def __init__(self, workdir: Path, **settings: Any) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "executed.txt"
        self.log.write_text("")
        command = [str(octoprint_python()), str(BRIDGE), "--log", str(self.log)]
        command += ["--settings", json.dumps(settings)]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        first = self._process.stdout.readline().split()
        if len(first) != 2 or first[0] != "PORT":
            self.stop()
            raise OctoPrintUnavailable("the virtual printer bridge did not start")
        self.port = first[1]

    def executed(self) -> list[str]:
        """Commands the virtual printer accepted and dispatched, in order."""
        return [line for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        """Stop the printer process."""
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


class OctoPrintServer:
    """An OctoPrint server on a throwaway base folder, with an admin API key and its virtual printer."""

    def __init__(self, basedir: Path, virtual_printer: dict[str, Any] | None = None) -> None:
        self.basedir = basedir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = secrets.token_hex(16)
        self._python = octoprint_python()
        self._configure(virtual_printer or {})
        self._log = (basedir / "server.log").open("w")
        command = [str(self._python), "-m", "octoprint", "--basedir", str(basedir), "serve"]
        command += ["--iknowwhatimdoing", "--host", "127.0.0.1", "--port", str(self.port)]
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_until_up(60.0)

    def _octoprint(self, *args: str) -> None:
        command = [str(self._python), "-m", "octoprint", "--basedir", str(self.basedir), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise OctoPrintUnavailable(f"octoprint {' '.join(args)} failed: {done.stderr[-2000:]}")

    def _configure(self, virtual_printer: dict[str, Any]) -> None:
        self.basedir.mkdir(parents=True, exist_ok=True)
        settings = {
            "server": {"firstRun": False, "onlineCheck": {"enabled": False}},
            "plugins": {"virtual_printer": {"enabled": True, **virtual_printer}},
            "serial": {"log": False},
        }
        (self.basedir / "config.yaml").write_text(json.dumps(settings))  # JSON is valid YAML
        self._octoprint("user", "add", "--password", secrets.token_hex(8), "--admin", "peerfab")
        keys = self.basedir / "data" / "appkeys"
        keys.mkdir(parents=True, exist_ok=True)
        entry = {"api_key": self.api_key, "app_id": "peerfab-tests", "created": int(time.time())}
        (keys / "keys.yaml").write_text(json.dumps({"peerfab": [entry]}))

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise OctoPrintUnavailable(f"octoprint serve exited; see {self.basedir / 'server.log'}")
            try:
                if self.get("/api/version").status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        self.stop()
        raise OctoPrintUnavailable("octoprint serve did not answer /api/version in time")

    def get(self, path: str) -> requests.Response:
        """GET an API path with the admin key."""
        return requests.get(self.url + path, headers={"X-Api-Key": self.api_key}, timeout=10)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        """POST JSON to an API path with the admin key."""
        return requests.post(self.url + path, json=body, headers={"X-Api-Key": self.api_key}, timeout=10)

    def stop(self) -> None:
        """Stop the server."""
        stop_process(self._process, 15)
        self._log.close()


@contextmanager
def virtual_marlin(workdir: Path, **settings: Any) -> Iterator[VirtualMarlin]:
    """A VirtualMarlin for the length of a with block."""
    printer = VirtualMarlin(workdir, **settings)
    try:
        yield printer
    finally:
        printer.stop()
