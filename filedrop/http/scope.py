"""What a limited key may do over REST: read-only keys only read; a key scoped to a
bucket (a top-level folder) sees nothing outside it.

Over REST a bucket-scoped key lists, reads, uploads (naming a folder in its bucket),
replaces, moves, copies, shares and deletes the files of its bucket and makes and
removes folders in it. Batch deletes, link revocation and tus uploads it does not
have over REST: it uses the S3 API, or single requests.
"""

from __future__ import annotations

from flask import request

from ..errors import FileNotFound, FolderNotFound, Forbidden
from ..services.folders import validate_folder
from ..services.keys import Caller
from .context import current_caller, current_owner, get_service

_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Endpoints a bucket-scoped key may use over REST, each checked below.
_SCOPED_ENDPOINTS = frozenset(
    {
        "files.list_files",
        "files.download",
        "files.metadata",
        "files.delete",
        "files.upload",
        "files.update",
        "files.copy",
        "links.list_links",
        "links.create_link",
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
            f"This key is limited to bucket {bucket!r}: batch deletes, link revocation "
            "and tus uploads are not open to it; use single requests or the S3 API"
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


def check_placement(folder: str | None, new_file: bool) -> None:
    """A bucket-scoped key places files only in its bucket (None keeps a file's folder,
    which is in the bucket; a new file would go to the root, which is not)."""
    caller = current_caller()
    bucket = caller.bucket if caller else None
    if bucket is None:
        return
    if folder is None and new_file:
        raise FolderNotFound("/")
    if folder is not None and not in_bucket(folder, bucket):
        raise FolderNotFound(folder)


def _json_path() -> object:
    body = request.get_json(silent=True)
    return body.get("path") if isinstance(body, dict) else None
