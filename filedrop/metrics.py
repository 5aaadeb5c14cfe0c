"""Prometheus metrics: requests, latency, bytes, backend calls, uploads in flight.

Each app has its own registry (tests build many apps). Under gunicorn with
several workers, set PROMETHEUS_MULTIPROC_DIR (prometheus_client's own
variable) so /metrics adds up every worker instead of showing one.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .errors import FileDropError

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "filedrop_http_requests",
            "Requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "filedrop_http_request_duration_seconds",
            "Time to the last byte of the response",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.bytes_in = Counter(
            "filedrop_http_bytes_in", "Request body bytes", ["route"], registry=r
        )
        self.bytes_out = Counter(
            "filedrop_http_bytes_out", "Response body bytes", ["route"], registry=r
        )
        self.backend_latency = Histogram(
            "filedrop_backend_call_duration_seconds",
            "S3 and database calls",
            ["backend", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.backend_errors = Counter(
            "filedrop_backend_errors",
            "S3 and database calls that failed",
            ["backend", "operation", "code"],
            registry=r,
        )
        self.active_uploads = Gauge(
            "filedrop_active_uploads",
            "Uploads and replaces in flight",
            registry=r,
            multiprocess_mode="livesum",
        )

    def exposition(self) -> bytes:
        """The text format, summed over gunicorn workers in multiprocess mode."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def observe_request(
        self, method: str, route: str, status: int, bytes_in: int, bytes_out: int, seconds: float
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
        if bytes_in:
            self.bytes_in.labels(route).inc(bytes_in)
        if bytes_out:
            self.bytes_out.labels(route).inc(bytes_out)


class Timed:
    """A store seen through a stopwatch: every method call is timed and its
    domain errors counted, under the store's ``name``. Attributes pass through."""

    def __init__(self, store: Any, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._store, attribute)
        if attribute.startswith("_") or not callable(value):
            return value
        return self._timed(attribute, value)

    def _timed(self, operation: str, method: Callable[..., Any]) -> Callable[..., Any]:
        backend = str(getattr(self._store, "name", "store"))
        latency = self._metrics.backend_latency.labels(backend, operation)
        errors = self._metrics.backend_errors

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            except FileDropError as exc:
                errors.labels(backend, operation, exc.code).inc()
                raise
            finally:
                latency.observe(time.perf_counter() - started)

        return call
