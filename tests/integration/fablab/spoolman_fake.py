"""A fake Spoolman built from its documented REST API (v1): the spool list, use, and update.

No Spoolman server can be installed here; this answers the calls peerfab makes as Spoolman's API
documentation describes them (`GET /api/v1/spool`, `PUT /api/v1/spool/{id}/use` with `use_weight`,
`PATCH /api/v1/spool/{id}`), with spools shaped as Spoolman returns them.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def spool(
    spool_id: int,
    material: str,
    color_hex: str,
    remaining: float,
    location: str = "",
    price: float | None = 25.0,
) -> dict[str, Any]:
    return {
        "id": spool_id,
        "registered": "2026-01-01T00:00:00Z",
        "archived": False,
        "location": location,
        "initial_weight": 1000.0,
        "remaining_weight": remaining,
        "used_weight": 1000.0 - remaining,
        "price": price,
        "lot_nr": "",
        "comment": "",
        "extra": {},
        "filament": {
            "id": spool_id,
            "name": f"{material.upper()} {color_hex}",
            "material": material.upper(),
            "color_hex": color_hex,
            "diameter": 1.75,
            "density": 1.24,
            "weight": 1000.0,
            "vendor": {"id": 1, "name": "Prusament"},
        },
    }


class FakeSpoolman:
    def __init__(self, spools: list[dict[str, Any]]) -> None:
        self.spools = {s["id"]: s for s in spools}
        self.calls: list[tuple[str, str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def do_GET(self) -> None:  # noqa: N802 -- http.server's name
                outer.calls.append(("GET", self.path, None))
                if self.path.startswith("/api/v1/spool"):
                    self._answer(200, [s for s in outer.spools.values() if not s["archived"]])
                else:
                    self._answer(404, {"message": "not found"})

            def do_PUT(self) -> None:  # noqa: N802
                body = self._body()
                outer.calls.append(("PUT", self.path, body))
                found = re.fullmatch(r"/api/v1/spool/(\d+)/use", self.path)
                if not found or int(found.group(1)) not in outer.spools:
                    self._answer(404, {"message": "Spool not found"})
                    return
                item = outer.spools[int(found.group(1))]
                item["used_weight"] += body["use_weight"]
                item["remaining_weight"] = max(0.0, item["initial_weight"] - item["used_weight"])
                self._answer(200, item)

            def do_PATCH(self) -> None:  # noqa: N802
                body = self._body()
                outer.calls.append(("PATCH", self.path, body))
                found = re.fullmatch(r"/api/v1/spool/(\d+)", self.path)
                if not found or int(found.group(1)) not in outer.spools:
                    self._answer(404, {"message": "Spool not found"})
                    return
                outer.spools[int(found.group(1))].update(body)
                self._answer(200, outer.spools[int(found.group(1))])

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
