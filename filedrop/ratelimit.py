"""Fixed-window rate limits, counted in the shared database so every worker and
instance sees the same numbers (SPEC §4)."""

from __future__ import annotations

import time

from .errors import RateLimited
from .storage.metadata import RateLimitStore


class RateLimiter:
    def __init__(self, store: RateLimitStore, limit: int, window_s: int) -> None:
        self.store = store
        self.limit = limit
        self.window_s = max(1, window_s)

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def check(self, bucket: str) -> None:
        """Count one request for ``bucket``; raise RateLimited past the limit."""
        if not self.enabled:
            return
        now = time.time()
        window_start = int(now // self.window_s) * self.window_s
        count = self.store.hit(bucket, window_start, self.window_s)
        if count > self.limit:
            retry_after = int(window_start + self.window_s - now) + 1
            raise RateLimited(
                f"More than {self.limit} requests in {self.window_s} s; slow down",
                retry_after=retry_after,
            )
