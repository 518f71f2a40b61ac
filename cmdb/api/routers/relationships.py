"""``/relationships``: list, relate two CIs, read (as of), retire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cmdb.api.models import RelationshipIn, RelationshipOut, RelPageOut, RelWriteOut
from cmdb.api.pagination import Cursor, Limit, filtered_page
from cmdb.api.routers._shared import AsOf, apply, instant, resolve_visible
from cmdb.app.scope import Visibility
from cmdb.domain.changeset import CIRef, RelRetire, RelUpsert
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import Relationship
from cmdb.domain.relationships import check_allowed, get_type, parse_phrase
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Editor, Reader, Store, Visible

router = APIRouter(tags=["relationships"])


def _visible_rel(
    store: GraphStore, vis: Visibility, rel_id: str, *, as_of: datetime | None = None
) -> Relationship:
    """The relationship, or the same 404 whether it is missing or out of scope."""
    missing = NotFound(f"no relationship {rel_id!r}", where="rel_id")
    try:
        rel = store.get_relationship(rel_id, as_of=as_of)
    except NotFound:
        raise missing from None
    if not vis.allows_rel(rel):
        raise missing
    return rel


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
    type_name = parse_phrase(type_)[0].name if type_ else None

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
    rtype, reverse = parse_phrase(body.type)
    s = resolve_visible(store, vis, body.source, where="source")
    t = resolve_visible(store, vis, body.target, where="target")
    if reverse:
        s, t = t, s
    check_allowed(rtype.name, s.ci_class, t.ci_class)
    if s.id == t.id:
        raise InvalidInput("a CI cannot relate to itself", where="target")
    op = RelUpsert(
        type=rtype.name,
        source=CIRef(id=s.id),
        target=CIRef(id=t.id),
        confidence=body.confidence,
        attributes=body.attributes,
    )
    result = apply(store, principal, request, rel_upserts=[op])
    if not result.rels_created:
        response.status_code = 200
    outcome = (
        "created" if result.rels_created else "updated" if result.rels_updated else "unchanged"
    )
    rel = store.get_relationship(result.rel_ids[0])
    return RelWriteOut.model_validate({"outcome": outcome, "relationship": rel})


@router.get(
    "/relationships/{rel_id}", operation_id="getRelationship", response_model=RelationshipOut
)
def get_relationship(
    rel_id: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None
) -> Relationship:
    """One relationship as it is, or as it was at as_of."""
    return _visible_rel(store, vis, rel_id, as_of=instant(as_of))


@router.delete(
    "/relationships/{rel_id}", operation_id="retireRelationship", response_model=RelWriteOut
)
def retire_relationship(
    rel_id: str, principal: Editor, store: Store, vis: Visible, request: Request
) -> RelWriteOut:
    """Retire a relationship: traversals stop following it; it stays in history and in
    as-of views before now."""
    rel = _visible_rel(store, vis, rel_id)
    op = RelRetire(
        type=get_type(rel.type).name, source=CIRef(id=rel.source_id), target=CIRef(id=rel.target_id)
    )
    result = apply(store, principal, request, rel_retires=[op])
    outcome = "retired" if result.rels_retired else "unchanged"
    return RelWriteOut.model_validate(
        {"outcome": outcome, "relationship": store.get_relationship(rel.id)}
    )
