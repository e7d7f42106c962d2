"""Real Moonraker (Klipper's API server, from PyPI) for tests, in front of a fake klippy on a Unix socket.

Moonraker 0.11.0 pins tornado, paho-mqtt and other libraries at releases of its own, so it lives in
`.venv-moonraker/` (see peers.py). Klipper itself is on neither PyPI nor Debian: tests/support/
fake_klippy.py takes its place. Facts checked with it on this machine:

- `python -m moonraker -d DATA -c CONFIG -n` runs in the foreground without a log file; DATA holds its
  database and the `gcodes` root that uploads go to. `[server] klippy_uds_address` names klippy's socket.
- With no `[authorization] trusted_clients`, every request without a valid API key is refused 401; the
  key (`X-Api-Key`) is made at first start and a trusted client reads it at `/access/api_key`.
- It refuses uploads into the Klipper source folder klippy's `info` names (403, "reserved path").
- `/printer/print/start` sends klippy `SDCARD_PRINT_FILE FILENAME="..."`; pause, resume and cancel go
  to klippy's `pause_resume/*` endpoints; `/printer/objects/query` is klippy's own endpoint, passed on.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tests.support.fake_klippy import FakeKlippy
from tests.support.peers import PeerUnavailable, peer_python, stop_process
from tests.support.ports import free_port

MOONRAKER_VERSION = "0.11.0"
START_TIMEOUT = 60.0


def moonraker_python() -> Path:
    """The Python of the Moonraker venv, creating the venv from PyPI once (safe across processes)."""
    return peer_python(".venv-moonraker", f"moonraker=={MOONRAKER_VERSION}")


class MoonrakerServer:
    """Moonraker on a free loopback port with its data in `workdir`, and the fake klippy it talks to.

    It starts trusting loopback clients (a LAN setup) and reads the API key; `start(trusted=False)`
    after a `stop()` makes every request need that key, which the database keeps.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # a Unix socket's path must stay under 108 bytes: pytest's folders can be longer
        self._sockets = Path(tempfile.mkdtemp(prefix="pf-klippy-"))
        self.gcodes = workdir / "gcodes"
        self.gcodes.mkdir(parents=True, exist_ok=True)
        self.klippy = FakeKlippy(self._sockets / "klippy.sock", self.gcodes).start()
        self.log_path = workdir / "moonraker.log"
        self.api_key = ""
        self._process: subprocess.Popen[bytes] | None = None
        self.start(trusted=True)

    def start(self, trusted: bool) -> None:
        """Start Moonraker (again) with or without trusting loopback clients; wait until klippy is ready."""
        config = self.workdir / "moonraker.conf"
        trust = "trusted_clients:\n  127.0.0.1\n" if trusted else "trusted_clients:\n  10.255.255.0/24\n"
        config.write_text(
            f"[server]\nhost: 127.0.0.1\nport: {self.port}\nklippy_uds_address: {self.klippy.socket_path}\n\n"
            f"[authorization]\n{trust}"
        )
        log = self.log_path.open("a")
        self._process = subprocess.Popen(
            [str(moonraker_python()), "-m", "moonraker", "-d", str(self.workdir), "-c", str(config), "-n"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            self._wait_ready(trusted)
        except PeerUnavailable:
            self.close()
            raise

    def _wait_ready(self, trusted: bool) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        state = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise PeerUnavailable(f"moonraker exited; see {self.log_path}")
            state = self._klippy_state()
            if state == "ready":
                if trusted:
                    self.api_key = str(self.get("/access/api_key").json()["result"])
                return
            time.sleep(0.2)
        raise PeerUnavailable(
            f"Moonraker's klippy stayed {state} for {START_TIMEOUT:g} s; see {self.log_path}"
        )

    def _klippy_state(self) -> str | None:
        try:
            response = self.get("/server/info")
        except requests.ConnectionError:
            return None
        return str(response.json()["result"]["klippy_state"]) if response.status_code == 200 else None

    def get(self, path: str) -> requests.Response:
        """GET an API path with the API key (when one is known)."""
        headers = {"X-Api-Key": self.api_key} if self.api_key else {}
        return requests.get(self.url + path, headers=headers, timeout=10)

    def status(self, *objects: str) -> dict[str, Any]:
        """Klipper's printer objects (all their fields) as Moonraker's objects query reports them."""
        body = self.get(f"/printer/objects/query?{'&'.join(objects)}").json()
        return body["result"]["status"]  # type: ignore[no-any-return]

    def print_state(self) -> str:
        """print_stats.state as Moonraker reports it."""
        return str(self.status("print_stats")["print_stats"]["state"])

    def wait_for_print_state(self, states: set[str], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.print_state()
            if state in states:
                return state
            time.sleep(0.1)
        raise AssertionError(f"Moonraker's print stayed {state} for {timeout:g} s, not {sorted(states)}")

    def stop(self) -> None:
        """Stop Moonraker; the fake klippy keeps running for a restart."""
        if self._process is not None:
            stop_process(self._process, 10)
            self._process = None

    def close(self) -> None:
        """Stop Moonraker and the fake klippy; remove the socket folder."""
        self.stop()
        self.klippy.stop()
        shutil.rmtree(self._sockets, ignore_errors=True)
