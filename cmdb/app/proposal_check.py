"""Does each edit of a proposal still apply to the live graph as it is now? (issue 17)

What the change page shows beside each edit, for any version (an earlier one too, which a
merge's conflicts never cover): a CI an edit names that is retired or gone since, a
relationship to retire that is no longer there or one to add that exists already, a new
CI whose id, unique identifier or natural key (:func:`identity_holders`) a CI holds now.
The edits are read in order, so an edit that acts on what an earlier edit of the same
proposal did (a relationship it added, then retires) is judged against that, not against
the live graph alone.

Only a reading: nothing is written, and a merge still checks everything again (with the
fields changed under each edit: :mod:`cmdb.app.proposal_merge`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import BaseModel, Field

from cmdb.domain.identifiers import Identifier, natural_key
from cmdb.domain.model import CI, RETIRED_STATUSES, relationship_id
from cmdb.domain.proposals import Edit, EditOp, Proposal
from cmdb.store.contract import GraphStore


class EditCheck(BaseModel):
    """Whether one edit still applies to the live graph, and why not."""

    holds: bool = Field(description="the edit still applies to the live graph as it is now")
    why: list[str] = Field(
        default_factory=list,
        description="why not: each CI or relationship the live graph moved under it",
    )


class _Reader:
    """The live CIs, relationships and identifier holders the edits name, read up front
    in three batch calls whatever the number of edits: on Neo4j a call is a round trip,
    and the change page reads this on every load."""

    def __init__(self, store: GraphStore, p: Proposal, added: Mapping[str, str]) -> None:
        self.store = store
        self.cis = store.get_cis(p.touches())
        # Only between live ends: a relationship with a new end cannot be in the graph.
        rids = {
            relationship_id(e.type, e.source_id, e.target_id)
            for e in p.edits
            if e.op in (EditOp.ADD_REL, EditOp.RETIRE_REL)
            and e.type
            and e.source_id
            and e.target_id
            and e.source_id not in added
            and e.target_id not in added
        }
        self.rels = store.get_relationships(rids) if rids else {}
        wanted = {x for e in p.edits if e.ci is not None for x in identities(e.ci)}
        self.held = store.find_by_identifiers(wanted) if wanted else {}

    def ci(self, ci_id: str) -> CI | None:
        return self.cis.get(ci_id)

    def active(self, rid: str) -> bool:
        rel = self.rels.get(rid)
        return rel is not None and rel.active


def _name(live: _Reader, added: dict[str, str], ci_id: str) -> str:
    if ci_id in added:
        return added[ci_id]
    ci = live.ci(ci_id)
    return ci.name if ci is not None else ci_id


def identities(ci: CI) -> list[Identifier]:
    """What the merge would identify ``ci`` by: its unique identifiers, or (without any)
    the natural key a CI made by hand has."""
    return [x for x in ci.identifiers if x.unique] or [natural_key(ci.ci_class, ci.name)]


def identity_holders(
    store: GraphStore, ci: CI, held: Mapping[Identifier, list[CI]] | None = None
) -> list[tuple[Identifier, CI]]:
    """Each identity the merge would give ``ci`` (:func:`identities`) that another CI
    holds, with one holder (``ci`` would be its twin; a retired one keeps its natural
    key). ``held``: ``store.find_by_identifiers`` already read for these and more."""
    mine = identities(ci)
    key = natural_key(ci.ci_class, ci.name)
    found_by = store.find_by_identifiers(mine) if held is None else held
    out = []
    for ident in sorted(set(mine), key=str):
        holders = [
            c
            for c in found_by.get(ident, ())
            if c.id != ci.id and not (ident == key and c.status in RETIRED_STATUSES)
        ]
        if holders:
            out.append((ident, holders[0]))
    return out


def _new_ci(live: _Reader, e: Edit, visible: Callable[[str], bool] | None) -> list[str]:
    assert e.ci is not None
    why = []
    if live.ci(e.ci.id) is not None:
        why.append(f"a live CI has the id {e.ci.id} now")
    for ident, who in identity_holders(live.store, e.ci, live.held):
        # A new CI's edit is shown to every reader of the proposal: a holder outside a
        # scoped reader's view is not named.
        named = visible is None or visible(who.id)
        label = f", {who.label()}," if named else " (outside this token's view)"
        why.append(f"a live CI{label} holds {ident} now")
    return why


def check_edits(
    store: GraphStore, p: Proposal, visible: Callable[[str], bool] | None = None
) -> list[EditCheck]:
    """One answer per edit of ``p``, in order (see the module); ``visible``: which CIs a
    scoped reader may see named (None: all)."""
    added = {e.ci.id: e.ci.name for e in p.edits if e.ci is not None}
    live = _Reader(store, p, added)
    rels: dict[str, bool] = {}  # a relationship as the proposal's edits so far leave it
    out = []
    for e in p.edits:
        if e.op is EditOp.ADD_CI:
            why = _new_ci(live, e, visible)
            out.append(EditCheck(holds=not why, why=why))
            continue
        why = []
        for ci_id in (i for i in e.touches() if i not in added):
            ci = live.ci(ci_id)
            if ci is None:
                why.append(f"{ci_id} is not in the live graph (deleted since it was staged)")
            elif ci.status in RETIRED_STATUSES and e.op is EditOp.RETIRE_CI:
                why.append(f"{ci.name} is retired already ({ci.status.value})")
            elif ci.status in RETIRED_STATUSES:
                why.append(f"{ci.name} has been retired since ({ci.status.value})")
        if e.op in (EditOp.ADD_REL, EditOp.RETIRE_REL):
            assert e.type and e.source_id and e.target_id
            rid = relationship_id(e.type, e.source_id, e.target_id)
            if not why:
                if rid in rels:
                    active = rels[rid]
                else:
                    ends_new = e.source_id in added or e.target_id in added
                    active = False if ends_new else live.active(rid)
                words = (
                    f"{_name(live, added, e.source_id)} -[{e.type}]->"
                    f" {_name(live, added, e.target_id)}"
                )
                if e.op is EditOp.RETIRE_REL and not active:
                    why.append(f"{words} is no longer in the live graph")
                elif e.op is EditOp.ADD_REL and active:
                    why.append(f"{words} exists in the live graph already")
            rels[rid] = e.op is EditOp.ADD_REL
        out.append(EditCheck(holds=not why, why=why))
    return out
