"""Authorising an RFC judges its proposal's risk again (issue 17), on both stores: the
proposal as it stands and the live graph as it is now, not the facts of the assessment.

Known data (tests/integration/test_proposal_risk.py): on the sample estate the
standby-pair proposal makes bookings-db-pair a new single point of failure of both
booking services, Online Ferry Booking (critical, SLA 99.9 %) and Boarding Pass App API
(critical, SLA 99.95 %); the policy here has only the proposal rule (high, CAB) and a
catch-all (low, change manager)."""

from __future__ import annotations

import pytest

from cmdb.app import changes, proposals
from cmdb.app.change_inputs import ChangeStep, NewChange
from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.errors import Forbidden
from cmdb.domain.model import Criticality
from cmdb.domain.records import ApprovalLevel, ChangeState
from cmdb.practice.policy import GoldServices, Policy
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.integration.test_proposal_risk import RULE, _policy
from tests.integration.test_proposals_stores import ADMIN, ALL, STANDBY

HARMLESS = [{"op": "update_ci", "ci_id": "bookings-db", "fields": {"owner": "dba-team"}}]
SERVICES = ("Online Ferry Booking", "Boarding Pass App API")


def _authorise(
    store: GraphStore, authority: ApprovalLevel, policy: Policy | None = None
) -> ChangeState:
    step = ChangeStep(to=ChangeState.AUTHORISED)
    policy = policy or _policy()
    return changes.transition(store, ADMIN, ALL, "RFC-1", step, policy, authority=authority).state


def _rfc(store: GraphStore, edits: list[dict[str, object]]) -> None:
    changes.create(store, ADMIN, ALL, NewChange(id="RFC-1", title="db", cis=["bookings-db"]))
    proposals.create(store, ALL, ADMIN, "RFC-1", edits)


def test_a_new_version_adding_a_spof_needs_the_cab_at_authorisation(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    _rfc(store, HARMLESS)
    assessed, _ = changes.assess(store, ADMIN, ALL, "RFC-1", _policy())
    assert assessed.risk is not None
    assert (assessed.risk.rule, assessed.risk.approval) == (
        "otherwise",
        ApprovalLevel.CHANGE_MANAGER,
    )
    assert assessed.risk.proposal_version == 1
    # After the assessment, the proposal gains the standby pair (version 2).
    assert proposals.add_edits(store, ALL, ADMIN, "RFC-1", STANDBY).version == 2
    with pytest.raises(Forbidden, match=f"needs cab approval \\(high risk: {RULE}\\)"):
        _authorise(store, ApprovalLevel.CHANGE_MANAGER)
    kept = store.get_change("RFC-1")  # a refusal writes nothing
    assert kept.state is ChangeState.ASSESSED and kept.risk == assessed.risk
    assert _authorise(store, ApprovalLevel.CAB) is ChangeState.AUTHORISED
    risk = store.get_change("RFC-1").risk
    assert risk is not None
    assert (risk.rule, risk.approval, risk.proposal_version) == (RULE, ApprovalLevel.CAB, 2)
    assert risk.why.startswith(
        "judged again at authorisation on proposal v2 (assessed on proposal v1):"
    )


def test_a_version_without_the_spof_is_judged_on_what_it_is_now(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    _rfc(store, STANDBY)
    assessed, _ = changes.assess(store, ADMIN, ALL, "RFC-1", _policy())
    assert assessed.risk is not None
    assert (assessed.risk.approval, assessed.risk.proposal_version) == (ApprovalLevel.CAB, 1)
    # Withdrawn, then opened again with only the harmless edit: no new SPOF any more.
    proposals.withdraw(store, ALL, ADMIN, "RFC-1")
    assert proposals.create(store, ALL, ADMIN, "RFC-1", HARMLESS).version == 3
    assert _authorise(store, ApprovalLevel.CHANGE_MANAGER) is ChangeState.AUTHORISED
    risk = store.get_change("RFC-1").risk
    assert risk is not None
    assert (risk.rule, risk.approval, risk.proposal_version) == (
        "otherwise",
        ApprovalLevel.CHANGE_MANAGER,
        3,
    )


def test_a_live_graph_that_moved_is_judged_again_with_the_same_version(
    sample_store: GraphStore,
) -> None:
    store = sample_store

    def tier(criticality: str) -> None:
        ups = [
            CIUpsert.model_validate(
                {"id": s.id, "class": s.ci_class, "name": s.name, "criticality": criticality}
            )
            for s in (resolve_ci(store, n) for n in SERVICES)
        ]
        store.apply(ChangeSet(actor="svc-owner", source="manual", ci_upserts=ups))

    by_tier = _policy(GoldServices(criticality=Criticality.CRITICAL, sla_target_at_least=None))
    _rfc(store, STANDBY)
    tier("high")  # neither booking service is gold (gold here: critical) ...
    assessed, _ = changes.assess(store, ADMIN, ALL, "RFC-1", by_tier)
    assert assessed.risk is not None and assessed.risk.rule == "otherwise"
    tier("critical")  # ... until the live graph says they are, after the assessment
    with pytest.raises(Forbidden, match="needs cab approval"):
        _authorise(store, ApprovalLevel.CHANGE_MANAGER, by_tier)
    assert _authorise(store, ApprovalLevel.CAB, by_tier) is ChangeState.AUTHORISED
    risk = store.get_change("RFC-1").risk
    assert risk is not None and (risk.rule, risk.proposal_version) == (RULE, 1)
