"""Response bodies of the API as pydantic models: the OpenAPI document and the bodies come from one place.

Every route returns its body through `@bp.output(Model)`: APIFlask validates what the route built against
the model and sends `model_dump(mode="json")`. Models forbid extra keys, so a route that builds a key the
model lacks fails (a test finds it), and their JSON schema is the serialisation schema with every key
required, because a dump writes every key. What a client generates from `/api/v1/openapi.json` is thus
what it receives. Error bodies are built by `coordinator.api.errors` and described by `ErrorBody`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from coordinator.jobs.lifecycle import JobState
from coordinator.planning.durations import Source
from protocol.payloads import Capabilities, LoadedSpool

# An ISO 8601 timestamp as the coordinator writes it (UTC).
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Box = tuple[float, float, float]
Json = Annotated[Any, Field(description="any JSON value")]

ERROR_DESCRIPTIONS = {
    400: "bad input: the message says what and where",
    401: "no token, or a token that is unknown, revoked or expired",
    403: "the token's role or scope does not allow this",
    404: "not found",
    409: "conflicts with the current state",
    413: "the request is over a size limit",
    422: "a parameter or body field does not validate, or a stored structure is over a limit",
}


class Out(BaseModel):
    """Base of every response body: extra keys refused, every key required in the schema."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_mode_override="serialization",
        json_schema_serialization_defaults_required=True,
    )


