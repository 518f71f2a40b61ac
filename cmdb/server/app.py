"""The app factory: one store (one Neo4j driver) per process, opened and closed by the
lifespan; routers per resource; the GraphQL API; the impact map page."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from cmdb.api.routers import ROUTERS
from cmdb.auth.backends import tokens_for
from cmdb.auth.tokens import BaseTokenStore
from cmdb.config import Settings, load_settings
from cmdb.gql.router import mount_graphql
from cmdb.store.contract import GraphStore
from cmdb.store.factory import open_store
from cmdb.web import errors, logredact
from cmdb.web.docs import mount_docs
from cmdb.web.jsondepth import JsonDepthMiddleware
from cmdb.web.metrics import METRICS_PATH, MetricsEndpoint, timed
from cmdb.web.middleware import BodyLimitMiddleware, RequestIdMiddleware
from cmdb.web.observe import ObserveMiddleware, RouteTemplates
from cmdb.web.ratelimit import RateLimitMiddleware, RateLimits
from cmdb.web.responses import OrjsonResponse
from cmdb.web.ui import mount_ui

log = logging.getLogger("cmdb.api")

API_PREFIX = "/api/v1"
# Worker threads for store calls, per store kind (see the lifespan).
STORE_THREADS = {"embedded": 4, "neo4j": 8}
DEFAULT_STORE_THREADS = 8
# Allocations between two collections of the first generation (CPython's default: 700).
GC_FIRST_GENERATION = 20_000
LOCAL_DEV_WARNING = (
    "AUTHENTICATION IS OFF (CMDB_AUTH_DISABLED=true): every request acts as admin. "
    "Local development only; never expose this server."
)


@cache
def _api_routes() -> tuple[BaseRoute, ...]:
    """The REST routers under API_PREFIX, included once per process.

    FastAPI analyses every route's dependencies (signatures, parameter and response models)
    for each router that includes it, at its first request: about 80 ms for the API's
    routes, per app. The apps of one process (one per test in the suite) share these
    included routers, so the analysis is made once. They are included as the app's own
    router would include them: its default response class, no dependencies of its own, and
    no dependency overrides (the API uses none)."""
    shared = APIRouter(default_response_class=OrjsonResponse)
    for router in ROUTERS:
        shared.include_router(router, prefix=API_PREFIX)
    return tuple(shared.routes)


def _settle_heap() -> None:
    """A serving process's heap, once it is up: what is alive now (modules, the routes,
    the store and its graph index) lives as long as the process, and each request makes
    thousands of short-lived objects and almost no reference cycles. Frozen, the
    long-lived part is left out of every collection; a larger first generation lets a
    request's objects be freed by reference counting before a collection looks at them.
    Only for a process that serves (``cmdb serve``), never for an app made in a caller's
    process (the tests')."""
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_FIRST_GENERATION, second, third)


