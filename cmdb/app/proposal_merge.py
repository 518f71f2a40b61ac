"""Merging a proposal into the live graph, its conflicts, and rebasing it (issue 17, item 3).

What ``cmdb proposal merge|conflicts|rebase``, ``/changes/{id}/proposal/merge|conflicts|
rebase`` and GraphQL's ``mergeProposal`` / ``rebaseProposal`` / ``proposalConflicts`` call.

A merge writes the latest version of an implemented RFC's proposal as ONE change set, so
the store applies all of it or nothing, and the proposal's "merged" version travels in
that same change set (``ChangeSet.proposals``): the graph edits and the mark commit
together, so a crash leaves neither or both. Every history row it writes carries the reason
``<RFC> proposal v<N>``. Before writing, each edit is checked against the live graph as
it is now (:func:`conflicts`): a CI an edit names whose ``updated_at`` moved past the
edit's ``base`` (every field changed since is listed, with the value then and now and who
changed it, from history), a CI retired or deleted, a relationship added or retired since,
a new CI's identifier that a live CI holds now, and a field the source-precedence policy
gives to a source that outranks the merge. Any conflict stops the merge: nothing is
written. What the check read travels with the change set as its expectations
(``ChangeSet.expect_cis``, ``expect_rels``), which the store checks again inside its write
transaction: of two merges (or a merge and a discovery run) racing on the same CIs, the
second finds them moved, and is answered with its conflicts.

Resolving: ``rebase`` makes a new version whose edits take the live graph as it is now as
their base (the changes listed are accepted; each edit is checked again, and one the live
graph no longer allows is named: remove it with ``remove-edit``); a precedence conflict
stays until its edit is removed (the owning source reports that field). A merged proposal
takes no more edits and is not merged again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from cmdb.app.caller import Caller
from cmdb.app.changes import visible_change
from cmdb.app.proposal_check import identities, identity_holders
from cmdb.app.proposals import _next, _open, checked, now, touched_at
from cmdb.app.scope import Visibility, check_writable
from cmdb.config import Settings
from cmdb.domain.changeset import (
    ApplyResult,
    ChangeSet,
    CIRef,
    CIRetire,
    CIUpsert,
    ExpectRel,
    Precedence,
    RelRetire,
    RelUpsert,
)
from cmdb.domain.errors import Forbidden, InvalidInput, NotFound, WriteConflict
from cmdb.domain.history import HistoryEntry
from cmdb.domain.identifiers import Identifier, natural_key
from cmdb.domain.model import CI, RETIRED_STATUSES, Relationship, relationship_id
from cmdb.domain.proposals import Edit, EditOp, Proposal, ProposalState
from cmdb.domain.records import ChangeState
from cmdb.store.contract import Direction, GraphStore, Neighbour
from cmdb.store.planner import diff_fields, may_write


class ConflictKind(StrEnum):
    """What kind of thing moved under an edit, which says what resolves it: code decides
    by this, never by a conflict's words (``why``), which are for people."""

    CHANGED = "changed"  # a field of a live CI changed since staged: rebase accepts it
    RETIRED = "retired"  # the CI was retired since: only removing the edit resolves it
    GONE = "gone"  # the CI is no longer in the live graph
    NO_BASE = "no_base"  # the edit records no base (not staged here): rebase it
    RELATIONSHIP = "relationship"  # a relationship it adds or retires was added or retired
    RELATIONSHIP_ADDED = "relationship_added"  # added to a CI it retires: rebase accepts it
    ID_TAKEN = "id_taken"  # a live CI has the id of a CI it adds
    IDENTIFIER_HELD = "identifier_held"  # a live CI holds an identity of a CI it adds
    PRECEDENCE = "precedence"  # a source outranking the merge owns the field: rebase never
    # clears it (remove the edit; the source reports the field)


