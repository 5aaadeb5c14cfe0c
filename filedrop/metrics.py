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

_MAX_BOUND = 1000  # kinds of request whose labelled series are kept at hand
_RequestChildren = tuple[Any, Any, Any, Any]
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
        self._children: dict[tuple[str, str, int], _RequestChildren] = {}

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
        children = self._children.get((method, route, status))
        if children is None:
            children = self._bind(method, route, status)
        requests, latency, received, sent = children
        requests.inc()
        latency.observe(seconds)
        if bytes_in:
            received.inc(bytes_in)
        if bytes_out:
            sent.inc(bytes_out)

    def _bind(self, method: str, route: str, status: int) -> _RequestChildren:
        """The labelled series of one kind of request, looked up once: label lookups
        (a lock and a dict per metric) cost as much as the observations themselves."""
        children = (
            self.requests.labels(method, route, str(status)),
            self.latency.labels(method, route),
            self.bytes_in.labels(route),
            self.bytes_out.labels(route),
        )
        if len(self._children) >= _MAX_BOUND:  # methods are the client's to choose
            self._children.clear()
        self._children[(method, route, status)] = children
        return children


class Timed:
    """A store seen through a stopwatch: every method call is timed and its
    domain errors counted, under the store's ``name``. Attributes pass through."""

    def __init__(self, store: Any, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._backend = str(getattr(store, "name", "store"))
        self._latency: dict[str, Any] = {}

    def __getattr__(self, attribute: str) -> Any:
        # The store's attribute is looked up on every call, so a replaced method is seen.
        value = getattr(self._store, attribute)
        if attribute.startswith("_") or not callable(value):
            return value
        return functools.partial(self._call, attribute, value)

    def _call(self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        latency = self._latency.get(operation)
        if latency is None:
            latency = self._metrics.backend_latency.labels(self._backend, operation)
            self._latency[operation] = latency
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        except FileDropError as exc:
            self._metrics.backend_errors.labels(self._backend, operation, exc.code).inc()
            raise
        finally:
            latency.observe(time.perf_counter() - started)