class ErrorBody(BaseModel):
    """Every error answer: an error name, a message a person can act on, and details when there are some."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="the error's name: InvalidInput, NotFound, Forbidden, Conflict...")
    message: str = Field(description="what went wrong, naming the field, limit or thing")
    details: Json = Field(None, description="structured details: the limit, the problems found...")


class ValidationErrorBody(BaseModel):
    """A parameter or body that does not validate: the problems per location and field."""

    model_config = ConfigDict(extra="forbid")

    error: str
    message: str
    details: dict[str, dict[str, list[str]]] = Field(
        description='{"query": {"limit": ["Input should be less than or equal to 1000"]}}'
    )


def errors(*codes: int, **described: str) -> dict[int, str]:
    """The error statuses a route can answer, for `@bp.doc(responses=...)` (each gets ErrorBody)."""
    found = {code: ERROR_DESCRIPTIONS[code] for code in codes}
    found.update({int(code.lstrip("_")): text for code, text in described.items()})
    return found


def same_body(description: str, model: type[BaseModel]) -> dict[str, Any]:
    """A second success status whose body is `model`, which `@bp.output` declared for the first."""
    ref = {"$ref": f"{REF}{model.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def tidy_component_names(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    """Name each schema component after its model ("VersionOut.FileRef" -> "FileRef", "JobOut" -> "Job").

    APIFlask registers a model used inside several bodies once per body, under the body's name; clients
    generate one type per component, so each model becomes one component again. Two different schemas
    that would share a name are an error here, not a silent merge.
    """
    if isinstance(spec, str):  # YAML, which this coordinator never asks for
        return spec
    schemas = spec.get("components", {}).get("schemas", {})
    names = {old: _short(old) for old in schemas}
    renamed = _rename_refs(spec, names)
    merged: dict[str, Any] = {}
    for old, body in renamed["components"]["schemas"].items():
        new = names[old]
        if new in merged and merged[new] != body:
            raise ValueError(f"two different schemas would both be named {new!r} in the OpenAPI document")
        merged[new] = body
    renamed["components"]["schemas"] = dict(sorted(merged.items()))
    return renamed


def _short(name: str) -> str:
    last = name.rsplit(".", 1)[-1]
    return last.removesuffix("Out") or last


def _rename_refs(node: Any, names: dict[str, str]) -> Any:
    """`node` with every reference to a component renamed: $ref, and the mappings of discriminators."""
    if isinstance(node, dict):
        return {key: _renamed(key, value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_refs(item, names) for item in node]
    return node


def _renamed(key: str, value: Any, names: dict[str, str]) -> Any:
    if key == "$ref" and isinstance(value, str):
        return _new_ref(value, names)
    if key == "mapping" and isinstance(value, dict):
        return {tag: _new_ref(ref, names) if isinstance(ref, str) else ref for tag, ref in value.items()}
    return _rename_refs(value, names)


def _new_ref(ref: str, names: dict[str, str]) -> str:
    name = ref.removeprefix(REF)
    return REF + names[name] if ref.startswith(REF) and name in names else ref


REF = "#/components/schemas/"


class Health(Out):
    status: Literal["ok"]
    database: str = Field(description="the database's dialect: sqlite or postgresql")


# ---- designs -------------------------------------------------------------------------------------


class MeshReportOut(Out):
    triangles: int
    bodies: int
    watertight: bool
    winding_consistent: bool
    volume_mm3: float
    volume_reliable: bool
    area_mm2: float
    extents_mm: Box
    min_box_mm: Box
    mass_g: float | None
    material: str | None
    est_print_time_s: float
    problems: list[str]


class _PartOut(Out):
    id: str
    name: str
    notes: str = ""
    unit: str = "pcs"


class FabricatedPartOut(_PartOut):
    kind: Literal["fabricated"]
    process: str
    material: str
    file: str
    sha256: str | None = None
    nozzle_mm: float | None = None
    tolerance_mm: float | None = None
    thickness_mm: float | None = None
    layer_height_mm: float | None = None
    infill: float | None = None
    colour: str = Field("", description="the colour the part must be made in; empty for any")
    file_sha256: str | None = Field(None, description="the stored file's sha256 (GET /files/{sha256})")
    mesh: MeshReportOut | None = Field(None, description="the mesh analysis, for mesh files")


class PurchasedPartOut(_PartOut):
    kind: Literal["purchased"]
    supplier: str = ""
    mpn: str = ""
    manufacturer: str = ""
    unit_cost: float | None = None
    currency: str = "EUR"
    lead_time_days: float | None = None
    url: str = ""
    skus: dict[str, str] = Field(default_factory=dict, description="order codes by supplier")


class ChildOut(Out):
    part: str
    quantity: float


class AssemblyPartOut(_PartOut):
    kind: Literal["assembly"]
    children: list[ChildOut]
    labour_h: float = 0.0
    assembled_at: Literal["build-site", "fablab"] = "build-site"


PartOut = Annotated[FabricatedPartOut | PurchasedPartOut | AssemblyPartOut, Field(discriminator="kind")]


class FileRef(Out):
    path: str
    sha256: str


class VersionOut(Out):
    """A published design version with its parts and files."""

    slug: str
    version: str
    name: str
    description: str
    licenses: list[str]
    authors: list[str]
    lineage: dict[str, str] = Field(description="derivative_of and variant_of, when the design has them")
    root: str
    draft: str = Field(description="why the version is a draft; empty when it can be built")
    buildable: bool
    homepage: str
    contributors: list[str]
    content_sha256: str
    published_at: Timestamp
    parts: list[PartOut]
    files: list[FileRef]


class DesignOut(VersionOut):
    """A design: its latest version, every version number and its maintainers."""

    versions: list[str] = Field(description="published versions, newest first")
    maintainers: list[str]


class DesignListItem(Out):
    slug: str
    name: str
    latest: str | None
    versions: list[str]


class DesignPageOut(Out):
    designs: list[DesignListItem]
    total: int
    limit: int
    offset: int


class _Recursive(BaseModel):
    """Base of the BOM tree's models: pydantic cannot combine Out's schema settings with a recursive model.

    These models have no defaults, so their validation schema is their serialisation schema all the same.
    """

    model_config = ConfigDict(extra="forbid")


class _NodeOut(_Recursive):
    id: str
    name: str
    quantity: float
    unit: str


class FabricatedNode(_NodeOut):
    kind: Literal["fabricated"]
    process: str
    material: str
    file: str


class PurchasedNode(_NodeOut):
    kind: Literal["purchased"]


class AssemblyNode(_NodeOut):
    kind: Literal["assembly"]
    children: list[BomNode]


BomNode = Annotated[FabricatedNode | PurchasedNode | AssemblyNode, Field(discriminator="kind")]
AssemblyNode.model_rebuild()


class FlatRow(Out):
    id: str
    kind: str
    name: str
    unit: str
    quantity: float
    level: int


class CostOut(Out):
    units: int
    purchased_cost: dict[str, float] = Field(description="per currency")
    labour_h: float
    unpriced_parts: list[str]


class BomOut(_Recursive):
    tree: BomNode
    flat: list[FlatRow]
    cost: CostOut


class ExplodedPart(Out):
    id: str
    kind: str
    name: str
    unit: str
    quantity: float


class ExplodeOut(Out):
    units: int
    parts: list[ExplodedPart]
    cost: CostOut


class UseOut(Out):
    assembly: str
    quantity: float
    assembly_units_per_root: float


class WhereUsedOut(Out):
    part: str
    used_in: list[UseOut]


class FieldChange(Out):
    old: Json
    new: Json


class PartChange(Out):
    id: str
    fields: dict[str, FieldChange]


class QuantityChange(Out):
    id: str
    old: float
    new: float


class DiffOut(Out):
    model_config = ConfigDict(populate_by_name=True)

    slug: str
    from_version: str = Field(alias="from")
    to_version: str = Field(alias="to")
    added: list[str]
    removed: list[str]
    changed: list[PartChange]
    quantities_per_unit: list[QuantityChange]


class MaintainersOut(Out):
    slug: str
    maintainers: list[str]


# ---- jobs ----------------------------------------------------------------------------------------


class JobFile(Out):
    sha256: str
    name: str
    size: int


class JobDesign(Out):
    slug: str
    version: str | None
    part: str | None


class Estimates(Out):
    duration_s: float | None
    filament_mm: float | None
    filament_g: float | None
    source: str = Field(description="who estimated: the slicer or the machine")


class JobOut(Out):
    """A job: what to make, where it is, and what may be done to it now."""

    id: str
    group_id: str
    state: JobState
    process: str
    material: str | None
    min_box_mm: list[float] | None
    nozzle_mm: float | None
    file: JobFile
    design: JobDesign | None
    priority: int
    created_at: Timestamp | None
    attempts: int
    max_attempts: int
    attempt_id: str | None
    fablab: str | None
    machine: str | None
    progress: float
    eta_s: float | None
    estimates: Estimates | None
    reason: str
    ended_at: Timestamp | None
    actions: list[str] = Field(description="controls allowed in this state (cancel, pause, resume, fail)")


class AttemptOut(Out):
    id: str
    fablab: str
    agent: str
    machine: str
    state: str
    lease_expires_at: Timestamp | None
    created_at: Timestamp | None
    ended_at: Timestamp | None
    reason: str


class EventOut(Out):
    model_config = ConfigDict(populate_by_name=True)

    type: str = Field(description="source:action, e.g. job:accepted")
    attempt_id: str | None
    from_state: str | None = Field(alias="from")
    to: str | None
    payload: dict[str, Json]
    agent: str | None = Field(description="fablab/agent that reported it")
    at: Timestamp | None


class JobDetailOut(JobOut):
    """A job with its attempts (this field replaces the count) and its event log."""

    attempts: list[AttemptOut]  # type: ignore[assignment]  # the detail lists them
    events: list[EventOut]


class SubmittedOut(Out):
    group_id: str
    jobs: list[JobOut]


class JobPageOut(Out):
    jobs: list[JobOut]
    counts: dict[str, int] = Field(description="jobs per state, over all jobs")


# ---- machines and fablabs ------------------------------------------------------------------------


class LoadedSpoolOut(LoadedSpool):
    """The spool a printer's agent said is loaded (its config's `spool`)."""

    model_config = Out.model_config


class CapabilitiesOut(Capabilities):
    """What a machine can make, as its agent announced it: the birth's own model, as a response body."""

    model_config = Out.model_config
    spool: LoadedSpoolOut | None = None


