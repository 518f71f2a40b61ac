"""``/cis``: list, create (or upsert by identifiers), read, change, retire; neighbours and
history of one CI.

``{ref}`` is an id, a unique identifier ``kind=value``, ``Class:name`` or a unique name
(ambiguous: 409 with the candidates, each as ``Class:name``). Routes under
``/cis/{ref}/...`` come before ``/cis/{ref}`` because a reference may contain a slash
(``cloud_id=harbourpay:merchant/SMF-0042/gateway``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cmdb.api.models import (
    CIHistoryOut,
    CIIn,
    CIOut,
    CIPageOut,
    CIPatchIn,
    CIWriteOut,
    NeighbourOut,
)
from cmdb.api.pagination import Cursor, Limit, filtered_page
from cmdb.api.routers._shared import AsOf, Types, caller, instant, type_names
from cmdb.app import cis
from cmdb.app.scope import Visibility
from cmdb.domain.model import CI, LifecycleStatus
from cmdb.store.contract import Direction, GraphStore, Neighbour
from cmdb.web.deps import Editor, Reader, Store, Visible
from cmdb.web.responses import json_answer, page_answer

router = APIRouter(tags=["cis"])


class RetireStatus(StrEnum):
    WITHDRAWN = "withdrawn"
    DISPOSED = "disposed"


@router.get("/cis", operation_id="listCis", response_model=CIPageOut)
async def list_cis(
    _: Reader,
    store: Store,
    vis: Visible,
    limit: Limit,
    cursor: Cursor = None,
    ci_class: Annotated[
        str | None, Query(alias="class", description="a CI class; subclasses included")
    ] = None,
    status: Annotated[list[LifecycleStatus] | None, Query(description="repeatable")] = None,
    environment: str | None = None,
    owner: str | None = None,
    location: str | None = None,
    name: Annotated[str | None, Query(description="exact name")] = None,
    name_contains: Annotated[
        str | None,
        Query(description="any case; the best matches first: exact name, prefix, word, substring"),
    ] = None,
    source: Annotated[str | None, Query(description="seen by this source")] = None,
) -> Response:
    """CIs ordered by id, filtered, a page at a time; with ``name_contains``, the best
    matches first (services, applications and hosts before ports and packages)."""
    flt = cis.ci_filter(
        ci_class=ci_class,
        status=status or None,
        environment=environment,
        owner=owner,
        location=location,
        name=name,
        name_contains=name_contains,
        source=source,
    )

    def fetch(n: int, at: str | None) -> tuple[list[CI], str | None]:
        page = store.list_cis(flt, limit=n, cursor=at)
        return page.items, page.next_cursor

    keep = None if vis.unrestricted else (lambda c: vis.allows(c.id))

    def page() -> Response:
        items, nxt = filtered_page(fetch, keep, lambda c: c.id, limit=limit, cursor=cursor)
        return page_answer(CI, items, nxt)

    # One thread-pool hop for the store and the JSON (a sync route takes two, and has its
    # answer validated again against the response model).
    return await run_in_threadpool(page)


def _write_out(done: cis.CIWrite) -> CIWriteOut:
    return CIWriteOut.model_validate({"outcome": done.outcome, "ci": done.ci})


@router.post(
    "/cis",
    operation_id="createCi",
    response_model=CIWriteOut,
    status_code=201,
    responses={200: {"model": CIWriteOut, "description": "an existing CI, updated or unchanged"}},
)
def create_ci(
    body: CIIn,
    principal: Editor,
    store: Store,
    vis: Visible,
    request: Request,
    response: Response,
) -> CIWriteOut:
    """Create a CI (201), or update the one a unique identifier points at (200)."""
    fields: dict[str, Any] = body.model_dump(exclude_unset=True, by_alias=True)
    fields["identifiers"] = list(body.identifiers)
    done = cis.upsert(store, caller(principal, request), vis, fields)
    if done.outcome != "created":
        response.status_code = 200
    return _write_out(done)


@router.get(
    "/cis/{ref:path}/neighbours", operation_id="listCiNeighbours", response_model=list[NeighbourOut]
)
async def neighbours(
    ref: str,
    _: Reader,
    store: Store,
    vis: Visible,
    direction: Direction = Direction.BOTH,
    types: Types = None,
    as_of: AsOf = None,
) -> Response:
    """The CIs one relationship away (out: this CI is the source; in: the target)."""
    names, at = type_names(types), instant(as_of)

    def found() -> Response:
        near = cis.neighbours(store, vis, ref, direction=direction, types=names, as_of=at)
        return json_answer(list[Neighbour], near)

    return await run_in_threadpool(found)


@router.get("/cis/{ref:path}/history", operation_id="getCiHistory", response_model=CIHistoryOut)
def ci_history(ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None) -> CIHistoryOut:
    """Every change to a CI; with as_of, the CI as it was then and its history up to then."""
    at = instant(as_of)
    ci, rows = cis.history(store, vis, ref, as_of=at)
    return CIHistoryOut.model_validate({"as_of": at, "ci": ci, "history": rows})


@router.get("/cis/{ref:path}", operation_id="getCi", response_model=CIOut)
async def get_ci(ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None) -> Response:
    """One CI as it is, or as it was at as_of (404 if it did not exist then)."""
    # The busiest read: one thread-pool hop for the store and the JSON, not two (a sync
    # route also sends its response's validation to the pool).
    return await run_in_threadpool(_get_ci, store, vis, ref, instant(as_of))


def _get_ci(store: GraphStore, vis: Visibility, ref: str, at: datetime | None) -> Response:
    return json_answer(CI, cis.get(store, vis, ref, as_of=at))


@router.patch("/cis/{ref:path}", operation_id="updateCi", response_model=CIWriteOut)
def update_ci(
    ref: str,
    body: CIPatchIn,
    principal: Editor,
    store: Store,
    vis: Visible,
    request: Request,
) -> CIWriteOut:
    """Change the fields sent; the others stay. Every change lands in history."""
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    return _write_out(cis.update(store, caller(principal, request), vis, ref, fields))


@router.delete("/cis/{ref:path}", operation_id="retireCi", response_model=CIWriteOut)
def retire_ci(
    ref: str,
    principal: Editor,
    store: Store,
    vis: Visible,
    request: Request,
    status: RetireStatus = RetireStatus.WITHDRAWN,
) -> CIWriteOut:
    """Retire a CI (withdrawn or disposed). Nothing is deleted: the CI and its history stay."""
    done = cis.retire(store, caller(principal, request), vis, ref, LifecycleStatus(status.value))
    return _write_out(done)
