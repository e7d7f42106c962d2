"""Flask application factory."""

from __future__ import annotations

import importlib
import secrets
from typing import Any

from apiflask import APIFlask
from flask.json.provider import DefaultJSONProvider

from coordinator.api.auth import enforce_private_reads
from coordinator.api.errors import register_error_handlers
from coordinator.api.guards import declare_refusal, register_input_guards
from coordinator.api.schemas import ErrorBody, ValidationErrorBody, tidy_component_names
from coordinator.runtime import Runtime
from coordinator.security import register_security_headers
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
    "coordinator.api.spools:bp",
    "coordinator.api.maintenance:bp",
    "coordinator.api.notifications:bp",
    "coordinator.api.statistics:bp",
    "coordinator.api.ledger:bp",
    "coordinator.api.docs:bp",
]
# "module:attribute" of the HTML pages (the dashboards), mounted at the site root
PAGE_BLUEPRINTS = ["coordinator.dashboard.views:bp"]


class StrictJSONProvider(DefaultJSONProvider):
    """JSON as RFC 8259 has it: NaN and Infinity are refused, never written."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            # ValueError is what a request's JSON parsing answers with 400; nesting past Python's
            # recursion limit would otherwise escape it as a 500
            raise ValueError("the JSON is nested too deeply") from exc


def create_app(settings: Settings | None = None, rt: Runtime | None = None) -> APIFlask:
    """Build the coordinator's Flask app around a Runtime (database, file store, settings)."""
    settings = settings or (rt.settings if rt else load_settings())
    rt = rt or Runtime.open(settings)
    app = APIFlask(
        "peerfab",
        title="peerfab coordinator API",
        version="1",
        spec_path=f"{API_PREFIX}/openapi.json",
        docs_path=None,  # served by coordinator.api.docs from a local copy of Swagger UI
    )
    app.json = StrictJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = int(settings.limits.max_archive_mb * 1024 * 1024)
    app.config["AUTO_404_RESPONSE"] = True
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 422
    # Error bodies as coordinator.api.errors writes them, declared once for every error response.
    app.config["HTTP_ERROR_SCHEMA"] = ErrorBody.model_json_schema()
    app.config["VALIDATION_ERROR_SCHEMA"] = ValidationErrorBody.model_json_schema()
    app.config["VALIDATION_ERROR_DESCRIPTION"] = "a parameter or body field does not validate"
    app.config["SECRET_KEY"] = settings.auth.session_secret or secrets.token_hex(32)
    app.extensions["peerfab"] = rt
    app.spec_processor(lambda spec: declare_refusal(tidy_component_names(spec)))
    register_error_handlers(app)
    register_input_guards(app)
    register_security_headers(app, secure_cookies=settings.auth.secure_cookies)
    enforce_private_reads(app, API_PREFIX)
    for target in API_BLUEPRINTS:
        module_name, attr = target.split(":")
        app.register_blueprint(getattr(importlib.import_module(module_name), attr), url_prefix=API_PREFIX)
    for target in PAGE_BLUEPRINTS:
        module_name, attr = target.split(":")
        app.register_blueprint(getattr(importlib.import_module(module_name), attr), url_prefix="")
    return app
