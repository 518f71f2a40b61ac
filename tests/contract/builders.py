"""Short spellings for change sets, so each contract test reads as its scenario."""

from __future__ import annotations

from typing import Any

from cmdb.domain.changeset import (
    ChangeSet,
    CIRef,
    CIRetire,
    CIUpsert,
    RelRetire,
    RelUpsert,
    Touch,
)
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI, LifecycleStatus, Relationship
from cmdb.store.contract import CIFilter, GraphStore

ACTOR = "tester"
SOURCE = "manual"


def ident(kind: str, value: str) -> Identifier:
    return Identifier(kind=IdentifierKind(kind), value=value)


def key(value: str) -> Identifier:
    return ident("key", value)


def ref(k: str | Identifier) -> CIRef:
    """A reference by natural key (a string) or by any unique identifier."""
    return CIRef(identifier=key(k) if isinstance(k, str) else k)


def by_id(ci_id: str) -> CIRef:
    return CIRef(id=ci_id)


def up(ci_class: str, k: str | None, name: str | None = None, **fields: Any) -> CIUpsert:
    """An upsert identified by ``key=k`` (plus any ``identifiers`` given)."""
    idents = list(fields.pop("identifiers", []))
    if k is not None:
        idents.insert(0, key(k))
    return CIUpsert.model_validate(
        {"class": ci_class, "name": name or k, "identifiers": idents, **fields}
    )


def rel(type_name: str, source: str | CIRef, target: str | CIRef, **fields: Any) -> RelUpsert:
    s = ref(source) if isinstance(source, str) else source
    t = ref(target) if isinstance(target, str) else target
    return RelUpsert(type=type_name, source=s, target=t, **fields)


def rel_retire(type_name: str, source: str | CIRef, target: str | CIRef) -> RelRetire:
    s = ref(source) if isinstance(source, str) else source
    t = ref(target) if isinstance(target, str) else target
    return RelRetire(type=type_name, source=s, target=t)


def retire(k: str | CIRef, status: LifecycleStatus = LifecycleStatus.WITHDRAWN) -> CIRetire:
    return CIRetire(ref=ref(k) if isinstance(k, str) else k, status=status)


def touch(key_value: str, *, source: str, run_id: str, scope: str) -> ChangeSet:
    """A discovery run that saw the CI keyed ``key_value`` unchanged: its sighting only."""
    return ChangeSet(
        actor="d",
        source=source,
        run_id=run_id,
        scope=scope,
        touches=[Touch(ref=CIRef(identifier=ident("key", key_value)))],
    )


def cs(
    *ops: Any,
    actor: str = ACTOR,
    source: str = SOURCE,
    run_id: str | None = None,
    request_id: str | None = None,
    **records: Any,
) -> ChangeSet:
    """A change set from mixed operations, sorted into their lists by type."""
    lists: dict[str, list[Any]] = {
        "ci_upserts": [],
        "ci_retires": [],
        "rel_upserts": [],
        "rel_retires": [],
    }
    where = {CIUpsert: "ci_upserts", CIRetire: "ci_retires", RelUpsert: "rel_upserts"}
    for op in ops:
        assert isinstance(op, (CIUpsert, CIRetire, RelUpsert, RelRetire)), op
        lists[where.get(type(op), "rel_retires")].append(op)
    return ChangeSet(
        actor=actor, source=source, run_id=run_id, request_id=request_id, **lists, **records
    )


def ci_by_key(store: GraphStore, k: str) -> CI:
    found = store.find_by_identifier(key(k))
    assert len(found) == 1, f"key={k} matches {len(found)} CIs"
    return found[0]


def all_cis(store: GraphStore, flt: CIFilter | None = None, page: int = 500) -> list[CI]:
    out: list[CI] = []
    cursor: str | None = None
    while True:
        got = store.list_cis(flt, limit=page, cursor=cursor)
        out += got.items
        if got.next_cursor is None:
            return out
        cursor = got.next_cursor


def all_rels(store: GraphStore, *, include_retired: bool = True) -> list[Relationship]:
    out: list[Relationship] = []
    cursor: str | None = None
    while True:
        got = store.list_relationships(include_retired=include_retired, cursor=cursor)
        out += got.items
        if got.next_cursor is None:
            return out
        cursor = got.next_cursor


def history_len(store: GraphStore) -> int:
    return sum(1 for _ in store.iter_history())
