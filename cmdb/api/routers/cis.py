"""``/cis``: list, create (or upsert by identifiers), read, change, retire; neighbours and
history of one CI.

``{ref}`` is an id, a unique identifier ``kind=value`` or a unique name (ambiguous: 409
with the candidates). Routes under ``/cis/{ref}/...`` come before ``/cis/{ref}`` because a
reference may contain a slash (``cloud_id=harbourpay:merchant/SMF-0042/gateway``).
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
from cmdb.api.routers._shared import (
    AsOf,
    Types,
    apply,
    instant,
    resolve_visible,
    type_names,
    validated,
)
from cmdb.app.scope import Visibility
from cmdb.domain.changeset import CIRef, CIRetire, CIUpsert
from cmdb.domain.classes import check_class
from cmdb.domain.errors import NotFound
from cmdb.domain.identifiers import natural_key
from cmdb.domain.model import CI, LifecycleStatus
from cmdb.store.contract import CIFilter, Direction, GraphStore, Neighbour
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
    name_contains: str | None = None,
    source: Annotated[str | None, Query(description="seen by this source")] = None,
) -> Response:
    """CIs ordered by id, filtered, a page at a time."""
    if ci_class is not None:
        check_class(ci_class, where="class")
    flt = CIFilter(
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


def _write_out(outcome: str, ci: CI) -> CIWriteOut:
    return CIWriteOut.model_validate({"outcome": outcome, "ci": ci})


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
    idents = list(body.identifiers)
    if not any(i.unique for i in idents):
        idents.append(natural_key(body.ci_class, body.name))
    fields["identifiers"] = idents
    up = validated(CIUpsert, fields)
    if not vis.unrestricted:
        # A scoped token may update a CI of its scope, never create one: both refusals
        # read alike, so nothing tells whether the identifier exists elsewhere.
        found = store.find_by_identifiers([i for i in idents if i.unique])
        matched = {c.id for cis in found.values() for c in cis}
        if not matched or not all(vis.allows(i) for i in matched):
            raise NotFound("no CI of this token's scope has these identifiers", where="identifiers")
    result = apply(store, principal, request, ci_upserts=[up])
    if not result.created:
        response.status_code = 200
    outcome = "created" if result.created else "updated" if result.updated else "unchanged"
    return _write_out(outcome, store.get_ci(result.ci_ids[0]))


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
        ci = resolve_visible(store, vis, ref)
        near = store.neighbours(ci.id, direction=direction, types=names, as_of=at)
        return json_answer(list[Neighbour], [n for n in near if vis.allows(n.ci.id)])

    return await run_in_threadpool(found)


@router.get("/cis/{ref:path}/history", operation_id="getCiHistory", response_model=CIHistoryOut)
def ci_history(ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None) -> CIHistoryOut:
    """Every change to a CI; with as_of, the CI as it was then and its history up to then."""
    ci = resolve_visible(store, vis, ref)
    at = instant(as_of)
    rows = store.history(ci.id)
    if at is not None:
        ci = store.get_ci(ci.id, as_of=at)
        rows = [h for h in rows if h.at <= at]
    return CIHistoryOut.model_validate({"as_of": at, "ci": ci, "history": rows})


@router.get("/cis/{ref:path}", operation_id="getCi", response_model=CIOut)
async def get_ci(ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None) -> Response:
    """One CI as it is, or as it was at as_of (404 if it did not exist then)."""
    # The busiest read: one thread-pool hop for the store and the JSON, not two (a sync
    # route also sends its response's validation to the pool).
    return await run_in_threadpool(_get_ci, store, vis, ref, instant(as_of))


def _get_ci(store: GraphStore, vis: Visibility, ref: str, at: datetime | None) -> Response:
    ci = resolve_visible(store, vis, ref)
    return json_answer(CI, ci if at is None else store.get_ci(ci.id, as_of=at))


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
    ci = resolve_visible(store, vis, ref)
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    fields.update({"id": ci.id, "class": ci.ci_class, "name": fields.get("name", ci.name)})
    result = apply(store, principal, request, ci_upserts=[validated(CIUpsert, fields)])
    outcome = "updated" if result.updated else "unchanged"
    return _write_out(outcome, store.get_ci(ci.id))


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
    ci = resolve_visible(store, vis, ref)
    op = CIRetire(ref=CIRef(id=ci.id), status=LifecycleStatus(status.value))
    result = apply(store, principal, request, ci_retires=[op])
    return _write_out("retired" if result.retired else "unchanged", store.get_ci(ci.id))
