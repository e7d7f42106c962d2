"""Flat machine files: DXF cutting profiles, RS-274X Gerbers, zips and CSVs, all reproducible."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Sequence

import ezdxf

# Holes as (x, y, diameter) in mm.
Holes = Sequence[tuple[float, float, float]]

_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def dxf_plate(outline: Sequence[tuple[float, float]], holes: Holes = ()) -> bytes:
    """An R12 DXF (drawing units: mm) with a closed outline on layer CUT and circular holes on layer HOLES."""
    # R12 has no OBJECTS section, whose order ezdxf lets vary with the hash seed, and fixed
    # header timestamps make the same plate give the same bytes on every run.
    ezdxf.options.write_fixed_meta_data_for_testing = True
    # R12 has no units header; ezdxf warns about that on every write, and mm is documented instead.
    logging.getLogger("ezdxf").setLevel(logging.ERROR)
    doc = ezdxf.new("R12", units=0)
    doc.layers.add("CUT", color=7)
    doc.layers.add("HOLES", color=1)
    space = doc.modelspace()
    space.add_polyline2d(list(outline), close=True, dxfattribs={"layer": "CUT"})
    for x, y, d in holes:
        space.add_circle((x, y), d / 2, dxfattribs={"layer": "HOLES"})
    stream = io.StringIO()
    doc.write(stream)
    return stream.getvalue().encode("utf-8")


def rectangle(x: float, y: float, chamfer: float = 0.0) -> list[tuple[float, float]]:
    """Outline of an x by y rectangle, with 45-degree corner chamfers when asked."""
    if chamfer <= 0:
        return [(0, 0), (x, 0), (x, y), (0, y)]
    c = chamfer
    return [(c, 0), (x - c, 0), (x, c), (x, y - c), (x - c, y), (c, y), (0, y - c), (0, c)]


def gusset(leg: float) -> list[tuple[float, float]]:
    """A triangular gusset with its tip cut off."""
    return [(0, 0), (leg, 0), (leg, leg * 0.2), (leg * 0.2, leg), (0, leg)]


def gerber_layer(function: str, body: Sequence[str]) -> bytes:
    """An RS-274X file in mm (4.6 format) with the given file function and body lines."""
    lines = [
        f"%TF.FileFunction,{function}*%",
        "%FSLAX46Y46*%",
        "%MOMM*%",
        "%LPD*%",
        *body,
        "M02*",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def _coord(value: float) -> str:
    return str(round(value * 1_000_000))


def gerber_outline(x: float, y: float) -> bytes:
    """Board outline: a rectangle drawn with a 0.1 mm aperture."""
    corners = [(0, 0), (x, 0), (x, y), (0, y), (0, 0)]
    body = ["%ADD10C,0.100000*%", "D10*", "G01*"]
    body.append(f"X{_coord(0)}Y{_coord(0)}D02*")
    body += [f"X{_coord(cx)}Y{_coord(cy)}D01*" for cx, cy in corners[1:]]
    return gerber_layer("Profile,NP", body)


def gerber_copper(
    pads: Sequence[tuple[float, float]], traces: Sequence[tuple[float, float, float, float]]
) -> bytes:
    """Top copper: 1.6 mm round pads (flashes) and 0.3 mm traces between points."""
    body = ["%ADD10C,1.600000*%", "%ADD11C,0.300000*%", "D10*"]
    body += [f"X{_coord(px)}Y{_coord(py)}D03*" for px, py in pads]
    body += ["D11*", "G01*"]
    for x1, y1, x2, y2 in traces:
        body += [f"X{_coord(x1)}Y{_coord(y1)}D02*", f"X{_coord(x2)}Y{_coord(y2)}D01*"]
    return gerber_layer("Copper,L1,Top", body)


def drill_file(holes: Holes) -> bytes:
    """An Excellon drill file (mm) grouping holes by diameter."""
    sizes = sorted({d for _, _, d in holes})
    lines = ["M48", "METRIC,TZ"]
    lines += [f"T{i + 1}C{d:.3f}" for i, d in enumerate(sizes)]
    lines.append("%")
    for i, d in enumerate(sizes):
        lines.append(f"T{i + 1}")
        lines += [f"X{x:.3f}Y{y:.3f}" for x, y, hd in holes if hd == d]
    lines.append("M30")
    return ("\n".join(lines) + "\n").encode("ascii")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip of the members in name order with a fixed date, so equal content zips equally."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    return stream.getvalue()


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """A small CSV with quoted text fields and LF line ends."""

    def cell(value: object) -> str:
        return f'"{value}"' if isinstance(value, str) else str(value)

    lines = [",".join(cell(h) for h in header)]
    lines += [",".join(cell(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")