class MergeConflict(BaseModel):
    """One thing the live graph changed under an edit since it was staged."""

    edit: int = Field(description="the edit's index in the proposal")
    kind: ConflictKind = Field(description="what moved, which says what resolves it")
    ci_id: str | None = None
    ci_name: str | None = None
    field: str = Field(description="a CI field, attributes.<key>, status, or relationship")
    proposed_on: Any = Field(default=None, description="the value when the edit was staged")
    now: Any = Field(default=None, description="the value in the live graph now")
    changed_by: str | None = Field(default=None, description="who changed it, from history")
    source: str | None = None
    reason: str | None = None
    changed_at: datetime | None = None
    why: str
    # A live CI the conflict names beyond ci_id (the holder of an identifier), so that a
    # scoped caller is not shown it (:func:`in_view`); never serialised.
    _names: str | None = PrivateAttr(default=None)

    def line(self) -> str:
        who = ""
        if self.changed_by:
            who = f" (by {self.changed_by} via {self.source}"
            who += f", {self.reason})" if self.reason else ")"
        what = self.ci_name or self.ci_id or "?"
        return (
            f"edits[{self.edit}] {what} {self.field}: {self.why};"
            f" proposed on {self.proposed_on!r}, now {self.now!r}{who}"
        )


class MergeConflicts(WriteConflict):
    """The merge found conflicts: each listed, nothing written."""

    def __init__(self, change_id: str, version: int, found: list[MergeConflict]) -> None:
        lines = "; ".join(c.line() for c in found)
        super().__init__(
            f"the proposal of {change_id} (v{version}) conflicts with the live graph"
            f" ({len(found)} conflicts), nothing written: {lines}. Resolve: `proposal rebase`"
            " accepts the live changes, or `proposal remove-edit` drops an edit",
            where="proposal",
        )
        self.conflicts = found


class Merged(BaseModel):
    proposal: Proposal = Field(description="the merged version")
    reason: str = Field(description="what every history row of the merge carries")
    created: int = 0
    updated: int = 0
    retired: int = 0
    rels_created: int = 0
    rels_retired: int = 0
    history_rows: int = 0


def precedence_of(settings: Settings) -> Precedence | None:
    """The source-precedence policy discovery applies, which a merge respects too."""
    path = settings.discovery_precedence_file
    if path is None:
        return None
    from discovery.reconcile.policy import load_precedence

    return load_precedence(path)


def reason_of(p: Proposal) -> str:
    return f"{p.id} proposal v{p.version}"


# --- conflicts ------------------------------------------------------------------------


