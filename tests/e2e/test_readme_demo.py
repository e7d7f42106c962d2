"""The README's designer flow, word for word, against `peerfab demo` run as a person runs it.

The demo is started on its default port (the README's commands name it), its printed tokens and
folder are used as printed, a second demo on the same port is refused in one line, and Ctrl-C
leaves no data behind.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import UNDER_CI
from tests.support.ports import port_is_free

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PORT = 8400


def readme_commands() -> list[str]:
    """The shell lines the README gives for a running demo."""
    text = (ROOT / "README.md").read_text()
    block = text.split("with the demo running", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]


class RunningDemo:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout_s: float = 120.0) -> re.Match[str]:
        while True:
            try:
                line = self.lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"the demo never printed {pattern!r}; it printed {self.seen}") from None
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found


@pytest.fixture
def demo() -> Iterator[RunningDemo]:
    if not port_is_free(PORT):
        if UNDER_CI:
            pytest.fail(f"port {PORT} is taken: the README's flow needs the demo's default port")
        pytest.skip(f"port {PORT} is taken on this machine")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([str(BIN / "peerfab"), "demo"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    running = RunningDemo(process)
    yield running
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PEERFAB_URL", None)
    env.pop("PEERFAB_TOKEN", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_readme_flow_works_against_the_demo(demo: RunningDemo) -> None:
    folder = Path(demo.wait_for(r"data in (\S+)").group(1))
    designer = demo.wait_for(r"designer token:\s+(pf_\S+)").group(1)
    more = demo.wait_for(r"more tokens: (peerfab token create .*)$").group(1)

    push, explode = readme_commands()
    pushed = _shell(push.replace("pf_...", designer))
    assert pushed.returncode == 0, pushed.stderr
    exploded = _shell(explode)
    assert exploded.returncode == 0, exploded.stderr
    answer = json.loads(exploded.stdout)
    assert answer["units"] == 3 and any(part["id"] == "bolt-m20" for part in answer["parts"])

    made = _shell(more)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().startswith("pf_")

    second = _shell(f"peerfab demo --port {PORT}")
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"error: port {PORT} is in use (another peerfab demo?); choose another with --port (0: any)"
    ]

    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=60) == 0
    assert not folder.exists(), f"the demo left {folder} behind"


def test_token_create_refuses_a_folder_without_a_database(tmp_path: Path) -> None:
    result = _shell(f"peerfab token create --role designer --data-dir {shlex.quote(str(tmp_path))}")
    assert result.returncode == 2 and "holds no peerfab database" in result.stderr
