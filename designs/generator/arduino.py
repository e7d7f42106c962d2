"""An Arduino-Uno-compatible board: fabricated PCB, SMD parts, machine assembly, printed enclosure."""

from __future__ import annotations

from designs.generator import flat
from designs.generator import shapes as s
from designs.generator.package import Package

BOARD = (68.6, 53.3)
MOUNTING_HOLES = [(14.0, 2.5, 3.2), (15.3, 50.7, 3.2), (66.1, 7.6, 3.2), (66.1, 35.5, 3.2)]

# (reference designators, value, footprint, manufacturer, MPN, unit cost EUR, id)
COMPONENTS = [
    ("U1", "ATmega328P-AU", "TQFP-32_7x7mm_P0.8mm", "Microchip", "ATMEGA328P-AU", 2.45, "atmega328p"),
    ("U2", "ATmega16U2-MU", "QFN-32_5x5mm_P0.5mm", "Microchip", "ATMEGA16U2-MU", 2.90, "atmega16u2"),
    ("U3", "NCP1117ST50T3G", "SOT-223-3", "onsemi", "NCP1117ST50T3G", 0.42, "ldo-5v"),
    ("U4", "LP2985-33DBVR", "SOT-23-5", "Texas Instruments", "LP2985-33DBVR", 0.38, "ldo-3v3"),
    ("U5", "LMV358IDGKR", "VSSOP-8", "Texas Instruments", "LMV358IDGKR", 0.35, "opamp"),
    ("Y1 Y2", "16MHz", "Crystal_SMD_3225-4Pin", "Abracon", "ABM3-16.000MHZ-D2Y-T", 0.55, "crystal-16mhz"),
    ("C1 C2 C3 C4 C5 C6 C7 C8", "100nF", "C_0603", "Samsung", "CL10B104KB8NNNC", 0.01, "cap-100n"),
    ("C9 C10 C11 C12", "22pF", "C_0603", "Yageo", "CC0603JRNPO9BN220", 0.01, "cap-22p"),
    ("C13 C14", "47uF", "CP_Elec_6.3x5.8", "Panasonic", "EEE-FK1E470P", 0.21, "cap-47u"),
    ("R1 R2 R3 R4", "1k", "R_0603", "Yageo", "RC0603FR-071KL", 0.01, "res-1k"),
    ("R5 R6 R7", "10k", "R_0603", "Yageo", "RC0603FR-0710KL", 0.01, "res-10k"),
    ("R8 R9", "22R", "R_0603", "Yageo", "RC0603FR-0722RL", 0.01, "res-22r"),
    ("D1 D2 D3 D4", "LED", "LED_0805", "Lite-On", "LTST-C171GKT", 0.09, "led-green"),
    ("D5", "M7", "D_SMA", "Diodes Inc", "M7-13-F", 0.06, "diode-m7"),
    ("F1", "500mA", "Fuse_1206", "Bourns", "MF-MSMF050-2", 0.18, "polyfuse"),
    ("J1", "USB-B", "USB_B_Wurth_61400416021", "Wurth", "61400416021", 0.95, "usb-b"),
    ("J2", "Barrel jack", "BarrelJack_Horizontal", "CUI", "PJ-102AH", 0.62, "barrel-jack"),
    ("J3 J4 J5 J6", "Header 1x8", "PinSocket_1x08_P2.54mm", "Samtec", "SSW-108-01-T-S", 0.70, "header-1x8"),
    ("SW1", "Reset", "SW_SPST_TL3342", "E-Switch", "TL3342F160QG/TR", 0.31, "reset-switch"),
]


def _gerbers() -> bytes:
    width, height = BOARD
    pads = [(8 + 2.54 * i, 50.0) for i in range(8)] + [(40 + 2.54 * i, 3.0) for i in range(8)]
    traces = [(8.0, 50.0, 30.0, 30.0), (40.0, 3.0, 30.0, 30.0), (30.0, 30.0, 55.0, 25.0)]
    return flat.zip_bytes(
        {
            "board-Edge_Cuts.gbr": flat.gerber_outline(width, height),
            "board-F_Cu.gbr": flat.gerber_copper(pads, traces),
            "board.drl": flat.drill_file(MOUNTING_HOLES + [(x, y, 1.0) for x, y in pads]),
        }
    )


