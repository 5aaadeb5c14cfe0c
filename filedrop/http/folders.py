"""The /folders endpoints: create an empty folder, delete one."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .context import current_owner, get_folders
from .models import Folder, FolderCreated, FolderDeleted, FolderDeleteQuery, NewFolderRequest
from .parsing import parse_json, parse_query

bp = Blueprint("folders", __name__)


@bp.post("/folders")
def create_folder() -> tuple[Response, int]:
    asked = parse_json(NewFolderRequest)
    folder, created = get_folders().create(current_owner(), asked.path)
    body = FolderCreated(folder=Folder.of(folder), created=created)
    return jsonify(body.to_json()), 201 if created else 200


@bp.delete("/folders")
def delete_folder() -> Response:
    asked = parse_query(FolderDeleteQuery)
    deleted = get_folders().delete(current_owner(), asked.path, asked.recursive)
    body = FolderDeleted(message="Folder deleted", path=asked.path, files_deleted=deleted)
    return jsonify(body.to_json())