class _Live:
    """The live CIs and relationships the proposal names, each read once."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.cis: dict[str, CI | None] = {}
        self.rels: dict[str, list[Neighbour]] = {}
        self.links: dict[str, Relationship | None] = {}  # by relationship id
        self.held: dict[Identifier, list[CI]] | None = None  # of the CIs the proposal adds

    def read(self, p: Proposal) -> None:
        """Every live CI and relationship ``p``'s edits name, and the holders of its new
        CIs' identities, in one batch read each: the change page lists the conflicts on
        every load, and on Neo4j a read per CI is a round trip each."""
        added = {e.ci.id for e in p.edits if e.ci is not None}
        ids = [i for i in p.touches() if i not in self.cis]
        found = self.store.get_cis(ids) if ids else {}
        self.cis.update({i: found.get(i) for i in ids})
        rids = {
            relationship_id(e.type, e.source_id, e.target_id)
            for e in p.edits
            if e.type
            and e.source_id
            and e.target_id
            and e.source_id not in added
            and e.target_id not in added
        } - self.links.keys()
        got = self.store.get_relationships(rids) if rids else {}
        self.links.update({rid: got.get(rid) for rid in rids})
        wanted = {x for e in p.edits if e.ci is not None for x in identities(e.ci)}
        self.held = self.store.find_by_identifiers(wanted) if wanted else {}
        # What is around each live CI to retire (a relationship added since?).
        retiring = {
            e.ci_id
            for e in p.edits
            if e.op is EditOp.RETIRE_CI and e.ci_id and self.cis.get(e.ci_id) is not None
        } - self.rels.keys()
        if retiring:
            self.rels.update(self.store.neighbours_of(retiring))

    def ci(self, ci_id: str) -> CI | None:
        if ci_id not in self.cis:
            try:
                self.cis[ci_id] = self.store.get_ci(ci_id)
            except NotFound:
                self.cis[ci_id] = None
        return self.cis[ci_id]

    def around(self, ci_id: str) -> list[Neighbour]:
        """The active relationships touching the CI, with the CIs at their other ends."""
        if ci_id not in self.rels:
            found = self.store.neighbours(ci_id)
            self.rels[ci_id] = [n for n in found if n.relationship.active]
        return self.rels[ci_id]

    def base(self, e: Edit, ci: CI) -> datetime | None:
        """What staging ``e`` now would record as its base (see proposals._base)."""
        return touched_at(ci, self.around(ci.id)) if e.op is EditOp.RETIRE_CI else ci.updated_at

    def rel_active(self, type_name: str, source: str, target: str) -> bool:
        rid = relationship_id(type_name, source, target)
        if rid not in self.links:
            try:
                self.links[rid] = self.store.get_relationship(rid)
            except NotFound:
                self.links[rid] = None
        rel = self.links[rid]
        return rel is not None and rel.active


def _value(ci: CI, name: str) -> Any:
    if name.startswith("stale."):
        seen = ci.sources.get(name.removeprefix("stale."))
        return None if seen is None else seen.stale
    values = ci.field_values()
    if name.startswith("attributes."):
        return (values.get("attributes") or {}).get(name.removeprefix("attributes."))
    return values.get(name)


def _who(h: HistoryEntry) -> dict[str, Any]:
    return {"changed_by": h.actor, "source": h.source, "reason": h.reason, "changed_at": h.at}


def _moved(store: GraphStore, i: int, ci: CI, base: datetime) -> list[MergeConflict]:
    """Each field of ``ci`` changed since ``base``: its value then (the first change's
    before) and now, and who changed it last."""
    rows = [h for h in store.history(ci.id) if h.at > base]
    first: dict[str, HistoryEntry] = {}
    last: dict[str, HistoryEntry] = {}
    for h in rows:
        first.setdefault(h.field, h)
        last[h.field] = h
    if not first:  # history says nothing (a restored copy): the time is all there is
        return [
            MergeConflict(
                edit=i,
                ci_id=ci.id,
                ci_name=ci.name,
                field="updated_at",
                proposed_on=base.isoformat(),
                now=ci.updated_at.isoformat() if ci.updated_at else None,
                kind=ConflictKind.CHANGED,
                why="changed since the edit was staged",
            )
        ]
    out = []
    for name in sorted(first):
        retired = name == "status" and ci.status in RETIRED_STATUSES
        out.append(
            MergeConflict(
                edit=i,
                ci_id=ci.id,
                ci_name=ci.name,
                field=name,
                proposed_on=first[name].before,
                now=_value(ci, name),
                kind=ConflictKind.RETIRED if retired else ConflictKind.CHANGED,
                why="retired since the edit was staged" if retired else "changed since staged",
                **_who(last[name]),
            )
        )
    return out


def _rel_moved(
    store: GraphStore, i: int, e: Edit, live: _Live, assumed_active: bool
) -> MergeConflict:
    assert e.type and e.source_id and e.target_id
    rid = relationship_id(e.type, e.source_id, e.target_id)
    rows = store.history(rid)
    src, dst = live.ci(e.source_id), live.ci(e.target_id)
    names = f"{src.name if src else e.source_id} -[{e.type}]-> {dst.name if dst else e.target_id}"
    return MergeConflict(
        edit=i,
        ci_id=e.source_id,
        ci_name=names,
        field="relationship",
        proposed_on="active" if assumed_active else "absent",
        now="absent" if assumed_active else "active",
        kind=ConflictKind.RELATIONSHIP,
        why="retired since the edit was staged" if assumed_active else "added since staged",
        **(_who(rows[-1]) if rows else {}),
    )


def _field_keys(e: Edit, ci: CI) -> list[str]:
    """The field keys the merge writes for ``e`` on ``ci``: a proposal's attributes are
    the whole new set, so a key it drops is written too (cleared, see :func:`_update`),
    and one it keeps as it is is not written at all."""
    if e.op is EditOp.SET_REDUNDANCY:
        return ["redundancy"]
    keys = []
    for name, value in (e.fields or {}).items():
        if name == "attributes" and isinstance(value, dict):
            changed = diff_fields({"attributes": ci.attributes}, {"attributes": value})
            keys += [key for key, _, _ in changed]
        else:
            keys.append(name)
    return keys


def _fields_moved(e: Edit, ci: CI, base: datetime) -> bool:
    if e.op is EditOp.RETIRE_CI:
        # Its base is the later of the CI's and its relationships' last change.
        return ci.updated_at is None or ci.updated_at > base
    return ci.updated_at != base


def _rels_since(
    store: GraphStore, i: int, ci: CI, base: datetime, live: _Live
) -> list[MergeConflict]:
    """Each active relationship added to (or made active on) ``ci`` since ``base``: the
    retirement would leave it on a retired CI, and nobody judged that."""
    out = []
    for n in live.around(ci.id):
        r = n.relationship
        since = max((t for t in (r.created_at, r.updated_at) if t is not None), default=None)
        if since is None or since <= base:
            continue
        src, dst = (n.ci, ci) if n.direction is Direction.IN else (ci, n.ci)
        rows = store.history(r.id)
        found = MergeConflict(
            edit=i,
            ci_id=ci.id,
            ci_name=ci.name,
            field="relationship",
            proposed_on="absent",
            now=f"{src.name} -[{r.type}]-> {dst.name}",
            kind=ConflictKind.RELATIONSHIP_ADDED,
            why="added to the CI to retire since the edit was staged: rebase to accept it,"
            " or remove the edit",
            **(_who(rows[-1]) if rows else {}),
        )
        found._names = n.ci.id
        out.append(found)
    return out


# The edits staging gives a base (the live CI's updated_at); a relationship edit has none.
_BASED = frozenset({EditOp.UPDATE_CI, EditOp.RETIRE_CI, EditOp.SET_REDUNDANCY})


def find_conflicts(
    store: GraphStore,
    p: Proposal,
    *,
    source: str,
    precedence: Precedence | None = None,
    live: _Live | None = None,
) -> list[MergeConflict]:
    """Every conflict of ``p``'s edits with the live graph now (see the module)."""
    live = live or _Live(store)
    live.read(p)
    added = {e.ci.id for e in p.edits if e.ci is not None}
    out: list[MergeConflict] = []
    moved_seen: set[str] = set()  # a CI's changes listed once, at the first edit naming it
    rel_first: set[str] = set()
    at = now()
    for i, e in enumerate(p.edits):
        if e.op is EditOp.ADD_CI:
            assert e.ci is not None
            if live.ci(e.ci.id) is not None:
                made = store.history(e.ci.id)
                out.append(
                    MergeConflict(
                        edit=i,
                        ci_id=e.ci.id,
                        ci_name=e.ci.name,
                        field="id",
                        proposed_on="absent",
                        now="present",
                        **(_who(made[0]) if made else {}),
                        kind=ConflictKind.ID_TAKEN,
                        why="a live CI has this id now",
                    )
                )
            for ident, holder in identity_holders(store, e.ci, live.held):
                taken = MergeConflict(
                    edit=i,
                    ci_id=e.ci.id,
                    ci_name=e.ci.name,
                    field=f"identifiers.{ident.kind.value}",
                    proposed_on=None,
                    now=f"{ident} of {holder.label()}",
                    kind=ConflictKind.IDENTIFIER_HELD,
                    why="a live CI holds this identifier now (found by discovery?):"
                    " remove the edit, or update that CI instead",
                )
                taken._names = holder.id
                out.append(taken)
            continue
        ends = [x for x in e.touches() if x not in added]
        for ci_id in ends:
            ci = live.ci(ci_id)
            if ci is None:
                out.append(
                    MergeConflict(
                        edit=i,
                        ci_id=ci_id,
                        field="*",
                        proposed_on="present",
                        now="deleted",
                        kind=ConflictKind.GONE,
                        why="the CI is gone",
                    )
                )
            elif e.base is None and e.op in _BASED:
                # Staging records a base for every live CI such an edit names; without one
                # (a snapshot row, another writer) nothing says the CI is as staged, so
                # merging could overwrite a live change unseen.
                out.append(
                    MergeConflict(
                        edit=i,
                        ci_id=ci.id,
                        ci_name=ci.name,
                        field="base",
                        proposed_on=None,
                        now=ci.updated_at.isoformat() if ci.updated_at else None,
                        kind=ConflictKind.NO_BASE,
                        why="the edit records no base (when its CI was read): rebase it",
                    )
                )
            elif e.base is not None and _fields_moved(e, ci, e.base):
                if ci.id not in moved_seen:
                    moved_seen.add(ci.id)
                    out += _moved(store, i, ci, e.base)
            elif ci.status in RETIRED_STATUSES:
                out.append(
                    MergeConflict(
                        edit=i,
                        ci_id=ci.id,
                        ci_name=ci.name,
                        field="status",
                        now=ci.status.value,
                        kind=ConflictKind.RETIRED,
                        why="retired since the edit was staged",
                    )
                )
        if e.op is EditOp.RETIRE_CI and e.base is not None:
            ci = live.ci(e.ci_id or "")
            if ci is not None and ci.status not in RETIRED_STATUSES:
                out += _rels_since(store, i, ci, e.base, live)
        if e.op in (EditOp.ADD_REL, EditOp.RETIRE_REL):
            assert e.type and e.source_id and e.target_id
            rid = relationship_id(e.type, e.source_id, e.target_id)
            if rid in rel_first:
                continue
            rel_first.add(rid)
            if e.source_id in added or e.target_id in added:
                continue
            assumed = e.op is EditOp.RETIRE_REL  # the first edit of it saw it so
            if live.rel_active(e.type, e.source_id, e.target_id) != assumed:
                out.append(_rel_moved(store, i, e, live, assumed))
        elif e.op in (EditOp.UPDATE_CI, EditOp.SET_REDUNDANCY) and e.ci_id not in added:
            assert e.ci_id is not None
            ci = live.ci(e.ci_id)
            if ci is None:
                continue
            for key in _field_keys(e, ci):
                if not may_write(ci, key, source, at, precedence):
                    owner = ci.provenance[key].source
                    out.append(
                        MergeConflict(
                            edit=i,
                            ci_id=ci.id,
                            ci_name=ci.name,
                            field=key,
                            proposed_on=_value(ci, key),
                            now=_value(ci, key),
                            changed_by=owner,
                            source=owner,
                            kind=ConflictKind.PRECEDENCE,
                            why=f"source {owner} owns this field (source precedence) and"
                            f" outranks {source}: remove the edit; {owner} reports it",
                        )
                    )
    return out


