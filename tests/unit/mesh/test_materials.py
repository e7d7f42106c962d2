import pytest

from coordinator.mesh.materials import density_g_cm3, get_material, known_materials
from protocol.errors import InvalidInput


@pytest.mark.parametrize(
    ("name", "density"),
    [
        ("PLA", 1.24),
        ("petg", 1.27),
        ("Steel_S235", 7.85),
        ("stainless steel", 8.0),
        ("Aluminum", 2.70),
        ("PA12", 1.01),
        ("FR-4", 1.85),
        ("mdf", 0.75),
    ],
)
def test_lookup_ignores_case_and_accepts_aliases(name: str, density: float) -> None:
    assert density_g_cm3(name) == pytest.approx(density)


def test_alias_resolves_to_canonical_name() -> None:
    assert get_material("Aluminum").name == "aluminium"


def test_unknown_material_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_material("unobtainium")
    assert "unobtainium" in caught.value.message
    for name in ("pla", "steel", "fr4"):
        assert name in caught.value.message


def test_known_materials_cover_the_documented_list() -> None:
    known = set(known_materials())
    assert {
        "pla",
        "petg",
        "abs",
        "asa",
        "tpu",
        "nylon",
        "resin",
        "plywood",
        "mdf",
        "acrylic",
        "aluminium",
        "steel",
        "stainless",
        "fr4",
    } <= known
