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

from collections.abc import Callable

from pydantic import BaseModel, Field

from cmdb.domain.errors import NotFound
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
    """The live CIs and relationships the edits name, each read once."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.cis: dict[str, CI | None] = {}

    def ci(self, ci_id: str) -> CI | None:
        if ci_id not in self.cis:
            try:
                self.cis[ci_id] = self.store.get_ci(ci_id)
            except NotFound:
                self.cis[ci_id] = None
        return self.cis[ci_id]

    def active(self, rid: str) -> bool:
        try:
            return self.store.get_relationship(rid).active
        except NotFound:
            return False


def _name(live: _Reader, added: dict[str, str], ci_id: str) -> str:
    if ci_id in added:
        return added[ci_id]
    ci = live.ci(ci_id)
    return ci.name if ci is not None else ci_id


def identity_holders(store: GraphStore, ci: CI) -> list[tuple[Identifier, CI]]:
    """Each identity the merge would give ``ci`` that another CI holds, with one holder: a
    unique identifier of its own, or (without any) the natural key a CI made by hand has,
    held by a live CI (``ci`` would be its twin; a retired one keeps its key)."""
    unique = [x for x in ci.identifiers if x.unique]
    key = natural_key(ci.ci_class, ci.name)
    out = []
    for ident, found in sorted(
        store.find_by_identifiers(unique or [key]).items(), key=lambda kv: str(kv[0])
    ):
        holders = [
            c
            for c in found
            if c.id != ci.id and not (ident == key and c.status in RETIRED_STATUSES)
        ]
        if holders:
            out.append((ident, holders[0]))
    return out


def _new_ci(
    store: GraphStore, live: _Reader, e: Edit, visible: Callable[[str], bool] | None
) -> list[str]:
    assert e.ci is not None
    why = []
    if live.ci(e.ci.id) is not None:
        why.append(f"a live CI has the id {e.ci.id} now")
    for ident, who in identity_holders(store, e.ci):
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
    live = _Reader(store)
    added = {e.ci.id: e.ci.name for e in p.edits if e.ci is not None}
    rels: dict[str, bool] = {}  # a relationship as the proposal's edits so far leave it
    out = []
    for e in p.edits:
        if e.op is EditOp.ADD_CI:
            why = _new_ci(store, live, e, visible)
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