# --- the change set -------------------------------------------------------------------


_UPSERT_FIELDS = frozenset(CIUpsert.model_fields) - {"ci_class", "content_hash"}


def _new_ci(store: GraphStore, ci: CI) -> CIUpsert:
    data = {
        k: v for k, v in ci.model_dump(by_alias=True).items() if k in _UPSERT_FIELDS or k == "class"
    }
    if not any(x.unique for x in ci.identifiers):
        # What a CI made by hand gets (so discovery and `cmdb ci add` find it again),
        # unless a retired CI holds it (a live one is a conflict): then the new one is
        # known by its id.
        key = natural_key(ci.ci_class, ci.name)
        if not store.find_by_identifiers([key]):
            data["identifiers"] = [*ci.identifiers, key]
    return CIUpsert.model_validate(data)


def _update(ci: CI, values: dict[str, Any]) -> CIUpsert:
    """An upsert of ``ci`` setting exactly ``values`` (and nothing else: the name an upsert
    needs is not marked as given unless it is one of them)."""
    data = dict(values)
    if "attributes" in data:
        # A proposal's attributes are the whole new set; an upsert merges key by key.
        new = data["attributes"] or {}
        data["attributes"] = {**{k: None for k in ci.attributes if k not in new}, **new}
    up = CIUpsert.model_validate({"id": ci.id, "class": ci.ci_class, "name": ci.name, **data})
    if "name" not in values:
        up.model_fields_set.discard("name")
    return up


