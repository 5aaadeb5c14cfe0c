"""Per-request accessors: the service, the acting user, request ids."""

from __future__ import annotations

import re

from flask import current_app, g, request

from ..config import Settings
from ..ids import new_request_id
from ..services.buckets import BucketService
from ..services.files import FileService
from ..services.folders import FolderService
from ..services.keys import Caller
from ..services.links import LinkService
from ..services.uploads import UploadService
from ..services.users import UserService
from ..storage.metadata import UserRecord

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def get_service() -> FileService:
    service: FileService = current_app.extensions["filedrop"]
    return service


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["filedrop.settings"]
    return settings


def get_users() -> UserService:
    users: UserService = current_app.extensions["filedrop.users"]
    return users


def get_uploads() -> UploadService:
    uploads: UploadService = current_app.extensions["filedrop.uploads"]
    return uploads


def get_folders() -> FolderService:
    folders: FolderService = current_app.extensions["filedrop.folders"]
    return folders


def get_buckets() -> BucketService:
    buckets: BucketService = current_app.extensions["filedrop.buckets"]
    return buckets


def get_links() -> LinkService:
    links: LinkService = current_app.extensions["filedrop.links"]
    return links


def current_owner() -> str:
    """The authenticated user's id (set by :mod:`filedrop.http.auth`)."""
    owner: str = g.owner
    return owner


def current_user() -> UserRecord | None:
    """The authenticated user's record as read this request (None without keys)."""
    caller = current_caller()
    return caller.user if caller else None


def current_caller() -> Caller | None:
    """The authenticated user and the limits of their key (None without keys)."""
    caller: Caller | None = g.get("caller")
    return caller


def assign_request_id() -> str:
    """Echo a sane client ``X-Request-Id``, else make one."""
    offered = request.headers.get("X-Request-Id", "")
    g.request_id = offered if _REQUEST_ID_RE.match(offered) else new_request_id()
    return str(g.request_id)
