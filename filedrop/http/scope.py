"""What a limited key may do over REST: read-only keys only read; a key scoped to a
bucket (a top-level folder) sees nothing outside it.

Over REST a bucket-scoped key lists, reads and deletes the files of its bucket and
makes and removes folders in it; uploads and other changes it makes over the S3 API.
"""

from __future__ import annotations

from flask import request

from ..errors import FileNotFound, FolderNotFound, Forbidden
from ..folders import validate_folder
from ..keys import Caller
from .context import current_caller, current_owner, get_service

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Endpoints a bucket-scoped key may use over REST, each checked below.
_SCOPED_ENDPOINTS = frozenset(
    {
        "files.list_files",
        "files.download",
        "files.metadata",
        "files.delete",
        "links.list_links",
        "folders.create_folder",
        "folders.delete_folder",
        "buckets.list_buckets",
        "me.me",
        "me.list_keys",
    }
)


def in_bucket(folder: str, bucket: str) -> bool:
    return folder == "/" + bucket or folder.startswith("/" + bucket + "/")


def enforce_key_limits(caller: Caller) -> None:
    """Refuse what the caller's key may not do, before the route runs."""
    if caller.read_only and request.method not in _READS:
        raise Forbidden("This key is read-only")
    bucket = caller.bucket
    if bucket is None:
        return
    if request.endpoint not in _SCOPED_ENDPOINTS:
        raise Forbidden(
            f"This key is limited to bucket {bucket!r}; over REST it lists, reads and "
            "deletes files there. Upload and change files over the S3 API."
        )
    args = request.view_args or {}
    if "file_id" in args:
        record = get_service().get(current_owner(), args["file_id"], counts=False)
        if not in_bucket(record.folder, bucket):
            raise FileNotFound(args["file_id"])
    if request.blueprint == "folders":
        path = request.args.get("path") if request.method == "DELETE" else _json_path()
        if isinstance(path, str) and not in_bucket(validate_folder(path), bucket):
            raise FolderNotFound(path)


def scoped_listing(folder: str | None) -> str | None:
    """The folder a listing may show: the caller's bucket when none is asked for."""
    caller = current_caller()
    bucket = caller.bucket if caller else None
    if bucket is None:
        return folder
    if folder is None:
        return "/" + bucket
    if not in_bucket(folder, bucket):
        raise FolderNotFound(folder)
    return folder


def _json_path() -> object:
    body = request.get_json(silent=True)
    return body.get("path") if isinstance(body, dict) else None
