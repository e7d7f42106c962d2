"""Flask application factory."""

from __future__ import annotations

import importlib
import secrets

from apiflask import APIFlask

from coordinator.api.errors import register_error_handlers
from coordinator.runtime import Runtime
from coordinator.settings import Settings, load_settings

API_PREFIX = "/api/v1"

# "module:attribute" of every API blueprint, mounted under /api/v1
API_BLUEPRINTS = [
    "coordinator.api.health:bp",
    "coordinator.api.designs:bp",
    "coordinator.api.files:bp",
    "coordinator.api.jobs:bp",
    "coordinator.api.machines:bp",
    "coordinator.api.builds:bp",
    "coordinator.api.fablabs:bp",
]
# "module:attribute" of the HTML pages (the dashboards), mounted at the site root
PAGE_BLUEPRINTS = ["coordinator.dashboard.views:bp"]


def create_app(settings: Settings | None = None, rt: Runtime | None = None) -> APIFlask:
    """Build the coordinator's Flask app around a Runtime (database, file store, settings)."""
    settings = settings or (rt.settings if rt else load_settings())
    rt = rt or Runtime.open(settings)
    app = APIFlask(
        "peerfab",
        title="peerfab coordinator API",
        version="1",
        spec_path=f"{API_PREFIX}/openapi.json",
        docs_path=f"{API_PREFIX}/docs",
    )
    app.config["MAX_CONTENT_LENGTH"] = int(settings.limits.max_archive_mb * 1024 * 1024)
    app.config["AUTO_404_RESPONSE"] = True
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 422
    app.config["SECRET_KEY"] = settings.auth.session_secret or secrets.token_hex(32)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["peerfab"] = rt
    register_error_handlers(app)
    for target in API_BLUEPRINTS:
        module_name, attr = target.split(":")
        app.register_blueprint(getattr(importlib.import_module(module_name), attr), url_prefix=API_PREFIX)
    for target in PAGE_BLUEPRINTS:
        module_name, attr = target.split(":")
        app.register_blueprint(getattr(importlib.import_module(module_name), attr), url_prefix="")
    return app
