"""CIs and relationships: create (or update by identifiers), change, retire, read, list.

What ``/cis`` and ``/relationships``, GraphQL's CI and relationship mutations and
``cmdb ci`` / ``cmdb rel`` all call. The rules live here once:

* a CI made by hand without an id or a unique identifier gets its natural key
  (``key=<class>:<name>``), so creating the same CI twice, by any shell, changes nothing;
* its class must be a concrete one; its fields are validated as one upsert;
* a scoped caller reads and writes only CIs in its view (references outside it are
  missing), updates a CI of its view but never creates one, and sees a relationship only
  when both ends are in view;
* a relationship's type must allow its two classes, and no CI relates to itself.

Errors name the caller's input in its own words (:class:`Words`): a request's fields by
default; GraphQL and the CLI pass theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cmdb.app.caller import Caller, apply, changeset
from cmdb.app.inputs import resolve_visible, validated
from cmdb.app.scope import Visibility
from cmdb.domain.changeset import ApplyResult, CIRef, CIRetire, CIUpsert, RelRetire, RelUpsert
from cmdb.domain.classes import check_class, lineage
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.history import HistoryEntry
from cmdb.domain.identifiers import Identifier, natural_key
from cmdb.domain.model import CI, LifecycleStatus, Relationship
from cmdb.domain.relationships import RelationshipType, check_allowed, get_type, parse_phrase
from cmdb.store.contract import CIFilter, Direction, GraphStore, Neighbour

Outcome = Literal["created", "updated", "unchanged", "retired"]


@dataclass(frozen=True)
class Words:
    """What an error calls the caller's input. The defaults are a request's (REST's body
    and parameters); GraphQL and the CLI pass theirs."""

    fields: str | None = None  # prefix of a field an upsert refuses ("input": input.name)
    ci_class: str = "class"  # the class a CI is made with
    ref: str = "ref"  # the CI a command names
    source: str = "source"  # a relationship's ends
    target: str = "target"
    # A refusal of the store names the request body's field ("body.name"); without,
    # the change set's operation ("ci_upserts[0].name", which the CLI shortens).
    body: bool = True


REQUEST = Words()


class OutsideScope(NotFound):
    """A scoped caller's upsert would create a CI, or write one outside its view: both read
    alike, so nothing tells whether the identifiers exist elsewhere."""

    def __init__(self) -> None:
        super().__init__("no CI of this token's scope has these identifiers", where="identifiers")


@dataclass(frozen=True)
class CIWrite:
    outcome: Outcome
    ci: CI


@dataclass(frozen=True)
class RelWrite:
    outcome: Outcome
    relationship: Relationship


@dataclass(frozen=True)
class Ends:
    """A relationship's type and ends as resolved (a reverse phrase swaps the ends)."""

    rtype: RelationshipType
    source: CI
    target: CI


# -- CIs ---------------------------------------------------------------------------------


def upsert_of(fields: dict[str, Any], words: Words = REQUEST) -> CIUpsert:
    """One CI upsert from ``fields`` (by alias: ``class``, ``name``, ``identifiers`` as
    :class:`Identifier` or ``KIND=VALUE`` text, optionally ``id``): the class checked, the
    natural key added when nothing else identifies the CI, the whole validated."""
    fields = dict(fields)
    ci_class = check_class(str(fields.get("class")), where=words.ci_class)
    idents = [
        i if isinstance(i, Identifier) else Identifier.parse(str(i))
        for i in fields.get("identifiers") or []
    ]
    if fields.get("id") is None and not any(i.unique for i in idents):
        idents.append(natural_key(ci_class, str(fields.get("name", ""))))
    fields["identifiers"] = idents
    return validated(CIUpsert, fields, where=words.fields)


