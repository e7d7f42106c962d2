"""A compressed-earth-brick press: plasma-cut steel plates, welded sub-assemblies, bought hydraulics."""

from __future__ import annotations

from designs.generator import flat
from designs.generator.package import Package

# (id, name, width, height, thickness, holes) of every plasma-cut plate, mm.
PLATES = [
    ("frame-side-plate", "Frame side plate", 900, 400, 10, [(60, 60, 22), (840, 60, 22), (450, 340, 26)]),
    (
        "frame-base-plate",
        "Frame base plate",
        600,
        400,
        12,
        [(40, 40, 18), (560, 40, 18), (40, 360, 18), (560, 360, 18)],
    ),
    (
        "cylinder-mount-plate",
        "Cylinder mount plate",
        300,
        300,
        20,
        [(150, 150, 52), (60, 60, 22), (240, 60, 22), (60, 240, 22), (240, 240, 22)],
    ),
    ("press-plate", "Press plate, 250 x 120 mm brick face", 250, 120, 16, [(125, 60, 26)]),
    ("mould-side", "Mould box side", 300, 200, 10, []),
    ("mould-end", "Mould box end", 140, 200, 10, []),
    ("lid-plate", "Mould lid", 280, 160, 12, [(140, 30, 30)]),
    ("hopper-side", "Hopper side", 500, 350, 3, []),
    ("hopper-front", "Hopper front", 400, 350, 3, []),
    ("drawer-plate", "Drawer bottom plate", 420, 300, 6, [(30, 150, 14), (390, 150, 14)]),
    ("drawer-side", "Drawer side", 420, 80, 6, []),
    ("gusset", "Frame gusset", 120, 120, 8, []),
]


def _plates(pkg: Package) -> None:
    for part_id, name, x, y, t, holes in PLATES:
        outline = flat.gusset(x) if part_id == "gusset" else flat.rectangle(x, y, chamfer=min(x, y) * 0.05)
        pkg.fabricated(
            part_id,
            f"{name}, {t} mm",
            "plasma_cut",
            "steel_s235",
            f"{part_id}.dxf",
            flat.dxf_plate(outline, holes),
            thickness_mm=float(t),
            tolerance_mm=1.0,
        )


def _hydraulics(pkg: Package) -> None:
    buy = pkg.purchased
    buy(
        "hydraulic-cylinder",
        "Hydraulic cylinder, 3.5 in bore, 10 in stroke",
        289.95,
        supplier="Surplus Center",
        mpn="9-7213-10",
        manufacturer="Maxim",
        currency="USD",
        lead_time_days=7,
    )
    buy(
        "hydraulic-pump",
        "Gear pump, 11 GPM",
        169.0,
        supplier="Surplus Center",
        mpn="9-6907-7",
        currency="USD",
        lead_time_days=7,
    )
    buy(
        "electric-motor",
        "Electric motor 5.5 kW, 4-pole, B3",
        420.0,
        supplier="ABB",
        mpn="3GAA112312-ADE",
        manufacturer="ABB",
        lead_time_days=21,
    )
    buy(
        "control-valve",
        "Directional valve, 3-position, tandem centre",
        139.0,
        supplier="Surplus Center",
        mpn="9-7150-B",
        currency="USD",
        lead_time_days=7,
    )
    buy("pressure-gauge", "Pressure gauge 0-250 bar", 24.0, supplier="Hydraulics Direct", lead_time_days=5)
    buy(
        "hose",
        "Hydraulic hose 1/2 in, 2-wire",
        9.0,
        supplier="Parker",
        mpn="301-8",
        unit="m",
        manufacturer="Parker",
        lead_time_days=5,
    )
    buy("hose-fitting", "Crimp fitting 1/2 in JIC", 6.5, supplier="Parker", lead_time_days=5)
    buy("hydraulic-oil", "Hydraulic oil ISO VG 46", 3.2, unit="l", supplier="Shell", mpn="Tellus S2 MX 46")
    buy(
        "oil-tank",
        "Hydraulic tank 40 l with filler and filter",
        135.0,
        supplier="Hydraulics Direct",
        lead_time_days=10,
    )
    buy("square-tube-80", "Steel square tube 80 x 80 x 4", 14.0, unit="m", supplier="Local steel stockist")
    buy("bolt-m20", "Hex bolt M20 x 80, 8.8", 1.6, supplier="Wurth", lead_time_days=2)
    buy("nut-m20", "Hex nut M20, 8", 0.45, supplier="Wurth", lead_time_days=2)
    buy("welding-wire", "MIG wire ER70S-6, 0.8 mm", 0.011, unit="g", supplier="Lincoln Electric")


def build() -> Package:
    """The CEB press package."""
    pkg = Package(
        "ceb-press",
        {
            "name": "Compressed-earth-brick press",
            "slug": "ceb-press",
            "version": "1.2.0",
            "licenses": ["CERN-OHL-S-2.0"],
            "authors": ["peerfab example designs <designs@peerfab.example>"],
            "contributors": ["Open Source Ecology (CEB press concept)"],
            "description": "Hydraulic press that makes 25 x 12 x 9 cm bricks from stabilised soil, "
            "cut from steel plate and welded at a fablab.",
            "root": "press",
            "homepage": "https://wiki.opensourceecology.org/wiki/CEB_Press",
        },
        readme=_README,
    )
    _plates(pkg)
    _hydraulics(pkg)
    pkg.assembly(
        "frame",
        "Welded frame",
        [
            ("frame-side-plate", 2),
            ("frame-base-plate", 1),
            ("cylinder-mount-plate", 1),
            ("gusset", 8),
            ("square-tube-80", 4.8),
            ("welding-wire", 900),
        ],
        10.0,
        at="fablab",
    )
    pkg.assembly(
        "mould",
        "Welded mould box with press plate",
        [
            ("mould-side", 2),
            ("mould-end", 2),
            ("press-plate", 1),
            ("lid-plate", 1),
            ("welding-wire", 250),
        ],
        4.0,
        at="fablab",
    )
    pkg.assembly(
        "hopper",
        "Welded soil hopper",
        [
            ("hopper-side", 2),
            ("hopper-front", 2),
            ("welding-wire", 200),
        ],
        3.0,
        at="fablab",
    )
    pkg.assembly(
        "drawer",
        "Welded soil drawer",
        [
            ("drawer-plate", 1),
            ("drawer-side", 2),
            ("welding-wire", 120),
        ],
        2.0,
        at="fablab",
    )
    pkg.assembly(
        "hydraulics",
        "Hydraulic power unit",
        [
            ("hydraulic-cylinder", 1),
            ("hydraulic-pump", 1),
            ("electric-motor", 1),
            ("control-valve", 1),
            ("pressure-gauge", 1),
            ("hose", 4.5),
            ("hose-fitting", 8),
            ("hydraulic-oil", 38),
            ("oil-tank", 1),
        ],
        6.0,
    )
    pkg.assembly(
        "press",
        "CEB press",
        [
            ("frame", 1),
            ("mould", 1),
            ("hopper", 1),
            ("drawer", 1),
            ("hydraulics", 1),
            ("bolt-m20", 16),
            ("nut-m20", 16),
        ],
        16.0,
    )
    return pkg


_README = """# Compressed-earth-brick press 1.2.0

Twelve steel plates, plasma cut from the DXF files and welded into a frame, a mould box, a hopper
and a drawer, plus a bought hydraulic power unit. Generated by `designs/generate.py`.
"""
