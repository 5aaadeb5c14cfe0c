"""BlobStore on the local filesystem, for embedded mode (no S3 server needed).

Each key maps to one file under ``root`` (``blobs/<id>/<rand>`` becomes
``root/blobs/<id>/<rand>``). A write streams into a hidden temp file in the
target's directory, is fsynced, then renamed into place and the directory
fsynced: a crash leaves either no file under the key or the whole file, never
a torn one. Temp files are what S3 calls unfinished uploads; fsck sweeps them.
Multipart uploads that span requests (tus) keep their parts as files under
``root/.multipart/<upload id>/`` and are concatenated into the key, the same
atomic way, on completion.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat as stat_mod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ...errors import StorageUnavailable
from . import BlobInfo, BlobNotFound, DiskUsage

log = logging.getLogger("filedrop.local")

# Keys are ours (filedrop.ids), but they still pass through this gate before
# touching a path: no "..", no absolute paths, no separators of any platform.
_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-]+")
# A temp file is ".<final name>.<random>.tmp"; the leading dot keeps it out of any valid key.
_TEMP_RE = re.compile(r"\.([A-Za-z0-9_-]+)\.[0-9a-f]+\.tmp")
_PUT_ATTEMPTS = 3
# Multipart uploads (tus) live in root/.multipart/<upload id>/: a file ``key`` naming the
# target, and one file per part, ``<number>.<etag>``. The dot keeps them out of listings.
_MULTIPART_DIR = ".multipart"
_UPLOAD_ID_RE = re.compile(r"[0-9a-f]{32}")


class InvalidBlobKey(ValueError):
    """A key that could never have come from :mod:`filedrop.ids`: a bug, not a 404."""


@contextmanager
def _os_errors(action: str) -> Iterator[None]:
    """Missing files are BlobNotFound; any other OS failure (ENOSPC, EIO, EACCES…) means
    the storage can't serve."""
    try:
        yield
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        # Some path component is missing or is not what a key needs: no such object.
        raise BlobNotFound(action) from exc
    except OSError as exc:
        log.warning("local storage failed to %s: %s", action, exc)
        name = errno.errorcode.get(exc.errno or 0, "error")
        raise StorageUnavailable(f"Local storage failed to {action} ({name})") from exc


def _fsync_dir(directory: Path) -> None:
    """Make a rename or new entry in ``directory`` durable."""
    if os.name == "nt":  # Windows can't open a directory to fsync it; NTFS journals renames
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ignore_missing(
    function: object, path: str, exc_info: tuple[type, BaseException, object]
) -> None:
    """rmtree's error hook: what another request removed first is already gone."""
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def _raise_unless_gone(exc: OSError) -> None:
    """os.walk's error hook: a directory removed while we list it is just empty."""
    if not isinstance(exc, FileNotFoundError | NotADirectoryError):
        raise exc


