"""Real PrusaLink (Prusa's printer adapter for the MK3 family) for tests, in front of a fake MK3S on a pty.

PrusaLink 0.8.1 pins pydantic 1.10.12 and other libraries peerfab runs newer releases of, so it lives in
`.venv-prusalink/` (see peers.py). Facts checked with it on this machine:

- Building it needs the libcap headers (Debian `libcap-dev`, for python-prctl); starting it needs
  libturbojpeg (Debian `libturbojpeg0`, imported even with cameras off) and libmagic.
- `prusalink -f -c FILE` runs in the foreground with a config file; `[daemon] data_dir` holds the pid file
  and `prusa_printer_settings.ini`, `[http] address`/`port` choose where it listens, `[printer] port` names
  the serial device (a pty path works) and `[printer] directory` where uploads go. It refuses a gcode
  folder under /tmp (its storage blacklist), so the folder goes under /var/tmp.
- `prusa_printer_settings.ini` skips the setup wizard when `[printer] type` (MK3S), `[service::local]
  username` and `digest` are set; the digest is md5 of `username:Administrator:password` (its realm), and
  `api_key` there is accepted in `X-Api-Key`. Its digest challenge uses `algorithm="MD5-sess"`.
- On a port that is not the Pi's own UART it waits 8 s for the printer to boot, then asks `PRUSA Fir`
  (version at least 3.14.0) and `M862.2 Q` (printer type); after that `/api/v1/status` says IDLE.
- It prints a file itself, line by line with line numbers and checksums, keeps FINISHED or STOPPED for
  11 s after a job (uploads with Print-After-Upload are refused with 409 meanwhile) and drops the job
  from `/api/v1/status` and `/api/v1/job` as soon as the job ends.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from requests.auth import HTTPDigestAuth

from tests.support.peers import PeerUnavailable, peer_python, stop_process
from tests.support.ports import free_port

PRUSALINK_VERSION = "0.8.1"
REALM = "Administrator"
USERNAME = "maker"
START_TIMEOUT = 60.0
# PrusaLink refuses gcode folders under /tmp; /var/tmp is the other place meant for throwaway files
UPLOADS_PARENT = Path("/var/tmp")


def prusalink_python() -> Path:
    """The Python of the PrusaLink venv, creating the venv from PyPI once (safe across processes)."""
    return peer_python(".venv-prusalink", f"prusalink=={PRUSALINK_VERSION}")


class PrusaLinkServer:
    """PrusaLink on a free loopback port, configured in `workdir`, driving the printer on `serial_port`."""

    def __init__(self, workdir: Path, serial_port: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_hex(8)
        self.api_key = secrets.token_hex(8)
        self.uploads = Path(tempfile.mkdtemp(prefix="peerfab-prusalink-", dir=UPLOADS_PARENT))
        config = self._configure(serial_port)
        self.log_path = workdir / "prusalink.log"
        self._log = self.log_path.open("w")
        prusalink = prusalink_python().parent / "prusalink"
        self._process = subprocess.Popen(
            [str(prusalink), "-f", "-i", "-c", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self.wait_for_state({"IDLE"}, START_TIMEOUT)
        except PeerUnavailable:
            self.stop()
            raise

    def _configure(self, serial_port: str) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5(f"{USERNAME}:{REALM}:{self.password}".encode()).hexdigest()
        settings = (
            "[printer]\ntype = MK3S\nname = peerfab test\n\n"
            f"[service::local]\nenable = 1\nusername = {USERNAME}\ndigest = {digest}\n"
            f"api_key = {self.api_key}\n"
        )
        (self.workdir / "prusa_printer_settings.ini").write_text(settings)
        config = self.workdir / "prusalink.ini"
        config.write_text(
            f"[daemon]\ndata_dir = {self.workdir}\n\n"
            f"[http]\naddress = 127.0.0.1\nport = {self.port}\n\n"
            f"[printer]\nport = {serial_port}\ndirectory = {self.uploads}\n\n"
            "[cameras]\nauto_detect = False\n"
        )
        return config

    def get(self, path: str) -> requests.Response:
        """GET an API path with the digest login."""
        return requests.get(self.url + path, auth=HTTPDigestAuth(USERNAME, self.password), timeout=10)

    def printer_state(self) -> str | None:
        """`printer.state` of `/api/v1/status`, or None while PrusaLink does not answer it."""
        try:
            response = self.get("/api/v1/status")
        except requests.ConnectionError:
            return None
        return str(response.json()["printer"]["state"]) if response.status_code == 200 else None

    def wait_for_state(self, states: set[str], timeout: float) -> str:
        """Wait until PrusaLink reports one of `states`; PeerUnavailable if it exits or takes too long."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise PeerUnavailable(f"prusalink exited; see {self.log_path}")
            state = self.printer_state()
            if state in states:
                return state
            time.sleep(0.2)
        raise PeerUnavailable(
            f"PrusaLink stayed {state} for {timeout:g} s, not {sorted(states)}; see {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server (it takes up to 15 s to stop its threads) and remove its uploads."""
        stop_process(self._process, 20)
        self._log.close()
        shutil.rmtree(self.uploads, ignore_errors=True)
