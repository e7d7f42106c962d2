"""Identifiers, slugs, versions and licence names as the design format wants them."""

from __future__ import annotations

import re
import unicodedata

from coordinator.bom.licenses import check_spdx_expression, is_placeholder
from protocol.errors import InvalidInput

SLUG_RE = re.compile(r"^[a-z0-9-]{2,64}$")
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_PART_ID_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
_LEADING_NUMBER = re.compile(r"^[vV]?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)$")
_DATE_VERSION = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")

# Free-text licence names seen in OKH manifests -> SPDX identifiers.
_LICENSE_NAMES = {
    "cern ohl s 2 0": "CERN-OHL-S-2.0",
    "cern ohl w 2 0": "CERN-OHL-W-2.0",
    "cern ohl p 2 0": "CERN-OHL-P-2.0",
    "cern ohl v1 2": "CERN-OHL-1.2",
    "cern ohl 1 2": "CERN-OHL-1.2",
    "cern ohl v1 1": "CERN-OHL-1.1",
    "cern ohl 1 1": "CERN-OHL-1.1",
    "creative commons attribution 4 0 international": "CC-BY-4.0",
    "creative commons attribution sharealike 4 0 international": "CC-BY-SA-4.0",
    "creative commons attribution share alike 4 0 international": "CC-BY-SA-4.0",
    "cc by 4 0": "CC-BY-4.0",
    "cc by sa 4 0": "CC-BY-SA-4.0",
    "cc0 1 0": "CC0-1.0",
    "gpl 3 0": "GPL-3.0-only",
    "gnu general public license v3 0": "GPL-3.0-only",
    "mit": "MIT",
    "tapr ohl 1 0": "TAPR-OHL-1.0",
    "solderpad hardware 2 1": "Apache-2.0 WITH SHL-2.1",
    "cc by sa 4 0 international": "CC-BY-SA-4.0",
    "by sa 4 0": "CC-BY-SA-4.0",
    "by 4 0": "CC-BY-4.0",
    "gpl 3": "GPL-3.0-only",
    "gpl v3": "GPL-3.0-only",
    "gplv3": "GPL-3.0-only",
    "apache 2 0": "Apache-2.0",
}


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by '-', at most 64 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:64].rstrip("-")


def design_slug(name: str, explicit: str | None, where: str) -> str:
    """The slug given on the command line, or one derived from the design name."""
    slug = explicit if explicit is not None else slugify(name)
    if not SLUG_RE.match(slug):
        raise InvalidInput(
            f"{where}: slug {slug!r} is not valid (2-64 lower-case letters, digits and '-'); pass --slug"
        )
    return slug


def design_version(raw: object, explicit: str | None, where: str, warnings: list[str]) -> str:
    """A semantic version from the command line or the manifest ('V2.0' -> '2.0.0', with a warning)."""
    if explicit is not None:
        if not SEMVER_RE.match(explicit):
            raise InvalidInput(f"--version {explicit!r} is not a semantic version (1.2.0)")
        return explicit
    if raw is None or raw == "":
        warnings.append(f"{where}: no version; using 0.0.0 (pass --version to set one)")
        return "0.0.0"
    text = str(raw).strip()
    normalised = semantic_version(text)
    if normalised != text:
        warnings.append(f"{where}: version {text!r} read as {normalised!r} (kept as version-label)")
    return normalised


def version_label(raw: object, version: str) -> str:
    """The manifest's own version text when it differs from the semantic version used."""
    text = "" if raw is None else str(raw).strip()
    return text[:64] if text and text != version else ""


def semantic_version(text: str) -> str:
    """OKH versions are free text: '2.5' -> 2.5.0, 'V2.0' -> 2.0.0, '2024-03-01' -> 2024.3.1,
    '1.0 beta' -> 1.0.0-beta, 'rev C' or a commit hash -> 0.0.0-rev-c (sorts before any release)."""
    if SEMVER_RE.match(text):
        return text
    cleaned = re.sub(r"^(?:version|ver\.?|rev\.?|release)\s*", "", text.strip(), flags=re.IGNORECASE)
    date = _DATE_VERSION.match(cleaned)
    if date:
        return ".".join(str(int(part)) for part in date.groups())
    match = _LEADING_NUMBER.match(cleaned)
    if match is None:
        return f"0.0.0-{_identifiers(text) or 'unversioned'}"
    core = ".".join(str(int(part or 0)) for part in match.group(1, 2, 3))
    rest = _identifiers(match.group(4))
    return f"{core}-{rest}" if rest else core


def _identifiers(text: str) -> str:
    """Pre-release identifiers: alphanumerics joined by '.', numbers without leading zeros."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", text) if w]
    return ".".join(str(int(w)) if w.isdigit() else w for w in words)[:40].strip(".")


def part_id(text: str) -> str:
    """A part id (letters, digits, '-', '_', '.') made from an MPN, value or name."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"-{2,}", "-", _PART_ID_BAD.sub("-", ascii_text.strip()))
    # Ids must start with a letter or digit and stay under 128 characters.
    return cleaned.lstrip("-._")[:100].rstrip("-.")


def name_id(text: str) -> str:
    """A lower-case part id made from a human name ('Clamp Ring' -> 'clamp-ring')."""
    return slugify(text) or part_id(text)


class IdAllocator:
    """Hands out part ids unique within one design, suffixing '-2', '-3' on collision."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, base: str, fallback: str = "part") -> str:
        """Reserve and return a unique id derived from base."""
        stem = base or fallback
        candidate, n = stem, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{stem}-{n}"
        self._taken.add(candidate)
        return candidate


def spdx_license(text: str, where: str, warnings: list[str]) -> str:
    """An SPDX expression for a licence written as an id, an expression or a full name; placeholders
    and ids that are not on the SPDX list are refused naming the field."""
    text = text.strip()
    if is_placeholder(text):
        raise InvalidInput(f"{where} = {text!r} is a placeholder, not a licence")
    key = re.sub(r"\bv(?=\d)", "", re.sub(r"[^a-z0-9]+", " ", text.lower().replace("license", ""))).strip()
    if key in _LICENSE_NAMES:
        spdx = _LICENSE_NAMES[key]
        if spdx != text:
            warnings.append(f"{where}: licence {text!r} read as SPDX {spdx!r}")
        return spdx
    try:
        spdx = check_spdx_expression(text)
    except ValueError as exc:
        if " " in text and not re.search(r"\b(AND|OR|WITH)\b", text):
            ref = "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "unknown")
            warnings.append(f"{where}: licence {text!r} is no SPDX identifier; recorded as {ref!r}")
            return ref
        raise InvalidInput(f"{where} = {text!r}: {exc}") from exc
    if spdx != text:
        warnings.append(f"{where}: licence {text!r} read as SPDX {spdx!r}")
    return spdx
