"""The name a job's file has on the machine and its host: the design's file name, made safe."""

from __future__ import annotations

import pytest

from fablab_agents.jobfiles import safe_file_name


@pytest.mark.parametrize(
    ("offered", "suffix", "expected"),
    [
        ("x-carriage.stl", ".stl", "x-carriage.stl"),
        ("files/frame/x-carriage.stl", ".stl", "x-carriage.stl"),
        ("..\\..\\boot.ini.gcode", ".gcode", "boot.ini.gcode"),
        ("Halter für Spule (v2).3mf", ".3mf", "Halter_f_r_Spule_v2.3mf"),
        ("../../", ".gcode", "job.gcode"),
        ("", ".nc", "job.nc"),
        ("part.STL", ".stl", "part.stl"),
    ],
)
def test_offered_names_become_safe_local_names(offered: str, suffix: str, expected: str) -> None:
    assert safe_file_name(offered, suffix) == expected


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = safe_file_name("a" * 500 + ".gcode", ".gcode")
    assert len(name) == 100 and name.endswith(".gcode")