def changeset_of(
    store: GraphStore,
    p: Proposal,
    caller: Caller,
    live: _Live,
    precedence: Precedence | None,
) -> ChangeSet:
    """The proposal as one change set, expecting every live CI and relationship it names
    to be as ``live`` read them."""
    added = {e.ci.id for e in p.edits if e.ci is not None}
    state: dict[str, CI] = {}  # CIs as the edits so far leave them
    ups: list[CIUpsert] = []
    retires: list[CIRetire] = []
    rels: dict[str, tuple[Edit, bool]] = {}  # rid -> (last edit, active as first found)
    for e in p.edits:
        if e.op is EditOp.ADD_CI:
            assert e.ci is not None
            state[e.ci.id] = e.ci
            ups.append(_new_ci(store, e.ci))
        elif e.op in (EditOp.UPDATE_CI, EditOp.SET_REDUNDANCY):
            assert e.ci_id is not None
            ci = state.get(e.ci_id) or live.ci(e.ci_id)
            assert ci is not None
            values = (
                {"redundancy": e.redundancy} if e.op is EditOp.SET_REDUNDANCY else e.fields or {}
            )
            ups.append(_update(ci, values))
            state[ci.id] = CI.model_validate({**ci.model_dump(by_alias=True), **values})
        elif e.op is EditOp.RETIRE_CI:
            assert e.ci_id is not None
            retires.append(CIRetire(ref=CIRef(id=e.ci_id)))
        else:
            assert e.type and e.source_id and e.target_id
            rid = relationship_id(e.type, e.source_id, e.target_id)
            first = rels[rid][1] if rid in rels else e.op is EditOp.RETIRE_REL
            rels[rid] = (e, first)
    rel_ups: list[RelUpsert] = []
    rel_rets: list[RelRetire] = []
    expect_rels: list[ExpectRel] = []
    for last, was in rels.values():
        assert last.type and last.source_id and last.target_id
        src, dst = CIRef(id=last.source_id), CIRef(id=last.target_id)
        if last.source_id not in added and last.target_id not in added:
            expect_rels.append(
                ExpectRel(
                    type=last.type, source_id=last.source_id, target_id=last.target_id, active=was
                )
            )
        if last.op is EditOp.ADD_REL and not was:
            rel_ups.append(RelUpsert(type=last.type, source=src, target=dst))
        elif last.op is EditOp.RETIRE_REL and was:
            rel_rets.append(RelRetire(type=last.type, source=src, target=dst))
    expect_cis = {
        i: ci.updated_at
        for i, ci in live.cis.items()
        if ci is not None and ci.updated_at is not None and i not in added
    }
    return ChangeSet(
        actor=caller.name,
        source=caller.source,
        request_id=caller.request_id,
        reason=reason_of(p),
        precedence=precedence,
        ci_upserts=ups,
        ci_retires=retires,
        rel_upserts=rel_ups,
        rel_retires=rel_rets,
        expect_cis=expect_cis,
        expect_rels=expect_rels,
    )


