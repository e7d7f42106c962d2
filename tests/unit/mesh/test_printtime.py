import pytest

from coordinator.mesh.printtime import (
    PrinterProfile,
    ShellGeometry,
    estimate_print_time_s,
    extrusion_volume_mm3,
    layer_count,
)
from protocol.errors import InvalidInput

CUBE_20 = ShellGeometry(8000.0, 1600.0, 400.0, 400.0, 20.0)


def test_thin_part_prints_solid() -> None:
    sliver = ShellGeometry(
        volume_mm3=100.0, wall_area_mm2=2000.0, top_area_mm2=100.0, bottom_area_mm2=100.0, height_mm=1.0
    )
    assert extrusion_volume_mm3(sliver, PrinterProfile(infill=0.0)) == pytest.approx(100.0)


def test_infill_fraction_scales_the_interior() -> None:
    hollow = extrusion_volume_mm3(CUBE_20, PrinterProfile(infill=0.0))
    solid = extrusion_volume_mm3(CUBE_20, PrinterProfile(infill=1.0))
    half = extrusion_volume_mm3(CUBE_20, PrinterProfile(infill=0.5))
    assert solid == pytest.approx(8000.0)
    assert half == pytest.approx((hollow + solid) / 2)


def test_faster_printer_is_faster() -> None:
    slow = estimate_print_time_s(CUBE_20, PrinterProfile(flow_mm3_s=4.0))
    fast = estimate_print_time_s(CUBE_20, PrinterProfile(flow_mm3_s=16.0))
    assert fast < slow


def test_thinner_layers_mean_more_layers_and_more_time() -> None:
    assert layer_count(20.0, PrinterProfile(layer_height_mm=0.1)) == 200
    assert layer_count(20.0, PrinterProfile(layer_height_mm=0.2)) == 100
    fine = estimate_print_time_s(CUBE_20, PrinterProfile(layer_height_mm=0.1))
    assert fine > estimate_print_time_s(CUBE_20, PrinterProfile(layer_height_mm=0.2))


def test_bad_profile_is_refused() -> None:
    with pytest.raises(InvalidInput, match="flow_mm3_s"):
        PrinterProfile(flow_mm3_s=0.0)
    with pytest.raises(InvalidInput, match="infill"):
        PrinterProfile(infill=1.5)
