"""Each request, measured and logged once: the HTTP metrics (``cmdb.web.metrics``) and
the access line (logger ``cmdb.access``; JSON fields in ``cmdb.web.logs``).

Pure ASGI, inside the request id middleware (the id exists) and outside the body limit
(a 413 is counted too). The route is the matched route's template, not the raw path, so
ids in paths add no time series: ``/api/v1/cis/{ref}``, ``/graphql``; the static files
count as their mount, ``/static``; a path nothing matches as ``unmatched``.
"""

from __future__ import annotations

import logging
from time import perf_counter

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmdb.web.logredact import REDACTOR
from cmdb.web.logs import ACCESS_LOGGER
from cmdb.web.metrics import HTTP_REQUESTS, HTTP_SECONDS, METRICS_PATH, UNMATCHED

access = logging.getLogger(ACCESS_LOGGER)

# A client may send any token as a method: others count as one label.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Probes and scrapes come every few seconds: their lines are debug, not info.
QUIET_ROUTES = frozenset(
    {METRICS_PATH, "/api/v1/health", "/api/v1/ready", "/api/v1/health/live", "/api/v1/health/ready"}
)


class RouteTemplates:
    """A matched route's full template. Starlette leaves the matched route in
    ``scope["route"]``, but a route of an included router knows only its own part of
    the path (``/cis/{ref}``); the app's route contexts know the whole."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes
        self._by_route: dict[int, str] | None = None

    def _table(self) -> dict[int, str]:
        # Built at the first request: every route has been added by then.
        if self._by_route is None:
            table: dict[int, str] = {}
            for rc in iter_route_contexts(self.routes):
                path = rc.path_format
                if path is not None:
                    table.setdefault(id(rc.original_route), path)
            self._by_route = table
        return self._by_route

    def of(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            found = self._table().get(id(route))
            if found is not None:
                return found
        # A mount (the static files) leaves no route of its own, but its path prefix.
        mount = str(scope.get("root_path") or "")[len(str(scope.get("app_root_path") or "")) :]
        return mount or UNMATCHED


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, templates: RouteTemplates) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # unless an answer starts: an exception escaping is a 500 outside

        async def send_watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_watched)
        finally:
            self._record(scope, status, perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        method = str(scope.get("method", ""))
        method = method if method in METHODS else "other"
        route = self.templates.of(scope)
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_SECONDS.labels(method, route).observe(seconds)
        level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
        if not access.isEnabledFor(level):
            return
        client = scope.get("client")
        # Fields given as ``extra`` bypass the redacting record factory.
        path = REDACTOR(str(scope.get("path", "")))
        ms = round(seconds * 1000, 2)
        access.log(
            level,
            "%s %s %s %.2f ms",
            method,
            path,
            status,
            ms,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": ms,
                "client": client[0] if client else None,
            },
        )
