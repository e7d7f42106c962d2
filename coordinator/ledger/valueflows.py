"""Ledger rows as Valueflows economic events in JSON-LD, made with pyld from the context bundled here.

The context (valueflows-context.json, beside this module) maps the terms peerfab writes to the
Valueflows vocabulary (https://w3id.org/valueflows/ont/vf#) and to OM 2 for quantities. pyld reads
it through a document loader that serves this one context and refuses every other document, so
making or checking an export never fetches anything from the network.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pyld import jsonld  # type: ignore[import-untyped]

from coordinator.ledger.mapping import Action, Unit
from coordinator.models.base import aware
from coordinator.models.ledger import LedgerEvent

CONTEXT_URL = "urn:peerfab:context:valueflows"
VF = "https://w3id.org/valueflows/ont/vf#"
CONTEXT_FILE = Path(__file__).with_name("valueflows-context.json")
UNITS = {Unit.EACH: "one", Unit.GRAM: "gram", Unit.HOUR: "hour"}
# work and use are measured in time spent (Valueflows' effort quantity); the others in resources
EFFORT = frozenset({Action.WORK, Action.USE})
INPUTS = frozenset({Action.CONSUME, Action.USE, Action.WORK, Action.CITE})


@cache
def context() -> dict[str, Any]:
    """The bundled context document."""
    return dict(json.loads(CONTEXT_FILE.read_text(encoding="utf-8")))


def load_document(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader: the bundled context, and nothing else."""
    if url != CONTEXT_URL:
        raise jsonld.JsonLdError(
            f"{url}: only peerfab's bundled Valueflows context ({CONTEXT_URL}) is loaded, nothing remote",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": context(),
    }


def iri(kind: str, name: str) -> str:
    """peerfab's IRI of a thing: urn:peerfab:<kind>:<name>, the name percent-encoded."""
    return f"urn:peerfab:{kind}:{quote(name, safe='@:/-._~')}"


def agent_iri(agent: str) -> str:
    """An agent id ("person:ada", "fablab:lab-a", "commons") as an IRI."""
    kind, _, name = agent.partition(":")
    return iri(kind, name) if name else iri("agent", kind)


def event_node(row: LedgerEvent) -> dict[str, Any]:
    """One ledger row as an economic event, in the terms of the bundled context."""
    action = Action(row.action)
    quantity = {"type": "Measure", "hasNumericalValue": row.quantity, "hasUnit": UNITS[Unit(row.unit)]}
    node: dict[str, Any] = {
        "id": iri("ledger", str(row.id)),
        "type": "EconomicEvent",
        "action": action.value,
        "provider": agent_iri(row.provider),
        "receiver": agent_iri(row.receiver),
        "effortQuantity" if action in EFFORT else "resourceQuantity": quantity,
        "hasPointInTime": aware(row.at).isoformat(),
    }
    if row.begin is not None and row.end is not None:
        node["hasBeginning"], node["hasEnd"] = aware(row.begin).isoformat(), aware(row.end).isoformat()
    node.update(_resource(row))
    process = _process(row)
    if process is not None and action != Action.TRANSFER:
        node["inputOf" if action in INPUTS else "outputOf"] = process
    if row.note:
        node["note"] = row.note
    return node


def _resource(row: LedgerEvent) -> dict[str, str]:
    """What the event is about: a specification (a part of a design version, a material, a design),
    and the very thing when peerfab knows it (a machine, a spool)."""
    if row.resource_kind == "machine":
        return {"resourceInventoriedAs": iri("machine", row.resource)}
    found = {"resourceConformsTo": iri(row.resource_kind, row.resource)}
    if row.spool_id is not None:
        found["resourceInventoriedAs"] = iri("spool", f"{row.fablab}/{row.spool_id}")
    return found


def _process(row: LedgerEvent) -> str | None:
    """The process the event is an input or output of: the job, or the publication of a design."""
    if row.job_id:
        return iri("job", row.job_id)
    if row.source_kind == "publish":
        return iri("publish", row.source_id)
    return None


def document(rows: Iterable[LedgerEvent]) -> dict[str, Any]:
    """The rows as one JSON-LD document: pyld expands them through the bundled context and compacts
    them again into it, so every term is checked against Valueflows; the context travels inline."""
    source = {"@context": CONTEXT_URL, "@graph": [event_node(row) for row in rows]}
    options = {"documentLoader": load_document}
    expanded = jsonld.expand(source, options)
    return dict(jsonld.compact(expanded, copy.deepcopy(context()["@context"]), {**options, "graph": True}))


def expand(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A document expanded to full IRIs (what any JSON-LD processor reads), offline."""
    return list(jsonld.expand(doc, {"documentLoader": load_document}))
