"""Changes in a store: create, move through the lifecycle, assess. Every write is one
change set carrying the change record, so history keeps every field and every transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cmdb.auth.roles import covers
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.instant import utc
from cmdb.domain.model import CI
from cmdb.domain.records import ApprovalLevel, Change, ChangeOutcome, ChangeState, ChangeType
from cmdb.practice.lifecycle import amend, started, transition, validated
from cmdb.practice.policy import Policy
from cmdb.practice.risk import Assessment, ProposalSpof, evaluate, facts, failure_rate
from cmdb.practice.sites import sites_of
from cmdb.store.contract import GraphStore
from impact.queries import change_impact
from impact.report import ImpactReport

# A change without a planned window is assessed as if it ran for this long from now.
ASSUMED_WINDOW = timedelta(hours=1)


def save(
    store: GraphStore, changes: Sequence[Change], *, actor: str, source: str = "manual"
) -> None:
    store.apply(ChangeSet(actor=actor, source=source, changes=list(changes)))


def create_change(store: GraphStore, change: Change, *, actor: str, now: datetime) -> Change:
    try:
        store.get_change(change.id)
    except NotFound:
        pass
    else:
        raise InvalidInput(f"a change {change.id} exists already", where="id")
    if change.state is not ChangeState.DRAFT:
        raise InvalidInput("a new RFC starts as a draft", where="state")
    made = started(change, at=now, by=actor)
    save(store, [made], actor=actor)
    return made


def transition_change(
    store: GraphStore,
    change_id: str,
    to: ChangeState,
    *,
    actor: str,
    now: datetime,
    note: str = "",
    outcome: ChangeOutcome | None = None,
    window: tuple[datetime | None, datetime | None] = (None, None),
    authority: ApprovalLevel | None = None,
    policy: Policy | None = None,
    proposal_spofs: Sequence[ProposalSpof] | None = None,
    proposal_version: int | None = None,
) -> Change:
    """One step of the lifecycle; ``window`` (start, end; None keeps that end) is set first,
    in the same write, so scheduling with a window is one change set. ``authority`` is the
    decider's change authority (None: an unrestricted local operator); a refusal writes
    nothing (see :func:`cmdb.practice.lifecycle.transition`).

    Once a change is authorised its window is what was decided: a window may then only be
    filled in where none was planned (an emergency change may move it; it is reviewed).
    With ``policy`` (every shell passes it), authorising judges the risk again and a riskier
    answer is the one the decider's authority is checked against (so a standard change's
    pre-approval holds only within the policy's ceiling); a window filled in after the
    decision is refused if it would need a more senior decision.

    ``proposal_spofs`` and ``proposal_version``: the RFC's open what-if proposal as judged
    now (the use case evaluates its impact diff when authorising; None: not judged). A
    proposal other than the one the recorded assessment judged makes the fresh answer
    the recorded one, riskier or not: the CAB decides on the proposal as it stands."""
    change = store.get_change(change_id)
    filled = False
    if window != (None, None):
        before = change
        change = _rewindowed(change, window)
        filled = change.state not in (ChangeState.DRAFT, ChangeState.ASSESSED) and (
            (change.planned_start, change.planned_end) != (before.planned_start, before.planned_end)
        )
    if policy is not None and change.type is not ChangeType.EMERGENCY:
        if filled:
            _check_filled_window(store, change, policy, now)
        elif to is ChangeState.AUTHORISED:
            change = _reassessed(store, change, policy, now, proposal_spofs, proposal_version)
    moved = transition(
        change, to, at=now, by=actor, note=note, outcome=outcome, authority=authority
    )
    save(store, [moved], actor=actor)
    return moved


def _reassessed(
    store: GraphStore,
    change: Change,
    policy: Policy,
    now: datetime,
    proposal_spofs: Sequence[ProposalSpof] | None = None,
    proposal_version: int | None = None,
) -> Change:
    """At authorisation the risk is judged again: the graph, the history or the clock may
    have moved since the assessment (a standard change may never have had one). A riskier
    answer replaces the recorded one, so the decider's authority is checked against it;
    so does any answer on another version of the proposal (or none where there was one):
    the recorded facts no longer describe what the change will do."""
    judged = proposal_spofs is not None
    fresh = assess(
        store,
        change,
        policy,
        now,
        proposal_spofs=proposal_spofs or (),
        proposal_version=proposal_version,
    ).summary(now)
    recorded = change.risk
    if recorded is None:
        return change.model_copy(update={"risk": fresh})
    if judged and recorded.proposal_version != fresh.proposal_version:
        # Said in the recorded reason, so a refusal tells the decider why it moved.
        was, now_ = (
            f"proposal v{v}" if v else "no proposal"
            for v in (recorded.proposal_version, fresh.proposal_version)
        )
        why = f"judged again at authorisation on {now_} (assessed on {was}): {fresh.why}"
        return change.model_copy(update={"risk": fresh.model_copy(update={"why": why})})
    if not covers(recorded.approval, fresh.approval):
        return change.model_copy(update={"risk": fresh})
    return change


def _check_filled_window(store: GraphStore, change: Change, policy: Policy, now: datetime) -> None:
    """A window filled in after the decision must not need a more senior decision than the
    one taken (the change was assessed as if it ran for an hour from then)."""
    fresh = assess(store, change, policy, now)
    recorded = change.risk
    if recorded is not None and not covers(recorded.approval, fresh.approval):
        raise InvalidInput(
            f"{change.id} in this window needs {fresh.approval.value} approval ({fresh.rule}),"
            f" more than the {recorded.approval.value} it was {change.state.value} with:"
            " reject it and raise a new RFC for this window",
            where="planned_start",
        )


def _rewindowed(change: Change, window: tuple[datetime | None, datetime | None]) -> Change:
    decided = change.state not in (ChangeState.DRAFT, ChangeState.ASSESSED)
    for name, new in zip(("planned_start", "planned_end"), window, strict=True):
        old = getattr(change, name)
        if (
            decided
            and change.type is not ChangeType.EMERGENCY
            and new is not None
            and old is not None
            and utc(new) != old  # an unzoned time is UTC, as stored
        ):
            raise InvalidInput(
                f"{change.id} is {change.state.value}: its window was decided as planned"
                f" ({change.planned_start} to {change.planned_end}); reject it and raise a"
                " new RFC to move it",
                where=name,
            )
    moved = validated(  # e.g. a new end before the kept start: InvalidInput
        {
            **change.model_dump(),
            "planned_start": window[0] or change.planned_start,
            "planned_end": window[1] or change.planned_end,
        }
    )
    if not decided and change.type is not ChangeType.EMERGENCY and moved != change:
        moved = moved.model_copy(update={"risk": None})  # assessed on another window
    return moved


def update_change(
    store: GraphStore, change_id: str, fields: dict[str, object], *, actor: str
) -> Change:
    """Amend an RFC (see :func:`cmdb.practice.lifecycle.amend` for what may change when)."""
    updated = amend(store.get_change(change_id), fields)
    save(store, [updated], actor=actor)
    return updated


def window_of(change: Change, now: datetime) -> tuple[datetime, datetime]:
    if change.planned_start is not None and change.planned_end is not None:
        return change.planned_start, change.planned_end
    return now, now + ASSUMED_WINDOW


def affected_cis(store: GraphStore, change: Change) -> list[CI]:
    return [store.get_ci(c) for c in change.ci_ids]


def impact_of(store: GraphStore, change: Change, now: datetime) -> ImpactReport | None:
    cis = affected_cis(store, change)
    if not cis:
        return None
    return change_impact(store, cis, *window_of(change, now), now=now)


def assess(
    store: GraphStore,
    change: Change,
    policy: Policy,
    now: datetime,
    *,
    proposal_spofs: Sequence[ProposalSpof] = (),
    proposal_version: int | None = None,
) -> Assessment:
    """The change's risk now (nothing written). ``proposal_spofs``: the services its open
    proposal (``proposal_version``) gives new single points of failure (the use cases
    evaluate the proposal); the gold ones count."""
    cis = affected_cis(store, change)
    report = impact_of(store, change, now)
    history = failure_rate(store.list_changes(), change.ci_ids, exclude=change.id)
    found = facts(change, report, history, sites_of(store, cis))
    gold = [
        p for p in proposal_spofs if policy.gold_services.holds(p.criticality, p.sla_target_percent)
    ]
    judged = {"proposal_spofs": gold, "proposal_version": proposal_version}
    return evaluate(change.id, found.model_copy(update=judged), policy)


def assess_change(
    store: GraphStore,
    change_id: str,
    policy: Policy,
    *,
    actor: str,
    now: datetime,
    proposal_spofs: Sequence[ProposalSpof] = (),
    proposal_version: int | None = None,
) -> tuple[Change, Assessment]:
    """Assess and record the risk on the change; a draft (other than a standard change,
    which is pre-approved) moves to assessed."""
    change = store.get_change(change_id)
    result = assess(
        store,
        change,
        policy,
        now,
        proposal_spofs=proposal_spofs,
        proposal_version=proposal_version,
    )
    updated = change.model_copy(update={"risk": result.summary(now)})
    if updated.state is ChangeState.DRAFT and updated.type is not ChangeType.STANDARD:
        updated = transition(updated, ChangeState.ASSESSED, at=now, by=actor, note=result.why)
    save(store, [updated], actor=actor)
    return updated, result
