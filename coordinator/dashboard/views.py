"""The dashboard blueprint with every page registered on it (mounted at the site root)."""

from __future__ import annotations

# importing the page modules registers their routes on the blueprint
from coordinator.dashboard import (  # noqa: F401
    build_pages,
    contribution_pages,
    design_pages,
    fablab_pages,
    home_pages,
    job_pages,
    live,
    machine_pages,
    notification_pages,
    statistics_pages,
)
from coordinator.dashboard.blueprint import bp

__all__ = ["bp"]
