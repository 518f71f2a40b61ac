"""The holes an editor could use to avoid the CAB: an emergency change implemented before
anyone authorised it, a risky change marked "standard", and a window moved after the
decision. Each is now a decision for the right authority, or refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cmdb.domain.errors import Forbidden, InvalidInput
from cmdb.domain.records import ApprovalLevel, ChangeRisk, ChangeState, ChangeType, RiskClass
from cmdb.practice.changes import save, transition_change
from cmdb.practice.lifecycle import is_decision, needed_authority, transition
from cmdb.store.embedded.store import EmbeddedStore
from tests.unit.practice.test_lifecycle import T0, rfc

A, S = ApprovalLevel, ChangeState


def test_implementing_an_unauthorised_emergency_change_is_the_emergency_cabs_decision() -> None:
    ch = rfc(type=ChangeType.EMERGENCY)
    assert is_decision(ch, S.IMPLEMENTED)
    with pytest.raises(Forbidden, match="needs cab approval"):
        transition(ch, S.IMPLEMENTED, at=T0, by="cm", authority=A.CHANGE_MANAGER)
    done = transition(ch, S.IMPLEMENTED, at=T0, by="chair", authority=A.CAB)
    assert done.log[-1].authority is A.CAB and done.review_required
    # Once authorised (by the emergency CAB), implementing it decides nothing more.
    authorised = transition(ch, S.AUTHORISED, at=T0, by="chair", authority=A.CAB)
    assert not is_decision(authorised, S.IMPLEMENTED)


def test_a_standard_change_assessed_above_its_ceiling_needs_that_approval() -> None:
    risky = ChangeRisk(
        risk_class=RiskClass.HIGH, approval=A.CAB, rule="customer-facing outage", why="",
        assessed_at=T0,
    )  # fmt: skip
    ch = rfc(type=ChangeType.STANDARD, risk=risky)
    assert needed_authority(ch)[0] is A.CAB
    with pytest.raises(Forbidden, match="needs cab approval"):
        transition(ch, S.AUTHORISED, at=T0, by="cm", authority=A.CHANGE_MANAGER)
    assert needed_authority(rfc(type=ChangeType.STANDARD))[0] is A.PRE_APPROVED


def test_a_decided_window_cannot_move_in_a_transition(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "c.db")
    try:
        ch = rfc(state=S.AUTHORISED, ci_ids=[])
        save(store, [ch], actor="cm")
        later = ch.planned_start + timedelta(hours=10)  # type: ignore[operator]
        history = len(store.history(ch.id))
        with pytest.raises(InvalidInput, match="its window was decided") as err:
            transition_change(store, ch.id, S.SCHEDULED, actor="cm", now=T0, window=(later, None))
        assert err.value.where == "planned_start"
        assert store.get_change(ch.id) == ch and len(store.history(ch.id)) == history
    finally:
        store.close()