def create_app(
    settings: Settings | None = None,
    *,
    store: GraphStore | None = None,
    tokens: BaseTokenStore | None = None,
    serving: bool = False,
) -> FastAPI:
    """An app over ``store`` (opened from ``settings`` when not given, and then closed at
    shutdown; a given store stays the caller's to close). ``serving``: the app is what this
    process serves (``cmdb serve``), so its heap is settled once it is up (_settle_heap)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = timed(store if store is not None else open_store(settings))
        if owned:
            _share_state(app, settings, tokens)
        if serving:
            _settle_heap()
        # Store calls run in the thread pool, and the embedded store's are Python holding
        # the GIL: 40 threads (anyio's default) only queue for it, starve the event loop
        # and pay a context switch each. A few threads keep the cores busy; Neo4j calls
        # wait on the server too, so more of them overlap usefully. Not too many: a heavy
        # request shares the GIL with every runnable thread, and under 50 readers 16 threads
        # a worker gave an impact p99 of 436-594 ms where 8 gave 373-480 ms, at the same
        # throughput (bench/api_load.py, ABBA, 2026-12-07).
        to_thread.current_default_thread_limiter().total_tokens = STORE_THREADS.get(
            app.state.store.kind, DEFAULT_STORE_THREADS
        )
        if settings.auth_disabled:
            log.warning(LOCAL_DEV_WARNING)
        stop_worker = _start_webhook_worker(app.state.store, settings)
        try:
            yield
        finally:
            stop_worker()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="graph-cmdb",
        version="0.1.0",
        summary="A configuration management database and impact-analysis engine on a graph",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        routes=list(_api_routes()),
        openapi_url=f"{API_PREFIX}/openapi.json",
        # /docs and /redoc come from cmdb.web.docs, on local assets (FastAPI's use a CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.tokens = tokens
    app.state.rate_limits = RateLimits.per_minute(settings.token_rate_per_min)
    # A store handed in is usable before the lifespan runs (tests without a server).
    if store is not None:
        app.state.store = timed(store)
        _share_state(app, settings, tokens)
    errors.install(app)
    _mount_extras(app, settings)
    # Secrets never reach a log, whichever library logs (reliability 19).
    password = settings.neo4j_password
    logredact.install(password.get_secret_value() if password else "")
    # Inside the body limit: the depth guard reads a body already capped in size.
    app.add_middleware(JsonDepthMiddleware, max_depth=settings.max_json_depth)
    app.add_middleware(
        RateLimitMiddleware,
        limits=app.state.rate_limits,
        credential_paths=(f"{API_PREFIX}/auth", f"{API_PREFIX}/tokens"),
    )
    # Added last = outermost: the request id exists before anything can fail; every
    # request is measured and logged once it has an id, a refused body included.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObserveMiddleware, templates=RouteTemplates(app.router.routes))
    app.add_middleware(RequestIdMiddleware)
    return app


def _share_state(app: FastAPI, settings: Settings, tokens: BaseTokenStore | None) -> None:
    """Tokens (unless handed in) and rate limits live where the store does: with Neo4j, on
    the database, so every server process on it agrees (docs/guides/operations.md)."""
    store = app.state.store
    app.state.tokens = tokens if tokens is not None else tokens_for(store, settings)
    if store.kind == "neo4j":
        from cmdb.web.shared_limits import Neo4jBuckets

        limits: RateLimits = app.state.rate_limits
        for name in ("credentials", "failures"):
            shared = Neo4jBuckets(
                store.driver, name, settings.token_rate_per_min, database=store.database
            )
            setattr(limits, name, shared)


def _start_webhook_worker(store: GraphStore, settings: Settings) -> Callable[[], None]:
    """With CMDB_WEBHOOKS_WORKER, the delivery worker in a thread of this process (one
    process of several is enough: see docs/guides/webhooks.md); what stops it."""
    if not settings.webhooks_worker:
        return lambda: None
    from cmdb.app.webhook_delivery import Worker, config_of

    worker = Worker(store, config_of(settings))
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run,
        args=(stop,),
        kwargs={"interval_s": settings.webhooks_interval_s},
        name="cmdb-webhooks",
        daemon=True,
    )
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=settings.webhooks_timeout_s + 5)
        worker.close()

    return halt


def _mount_extras(app: FastAPI, settings: Settings) -> None:
    """The GraphQL API, the web pages and the API docs (their modules own their routes)."""
    mount_graphql(app, settings)
    mount_ui(app)
    mount_docs(app, f"{API_PREFIX}/openapi.json", title=app.title)
    if settings.metrics_enabled:
        # For Prometheus, not a REST resource: outside /api/v1 and the OpenAPI document.
        metrics = MetricsEndpoint(settings)
        app.add_api_route(METRICS_PATH, metrics.__call__, methods=["GET"], include_in_schema=False)


def serving_app() -> FastAPI:
    """The app each ``cmdb serve --workers N`` process builds (uvicorn's factory): its
    settings from the environment."""
    return create_app(serving=True)
