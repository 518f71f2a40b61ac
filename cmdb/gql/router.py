"""``/graphql``: Strawberry's FastAPI router with the project's rules around it.

In order, for each request:
1. POST bodies must be ``application/json``: a form or text/plain POST (what a page on
   another site can send without a CORS preflight) is refused with 415 (CSRF).
2. The caller is authenticated (401 for a missing, forged or expired token, GET and
   POST alike), except for the GraphiQL page itself (see :mod:`cmdb.gql.graphiql`).
3. The body is parsed with a nesting limit, and a batch over the operations limit is
   refused (400), before anything is executed.
4. Strawberry parses (token limit) and validates (depth, aliases, cost, fragment cycles,
   introspection when switched off); mutations over GET are refused (405).
Only then do resolvers run. Errors of the transport keep the REST error shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIWebSocketRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData, GraphQLRequestProtocol
from strawberry.http.base import BaseRequestProtocol
from strawberry.types.unset import UNSET

from cmdb.config import Settings
from cmdb.gql.context import GqlContext
from cmdb.gql.graphiql import BOOT, CSP, PAGE
from cmdb.gql.schema import build_schema
from cmdb.web.deps import get_principal
from cmdb.web.errors import error_response, request_id

PATH = "/graphql"
_KINDS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 415: "unsupported"}


def _is_ide_page(request: BaseRequestProtocol | Request) -> bool:
    """A browser asking for the explorer: GET, HTML accepted, no query."""
    return (
        request.method == "GET"
        and request.query_params.get("query") is None
        and "text/html" in request.headers.get("accept", "")
    )


async def json_only(request: Request) -> None:
    # async: pure, and a sync dependency costs a thread-pool hop on every request.
    if request.method != "POST":
        return
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise StarletteHTTPException(
            415,
            f"GraphQL POSTs must be application/json, not {ctype or 'without a type'} "
            "(form and text/plain bodies are refused: CSRF protection)",
        )


async def get_context(request: Request) -> GqlContext:
    """The token check reads SQLite only for a token not verified lately, and then in
    the thread pool (a sync context getter would take a hop on every request)."""
    principal = None if _is_ide_page(request) else await get_principal(request)
    return GqlContext(
        store=request.app.state.store,
        settings=request.app.state.settings,
        principal=principal,
        request_id=request_id(request),
    )


def _depth(value: Any, limit: int) -> bool:
    """True when ``value`` nests deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, level + 1) for c in children)
    return False


class CmdbGraphQLRouter(GraphQLRouter[GqlContext, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            context_getter=get_context,
            dependencies=[Depends(json_only)],
            subscription_protocols=(),
            multipart_uploads_enabled=False,
            include_in_schema=False,
        )
        self.settings = settings
        # No subscriptions: no WebSocket endpoint at all.
        self.routes = [r for r in self.routes if not isinstance(r, APIWebSocketRoute)]
        if settings.graphiql:
            self.add_api_route(
                "/graphiql.js", _boot_script, methods=["GET"], include_in_schema=False
            )

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        return _is_ide_page(request)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": CSP})

    def decode_json(self, data: str | bytes) -> object:
        value = orjson.loads(data)
        limit = self.settings.max_json_depth
        if _depth(value, limit):
            raise HTTPException(400, f"JSON nested deeper than {limit} levels (max_json_depth)")
        return value

    def encode_json(self, data: object) -> bytes:
        # JSON scalars hold domain values as they are: enum keys, nested pydantic models.
        return orjson.dumps(data, default=_plain, option=orjson.OPT_NON_STR_KEYS)

    def _validate_batch_request(
        self, request_data: list[GraphQLRequestData], protocol: GraphQLRequestProtocol
    ) -> None:
        limit = self.settings.graphql_max_operations
        if len(request_data) > limit:
            raise HTTPException(
                400,
                f"{len(request_data)} operations in one request; the limit is {limit} "
                "(setting graphql_max_operations)",
            )
        super()._validate_batch_request(request_data, protocol)

    async def run(  # type: ignore[override]
        self, request: Request, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            status, reason = exc.status_code, exc.reason
            if status == 400 and "not allowed when using GET" in reason:
                status = 405
            return error_response(request, status, _KINDS.get(status, "http_error"), reason)


def _plain(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _boot_script() -> Response:
    return Response(BOOT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def mount_graphql(app: FastAPI, settings: Settings) -> None:
    from cmdb.web.ui import mount_static  # /static once, whoever asks first

    mount_static(app)
    app.include_router(CmdbGraphQLRouter(settings), prefix=PATH)
