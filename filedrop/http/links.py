"""Share links: the owner's endpoints, and the public ``/d/<token>``.

The public blueprint is named ``links_public``: :mod:`filedrop.http.auth`
lets it through without a key (rate limited by client address).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..links import ACTIVE
from .bodies import has_body
from .context import current_owner, get_links, get_settings
from .downloads import serve
from .jsonbody import read_json_object
from .redirects import redirect_to_storage

bp = Blueprint("links", __name__)
public_bp = Blueprint("links_public", __name__)


@bp.post("/files/<file_id>/links")
def create_link(file_id: str) -> tuple[Response, int, dict[str, str]]:
    allowed = {"expires_in", "expires_at", "max_downloads", "password"}
    body = read_json_object(allowed=allowed) if has_body(request) else {}
    link, token = get_links().create(current_owner(), file_id, **body)
    view = {"token": token, "url": _link_url(token), **link.public(ACTIVE)}
    # The token is shown this once: only its hash is kept.
    return jsonify(view), 201, {"Location": f"/d/{token}", "Cache-Control": "no-store"}


@bp.get("/files/<file_id>/links")
def list_links(file_id: str) -> Response:
    links = get_links().list(current_owner(), file_id)
    return jsonify({"links": [link.public(state) for link, state in links]})


@bp.delete("/links/<token>")
def revoke_link(token: str) -> Response:
    link, state = get_links().revoke(current_owner(), token)
    return jsonify({"message": "Link revoked", "link": link.public(state)})


@public_bp.route("/d/<token>", methods=["GET", "HEAD"])
def shared_download(token: str) -> Response:
    """The file behind the link, exactly as ``GET /files/{id}`` serves it."""
    links = get_links()
    link, record = links.resolve(token, _password())
    response = redirect_to_storage(
        request, lambda expires_s, headers: links.download_url(link, record, expires_s, headers)
    )
    if response is None:
        response = serve(record, lambda pick: links.open(link, record, pick), request)
    # The URL is the credential: never send it on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _password() -> str | None:
    header = request.headers.get("X-Link-Password")
    if header is None:
        return request.args.get("password")
    try:  # WSGI hands headers over as Latin-1; clients send UTF-8
        return header.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return header


def _link_url(token: str) -> str:
    base = get_settings().public_base_url.rstrip("/") or request.host_url.rstrip("/")
    return f"{base}/d/{token}"
