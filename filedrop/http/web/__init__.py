"""The web app: a single page at ``/`` for browsers, its static assets, and the
headers every HTML page of ours carries.

The page is plain HTML, one stylesheet and a few ES modules (no build step).
Scripts talk to the JSON API with the key a person pastes in; the key lives in
the tab's ``sessionStorage`` and travels only in ``Authorization``. Other
clients asking for ``/`` get JSON that points at the API's docs.
"""

from __future__ import annotations

from flask import Blueprint, Request, Response, jsonify, render_template, request, url_for

from ... import __version__

bp = Blueprint(
    "web",
    __name__,
    static_folder="static",
    static_url_path="/web",
    template_folder="templates",
)

# No inline script or style anywhere; blob: for previews of a file fetched with the key.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob:; frame-src blob:; "
    "object-src 'none'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def secure(response: Response) -> Response:
    """The headers of every page and asset the web app serves."""
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def wants_page(req: Request) -> bool:
    """A browser navigating here (it prefers HTML), not a script or curl (``*/*``)."""
    if req.headers.get("Sec-Fetch-Dest", "document") != "document":
        return False
    return req.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


@bp.after_request
def _headers(response: Response) -> Response:
    response.vary.add("Accept")
    return secure(response)


@bp.get("/")
def index() -> Response:
    if not wants_page(request):
        return jsonify(
            {
                "name": "FILE DROP",
                "version": __version__,
                "docs": url_for("docs.docs"),
                "openapi": url_for("docs.openapi"),
            }
        )
    return page("index.html")


def page(template: str, status: int = 200, **context: object) -> Response:
    """One of our HTML pages, with the web app's headers."""
    html = render_template(template, version=__version__, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.vary.add("Accept")
    response.headers["Cache-Control"] = "no-store"
    return secure(response)


def human_size(size: int) -> str:
    """1536 -> "1.5 KiB", as the web app shows sizes."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
