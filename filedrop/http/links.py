"""Share links: the owner's endpoints, and the public ``/d/<token>``.

The public blueprint is named ``links_public``: :mod:`filedrop.http.auth`
lets it through without a key (rate limited by client address).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidRequest, LinkGone, LinkNotFound, LinkPasswordRequired
from ..services.links import ACTIVE, LinkService
from .bodies import has_body
from .context import current_owner, get_links, get_settings
from .downloads import serve
from .jsonbody import read_json_object
from .redirects import redirect_to_storage
from .web import human_size, page, wants_page

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


# The download form sends a password and nothing else.
MAX_FORM_BYTES = 16 * 1024


@public_bp.route("/d/<token>", methods=["GET", "HEAD"])
def shared_download(token: str) -> Response:
    """The file behind the link, exactly as ``GET /files/{id}`` serves it; a browser
    navigating here gets a page with a Download button instead (which counts nothing)."""
    if wants_page(request):
        return _share_page(get_links(), token)
    response = _send(token, _password(request.args.get("password")))
    response.vary.add("Accept")  # a browser got a page here: caches must tell them apart
    return response


@public_bp.post("/d/<token>")
def shared_download_form(token: str) -> Response:
    """The page's Download button: the password travels in the form body, not the URL."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if chunked or (request.content_length or 0) > MAX_FORM_BYTES:
        raise InvalidRequest(f"Send a form of at most {MAX_FORM_BYTES} bytes, with its length")
    request.max_form_memory_size = MAX_FORM_BYTES
    password = _password(request.form.get("password"))
    try:
        return _send(token, password)
    except (LinkPasswordRequired, LinkGone, LinkNotFound) as exc:
        if not wants_page(request):
            raise
        return _share_page(get_links(), token, error=exc.message, status=exc.status)


def _send(token: str, password: str | None) -> Response:
    links = get_links()
    link, record = links.resolve(token, password)
    # Only a GET is sent on to storage: a 307 would make a browser post the form there.
    response = redirect_to_storage(
        request, lambda expires_s, headers: links.download_url(link, record, expires_s, headers)
    )
    if response is None:
        response = serve(record, lambda pick: links.open(link, record, pick), request)
    # The URL is the credential: never send it on as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _share_page(links: LinkService, token: str, error: str = "", status: int = 200) -> Response:
    """Name, size and a Download button; only a password form while the password is
    unknown (the name is not shown to someone who lacks it). Opens no content."""
    try:
        _, record = links.resolve(token, None)
    except LinkPasswordRequired:
        return page("share.html", status, token=token, needs_password=True, error=error)
    except (LinkGone, LinkNotFound) as exc:
        return page("share.html", exc.status, token=token, gone=exc.message)
    return page(
        "share.html",
        status,
        token=token,
        needs_password=False,
        error=error,
        file_name=record.file_name,
        size=human_size(record.file_size),
        file_type=record.file_type,
    )


def _password(fallback: str | None) -> str | None:
    header = request.headers.get("X-Link-Password")
    if header is None:
        return fallback
    try:  # WSGI hands headers over as Latin-1; clients send UTF-8
        return header.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return header


def _link_url(token: str) -> str:
    base = get_settings().public_base_url.rstrip("/") or request.host_url.rstrip("/")
    return f"{base}/d/{token}"