class _FileReader:
    """Bytes ``start``..``end`` (inclusive) of an open file, read a chunk at a time."""

    def __init__(self, handle: BinaryIO, start: int, end: int | None, chunk_size: int) -> None:
        self._handle = handle
        self._start = start
        self._end = end
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        with _os_errors("read an object"):
            self._handle.seek(self._start)
            remaining = None if self._end is None else self._end - self._start + 1
            while remaining is None or remaining > 0:
                size = self._chunk_size if remaining is None else min(self._chunk_size, remaining)
                chunk = self._handle.read(size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def close(self) -> None:
        self._handle.close()


class LocalBlobStore:
    """Objects as files under one directory (the embedded stand-in for a bucket)."""

    name = "local"

    def __init__(self, root: Path | str, chunk_size: int = 1024**2) -> None:
        self.root = Path(root).absolute()
        self._chunk_size = max(1, chunk_size)

    def describe(self) -> str:
        return f"local files in {self.root}"

    # -- keys and paths ---------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for ``key``; refuses anything but ``[A-Za-z0-9_-]`` segments."""
        segments = key.split("/")
        if not all(_SEGMENT_RE.fullmatch(segment) for segment in segments):
            raise InvalidBlobKey(f"not a blob key: {key!r}")
        return self.root.joinpath(*segments)

    def _key(self, path: Path) -> str:
        return "/".join(path.relative_to(self.root).parts)

    def _make_dirs(self, directory: Path) -> None:
        """Create ``directory`` and its parents under root, each new entry made durable."""
        missing: list[Path] = []
        current = directory
        while current != self.root and not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with suppress(FileExistsError):
                path.mkdir(mode=0o700)
                _fsync_dir(path.parent)

    # -- writes ---------------------------------------------------------------

    def put_stream(
        self, key: str, chunks: Iterable[bytes], before_commit: Callable[[], None] | None = None
    ) -> None:
        path = self._path(key)
        temp, handle = self._create_temp(path)
        try:
            with handle:
                for chunk in chunks:
                    with _os_errors("store an object"):
                        handle.write(chunk)
                with _os_errors("store an object"):
                    handle.flush()
                    os.fsync(handle.fileno())
            if before_commit:
                before_commit()
            with _os_errors("store an object"):
                os.replace(temp, path)
                _fsync_dir(path.parent)
        except BaseException:
            with suppress(OSError):
                temp.unlink()
            raise

    def _create_temp(self, path: Path) -> tuple[Path, BinaryIO]:
        # A delete may remove the (empty) directory between our mkdir and open: try again.
        for attempt in range(_PUT_ATTEMPTS):
            temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
            try:
                with _os_errors("store an object"):
                    self._make_dirs(path.parent)
                    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                return temp, os.fdopen(fd, "wb")
            except BlobNotFound:
                if attempt == _PUT_ATTEMPTS - 1:
                    raise StorageUnavailable("Local storage failed to store an object") from None
        raise AssertionError("unreachable")

    def delete(self, key: str) -> None:
        path = self._path(key)
        with _os_errors("delete an object"):
            try:
                path.unlink()
            except FileNotFoundError:
                return
            _fsync_dir(path.parent)
        self._prune_empty_dirs(path.parent)

    def _prune_empty_dirs(self, directory: Path) -> None:
        """Drop directories a delete left empty (best effort; a writer may be filling one)."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def copy(self, source_key: str, dest_key: str) -> None:
        # No server to copy for us: the bytes stream through, a chunk at a time.
        self._path(dest_key)  # refuse a bad destination before reading anything
        reader = self.open(source_key)
        try:
            self.put_stream(dest_key, reader)
        finally:
            reader.close()

    # -- multipart uploads across requests (tus) ---------------------------------

    def _upload_dir(self, upload_id: str) -> Path:
        if not _UPLOAD_ID_RE.fullmatch(upload_id):
            raise BlobNotFound(f"no multipart upload {upload_id!r}")
        return self.root / _MULTIPART_DIR / upload_id

    def start_multipart(self, key: str) -> str:
        self._path(key)  # refuse a bad key now, not at completion
        upload_id = secrets.token_hex(16)
        directory = self._upload_dir(upload_id)
        with _os_errors("start a multipart upload"):
            self._make_dirs(directory)
            self._write_durably(directory / "key", (key.encode(),))
        return upload_id

    def upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        # A fresh random ETag per part stored: completing with a replaced part's old ETag fails.
        etag = secrets.token_hex(8)
        self._store_part(upload_id, number, (body,), len(body), lambda: etag)
        return etag

    def upload_part_stream(
        self, key: str, upload_id: str, number: int, chunks: Iterable[bytes], size: int
    ) -> str:
        md5 = hashlib.md5()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                md5.update(chunk)
                yield chunk

        self._store_part(upload_id, number, hashed(), size, md5.hexdigest)
        return md5.hexdigest()

    def _store_part(
        self,
        upload_id: str,
        number: int,
        chunks: Iterable[bytes],
        size: int,
        etag: Callable[[], str],
    ) -> None:
        """Store part ``number`` as the file ``{number}.{etag()}``, naming it once every
        chunk is written; the part's earlier copies go."""
        directory = self._upload_dir(upload_id)
        if not 1 <= number <= 99999:
            raise ValueError(f"part number out of range: {number}")
        with _os_errors("upload a part"):
            if not directory.is_dir():
                raise FileNotFoundError(directory)
            replaced = set(directory.glob(f"{number:05d}.*"))
            stored = self._write_durably(
                directory / f"{number:05d}", chunks, size, lambda: f"{number:05d}.{etag()}"
            )
            for old in replaced - {stored}:
                old.unlink(missing_ok=True)

    def _write_durably(
        self,
        path: Path,
        chunks: Iterable[bytes],
        size: int | None = None,
        final_name: Callable[[], str] | None = None,
    ) -> Path:
        """Write ``path`` whole or not at all: temp file, fsync, rename, fsync the directory.
        ``size``: the bytes the chunks must hold (else nothing is written). ``final_name``:
        the name to give it instead, asked once the chunks are written. Returns the path."""
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            with temp.open("xb") as handle:
                written = 0
                for chunk in chunks:
                    written += len(chunk)
                    handle.write(chunk)
                if size is not None and written != size:
                    raise ValueError(f"the chunks held {written} bytes, not {size}")
                handle.flush()
                os.fsync(handle.fileno())
            if final_name is not None:
                path = path.with_name(final_name())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return path

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> None:
        directory = self._upload_dir(upload_id)
        paths = [directory / f"{number:05d}.{etag}" for number, etag in parts]
        with _os_errors("complete a multipart upload"):
            if not directory.is_dir():
                raise FileNotFoundError(directory)
            missing = [path.name for path in paths if not path.is_file()]
        if missing or not paths:
            raise StorageUnavailable(f"Local storage has no parts {missing} of upload {upload_id}")
        self.put_stream(key, self._concatenate(paths))
        self.abort_multipart(key, upload_id)

    def _concatenate(self, paths: list[Path]) -> Iterator[bytes]:
        for path in paths:
            with _os_errors("read a part"), path.open("rb") as handle:
                while chunk := handle.read(self._chunk_size):
                    yield chunk

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            directory = self._upload_dir(upload_id)
        except BlobNotFound:
            return
        with _os_errors("abort a multipart upload"):
            shutil.rmtree(directory, onerror=_ignore_missing)

    def _multipart_uploads(self) -> Iterator[tuple[Path, str, datetime]]:
        """(directory, target key, last activity) of every multipart upload."""
        base = self.root / _MULTIPART_DIR
        with _os_errors("list multipart uploads"):
            entries = sorted(base.iterdir()) if base.is_dir() else []
            for directory in entries:
                if not _UPLOAD_ID_RE.fullmatch(directory.name):
                    continue
                try:
                    key = (directory / "key").read_text()
                    changed = directory.stat().st_mtime
                except FileNotFoundError:
                    continue  # completed or aborted while we listed
                yield directory, key, datetime.fromtimestamp(changed, UTC)

    # -- reads ----------------------------------------------------------------

    def open(self, key: str, start: int | None = None, end: int | None = None) -> _FileReader:
        path = self._path(key)
        with _os_errors("read an object"):
            handle = path.open("rb")
        if start is None:
            return _FileReader(handle, 0, None, self._chunk_size)
        return _FileReader(handle, start, end, self._chunk_size)

    def exists(self, key: str) -> bool:
        path = self._path(key)
        with _os_errors("check an object"):
            return path.is_file()

    def iter_blobs(self, prefix: str) -> Iterator[BlobInfo]:
        for path, stat in self._walk(prefix):
            # Temp files and anything not named like a key (a stray file) are not blobs.
            if _SEGMENT_RE.fullmatch(path.name):
                key = self._key(path)
                if key.startswith(prefix):
                    yield BlobInfo(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))

    def _walk(self, prefix: str) -> Iterator[tuple[Path, os.stat_result]]:
        """Regular files under the directory ``prefix`` names, in sorted order; no symlinks."""
        directories = prefix.split("/")[:-1]
        if not all(_SEGMENT_RE.fullmatch(segment) for segment in directories):
            return
        start = self.root.joinpath(*directories)
        with _os_errors("list objects"):
            for dirpath, dirnames, filenames in os.walk(start, onerror=_raise_unless_gone):
                dirnames[:] = sorted(d for d in dirnames if _SEGMENT_RE.fullmatch(d))
                for filename in sorted(filenames):
                    path = Path(dirpath, filename)
                    try:
                        stat = path.lstat()
                    except FileNotFoundError:
                        continue  # deleted or committed while we listed
                    if stat_mod.S_ISREG(stat.st_mode):
                        yield path, stat

    def abort_stale_uploads(
        self, prefix: str, older_than: datetime, dry_run: bool, keep: Collection[str] = ()
    ) -> list[str]:
        stale: list[str] = []
        for directory, key, changed in self._multipart_uploads():
            if key.startswith(prefix) and key not in keep and changed < older_than:
                stale.append(key)
                if not dry_run:
                    with _os_errors("abort an upload"):
                        shutil.rmtree(directory, onerror=_ignore_missing)
        for path, stat in self._walk(prefix):
            match = _TEMP_RE.fullmatch(path.name)
            if not match:
                continue
            key = self._key(path.with_name(match.group(1)))
            if key.startswith(prefix) and datetime.fromtimestamp(stat.st_mtime, UTC) < older_than:
                stale.append(key)
                if not dry_run:
                    with _os_errors("abort an upload"), suppress(FileNotFoundError):
                        path.unlink()
                    self._prune_empty_dirs(path.parent)
        return stale

    # -- the container ----------------------------------------------------------

    def disk_usage(self) -> DiskUsage:
        with _os_errors("measure the disk"):
            usage = shutil.disk_usage(self.root)
        return DiskUsage(str(self.root), usage.free, usage.total)

    def presigned_get_url(
        self, key: str, expires_s: int, response_headers: Mapping[str, str]
    ) -> str | None:
        return None  # files on this machine's disk have no address of their own

    def ensure_bucket(self) -> bool:
        with _os_errors("create the data directory"):
            if self.root.is_dir():
                return False
            self.root.mkdir(parents=True, exist_ok=True)
            _fsync_dir(self.root.parent)
        return True

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageUnavailable(f"Data directory {self.root} does not exist")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"Data directory {self.root} is not writable")
