"""Share links and their download claims."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from ..metadata import (
    LinkRecord,
    field_names,
)
from .connection import MongoDatabase, _live_query, _mongo_errors, _utc_or_none

log = logging.getLogger("filedrop.mongo")


# token_hash is the _id; the download count lives in link_counts.
_LINK_FIELDS = tuple(n for n in field_names(LinkRecord) if n not in {"token_hash", "downloads"})


def _link_from_doc(doc: dict[str, Any], downloads: int) -> LinkRecord:
    values: dict[str, Any] = {name: doc.get(name) for name in _LINK_FIELDS}
    for name in ("created_at", "expires_at", "revoked_at"):
        values[name] = _utc_or_none(values[name])
    return LinkRecord(token_hash=doc["_id"], downloads=downloads, **values)


class MongoLinks(MongoDatabase):
    def insert_link(self, link: LinkRecord) -> None:
        doc = {name: getattr(link, name) for name in _LINK_FIELDS}
        doc["_id"] = link.token_hash
        with _mongo_errors("store a link"):
            self._links.insert_one(doc)

    def get_link(self, token_hash: str) -> LinkRecord | None:
        with _mongo_errors("read a link"):
            doc = self._links.find_one({"_id": token_hash})
            links = self._with_counts([doc] if doc else [])
        return links[0] if links else None

    def find_link(self, owner: str, link_id: str) -> LinkRecord | None:
        with _mongo_errors("read a link"):
            doc = self._links.find_one({"owner": owner, "link_id": link_id})
            links = self._with_counts([doc] if doc else [])
        return links[0] if links else None

    def list_links(self, owner: str, file_id: str) -> list[LinkRecord]:
        with _mongo_errors("list links"):
            docs = list(
                self._links.find({"owner": owner, "file_id": file_id}).sort(
                    [("created_at", DESCENDING), ("_id", DESCENDING)]
                )
            )
            return self._with_counts(docs)

    def _with_counts(self, docs: list[dict[str, Any]]) -> list[LinkRecord]:
        if not docs:
            return []
        hashes = [doc["_id"] for doc in docs]
        counts = {
            c["_id"]: int(c.get("n", 0)) for c in self._link_counts.find({"_id": {"$in": hashes}})
        }
        return [_link_from_doc(doc, counts.get(doc["_id"], 0)) for doc in docs]

    def claim_download(self, link: LinkRecord, now: datetime) -> bool:
        with _mongo_errors("count a download"):
            slot = None
            if link.max_downloads is not None:
                slot = self._claim_slot(link, now)
                if slot is None:
                    return False
            # Checked after the slot is taken: a revocation that lands before this read
            # refuses the download; one after it came later than the download did.
            if not self._servable(link.token_hash, now):
                if slot is not None:
                    self._link_claims.delete_one({"_id": slot})
                return False
            try:
                self._upsert(self._link_counts, link.token_hash, {"$inc": {"n": 1}})
            except PyMongoError as exc:  # the claim stands; only the shown count lags
                log.warning("could not count a download of link %s: %s", link.link_id, exc)
        return True

    def _servable(self, token_hash: str, now: datetime) -> bool:
        """Whether the stored link is neither revoked nor expired by ``now``."""
        query = {"_id": token_hash, "revoked_at": None, **_live_query(now)}
        return self._links.find_one(query, {"_id": 1}) is not None

    def _claim_slot(self, link: LinkRecord, now: datetime) -> str | None:
        """Take download number k of a limited link by inserting ``<hash>#k``; its id.

        FerretDB runs a conditional update as a read and a separate write, so two
        requests could both pass a ``downloads < max`` guard (see tests/servers.py);
        an insert into a unique key is atomic there as on MongoDB: exactly one
        request inserts each k. The counter only says where to start looking.
        """
        assert link.max_downloads is not None
        for number in range(link.downloads + 1, link.max_downloads + 1):
            slot = f"{link.token_hash}#{number}"
            try:
                self._link_claims.insert_one({"_id": slot, "link": link.token_hash, "at": now})
            except DuplicateKeyError:
                continue
            return slot
        return None

    def revoke_link(self, owner: str, token_hash: str, at: datetime) -> LinkRecord | None:
        # Only revocation ever writes a link document (counts live apart), so on
        # FerretDB a download racing it cannot write the link back unrevoked.
        with _mongo_errors("revoke a link"):
            doc = self._links.find_one_and_update(
                {"_id": token_hash, "owner": owner, "revoked_at": None},
                {"$set": {"revoked_at": at}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                doc = self._links.find_one({"_id": token_hash, "owner": owner})
            links = self._with_counts([doc] if doc else [])
        return links[0] if links else None

    def scan_links(self, after: str, limit: int) -> list[LinkRecord]:
        with _mongo_errors("scan links"):
            docs = list(
                self._links.find({"_id": {"$gt": after}}).sort([("_id", ASCENDING)]).limit(limit)
            )
            return self._with_counts(docs)

    def delete_link(self, token_hash: str) -> None:
        with _mongo_errors("delete a link"):
            self._links.delete_one({"_id": token_hash})
            self._link_counts.delete_one({"_id": token_hash})
            self._link_claims.delete_many({"link": token_hash})