# --- the use cases --------------------------------------------------------------------


def _mergeable(
    store: GraphStore, vis: Visibility, change_id: str, what: str, *, write: bool = True
) -> Proposal:
    change = visible_change(store, vis, change_id)
    if write:
        check_writable(vis, change, what)
    p = store.get_proposal(change_id)
    if p.state is ProposalState.MERGED:
        raise InvalidInput(
            f"the proposal of {change_id} is merged already (version {p.version}, {p.note})",
            where="proposal",
        )
    if p.state is not ProposalState.OPEN:
        raise InvalidInput(
            f"the proposal of {change_id} is {p.state.value}: nothing to merge", where="proposal"
        )
    if write and not vis.unrestricted:
        added = {e.ci.id for e in p.edits if e.ci is not None}
        outside = sorted(i for i in p.touches() - added if not vis.allows(i))
        if outside:
            raise Forbidden(
                f"the proposal of {change_id} touches CIs outside this token's scope: cannot {what}"
            )
    return p


def conflicts(
    store: GraphStore,
    vis: Visibility,
    caller: Caller,
    change_id: str,
    *,
    precedence: Precedence | None = None,
) -> list[MergeConflict]:
    """What would stop a merge now (nothing written). A scoped caller is shown the
    conflicts on CIs in its view."""
    p = _mergeable(store, vis, change_id, "merge its proposal", write=False)
    found = find_conflicts(store, p, source=caller.source, precedence=precedence)
    return in_view(vis, p, found, hide=True)


