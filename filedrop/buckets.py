"""Buckets: the S3 view of a user's top-level folders.

A bucket is a top-level folder whose name follows S3's bucket-naming rules; other
top-level folders, and files at the root, have no S3 name. Creating or deleting a
bucket is creating or deleting that folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FolderNotEmpty, FolderNotFound, InvalidRequest
from .folders import ROOT, FolderService
from .keys import is_bucket_name
from .storage.metadata import utcnow

_USAGE_PAGE = 1000


@dataclass(frozen=True)
class Bucket:
    name: str
    file_count: int = 0
    bytes_used: int = 0

    @property
    def folder(self) -> str:
        return "/" + self.name

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "folder": self.folder,
            "usage": {"file_count": self.file_count, "bytes_used": self.bytes_used},
        }


def bucket_folder(name: str) -> str:
    if not is_bucket_name(name):
        raise InvalidRequest(f"{name!r} is not a valid bucket name")
    return "/" + name


class BucketService:
    """The buckets of one owner at a time, over :class:`FolderService`."""

    def __init__(self, folders: FolderService) -> None:
        self.folders = folders
        self.meta = folders.meta

    def names(self, owner: str, only: str | None = None) -> list[str]:
        """The owner's bucket names, sorted (just ``only``, if given and it exists)."""
        names = [folder.name for folder in self.folders.subfolders(owner, ROOT)]
        found = sorted(name for name in names if is_bucket_name(name))
        return [name for name in found if only is None or name == only]

    def exists(self, owner: str, name: str) -> bool:
        return is_bucket_name(name) and self.folders.exists(owner, "/" + name)

    def usage(self, owner: str, name: str) -> Bucket:
        """The bucket with the count and bytes of its live files (one scan of them)."""
        count = size = 0
        after = None
        while True:
            page, after = self.folders.files.list(
                owner, _USAGE_PAGE, after, None, folder="/" + name, recursive=True
            )
            count += len(page)
            size += sum(record.file_size for record in page)
            if after is None:
                return Bucket(name, count, size)

    def create(self, owner: str, name: str) -> bool:
        """Make the bucket's folder; False if the owner had it already."""
        folder = bucket_folder(name)
        if self.folders.exists(owner, folder):
            return False
        self.folders.create(owner, folder)
        return True

    def delete(self, owner: str, name: str) -> None:
        """Remove an empty bucket (FolderNotEmpty otherwise, FolderNotFound if absent)."""
        folder = bucket_folder(name)
        if not self.folders.exists(owner, folder):
            raise FolderNotFound(folder)
        live = self.meta.list(owner, 1, None, None, folder=folder, recursive=True, live_at=utcnow())
        if live:
            raise FolderNotEmpty(f"Bucket {name} is not empty")
        # Empty folders beneath (S3 "folder/" placeholders) go with it, as S3 would.
        self.meta.delete_folders(owner, folder, recursive=True)
