"""A RepRap-style printer with a threaded-rod frame: printed vertices, clamps and carriages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from manifold3d import Manifold

from designs.generator import shapes as s
from designs.generator.package import Package

PrintedSpec = tuple[str, str, Callable[[], Manifold], str]

AUTHORS = ["peerfab example designs <designs@peerfab.example>"]
LICENSES = ["CERN-OHL-S-2.0"]


def _brace() -> Manifold:
    """A 300 mm frame brace: it fits a 250 mm bed only laid along the diagonal."""
    holes = [(10, 10, 8.4), (150, 10, 3.4), (290, 10, 8.4)]
    return s.plate(300, 20, 14, holes)


def _vertex(height: float) -> Manifold:
    body = s.box(40, 40, height)
    bores = [s.rod(42, 8.4, (-1, 12, height / 2), "x"), s.rod(42, 8.4, (28, -1, height / 2), "y")]
    return s.cut(body, [*bores, s.rod(height + 2, 8.4, (20, 20, -1))])


def _carriage(x: float, y: float) -> Manifold:
    body = s.plate(x, y, 6, [(x * 0.2, y * 0.2, 3.4), (x * 0.8, y * 0.2, 3.4), (x * 0.5, y * 0.5, 10)])
    rails = [s.bearing_block(x, 20, 22, 15.2).translate([0, y * f - 10, 0]) for f in (0.25, 0.75)]
    return s.union([body, *rails])


def _x_end(width: float, motor: bool) -> Manifold:
    block = s.bearing_block(width, 50, 30, 8.4)
    sleeve = s.tube(50, 23, 15.2).translate([width + 11, 25, 0])
    parts = [block, sleeve]
    if motor:
        parts.append(s.nema17_mount(5, 22).translate([-20, 2, 0]))
    return s.union(parts)


def _case(x: float, y: float, z: float, wall: float) -> Manifold:
    shell = s.box(x, y, z) - s.box(x - 2 * wall, y - 2 * wall, z, (wall, wall, wall))
    return s.cut(shell, [s.rod(wall + 2, 12, (x / 2, -1, z / 2), "y")])


def _gear(teeth: int, diameter: float, bore: float) -> Manifold:
    blank = s.rod(8, diameter, (0, 0, 0))
    step = 360.0 / teeth
    notches = [
        s.box(2.5, 3.0, 10, (-1.25, diameter / 2 - 1.5, -1)).rotate([0.0, 0.0, i * step])
        for i in range(teeth)
    ]
    return s.cut(blank, [*notches, s.rod(10, bore, (0, 0, -1))])


def _printed_parts(version: str) -> list[PrintedSpec]:
    new = version != "1.0.0"
    return [
        ("frame-vertex-bottom", "Frame vertex, bottom", lambda: _vertex(20), "pla"),
        ("frame-vertex-top", "Frame vertex, top", lambda: _vertex(16), "pla"),
        ("frame-rod-clamp", "Frame rod clamp", lambda: s.bearing_block(24, 12, 14, 8.4), "pla"),
        ("frame-foot", "Frame foot", lambda: s.knob(30, 12, 8.4), "pla"),
        ("frame-diagonal-brace", "Frame diagonal brace, 300 mm", _brace, "petg"),
        *([] if new else [("frame-bar-clamp", "Frame bar clamp", lambda: s.clip(16, 8.4, 3, 12), "pla")]),
        ("y-motor-mount", "Y motor mount", lambda: s.nema17_mount(5, 30), "pla"),
        ("y-idler", "Y belt idler", lambda: s.bearing_block(30, 24, 26, 22.2), "pla"),
        ("y-belt-clamp", "Y belt clamp", lambda: s.belt_clamp(30, 14, 5), "pla"),
        ("y-bearing-holder", "Y LM8UU holder", lambda: s.bearing_block(32, 26, 21, 15.2), "pla"),
        ("y-rod-clamp", "Y rod clamp", lambda: s.bearing_block(26, 14, 16, 8.2), "pla"),
        ("y-endstop-holder", "Y end-stop holder", lambda: s.angle_bracket(20, 25, 4, 3.4), "pla"),
        ("y-bed-corner", "Y bed corner bracket", lambda: s.angle_bracket(16, 20, 4, 3.4), "pla"),
        ("x-end-motor", "X end, motor side", lambda: _x_end(30 if new else 26, True), "petg"),
        ("x-end-idler", "X end, idler side", lambda: _x_end(30 if new else 26, False), "petg"),
        ("x-carriage", "X carriage", lambda: _carriage(60, 70), "petg"),
        ("x-belt-clamp", "X belt clamp", lambda: s.belt_clamp(24, 12, 4), "pla"),
        ("x-endstop-holder", "X end-stop holder", lambda: s.angle_bracket(14, 20, 3, 3.4), "pla"),
        ("x-idler-spacer", "X idler spacer", lambda: s.tube(5, 14, 8.4), "pla"),
        ("x-rod-clip", "X rod clip", lambda: s.clip(8, 8.2, 2.5, 10), "pla"),
        ("z-motor-mount", "Z motor mount", lambda: s.nema17_mount(6, 40), "pla"),
        ("z-coupling", "Z coupling, 5 to 5 mm", lambda: s.tube(25, 20, 5.2), "petg"),
        ("z-top-rod-holder", "Z top rod holder", lambda: s.bearing_block(36, 16, 20, 8.4), "pla"),
        ("z-endstop-holder", "Z end-stop holder", lambda: s.angle_bracket(18, 22, 4, 3.4), "pla"),
        ("z-nut-trap", "Z nut trap", lambda: s.bearing_block(28, 12, 16, 9.2), "pla"),
        ("extruder-body", "Extruder body", lambda: s.nema17_mount(8, 36), "petg"),
        ("extruder-idler", "Extruder idler", lambda: s.bearing_block(22, 24, 16, 8.2), "petg"),
        ("extruder-gear-large", "Extruder gear, 43 teeth", lambda: _gear(43, 60, 8.2), "petg"),
        ("extruder-gear-small", "Extruder gear, 11 teeth", lambda: _gear(11, 17, 5.2), "petg"),
        ("extruder-fan-duct", "Extruder fan duct", lambda: _case(34, 34, 18, 2), "petg"),
        (
            "extruder-hotend-clamp",
            "Extruder hot-end clamp",
            lambda: s.bearing_block(40, 12, 14, 12.2),
            "petg",
        ),
        ("controller-case-base", "Controller case, base", lambda: _case(112, 66, 28, 2.4), "pla"),
        ("controller-case-lid", "Controller case, lid", lambda: s.plate(112, 66, 3, [(56, 33, 30)]), "pla"),
        ("psu-cover", "PSU cover", lambda: _case(116, 52, 40, 2.4), "pla"),
        ("lcd-knob", "LCD knob", lambda: s.knob(22, 10, 6.2), "pla"),
        ("cable-clip", "Cable clip", lambda: s.clip(6, 6, 1.6, 10), "pla"),
        ("spool-holder-arm", "Spool holder arm", lambda: s.angle_bracket(24, 60, 5, 8.4), "pla"),
        ("spool-holder-hub", "Spool holder hub", lambda: s.tube(30, 52, 8.4), "pla"),
    ] + (
        [("y-belt-tensioner", "Y belt tensioner", lambda: s.bearing_block(26, 18, 14, 3.4), "pla")]
        if new
        else []
    )


def _purchased(pkg: Package, version: str) -> None:
    buy = pkg.purchased
    buy(
        "smooth-rod-8x350",
        "Smooth rod, 8 mm x 350 mm, hardened",
        6.40,
        supplier="Misumi",
        mpn="PSFJ8-350",
        manufacturer="Misumi",
        lead_time_days=5,
    )
    buy(
        "smooth-rod-8x420",
        "Smooth rod, 8 mm x 420 mm, hardened",
        7.10,
        supplier="Misumi",
        mpn="PSFJ8-420",
        manufacturer="Misumi",
        lead_time_days=5,
    )
    buy(
        "smooth-rod-8x330",
        "Smooth rod, 8 mm x 330 mm, hardened",
        6.20,
        supplier="Misumi",
        mpn="PSFJ8-330",
        manufacturer="Misumi",
        lead_time_days=5,
    )
    buy(
        "threaded-rod-m8",
        "Threaded rod M8 x 1 m, zinc plated",
        2.35,
        supplier="Wurth",
        mpn="0958 8 1000",
        lead_time_days=2,
    )
    buy("threaded-rod-m5x300", "Threaded rod M5 x 300 mm", 1.10, supplier="Wurth", lead_time_days=2)
    buy(
        "lm8uu",
        "Linear bearing LM8UU",
        0.95,
        supplier="RS Components",
        mpn="LM8UU",
        manufacturer="Misumi",
        lead_time_days=3,
    )
    buy(
        "608zz",
        "Ball bearing 608ZZ",
        0.60,
        supplier="SKF",
        mpn="608-2Z",
        manufacturer="SKF",
        lead_time_days=3,
    )
    buy(
        "nema17",
        "Stepper motor NEMA 17, 1.8 deg, 0.45 Nm",
        13.50,
        supplier="StepperOnline",
        mpn="17HS19-2004S1",
        manufacturer="StepperOnline",
        lead_time_days=10,
    )
    buy(
        "gt2-belt",
        "Timing belt GT2, 6 mm wide",
        1.80,
        supplier="Gates",
        mpn="2MR-6",
        unit="m",
        lead_time_days=4,
    )
    buy("gt2-pulley-20t", "GT2 pulley, 20 teeth, 5 mm bore", 1.90, supplier="RS Components", lead_time_days=4)
    buy("m3x12", "Socket screw M3 x 12, ISO 4762", 0.04, supplier="Wurth", mpn="0084 3 12", lead_time_days=2)
    buy("m3-nut", "Hex nut M3, ISO 4032", 0.02, supplier="Wurth", mpn="0317 3", lead_time_days=2)
    buy("m8-nut", "Hex nut M8, ISO 4032", 0.05, supplier="Wurth", mpn="0317 8", lead_time_days=2)
    buy("m8-washer", "Washer M8, ISO 7089", 0.03, supplier="Wurth", mpn="0407 8", lead_time_days=2)
    psu_cost = 41.0 if version == "1.0.0" else 36.5
    buy(
        "psu-12v",
        "Power supply 12 V 30 A",
        psu_cost,
        supplier="Mouser",
        mpn="LRS-350-12",
        manufacturer="Mean Well",
        lead_time_days=6,
    )
    buy(
        "controller",
        "Controller board, 8-bit, 5 stepper drivers",
        32.0,
        supplier="Makerbase",
        mpn="MKS GEN L V1.0",
        manufacturer="Makerbase",
        lead_time_days=14,
    )
    buy(
        "endstop-switch",
        "Micro switch end-stop",
        0.85,
        supplier="Mouser",
        mpn="D2F-01L",
        manufacturer="Omron",
        lead_time_days=3,
    )
    buy(
        "hotend",
        "All-metal hot end, 1.75 mm, 0.4 mm nozzle",
        62.0,
        supplier="E3D",
        mpn="V6-175-B",
        manufacturer="E3D",
        lead_time_days=7,
    )
    buy(
        "heated-bed",
        "Heated bed PCB 214 x 214 mm, 12 V",
        17.0,
        supplier="RepRap World",
        mpn="MK2B",
        lead_time_days=7,
    )
    buy("glass-plate", "Borosilicate glass 213 x 200 x 3 mm", 9.5, supplier="RepRap World", lead_time_days=7)
    buy(
        "lcd-controller", "Full graphic LCD controller 12864", 14.0, supplier="RepRap World", lead_time_days=7
    )


def build(version: str = "1.0.0") -> Package:
    """The printer package at version 1.0.0, or the 1.1.0 revision."""
    folder = "reprap-printer" if version == "1.0.0" else f"reprap-printer-{version}"
    design: dict[str, Any] = {
        "name": "RepRap-style desktop printer",
        "slug": "reprap-printer",
        "version": version,
        "licenses": LICENSES,
        "authors": AUTHORS,
        "contributors": ["RepRap community (Prusa Mendel frame concept)"],
        "description": "Threaded-rod frame FDM printer, 200 x 200 x 180 mm build volume, "
        "with 38 printed parts and off-the-shelf motion hardware.",
        "root": "printer",
        "homepage": "https://reprap.org/wiki/Prusa_Mendel",
    }
    if version != "1.0.0":
        design["lineage"] = {"derivative-of": "reprap-printer@1.0.0"}
    pkg = Package(folder, design, readme=_README.format(version=version))
    for part_id, name, make, material in _printed_parts(version):
        pkg.printed(part_id, name, make(), material, layer_height_mm=0.2, infill=0.3)
    _purchased(pkg, version)
    _assemblies(pkg, version)
    return pkg


def _assemblies(pkg: Package, version: str) -> None:
    new = version != "1.0.0"
    pkg.assembly(
        "frame",
        "Frame",
        [
            ("frame-vertex-bottom", 4),
            ("frame-vertex-top", 2),
            ("frame-rod-clamp", 8),
            ("frame-foot", 4),
            ("frame-diagonal-brace", 2),
            *([] if new else [("frame-bar-clamp", 4)]),
            ("threaded-rod-m8", 6),
            ("m8-nut", 52),
            ("m8-washer", 52),
            ("spool-holder-arm", 2),
            ("spool-holder-hub", 2),
        ],
        3.0,
    )
    pkg.assembly(
        "y-axis",
        "Y axis and bed carriage",
        [
            ("y-motor-mount", 1),
            ("y-idler", 1),
            ("y-belt-clamp", 1 if new else 2),
            *([("y-belt-tensioner", 1)] if new else []),
            ("y-bearing-holder", 3 if new else 4),
            ("y-rod-clamp", 4),
            ("y-endstop-holder", 1),
            ("y-bed-corner", 4),
            ("smooth-rod-8x350", 2),
            ("lm8uu", 3 if new else 4),
            ("608zz", 1),
            ("nema17", 1),
            ("gt2-belt", 0.9),
            ("gt2-pulley-20t", 1),
            ("endstop-switch", 1),
            ("heated-bed", 1),
            ("glass-plate", 1),
            ("m3x12", 24),
            ("m3-nut", 24),
        ],
        2.0,
    )
    pkg.assembly(
        "x-axis",
        "X axis",
        [
            ("x-end-motor", 1),
            ("x-end-idler", 1),
            ("x-carriage", 1),
            ("x-belt-clamp", 2),
            ("x-endstop-holder", 1),
            ("x-idler-spacer", 2),
            ("x-rod-clip", 4),
            ("smooth-rod-8x420", 2),
            ("lm8uu", 7),
            ("608zz", 1),
            ("nema17", 1),
            ("gt2-belt", 0.95),
            ("gt2-pulley-20t", 1),
            ("endstop-switch", 1),
            ("m3x12", 14),
            ("m3-nut", 14),
        ],
        1.5,
    )
    pkg.assembly(
        "z-axis",
        "Z axis",
        [
            ("z-motor-mount", 2),
            ("z-coupling", 2),
            ("z-top-rod-holder", 2),
            ("z-endstop-holder", 1),
            ("z-nut-trap", 2),
            ("smooth-rod-8x330", 2),
            ("threaded-rod-m5x300", 2),
            ("nema17", 2),
            ("endstop-switch", 1),
            ("m3x12", 12),
        ],
        1.0,
    )
    pkg.assembly(
        "extruder",
        "Geared extruder and hot end",
        [
            ("extruder-body", 1),
            ("extruder-idler", 1),
            ("extruder-gear-large", 1),
            ("extruder-gear-small", 1),
            ("extruder-fan-duct", 1),
            ("extruder-hotend-clamp", 1),
            ("608zz", 1),
            ("nema17", 1),
            ("hotend", 1),
            ("m3x12", 8),
            ("m3-nut", 8),
        ],
        1.0,
    )
    pkg.assembly(
        "electronics",
        "Electronics and wiring",
        [
            ("controller-case-base", 1),
            ("controller-case-lid", 1),
            ("psu-cover", 1),
            ("lcd-knob", 1),
            ("cable-clip", 10),
            ("psu-12v", 1),
            ("controller", 1),
            ("lcd-controller", 1),
            ("m3x12", 10),
        ],
        2.5,
        at="fablab",
    )
    pkg.assembly(
        "printer",
        "RepRap-style printer",
        [
            ("frame", 1),
            ("y-axis", 1),
            ("x-axis", 1),
            ("z-axis", 1),
            ("extruder", 1),
            ("electronics", 1),
        ],
        4.0,
    )


_README = """# RepRap-style desktop printer {version}

A threaded-rod frame printer in the spirit of the Prusa Mendel, generated parametrically by
`designs/generate.py`. Every printed part is a simple solid (plates, blocks, bores) sized for M3
and M8 hardware; the 300 mm diagonal brace fits a 250 mm bed only when laid along its diagonal.
"""
