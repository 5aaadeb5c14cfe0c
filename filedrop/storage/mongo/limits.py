"""Rate-limit counters, one per caller and time window."""

from __future__ import annotations

from pymongo import ReturnDocument

from .connection import MongoDatabase, _mongo_errors, _racing_upsert


class MongoLimits(MongoDatabase):
    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        window = {"_id": f"{bucket}@{window_start}"}
        update = {"$inc": {"n": n}, "$setOnInsert": {"window_end": window_start + window_s}}
        with _mongo_errors("count a request"):
            doc = _racing_upsert(
                lambda upsert: self._limits.find_one_and_update(
                    window, update, upsert=upsert, return_document=ReturnDocument.AFTER
                )
            )
            self._hits += 1
            if doc is None:  # upsert=True always returns a document; be explicit anyway
                return n
            if self._hits % self._CLEANUP_EVERY == 0:
                # No TTL index: FerretDB v1 has none, so expired windows are swept here.
                self._limits.delete_many({"window_end": {"$lt": window_start}})
        return int(doc["n"])
