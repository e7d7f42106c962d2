"""PrusaSlicer's command line: check the mesh (--info), then slice with the profile and an overlay."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fablab_agents.prepare.estimates import head_and_tail, parse_estimates, read_generator
from fablab_agents.prepare.model import PreparationError, Prepared
from fablab_agents.prepare.slicing import SliceJob, mass_g
from fablab_agents.prepare.tools import find_binary, run_tool, tool_reason

BINARIES = ("prusa-slicer", "prusaslicer", "PrusaSlicer")
INFO_TIMEOUT_S = 120.0


def slice_with_prusaslicer(job: SliceJob) -> Prepared:
    """Slice `job.source` into `job.output`: copies arranged on the bed by PrusaSlicer."""
    binary = find_binary(job.options.slicer_path, BINARIES)
    profiles, material_warnings = job.profiles()
    settings = profile_settings(profiles, job.options.slicer_options)
    degrees, skirt, warnings = _check_objects(binary, job, settings)
    args = [binary, "--export-gcode", "--loglevel", "1", "--datadir", str(job.workdir / "datadir")]
    for profile in [*profiles, _overlay(job, {} if skirt else {"skirts": "0"})]:
        args += ["--load", str(profile)]
    if degrees:
        args += ["--rotate", str(degrees)]
    if job.copies > 1:
        args += ["--duplicate", str(job.copies)]
    args += ["--output", str(job.output), str(job.source)]
    result = run_tool(args, timeout_s=job.options.slicer_timeout_s, what="PrusaSlicer", cwd=job.workdir)
    if result.returncode != 0 or not job.output.is_file() or job.output.stat().st_size == 0:
        copies = f" ({job.copies} copies)" if job.copies > 1 else ""
        reason = tool_reason(result.stdout + "\n" + result.stderr)
        raise PreparationError(f"PrusaSlicer could not slice {job.source.name}{copies}: {reason}")
    summary = head_and_tail(job.output)
    _refuse_unknown_options(job, summary)
    estimates = parse_estimates(summary)
    if not estimates.filament_g:  # a profile without filament_density reports 0 g
        estimates = replace(estimates, filament_g=mass_g(job.material, estimates.filament_mm))
    return job.result(
        read_generator(job.output) or "PrusaSlicer", profiles, estimates, warnings + material_warnings
    )


def _refuse_unknown_options(job: SliceJob, summary: list[str]) -> None:
    """PrusaSlicer ignores options it does not know; its config dump at the end of the file tells."""
    known = config_keys(summary)
    unknown = sorted(key for key in job.options.slicer_options if key not in known)
    if known and unknown:
        raise PreparationError(
            f"[machine {job.machine.id}] slicer_options: PrusaSlicer has no option {', '.join(unknown)}"
        )


def config_keys(lines: list[str]) -> set[str]:
    """Option names of the `; prusaslicer_config = begin` ... `end` block PrusaSlicer appends."""
    keys: set[str] = set()
    inside = False
    for line in lines:
        if line.startswith("; prusaslicer_config = "):
            inside = line.endswith("begin")
        elif inside and line.startswith("; ") and " = " in line:
            keys.add(line[2:].partition(" = ")[0])
    return keys


def _check_objects(binary: str, job: SliceJob, settings: dict[str, str]) -> tuple[int, bool, list[str]]:
    """Read the mesh once with --info: an unreadable or oversized part is refused before slicing.

    Returns the turn about Z that makes every object fit the bed, whether the skirt still fits
    around them, and warnings.
    """
    result = run_tool(
        [binary, "--info", "--loglevel", "1", "--datadir", str(job.workdir / "datadir"), str(job.source)],
        timeout_s=min(INFO_TIMEOUT_S, job.options.slicer_timeout_s),
        what="PrusaSlicer",
        cwd=job.workdir,
    )
    objects = parse_info(result.stdout)
    if result.returncode != 0 or not objects:
        reason = tool_reason(result.stdout + "\n" + result.stderr)
        raise PreparationError(f"PrusaSlicer cannot read {job.source.name}: {reason}")
    degrees, skirt, warnings = 0, True, []
    for name, values in objects.items():
        size = (values.get("size_x", 0.0), values.get("size_y", 0.0), values.get("size_z", 0.0))
        turn, fits_skirt = _place(job, name, size, settings)
        degrees, skirt = max(degrees, turn), skirt and fits_skirt
        if turn:
            warnings.append(f"{name} is turned {turn} degrees on the bed to fit")
        if values.get("manifold") == 0.0:
            warnings.append(f"{name} is not manifold: PrusaSlicer repaired it before slicing")
    if not skirt:
        warnings.append("no room for the skirt around the part: printed without one")
    return degrees, skirt, warnings


def _place(
    job: SliceJob, name: str, size: tuple[float, float, float], settings: dict[str, str]
) -> tuple[int, bool]:
    skirts = _number(settings, "skirts")
    line = _number(settings, "first_layer_extrusion_width", 0.5)
    skirt = _number(settings, "skirt_distance") + skirts * line if skirts > 0 else 0.0
    return job.place(name, size, brim=_number(settings, "brim_width"), skirt=skirt)


def _number(settings: dict[str, str], key: str, default: float = 0.0) -> float:
    try:
        return float(settings.get(key, "").rstrip("%") or default)
    except ValueError:
        return default


def profile_settings(profiles: list[Path], overrides: dict[str, str]) -> dict[str, str]:
    """The options the profiles set, later files winning, then the machine's slicer_options."""
    settings: dict[str, str] = {}
    for profile in profiles:
        for raw in profile.read_text(encoding="utf-8", errors="replace").splitlines():
            key, equals, value = raw.partition("=")
            if equals and not raw.lstrip().startswith(("#", ";")):
                settings[key.strip()] = value.strip()
    return {**settings, **overrides}


def parse_info(text: str) -> dict[str, dict[str, float]]:
    """`[name]` sections of `key = value` lines; manifold yes/no read as 1/0."""
    objects: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            current = objects.setdefault(line[1:-1], {})
        elif current is not None and "=" in line:
            key, _, value = (part.strip() for part in line.partition("="))
            current[key] = _info_value(value)
    return objects


def _info_value(value: str) -> float:
    if value in ("yes", "no"):
        return 1.0 if value == "yes" else 0.0
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _overlay(job: SliceJob, extra: dict[str, str]) -> Path:
    """An ini loaded last: the machine's bed from build_volume_mm, then the slicer_options, then `extra`."""
    lines = ["# written by peerfab for this slicing run"]
    x, y, z = job.bed
    if x and y:
        lines.append(f"bed_shape = 0x0,{x:g}x0,{x:g}x{y:g},0x{y:g}")
    if z:
        lines.append(f"max_print_height = {z:g}")
    options = {**job.options.slicer_options, **extra}
    lines += [f"{key} = {value}".replace("\n", "\\n") for key, value in options.items()]
    path = job.workdir / "machine.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
