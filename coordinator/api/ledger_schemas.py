"""Response bodies of the ledger's views: contributions per fablab and person, and signed passports.

Each model is the exact shape its service writes (`contributions.Share.row`, `passport.passport`...);
`Out` refuses any key a model does not name, so a row and its model cannot drift apart unnoticed.
"""

from __future__ import annotations

from pydantic import Field

from coordinator.api.schemas import Out, Timestamp

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
