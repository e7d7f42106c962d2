"""The BOM as a networkx DiGraph (assembly -> child, with quantities) and the operations on it.

Pure functions: parts in, plain data out. Validation of the graph lives in coordinator.bom.checks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from coordinator.bom.manifest import AssemblyPart, FabricatedPart, PurchasedPart
from protocol.errors import InvalidInput, NotFound

Part = FabricatedPart | PurchasedPart | AssemblyPart

# Shape limits (checked when a version is published, see coordinator.bom.checks): real products
# nest a dozen levels and show a few thousand rows as a tree; these leave a wide margin and keep
# every view of a BOM bounded in time, memory and JSON size.
MAX_DEPTH = 50
MAX_TREE_ROWS = 100_000
MAX_QUANTITY = 1e6  # of one child per parent unit
MAX_TOTAL = 1e9  # of one part per unit of the design


@dataclass(frozen=True)
class Bom:
    """A validated design version's parts and its root assembly."""

    root: str
    parts: Mapping[str, Part]
    graph: nx.DiGraph = field(compare=False)

    @classmethod
    def from_parts(cls, root: str, parts: Mapping[str, Part]) -> Bom:
        return cls(root=root, parts=dict(parts), graph=build_graph(parts))

    def part(self, part_id: str) -> Part:
        try:
            return self.parts[part_id]
        except KeyError:
            raise NotFound(f"no part {part_id!r} in this version") from None


def build_graph(parts: Mapping[str, Part]) -> nx.DiGraph:
    """Nodes are part ids (attribute `part`); an edge parent -> child carries `quantity`.

    A child listed twice under one assembly counts with the sum of its quantities.
    Children that name no part become nodes without a `part` attribute (checks report them).
    """
    graph = nx.DiGraph()
    for part_id, part in parts.items():
        graph.add_node(part_id, part=part)
    for part_id, part in parts.items():
        if isinstance(part, AssemblyPart):
            for child in part.children:
                previous = (
                    graph.edges[part_id, child.part]["quantity"]
                    if graph.has_edge(part_id, child.part)
                    else 0.0
                )
                graph.add_edge(part_id, child.part, quantity=previous + child.quantity)
    return graph


def _check_units(units: float) -> None:
    if units <= 0 or units != int(units):
        raise InvalidInput(f"units must be a positive whole number, got {units}")


def totals(bom: Bom, units: int = 1) -> dict[str, float]:
    """Total quantity of every part (assemblies included) needed for `units` of the root."""
    _check_units(units)
    quantity = unchecked_totals(bom, units)
    largest = max(quantity.values())
    if not math.isfinite(largest) or largest > MAX_TOTAL * units:
        raise InvalidInput(
            f"the quantities of this version multiply beyond {MAX_TOTAL:g} per unit; it was published "
            "before that limit and cannot be exploded", status=422,
        )  # fmt: skip
    return {part_id: _tidy(q) for part_id, q in quantity.items()}


def unchecked_totals(bom: Bom, units: int = 1) -> dict[str, float]:
    """Totals as the multiplication gives them, possibly huge or infinite (for the checks)."""
    quantity: dict[str, float] = defaultdict(float)
    quantity[bom.root] = float(units)
    for node in _top_down(bom):
        for child, attrs in bom.graph[node].items():
            quantity[child] += quantity[node] * attrs["quantity"]
    return quantity


def _top_down(bom: Bom) -> list[str]:
    """The parts under the root, each after every assembly that uses it (iterative: any depth)."""
    reachable = nx.descendants(bom.graph, bom.root) | {bom.root}
    return list(nx.topological_sort(bom.graph.subgraph(reachable)))


def depth(bom: Bom) -> int:
    """Levels below the root on the longest path (a root with only leaves is 1 deep)."""
    levels = {bom.root: 0}
    for node in _top_down(bom):
        for child in bom.graph[node]:
            levels[child] = max(levels.get(child, 0), levels[node] + 1)
    return max(levels.values())


def tree_rows(bom: Bom, part_id: str | None = None) -> int:
    """How many rows the BOM has shown as a tree: a part used on N paths appears N times."""
    start = part_id or bom.root
    paths: dict[str, int] = defaultdict(int)
    paths[start] = 1
    reachable = nx.descendants(bom.graph, start) | {start}
    for node in nx.topological_sort(bom.graph.subgraph(reachable)):
        for child in bom.graph[node]:
            paths[child] += paths[node]
    return sum(paths.values())


def check_shape(bom: Bom) -> None:
    """Refuse (422) to show a stored version deeper or wider than the limits as a tree."""
    levels, rows = depth(bom), tree_rows(bom)
    if levels > MAX_DEPTH or rows > MAX_TREE_ROWS:
        raise InvalidInput(
            f"this version's BOM is {levels} levels deep and {rows:,} rows as a tree, more than "
            f"{MAX_DEPTH} levels or {MAX_TREE_ROWS:,} rows; it was published before those limits",
            status=422,
        )


