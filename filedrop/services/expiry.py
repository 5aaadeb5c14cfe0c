"""Expiring files: when a file or link stops existing, and the purge that reclaims them.

An expired file is gone for every endpoint at once: reads check ``expires_at``
against the clock, so nothing waits for the purge. ``flask --app app purge``
then deletes expired files' metadata and blobs (metadata first, as any
delete), and with ``PURGE_UNACCESSED_DAYS`` also files nobody downloaded or
changed for that many days (pyBlobServer's rule), then the records of share
links that ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import InvalidRequest

if TYPE_CHECKING:
    from .files import FileService
    from .links import LinkService

# Far enough for anyone, near enough that the date arithmetic never overflows.
MAX_EXPIRES_IN = 100 * 365 * 24 * 3600
_PURGE_PAGE = 500


def parse_expiry(expires_in: object, expires_at: object, now: datetime) -> datetime | None:
    """The moment ``expires_in`` (seconds from now) or ``expires_at`` (ISO 8601) names.

    Accepts numbers, or strings as form fields and query parameters bring
    them; ``expires_at`` without a time zone is UTC. None when neither is given.
    """
    if expires_in is not None and expires_at is not None:
        raise InvalidRequest("Send expires_in or expires_at, not both")
    if expires_in is not None:
        seconds = _whole_number(expires_in)
        if seconds is None or not 1 <= seconds <= MAX_EXPIRES_IN:
            raise InvalidRequest(
                f"expires_in must be a whole number of seconds, 1 to {MAX_EXPIRES_IN}"
            )
        return _ms(now + timedelta(seconds=seconds))
    if expires_at is None:
        return None
    if not isinstance(expires_at, str):
        raise InvalidRequest("expires_at must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(expires_at.strip())
    except ValueError:
        raise InvalidRequest("expires_at must be an ISO 8601 date-time string") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment <= now:
        raise InvalidRequest("expires_at must be in the future")
    if moment > now + timedelta(seconds=MAX_EXPIRES_IN):
        raise InvalidRequest("expires_at is too far in the future")
    return _ms(moment)


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        return int(value.strip())
    return None


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class PurgeReport:
    expired_files: list[str] = field(default_factory=list)
    unaccessed_files: list[str] = field(default_factory=list)
    ended_links: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "expired_files": self.expired_files,
            "unaccessed_files": self.unaccessed_files,
            "ended_links": self.ended_links,
            "bytes_freed": self.bytes_freed,
            "dry_run": self.dry_run,
        }


def purge(
    files: FileService,
    links: LinkService,
    now: datetime,
    unaccessed_days: int = 0,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete expired files, files unaccessed for ``unaccessed_days`` (0: never), ended links.

    "Unaccessed" counts from the later of the last download and the last
    change, so a file just uploaded or replaced is never purged for it.
    A file replaced while the purge runs is left alone (the delete is
    conditional on the content the purge saw).
    """
    report = PurgeReport(dry_run=dry_run)
    cutoff = now - timedelta(days=unaccessed_days) if unaccessed_days > 0 else None
    after = ""
    while True:
        page, after_next = files.meta.purgeable(now, cutoff, after, _PURGE_PAGE)
        for record in page:
            found = report.expired_files if record.is_expired(now) else report.unaccessed_files
            if dry_run or files.discard_file(record, if_unchanged=True):
                found.append(record.file_id)
                report.bytes_freed += record.file_size
        if after_next is None:
            break
        after = after_next
    report.ended_links = links.purge(dry_run)
    return report
