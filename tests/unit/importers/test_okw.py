"""Fablab profiles written as Open Know-Where facilities and read back; OKW records of other tools read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coordinator.demo import FABLABS
from coordinator.importers import okw
from protocol.errors import InvalidInput

COMPARED = ("id", "process", "make", "model", "materials", "build_volume_mm", "nozzle_mm", "speed_factor")
HOURS = {"mon": ["09:00-18:00"], "tue": ["09:00-18:00"], "wed": ["09:00-12:00", "13:00-18:00"],
         "sat": ["10:00-14:00"]}  # fmt: skip


def _profile(lab: Any) -> dict[str, Any]:
    return {"fablab": lab.id, "name": lab.name, "latitude": lab.place[0], "longitude": lab.place[1],
            "opening_hours": HOURS, "timezone_offset_min": 60, "accepts": "all",
            "address": {"city": lab.name.split()[-1], "country": "Germany"}}  # fmt: skip


def _equipment(lab: Any) -> list[dict[str, Any]]:
    return [{"id": machine_id, **caps} for machine_id, caps in lab.machines.items()]


@pytest.mark.parametrize("lab", FABLABS, ids=lambda lab: lab.id)
def test_demo_fablab_round_trips_through_okw(lab):
    record = json.loads(json.dumps(okw.facility(_profile(lab), _equipment(lab))))

    profile, warnings = okw.read_facility(record, "test")

    assert warnings == []
    assert okw.fablab_id(record) == lab.id
    assert (profile["name"], profile["latitude"], profile["longitude"]) == (lab.name, *lab.place)
    assert profile["opening_hours"] == HOURS and profile["timezone_offset_min"] == 60
    assert profile["address"] == {"city": lab.name.split()[-1], "country": "Germany"}
    expected = [{k: m[k] for k in COMPARED if k in m} for m in _equipment(lab)]
    got = [{k: m[k] for k in COMPARED if k in m} for m in profile["equipment"]]
    for machine in expected:
        machine["build_volume_mm"] = [float(v) for v in machine.get("build_volume_mm", [])] or None
        if machine["build_volume_mm"] is None:
            del machine["build_volume_mm"]
    assert got == expected


def test_okw_record_classifies_by_wikipedia_and_uses_camel_case():
    berlin = FABLABS[0]
    record = okw.facility(_profile(berlin), _equipment(berlin))

    printer = record["equipment"][0]
    assert printer["manufacturingProcess"] == "https://en.wikipedia.org/wiki/Fused_filament_fabrication"
    assert printer["materialsWorked"][0] == {"materialType": "https://en.wikipedia.org/wiki/Polylactic_acid"}
    assert (printer["xTravel"], printer["buildVolume"]) == (250.0, 250 * 210 * 210)
    assert record["location"]["gpsCoordinates"] == "52.52, 13.405"
    assert record["openingHours"] == "Mo-Tu 09:00-18:00; We 09:00-12:00,13:00-18:00; Sa 10:00-14:00"
    assert "https://en.wikipedia.org/wiki/Laser_cutting" in record["manufacturingProcesses"]


def test_snake_case_records_of_other_tools_are_read(realworld):
    folder = realworld / "okh" / "okw-facilities-synthetic"
    record = json.loads((folder / "original-prusa-i3-mk3s-step01-3d-printing-1-okw.json").read_text())

    profile, warnings = okw.read_facility(record, "prusa.json")

    assert profile["opening_hours"]["fri"] == ["07:00-20:00"] and "sat" not in profile["opening_hours"]
    printer = profile["equipment"][0]
    assert (printer["process"], printer["materials"]) == ("fdm_print", ["pla", "petg", "abs", "tpu"])
    assert printer["build_volume_mm"] == [300.0, 300.0, 300.0] and printer["quantity"] == 4
    assert any("read as a cube of 300.0 mm" in w for w in warnings)
    assert profile["latitude"] == pytest.approx(54.5975805)


def test_what_cannot_be_read_is_a_warning_or_an_error_naming_it():
    glass = {"manufacturingProcess": "https://en.wikipedia.org/wiki/Glassblowing"}
    record = {"name": "Lab", "openingHours": "by appointment", "location": {"gpsCoordinates": "north"},
              "equipment": [glass]}  # fmt: skip

    profile, warnings = okw.read_facility(record, "lab.json")

    assert profile["opening_hours"] == {} and profile["equipment"] == []
    assert any("'by appointment' not understood" in w for w in warnings)
    assert any("gpsCoordinates 'north'" in w for w in warnings)
    assert any("Glassblowing" in w and "left out" in w for w in warnings)
    with pytest.raises(InvalidInput, match="lab.json: field 'name' is required"):
        okw.read_facility({"equipment": []}, "lab.json")
    with pytest.raises(InvalidInput, match="'equipment' must be a list"):
        okw.read_facility({"name": "Lab", "equipment": "printer"}, "lab.json")
