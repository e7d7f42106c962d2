"""A Wikispeed-style chassis module: ladder frame of cut tubes, brackets, suspension, a dash clip set."""

from __future__ import annotations

from designs.generator import flat
from designs.generator import shapes as s
from designs.generator.package import Package


def _flat_parts(pkg: Package) -> None:
    cut = [
        (
            "rail-end-plate",
            "Rail end plate",
            "laser_cut",
            "aluminium_6082",
            flat.rectangle(120, 80, 6),
            [(20, 20, 10.5), (100, 20, 10.5), (20, 60, 10.5), (100, 60, 10.5)],
            8.0,
        ),
        (
            "cross-member-gusset",
            "Cross-member gusset",
            "laser_cut",
            "aluminium_6082",
            flat.gusset(140),
            [(25, 25, 8.5), (90, 25, 8.5), (25, 90, 8.5)],
            5.0,
        ),
        (
            "module-coupling-plate",
            "Module coupling plate",
            "laser_cut",
            "aluminium_6082",
            flat.rectangle(200, 100, 10),
            [(25, 25, 12.5), (175, 25, 12.5), (25, 75, 12.5), (175, 75, 12.5)],
            10.0,
        ),
        (
            "control-arm-plate",
            "Lower control arm plate",
            "plasma_cut",
            "steel_s355",
            flat.rectangle(380, 90, 25),
            [(30, 45, 20.5), (350, 45, 20.5)],
            5.0,
        ),
        (
            "shock-tab",
            "Shock absorber tab",
            "laser_cut",
            "steel_s355",
            flat.rectangle(70, 60, 8),
            [(35, 40, 12.5)],
            6.0,
        ),
    ]
    for part_id, name, process, material, outline, holes, t in cut:
        pkg.fabricated(
            part_id,
            f"{name}, {t:g} mm",
            process,
            material,
            f"{part_id}.dxf",
            flat.dxf_plate(outline, holes),
            thickness_mm=t,
            tolerance_mm=0.3,
        )
    pkg.fabricated(
        "suspension-bracket",
        "Suspension pickup bracket, machined",
        "cnc_mill",
        "aluminium_6082",
        "suspension-bracket.stl",
        _bracket_stl(),
        tolerance_mm=0.05,
    )


def _bracket_stl() -> bytes:
    base = s.plate(90, 60, 12, [(15, 15, 10.5), (75, 15, 10.5), (15, 45, 10.5), (75, 45, 10.5)])
    ears = [s.box(12, 40, 50, (x, 10, 12)) for x in (22, 56)]
    pivot = s.rod(70, 12.2, (10, 30, 45), "x")
    return s.stl_bytes(s.cut(s.union([base, *ears]), [pivot]))


def _dash_clips(pkg: Package) -> None:
    pkg.printed("dash-clip-wide", "Dashboard clip, 25 mm panel", s.clip(20, 25, 3, 18), "petg")
    pkg.printed("dash-clip-narrow", "Dashboard clip, 12 mm panel", s.clip(16, 12, 2.5, 14), "petg")
    pkg.printed("dash-cable-guide", "Dashboard cable guide", s.tube(14, 18, 11), "petg")
    pkg.printed("dash-switch-bezel", "Dashboard switch bezel", s.plate(40, 28, 4, [(20, 14, 16)]), "asa")


def _bought(pkg: Package) -> None:
    buy = pkg.purchased
    buy(
        "square-tube-al-50",
        "Aluminium square tube 50 x 50 x 3, 6082-T6",
        18.0,
        unit="m",
        supplier="Metals4U",
        lead_time_days=5,
    )
    buy(
        "round-tube-steel-25", "Steel tube 25 x 2, E355", 7.5, unit="m", supplier="Metals4U", lead_time_days=5
    )
    buy("wheel", "Wheel 15 x 6 in with 195/55 R15 tyre", 145.0, supplier="Tyre Wholesale", lead_time_days=10)
    buy(
        "hub-bearing",
        "Wheel hub bearing unit, 4 x 100",
        38.0,
        supplier="SKF",
        mpn="VKBA 3645",
        manufacturer="SKF",
        lead_time_days=7,
    )
    buy("coilover", "Coil-over damper, 250 mm, 350 lb/in", 95.0, supplier="Gaz", lead_time_days=14)
    buy(
        "rod-end",
        "Rod end M12 x 1.25, right hand",
        9.8,
        supplier="FK Bearing",
        mpn="JMX12T",
        manufacturer="FK",
        lead_time_days=7,
    )
    buy("bolt-m10", "Hex bolt M10 x 40, 10.9", 0.55, supplier="Wurth", lead_time_days=2)
    buy("nyloc-m10", "Lock nut M10", 0.18, supplier="Wurth", lead_time_days=2)
    buy("bolt-m12", "Hex bolt M12 x 80, 10.9", 1.1, supplier="Wurth", lead_time_days=2)
    buy("nyloc-m12", "Lock nut M12", 0.3, supplier="Wurth", lead_time_days=2)


def build() -> Package:
    """The chassis module package."""
    pkg = Package(
        "wikispeed-chassis-module",
        {
            "name": "Modular car chassis, front module",
            "slug": "wikispeed-chassis-module",
            "version": "0.3.0",
            "licenses": ["CC-BY-SA-4.0"],
            "authors": ["peerfab example designs <designs@peerfab.example>"],
            "contributors": ["Wikispeed team (modular chassis concept)"],
            "description": "Front chassis module in the Wikispeed style: bolted aluminium ladder frame, "
            "double-wishbone pickups, wheels and a printed dashboard clip set.",
            "root": "chassis-module",
        },
        readme=_README,
    )
    _flat_parts(pkg)
    _dash_clips(pkg)
    _bought(pkg)
    pkg.assembly(
        "ladder-frame",
        "Ladder frame",
        [
            ("square-tube-al-50", 5.6),
            ("rail-end-plate", 4),
            ("cross-member-gusset", 8),
            ("module-coupling-plate", 2),
            ("bolt-m10", 48),
            ("nyloc-m10", 48),
        ],
        6.0,
        at="fablab",
    )
    pkg.assembly(
        "suspension-corner",
        "Suspension corner",
        [
            ("suspension-bracket", 2),
            ("control-arm-plate", 2),
            ("shock-tab", 2),
            ("round-tube-steel-25", 1.2),
            ("coilover", 1),
            ("rod-end", 2),
            ("hub-bearing", 1),
            ("wheel", 1),
            ("bolt-m12", 6),
            ("nyloc-m12", 6),
        ],
        3.5,
    )
    pkg.assembly(
        "dash-clip-set",
        "Dashboard clip set",
        [
            ("dash-clip-wide", 4),
            ("dash-clip-narrow", 6),
            ("dash-cable-guide", 8),
            ("dash-switch-bezel", 2),
        ],
        0.3,
        at="fablab",
    )
    pkg.assembly(
        "chassis-module",
        "Front chassis module",
        [
            ("ladder-frame", 1),
            ("suspension-corner", 2),
            ("dash-clip-set", 1),
        ],
        8.0,
    )
    return pkg


_README = """# Modular car chassis, front module 0.3.0

Aluminium ladder frame cut from square tube and joined with laser-cut plates, two suspension
corners on machined pickup brackets, and a printed clip set for the dashboard panel.
Generated by `designs/generate.py`.
"""
