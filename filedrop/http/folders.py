"""The /folders endpoints: create an empty folder, delete one."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidRequest
from .bodies import has_body
from .context import current_owner, get_folders
from .models.requests import FolderDeleteQuery, NewFolderRequest
from .models.responses import Folder, FolderCreated, FolderDeleted
from .parsing import parse, parse_json, parse_query

bp = Blueprint("folders", __name__)


@bp.post("/folders")
def create_folder() -> tuple[Response, int]:
    """The path comes as ``?path=`` (like DELETE) or as JSON ``{"path": …}``."""
    if "path" not in request.args:
        example = '{"path": "/projects/q3"} (or no body and ?path=/projects/q3)'
        asked = parse_json(NewFolderRequest, example=example)
    elif has_body(request):
        raise InvalidRequest("Name the folder once: ?path= or a JSON body, not both")
    else:
        asked = parse(NewFolderRequest, {"path": request.args["path"]})
    folder, created = get_folders().create(current_owner(), asked.path)
    body = FolderCreated(folder=Folder.of(folder), created=created)
    return jsonify(body.to_json()), 201 if created else 200


@bp.delete("/folders")
def delete_folder() -> Response:
    asked = parse_query(FolderDeleteQuery)
    deleted = get_folders().delete(current_owner(), asked.path, asked.recursive)
    body = FolderDeleted(message="Folder deleted", path=asked.path, files_deleted=deleted)
    return jsonify(body.to_json())
