"""The API's browsable documentation: Swagger UI from the installed flask-swagger-ui package.

Nothing is fetched from a CDN (fablabs are often offline) and nothing runs inline: the page loads
Swagger UI's files from this coordinator and starts it from a static script.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from apiflask import APIBlueprint
from flask import Response, render_template_string, send_from_directory, url_for

bp = APIBlueprint("docs", __name__, enable_openapi=False)
SWAGGER_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
SWAGGER_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>peerfab coordinator API</title>
<link rel="icon" type="image/png" href="{{ asset('favicon-32x32.png') }}">
<link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
<script src="{{ asset('swagger-ui-bundle.js') }}" defer></script>
<script src="{{ url_for('dashboard.static', filename='api-docs.js') }}" defer></script>
</head>
<body>
<div id="swagger-ui" data-spec="{{ url_for('openapi.spec') }}"></div>
</body>
</html>
"""


@bp.get("/docs")
def docs() -> str:
    """Swagger UI for this API."""
    return render_template_string(PAGE, asset=lambda name: url_for("docs.asset", name=name))


@bp.get("/docs/static/<name>")
def asset(name: str) -> Response:
    """One of Swagger UI's own files, from the installed package."""
    if name not in SWAGGER_FILES:
        return Response(status=404)
    response = send_from_directory(SWAGGER_DIST, name, max_age=86400)
    return response