def explode(bom: Bom, units: int = 1) -> dict[str, float]:
    """Total leaf quantities (fabricated and purchased parts) for `units` of the root."""
    return {
        part_id: q
        for part_id, q in totals(bom, units).items()
        if not isinstance(bom.parts[part_id], AssemblyPart)
    }


def flatten(bom: Bom, units: int = 1) -> list[dict[str, Any]]:
    """Every part once, with its total quantity and its depth (shortest path from the root)."""
    depth = nx.single_source_shortest_path_length(bom.graph, bom.root)
    rows = []
    for part_id, quantity in totals(bom, units).items():
        part = bom.parts[part_id]
        rows.append(
            {
                "id": part_id,
                "kind": part.kind,
                "name": part.name,
                "unit": part.unit,
                "quantity": quantity,
                "level": depth[part_id],
            }
        )
    return sorted(rows, key=lambda row: (row["level"], row["id"]))


def where_used(bom: Bom, part_id: str) -> list[dict[str, Any]]:
    """The assemblies that use `part_id` directly, with the quantity per assembly unit and per root unit."""
    bom.part(part_id)
    per_root = totals(bom, 1)
    return [
        {
            "assembly": parent,
            "quantity": _tidy(bom.graph.edges[parent, part_id]["quantity"]),
            "assembly_units_per_root": per_root.get(parent, 0.0),
        }
        for parent in sorted(bom.graph.predecessors(part_id))
    ]


def tree(bom: Bom, part_id: str | None = None, quantity: float = 1.0) -> dict[str, Any]:
    """The BOM as a nested tree from `part_id` (default the root), quantities per parent unit.

    Built with an explicit stack, not recursion; `check_shape` bounds its size for old versions.
    """
    start = part_id or bom.root
    check_shape(bom)
    top = _node(bom, start, quantity)
    stack = [(top, start)]
    while stack:
        entry, node = stack.pop()
        children = []
        for child, attrs in sorted(bom.graph[node].items()):
            child_entry = _node(bom, child, attrs["quantity"])
            children.append(child_entry)
            stack.append((child_entry, child))
        if children:
            entry["children"] = children
    return top


def _node(bom: Bom, node: str, quantity: float) -> dict[str, Any]:
    part = bom.parts[node]
    result: dict[str, Any] = {
        "id": node,
        "kind": part.kind,
        "name": part.name,
        "quantity": _tidy(quantity),
        "unit": part.unit,
    }
    if isinstance(part, FabricatedPart):
        result.update(process=part.process, material=part.material, file=part.file)
    return result


def cost_rollup(bom: Bom, units: int = 1) -> dict[str, Any]:
    """Purchased cost per currency, labour hours, and the parts with no known price."""
    cost: dict[str, float] = defaultdict(float)
    labour_h = 0.0
    unpriced: list[str] = []
    for part_id, quantity in totals(bom, units).items():
        part = bom.parts[part_id]
        if isinstance(part, PurchasedPart):
            if part.unit_cost is None:
                unpriced.append(part_id)
            else:
                cost[part.currency] += part.unit_cost * quantity
        elif isinstance(part, AssemblyPart):
            labour_h += part.labour_h * quantity
    return {
        "units": units,
        "purchased_cost": {currency: round(total, 2) for currency, total in sorted(cost.items())},
        "labour_h": round(labour_h, 3),
        "unpriced_parts": sorted(unpriced),
    }


def diff(old: Bom, new: Bom) -> dict[str, Any]:
    """Parts added, removed and changed (fields and quantities) from `old` to `new`."""
    old_ids, new_ids = set(old.parts), set(new.parts)
    changed = []
    for part_id in sorted(old_ids & new_ids):
        fields = _field_changes(old.parts[part_id], new.parts[part_id])
        if fields:
            changed.append({"id": part_id, "fields": fields})
    old_q, new_q = totals(old), totals(new)
    quantities = [
        {"id": part_id, "old": old_q.get(part_id, 0.0), "new": new_q.get(part_id, 0.0)}
        for part_id in sorted(set(old_q) | set(new_q))
        if old_q.get(part_id, 0.0) != new_q.get(part_id, 0.0)
    ]
    return {
        "added": sorted(new_ids - old_ids),
        "removed": sorted(old_ids - new_ids),
        "changed": changed,
        "quantities_per_unit": quantities,
    }


def _field_changes(old: Part, new: Part) -> dict[str, dict[str, Any]]:
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    return {
        key: {"old": a.get(key), "new": b.get(key)}
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    }


def _tidy(value: float) -> float:
    """Round away float noise from multiplying quantities down the tree."""
    return round(value, 9)