def upsert(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    fields: dict[str, Any] | CIUpsert,
    words: Words = REQUEST,
) -> CIWrite:
    """Create a CI, or update the one its id or a unique identifier points at.

    ``fields`` may be already checked by :func:`upsert_of`: a shell that opens its store
    only after the input is known good (the CLI: a bad class must not create a file).
    """
    up = fields if isinstance(fields, CIUpsert) else upsert_of(fields, words)
    if not vis.unrestricted:
        targets = _targets(store, up)
        if not targets or not all(vis.allows(i) for i in targets):
            raise OutsideScope
    result = _apply(store, caller, words, ci_upserts=[up])
    outcome: Outcome = "created" if result.created else "updated" if result.updated else "unchanged"
    return CIWrite(outcome, store.get_ci(result.ci_ids[0]))


def update(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    ref: str,
    fields: dict[str, Any],
    words: Words = REQUEST,
) -> CIWrite:
    """Change the fields given on the CI ``ref`` names; the others stay."""
    ci = resolve_visible(store, vis, ref, where=words.ref)
    fields = {**fields, "id": ci.id, "class": ci.ci_class, "name": fields.get("name", ci.name)}
    up = validated(CIUpsert, fields, where=words.fields)
    result = _apply(store, caller, words, ci_upserts=[up])
    return CIWrite("updated" if result.updated else "unchanged", store.get_ci(ci.id))


def retire(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    ref: str,
    status: LifecycleStatus = LifecycleStatus.WITHDRAWN,
    words: Words = REQUEST,
) -> CIWrite:
    """Retire a CI (withdrawn or disposed); nothing is deleted, its history stays."""
    ci = resolve_visible(store, vis, ref, where=words.ref)
    op = CIRetire(ref=CIRef(id=ci.id), status=status)
    result = _apply(store, caller, words, ci_retires=[op])
    return CIWrite("retired" if result.retired else "unchanged", store.get_ci(ci.id))


def get(
    store: GraphStore,
    vis: Visibility,
    ref: str,
    *,
    as_of: datetime | None = None,
    words: Words = REQUEST,
) -> CI:
    """The CI ``ref`` names, as it is or as it was at ``as_of`` (missing then: NotFound)."""
    ci = resolve_visible(store, vis, ref, where=words.ref)
    return ci if as_of is None else store.get_ci(ci.id, as_of=as_of)


def history(
    store: GraphStore, vis: Visibility, ref: str, *, as_of: datetime | None = None
) -> tuple[CI, list[HistoryEntry]]:
    """The CI and every change to it; with ``as_of``, the CI then and its history to then."""
    ci = resolve_visible(store, vis, ref)
    rows = store.history(ci.id)
    if as_of is not None:
        ci = store.get_ci(ci.id, as_of=as_of)
        rows = [h for h in rows if h.at <= as_of]
    return ci, rows


def neighbours(
    store: GraphStore,
    vis: Visibility,
    ref: str,
    *,
    direction: Direction = Direction.BOTH,
    types: list[str] | None = None,
    as_of: datetime | None = None,
) -> list[Neighbour]:
    """The CIs one relationship away that the caller sees (``types``: names already)."""
    near: list[Neighbour] | None = None
    ci_id = ref.strip()
    if ci_id and vis.allows(ci_id):
        # Most references are ids: asked for directly, the store's answer is one read
        # (on Neo4j one round trip) instead of a look-up and then the neighbours.
        with suppress(NotFound):
            near = store.neighbours(ci_id, direction=direction, types=types, as_of=as_of)
    if near is None:  # a name, kind=value...; or NotFound in the resolver's own words
        ci = resolve_visible(store, vis, ref)
        near = store.neighbours(ci.id, direction=direction, types=types, as_of=as_of)
    return [n for n in near if vis.allows(n.ci.id)]


def ci_filter(ci_class: str | None = None, **conditions: Any) -> CIFilter:
    """A list's conditions. A class must be one the model knows, abstract ones included:
    the filter matches its subclasses too (``Compute``: servers, VMs...)."""
    if ci_class is not None:
        lineage(ci_class)  # refuses an unknown class (where: "class")
    return CIFilter(ci_class=ci_class, **conditions)


