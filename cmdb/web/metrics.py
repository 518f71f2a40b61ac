"""Prometheus metrics, with the official ``prometheus_client`` (the exposition is the
library's, never written by hand).

What is counted, and where:

- HTTP requests by method, route template and status, and their latency by method and
  route (``cmdb.web.observe``); a path no route matches counts as ``unmatched``, so a
  scanner's random paths add no time series;
- store calls by operation (a :class:`TimedStore` around the store the app uses): their
  latency, and the calls that failed for a reason other than the caller's input;
- discovery runs pushed through the API, by format, source and outcome
  (``cmdb.app.observe``: applied, suspicious, dry_run, refused, failed);
- read at scrape time: open incidents by priority, whether the store answered that read,
  and build info.

Webhook deliveries are not counted: there are no webhooks yet.

The counters live in this process's default registry, or, under ``cmdb serve --workers N``
(``PROMETHEUS_MULTIPROC_DIR`` set before any worker starts), in files every worker writes
and ``/metrics`` adds up (prometheus_client's multiprocess mode: whichever worker answers
a scrape reports all of them; process_* metrics are then left out, as the library does).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import platform
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from importlib import metadata
from time import perf_counter
from typing import Any, cast

import anyio
from anyio import to_thread
from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from cmdb.app.observe import (
    DELIVERY_OUTCOMES,
    DeliveryOutcome,
    RunOutcome,
    on_delivery_attempt,
    on_run_finished,
)
from cmdb.config import Settings
from cmdb.domain.errors import CmdbError, SchemaNotReady, StoreUnavailable
from cmdb.domain.records import IncidentState
from cmdb.domain.service import Priority
from cmdb.store.contract import GraphStore
from cmdb.web.errors import error_response

log = logging.getLogger("cmdb.metrics")

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"

# Seconds. HTTP: Prometheus's defaults; the store's start lower (an embedded read is
# tens of microseconds).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# A *_created series per counter and histogram doubles what Prometheus stores for nothing
# a dashboard reads (rate() and increase() handle restarts without it).
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    "cmdb_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "cmdb_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)
STORE_SECONDS = Histogram(
    "cmdb_store_call_duration_seconds",
    "Time of one call to the store, by operation (a GraphStore method)",
    ["operation"],
    buckets=STORE_BUCKETS,
)
STORE_FAILURES = Counter(
    "cmdb_store_call_failures",
    "Store calls that raised for a reason other than the caller's input, by operation",
    ["operation"],
)
DISCOVERY_RUNS = Counter(
    "cmdb_discovery_runs",
    "Discovery runs pushed through the API, by format, source and outcome",
    ["format", "source", "outcome"],
)

WEBHOOK_DELIVERIES = Counter(
    "cmdb_webhook_deliveries",
    "Webhook delivery attempts made by this process's worker, by outcome: delivered; "
    "retrying (failed, another attempt scheduled); failed (failed, no attempt left)",
    ["outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "cmdb_webhook_delivery_duration_seconds",
    "Time of one webhook delivery attempt (the POST to the receiver)",
    buckets=HTTP_BUCKETS,
)

# The GraphStore methods a TimedStore times: every public method but close.
STORE_OPERATIONS = frozenset(
    name
    for name, value in vars(GraphStore).items()
    if not name.startswith("_") and callable(value) and name != "close"
)


def _count_run(fmt: str, source: str, outcome: RunOutcome) -> None:
    DISCOVERY_RUNS.labels(fmt, source, outcome).inc()


on_run_finished(_count_run)


def _count_delivery(outcome: DeliveryOutcome, seconds: float) -> None:
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_SECONDS.observe(seconds)


on_delivery_attempt(_count_delivery)
# Every outcome from the start, at 0: a dashboard's rate() sees the first failure.
for _outcome in DELIVERY_OUTCOMES:
    WEBHOOK_DELIVERIES.labels(_outcome)


# -- the store --------------------------------------------------------------------------------


def _failure(exc: Exception) -> bool:
    """A failure of the store, not an answer to the caller (NotFound, InvalidInput...)."""
    return not isinstance(exc, CmdbError) or isinstance(exc, StoreUnavailable | SchemaNotReady)


def _timed(operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
    seconds = STORE_SECONDS.labels(operation)
    failures = STORE_FAILURES.labels(operation)

    @wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if _failure(exc):
                failures.inc()
            raise
        finally:
            seconds.observe(perf_counter() - started)

    return timed


class TimedStore:
    """The store, each GraphStore method timed (``iter_history``: until its iterator is
    made, not drained); everything else passes through untouched."""

    def __init__(self, store: GraphStore) -> None:
        self.untimed = store

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.untimed, name)
        if name not in STORE_OPERATIONS or not callable(value):
            return value
        timed = _timed(name, value)
        # Kept on the instance: the next lookup finds it without coming back here.
        self.__dict__[name] = timed
        return timed


def timed(store: GraphStore) -> GraphStore:
    return store if isinstance(store, TimedStore) else cast(GraphStore, TimedStore(store))


def untimed(store: GraphStore) -> GraphStore:
    return store.untimed if isinstance(store, TimedStore) else store


# -- read at scrape time ----------------------------------------------------------------------


def _version() -> str:
    try:
        return metadata.version("graph-cmdb")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


VERSION = _version()


def open_incidents(store: GraphStore) -> dict[str, int]:
    """Open incidents by priority, every priority named (0 where none)."""
    counts = {p.value: 0 for p in Priority}
    for incident in store.list_incidents(open_only=True):
        if incident.state is IncidentState.OPEN:
            counts[incident.priority.value] = counts.get(incident.priority.value, 0) + 1
    return counts


class _ScrapeGauges(Collector):
    def __init__(self, store_kind: str, incidents: dict[str, int] | None) -> None:
        self.store_kind = store_kind
        self.incidents = incidents

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "cmdb_build_info",
            "graph-cmdb's version, Python's and the store in use (always 1)",
            labels=["version", "python_version", "store"],
        )
        info.add_metric([VERSION, platform.python_version(), self.store_kind], 1)
        yield info
        up = GaugeMetricFamily(
            "cmdb_store_up", "1 when the store answered this scrape's read, else 0"
        )
        up.add_metric([], 0 if self.incidents is None else 1)
        yield up
        if self.incidents is not None:
            gauge = GaugeMetricFamily(
                "cmdb_incidents_open", "Incidents open now, by priority", labels=["priority"]
            )
            for priority, n in sorted(self.incidents.items()):
                gauge.add_metric([priority], n)
            yield gauge


class _Chain(Collector):
    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for c in self.collectors:
            yield from c.collect()


def _process_collector(settings: Settings) -> Collector:
    if settings.prometheus_multiproc_dir is None:
        return REGISTRY
    path = str(settings.prometheus_multiproc_dir)
    return cast(Collector, MultiProcessCollector(None, path=path))  # type: ignore[no-untyped-call]


# -- /metrics ---------------------------------------------------------------------------------


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(request: Request, settings: Settings) -> Response | None:
    """With ``CMDB_METRICS_TOKEN``: that bearer token, from anywhere. Without: loopback
    clients only (a Prometheus on the same host, or a sidecar)."""
    token = settings.metrics_token
    if token is None:
        if _loopback(request):
            return None
        return error_response(
            request,
            403,
            "forbidden",
            "/metrics answers loopback clients only; set CMDB_METRICS_TOKEN to scrape from"
            " another host",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
        return None
    return error_response(
        request,
        401,
        "unauthenticated",
        "/metrics needs the metrics token (CMDB_METRICS_TOKEN) as a bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )


class MetricsEndpoint:
    """``GET /metrics``: the process's (or all workers') metrics and the scrape-time
    gauges, in the format the scraper asks for (Prometheus text or OpenMetrics)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process = _process_collector(settings)
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, request: Request) -> Response:
        refused = _refused(request, self.settings)
        if refused is not None:
            return refused
        store = untimed(request.app.state.store)
        incidents = await self._incidents(store)
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await to_thread.run_sync(
            encode, _Chain(self.process, _ScrapeGauges(store.kind, incidents))
        )
        return Response(body, headers={"Content-Type": content_type})

    async def _incidents(self, store: GraphStore) -> dict[str, int] | None:
        """The store's read, within the readiness timeout; ``None`` if it failed. One at a
        time per process: a hung read holds its thread, and later scrapes wait and time
        out instead of piling more threads onto a store that does not answer."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        try:
            with anyio.fail_after(self.settings.ready_timeout_s):
                return await to_thread.run_sync(
                    open_incidents, store, abandon_on_cancel=True, limiter=self._limiter
                )
        except TimeoutError:
            log.warning(
                "metrics: the store did not answer within %ss", self.settings.ready_timeout_s
            )
        except Exception:
            log.exception("metrics: the store's read failed")
        return None
