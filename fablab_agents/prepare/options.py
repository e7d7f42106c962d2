"""Per-machine preparation options from `[machine NAME]`: slicer and profiles, or the CAM cut table.

Read once with types and bounds through the agent config's `Section` reader, like every other option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol.errors import InvalidInput

if TYPE_CHECKING:
    from fablab_agents.config import Section

FDM_PROCESSES = frozenset({"fdm_print"})
LASER, PLASMA, ROUTER = "laser_cut", "plasma_cut", "cnc_router"
CUT_PROCESSES = frozenset({LASER, PLASMA, ROUTER})
MODES = ("auto", "operator")
SLICER_NAMES = ("prusaslicer", "curaengine")

_SLICER_KEYS = ("slicer", "slicer_path", "profile", "material_profiles", "slicer_options", "slicer_timeout_s")
_CUT_KEYS = ("cut_table", "sheet_margin_mm", "part_spacing_mm", "rapid_mm_min", "curve_tolerance_mm")
_PROCESS_KEYS = {
    LASER: ("laser_s_max", "air_assist", "lead_in_mm"),
    PLASMA: ("lead_in_mm", "pierce_height_mm", "cut_height_mm", "safe_z_mm"),
    ROUTER: ("safe_z_mm", "spindle_spinup_s", "tab_width_mm", "tab_height_mm", "tab_spacing_mm"),
}
_OPTION_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class CutSetting:
    """One row of a cutting machine's table: how to cut one material at one thickness."""

    material: str
    thickness_mm: float
    feed_mm_min: float
    kerf_mm: float
    power: float = 1.0  # laser: fraction of laser_s_max
    passes: int = 1  # laser: passes over the same contour
    pierce_delay_s: float = 0.0  # plasma: torch on, wait, then move
    spindle_rpm: float = 0.0  # router
    depth_per_pass_mm: float = 0.0  # router; 0 = the whole thickness in one pass
    plunge_mm_min: float = 0.0  # router; 0 = a third of the feed

    def describe(self) -> str:
        return f"{self.material} {self.thickness_mm:g} mm"


@dataclass(frozen=True)
class PrepareOptions:
    """How a machine turns a job file into its own G-code."""

    mode: str = "auto"
    slicer: str = "prusaslicer"
    slicer_path: str | None = None
    profile: Path | None = None
    material_profiles: dict[str, Path] = field(default_factory=dict)
    slicer_options: dict[str, str] = field(default_factory=dict)
    slicer_timeout_s: float = 900.0
    cut_table: tuple[CutSetting, ...] = ()
    sheet_margin_mm: float = 5.0
    part_spacing_mm: float = 10.0
    rapid_mm_min: float = 6000.0
    curve_tolerance_mm: float = 0.02
    lead_in_mm: float = 0.0
    laser_s_max: float = 1000.0
    air_assist: bool = False
    pierce_height_mm: float | None = None
    cut_height_mm: float | None = None
    safe_z_mm: float = 5.0
    spindle_spinup_s: float = 3.0
    tab_width_mm: float = 6.0
    tab_height_mm: float = 1.5
    tab_spacing_mm: float = 150.0

    def materials(self) -> list[str]:
        return sorted({row.material for row in self.cut_table})


def _error(section: Section, key: str, message: str) -> InvalidInput:
    return InvalidInput(f"{section.source}: [{section.name}] {key}: {message}")


def read_prepare_options(section: Section, process: str) -> PrepareOptions:
    """The preparation options of one machine section; options of another kind of machine are errors."""
    _refuse_foreign(section, process)
    mode = section.get_str("prepare", "auto")
    if mode not in MODES:
        raise _error(section, "prepare", f"expected 'auto' or 'operator', got {mode!r}")
    if process in FDM_PROCESSES:
        return _slicer_options(section, mode)
    if process in CUT_PROCESSES:
        return _cut_options(section, mode, process)
    return PrepareOptions(mode=mode)


def _refuse_foreign(section: Section, process: str) -> None:
    allowed: set[str] = set()
    if process in FDM_PROCESSES:
        allowed.update(_SLICER_KEYS)
    if process in CUT_PROCESSES:
        allowed.update(_CUT_KEYS, _PROCESS_KEYS[process])
    foreign = (
        set(_SLICER_KEYS) | set(_CUT_KEYS) | {k for keys in _PROCESS_KEYS.values() for k in keys}
    ) - allowed
    for key in sorted(foreign):
        if section.has(key):
            raise _error(section, key, f"not an option of a {process or 'this'} machine")


def _slicer_options(section: Section, mode: str) -> PrepareOptions:
    base = Path(section.source).parent
    slicer = section.get_str("slicer", "prusaslicer")
    if slicer not in SLICER_NAMES:
        raise _error(section, "slicer", f"unknown slicer {slicer!r} (known: {', '.join(SLICER_NAMES)})")
    profile = section.get_str("profile")
    return PrepareOptions(
        mode=mode,
        slicer=slicer,
        slicer_path=section.get_str("slicer_path"),
        profile=_existing_file(section, "profile", profile, base) if profile else None,
        material_profiles=_material_profiles(section, base),
        slicer_options=_slicer_overrides(section),
        slicer_timeout_s=section.get_float("slicer_timeout_s", 900.0, above=0, maxval=86400),
    )


def _existing_file(section: Section, key: str, value: str, base: Path) -> Path:
    path = (base / value).resolve()
    if not path.is_file():
        raise _error(section, key, f"file {path} does not exist")
    return path


