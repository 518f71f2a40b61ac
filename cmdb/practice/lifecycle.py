"""The change state machine: which state may follow which, and what each step requires.

    draft -> assessed -> authorised | rejected -> scheduled -> implemented -> reviewed -> closed
    (draft -> rejected, rejected -> closed)

A **standard** change is pre-approved: it may go from draft straight to authorised. An
**emergency** change takes the faster path: authorised straight from draft, and implemented
from draft, assessed or authorised before its documentation is complete; it is then flagged
for review, and the review requires the documentation written after the fact.

Deciding a change (authorising it, or rejecting it once assessed) needs a change authority
at least as senior as the change asks for (:func:`needed_authority`): a normal change the
approval its risk assessment names, an emergency change the emergency CAB, a standard
change none beyond being allowed to edit (it is pre-approved).

Pure: :func:`transition` returns the changed record (state, log entry, flags); storing it
is the caller's business (:mod:`cmdb.practice.changes`), and history records the step.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from cmdb.auth.roles import covers
from cmdb.domain.errors import Forbidden, InvalidInput
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangeState,
    ChangeType,
    StateEntry,
)

S = ChangeState

NEXT: dict[ChangeState, tuple[ChangeState, ...]] = {
    S.DRAFT: (S.ASSESSED, S.REJECTED),
    S.ASSESSED: (S.AUTHORISED, S.REJECTED),
    S.AUTHORISED: (S.SCHEDULED,),
    S.REJECTED: (S.CLOSED,),
    S.SCHEDULED: (S.IMPLEMENTED,),
    S.IMPLEMENTED: (S.REVIEWED,),
    S.REVIEWED: (S.CLOSED,),
    S.CLOSED: (),
}
# The shortcuts each type adds to the normal path.
SHORTCUTS: dict[ChangeType, dict[ChangeState, tuple[ChangeState, ...]]] = {
    ChangeType.STANDARD: {S.DRAFT: (S.AUTHORISED,)},
    ChangeType.EMERGENCY: {
        S.DRAFT: (S.AUTHORISED, S.IMPLEMENTED),
        S.ASSESSED: (S.IMPLEMENTED,),
        S.AUTHORISED: (S.IMPLEMENTED,),
    },
    ChangeType.NORMAL: {},
}
# States a change can still be planned or done in: the schedule and collisions look at them.
OPEN_STATES = frozenset({S.DRAFT, S.ASSESSED, S.AUTHORISED, S.SCHEDULED, S.IMPLEMENTED})


def allowed_next(change: Change) -> list[ChangeState]:
    extra = SHORTCUTS[change.type].get(change.state, ())
    order = list(ChangeState)
    return sorted({*NEXT[change.state], *extra}, key=order.index)


def documentation_gaps(change: Change) -> list[str]:
    """The RFC fields a normal change needs before it is scheduled (an emergency one before
    its review): what it changes, why, when, and how to back it out."""
    gaps: list[str] = []
    if not change.ci_ids:
        gaps.append("ci_ids (the affected CIs)")
    if not change.reason.strip():
        gaps.append("reason")
    if change.planned_start is None or change.planned_end is None:
        gaps.append("planned window")
    if not change.backout_plan.strip() and change.type is not ChangeType.STANDARD:
        gaps.append("backout_plan")
    return gaps


def _require(change: Change, to: ChangeState, outcome: ChangeOutcome | None) -> None:
    emergency = change.type is ChangeType.EMERGENCY
    # Standard changes are pre-approved and emergency ones decided by the emergency board:
    # only a normal change needs its assessment to be authorised.
    needs_risk = to is S.ASSESSED or (to is S.AUTHORISED and change.type is ChangeType.NORMAL)
    if needs_risk and change.risk is None:
        raise InvalidInput(f"{change.id} has no risk assessment yet (run assess)", where="risk")
    if to is S.ASSESSED and not change.ci_ids:
        raise InvalidInput(f"{change.id} names no affected CI", where="ci_ids")
    if to is S.SCHEDULED and (change.planned_start is None or change.planned_end is None):
        raise InvalidInput(
            f"{change.id} cannot be scheduled without a planned window", where="planned_start"
        )
    if to is S.SCHEDULED and not emergency:
        gaps = documentation_gaps(change)
        if gaps:
            raise InvalidInput(
                f"{change.id} cannot be scheduled before it is documented: {', '.join(gaps)}",
                where=gaps[0].split(" ")[0],
            )
    if to is S.REVIEWED:
        if outcome is None and change.outcome is None:
            raise InvalidInput(
                f"{change.id}: a review records the outcome (successful, failed, backed_out)",
                where="outcome",
            )
        gaps = documentation_gaps(change)
        if gaps:
            raise InvalidInput(
                f"{change.id} cannot be reviewed before it is documented: {', '.join(gaps)}",
                where=gaps[0].split(" ")[0],
            )


def is_decision(change: Change, to: ChangeState) -> bool:
    """Whether moving ``change`` to ``to`` decides it: authorising it, rejecting it once
    assessed (withdrawing a draft decides nothing), or implementing an emergency change
    nobody authorised (the fast path skips the step, not the emergency CAB)."""
    return (
        to is S.AUTHORISED
        or (to is S.REJECTED and change.state is S.ASSESSED)
        or (
            to is S.IMPLEMENTED
            and change.type is ChangeType.EMERGENCY
            and change.state in (S.DRAFT, S.ASSESSED)
        )
    )


def needed_authority(change: Change) -> tuple[ApprovalLevel, str]:
    """The change authority that decides ``change``, and why (for the refusal)."""
    if change.type is ChangeType.STANDARD:
        risk = change.risk
        if risk is not None and risk.approval is not ApprovalLevel.PRE_APPROVED:
            # Its assessment found it riskier than the policy lets a standard change be.
            return risk.approval, f"{risk.risk_class.value.replace('_', ' ')} risk: {risk.rule}"
        return ApprovalLevel.PRE_APPROVED, "a standard change"
    if change.type is ChangeType.EMERGENCY:
        # Whatever its assessed risk: the emergency CAB is the fast path's authority.
        return ApprovalLevel.CAB, "an emergency change: the emergency CAB decides"
    if change.risk is None:
        # Only rejecting can reach this (authorising needs an assessment): an amendment
        # dropped the assessment, and the least authority over normal changes may reject it.
        return ApprovalLevel.CHANGE_MANAGER, "a normal change, not assessed"
    risk = change.risk
    return risk.approval, f"{risk.risk_class.value.replace('_', ' ')} risk: {risk.rule}"


def check_authority(change: Change, to: ChangeState, authority: ApprovalLevel) -> None:
    """Forbidden unless ``authority`` may decide ``change`` (a step that decides nothing
    passes)."""
    if not is_decision(change, to):
        return
    needed, why = needed_authority(change)
    if not covers(authority, needed):
        raise Forbidden(
            f"{change.id} needs {needed.value} approval ({why}) to be {to.value};"
            f" the caller's change authority is {authority.value}",
            where="to",
        )


def transition(
    change: Change,
    to: ChangeState,
    *,
    at: datetime,
    by: str,
    note: str = "",
    outcome: ChangeOutcome | None = None,
    authority: ApprovalLevel | None = None,
) -> Change:
    """``change`` moved to ``to``; InvalidInput naming the state and the allowed next ones
    if the step is illegal, or what is missing if a requirement is not met; Forbidden if
    the step decides the change and ``authority`` is not senior enough.

    ``authority`` is the decider's change authority, checked and recorded on a decision's
    log entry. None is an unrestricted local operator (the CLI works on the database
    itself): nothing is checked. An API caller always passes its role's authority, and a
    role without one never reaches this (see :func:`cmdb.auth.roles.authority`).
    """
    allowed = allowed_next(change)
    if to not in allowed:
        nxt = ", ".join(s.value for s in allowed) or "none (it is closed)"
        raise InvalidInput(
            f"{change.id} is {change.state.value}: it cannot go to {to.value}; allowed next: {nxt}",
            where="state",
        )
    if outcome is not None and to is not S.REVIEWED:
        raise InvalidInput("an outcome is recorded by the review", where="outcome")
    _require(change, to, outcome)
    if authority is not None:
        check_authority(change, to, authority)
    decided = authority if is_decision(change, to) else None
    entry = StateEntry(state=to, at=at, by=by, note=note, authority=decided)
    update: dict[str, object] = {"state": to, "log": [*change.log, entry]}
    if to is S.IMPLEMENTED and change.type is ChangeType.EMERGENCY:
        # Documented after the fact and decided by an emergency board: always reviewed.
        update["review_required"] = True
    if to is S.REVIEWED:
        update["outcome"] = outcome or change.outcome
        update["review_required"] = False
        if note:
            update["review_notes"] = note
    return change.model_copy(update=update)


def started(change: Change, *, at: datetime, by: str) -> Change:
    """A new RFC's log opens with its draft state."""
    if change.log:
        return change
    return change.model_copy(update={"log": [StateEntry(state=change.state, at=at, by=by)]})


