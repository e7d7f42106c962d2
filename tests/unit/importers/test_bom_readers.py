"""KiCad, Kitspace and generic CSV BOMs read into purchased-part lists."""

from __future__ import annotations

import pytest

from coordinator.importers import read_csv_bom, read_kicad_bom, read_kitspace_bom
from coordinator.importers.bom_csv import read_bom
from protocol.errors import InvalidInput


def _by_id(parts):
    return {part.id: part for part in parts}


def test_kicad_bom_with_semicolons_and_quoted_fields(fixtures):
    parts = _by_id(read_kicad_bom(fixtures / "kicad-semicolon.csv"))

    resistor = parts["RC0603FR-0710KL"]
    assert (resistor.quantity, resistor.manufacturer, resistor.name) == (2, "Yageo", "10k R_0603")
    assert resistor.references == ["R1", "R2"]
    assert parts["100nf-c-0603"].mpn is None
    assert parts["conn-1x4-2-54-mm-pinheader-1x04"].name == "Conn 1x4, 2.54 mm PinHeader_1x04"


def test_kicad_header_variants_utf8_bom_and_preamble(tmp_path):
    bom = tmp_path / "board.csv"
    bom.write_text(
        '\ufeff"Source:","/home/me/board.sch"\n"Tool:","Eeschema"\n\n'
        '"Ref","Val","Package","Quantity","Mfr. Part Number"\n'
        '"U1","ATmega328P","TQFP-32",1,"ATMEGA328P-AU"\n',
        encoding="utf-8",
    )

    (part,) = read_kicad_bom(bom)

    assert (part.id, part.quantity, part.line) == ("ATMEGA328P-AU", 1, 5)


def test_kitspace_tsv_that_is_comma_separated(fixtures):
    diode, switch = read_kitspace_bom(fixtures / "kitspace-comma.tsv")

    assert (diode.mpn, diode.manufacturer) == ("SD101CW-7-F", "Diodes Inc.")
    assert (diode.supplier, diode.sku) == ("Digi-Key", "SD101CW-FDICT-ND")
    assert diode.to_part()["skus"] == {"Digi-Key": "SD101CW-FDICT-ND", "Mouser": "621-SD101CW-F"}
    assert (switch.id, switch.supplier, switch.sku) == ("tactile-switch", "Farnell", "1555982")