class MachineOut(Out):
    fablab: str
    agent: str
    id: str
    driver: str
    status: str
    capabilities: CapabilitiesOut
    operator_confirm: bool
    last_seen: Timestamp | None


class MachinePageOut(Out):
    machines: list[MachineOut]
    total: int
    limit: int
    offset: int


class AgentOut(Out):
    id: str
    online: bool
    software: str


class FablabOut(Out):
    id: str
    name: str
    agents: list[AgentOut]
    machines: int
    idle: int


class FablabPageOut(Out):
    fablabs: list[FablabOut]
    total: int
    limit: int
    offset: int


class ConfirmedOut(Out):
    fablab: str
    machine: str
    agent: str
    sent: Literal["machine:confirm_clear"]


class ProfileOut(Out):
    """A fablab's place, hours, work policy and declared equipment."""

    fablab: str
    name: str
    latitude: float | None
    longitude: float | None
    opening_hours: dict[str, list[str]] = Field(description='{"mon": ["09:00-18:00"]}; empty: always')
    timezone_offset_min: int
    accepts: str = Field(description="all, or none: takes no build work")
    description: str
    address: dict[str, Json]
    contact: dict[str, Json]
    equipment: list[dict[str, Json]] = Field(description="declared machines: id, process, make, model...")
    hourly_rate: float | None = Field(description="what a machine hour costs here; null: not set")
    currency: str = Field(description="ISO 4217 code of the hourly rate")