def _targets(store: GraphStore, up: CIUpsert) -> set[str]:
    """The CIs an upsert would write to: its id's, and those its unique identifiers name."""
    found: set[str] = set()
    if up.id is not None:
        with suppress(NotFound):  # a new id: created, unless an identifier names a CI
            found.add(store.get_ci(up.id).id)
    unique = [i for i in up.identifiers if i.unique]
    if unique:
        found.update(c.id for cis in store.find_by_identifiers(unique).values() for c in cis)
    return found


# -- relationships -----------------------------------------------------------------------


def type_name(phrase: str | None) -> str | None:
    """A type's name from a name or a phrase either way (None: any type)."""
    return parse_phrase(phrase)[0].name if phrase else None


def ends(
    store: GraphStore, vis: Visibility, source: str, phrase: str, target: str, words: Words
) -> Ends:
    """The type and both ends as the caller sees them; a reverse phrase ("used by",
    "hosts") swaps the ends."""
    rtype, reverse = parse_phrase(phrase)
    s = resolve_visible(store, vis, source, where=words.source)
    t = resolve_visible(store, vis, target, where=words.target)
    return Ends(rtype, t, s) if reverse else Ends(rtype, s, t)


def relate(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    source: str,
    phrase: str,
    target: str,
    *,
    confidence: float | None = None,
    attributes: dict[str, Any] | None = None,
    words: Words = REQUEST,
) -> tuple[Ends, RelWrite]:
    """Relate two CIs; a pair of classes the type does not allow is refused, saying why."""
    e = ends(store, vis, source, phrase, target, words)
    rtype, s, t = e.rtype, e.source, e.target
    check_allowed(rtype.name, s.ci_class, t.ci_class)
    if s.id == t.id:
        raise InvalidInput("a CI cannot relate to itself", where=words.target)
    fields = {
        "type": rtype.name,
        "source": CIRef(id=s.id),
        "target": CIRef(id=t.id),
        "confidence": confidence,
        "attributes": attributes or {},
    }
    op = validated(RelUpsert, fields, where=words.fields)
    result = _apply(store, caller, words, rel_upserts=[op])
    outcome: Outcome = (
        "created" if result.rels_created else "updated" if result.rels_updated else "unchanged"
    )
    return e, RelWrite(outcome, store.get_relationship(result.rel_ids[0]))


def unrelate(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    source: str,
    phrase: str,
    target: str,
    words: Words = REQUEST,
) -> tuple[Ends, Outcome]:
    """Retire the relationship between two CIs: traversals stop following it; it stays in
    history and in as-of views before now."""
    e = ends(store, vis, source, phrase, target, words)
    op = RelRetire(type=e.rtype.name, source=CIRef(id=e.source.id), target=CIRef(id=e.target.id))
    result = _apply(store, caller, words, rel_retires=[op])
    return e, "retired" if result.rels_retired else "unchanged"


def retire_relationship(
    store: GraphStore, caller: Caller, vis: Visibility, rel_id: str, words: Words = REQUEST
) -> RelWrite:
    """Retire a relationship by its id (see :func:`unrelate`)."""
    rel = get_relationship(store, vis, rel_id)
    op = RelRetire(
        type=get_type(rel.type).name, source=CIRef(id=rel.source_id), target=CIRef(id=rel.target_id)
    )
    result = _apply(store, caller, words, rel_retires=[op])
    outcome: Outcome = "retired" if result.rels_retired else "unchanged"
    return RelWrite(outcome, store.get_relationship(rel.id))


def get_relationship(
    store: GraphStore, vis: Visibility, rel_id: str, *, as_of: datetime | None = None
) -> Relationship:
    """The relationship, or the same NotFound whether it is missing or out of view."""
    missing = NotFound(f"no relationship {rel_id!r}", where="rel_id")
    try:
        rel = store.get_relationship(rel_id, as_of=as_of)
    except NotFound:
        raise missing from None
    if not vis.allows_rel(rel):
        raise missing
    return rel


# -- writing -----------------------------------------------------------------------------


def _apply(store: GraphStore, caller: Caller, words: Words, **ops: Iterable[Any]) -> ApplyResult:
    """One operation in one change set, as the caller (into history)."""
    if words.body:
        return apply(store, caller, **ops)
    return store.apply(changeset(caller, **ops))
