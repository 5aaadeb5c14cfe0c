"""The MongoDB metadata store's base: its connection and the helpers every aggregate shares."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from ...errors import DatabaseUnavailable

log = logging.getLogger("filedrop.mongo")


_T = TypeVar("_T")


@contextmanager
def _mongo_errors(action: str) -> Iterator[None]:
    try:
        yield
    except ConnectionFailure as exc:  # includes timeouts and AutoReconnect
        log.warning("MongoDB %s failed: %s", action, exc)
        raise DatabaseUnavailable(f"The metadata database is unreachable ({action})") from exc
    except PyMongoError as exc:
        log.warning("MongoDB %s failed: %s", action, exc)
        raise DatabaseUnavailable(f"The metadata database failed to {action}") from exc


def _racing_upsert(write: Callable[[bool], _T]) -> _T:
    """``write(upsert=True)``. When two first writes race to create the document,
    FerretDB fails one with a duplicate key: the document exists by then, and the
    same write without upsert applies ours."""
    try:
        return write(True)
    except DuplicateKeyError:
        return write(False)


def _utc(value: datetime) -> datetime:
    # pymongo returns naive datetimes unless the client is tz_aware; both are UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


_ROOT = "/"


def _live_query(live_at: datetime) -> dict[str, Any]:
    return {"$or": [{"expires_at": None}, {"expires_at": {"$gt": live_at}}]}


class MongoDatabase:
    """The database and its collections; each aggregate's mixin builds on these."""

    name = "mongo"
    _CLEANUP_EVERY = 500  # rate-limit hits between sweeps of expired windows

    def __init__(self, db: Database[Any]) -> None:
        self._files: Collection[Any] = db["files"]
        self._users: Collection[Any] = db["users"]
        self._keys: Collection[Any] = db["api_keys"]
        self._multiparts: Collection[Any] = db["s3_multiparts"]
        self._parts: Collection[Any] = db["s3_parts"]
        self._limits: Collection[Any] = db["rate_limits"]
        self._uploads: Collection[Any] = db["uploads"]
        # Download counts live apart from the file records (see record_access).
        self._access: Collection[Any] = db["file_access"]
        self._folders: Collection[Any] = db["folders"]
        self._links: Collection[Any] = db["links"]
        self._link_counts: Collection[Any] = db["link_counts"]
        self._link_claims: Collection[Any] = db["link_claims"]
        # One document per one-time data migration done (its _id names it).
        self._migrations: Collection[Any] = db["migrations"]
        self._db = db
        self._quotas: dict[str, int] = {}  # user_id -> quota_bytes last read; see reserve()
        self._hits = 0

    def describe(self) -> str:
        return f"MongoDB database {self._db.name!r}"

    @staticmethod
    def _upsert(collection: Collection[Any], key: str, update: dict[str, Any]) -> None:
        _racing_upsert(lambda upsert: collection.update_one({"_id": key}, update, upsert=upsert))

    def check(self) -> None:
        with _mongo_errors("answer a ping"):
            self._db.command("ping")
