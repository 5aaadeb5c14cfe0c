"""The API's own description: ``/openapi.json`` and interactive docs at ``/docs``.

Swagger UI's files come from the ``flask-swagger-ui`` package and are served
by this app under ``/docs/assets/``, so the docs work offline and no other
origin runs code on ours. The document includes the users, keys and admin endpoints as soon
as the app serves any of them (see :data:`filedrop.openapi.AUTH_PATHS`).
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from importlib.resources import files

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import NotFound

from ..openapi import AUTH_PATHS, build_spec, to_openapi_path

SWAGGER_UI_ASSETS = str(files("flask_swagger_ui").joinpath("dist"))

bp = Blueprint("docs", __name__, static_folder=SWAGGER_UI_ASSETS, static_url_path="/docs/assets")
# Only what the page loads. The package's folder also holds oauth2-redirect.html, an
# HTML page of its own that would run on our origin without our CSP (we use no OAuth).
PAGE_ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}


@bp.before_request
def _page_assets_only() -> None:
    if (
        request.endpoint == "docs.static"
        and (request.view_args or {}).get("filename") not in PAGE_ASSETS
    ):
        raise NotFound()


# Constant, so the page's CSP can allow exactly this inline script by its hash.
_INIT_SCRIPT = """
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""
_INIT_HASH = base64.b64encode(hashlib.sha256(_INIT_SCRIPT.encode()).digest()).decode()
DOCS_CSP = (
    "default-src 'none'; "
    f"script-src 'self' 'sha256-{_INIT_HASH}'; "
    "style-src 'self' 'unsafe-inline'; "  # Swagger UI sets style attributes
    "img-src 'self' data:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>FILE DROP API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>{init}</script>
</body>
</html>
"""


def serves_auth_routes(app: Flask) -> bool:
    """True once any users/keys/admin route is registered: then the document describes them all."""
    return any(to_openapi_path(rule.rule) in AUTH_PATHS for rule in app.url_map.iter_rules())


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec(include_auth=serves_auth_routes(current_app)))


@bp.get("/docs")
def docs() -> Response:
    assets = url_for("docs.static", filename="").rstrip("/")
    page = _PAGE.format(
        assets=escape(assets),
        spec_url=escape(url_for("docs.openapi")),
        init=_INIT_SCRIPT,
    )
    return Response(
        page,
        mimetype="text/html",
        headers={"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"},
    )