# What an amendment may touch: the RFC's documentation at any time before it is closed;
# what it changes and when (which its risk was assessed on) only while it is a draft or
# assessed (the assessment is then dropped), or, for an emergency change, until closed.
DOCUMENTATION = frozenset(
    {
        "title",
        "requester",
        "priority",
        "related_changes",
        "references",
        "expected_impact",
        "reason",
        "business_benefit",
        "resources",
        "backout_plan",
        "service_ids",
    }
)
SUBSTANCE = frozenset({"ci_ids", "ci_versions", "planned_start", "planned_end"})


def amend(change: Change, fields: dict[str, object]) -> Change:
    """``change`` with ``fields`` replaced (validated as a whole)."""
    unknown = sorted(set(fields) - DOCUMENTATION - SUBSTANCE)
    if unknown:
        raise InvalidInput(f"these fields are not amended by hand: {', '.join(unknown)}")
    if change.state is S.CLOSED:
        raise InvalidInput(f"{change.id} is closed", where="state")
    substance = sorted(k for k in SUBSTANCE & set(fields) if fields[k] != getattr(change, k))
    if substance and change.state in (S.REVIEWED, S.CLOSED):
        # What was done is what the review judged (and what discovery's check trusts).
        raise InvalidInput(
            f"{change.id} is {change.state.value}: its CIs and window are what was reviewed",
            where=substance[0],
        )
    update = dict(fields)
    if substance and change.type is not ChangeType.EMERGENCY:
        if change.state not in (S.DRAFT, S.ASSESSED):
            raise InvalidInput(
                f"{change.id} is {change.state.value}: its CIs and window are fixed once"
                " authorised (reject it and raise a new RFC)",
                where=substance[0],
            )
        update["risk"] = None  # assessed on other CIs or another window: assess again
    return validated({**change.model_dump(), **update})


def validated(data: dict[str, object]) -> Change:
    """A Change from ``data``, or InvalidInput naming the field at fault (a rule over the
    whole record, such as the window's order, names ``planned_end``)."""
    try:
        return Change.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "planned_end"
        raise InvalidInput(str(err["msg"]).removeprefix("Value error, "), where=where) from exc
