"""The /folders endpoints: create an empty folder, delete one."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidRequest
from ..validation import bool_param
from .context import current_owner, get_folders
from .models import Folder, FolderCreated, NewFolderRequest
from .parsing import parse_json

bp = Blueprint("folders", __name__)


@bp.post("/folders")
def create_folder() -> tuple[Response, int]:
    asked = parse_json(NewFolderRequest)
    folder, created = get_folders().create(current_owner(), asked.path)
    body = FolderCreated(folder=Folder.of(folder), created=created)
    return jsonify(body.to_json()), 201 if created else 200


@bp.delete("/folders")
def delete_folder() -> Response:
    path = request.args.get("path")
    if path is None:
        raise InvalidRequest("Name the folder: DELETE /folders?path=/projects/q3")
    recursive = bool_param(request.args.get("recursive"), "recursive")
    deleted = get_folders().delete(current_owner(), path, recursive)
    return jsonify({"message": "Folder deleted", "path": path, "files_deleted": deleted})
