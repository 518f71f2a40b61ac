"""``/changes/{change_id}/proposal`` and ``/proposals``: what-if proposals on an RFC (staged
edits, their versions) and their impact diff; the same use cases as ``cmdb proposal ...``
(cmdb/app/proposals.py, cmdb/app/proposal_diff.py).

Scope: a token scoped to services reads a proposal when it reads the change (shown with
only the edits whose live CIs are all in its view, and the services in its view); it
writes one when it may write the change and every live CI an edit names is in its view.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cmdb.api.routers._shared import caller
from cmdb.app import proposal_diff, proposal_merge, proposals
from cmdb.app.scope import Visibility
from cmdb.domain.proposals import Proposal, ProposalState
from cmdb.web.deps import Editor, Reader, SettingsDep, Store, Visible

router = APIRouter(tags=["proposals"])

PREFIX = "/changes/{change_id}/proposal"


class EditIn(proposals.EditRequest):
    """One edit: ``ci`` (add_ci: the new CI's fields, its id chosen by the server),
    ``ci_id`` (update_ci, retire_ci, set_redundancy: any CI reference), ``fields``
    (update_ci), ``redundancy`` (set_redundancy), ``type``, ``source_id``, ``target_id``
    (add_rel, retire_rel: CI references, a new CI of the proposal by its name)."""


def _edits(body: list[EditIn]) -> list[dict[str, Any]]:
    return [e.model_dump(exclude_none=True) for e in body]


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edits: list[EditIn] = Field(default_factory=list, max_length=proposals.MAX_EDITS)
    document: dict[str, Any] | None = Field(
        default=None,
        description="a generic import document (as `cmdb import` reads): its CIs added, or"
        " updated where a key is a live CI's id, its relationships added; after edits",
    )
    note: str = ""


class EditsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edits: list[EditIn] = Field(min_length=1, max_length=proposals.MAX_EDITS)
    note: str = ""


class RemoveEditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="the edit's position in the latest version")


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = ""


class Edit(proposals.ShownEdit):
    """One staged edit, with its index in the whole proposal and (getProposal) whether it
    still applies to the live graph. Named as the edits' schema was before they carried
    both, so the document only gains those fields."""


class ProposalOut(proposals.ShownProposal):
    edits: list[Edit] = Field(default_factory=list)  # type: ignore[assignment]


class ProposalListOut(BaseModel):
    items: list[ProposalOut]


class ProposalDiffOut(proposal_diff.ProposalDiff):
    pass


def _out(p: Proposal) -> ProposalOut:
    if not isinstance(p, proposals.ShownProposal):
        # What a use case wrote: its writer sees every CI it names (a scoped one may
        # write no other), so each edit's index is its position.
        p = proposals.shown(Visibility(), p)
    return ProposalOut.model_validate(p.model_dump())


Version = Annotated[
    int | None,
    Query(ge=1, le=proposals.MAX_VERSION, description="a version (default: the latest)"),
]


@router.get("/proposals", operation_id="listProposals", response_model=ProposalListOut)
def list_proposals(
    _: Reader, store: Store, vis: Visible, state: ProposalState | None = None
) -> ProposalListOut:
    """The latest version of every proposal whose change the caller reads."""
    found = proposals.list_proposals(store, vis, state=state)
    return ProposalListOut(items=[_out(p) for p in found])


@router.get(PREFIX, operation_id="getProposal", response_model=ProposalOut)
def get_proposal(
    change_id: str, _: Reader, store: Store, vis: Visible, version: Version = None
) -> ProposalOut:
    """The change's proposal: its latest version, or the one asked for; each edit with its
    index in the whole proposal and whether it still applies to the live graph now (a
    CI retired or gone since, a relationship to retire no longer there...), and why not."""
    return _out(proposals.get(store, vis, change_id, version=version, check=True))


@router.get(f"{PREFIX}/versions", operation_id="listProposalVersions")
def list_proposal_versions(
    change_id: str, _: Reader, store: Store, vis: Visible
) -> ProposalListOut:
    """Every version, oldest first."""
    return ProposalListOut(items=[_out(p) for p in proposals.versions(store, vis, change_id)])


@router.get(f"{PREFIX}/diff", operation_id="getProposalDiff", response_model=ProposalDiffOut)
def get_proposal_diff(
    change_id: str, _: Reader, store: Store, vis: Visible, version: Version = None
) -> ProposalDiffOut:
    """The impact diff against the live graph, nothing written: per service, SPOFs removed
    and introduced, availability before and after with its evidence, components and paths
    that appear or disappear, customers and SLA; collisions with other open proposals."""
    got = proposal_diff.diff(store, vis, change_id, version=version)
    return ProposalDiffOut.model_validate(got.model_dump())


@router.post(PREFIX, operation_id="createProposal", status_code=201, response_model=ProposalOut)
def create_proposal(
    change_id: str,
    body: ProposalIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProposalOut:
    """The change's proposal, with the edits given (each checked; a bad one refused with
    why, nothing saved); a withdrawn one is opened again as a new version."""
    edits = _edits(body.edits)
    if body.document is not None:
        edits += proposals.edits_from_document(store, vis, body.document)
    who = caller(principal, request)
    return _out(proposals.create(store, vis, who, change_id, edits, note=body.note))


@router.post(f"{PREFIX}/edits", operation_id="addProposalEdits", response_model=ProposalOut)
def add_proposal_edits(
    change_id: str,
    body: EditsIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProposalOut:
    """A new version with these edits after the staged ones."""
    who = caller(principal, request)
    made = proposals.add_edits(store, vis, who, change_id, _edits(body.edits), note=body.note)
    return _out(made)


@router.post(f"{PREFIX}/remove-edit", operation_id="removeProposalEdit", response_model=ProposalOut)
def remove_proposal_edit(
    change_id: str,
    body: RemoveEditIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProposalOut:
    """A new version without one edit (refused if a later edit needs it)."""
    who = caller(principal, request)
    return _out(proposals.remove_edit(store, vis, who, change_id, body.index))


@router.post(f"{PREFIX}/withdraw", operation_id="withdrawProposal", response_model=ProposalOut)
def withdraw_proposal(
    change_id: str,
    body: WithdrawIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProposalOut:
    """Withdraw the proposal; its versions are kept."""
    who = caller(principal, request)
    return _out(proposals.withdraw(store, vis, who, change_id, note=body.note))


class MergeConflictOut(proposal_merge.MergeConflict):
    pass


class MergeConflictListOut(BaseModel):
    items: list[MergeConflictOut]


class MergedOut(BaseModel):
    proposal: ProposalOut
    reason: str = Field(description="what every history row of the merge carries")
    created: int
    updated: int
    retired: int
    rels_created: int
    rels_retired: int
    history_rows: int


class RebasedOut(BaseModel):
    proposal: ProposalOut
    accepted: list[MergeConflictOut] = Field(description="the live changes the rebase accepted")


def _conflicts_out(found: list[proposal_merge.MergeConflict]) -> list[MergeConflictOut]:
    return [MergeConflictOut.model_validate(c.model_dump()) for c in found]


@router.get(
    f"{PREFIX}/conflicts",
    operation_id="getProposalConflicts",
    response_model=MergeConflictListOut,
)
def get_proposal_conflicts(
    change_id: str,
    request: Request,
    store: Store,
    principal: Reader,
    vis: Visible,
    settings: SettingsDep,
) -> MergeConflictListOut:
    """What would stop a merge now, nothing written: each edit whose CIs, fields or
    relationships the live graph changed since it was staged (the value then and now,
    who changed it), and fields an outranking source owns."""
    found = proposal_merge.conflicts(
        store,
        vis,
        caller(principal, request),
        change_id,
        precedence=proposal_merge.precedence_of(settings),
    )
    return MergeConflictListOut(items=_conflicts_out(found))


@router.post(f"{PREFIX}/merge", operation_id="mergeProposal", response_model=MergedOut)
def merge_proposal(
    change_id: str,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> MergedOut:
    """Write the latest version into the live graph as one change set (the change must be
    implemented), and mark the proposal merged. A conflict with the live graph answers
    409 listing each one, with nothing written (the list: GET .../conflicts)."""
    done = proposal_merge.merge(
        store,
        vis,
        caller(principal, request),
        change_id,
        precedence=proposal_merge.precedence_of(settings),
    )
    return MergedOut(proposal=_out(done.proposal), **done.model_dump(exclude={"proposal"}))


@router.post(f"{PREFIX}/rebase", operation_id="rebaseProposal", response_model=RebasedOut)
def rebase_proposal(
    change_id: str,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
    settings: SettingsDep,
) -> RebasedOut:
    """A new version whose edits take the live graph as it is now as their base (the
    conflicts it had are accepted and returned); an edit the live graph no longer allows
    is refused by name (remove it first)."""
    made, accepted = proposal_merge.rebase(
        store,
        vis,
        caller(principal, request),
        change_id,
        precedence=proposal_merge.precedence_of(settings),
    )
    return RebasedOut(proposal=_out(made), accepted=_conflicts_out(accepted))
