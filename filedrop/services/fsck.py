"""Find (and optionally repair) what a crash can leave behind.

- orphan blobs: objects no record points to (an upload whose metadata write
  failed, a replaced or deleted file whose old blob could not be removed);
- missing blobs: records whose object is gone (content lost: the record is
  dropped on repair, since it can never be served);
- stale multipart uploads: parts of uploads that never completed (but those of
  resumable uploads still alive, which ``purge-uploads`` expires);
- usage counters that differ from the sum of a user's files and the lengths of
  their unfinished resumable uploads (repair sets them).

Anything younger than the grace period may belong to a request still in
flight, so it is reported but never touched.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..ids import BLOB_PREFIX
from ..storage.blobs import BlobStore
from ..storage.metadata import FileStore, MultipartStore, UploadStore, UserStore


class FsckStore(FileStore, UploadStore, MultipartStore, UserStore, Protocol):
    """What fsck reads and repairs: every file record, upload and user."""


@dataclass
class FsckReport:
    orphan_blobs: list[str] = field(default_factory=list)
    recent_unreferenced_blobs: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)  # file ids
    stale_uploads: list[str] = field(default_factory=list)
    usage_mismatches: list[dict[str, object]] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (
            self.orphan_blobs or self.missing_blobs or self.stale_uploads or self.usage_mismatches
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "orphan_blobs": self.orphan_blobs,
            "recent_unreferenced_blobs": self.recent_unreferenced_blobs,
            "missing_blobs": self.missing_blobs,
            "stale_uploads": self.stale_uploads,
            "usage_mismatches": self.usage_mismatches,
            "repaired": self.repaired,
            "clean": self.clean,
        }


def fsck(
    blobs: BlobStore, meta: FsckStore, repair: bool = False, grace_s: int = 3600
) -> FsckReport:
    report = FsckReport(repaired=repair)
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_s)
    records = {r.blob_key: r for r in meta.iter_all()}
    seen: set[str] = set()
    for blob in blobs.iter_blobs(BLOB_PREFIX):
        seen.add(blob.key)
        if blob.key in records:
            continue
        if blob.last_modified >= cutoff:
            report.recent_unreferenced_blobs.append(blob.key)
            continue
        report.orphan_blobs.append(blob.key)
        if repair:
            blobs.delete(blob.key)
    for key, record in records.items():
        if key in seen:
            continue
        # The record may have been replaced since we read it: look again.
        current = meta.get(record.owner, record.file_id)
        if current is None or current.blob_key != key or blobs.exists(key):
            continue
        report.missing_blobs.append(record.file_id)
        if repair:
            meta.remove(record.file_id)
    # Resumable uploads live for days: their multipart uploads are purge-uploads' business.
    resumable = {u.blob_key for u in meta.iter_uploads() if not u.complete}
    resumable |= {u.blob_key for u in meta.list_multiparts(None)}  # S3 API uploads, too
    report.stale_uploads = blobs.abort_stale_uploads(
        BLOB_PREFIX, cutoff, dry_run=not repair, keep=resumable
    )
    _check_usage(meta, report, repair)
    return report


def _check_usage(meta: FsckStore, report: FsckReport, repair: bool) -> None:
    """bytes_used and file_count must equal the sums over the user's files.

    Counters of a user with uploads in flight can differ for a moment; run
    fsck --repair when the service is quiet.
    """
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for record in meta.iter_all():
        totals[record.owner][0] += record.file_size
        totals[record.owner][1] += 1
    for upload in meta.iter_uploads():
        if not upload.complete:  # its Upload-Length is reserved from creation to the end
            totals[upload.owner][0] += upload.length
    for user in meta.list_users():
        actual_bytes, actual_files = totals.get(user.user_id, [0, 0])
        if (user.bytes_used, user.file_count) != (actual_bytes, actual_files):
            report.usage_mismatches.append(
                {
                    "user_id": user.user_id,
                    "recorded": {"bytes_used": user.bytes_used, "file_count": user.file_count},
                    "actual": {"bytes_used": actual_bytes, "file_count": actual_files},
                }
            )
            if repair:
                meta.set_usage(user.user_id, actual_bytes, actual_files)