class OkwFacilityOut(RootModel[dict[str, Json]]):
    """An Open Know-Where Manufacturing Facility (OKW v1 field names; peerfab's own under x-peerfab)."""


class OkwListOut(Out):
    facilities: list[OkwFacilityOut]
    total: int
    limit: int
    offset: int


class OkwSetOut(Out):
    profile: ProfileOut
    warnings: list[str] = Field(description="what of the record could not be read")


# ---- builds --------------------------------------------------------------------------------------


class Progress(Out):
    done: int
    total: int


class AssemblyProgress(Out):
    assembly: str
    done: int
    total: int
    parts_done: int
    parts_total: int


class LateOut(Out):
    task: str | None = Field(description="the late task; null for the build as a whole")
    why: str
    estimate_source: Source | None = Field(
        description="which figure the late task's planned duration came from; null for the build as a whole"
    )


class TaskOut(Out):
    task: str
    kind: Literal["fab", "assembly"]
    part: str
    copies: int
    estimated_min: float
    depends_on: list[str]
    job: str | None
    state: str | None
    progress: float
    machine: str | None
    planned_machine: str | None
    planned_start: Timestamp | None
    planned_end: Timestamp | None
    estimate_source: Source = Field(
        description="which figure the planned duration came from: the machine's own (slicer) estimate, "
        "the breakdown's estimate at the machine's measured or declared speed factor, or the breakdown's "
        "estimate as it is (docs/builds.md, Durations)"
    )
    actual_start: Timestamp | None
    actual_end: Timestamp | None


class PurchaseLine(Out):
    part: str
    name: str
    quantity: float
    unit: str
    supplier: str
    mpn: str
    unit_cost: float | None
    currency: str
    total: float | None
    lead_time_days: float | None
    state: Literal["to_order", "ordered", "received"]
    ordered_at: Timestamp | None
    received_at: Timestamp | None


class Purchases(Out):
    lines: list[PurchaseLine]
    totals: dict[str, float] = Field(description="per currency")


class WaitingOut(Out):
    part: str
    name: str
    state: Literal["to_order", "ordered"]
    tasks: list[str] = Field(description="unfinished tasks that need the part")
    since: Timestamp
    expected_at: Timestamp | None = Field(description="ordered at plus lead time; null when unknown")


class MaterialOut(Out):
    used_g: float = Field(description="filament the build's ended runs used")
    in_progress_g: float = Field(description="filament running jobs are expected to use")
    runs: int
    cost: dict[str, float] = Field(description="material cost per currency")


class BuildRowOut(Out):
    id: str
    design: str
    version: str
    units: int
    site: str
    state: str
    reason: str
    progress: Progress
    expected_finish_at: Timestamp | None
    due_at: Timestamp | None


class BuildOut(BuildRowOut):
    """A build's report: progress, tasks with plan and actuals, what is late and why, purchases."""

    priority: int
    created_at: Timestamp
    ended_at: Timestamp | None
    lower_bound_min: int | None
    assemblies: list[AssemblyProgress]
    late: list[LateOut]
    waiting_for_purchases: list[WaitingOut]
    tasks: list[TaskOut]
    purchases: Purchases
    material: MaterialOut


