"""Every check of a design package, reporting all problems at once with the parts involved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import networkx as nx
from pydantic import TypeAdapter, ValidationError

from coordinator.bom import graph as bom_graph
from coordinator.bom.graph import MAX_QUANTITY, Bom, Part, build_graph
from coordinator.bom.manifest import DISCRETE_UNIT, AnyPart, AssemblyPart, DesignInfo, FabricatedPart
from coordinator.filestore import sha256_file

_PART_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyPart)
TOP_LEVEL_KEYS = {"design", "part"}
MAX_PARTS = 10_000


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    parts: tuple[str, ...] = ()
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass
class CheckResult:
    info: DesignInfo | None = None
    parts: dict[str, Part] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def add(self, code: str, message: str, *parts: str, warning: bool = False) -> None:
        severity: Literal["error", "warning"] = "warning" if warning else "error"
        self.problems.append(Problem(code, message, tuple(parts), severity))


def check_manifest(raw: Mapping[str, Any], package_dir: Path) -> CheckResult:
    """Parse and check a manifest dict against the package folder it came from."""
    result = CheckResult()
    for key in sorted(set(raw) - TOP_LEVEL_KEYS):
        result.add("unknown-key", f"design.toml: unknown top-level key {key!r}")
    result.info = _check_info(raw.get("design"), result)
    draft = result.info is not None and not result.info.buildable
    if draft and not raw.get("part"):
        _check_bare_draft(raw.get("design"), result)
        return result
    _check_parts(raw.get("part", []), result)
    if result.parts:
        _check_graph(result)
        _check_files(result, package_dir)
    return result


def _check_info(raw: Any, result: CheckResult) -> DesignInfo | None:
    if not isinstance(raw, Mapping):
        result.add("missing-field", "design.toml: the [design] table is missing")
        return None
    try:
        return DesignInfo.model_validate(raw)
    except ValidationError as exc:
        for message in _messages(exc, "[design]"):
            result.add("invalid-field", message)
        return None


def _check_bare_draft(raw: Any, result: CheckResult) -> None:
    """A draft with no parts has nothing to check but must not name a root it does not have."""
    if isinstance(raw, Mapping) and raw.get("root"):
        result.add("dangling-reference", f"[design] root {raw['root']!r} is no part (the draft has none)")


def _check_parts(raw_parts: Any, result: CheckResult) -> None:
    if not isinstance(raw_parts, list) or not raw_parts:
        result.add("no-parts", "design.toml: there is no [[part]]")
        return
    if len(raw_parts) > MAX_PARTS:
        result.add("too-many-parts", f"design.toml has {len(raw_parts):,} parts, more than {MAX_PARTS:,}")
        return
    seen: Counter[str] = Counter()
    for index, raw in enumerate(raw_parts, start=1):
        label = f"[[part]] #{index}" + (f" ({raw.get('id')})" if isinstance(raw, Mapping) else "")
        part_id = raw.get("id") if isinstance(raw, Mapping) else None
        if isinstance(part_id, str):
            seen[part_id] += 1
        try:
            part = _PART_ADAPTER.validate_python(raw)
        except ValidationError as exc:
            for message in _messages(exc, label):
                result.add("invalid-part", message, *([part_id] if isinstance(part_id, str) else []))
            continue
        result.parts.setdefault(part.id, part)
    for part_id, count in sorted(seen.items()):
        if count > 1:
            result.add("duplicate-id", f"part id {part_id!r} is used by {count} parts", part_id)


def _check_graph(result: CheckResult) -> None:
    graph = build_graph(result.parts)
    for parent, child in graph.edges:
        if child not in result.parts:
            result.add(
                "dangling-reference", f"assembly {parent!r} lists {child!r}, which is no part", parent, child
            )
    _check_quantities(result)
    cyclic = _check_cycles(graph, result)
    _check_root(graph, result)
    if not cyclic and not result.errors:
        _check_shape(result)


def _check_quantities(result: CheckResult) -> None:
    for part in result.parts.values():
        if not isinstance(part, AssemblyPart):
            continue
        for child in part.children:
            target = result.parts.get(child.part)
            discrete = target is None or target.unit == DISCRETE_UNIT
            if child.quantity <= 0:
                result.add(
                    "bad-quantity",
                    f"{part.id} -> {child.part}: quantity must be positive, got {child.quantity:g}",
                    part.id, child.part,
                )  # fmt: skip
            elif child.quantity > MAX_QUANTITY:
                result.add(
                    "bad-quantity",
                    f"{part.id} -> {child.part}: quantity {child.quantity:g} is more than {MAX_QUANTITY:g}",
                    part.id, child.part,
                )  # fmt: skip
            elif discrete and child.quantity != int(child.quantity):
                result.add(
                    "bad-quantity",
                    f"{part.id} -> {child.part}: {child.part!r} is counted in pieces, "
                    f"quantity must be a whole number, got {child.quantity:g}",
                    part.id, child.part,
                )  # fmt: skip


def _check_cycles(graph: nx.DiGraph, result: CheckResult) -> bool:
    """Report every cycle; True when there is one."""
    found = False
    for component in nx.strongly_connected_components(graph):
        sub = graph.subgraph(component)
        if len(component) == 1 and not sub.number_of_edges():
            continue
        cycle = [edge[0] for edge in nx.find_cycle(sub)]
        path = " -> ".join([*cycle, cycle[0]])
        result.add("cycle", f"the BOM has a cycle: {path}", *cycle)
        found = True
    return found


def _check_shape(result: CheckResult) -> None:
    """Depth, size as a tree and total quantities stay within what every view of a BOM can show."""
    assert result.info is not None
    bom = Bom.from_parts(result.info.root, result.parts)
    levels = bom_graph.depth(bom)
    if levels > bom_graph.MAX_DEPTH:
        result.add("too-deep", f"the BOM is {levels} levels deep, more than {bom_graph.MAX_DEPTH}")
        return
    rows = bom_graph.tree_rows(bom)
    if rows > bom_graph.MAX_TREE_ROWS:
        result.add(
            "too-wide",
            f"the BOM has {rows:,} rows when shown as a tree (shared sub-assemblies repeat), "
            f"more than {bom_graph.MAX_TREE_ROWS:,}",
        )
        return
    _check_totals(bom, result)


def _check_totals(bom: Bom, result: CheckResult) -> None:
    part, largest = max(bom_graph.unchecked_totals(bom).items(), key=lambda item: item[1])
    if not largest <= bom_graph.MAX_TOTAL:  # also true for inf
        result.add(
            "bad-quantity",
            f"one unit of the design needs {largest:.3g} of {part!r}, more than {bom_graph.MAX_TOTAL:g}: "
            "the quantities multiply too far down the tree",
            part,
        )


def _check_root(graph: nx.DiGraph, result: CheckResult) -> None:
    if result.info is None:
        return
    root = result.info.root
    if not root:
        result.add("missing-field", "[design] root is required when the design lists parts")
        return
    part = result.parts.get(root)
    if part is None:
        result.add("dangling-reference", f"[design] root {root!r} is no part", root)
        return
    if not isinstance(part, AssemblyPart):
        result.add("bad-root", f"[design] root {root!r} must be an assembly, not {part.kind}", root)
    reachable = nx.descendants(graph, root) | {root}
    for part_id in sorted(set(result.parts) - reachable):
        result.add("unreachable", f"part {part_id!r} is not used under root {root!r}", part_id, warning=True)


def _check_files(result: CheckResult, package_dir: Path) -> None:
    base = package_dir.resolve()
    for part in result.parts.values():
        if isinstance(part, FabricatedPart):
            _check_file(part, base, result)


def _check_file(part: FabricatedPart, base: Path, result: CheckResult) -> None:
    relative = PurePosixPath(part.file)
    if relative.is_absolute() or ".." in relative.parts or "\\" in part.file:
        result.add("bad-path", f"part {part.id!r}: file {part.file!r} must stay inside the package", part.id)
        return
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or path.is_symlink():
        result.add("bad-path", f"part {part.id!r}: file {part.file!r} leaves the package", part.id)
    elif not path.is_file():
        result.add("missing-file", f"part {part.id!r}: file {part.file!r} does not exist", part.id)
    elif part.sha256 and sha256_file(path) != part.sha256:
        result.add(
            "sha256-mismatch",
            f"part {part.id!r}: {part.file} does not match its declared sha256 {part.sha256[:12]}…",
            part.id,
        )


def _messages(exc: ValidationError, label: str) -> list[str]:
    messages = []
    for err in exc.errors():
        # Drop the discriminator tag pydantic puts in front of the field path.
        loc = [str(p) for p in err["loc"] if p not in {"fabricated", "purchased", "assembly"}]
        where = ".".join(loc) or "(table)"
        text = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        messages.append(f"design.toml {label}: {where}: {text}")
    return messages
