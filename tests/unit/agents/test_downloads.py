"""Job file downloads: verified by sha256, stored under their hash, safe when fetched twice at once."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fablab_agents.downloads import DownloadError, fetch
from protocol.payloads import FileRef

BODY = b"G28\nG1 X10 Y10 F3000\n" * 2000
SHA = hashlib.sha256(BODY).hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    together: threading.Barrier | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        if self.server.together is not None:
            self.server.together.wait(timeout=5)  # both requests are in flight before either ends
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _ref(server: _Server, sha256: str = SHA) -> FileRef:
    host, port = server.server_address[:2]
    return FileRef(
        url=f"http://{host!s}:{port}/files/{SHA}", sha256=sha256, size=len(BODY), name="part.gcode"
    )


def test_two_machines_fetching_one_file_at_once_both_get_it(server: _Server, tmp_path: Path) -> None:
    server.together = threading.Barrier(2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(
            pool.map(lambda _: fetch(_ref(server), tmp_path, max_bytes=10**7, timeout_s=10), range(2))
        )
    assert paths[0] == paths[1] == tmp_path / f"{SHA}.gcode"
    assert paths[0].read_bytes() == BODY
    assert [p.name for p in tmp_path.iterdir()] == [f"{SHA}.gcode"]  # no partial file left


def test_a_file_that_is_not_the_one_offered_is_refused_and_not_kept(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        fetch(_ref(server, sha256="0" * 64), tmp_path, max_bytes=10**7, timeout_s=10)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_hold_the_file_is_a_download_error(server: _Server, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / f"{SHA}.gcode").mkdir()  # the target name is taken by a directory
    with pytest.raises(DownloadError, match="could not store the file"):
        fetch(_ref(server), folder, max_bytes=10**7, timeout_s=10)
    assert [p.name for p in folder.iterdir()] == [f"{SHA}.gcode"]
