"""Folders: paths as metadata, direct subfolders, empty folders, deletion.

A folder is a path like ``/projects/q3``; ``/`` is the root, where every file
lives unless told otherwise. A file's folder is metadata only, like its name:
it never becomes an object key or a path on a disk.

A folder exists while a live file lies in it or beneath it, or while an
explicit record made by ``POST /folders`` names it or something beneath it
(so an empty folder survives, as S3 folder placeholders do). Deleting a
folder removes its records and, with ``recursive``, every file beneath it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import FolderNotEmpty, FolderNotFound, InvalidFolder, InvalidRequest
from ..storage.metadata import FolderStore, utcnow
from ..validation import MAX_NAME_LENGTH, unsafe_characters

if TYPE_CHECKING:
    from .files import FileService

ROOT = "/"
MAX_FOLDER_LENGTH = 1024
_DELETE_PAGE = 500


def validate_folder(path: object) -> str:
    """Return ``path`` if it is a valid folder path, else raise InvalidFolder.

    ``/`` or ``/seg/seg…``: any Unicode segments, none empty, ``.`` or ``..``,
    no control or bidirectional control characters, at most 1024 characters in all.
    """
    if not isinstance(path, str) or not path:
        raise InvalidFolder("folder must be a path such as /projects/q3 (or / for the root)")
    if len(path) > MAX_FOLDER_LENGTH:
        raise InvalidFolder(f"folder is longer than {MAX_FOLDER_LENGTH} characters")
    if not path.startswith("/"):
        raise InvalidFolder("folder must start with '/'")
    unsafe = unsafe_characters(path)
    if unsafe:
        raise InvalidFolder(f"folder must not contain {unsafe}")
    if path == ROOT:
        return path
    for segment in path[1:].split("/"):
        if segment == "":
            raise InvalidFolder("folder must not have empty segments ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidFolder("folder must not have '.' or '..' segments")
    return path


def beneath_prefix(folder: str) -> str:
    """What every path strictly beneath ``folder`` starts with."""
    return ROOT if folder == ROOT else folder + "/"


def direct_child(path: str, folder: str) -> str | None:
    """The subfolder of ``folder`` that leads to ``path``, or None if ``path`` is not beneath it."""
    prefix = beneath_prefix(folder)
    if path == folder or not path.startswith(prefix):
        return None
    return prefix + path[len(prefix) :].split("/", 1)[0]


def numbered_name(name: str, number: int | str) -> str:
    """``report (2).pdf`` for ``report.pdf``: the name ``on_conflict=rename`` tries next.

    The number goes before the extension (not for dot-files like ``.env``), and
    the stem is shortened if the result would exceed the file-name limit.
    """
    stem, dot, extension = name.rpartition(".")
    if not stem:
        stem, dot, extension = name, "", ""
    suffix = f" ({number})" + dot + extension
    if len(suffix) >= MAX_NAME_LENGTH:  # an absurdly long extension: number the whole name
        stem, suffix = name, f" ({number})"
    return stem[: MAX_NAME_LENGTH - len(suffix)] + suffix


@dataclass(frozen=True)
class Folder:
    """A folder as listings show it."""

    path: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]

    def public(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path}


class FolderService:
    """Folders of one owner at a time; files beneath them go through :class:`FileService`."""

    def __init__(self, files: FileService, store: FolderStore) -> None:
        self.files = files
        self.store = store

    def subfolders(self, owner: str, folder: str) -> list[Folder]:
        """The direct subfolders of ``folder`` that exist, sorted by name."""
        paths = self.store.folders_beneath(owner, folder, utcnow())
        children = {child for path in paths if (child := direct_child(path, folder))}
        return [Folder(path) for path in sorted(children, key=lambda p: (p.casefold(), p))]

    def exists(self, owner: str, folder: str) -> bool:
        if folder == ROOT or self.store.folder_recorded(owner, folder):
            return True
        live = self.files.meta.list(
            owner, 1, None, None, folder=folder, recursive=True, live_at=utcnow()
        )
        return bool(live) or bool(self.store.folders_beneath(owner, folder, utcnow()))

    def create(self, owner: str, path: object) -> tuple[Folder, bool]:
        """Record ``path`` as a folder; True if it was not recorded before.

        Its parents need no records: they exist because something is beneath them.
        """
        folder = validate_folder(path)
        if folder == ROOT:
            return Folder(ROOT), False
        return Folder(folder), self.store.create_folder(owner, folder, utcnow())

    def delete(self, owner: str, path: str, recursive: bool) -> int:
        """Delete a folder; with ``recursive`` every file beneath it too. Returns files deleted.

        Not one transaction: a file uploaded into the folder while a recursive
        delete runs may survive it (the folder then still exists, holding it).
        """
        folder = validate_folder(path)
        if folder == ROOT:
            raise InvalidRequest("The root folder cannot be deleted")
        if not self.exists(owner, folder):
            raise FolderNotFound(folder)
        if not recursive:
            live = self.files.meta.list(
                owner, 1, None, None, folder=folder, recursive=True, live_at=utcnow()
            )
            if live or self.store.folders_beneath(owner, folder, utcnow()):
                raise FolderNotEmpty(f"Folder {folder} is not empty; use recursive=true")
            self.store.delete_folders(owner, folder, recursive=False)
            return 0
        deleted = 0
        # Expired files beneath go too (they are gone already; this reclaims them).
        while page := self.files.meta.list(
            owner, _DELETE_PAGE, None, None, folder=folder, recursive=True
        ):
            for record in page:
                if self.files.discard_file(record):
                    deleted += 1
        self.store.delete_folders(owner, folder, recursive=True)
        return deleted
