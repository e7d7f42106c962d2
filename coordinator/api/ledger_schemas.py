"""Response bodies of the ledger's views: contributions per fablab and person, and signed passports.

Each model is the exact shape its service writes (`contributions.Share.row`, `passport.passport`...);
`Out` refuses any key a model does not name, so a row and its model cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from coordinator.api.schemas import EconomicEventOut, Json, Out, ProvenanceOut, Timestamp

# ---- contributions -------------------------------------------------------------------------------


class ContributionOut(Out):
    """What one agent gave (or, as a total, every agent together) and its share of each figure."""

    agent: str = Field(description="fablab:ID, person:NAME, or all for a total")
    name: str
    designs: int = Field(description="designs it published or maintains (work on a publication)")
    versions: int = Field(description="design versions it published or maintains")
    parts: float = Field(description="parts its machines produced")
    parts_for_others: float = Field(description="of those, parts for a build sited at another fablab")
    machine_hours: float = Field(description="hours its machines were used (use)")
    material_g: float = Field(description="material consumed, in grams")
    work_events: int = Field(description="work events: interventions, publications, assembly")
    work_hours: float = Field(description="hours of the work measured in time (assembly)")
    hours_share: float | None = Field(description="machine hours over the total (None: no total)")
    material_share: float | None
    parts_share: float | None


class ContributionTotalOut(ContributionOut):
    """Every agent together (agent "all"); its shares are None."""


class BuildContributionsOut(Out):
    build: str
    site: str | None = Field(description="the build's site")
    agents: list[ContributionOut]
    total: ContributionTotalOut


class ContributionsOut(Out):
    """Each fablab's or person's contribution over a time window, overall and per build."""

    by: str
    since: Timestamp | None
    until: Timestamp | None
    build: str | None
    agents: list[ContributionOut] = Field(description="largest machine hours first")
    total: ContributionTotalOut = Field(description="every agent in the window (of any kind)")
    builds: list[BuildContributionsOut] = Field(description="per build, in id order")


# ---- reciprocity ---------------------------------------------------------------------------------


class StandingOut(Out):
    """One party's decayed balance over the window and the score the dispatch order reads."""

    party: str = Field(description="fablab:ID, person:NAME, or commons")
    kind: str = Field(description="fablab, person or commons")
    name: str
    gave: float = Field(description="value given to others' builds, decayed by age")
    received: float = Field(description="value received from others, decayed by age")
    score: float = Field(description="(gave + prior) / (gave + received + 2 prior), from 0 to 1")


class ReciprocityOut(Out):
    """Every party's reciprocity score now, with the settings it is computed with."""

    enabled: bool = Field(description="whether the dispatch round orders contended jobs by these scores")
    parties: Literal["fablab", "person", "both"] = Field(description="whose record a job's score counts")
    at: Timestamp
    window_days: float
    half_life_days: float
    prior: float
    neutral: float = Field(description="the score of a party with no record")
    total: int = Field(description="parties with a record (of the kind asked for)")
    standings: list[StandingOut] = Field(description="highest score first, then by party")


# ---- passports -----------------------------------------------------------------------------------


class JwkOut(Out):
    """An Ed25519 public key as a JSON Web Key (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str = Field(description="the raw public key, base64url")
    kid: str


class PassportKeyOut(Out):
    """The key the coordinator signs passports with: its public half."""

    algorithm: Literal["Ed25519"]
    key_id: str = Field(description="ed25519: and the first 32 hex digits of the raw key's SHA-256")
    pem: str = Field(description="SubjectPublicKeyInfo, PEM")
    jwk: JwkOut


class SignatureOut(Out):
    algorithm: Literal["Ed25519"]
    key_id: str
    canonicalization: str = Field(description="how the signed bytes are made (docs/commons.md)")
    value: str = Field(description="the signature, base64")


class PassportLedgerOut(Out):
    """The build's ledger events as Valueflows JSON-LD."""

    context: dict[str, Json] = Field(alias="@context")
    graph: list[EconomicEventOut] = Field(alias="@graph")


class PassportOut(Out):
    """A build's provenance and ledger events, signed by the coordinator (docs/commons.md)."""

    passport: Literal["peerfab-passport/1"]
    build: str
    issued_at: Timestamp
    provenance: ProvenanceOut
    ledger: PassportLedgerOut
    signature: SignatureOut
