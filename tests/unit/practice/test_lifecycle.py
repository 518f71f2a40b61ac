"""The change state machine: the normal path, the standard and emergency shortcuts, and
illegal steps named with the state and what may follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangeRisk,
    ChangeState,
    ChangeType,
    RiskClass,
)
from cmdb.practice.lifecycle import allowed_next, amend, documentation_gaps, started, transition

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
S = ChangeState
RISK = ChangeRisk(
    risk_class=RiskClass.LOW,
    approval=ApprovalLevel.CHANGE_MANAGER,
    rule="otherwise",
    why="no conditions",
    assessed_at=T0,
)


def rfc(**kw: object) -> Change:
    base: dict[str, object] = {
        "id": "RFC-1",
        "title": "patch",
        "ci_ids": ["ci-1"],
        "reason": "CVE-2026-1",
        "backout_plan": "restore the snapshot",
        "planned_start": T0 + timedelta(days=1),
        "planned_end": T0 + timedelta(days=1, hours=1),
    }
    return started(Change.model_validate({**base, **kw}), at=T0, by="alice")


def walk(ch: Change, *states: ChangeState, outcome: ChangeOutcome | None = None) -> Change:
    for i, s in enumerate(states):
        ch = transition(
            ch,
            s,
            at=T0 + timedelta(minutes=i + 1),
            by="bob",
            outcome=outcome if s is S.REVIEWED else None,
        )
    return ch


def test_the_normal_path_logs_every_state_in_order() -> None:
    ch = walk(
        rfc(risk=RISK),
        S.ASSESSED,
        S.AUTHORISED,
        S.SCHEDULED,
        S.IMPLEMENTED,
        S.REVIEWED,
        S.CLOSED,
        outcome=ChangeOutcome.SUCCESSFUL,
    )
    assert ch.state is S.CLOSED and ch.outcome is ChangeOutcome.SUCCESSFUL
    assert [e.state for e in ch.log] == [
        S.DRAFT, S.ASSESSED, S.AUTHORISED, S.SCHEDULED, S.IMPLEMENTED, S.REVIEWED, S.CLOSED
    ]  # fmt: skip
    assert ch.entered(S.IMPLEMENTED) == T0 + timedelta(minutes=4)
    assert allowed_next(ch) == []


def test_an_illegal_step_names_the_state_and_the_allowed_next_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        transition(rfc(), S.SCHEDULED, at=T0, by="bob")
    assert str(err.value) == (
        "state: RFC-1 is draft: it cannot go to scheduled; allowed next: assessed, rejected"
    )
    closed = walk(rfc(), S.REJECTED, S.CLOSED)
    with pytest.raises(InvalidInput, match="allowed next: none"):
        transition(closed, S.DRAFT, at=T0, by="bob")


def test_assessment_and_documentation_gate_the_steps() -> None:
    with pytest.raises(InvalidInput, match="no risk assessment"):
        transition(rfc(), S.ASSESSED, at=T0, by="bob")
    bare = rfc(risk=RISK, backout_plan="", planned_start=None, planned_end=None)
    authorised = walk(bare, S.ASSESSED, S.AUTHORISED)
    with pytest.raises(InvalidInput, match="without a planned window"):
        transition(authorised, S.SCHEDULED, at=T0, by="bob")
    no_backout = walk(rfc(risk=RISK, backout_plan=""), S.ASSESSED, S.AUTHORISED)
    with pytest.raises(InvalidInput, match="documented: backout_plan"):
        transition(no_backout, S.SCHEDULED, at=T0, by="bob")


def test_a_standard_change_is_pre_approved() -> None:
    ch = rfc(type=ChangeType.STANDARD)
    assert allowed_next(ch) == [S.ASSESSED, S.AUTHORISED, S.REJECTED]
    assert walk(ch, S.AUTHORISED, S.SCHEDULED).state is S.SCHEDULED
    with pytest.raises(InvalidInput, match="cannot go to authorised"):
        transition(rfc(), S.AUTHORISED, at=T0, by="bob")


def test_the_emergency_path_implements_first_and_documents_before_review() -> None:
    ch = rfc(type=ChangeType.EMERGENCY, reason="", backout_plan="", planned_start=None,
             planned_end=None)  # fmt: skip
    assert S.IMPLEMENTED in allowed_next(ch)
    done = walk(ch, S.IMPLEMENTED)
    assert done.review_required and done.state is S.IMPLEMENTED
    assert documentation_gaps(done) == ["reason", "planned window", "backout_plan"]
    with pytest.raises(InvalidInput, match="cannot be reviewed before it is documented"):
        transition(done, S.REVIEWED, at=T0, by="bob", outcome=ChangeOutcome.FAILED)
    documented = done.model_copy(
        update={
            "reason": "outage",
            "backout_plan": "revert",
            "planned_start": T0,
            "planned_end": T0 + timedelta(minutes=20),
        }
    )
    with pytest.raises(InvalidInput, match="records the outcome"):
        transition(documented, S.REVIEWED, at=T0, by="bob")
    reviewed = transition(documented, S.REVIEWED, at=T0, by="bob", outcome=ChangeOutcome.FAILED)
    assert not reviewed.review_required and reviewed.outcome is ChangeOutcome.FAILED


def test_an_outcome_only_comes_with_the_review() -> None:
    with pytest.raises(InvalidInput, match="recorded by the review"):
        transition(rfc(), S.REJECTED, at=T0, by="bob", outcome=ChangeOutcome.SUCCESSFUL)


def test_old_change_records_still_load_and_versions_must_name_affected_cis() -> None:
    old = Change.model_validate({"id": "RFC-0", "title": "from before", "ci_ids": ["a"]})
    assert old.log == [] and old.outcome is None and old.priority.value == "normal"
    with pytest.raises(ValueError, match="does not affect"):
        Change(id="RFC-2", title="x", ci_ids=["a"], ci_versions={"b": "1.2"})


def test_amendments_documentation_any_time_substance_only_before_authorisation() -> None:
    assessed = walk(rfc(risk=RISK), S.ASSESSED)
    later = T0 + timedelta(days=2)
    moved = amend(assessed, {"planned_start": later, "planned_end": later + timedelta(hours=1)})
    assert moved.risk is None and moved.state is S.ASSESSED  # assess again
    with pytest.raises(InvalidInput, match="no risk assessment yet"):
        transition(moved, S.AUTHORISED, at=T0, by="cab")
    authorised = walk(rfc(risk=RISK), S.ASSESSED, S.AUTHORISED)
    assert amend(authorised, {"reason": "also CVE-2"}).risk == RISK
    with pytest.raises(InvalidInput, match="fixed once authorised") as err:
        amend(authorised, {"ci_ids": ["ci-1", "ci-2"]})
    assert err.value.where == "ci_ids"
    assert amend(authorised, {"ci_ids": ["ci-1"]}).risk == RISK  # the same: no change
    with pytest.raises(InvalidInput, match="not amended by hand: state"):
        amend(authorised, {"state": S.CLOSED})
    with pytest.raises(InvalidInput, match="is closed"):
        amend(walk(rfc(), S.REJECTED, S.CLOSED), {"title": "x"})
    # Bad input naming the field (a pydantic error here once reached GraphQL clients as an
    # internal error; schemathesis found it).
    with pytest.raises(InvalidInput, match="planned_end must be after"):
        amend(rfc(), {"planned_end": T0})


def test_an_emergency_change_is_documented_after_the_fact() -> None:
    done = walk(rfc(type=ChangeType.EMERGENCY, ci_ids=[], reason=""), S.IMPLEMENTED)
    fixed = amend(done, {"ci_ids": ["ci-9"], "reason": "payments down"})
    assert documentation_gaps(fixed) == [] and fixed.review_required
    assert transition(fixed, S.REVIEWED, at=T0, by="cab", outcome=ChangeOutcome.SUCCESSFUL)
