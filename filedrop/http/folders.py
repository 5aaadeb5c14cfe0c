"""The /folders endpoints: create an empty folder, delete one."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidRequest
from ..validation import bool_param
from .bodies import has_body
from .context import current_owner, get_folders
from .jsonbody import read_json_object

bp = Blueprint("folders", __name__)


@bp.post("/folders")
def create_folder() -> tuple[Response, int]:
    """The path comes as ``?path=`` (like DELETE) or as JSON ``{"path": …}``."""
    path = request.args.get("path")
    if path is None:
        example = '{"path": "/projects/q3"} (or no body and ?path=/projects/q3)'
        path = read_json_object(allowed={"path"}, example=example).get("path")
    elif has_body(request):
        raise InvalidRequest("Name the folder once: ?path= or a JSON body, not both")
    folder, created = get_folders().create(current_owner(), path)
    return jsonify({"folder": folder.public(), "created": created}), 201 if created else 200


@bp.delete("/folders")
def delete_folder() -> Response:
    path = request.args.get("path")
    if path is None:
        raise InvalidRequest("Name the folder: DELETE /folders?path=/projects/q3")
    recursive = bool_param(request.args.get("recursive"), "recursive")
    deleted = get_folders().delete(current_owner(), path, recursive)
    return jsonify({"message": "Folder deleted", "path": path, "files_deleted": deleted})