def test_missing_quantity_column_names_the_header_line(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Reference,Value\nR1,10k\n")

    with pytest.raises(InvalidInput, match=r"bom.csv, line 1: no quantity column"):
        read_kicad_bom(bom)


def test_non_numeric_quantity_names_file_line_and_column(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Reference,Value,Qty\nR1,10k,1\nR2,22k,two\n")

    with pytest.raises(InvalidInput) as caught:
        read_kicad_bom(bom)

    assert caught.value.message == (f"{bom}, line 3, column 3 \"Qty\": quantity 'two' is not a number")


def test_fractional_pieces_are_refused_but_metres_are_kept(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Name,Qty,Unit\nCable,2.5,m\nBolt,1.5,\n")

    with pytest.raises(InvalidInput, match=r"line 3, column 2 \"Qty\": quantity 1.5 is not a whole"):
        read_csv_bom(bom)

    bom.write_text("Name;Qty;Unit\nCable;2,5;m\n")
    (cable,) = read_csv_bom(bom)
    assert (cable.quantity, cable.unit, cable.to_part()["unit"]) == (2.5, "m", "m")


def test_zero_quantity_lines_are_skipped_with_a_warning(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Name,Qty\nFitted,1\nNot fitted,0\n")
    warnings: list[str] = []

    parts = read_csv_bom(bom, warnings=warnings)

    assert [p.name for p in parts] == ["Fitted"]
    assert warnings == [f"{bom}, line 3: quantity 0, line skipped"]


def test_column_mapping_names_headers_nobody_could_guess(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Stück,Benennung,Hersteller\n3,Winkel,Acme\n")

    (part,) = read_csv_bom(bom, {"quantity": "Stück", "name": "Benennung", "manufacturer": "Hersteller"})

    assert (part.quantity, part.name, part.manufacturer) == (3, "Winkel", "Acme")
    with pytest.raises(InvalidInput, match="--column quantity=Menge: no column named 'Menge'"):
        read_csv_bom(bom, {"quantity": "Menge"})
    with pytest.raises(InvalidInput, match="unknown role 'colour'"):
        read_csv_bom(bom, {"colour": "Hersteller"})


def test_windows_1252_file_is_read_with_a_warning(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("Name,Qty\nCondensateur 100µF,2\n".encode("cp1252"))
    warnings: list[str] = []

    (part,) = read_csv_bom(bom, warnings=warnings)

    assert part.name == "Condensateur 100µF"
    assert "read as Windows-1252" in warnings[0]


def test_real_kicad_teensy_bom(realworld):
    parts = read_kicad_bom(realworld / "bom/teensy-3.2-clone-kicad/T32_ref_BOM.csv")

    assert len(parts) == 17
    assert sum(p.quantity for p in parts) == 29
    by_id = _by_id(parts)
    assert by_id["GRM188R71C104KA01D"].quantity == 7
    assert by_id["BAT54C-215"].mpn == "BAT54C,215"
    mcu = next(p for p in parts if p.name.startswith("MKL04Z32VLC4"))
    assert mcu.mpn is None and mcu.references == ["K2"]


def test_real_kitspace_ruler_tab_separated(realworld):
    parts = read_kitspace_bom(realworld / "bom/kitspace-ruler/1-click-bom.tsv")

    assert len(parts) == 23
    d6 = parts[5]
    assert (d6.mpn, d6.manufacturer, d6.name) == ("CMOZ1L8 TR", "Central Semiconductor", "SOD-523 Diode")
    fsmct = _by_id(parts)["FSMCT"]
    assert (fsmct.supplier, fsmct.sku) == ("RS", "1314775P")


def test_real_kitspace_teensy_comma_separated_tsv(realworld):
    parts = read_kitspace_bom(realworld / "bom/teensy-3.2-clone-kicad/1-click-bom.tsv")

    assert len(parts) == 15
    first = parts[0]
    assert (first.quantity, first.mpn, first.sku) == (7, "GRM155R71A104KA01D", "490-6321-1-ND")
    assert first.references == ["C1", "C4", "C5", "C7", "C8", "C9", "C12"]


def test_real_planktoscope_bom_quirks(realworld):
    warnings: list[str] = []
    parts = read_csv_bom(realworld / "bom/planktoscope/bom.csv", warnings=warnings)

    assert len(parts) == 34 and warnings == []
    by_id = _by_id(parts)
    assert by_id["CIL-P-857"].name == 'Barbed to Female Luer Adapter 1/16"'
    assert by_id["tube-n3"].name == "Tube n°3"
    assert by_id["m12-lens-locking-ring"].url.startswith("https://de.aliexpress.com/item/1005")
    assert by_id["flowcell"].manufacturer is None  # "n/a" is no manufacturer
    assert by_id["402870"].url is None


def test_real_eagle_hat_bom(realworld):
    parts = _by_id(read_csv_bom(realworld / "bom/planktoscope/Planktoscope-Hat-bom.csv"))

    assert len(parts) == 28
    assert parts["TPSC107K010R0075"].name == "100µF 10VDC C-POL_TANTALUM-2412(6032-METRIC)"
    assert parts["CRCW080510R0FKEAC"].mpn == "CRCW080510R0FKEAC"  # trailing space dropped
    assert parts["CL21B104KCFNNNE"].quantity == 8
    assert parts["PCF85363ATL-A"].manufacturer == "NXP"


def test_heading_total_and_footer_rows_are_skipped_naming_their_lines(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text(
        "References,Qty,Description\nR1,1,22K 1206\nExternal components,,\nR2,1,22K 1206\n"
        "Total,2,\n\n\nComponent Groups:,52\nComponent Count:,196\n"
    )
    warnings: list[str] = []

    (part,) = read_csv_bom(bom, warnings=warnings)

    assert (part.quantity, part.references) == (2, ["R1", "R2"])  # identical lines add up
    assert any("line 3: 'External components' has no quantity" in w for w in warnings)
    assert any("line 5: 'Total, 2' is a total line" in w for w in warnings)
    assert any("line 8: 'Component Groups:, 52' is a summary line" in w for w in warnings)


def test_jlcpcb_bom_counts_designators_and_keeps_the_lcsc_code(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text(
        'Comment,Designator,Footprint,LCSC Part #\n100n,"C1,C2,C5",SMD-0603,C14663\n1u,C7,SMD-0603,\n'
    )

    cap, other = read_bom(bom)

    assert (cap.quantity, cap.name, cap.skus, cap.supplier) == (
        3,
        "100n SMD-0603",
        {"LCSC": "C14663"},
        "LCSC",
    )
    assert other.quantity == 1 and other.skus == {}


def test_eagle_export_has_one_line_per_part_and_no_quantity(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text(
        '"Part","Value","Device","Package","MANUFACTURER_PART_NUMBER","MOUSER_PART_NUMBER"\n'
        '"C1","100n","C-EUC0805","C0805","CL21B104","187-CL21B104"\n'
        '"C2","100n","C-EUC0805","C0805","CL21B104","187-CL21B104"\n'
        '"R1","10k","R-EU_R0805","R0805","",""\n'
    )

    cap, resistor = read_bom(bom)

    assert (cap.quantity, cap.references, cap.mpn) == (2, ["C1", "C2"], "CL21B104")
    assert cap.skus == {"Mouser": "187-CL21B104"} and resistor.name == "10k R0805"


def test_every_supplier_column_is_kept_and_a_second_header_row_names_sku_columns(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text(
        "Qty,Component name,MPN,SKU,SKU,Notes\n,,,Digi-Key,Mouser,\n"
        "1,Arduino Micro,A000053,1050-1066-ND,782-A000053,fits the case\n"
    )

    (part,) = read_bom(bom)

    assert part.skus == {"Digi-Key": "1050-1066-ND", "Mouser": "782-A000053"}
    assert (part.supplier, part.notes) == ("Digi-Key", "fits the case")


def test_unread_columns_are_named_and_column_roles_can_be_given(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Qty,Name,Bestellnr,Rating\n2,Relay,RL-12,5 A\n")
    warnings: list[str] = []

    (part,) = read_bom(bom, mapping={"sku:Conrad": "Bestellnr"}, warnings=warnings)

    assert part.skus == {"Conrad": "RL-12"}
    assert warnings == [
        f'{bom}: columns not imported: column 4 "Rating" (name one with --column ROLE=HEADER to use it)'
    ]


def test_quantity_with_a_unit_and_designator_ranges(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Name,Quantity\nTubing,12 cm\n")
    (tube,) = read_bom(bom)
    assert (tube.quantity, tube.unit) == (12, "cm")

    bom.write_text("References\tQty\tDescription\nC1-C6\t\tCapacitor\n")
    warnings: list[str] = []
    (cap,) = read_bom(bom, warnings=warnings)
    assert cap.quantity == 6 and "quantity empty; counted 6 designator(s)" in warnings[0]