def in_view(
    vis: Visibility, p: Proposal, found: list[MergeConflict], *, hide: bool
) -> list[MergeConflict]:
    """``found`` as ``vis`` may be shown it. A scoped reader sees the conflicts of the
    edits it is shown (every live CI they name in its view), on CIs in its view
    (``hide``); a conflict naming a live CI outside the view is otherwise said without it
    (a scoped merger is refused, and must learn which edit to resolve)."""
    if vis.unrestricted:
        return found
    added = {e.ci.id for e in p.edits if e.ci is not None}

    def shown(i: int) -> bool:
        return all(x in added or vis.allows(x) for x in p.edits[i].touches())

    out = []
    for c in found:
        if hide and (not shown(c.edit) or (c.ci_id is not None and not vis.allows(c.ci_id))):
            continue
        if c._names is not None and not vis.allows(c._names):
            c = c.model_copy(update={"now": "held by a live CI outside this token's view"})
        out.append(c)
    return out


def merge(
    store: GraphStore,
    vis: Visibility,
    caller: Caller,
    change_id: str,
    *,
    precedence: Precedence | None = None,
) -> Merged:
    """Merge the latest version of an implemented RFC's proposal as one change set, then
    mark it merged; MergeConflicts (nothing written) when the live graph moved under it."""
    p = _mergeable(store, vis, change_id, "merge its proposal")
    _implemented(store, change_id)
    if not p.edits:
        raise InvalidInput(f"the proposal of {change_id} has no edits", where="proposal")
    reason = reason_of(p)
    live = _Live(store)
    found = find_conflicts(store, p, source=caller.source, precedence=precedence, live=live)
    result: ApplyResult | None = None
    if found and all(c.reason == reason for c in found):
        # Only data written before merges were atomic (one change set since; see the
        # module) can hold this version's edits without its mark: a process that died
        # between the two writes. What moved is the merge itself: mark it, write nothing.
        made = _marked(p, caller, f"merged ({reason}): written before, marked now")
        mark = ChangeSet(actor=caller.name, source=caller.source, proposals=[made])
        _write(store, change_id, mark)
    elif found:
        raise MergeConflicts(change_id, p.version, in_view(vis, p, found, hide=False))
    else:
        cs = changeset_of(store, p, caller, live, precedence)
        made = _marked(p, caller, _merge_note(reason, cs))
        try:
            result = _write(store, change_id, cs.model_copy(update={"proposals": [made]}))
        except WriteConflict:
            # Something wrote between the check and the write (the graph, or another
            # version of the proposal): say what it changed; nothing of this was written.
            again = find_conflicts(store, p, source=caller.source, precedence=precedence)
            if again:
                raise MergeConflicts(
                    change_id, p.version, in_view(vis, p, again, hide=False)
                ) from None
            raise
    counts = result.model_dump() if result is not None else {}
    return Merged(
        proposal=made,
        reason=reason,
        **{
            k: counts.get(k, 0)
            for k in ("created", "updated", "retired", "rels_created", "rels_retired")
        },
        history_rows=counts.get("history_rows", 0),
    )


