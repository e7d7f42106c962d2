"""The part every firmware fake shares: a pty pair, a thread that answers until stopped, and a mute switch.

A fake opens the pair, hands the slave's name (`port`) to the code under test, and reads the master: each
chunk received goes to `_take`, then `_step` runs until it has nothing left to do. `_say` writes lines back
unless the fake has gone silent (a fault some fakes inject).
"""

from __future__ import annotations

import os
import select
import threading
import tty


def line_checksum(payload: str) -> int:
    """The checksum a host appends to a numbered line (`N12 G1 X5*cs`): the XOR of its bytes."""
    value = 0
    for byte in payload.encode():
        value ^= byte
    return value


class PtyFirmware(threading.Thread):
    """Base of the fakes: subclasses say what they print at boot, take bytes and do their work."""

    EOL = "\n"  # how the firmware ends the lines it writes

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        self._silent = False
        self._halt = threading.Event()

    def stop(self) -> None:
        """Stop the thread and close the pty."""
        self._halt.set()
        self.join(timeout=5)
        os.close(self.master)
        os.close(self.slave)

    def run(self) -> None:
        self._boot()
        while not self._halt.is_set():
            readable, _, _ = select.select([self.master], [], [], 0.002)
            if readable:
                self._read()
            while self._step():
                pass

    def _say(self, *lines: str) -> None:
        if not self._silent:
            os.write(self.master, "".join(f"{line}{self.EOL}" for line in lines).encode())

    def _read(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self._take(data)

    def _boot(self) -> None:
        """What the firmware prints when it starts."""

    def _take(self, data: bytes) -> None:
        """Bytes the host sent."""
        raise NotImplementedError

    def _step(self) -> bool:
        """Do one piece of pending work; False when there is none."""
        raise NotImplementedError
