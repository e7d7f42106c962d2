"""The BOM as a networkx DiGraph (assembly -> child, with quantities) and the operations on it.

Pure functions: parts in, plain data out. Validation of the graph lives in coordinator.bom.checks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from coordinator.bom.manifest import AssemblyPart, FabricatedPart, PurchasedPart
from protocol.errors import InvalidInput, NotFound

Part = FabricatedPart | PurchasedPart | AssemblyPart


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
    quantity: dict[str, float] = defaultdict(float)
    quantity[bom.root] = float(units)
    reachable = nx.descendants(bom.graph, bom.root) | {bom.root}
    for node in nx.topological_sort(bom.graph.subgraph(reachable)):
        for child, attrs in bom.graph[node].items():
            quantity[child] += quantity[node] * attrs["quantity"]
    return {part_id: _tidy(q) for part_id, q in quantity.items()}


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
    """The BOM as a nested tree from `part_id` (default the root), quantities per parent unit."""
    node = part_id or bom.root
    part = bom.parts[node]
    children = [tree(bom, child, attrs["quantity"]) for child, attrs in sorted(bom.graph[node].items())]
    result: dict[str, Any] = {
        "id": node,
        "kind": part.kind,
        "name": part.name,
        "quantity": _tidy(quantity),
        "unit": part.unit,
    }
    if isinstance(part, FabricatedPart):
        result.update(process=part.process, material=part.material, file=part.file)
    if children:
        result["children"] = children
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
