"""Buckets: the S3 view of a user's top-level folders.

A bucket is a top-level folder whose name follows S3's bucket-naming rules; other
top-level folders, and files at the root, have no S3 name. Creating or deleting a
bucket is creating or deleting that folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import (
    FolderNotEmpty,
    FolderNotFound,
    InvalidFileName,
    InvalidFolder,
    InvalidRequest,
)
from ..storage.metadata import FileRecord, utcnow
from ..validation import validate_file_name
from .folders import ROOT, FolderService, validate_folder
from .keys import is_bucket_name

_USAGE_PAGE = 1000
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class ObjectPath:
    """Where an object key of a bucket lives: ``photos`` + ``2024/a.jpg`` is the file
    ``a.jpg`` in ``/photos/2024``; a key ending in ``/`` (``name`` None) is a folder."""

    bucket: str
    key: str
    folder: str
    name: str | None

    @classmethod
    def of(cls, bucket: str, key: str) -> ObjectPath:
        """Raise InvalidRequest for a key FILE DROP cannot hold (empty, ``.``/``..`` or
        empty segments, control characters, too long)."""
        if not key or len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
            raise InvalidRequest(f"An object key is 1 to {MAX_KEY_BYTES} bytes")
        *parents, last = key.split("/")
        try:
            folder = validate_folder("/" + "/".join([bucket, *parents]))
            return cls(bucket, key, folder, validate_file_name(last) if last else None)
        except (InvalidFolder, InvalidFileName) as exc:
            raise InvalidRequest(f"The key cannot name a file: {exc.message}") from None


def object_key(bucket: str, record: FileRecord) -> str:
    """The key of ``record`` in ``bucket`` (its folder is the bucket or beneath it)."""
    inner = record.folder[len(bucket) + 2 :]
    return f"{inner}/{record.file_name}" if inner else record.file_name


def newest(records: Iterable[FileRecord]) -> FileRecord | None:
    """Of files that share a key (uploads with ``on_conflict=allow``), the one S3 shows."""
    return max(records, key=lambda r: (r.created_at, r.file_id), default=None)


@dataclass(frozen=True)
class Entry:
    """One key of a listing: a file, or (``record`` None) an empty folder's ``key/``."""

    key: str
    record: FileRecord | None


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
        self.meta = folders.files.meta
        self.folder_store = folders.store

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

    def entries(self, owner: str, bucket: str, prefix: str) -> list[Entry]:
        """Every key of ``bucket`` starting with ``prefix``, in S3's order.

        Reads the files of the deepest folder the prefix names (all of them: the
        store keeps no order by name), so a listing costs memory in proportion to them.
        """
        directory = prefix.rpartition("/")[0]
        try:
            scan = validate_folder("/" + "/".join([bucket, *directory.split("/")]).rstrip("/"))
        except InvalidFolder:
            return []  # no file has such a key
        files: dict[str, list[FileRecord]] = {}
        after = None
        while True:
            page, after = self.folders.files.list(
                owner, _USAGE_PAGE, after, None, folder=scan, recursive=True
            )
            for record in page:
                files.setdefault(object_key(bucket, record), []).append(record)
            if after is None:
                break
        found = [Entry(key, newest(records)) for key, records in files.items()]
        occupied: set[str] = set()  # every folder (as a key prefix) that holds a file, however deep
        for key in files:
            parts = key.split("/")[:-1]
            occupied.update("/".join(parts[: depth + 1]) for depth in range(len(parts)))
        for path in self.folder_store.folders_beneath(owner, scan, utcnow()):
            inner = path[len(bucket) + 2 :]
            if inner not in occupied:
                found.append(Entry(inner + "/", None))
        chosen = [entry for entry in found if entry.key.startswith(prefix)]
        return sorted(chosen, key=lambda entry: entry.key.encode("utf-8", "surrogateescape"))

    def find(self, owner: str, where: ObjectPath) -> FileRecord | None:
        """The live file an object key names, if any."""
        if where.name is None:
            return None
        found = self.meta.find_named(owner, where.folder, where.name, utcnow())
        return newest(found)

    def delete_object(self, owner: str, where: ObjectPath) -> None:
        """Delete every live file the key names (so no older namesake shows through)."""
        if where.name is None:
            return
        for record in self.meta.find_named(owner, where.folder, where.name, utcnow()):
            self.folders.files.discard_file(record)

    def remove_folder_marker(self, owner: str, folder: str) -> None:
        """Forget an explicit folder record (``key/``); files beneath it stay."""
        self.folder_store.delete_folders(owner, folder, recursive=False)

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
        # Empty folders beneath list as "folder/" objects: they count, as S3's markers do.
        if live or self.folder_store.folders_beneath(owner, folder, utcnow()):
            raise FolderNotEmpty(f"Bucket {name} is not empty")
        self.folder_store.delete_folders(owner, folder, recursive=False)
