"""Loopback ports for the servers the tests start: a free one, and waiting until one listens.

The ports come from below the kernel's ephemeral range, which outgoing connections take their own
ports from. A broker a test stops and starts again on the same port could otherwise find it taken by
a client's connection attempt to it: Linux may give that attempt the port itself as its source port
and connect it to itself (a TCP self-connect), and the restarted broker cannot bind.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
SPAN = 12000  # ports tried below the ephemeral range
ATTEMPTS = 200


def free_port() -> int:
    """A TCP port nothing is bound to at the moment, on the loopback interface, outside the ephemeral
    range (the kernel's choice when no such port is free)."""
    low = _ephemeral_low()
    draw = random.SystemRandom()
    for _ in range(ATTEMPTS):
        port = draw.randrange(max(1024, low - SPAN), low)
        if port_is_free(port):
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_free(port: int) -> bool:
    """Whether nothing is bound to `port` on the loopback interface at the moment."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Return once something accepts connections on host:port; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
