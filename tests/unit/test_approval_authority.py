"""Approval levels by role (issue 7): which authority each role holds, which covers which,
and what deciding a change needs (normal: its risk's approval; emergency: the emergency
CAB; standard: nobody senior). Pure: no store, no API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb.auth.roles import GRANTS, Permission, Role, authority, covers
from cmdb.domain.errors import Forbidden
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeRisk,
    ChangeState,
    ChangeType,
    RiskClass,
    StateEntry,
)
from cmdb.practice.lifecycle import is_decision, needed_authority, transition
from tests.unit.practice.test_lifecycle import T0, rfc

A, S = ApprovalLevel, ChangeState
AT = T0 + timedelta(hours=1)


def risk(risk_class: RiskClass, approval: ApprovalLevel, rule: str = "a rule") -> ChangeRisk:
    return ChangeRisk(risk_class=risk_class, approval=approval, rule=rule, why="", assessed_at=T0)


LOW = risk(RiskClass.LOW, A.CHANGE_MANAGER, "otherwise")
HIGH = risk(RiskClass.HIGH, A.CAB, "customer-facing outage")
VERY_HIGH = risk(RiskClass.VERY_HIGH, A.BOARD, "many sites")


def assessed(r: ChangeRisk | None, **kw: object) -> Change:
    return rfc(state=S.ASSESSED, risk=r, **kw)


# -- roles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "held"),
    [
        (Role.VIEWER, None),
        (Role.DISCOVERY, None),
        (Role.CHANGE_MANAGER, A.CHANGE_MANAGER),
        (Role.CAB, A.CAB),
        (Role.CHANGE_BOARD, A.BOARD),
        (Role.ADMIN, A.BOARD),
    ],
)
def test_each_role_holds_its_authority(role: Role, held: ApprovalLevel | None) -> None:
    assert authority(role) == held


def test_exactly_the_editing_roles_hold_an_authority() -> None:
    # An editor without one could move changes but never decide one; a non-editor with
    # one could never use it.
    for role in Role:
        assert (authority(role) is not None) == (Permission.EDIT in GRANTS[role]), role


def test_the_new_roles_edit_but_do_not_administer() -> None:
    for role in (Role.CAB, Role.CHANGE_BOARD):
        # ALERT too: whoever may open incidents may send the alerts that open them (issue 16)
        assert GRANTS[role] == {Permission.READ, Permission.EDIT, Permission.ALERT}
    assert Role("cab") is Role.CAB and Role("change-board") is Role.CHANGE_BOARD


@pytest.mark.parametrize("held", list(ApprovalLevel))
@pytest.mark.parametrize("needed", list(ApprovalLevel))
def test_a_senior_authority_covers_every_junior_level(
    held: ApprovalLevel, needed: ApprovalLevel
) -> None:
    order = list(ApprovalLevel)  # most junior first
    assert covers(held, needed) == (order.index(held) >= order.index(needed))


@pytest.mark.parametrize("needed", list(ApprovalLevel))
def test_no_authority_covers_nothing(needed: ApprovalLevel) -> None:
    assert not covers(None, needed)


# -- what a change needs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "needed"),
    [
        (assessed(LOW), A.CHANGE_MANAGER),
        (assessed(HIGH), A.CAB),
        (assessed(VERY_HIGH), A.BOARD),
        (assessed(None), A.CHANGE_MANAGER),  # amended after assessment: rejectable only
        (rfc(type=ChangeType.EMERGENCY), A.CAB),
        (rfc(type=ChangeType.EMERGENCY, risk=VERY_HIGH), A.CAB),  # the ECAB decides anyway
        (rfc(type=ChangeType.STANDARD), A.PRE_APPROVED),
    ],
    ids=["low", "high", "very-high", "unassessed", "emergency", "emergency-very-high", "std"],
)
def test_the_authority_a_change_needs(change: Change, needed: ApprovalLevel) -> None:
    assert needed_authority(change)[0] is needed


def test_only_authorising_and_rejecting_after_assessment_are_decisions() -> None:
    assert is_decision(assessed(LOW), S.AUTHORISED)
    assert is_decision(assessed(LOW), S.REJECTED)
    assert is_decision(rfc(type=ChangeType.STANDARD), S.AUTHORISED)
    assert not is_decision(rfc(), S.REJECTED)  # withdrawing a draft
    assert not is_decision(rfc(risk=LOW), S.ASSESSED)
    assert not is_decision(rfc(state=S.AUTHORISED, risk=LOW), S.SCHEDULED)


# -- transition -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "to", "held", "allowed"),
    [
        (assessed(LOW), S.AUTHORISED, A.CHANGE_MANAGER, True),
        (assessed(HIGH), S.AUTHORISED, A.CHANGE_MANAGER, False),
        (assessed(HIGH), S.REJECTED, A.CHANGE_MANAGER, False),
        (assessed(HIGH), S.AUTHORISED, A.CAB, True),
        (assessed(HIGH), S.REJECTED, A.BOARD, True),
        (assessed(VERY_HIGH), S.AUTHORISED, A.CAB, False),
        (assessed(VERY_HIGH), S.AUTHORISED, A.BOARD, True),
        (rfc(type=ChangeType.EMERGENCY), S.AUTHORISED, A.CHANGE_MANAGER, False),
        (rfc(type=ChangeType.EMERGENCY), S.AUTHORISED, A.CAB, True),
        (rfc(type=ChangeType.STANDARD), S.AUTHORISED, A.CHANGE_MANAGER, True),
        (rfc(type=ChangeType.STANDARD), S.AUTHORISED, A.PRE_APPROVED, True),
        (rfc(risk=VERY_HIGH), S.REJECTED, A.CHANGE_MANAGER, True),  # a draft withdrawn
        (rfc(state=S.AUTHORISED, risk=VERY_HIGH), S.SCHEDULED, A.CHANGE_MANAGER, True),
    ],
)
def test_deciding_needs_a_senior_enough_authority(
    change: Change, to: ChangeState, held: ApprovalLevel, allowed: bool
) -> None:
    if allowed:
        assert transition(change, to, at=AT, by="bob", authority=held).state is to
    else:
        with pytest.raises(Forbidden):
            transition(change, to, at=AT, by="bob", authority=held)


def test_a_refusal_names_the_change_the_level_needed_and_the_callers() -> None:
    with pytest.raises(Forbidden) as exc:
        transition(assessed(VERY_HIGH), S.AUTHORISED, at=AT, by="bob", authority=A.CAB)
    msg = exc.value.message
    assert msg.startswith("RFC-1 needs board approval (very high risk: many sites)")
    assert msg.endswith("the caller's change authority is cab") and exc.value.where == "to"
    with pytest.raises(Forbidden, match="emergency CAB"):
        transition(
            rfc(type=ChangeType.EMERGENCY), S.AUTHORISED, at=AT, by="b", authority=A.CHANGE_MANAGER
        )


def test_no_authority_is_the_unrestricted_local_operator() -> None:
    moved = transition(assessed(VERY_HIGH), S.AUTHORISED, at=AT, by="ops")
    assert moved.state is S.AUTHORISED and moved.log[-1].authority is None


def test_the_log_records_the_authority_of_a_decision_only() -> None:
    decided = transition(assessed(HIGH), S.AUTHORISED, at=AT, by="chair", authority=A.BOARD)
    assert decided.log[-1] == StateEntry(state=S.AUTHORISED, at=AT, by="chair", authority=A.BOARD)
    later = transition(decided, S.SCHEDULED, at=AT, by="cm", authority=A.CHANGE_MANAGER)
    assert later.log[-1].authority is None  # scheduling decides nothing
    rejected = transition(assessed(LOW), S.REJECTED, at=AT, by="cm", authority=A.CHANGE_MANAGER)
    assert rejected.log[-1].authority is A.CHANGE_MANAGER


def test_a_log_written_before_authorities_still_loads() -> None:
    old = {"state": "authorised", "at": AT.isoformat(), "by": "carol", "note": ""}
    assert StateEntry.model_validate(old).authority is None
