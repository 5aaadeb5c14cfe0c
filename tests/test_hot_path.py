"""What keeps a small request cheap, checked by what it does rather than by timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from filedrop.ids import new_blob_key, new_file_id
from filedrop.storage.metadata import FileRecord, utcnow
from filedrop.storage.sqlite import SqliteMetadataStore

pytestmark = pytest.mark.unit


def _record() -> FileRecord:
    file_id, now = new_file_id(), utcnow()
    return FileRecord(
        file_id, "o", "a.txt", 1, "text/plain", now, now, "0" * 64, new_blob_key(file_id)
    )


def test_sqlite_counts_skip_the_fsync_and_other_writes_keep_it(tmp_path: Path) -> None:
    """A download count (and a rate-limit count) commits without an fsync: a power cut
    may lose the last few counts, never a file. Every other write stays fully synced."""
    meta = SqliteMetadataStore(tmp_path / "meta.sqlite3")
    record = _record()
    meta.insert(record)
    statements: list[str] = []
    with meta._conn() as conn:  # the one pooled connection the calls below reuse
        conn.set_trace_callback(statements.append)

    meta.record_access(record.file_id, utcnow())
    meta.hit("user:u", 0, 60)
    counted = [s.split()[0] if not s.startswith("PRAGMA") else s for s in statements]
    assert counted.count("PRAGMA synchronous = NORMAL") == 2
    assert counted[-1] == "PRAGMA synchronous = FULL"

    statements.clear()
    meta.insert(_record())
    assert not any("synchronous" in s for s in statements)
    with meta._conn() as conn:
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    counted_record = meta.get("o", record.file_id)
    assert counted_record is not None and counted_record.download_count == 1
