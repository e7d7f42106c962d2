"""The ledger's Valueflows export (API and CLI) and a build's provenance and cost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyld import jsonld

from coordinator.cli import cli

VF = "https://w3id.org/valueflows/ont/vf#"
ACTIONS = {f"{VF}{name}" for name in ("produce", "consume", "use", "work", "transfer", "cite")}


def _offline(url: str, options: object = None) -> dict:
    raise AssertionError(f"the export made a JSON-LD processor fetch {url}")


def test_the_export_is_valueflows_any_json_ld_processor_reads_offline(client, built) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/ledger?build={built}")
    assert response.status_code == 200, response.json
    doc = response.json
    # 2 purchases received; the plate: use, consume, produce; each assembly: use, work, produce
    assert doc["total"] == len(doc["@graph"]) == 11
    expanded = jsonld.expand(doc, {"documentLoader": _offline})
    assert len(expanded) == 11
    assert all(node["@type"] == [f"{VF}EconomicEvent"] for node in expanded)
    actions = [node[f"{VF}action"][0]["@id"] for node in expanded]
    assert set(actions) <= ACTIONS
    assert actions.count(f"{VF}produce") == 3 and actions.count(f"{VF}transfer") == 2
    produced = [n for n in expanded if n[f"{VF}action"][0]["@id"] == f"{VF}produce"]
    quantity = produced[0][f"{VF}resourceQuantity"][0]
    assert quantity["http://www.ontology-of-units-of-measure.org/resource/om-2/hasUnit"][0]["@id"].endswith(
        "om-2/one"
    )
    assert produced[0][f"{VF}provider"] == [{"@id": "urn:peerfab:fablab:lab-a"}]


def test_filters_and_pages(client, built) -> None:  # type: ignore[no-untyped-def]
    everything = client.get("/api/v1/ledger").json["total"]
    assert everything == 12  # the build's events and the design's publication
    bea = client.get("/api/v1/ledger?person=bea").json  # what was made for her
    assert bea["total"] == 9 and all(e["receiver"] == "peerfab:person:bea" for e in bea["@graph"])
    page = client.get("/api/v1/ledger?limit=5&offset=10").json
    assert (len(page["@graph"]), page["total"], page["offset"]) == (2, 12, 10)
    assert client.get("/api/v1/ledger?fablab=lab-b").json["total"] == 0
    assert client.get("/api/v1/ledger?since=2999-01-01T00:00:00Z").json["@graph"] == []
    wrong = client.get("/api/v1/ledger?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z")
    assert wrong.status_code == 400 and "since" in wrong.json["message"]
    assert client.get("/api/v1/ledger?limit=0").status_code == 422


def test_provenance_names_where_and_how_each_part_was_made_and_what_it_cost(client, built) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/builds/{built}/provenance")
    assert response.status_code == 200, response.json
    report = response.json
    assert report["contributors"] == ["Test Designer", "ada"]
    parts = {p["task"]: p for p in report["parts"]}
    plate = parts["fab:bracket:1"]
    assert (plate["fablab"], plate["machine"], plate["material"], plate["copies"]) == (
        "lab-a",
        "prusa-1",
        "PLA",
        4,
    )
    assert plate["design_version"] == "test-machine@1.0.0" and plate["spool"] is not None
    assert len(plate["attempts"]) == 1 and plate["attempts"][0]["material_g"] == 24.0
    assert plate["cost"]["EUR"] == pytest.approx(0.48, abs=0.01)  # 24 g at 20 EUR/kg; seconds at 6 EUR/h
    assert parts["asm:root:1"]["machine"] == "bench"
    cost = report["cost"]
    purchases = 2 * 12.5 + 12 * 0.05
    assert cost["actual"]["EUR"] == pytest.approx(purchases + 0.48, abs=0.02)
    assert cost["estimated"]["EUR"] > purchases and cost["machine_hours_estimated"] > 0
    assert cost["material_g_used"] == 24.0
    assert client.get("/api/v1/builds/nope/provenance").status_code == 404


def test_the_cli_exports_the_same_document(runtime, built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "ledger.jsonld"
    env = {"PEERFAB_DATABASE__URL": str(runtime.settings.database.url),
           "PEERFAB_STORAGE__DATA_DIR": str(runtime.settings.storage.data_dir)}  # fmt: skip
    result = CliRunner().invoke(cli, ["ledger", "export", "--build", built, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert len(doc["@graph"]) == doc["total"] == 11 and doc["@context"]["vf"] == VF
    missing = CliRunner().invoke(cli, ["ledger", "export", "--out", str(tmp_path / "no" / "x.json")], env=env)
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_the_build_page_shows_provenance_and_cost(client, built) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/dashboard/builds/{built}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-provenance="fab:bracket:1"' in html and "lab-a/prusa-1" in html
    assert 'data-testid="contributors">Test Designer, ada<' in html
    assert "26.08 EUR" in html  # purchases received and the plate's filament: the cost so far
    charts = html[html.index('data-testid="contributions"') :]
    assert '<g data-row="lab-a">' in charts and "Parts made, by fablab" in charts and "6 made" in charts