class PlanOut(Out):
    at: Timestamp
    policy: str
    status: str
    makespan_min: int
    lower_bound_min: int
    gap: float
    reason: str


class BuildDetailOut(BuildOut):
    plan: PlanOut | None = Field(description="the network's latest plan")


class BuildPageOut(Out):
    builds: list[BuildRowOut]


class ReceivedOut(Out):
    received: int = Field(description="purchase lines marked received")


class BuildCancelledOut(Out):
    id: str
    state: str
    reason: str


class RetriedOut(Out):
    build: str
    task: str
    job: str


# ---- ledger and provenance -----------------------------------------------------------------------

Money = dict[str, float]


class MeasureOut(Out):
    """A quantity in OM 2 terms: a number and its unit (one, gram, hour)."""

    type: Literal["Measure"]
    has_numerical_value: float = Field(alias="hasNumericalValue")
    has_unit: Literal["one", "gram", "hour"] = Field(alias="hasUnit")


class EffortOut(MeasureOut):
    """Time spent (work, use of a machine), in hours or as a count of interventions."""


class EconomicEventOut(Out):
    """A Valueflows economic event; IRIs compacted by the document's context (peerfab: is urn:peerfab:)."""

    id: str
    type: Literal["EconomicEvent"]
    action: Literal["produce", "consume", "use", "work", "transfer", "cite"]
    provider: str
    receiver: str
    resource_quantity: MeasureOut | None = Field(None, alias="resourceQuantity")
    # its own model: pydantic cannot describe one nested model under two fields of a serialization model
    effort_quantity: EffortOut | None = Field(None, alias="effortQuantity", description="work and use")
    has_point_in_time: Timestamp = Field(alias="hasPointInTime")
    has_beginning: Timestamp | None = Field(None, alias="hasBeginning")
    has_end: Timestamp | None = Field(None, alias="hasEnd")
    resource_conforms_to: str | None = Field(None, alias="resourceConformsTo")
    resource_inventoried_as: str | None = Field(None, alias="resourceInventoriedAs")
    input_of: str | None = Field(None, alias="inputOf", description="the job (or publication) it went into")
    output_of: str | None = Field(None, alias="outputOf", description="the job that made it")
    note: str | None = None


class LedgerOut(Out):
    """A page of the commons ledger as Valueflows JSON-LD, its context inline (docs/commons.md)."""

    context: dict[str, Json] = Field(alias="@context", description="the JSON-LD context (Valueflows, OM 2)")
    graph: list[EconomicEventOut] = Field(alias="@graph")
    total: int = Field(description="events matching the filters, over all pages")
    limit: int
    offset: int


class AttemptCostOut(Out):
    job: str
    attempt: str
    state: str
    fablab: str
    machine: str
    operators: list[str]
    material: str | None
    spool: int | None
    material_g: float | None
    started_at: Timestamp
    ended_at: Timestamp | None
    hours: float | None
    file_sha256: str | None = Field(description="the file run: one an operator prepared, or the job's")
    cost: Money = Field(description="material and machine time, per currency")


class ProvenancePartOut(Out):
    task: str
    kind: str
    part: str
    copies: int
    job: str | None
    state: str | None
    design_version: str | None
    fablab: str | None = Field(description="where it was made (its done attempt, else its last)")
    machine: str | None
    operators: list[str]
    material: str | None
    spool: int | None
    started_at: Timestamp | None
    ended_at: Timestamp | None
    file_sha256: str | None
    attempts: list[AttemptCostOut]
    cost: Money = Field(description="all its attempts, per currency")


class BuildCostOut(Out):
    estimated: Money = Field(description="from the estimates made at the start, with purchases")
    actual: Money = Field(description="the runs so far, with purchases received")
    machine_hours_estimated: float
    machine_hours_used: float
    material_g_estimated: float
    material_g_used: float


class ProvenanceOut(Out):
    """Where each part of a build came from, who made it and what it cost."""

    build: str
    design: str
    version: str
    units: int
    site: str
    state: str
    contributors: list[str] = Field(description="the design version's authors, publisher and maintainers")
    parts: list[ProvenancePartOut]
    cost: BuildCostOut
