"""Open Know-How export and Open Know-Where profiles through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from sqlmodel import Session

from coordinator.bom.graph import explode
from coordinator.bom.package import load_package
from coordinator.demo import FABLABS
from coordinator.importers import import_okh, write_package
from coordinator.models.jobs import Fablab, Machine
from tests.support.packages import tar_gz

DESIGNS = Path(__file__).resolve().parents[3] / "designs"


def _publish(client, token: str, folder: Path) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/v1/designs",
        data={"archive": (io.BytesIO(tar_gz(folder)), "pkg.tar.gz")},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json


def test_published_version_exports_as_okh_that_imports_back(client, token_for, tmp_path):  # type: ignore[no-untyped-def]
    _publish(client, token_for("designer"), DESIGNS / "ceb-press")

    response = client.get("/api/v1/designs/ceb-press/versions/1.2.0/okh.zip")

    assert response.status_code == 200 and response.mimetype == "application/zip"
    zipfile.ZipFile(io.BytesIO(response.data)).extractall(tmp_path / "zip")
    (folder,) = (tmp_path / "zip").iterdir()
    assert folder.name == "ceb-press-1.2.0"
    again = load_package(write_package(import_okh(folder / "okh.toml"), tmp_path / "again"))
    assert explode(again.bom()) == explode(load_package(DESIGNS / "ceb-press").bom())


def test_draft_publishes_shows_its_reason_and_is_not_built(client, token_for, tmp_path):  # type: ignore[no-untyped-def]
    draft = tmp_path / "loom"
    draft.mkdir()
    (draft / "design.toml").write_text(
        '[design]\nname = "Loom"\nslug = "loom"\nversion = "0.1.0"\nlicenses = ["CERN-OHL-S-2.0"]\n'
        'authors = ["A. Weaver"]\ndraft = "the frame drawings are not finished"\n'
    )
    _publish(client, token_for("designer"), draft)

    body = client.get("/api/v1/designs/loom").json
    assert (body["draft"], body["buildable"]) == ("the frame drawings are not finished", False)
    page = client.get("/dashboard/designs/loom/0.1.0")
    assert page.status_code == 200 and b"the frame drawings are not finished" in page.data
    admin = {"Authorization": f"Bearer {token_for('admin')}"}
    site = {"name": "Fab Lab Berlin", "equipment": []}  # a lab brought in from its OKW record
    assert client.put("/api/v1/fablabs/fablab-berlin/okw", json=site, headers=admin).status_code == 200
    build = client.post(
        "/api/v1/builds",
        json={"design": "loom", "version": "0.1.0", "units": 1, "site": "fablab-berlin"},
        headers={"Authorization": f"Bearer {token_for('builder')}"},
    )
    assert build.status_code == 400
    assert "draft" in build.json["message"] and "frame drawings" in build.json["message"]


def test_demo_fablabs_round_trip_through_okw(client, token_for):  # type: ignore[no-untyped-def]
    token = token_for("admin")  # the labs are brought in from their records: no agent has connected yet
    for lab in FABLABS:
        record = {
            "name": lab.name,
            "location": {"gpsCoordinates": f"{lab.place[0]}, {lab.place[1]}"},
            "openingHours": "Mo-Fr 08:00-20:00",
            "equipment": [],
        }
        response = client.put(f"/api/v1/fablabs/{lab.id}/okw", json=record,
                              headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert response.status_code == 200, response.json
        declared = client.get(f"/api/v1/fablabs/{lab.id}/okw").json
        declared["equipment"] = [
            {**_as_okw(lab, machine_id)} for machine_id in lab.machines
        ]  # what the lab publishes: every machine it has
        assert client.put(f"/api/v1/fablabs/{lab.id}/okw", json=declared,
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200  # fmt: skip

    for lab in FABLABS:
        record = client.get(f"/api/v1/fablabs/{lab.id}/okw").json
        assert record["name"] == lab.name and record["openingHours"] == "Mo-Fr 08:00-20:00"
        machines = {e["x-peerfab"]["id"]: e for e in record["equipment"]}
        assert set(machines) == set(lab.machines)
        for machine_id, caps in lab.machines.items():
            assert machines[machine_id]["make"] == caps["make"]
            if "build_volume_mm" in caps:
                assert [machines[machine_id][k] for k in ("xTravel", "yTravel", "zTravel")] == caps[
                    "build_volume_mm"
                ]
    profile = client.get("/api/v1/fablabs/fablab-berlin/profile").json
    assert profile["opening_hours"]["mon"] == ["08:00-20:00"] and len(profile["equipment"]) == 6
    assert len(client.get("/api/v1/fablabs/okw").json["facilities"]) == len(FABLABS)
    unknown = client.put("/api/v1/fablabs/fablab-nowhere/okw", json={"name": "Nowhere", "equipment": []},
                         headers={"Authorization": f"Bearer {token_for('operator')}"})  # fmt: skip
    assert unknown.status_code == 404  # an operator describes a lab that exists


def _as_okw(lab, machine_id: str) -> dict:  # type: ignore[no-untyped-def]
    from coordinator.importers import okw

    return okw.facility({"fablab": lab.id}, [{"id": machine_id, **lab.machines[machine_id]}])["equipment"][0]


def test_machines_announced_by_agents_are_published_with_the_declared_ones(client, runtime):  # type: ignore[no-untyped-def]
    with Session(runtime.engine) as session:
        session.add(Fablab(id="fablab-test", name="Test lab"))
        session.flush()
        caps = {"process": "laser_cut", "make": "Trotec", "model": "Speedy 400", "materials": ["plywood"],
                "build_volume_mm": [1000, 610, 25]}  # fmt: skip
        session.add(Machine(fablab="fablab-test", machine_id="laser-1", agent="a1", capabilities=caps))
        session.commit()

    record = client.get("/api/v1/fablabs/fablab-test/okw").json

    (laser,) = record["equipment"]
    assert laser["manufacturingProcess"] == "https://en.wikipedia.org/wiki/Laser_cutting"
    assert (laser["make"], laser["x-peerfab"]["id"]) == ("Trotec", "laser-1")
    assert client.get("/api/v1/fablabs/no-such-lab/okw").status_code == 404
