"""Find (and optionally repair) what a crash can leave behind (SPEC §3).

- orphan blobs: objects no record points to (an upload whose metadata write
  failed, a replaced or deleted file whose old blob could not be removed);
- missing blobs: records whose object is gone (content lost: the record is
  dropped on repair, since it can never be served);
- stale multipart uploads: parts of uploads that never completed.

Anything younger than the grace period may belong to a request still in
flight, so it is reported but never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .ids import BLOB_PREFIX
from .storage.blobs import BlobStore
from .storage.metadata import MetadataStore


@dataclass
class FsckReport:
    orphan_blobs: list[str] = field(default_factory=list)
    recent_unreferenced_blobs: list[str] = field(default_factory=list)
    missing_blobs: list[str] = field(default_factory=list)  # file ids
    stale_uploads: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not (self.orphan_blobs or self.missing_blobs or self.stale_uploads)

    def as_dict(self) -> dict[str, object]:
        return {
            "orphan_blobs": self.orphan_blobs,
            "recent_unreferenced_blobs": self.recent_unreferenced_blobs,
            "missing_blobs": self.missing_blobs,
            "stale_uploads": self.stale_uploads,
            "repaired": self.repaired,
            "clean": self.clean,
        }


def fsck(
    blobs: BlobStore, meta: MetadataStore, repair: bool = False, grace_s: int = 3600
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
    report.stale_uploads = blobs.abort_stale_uploads(BLOB_PREFIX, cutoff, dry_run=not repair)
    return report
