"""Fixed-window rate limits, counted in the shared database so every worker and
instance sees the same numbers.

A process does not write the shared counter once per request: it counts a small
block of requests at once (a lease) and lets that many through before it counts
again. The shared count therefore never falls behind what was let through, so no
caller ever gets past its limit, however many workers and instances serve it.
What a lease costs is the other way round: tokens a process has counted but not
used yet are gone for the others, so a caller may be refused up to a few requests
early. Leases shrink as the window fills up (a sixteenth of what is left, at most
``MAX_LEASE``), so near the limit they are one request each and the count is
exact; a limit under 32 per window is counted one request at a time throughout.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..errors import RateLimited
from ..storage.metadata import RateLimitStore

MAX_LEASE = 16
_LEASE_DIVISOR = 16  # a lease is at most this fraction of what is left of the window
_PRUNE_AT = 4096  # leases kept before those of past windows are dropped


@dataclass
class _Lease:
    window_start: int
    left: int  # requests counted in the store and not yet let through
    counted: int  # the store's count for the window when this lease was taken


class RateLimiter:
    def __init__(self, store: RateLimitStore, limit: int, window_s: int) -> None:
        self.store = store
        self.limit = limit
        self.window_s = max(1, window_s)
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def check(self, bucket: str) -> None:
        """Count one request for ``bucket``; raise RateLimited past the limit."""
        if not self.enabled:
            return
        now = time.time()
        window_start = int(now // self.window_s) * self.window_s
        counted = self._take(bucket, window_start)
        if counted is None:
            return
        size = self._lease_size(counted)
        count = self.store.hit(bucket, window_start, self.window_s, size)
        granted = min(size, self.limit - (count - size))
        if granted <= 0:
            retry_after = int(window_start + self.window_s - now) + 1
            raise RateLimited(
                f"More than {self.limit} requests in {self.window_s} s; slow down",
                retry_after=retry_after,
            )
        with self._lock:
            lease = self._leases.get(bucket)
            if lease is not None and lease.window_start == window_start:
                # Requests that ran out together each took a lease: keep every token.
                lease.left += granted - 1
                lease.counted = max(lease.counted, count)
                return
            if len(self._leases) >= _PRUNE_AT:
                self._prune(window_start)
            self._leases[bucket] = _Lease(window_start, granted - 1, count)

    def _take(self, bucket: str, window_start: int) -> int | None:
        """Let one request through on this process's lease (None), or say what the
        store had counted in this window when the lease ran out."""
        with self._lock:
            lease = self._leases.get(bucket)
            if lease is None or lease.window_start != window_start:
                return 0
            if lease.left > 0:
                lease.left -= 1
                return None
            return lease.counted

    def _lease_size(self, counted: int) -> int:
        return max(1, min(MAX_LEASE, (self.limit - counted) // _LEASE_DIVISOR))

    def _prune(self, window_start: int) -> None:
        """Forget past windows' leases; if as many callers are live in this one,
        forget them all (their unused tokens stay counted: fewer allowed, never more)."""
        past = [b for b, lease in self._leases.items() if lease.window_start != window_start]
        for bucket in past:
            del self._leases[bucket]
        if len(self._leases) >= _PRUNE_AT:
            self._leases.clear()
