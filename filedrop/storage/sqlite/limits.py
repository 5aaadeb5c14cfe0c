"""Rate-limit counters, one per caller and time window."""

from __future__ import annotations

import time

from .connection import SqliteDatabase

_PRUNE_EVERY = 256  # rate-limit hits between sweeps of expired windows


class SqliteLimits(SqliteDatabase):
    def hit(self, bucket: str, window_start: int, window_s: int, n: int = 1) -> int:
        with self._write("count a request", synced=False) as conn:
            conn.execute(
                "INSERT INTO rate_limits (bucket, window_start, window_end, hits)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + excluded.hits",
                (bucket, window_start, window_start + window_s, n),
            )
            (count,) = conn.execute(
                "SELECT hits FROM rate_limits WHERE bucket = ? AND window_start = ?",
                (bucket, window_start),
            ).fetchone()
            if next(self._hits) % _PRUNE_EVERY == 0:
                conn.execute("DELETE FROM rate_limits WHERE window_end < ?", (int(time.time()),))
        return int(count)
