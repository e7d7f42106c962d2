"""Design pages through the Flask test client: list, version, part preview, diff, errors."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from flask.testing import FlaskClient


def text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_root_leads_to_the_dashboard(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/")


def test_designs_list_names_each_design_and_its_versions(client: FlaskClient, published: list[str]) -> None:
    html = text(client, "/dashboard/designs")
    assert "RepRap-style desktop printer" in html
    assert ">1.0.0</a>" in html and ">1.1.0</a>" in html
    assert "compare" in html


def test_version_page_shows_licences_lineage_bom_and_cost(client: FlaskClient, published: list[str]) -> None:
    html = text(client, "/dashboard/designs/reprap-printer/1.1.0")
    assert "CERN-OHL-S-2.0" in html
    assert "derivative of" in html and "reprap-printer@1.0.0" in html
    assert "<details open>" in html  # BOM tree as nested details, root open
    assert html.count("<details") > 3
    cost = re.search(r'data-testid="purchased-cost">([^<]+)<', html)
    assert cost and cost.group(1).endswith("EUR")


def test_units_scale_the_cost(client: FlaskClient, published: list[str]) -> None:
    def cost(units: int) -> float:
        html = text(client, f"/dashboard/designs/reprap-printer/1.1.0?units={units}")
        found = re.search(r'data-testid="purchased-cost">([\d,.]+) EUR<', html)
        assert found
        return float(found.group(1).replace(",", ""))

    assert cost(3) == round(3 * cost(1), 2)


def test_bad_units_is_a_readable_error(client: FlaskClient, published: list[str]) -> None:
    html = text(client, "/dashboard/designs/reprap-printer/1.1.0?units=lots", 400)
    assert "units must be a whole number" in html
    assert "Traceback" not in html


def test_design_redirects_to_its_latest_version(client: FlaskClient, published: list[str]) -> None:
    response = client.get("/dashboard/designs/reprap-printer")
    assert response.headers["Location"].endswith("/dashboard/designs/reprap-printer/1.1.0")


def test_part_page_has_estimates_and_a_preview(client: FlaskClient, published: list[str]) -> None:
    html = text(client, "/dashboard/designs/reprap-printer/1.1.0/parts/x-end-motor")
    assert re.search(r'data-testid="mass">[\d.]+ g of PETG', html)
    assert re.search(r'data-testid="print-time">about \d', html)
    src = re.search(r'<img src="(/dashboard/previews/[0-9a-f]{64}\.svg)"', html)
    assert src
    response = client.get(src.group(1))
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "immutable" in response.headers["Cache-Control"]
    root = ET.fromstring(response.get_data())
    assert len(list(root.iter("{http://www.w3.org/2000/svg}polygon"))) > 100


def test_preview_is_cached_by_hash(client: FlaskClient, published: list[str], runtime: Any) -> None:
    html = text(client, "/dashboard/designs/reprap-printer/1.1.0/parts/lcd-knob")
    sha = re.search(r"/dashboard/previews/([0-9a-f]{64})\.svg", html).group(1)  # type: ignore[union-attr]
    first = client.get(f"/dashboard/previews/{sha}.svg").get_data()
    cached = list((runtime.settings.storage.data_dir / "previews").glob(f"{sha}-*.svg"))
    assert len(cached) == 1
    cached[0].write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert client.get(f"/dashboard/previews/{sha}.svg").get_data() != first


def test_assembly_page_lists_what_it_is_made_of(client: FlaskClient, published: list[str]) -> None:
    html = text(client, "/dashboard/designs/reprap-printer/1.1.0/parts/x-axis")
    assert "Made of" in html and "x-end-motor" in html
    assert "/dashboard/previews/" not in html


def test_diff_lists_added_removed_and_quantity_changes(client: FlaskClient, published: list[str]) -> None:
    html = text(client, "/dashboard/designs/reprap-printer/diff?from=1.0.0&to=1.1.0")
    assert "Changes from 1.0.0 to 1.1.0" in html
    assert "y-belt-tensioner" in html.split("Removed")[0]  # under Added
    assert "frame-bar-clamp" in html.split("Removed")[1]
    assert "frame-bar-clamp: removed (was 4)" in html  # the frame's children, readable


def test_unknown_design_and_preview_are_html_404s(client: FlaskClient, published: list[str]) -> None:
    assert "no design &#39;nope&#39;" in text(client, "/dashboard/designs/nope", 404)
    assert "<h1>Not found</h1>" in text(client, f"/dashboard/previews/{'0' * 64}.svg", 404)
    assert "not a sha256" in text(client, "/dashboard/previews/xyz.svg", 400)
