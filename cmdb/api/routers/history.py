"""``/history/{entity_id}``: every change to a CI, relationship, change or incident."""

from __future__ import annotations

from fastapi import APIRouter

from cmdb.api.models import HistoryOut
from cmdb.api.routers._shared import AsOf, instant
from cmdb.app.scope import Visibility
from cmdb.domain.errors import NotFound
from cmdb.domain.history import EntityKind, HistoryEntry
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Reader, Store, Visible

router = APIRouter(tags=["history"])


def _visible(store: GraphStore, vis: Visibility, rows: list[HistoryEntry]) -> bool:
    if vis.unrestricted:
        return True
    first = rows[0]
    if first.entity_kind is EntityKind.CI:
        return vis.allows(first.entity_id)
    if first.entity_kind is EntityKind.REL:
        try:
            return vis.allows_rel(store.get_relationship(first.entity_id))
        except NotFound:
            return False
    return False  # change and incident records may name CIs outside the scope


@router.get("/history/{entity_id}", operation_id="getHistory", response_model=HistoryOut)
def get_history(
    entity_id: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None
) -> HistoryOut:
    """The append-only history of one entity, oldest first; with as_of, up to then."""
    rows = store.history(entity_id)
    if not rows or not _visible(store, vis, rows):
        raise NotFound(f"no history for {entity_id!r}", where="entity_id")
    at = instant(as_of)
    if at is not None:
        rows = [h for h in rows if h.at <= at]
    return HistoryOut.model_validate({"entity_id": entity_id, "as_of": at, "history": rows})
