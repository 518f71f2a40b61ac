"""Changes (RFCs): read one or a list, raise, amend, move, assess, review.

What ``/changes``, GraphQL's change fields and mutations and ``cmdb change`` all call. A
scoped caller reads a change that names at least one CI or service in its view, shown with
only those ids (and the linked records it reads); anything else is missing to it. It
writes only changes whose CIs and services are all in its view. The schedule, collisions
and window suggestions are in :mod:`cmdb.app.change_schedule`.

What a caller sends is in :mod:`cmdb.app.change_inputs`; errors name it in the caller's
own words (:class:`~cmdb.app.change_inputs.Words`): a request's fields by default, the
CLI's arguments and options when it passes its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cmdb.app.caller import Caller, stamped
from cmdb.app.change_inputs import REQUEST, ChangePatch, ChangeReview, ChangeStep, NewChange, Words
from cmdb.app.inputs import resolve_visible, validated
from cmdb.app.scope import (
    Visibility,
    change_readable,
    check_writable,
    incident_readable,
    readable,
)
from cmdb.auth.roles import authority as role_authority
from cmdb.auth.tokens import Principal
from cmdb.config import Settings
from cmdb.domain.errors import Forbidden, InvalidInput, NotFound
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeState,
    ChangeType,
    Incident,
)
from cmdb.practice import changes as practice
from cmdb.practice.policy import Policy, load_policy
from cmdb.practice.review import review_change
from cmdb.practice.risk import Assessment, ProposalSpof
from cmdb.practice.scoped import assessment_seen, seen
from cmdb.store.contract import GraphStore


def now() -> datetime:
    return datetime.now(UTC)


def policy_of(settings: Settings) -> Policy:
    return load_policy(settings.practice_policy_file)


def authority_of(principal: Principal) -> ApprovalLevel:
    """The caller's change authority; Forbidden for a role without one. (A token's holder
    is never the unrestricted operator, which is what no authority means to the practice:
    only the CLI, working on the database itself, passes none.)"""
    held = role_authority(principal.role)
    if held is None:
        raise Forbidden(f"the {principal.role.value} role holds no change authority")
    return held


@dataclass(frozen=True)
class Reviewed:
    change: Change
    linked: list[Incident]  # the incidents the review linked (those the caller reads)


# --- reading ------------------------------------------------------------------------------


def visible_change(
    store: GraphStore, vis: Visibility, change_id: str, *, where: str | None = "change_id"
) -> Change:
    """The stored change, if the caller reads it; NotFound otherwise, the same answer for
    one out of its view as for a missing one (``where=None``: the store's own answer for a
    missing one, for an unrestricted caller naming it by argument)."""
    try:
        change: Change | None = store.get_change(change_id)
    except NotFound:
        if where is None:
            raise
        change = None
    if change is None or not readable(vis, change):
        raise NotFound(f"no change {change_id!r}", where=where)
    return change


def shown(store: GraphStore, vis: Visibility, change: Change) -> Change:
    """``change`` as the caller is shown it: the CIs, services and declared versions in its
    view, and the linked records it reads (a linked record's id is a hint too)."""
    if vis.unrestricted:
        return change
    return seen(vis.ids, change).model_copy(
        update={
            "incident_ids": [i for i in change.incident_ids if incident_readable(store, vis, i)],
            "related_changes": [
                c for c in change.related_changes if change_readable(store, vis, c)
            ],
        }
    )


def get(store: GraphStore, vis: Visibility, change_id: str, words: Words = REQUEST) -> Change:
    return shown(store, vis, visible_change(store, vis, change_id, where=words.change_id))


def list_changes(
    store: GraphStore,
    vis: Visibility,
    *,
    states: Sequence[ChangeState] | None = None,
    type: ChangeType | None = None,
    ci: str | None = None,
    service: str | None = None,
    words: Words = REQUEST,
) -> list[Change]:
    """The changes the caller reads, by reference: in one of ``states``, of ``type``,
    naming the CI ``ci`` or the service ``service`` (references)."""
    ci_id = resolve_visible(store, vis, ci, where=words.ci).id if ci else None
    svc_id = resolve_visible(store, vis, service, where=words.service).id if service else None
    found = [
        c
        for c in store.list_changes(ci_id=ci_id)
        if readable(vis, c)
        and (not states or c.state in states)
        and (type is None or c.type is type)
        and (svc_id is None or svc_id in c.service_ids)
    ]
    found.sort(key=lambda c: c.id)
    return [shown(store, vis, c) for c in found]


def risk(
    store: GraphStore,
    vis: Visibility,
    change_id: str,
    policy: Policy,
    *,
    at: datetime | None = None,
) -> Assessment:
    """The change's risk as it would be assessed now (nothing recorded), as the caller is
    shown it."""
    change = visible_change(store, vis, change_id)
    version, spofs = _proposal_judged(store, change_id)
    result = practice.assess(
        store, change, policy, at or now(), proposal_spofs=spofs, proposal_version=version
    )
    return assessment_seen(vis.ids, result)


def _proposal_judged(store: GraphStore, change_id: str) -> tuple[int | None, list[ProposalSpof]]:
    # Imported here: the proposal diff reads changes through this module.
    from cmdb.app.proposal_risk import judged

    return judged(store, change_id)


# --- writing ------------------------------------------------------------------------------


def _stamped(store: GraphStore, caller: Caller) -> GraphStore:
    # The practice builds its own change sets: the request id reaches them this way.
    return store if caller.request_id is None else stamped(store, caller.request_id)


def _ids(store: GraphStore, vis: Visibility, refs: list[str], name: str, words: Words) -> list[str]:
    return list(
        dict.fromkeys(
            resolve_visible(store, vis, r, where=words.item(name, i)).id for i, r in enumerate(refs)
        )
    )


def _versions(
    store: GraphStore, vis: Visibility, versions: dict[str, str], words: Words
) -> dict[str, str]:
    return {
        resolve_visible(store, vis, ref, where=words.item(words.ci_versions, ref)).id: v
        for ref, v in versions.items()
    }


def _writable(
    store: GraphStore, vis: Visibility, change_id: str, what: str, words: Words
) -> Change:
    change = visible_change(store, vis, change_id, where=words.change_id)
    check_writable(vis, change, what)
    return change


def create(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    new: NewChange,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Change:
    """Raise an RFC (a draft); the requester defaults to the caller."""
    store = _stamped(store, caller)
    cis = _ids(store, vis, new.cis, words.cis, words)
    versions = _versions(store, vis, new.ci_versions, words)
    services = _ids(store, vis, new.services, words.services, words)
    data = new.model_dump(exclude={"cis", "services", "ci_versions"})
    data |= {
        "requester": new.requester or caller.name,
        "ci_ids": list(dict.fromkeys([*cis, *versions])),
        "ci_versions": versions,
        "service_ids": services,
    }
    change = validated(Change, data, where=words.body)
    check_writable(vis, change, "raise it")
    made = practice.create_change(store, change, actor=caller.name, now=at or now())
    return shown(store, vis, made)


def update(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    change_id: str,
    patch: ChangePatch,
    *,
    words: Words = REQUEST,
) -> Change:
    """Amend an RFC: its documentation until it is closed; its CIs and window only as a
    draft or assessed (which drops the assessment), or for an emergency change."""
    store = _stamped(store, caller)
    change = _writable(store, vis, change_id, "amend it", words)
    given = patch.model_dump(include=patch.model_fields_set)
    if not given:
        raise InvalidInput("nothing to change: give at least one field", where=words.body)
    fields: dict[str, object] = {
        k: v for k, v in given.items() if k not in ("cis", "services", "ci_versions")
    }
    if patch.cis is not None:
        fields["ci_ids"] = _ids(store, vis, patch.cis, words.cis, words)
    if patch.services is not None:
        fields["service_ids"] = _ids(store, vis, patch.services, words.services, words)
    if patch.ci_versions is not None:
        versions = _versions(store, vis, patch.ci_versions, words)
        fields["ci_versions"] = versions
        ids = fields.get("ci_ids", change.ci_ids)
        assert isinstance(ids, list)
        fields["ci_ids"] = list(dict.fromkeys([*ids, *versions]))
    if words.body is not None or not vis.unrestricted:
        # The change as it would be, judged by the scope rule; its errors name the request.
        # (Without a request, the practice validates it and names the record's field.)
        candidate = validated(Change, {**change.model_dump(), **fields}, where=words.body)
        check_writable(vis, candidate, "name CIs outside it")
    updated = practice.update_change(store, change_id, fields, actor=caller.name)
    return shown(store, vis, updated)


def transition(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    change_id: str,
    step: ChangeStep,
    policy: Policy,
    *,
    authority: ApprovalLevel | None,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Change:
    """One step of the lifecycle (a review records an outcome: :func:`review`). Deciding
    the change is checked against ``authority`` (None: the unrestricted local operator);
    the policy assesses a standard change authorised without an assessment."""
    store = _stamped(store, caller)
    change = _writable(store, vis, change_id, "move it", words)
    if step.to is ChangeState.REVIEWED:
        raise InvalidInput(f"a review records an outcome: {words.review}", where=words.to)
    # Authorising judges the risk again, the proposal as it stands included (its diff is
    # evaluated only then: the one step that needs it; the emergency CAB decides an
    # emergency change whatever its risk).
    rejudged = step.to is ChangeState.AUTHORISED and change.type is not ChangeType.EMERGENCY
    version, spofs = _proposal_judged(store, change_id) if rejudged else (None, None)
    moved = practice.transition_change(
        store,
        change_id,
        step.to,
        actor=caller.name,
        now=at or now(),
        note=step.note,
        window=(step.planned_start, step.planned_end),
        authority=authority,
        policy=policy,
        proposal_spofs=spofs,
        proposal_version=version,
    )
    return shown(store, vis, moved)


def assess(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    change_id: str,
    policy: Policy,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> tuple[Change, Assessment]:
    """Assess the risk and record it (a draft, other than a standard change, moves to
    assessed): the change and the assessment as the caller is shown them."""
    store = _stamped(store, caller)
    _writable(store, vis, change_id, "assess it", words)
    version, spofs = _proposal_judged(store, change_id)
    changed, result = practice.assess_change(
        store,
        change_id,
        policy,
        actor=caller.name,
        now=at or now(),
        proposal_spofs=spofs,
        proposal_version=version,
    )
    return shown(store, vis, changed), assessment_seen(vis.ids, result)


def review(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    change_id: str,
    given: ChangeReview,
    policy: Policy,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Reviewed:
    """Post-implementation review: the outcome, and the incidents on impacted CIs opened
    during the change or soon after, linked both ways."""
    store = _stamped(store, caller)
    _writable(store, vis, change_id, "review it", words)
    reviewed, linked = review_change(
        store,
        change_id,
        given.outcome,
        policy,
        actor=caller.name,
        now=at or now(),
        note=given.note,
        # A scoped caller links only incidents it reads: it never writes a record it
        # could not see.
        may_link=None if vis.unrestricted else (lambda inc: readable(vis, inc)),
    )
    return Reviewed(shown(store, vis, reviewed), [i for i in linked if readable(vis, i)])
