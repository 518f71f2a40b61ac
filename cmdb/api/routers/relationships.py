"""``/relationships``: list, relate two CIs, read (as of), retire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cmdb.api.models import RelationshipIn, RelationshipOut, RelPageOut, RelWriteOut
from cmdb.api.pagination import Cursor, Limit, filtered_page
from cmdb.api.routers._shared import AsOf, caller, instant
from cmdb.app import cis
from cmdb.domain.model import Relationship
from cmdb.web.deps import Editor, Reader, Store, Visible

router = APIRouter(tags=["relationships"])


@router.get("/relationships", operation_id="listRelationships", response_model=RelPageOut)
def list_relationships(
    _: Reader,
    store: Store,
    vis: Visible,
    limit: Limit,
    cursor: Cursor = None,
    type_: Annotated[str | None, Query(alias="type", description="a type or phrase")] = None,
    include_retired: bool = False,
) -> RelPageOut:
    """Relationships ordered by id, a page at a time."""
    type_name = cis.type_name(type_)

    def fetch(n: int, at: str | None) -> tuple[list[Relationship], str | None]:
        page = store.list_relationships(
            type_name=type_name, include_retired=include_retired, limit=n, cursor=at
        )
        return page.items, page.next_cursor

    keep = None if vis.unrestricted else vis.allows_rel
    items, nxt = filtered_page(fetch, keep, lambda r: r.id, limit=limit, cursor=cursor)
    return RelPageOut.model_validate({"items": items, "next_cursor": nxt})


@router.post(
    "/relationships",
    operation_id="createRelationship",
    response_model=RelWriteOut,
    status_code=201,
    responses={200: {"model": RelWriteOut, "description": "the edge existed: updated or not"}},
)
def create_relationship(
    body: RelationshipIn,
    principal: Editor,
    store: Store,
    vis: Visible,
    request: Request,
    response: Response,
) -> RelWriteOut:
    """Relate two CIs; a pair of classes the type does not allow is refused (422, why)."""
    _, done = cis.relate(
        store,
        caller(principal, request),
        vis,
        body.source,
        body.type,
        body.target,
        confidence=body.confidence,
        attributes=body.attributes,
    )
    if done.outcome != "created":
        response.status_code = 200
    return _write_out(done)


@router.get(
    "/relationships/{rel_id}", operation_id="getRelationship", response_model=RelationshipOut
)
def get_relationship(
    rel_id: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None
) -> Relationship:
    """One relationship as it is, or as it was at as_of."""
    return cis.get_relationship(store, vis, rel_id, as_of=instant(as_of))


@router.delete(
    "/relationships/{rel_id}", operation_id="retireRelationship", response_model=RelWriteOut
)
def retire_relationship(
    rel_id: str, principal: Editor, store: Store, vis: Visible, request: Request
) -> RelWriteOut:
    """Retire a relationship: traversals stop following it; it stays in history and in
    as-of views before now."""
    return _write_out(cis.retire_relationship(store, caller(principal, request), vis, rel_id))


def _write_out(done: cis.RelWrite) -> RelWriteOut:
    return RelWriteOut.model_validate({"outcome": done.outcome, "relationship": done.relationship})