def _implemented(store: GraphStore, change_id: str) -> None:
    change = store.get_change(change_id)
    if change.state is not ChangeState.IMPLEMENTED:
        raise InvalidInput(
            f"{change_id} is {change.state.value}: a proposal merges once its change is"
            " implemented",
            where="change_id",
        )


def _write(store: GraphStore, change_id: str, cs: ChangeSet) -> ApplyResult:
    """Apply ``cs`` only while the RFC is still implemented, checked inside the store's
    write transaction (``expect_changes``): a transition landing after the check above
    (the RFC reviewed or closed meanwhile) stops the merge, and nothing is written."""
    expecting = cs.model_copy(update={"expect_changes": {change_id: ChangeState.IMPLEMENTED}})
    try:
        return store.apply(expecting)
    except WriteConflict:
        _implemented(store, change_id)  # the RFC moved: say so, as the check does
        raise


def _marked(p: Proposal, caller: Caller, note: str) -> Proposal:
    """``p``'s next version, merged, with the merged edits."""
    made = _next(p, caller, state=ProposalState.MERGED, note=note)
    return made.model_copy(update={"edits": p.edits})


def _merge_note(reason: str, cs: ChangeSet) -> str:
    # Counted from the change set (the mark is written with it, so before the result):
    # a CI the merge expects is live (updated), any other it upserts is one it adds.
    ids = {u.id for u in cs.ci_upserts}
    updated = len(ids & cs.expect_cis.keys())
    return (
        f"merged ({reason}): {len(ids) - updated} CIs created, {updated} updated,"
        f" {len(cs.ci_retires)} retired, {len(cs.rel_upserts)} relationships added,"
        f" {len(cs.rel_retires)} retired"
    )


def uncleared(found: list[MergeConflict]) -> list[MergeConflict]:
    """The conflicts a rebase does not clear (by kind): a field a source outranking the
    merge owns, which only removing the edit resolves."""
    return [c for c in found if c.kind is ConflictKind.PRECEDENCE]


def rebase(
    store: GraphStore,
    vis: Visibility,
    caller: Caller,
    change_id: str,
    *,
    precedence: Precedence | None = None,
) -> tuple[Proposal, list[MergeConflict]]:
    """A new version whose edits take the live graph as it is now as their base: the
    conflicts it clears (the live changes accepted) are returned with it. Each edit is
    checked again; one the live graph no longer allows is named (remove it first), and a
    precedence conflict is not cleared by rebasing (remove its edit)."""
    # The change's visibility first: a token must not learn whether a change outside its
    # view has a proposal.
    _mergeable(store, vis, change_id, "rebase its proposal")
    p = _open(store, change_id)
    live = _Live(store)
    before = find_conflicts(store, p, source=caller.source, precedence=precedence, live=live)
    owned = uncleared(before)
    if owned:
        raise InvalidInput(
            "rebasing does not clear a field another source owns: "
            + "; ".join(c.line() for c in owned)
            + f"; remove edit {owned[0].edit} first",
            where=f"edits[{owned[0].edit}]",
        )
    fresh = [e.model_copy(update={"base": None}) for e in p.edits]
    rebased = checked(store, vis, fresh)
    for i, e in enumerate(rebased):
        read = live.cis.get(e.ci_id or "")
        if e.base is not None and read is not None and live.base(e, read) != e.base:
            # It moved after the conflicts were listed: a new base would accept a change
            # the caller was never shown.
            raise WriteConflict(
                f"{read.label()} changed while rebasing; nothing saved: rebase again to"
                " see what it accepts",
                where=f"edits[{i}]",
            )
    cleared = ", ".join(sorted({str(c.edit) for c in before})) or "none"
    made = _next(p, caller, edits=rebased, note=f"rebased on the live graph (edits {cleared})")
    store.save_proposal(made)
    return made, in_view(vis, p, before, hide=False)