def _material_profiles(section: Section, base: Path) -> dict[str, Path]:
    table = section.get_table("material_profiles")
    profiles: dict[str, Path] = {}
    for material, value in table.items():
        if not isinstance(value, str):
            raise _error(section, f"material_profiles.{material}", "expected a path")
        profiles[material.lower()] = _existing_file(section, f"material_profiles.{material}", value, base)
    return profiles


def _slicer_overrides(section: Section) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for key, value in section.get_table("slicer_options").items():
        if not _OPTION_KEY.match(key) or isinstance(value, dict | list):
            raise _error(section, f"slicer_options.{key}", "expected a setting name and a plain value")
        overrides[key] = _setting_text(value)
    return overrides


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _cut_options(section: Section, mode: str, process: str) -> PrepareOptions:
    rows = tuple(
        _cut_row(section, index, row, process)
        for index, row in enumerate(section.get_list("cut_table", [], item=dict))
    )
    _refuse_duplicate_rows(section, rows)
    values: dict[str, Any] = {
        "mode": mode,
        "cut_table": rows,
        "sheet_margin_mm": section.get_float("sheet_margin_mm", 5.0, minval=0, maxval=1000),
        "part_spacing_mm": section.get_float("part_spacing_mm", 10.0, minval=0, maxval=1000),
        "rapid_mm_min": section.get_float("rapid_mm_min", 6000.0, above=0, maxval=200_000),
        "curve_tolerance_mm": section.get_float("curve_tolerance_mm", 0.02, above=0, maxval=1),
    }
    values.update(_PROCESS_READERS[process](section))
    return PrepareOptions(**values)


def _laser_values(section: Section) -> dict[str, Any]:
    return {
        "laser_s_max": section.get_float("laser_s_max", 1000.0, above=0, maxval=100_000),
        "air_assist": section.get_bool("air_assist", False),
        "lead_in_mm": section.get_float("lead_in_mm", 0.0, minval=0, maxval=50),
    }


def _plasma_values(section: Section) -> dict[str, Any]:
    pierce = section.get_float("pierce_height_mm", minval=0, maxval=100)
    cut = section.get_float("cut_height_mm", minval=0, maxval=100)
    if (pierce is None) != (cut is None):
        raise _error(
            section, "pierce_height_mm", "goes with cut_height_mm (torch height by Z): set both or neither"
        )
    return {
        "lead_in_mm": section.get_float("lead_in_mm", 4.0, minval=0, maxval=50),
        "pierce_height_mm": pierce,
        "cut_height_mm": cut,
        "safe_z_mm": section.get_float("safe_z_mm", 10.0, above=0, maxval=200),
    }


def _router_values(section: Section) -> dict[str, Any]:
    return {
        "safe_z_mm": section.get_float("safe_z_mm", 5.0, above=0, maxval=200),
        "spindle_spinup_s": section.get_float("spindle_spinup_s", 3.0, minval=0, maxval=120),
        "tab_width_mm": section.get_float("tab_width_mm", 6.0, minval=0, maxval=100),
        "tab_height_mm": section.get_float("tab_height_mm", 1.5, minval=0, maxval=50),
        "tab_spacing_mm": section.get_float("tab_spacing_mm", 150.0, above=0, maxval=10_000),
    }


_PROCESS_READERS = {LASER: _laser_values, PLASMA: _plasma_values, ROUTER: _router_values}


def _cut_row(section: Section, index: int, options: dict[str, Any], process: str) -> CutSetting:
    row = _row_section(section, f"cut_table[{index + 1}]", options)
    values: dict[str, Any] = {
        "material": row.get_str("material", required=True).lower(),
        "thickness_mm": row.get_float("thickness_mm", required=True, above=0, maxval=500),
        "feed_mm_min": row.get_float("feed_mm_min", required=True, above=0, maxval=200_000),
        "kerf_mm": row.get_float("kerf_mm", required=True, minval=0, maxval=50),
    }
    if process == LASER:
        values["power"] = row.get_float("power", 1.0, above=0, maxval=1)
        values["passes"] = row.get_int("passes", 1, minval=1, maxval=100)
    elif process == PLASMA:
        values["pierce_delay_s"] = row.get_float("pierce_delay_s", 0.5, minval=0, maxval=30)
    else:
        values["spindle_rpm"] = row.get_float("spindle_rpm", required=True, above=0, maxval=200_000)
        values["depth_per_pass_mm"] = row.get_float("depth_per_pass_mm", 0.0, minval=0, maxval=100)
        values["plunge_mm_min"] = row.get_float("plunge_mm_min", 0.0, minval=0, maxval=100_000)
    row.check_all_read()
    return CutSetting(**values)


def _row_section(section: Section, label: str, options: dict[str, Any]) -> Section:
    """A reader for one inline table of a list option; errors name the machine, the list and the row."""
    from fablab_agents.config import Section as Reader  # late: the config module imports this one

    class RowReader(Reader):
        def _where(self, key: str) -> str:
            return f"{self.source}: [{self.name}] {label}.{key}"

    return RowReader(section.name, options, section.source)


def _refuse_duplicate_rows(section: Section, rows: tuple[CutSetting, ...]) -> None:
    seen: set[tuple[str, float]] = set()
    for row in rows:
        key = (row.material, round(row.thickness_mm, 3))
        if key in seen:
            raise _error(section, "cut_table", f"{row.describe()} is listed twice")
        seen.add(key)
