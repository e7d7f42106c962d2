"""All tables, imported here so that SQLModel.metadata knows them (Alembic reads it)."""

from coordinator.models.auth import ApiToken, DashboardSession, Role
from coordinator.models.builds import Build, BuildTask, FablabProfile, Plan, PurchaseItem
from coordinator.models.designs import (
    BomEdge,
    Design,
    DesignMaintainer,
    DesignVersion,
    MeshAnalysis,
    Part,
    StoredFile,
    VersionFile,
)
from coordinator.models.fablab import (
    Delivery,
    JobRun,
    MachineCounter,
    MaintenanceTask,
    Notice,
    Spool,
    SpoolSource,
    Subscription,
)
from coordinator.models.jobs import AgentLink, Fablab, Job, JobAttempt, JobEvent, Machine
from coordinator.models.ledger import LedgerEvent

__all__ = [
    "Delivery",
    "JobRun",
    "MachineCounter",
    "MaintenanceTask",
    "Notice",
    "Spool",
    "SpoolSource",
    "Subscription",
    "AgentLink",
    "Build",
    "BuildTask",
    "FablabProfile",
    "Plan",
    "PurchaseItem",
    "ApiToken",
    "BomEdge",
    "DashboardSession",
    "Design",
    "DesignMaintainer",
    "DesignVersion",
    "Fablab",
    "Job",
    "JobAttempt",
    "JobEvent",
    "LedgerEvent",
    "Machine",
    "MeshAnalysis",
    "Part",
    "Role",
    "StoredFile",
    "VersionFile",
]