def _bom_csv() -> bytes:
    rows = [
        (refs, value, footprint, len(refs.split()), maker, mpn)
        for refs, value, footprint, maker, mpn, _, _ in COMPONENTS
    ]
    return flat.csv_bytes(["Reference", "Value", "Footprint", "Qty", "Manufacturer", "MPN"], rows)


def _placement_csv() -> bytes:
    rows = []
    for index, (refs, value, footprint, *_rest) in enumerate(COMPONENTS):
        for offset, ref in enumerate(refs.split()):
            rows.append(
                (ref, value, footprint, round(10 + index * 2.9, 2), round(8 + offset * 4.0, 2), 0, "top")
            )
    return flat.csv_bytes(["Ref", "Val", "Package", "PosX", "PosY", "Rot", "Side"], rows)


def _enclosure_base() -> s.Manifold:
    width, height = BOARD
    wall, floor = 2.0, 2.0
    outer = s.box(width + 2 * wall + 1, height + 2 * wall + 1, 16)
    cavity = s.box(width + 1, height + 1, 16, (wall, wall, floor))
    usb = s.box(wall + 2, 13, 12, (-1, 38 - 6.5, floor + 2))
    standoffs = [
        s.tube(5.5, 5.4, 2.6).translate([wall + 0.5 + x, wall + 0.5 + y, floor - 0.5])
        for x, y, _ in MOUNTING_HOLES
    ]
    return s.union([s.cut(outer, [cavity, usb]), *standoffs])


def build() -> Package:
    """The Arduino-Uno-compatible board package."""
    pkg = Package(
        "arduino-uno-compatible",
        {
            "name": "Arduino Uno compatible board",
            "slug": "arduino-uno-compatible",
            "version": "3.0.1",
            "licenses": ["CERN-OHL-S-2.0", "CC-BY-SA-4.0"],
            "authors": ["peerfab example designs <designs@peerfab.example>"],
            "description": "ATmega328P board in the Uno R3 form factor with an ATmega16U2 USB bridge, "
            "all-SMD parts and a printed enclosure.",
            "root": "uno-kit",
        },
        readme=_README,
    )
    pkg.files["files/bom.csv"] = _bom_csv()
    width, height = BOARD
    pkg.fabricated(
        "pcb",
        f"Bare PCB {width} x {height} mm, 2 layers, 1.6 mm",
        "pcb_fab",
        "fr4",
        "gerbers.zip",
        _gerbers(),
        thickness_mm=1.6,
        tolerance_mm=0.1,
    )
    pkg.fabricated(
        "smt-assembly",
        "SMT placement and reflow of the board",
        "pcb_assembly",
        "fr4",
        "pick-and-place.csv",
        _placement_csv(),
        notes="Top side only; see files/bom.csv.",
    )
    for _refs, value, footprint, maker, mpn, cost, part_id in COMPONENTS:
        pkg.purchased(
            part_id,
            f"{value} ({footprint})",
            cost,
            supplier="Digi-Key",
            mpn=mpn,
            manufacturer=maker,
            lead_time_days=4,
        )
    pkg.printed("enclosure-base", "Enclosure base", _enclosure_base(), "pla", layer_height_mm=0.2)
    pkg.printed("enclosure-lid", "Enclosure lid", s.plate(width + 5, height + 5, 2.0, [(52, 20, 6)]), "pla")
    pkg.printed("reset-button-cap", "Reset button cap", s.knob(5.5, 6, 1.6), "petg")
    pkg.purchased("m3x8", "Screw M3 x 8, pan head", 0.04, supplier="Wurth", lead_time_days=2)
    pkg.assembly(
        "board",
        "Assembled board",
        [
            ("pcb", 1),
            ("smt-assembly", 1),
            *[(part_id, len(refs.split())) for refs, *_mid, part_id in COMPONENTS],
        ],
        0.5,
        at="fablab",
    )
    pkg.assembly(
        "uno-kit",
        "Board in its enclosure",
        [
            ("board", 1),
            ("enclosure-base", 1),
            ("enclosure-lid", 1),
            ("reset-button-cap", 1),
            ("m3x8", 4),
        ],
        0.2,
    )
    return pkg


_README = """# Arduino Uno compatible board 3.0.1

`files/gerbers.zip` holds the board outline, top copper and drill file; `files/bom.csv` is the
KiCad-style component list and `files/pick-and-place.csv` the placement file for the SMT line.
Generated by `designs/generate.py`.
"""
