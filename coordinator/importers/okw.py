"""Open Know-Where (OKW): a fablab's profile as a Manufacturing Facility record, and back.

The OKW specification (Internet of Production Alliance, v1.0) defines the classes Manufacturing
Facility, Location, Agent, Equipment and Materials and names each field in camel case; it fixes no
file format and classifies processes, equipment and materials by Wikipedia URL. peerfab writes JSON
with camel-case names and reads camel case or snake case (as other tools write it). What OKW has no
field for (the fablab id, its work policy, its time zone, a machine's id) is kept under `x-peerfab`,
as the specification allows ("you are free to extend the fields").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from coordinator.bom.manifest import PROCESSES
from coordinator.importers.fabrication import process_of
from protocol.errors import InvalidInput

WIKI = "https://en.wikipedia.org/wiki/"
# peerfab process -> (the Wikipedia article of the process, of the equipment that does it)
PROCESS_ARTICLES = {
    "fdm_print": ("Fused_filament_fabrication", "3D_printing"),
    "sla_print": ("Stereolithography", "3D_printing"),
    "sls_print": ("Selective_laser_sintering", "3D_printing"),
    "cnc_mill": ("Milling_(machining)", "Milling_machine"),
    "cnc_router": ("CNC_router", "CNC_router"),
    "cnc_lathe": ("Turning", "Lathe"),
    "laser_cut": ("Laser_cutting", "Laser_cutting"),
    "plasma_cut": ("Plasma_cutting", "Plasma_cutting"),
    "waterjet_cut": ("Water_jet_cutter", "Water_jet_cutter"),
    "pcb_mill": ("Printed_circuit_board_milling", "Printed_circuit_board_milling"),
    "pcb_fab": ("Printed_circuit_board_manufacturing", "Printed_circuit_board"),
    "pcb_assembly": ("Surface-mount_technology", "Pick-and-place_machine"),
    "weld": ("Welding", "Welding_power_supply"),
    "sheet_bend": ("Bending_(metalworking)", "Press_brake"),
    "assembly": ("Assembly_line", "Workbench"),
}
MAX_DEPTH = 32
MATERIAL_ARTICLES = {
    "pla": "Polylactic_acid", "petg": "Polyethylene_terephthalate_glycol",
    "abs": "Acrylonitrile_butadiene_styrene",
    "asa": "Acrylonitrile_styrene_acrylate", "tpu": "Thermoplastic_polyurethane", "nylon": "Nylon",
    "resin": "Photopolymer", "plywood": "Plywood", "mdf": "Medium-density_fibreboard",
    "acrylic": "Poly(methyl_methacrylate)", "aluminium": "Aluminium", "steel": "Steel",
    "stainless": "Stainless_steel", "pom": "Polyoxymethylene", "fr4": "FR-4", "wood": "Wood",
    "copper": "Copper", "brass": "Brass", "cardboard": "Cardboard", "leather": "Leather",
    "pc": "Polycarbonate",
}  # fmt: skip
_MATERIAL_ALIASES = {"pla": "pla", "petg": "petg", "abs": "abs", "tpu": "tpu", "pmma": "acrylic"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_SPAN = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


# ---- writing ------------------------------------------------------------------------------------


def facility(profile: Mapping[str, Any], equipment: list[Mapping[str, Any]]) -> dict[str, Any]:
    """An OKW Manufacturing Facility from a fablab profile and the machines it has."""
    record: dict[str, Any] = {"name": profile.get("name") or profile["fablab"], "facilityStatus": "Active"}
    location = _location(profile)
    if location:
        record["location"] = location
    if profile.get("description"):
        record["description"] = profile["description"]
    hours = opening_hours_text(profile.get("opening_hours") or {})
    if hours:
        record["openingHours"] = hours
    if profile.get("contact"):
        record["contact"] = dict(profile["contact"])
    machines = [_equipment(item) for item in equipment]
    record["equipment"] = machines
    record["manufacturingProcesses"] = sorted({m["manufacturingProcess"] for m in machines})
    materials = sorted({m["materialType"] for e in machines for m in e.get("materialsWorked", [])})
    record["typicalMaterials"] = [{"materialType": m} for m in materials]
    record["x-peerfab"] = {
        "fablab": profile["fablab"],
        "accepts": profile.get("accepts", "all"),
        "timezoneOffsetMin": profile.get("timezone_offset_min", 0),
    }
    return record


def _location(profile: Mapping[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if profile.get("address"):
        location["address"] = dict(profile["address"])
    if profile.get("latitude") is not None and profile.get("longitude") is not None:
        location["gpsCoordinates"] = f"{profile['latitude']}, {profile['longitude']}"
    return location


def _equipment(machine: Mapping[str, Any]) -> dict[str, Any]:
    process = str(machine.get("process") or "")
    articles = PROCESS_ARTICLES.get(process)
    item: dict[str, Any] = {
        "equipmentType": WIKI + articles[1] if articles else process,
        "manufacturingProcess": WIKI + articles[0] if articles else process,
    }
    for key in ("make", "model"):
        if machine.get(key):
            item[key] = str(machine[key])
    item["quantity"] = int(machine.get("quantity") or 1)
    materials = [material_url(m) for m in machine.get("materials") or ()]
    if materials:
        item["materialsWorked"] = [{"materialType": m} for m in materials]
    volume = machine.get("build_volume_mm")
    if volume:
        x, y, z = (float(v) for v in volume)
        item |= {"xTravel": x, "yTravel": y, "zTravel": z, "buildVolume": round(x * y * z)}
    if machine.get("nozzle_mm"):
        item["nozzleSize"] = float(machine["nozzle_mm"])
    item["computerControlled"] = process != "assembly"
    own = {"id": machine.get("id")}
    for key, name in (("speed_factor", "speedFactor"), ("tolerance_mm", "toleranceMm")):
        if machine.get(key) is not None:
            own[name] = machine[key]
    item["x-peerfab"] = {k: v for k, v in own.items() if v is not None}
    return item


def material_url(material: str) -> str:
    """A material as OKW classifies it: the Wikipedia article, when peerfab knows it."""
    name = str(material).strip().lower()
    return WIKI + MATERIAL_ARTICLES[name] if name in MATERIAL_ARTICLES else name


def opening_hours_text(hours: Mapping[str, list[str]]) -> str:
    """{"mon": ["09:00-18:00"], ...} as OpenStreetMap-style text: 'Mo-Fr 09:00-18:00; Sa 10:00-14:00'."""
    groups: list[tuple[int, int, str]] = []
    for index, day in enumerate(DAYS):
        spans = ",".join(hours.get(day) or [])
        if not spans:
            continue
        if groups and groups[-1][2] == spans and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index, spans)
        else:
            groups.append((index, index, spans))
    parts = []
    for first, last, spans in groups:
        days = _OSM_DAYS[first] if first == last else f"{_OSM_DAYS[first]}-{_OSM_DAYS[last]}"
        parts.append(f"{days} {spans}")
    return "; ".join(parts)


# ---- reading ------------------------------------------------------------------------------------


def read_facility(record: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """A fablab profile (the fields set_profile takes, plus equipment) from an OKW record."""
    if not isinstance(record, Mapping):
        raise InvalidInput(f"{where}: an OKW facility is an object with a 'name'")
    data = _normal(record)
    warnings: list[str] = []
    name = str(data.get("name") or "").strip()
    if not name:
        raise InvalidInput(f"{where}: field 'name' is required")
    own = data.get("xpeerfab") or {}
    profile: dict[str, Any] = {
        "name": name,
        "description": str(data.get("description") or "").strip(),
        "accepts": own.get("accepts", "all") if own.get("accepts") in ("all", "none") else "all",
        "timezone_offset_min": int(own.get("timezoneoffsetmin") or 0),
        "contact": _contact(data.get("contact")),
    }
    profile |= _read_location(data.get("location"), where, warnings)
    profile["opening_hours"] = parse_opening_hours_text(data.get("openinghours"), where, warnings)
    items = data.get("equipment") or []
    if not isinstance(items, list):
        raise InvalidInput(f"{where}: field 'equipment' must be a list")
    profile["equipment"] = _read_equipment(items, where, warnings)
    if data.get("facilitystatus") and str(data["facilitystatus"]).lower() != "active":
        profile["accepts"] = "none"
        warnings.append(f"{where}: facility status {data['facilitystatus']!r}; it takes no build work")
    return profile, warnings


def fablab_id(record: Mapping[str, Any]) -> str:
    """The fablab id a record names (x-peerfab.fablab), else one made from its name."""
    data = _normal(record)
    own = data.get("xpeerfab") or {}
    if own.get("fablab"):
        return str(own["fablab"])
    slug = re.sub(r"[^a-z0-9]+", "-", str(data.get("name") or "").lower()).strip("-")
    return slug[:63] or "fablab"


def _normal(value: Any, depth: int = 0) -> Any:
    """Keys compared without case, '_' or '-': openingHours = opening_hours = Opening-Hours."""
    if depth > MAX_DEPTH:  # a facility is a few levels deep; a record nested past this is not one
        raise InvalidInput(f"an OKW facility is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        return {re.sub(r"[_\-\s]", "", str(k)).lower(): _normal(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, depth + 1) for v in value]
    return value


def _contact(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {}
    keys = ("email", "website", "landline", "mobile", "name")
    found = {k: str(value[k]) for k in keys if value.get(k)}
    inner = value.get("contact")
    if isinstance(inner, Mapping):
        found |= {k: str(inner[k]) for k in keys if inner.get(k) and k not in found}
    return found


def _read_location(value: object, where: str, warnings: list[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {"address": {}, "latitude": None, "longitude": None}
    found = value.get("address")
    address: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    keys = ("number", "street", "district", "city", "region", "country", "postcode")
    result: dict[str, Any] = {"address": {k: str(address[k]) for k in keys if address.get(k)}}
    result["latitude"], result["longitude"] = _gps(value.get("gpscoordinates"), where, warnings)
    return result


def _gps(value: object, where: str, warnings: list[str]) -> tuple[float | None, float | None]:
    if value in (None, ""):
        return None, None
    numbers = re.findall(r"-?\d+(?:\.\d+)?", str(value))
    if len(numbers) == 2:
        lat, lon = float(numbers[0]), float(numbers[1])
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return lat, lon
    warnings.append(f"{where}: gpsCoordinates {value!r} are not 'latitude, longitude' in degrees; dropped")
    return None, None


def parse_opening_hours_text(text: object, where: str, warnings: list[str]) -> dict[str, list[str]]:
    """'Mo-Fr 09:00-18:00; Sa 10:00-14:00' (or 'Mon-Fri: 7:00-20:00') as {"mon": ["09:00-18:00"], ...};
    '24/7' or nothing: always staffed ({}); text that says something else is a warning."""
    if not text or str(text).strip() in ("24/7", "always"):
        return {}
    hours: dict[str, list[str]] = {}
    for chunk in re.split(r"[;\n]+", str(text)):
        if not chunk.strip():
            continue
        days, spans = _days(chunk), _SPAN.findall(chunk)
        if not days or not spans:
            warnings.append(f"{where}: opening hours {chunk.strip()!r} not understood; left out")
            continue
        for day in days:
            hours.setdefault(day, []).extend(f"{int(a):02d}:{b}-{int(c):02d}:{d}" for a, b, c, d in spans)
    return hours


def _days(chunk: str) -> list[str]:
    """'Mo-Fr', 'Mon-Fri:', 'Sa,Su' before the first time of a chunk, as day keys."""
    first_digit = re.search(r"\d", chunk)
    day_part = chunk[: first_digit.start()] if first_digit else chunk
    keys = [d[:2] for d in DAYS]
    found = [w[:2].lower() for w in re.findall(r"[A-Za-z]{2,}", day_part) if w[:2].lower() in keys]
    if len(found) == 2 and "-" in day_part:
        first, last = keys.index(found[0]), keys.index(found[1])
        return [DAYS[i] for i in range(first, last + 1)] if first <= last else []
    return [DAYS[keys.index(n)] for n in found]


def _read_equipment(items: list[Any], where: str, warnings: list[str]) -> list[dict[str, Any]]:
    machines, taken = [], set()
    for number, item in enumerate(items, 1):
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{where}: equipment {number} is not an object")
        machine = _machine(item, f"{where}: equipment {number}", warnings)
        if machine is None:
            continue
        base, n = machine["id"], 1
        while machine["id"] in taken:
            n += 1
            machine["id"] = f"{base}-{n}"
        taken.add(machine["id"])
        machines.append(machine)
    return machines


def _machine(item: Mapping[str, Any], where: str, warnings: list[str]) -> dict[str, Any] | None:
    process = _process(item)
    if process is None:
        shown = item.get("manufacturingprocess") or item.get("equipmenttype")
        warnings.append(f"{where}: process {shown!r} is none peerfab plans work for; left out")
        return None
    own = item.get("xpeerfab") or {}
    machine: dict[str, Any] = {
        "id": str(own.get("id") or f"{process.replace('_', '-')}-1"),
        "process": process,
    }
    for key in ("make", "model"):
        if item.get(key):
            machine[key] = str(item[key])
    machine["quantity"] = int(item.get("quantity") or 1)
    materials = [_material(m) for m in item.get("materialsworked") or []]
    machine["materials"] = [m for m in materials if m]
    machine["build_volume_mm"] = _volume(item, where, warnings)
    if item.get("nozzlesize"):
        machine["nozzle_mm"] = float(item["nozzlesize"])
    if own.get("speedfactor") is not None:
        machine["speed_factor"] = float(own["speedfactor"])
    if own.get("tolerancemm") is not None:
        machine["tolerance_mm"] = float(own["tolerancemm"])
    return {k: v for k, v in machine.items() if v not in (None, [], "")}


def _process(item: Mapping[str, Any]) -> str | None:
    for key in ("manufacturingprocess", "equipmenttype"):
        text = str(item.get(key) or "")
        article = text.rsplit("/wiki/", 1)[-1]
        for process, (proc_article, _) in PROCESS_ARTICLES.items():
            if article.lower() == proc_article.lower():
                return process
        found = process_of({"manufacturing-process": article.replace("_", " ")})
        if found in PROCESSES:
            return found
    return None


def _material(value: object) -> str:
    text = str(value.get("materialtype") or "") if isinstance(value, Mapping) else str(value)
    article = text.rsplit("/wiki/", 1)[-1]
    for name, known in MATERIAL_ARTICLES.items():
        if article.lower() == known.lower():
            return name
    lowered = article.replace("_", " ").strip().lower()
    return _MATERIAL_ALIASES.get(lowered, lowered)


def _volume(item: Mapping[str, Any], where: str, warnings: list[str]) -> list[float] | None:
    travel = [item.get(k) for k in ("xtravel", "ytravel", "ztravel")]
    if all(isinstance(v, int | float) and v > 0 for v in travel):
        return [float(v) for v in travel]  # type: ignore[arg-type]
    volume = item.get("buildvolume")
    if isinstance(volume, int | float) and volume > 0:
        side = round(math.cbrt(volume), 1)
        warnings.append(f"{where}: only a build volume of {volume} mm³ is given; read as a cube of {side} mm")
        return [side, side, side]
    return None
