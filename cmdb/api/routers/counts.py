"""``/counts``: CIs by class and status, active relationships by type."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from cmdb.api.models import CountsOut
from cmdb.api.routers._shared import every_ci
from cmdb.domain.model import Relationship
from cmdb.store.contract import Counts, GraphStore
from cmdb.web.deps import Reader, Store, Visible

router = APIRouter(tags=["counts"])


def _every_rel(store: GraphStore) -> list[Relationship]:
    rels: list[Relationship] = []
    cursor: str | None = None
    while True:
        page = store.list_relationships(limit=1000, cursor=cursor)
        rels += page.items
        if page.next_cursor is None:
            return rels
        cursor = page.next_cursor


@router.get("/counts", operation_id="getCounts", response_model=CountsOut)
def counts(_: Reader, store: Store, vis: Visible) -> Counts:
    """What the CMDB holds (for a scoped token: what its scope holds)."""
    if vis.unrestricted:
        return store.counts()
    cis = [c for c in every_ci(store) if vis.allows(c.id)]
    rels = [r for r in _every_rel(store) if vis.allows_rel(r)]
    return Counts(
        by_class=dict(Counter(c.ci_class for c in cis)),
        by_status=dict(Counter(c.status.value for c in cis)),
        relationships_by_type=dict(Counter(r.type for r in rels)),
    )
