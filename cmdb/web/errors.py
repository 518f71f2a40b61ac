"""The one place errors become HTTP responses.

Every error body has the same shape (``ErrorOut``): a stable ``type``, a message a person
can act on, ``where`` (the field, file or line at fault) and the request id that ties the
response to the server's log. The project's errors say what was wrong with the input; an
unexpected exception is logged with its traceback and reaches the client only as a
generic message plus the request id (reliability 19).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from cmdb.auth.tokens import Unauthenticated
from cmdb.domain.errors import (
    AmbiguousReference,
    CmdbError,
    Forbidden,
    ForbiddenRelationship,
    HistoryIsAppendOnly,
    IdentityConflict,
    InvalidInput,
    NotFound,
    SchemaNotReady,
    StoreUnavailable,
    WriteConflict,
)
from cmdb.web.responses import OrjsonResponse

log = logging.getLogger("cmdb.api")

# Most specific first: the first isinstance match wins.
STATUS: tuple[tuple[type[CmdbError], int, str], ...] = (
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (AmbiguousReference, 409, "ambiguous_reference"),
    (IdentityConflict, 409, "identity_conflict"),
    (WriteConflict, 409, "write_conflict"),
    (HistoryIsAppendOnly, 405, "history_is_append_only"),
    (ForbiddenRelationship, 422, "forbidden_relationship"),
    (InvalidInput, 422, "invalid_input"),
    (SchemaNotReady, 503, "schema_not_ready"),
    (StoreUnavailable, 503, "store_unavailable"),
    (CmdbError, 400, "error"),
)


class ErrorDetail(BaseModel):
    type: str
    message: str
    where: str | None = None
    candidates: list[str] | None = None
    request_id: str | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


def request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else None


def status_of(exc: CmdbError) -> tuple[int, str]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 400, "error"  # pragma: no cover - CmdbError is the last row


def error_response(
    request: Request,
    status: int,
    kind: str,
    message: str,
    *,
    where: str | None = None,
    candidates: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> OrjsonResponse:
    body = ErrorOut(
        error=ErrorDetail(
            type=kind,
            message=message,
            where=where,
            candidates=candidates,
            request_id=request_id(request),
        )
    )
    return OrjsonResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _cmdb_error(request: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, CmdbError)
    status, kind = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    candidates = exc.candidates if isinstance(exc, AmbiguousReference) else None
    if status >= 500:
        log.warning("request %s: %s", request_id(request), kind)
    return error_response(
        request, status, kind, exc.message, where=exc.where, candidates=candidates, headers=headers
    )


async def _validation_error(request: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ())]
    where = ".".join(loc) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(request, 422, "invalid_input", message, where=where)


async def _http_error(request: Request, exc: Exception) -> OrjsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    kind = kinds.get(exc.status_code, "http_error")
    return error_response(
        request,
        exc.status_code,
        kind,
        str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected(request: Request, exc: Exception) -> OrjsonResponse:
    log.exception("request %s failed", request_id(request))
    return error_response(
        request, 500, "internal_error", "internal error; quote the request id to the operator"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(CmdbError, _cmdb_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
