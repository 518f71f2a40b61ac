"""The change risk rule that reads a proposal's impact diff (issue 17, item 2), on both
stores: "a proposal that introduces a SPOF to a gold service needs the CAB", with the
services and SPOFs as the evidence in the RFC's risk answer.

Known data: on the sample estate, the standby-pair proposal makes bookings-db-pair a
single point of failure of both booking services (tests/integration/test_proposals_stores
.py): Online Ferry Booking (critical, SLA 99.9 %) and Boarding Pass App API (critical,
SLA 99.95 %).
"""

from __future__ import annotations

from cmdb.app import changes, proposals
from cmdb.domain.records import ApprovalLevel, Change, RiskClass
from cmdb.practice.changes import save
from cmdb.practice.policy import GoldServices, Policy, RiskRule, RiskWhen, default_policy
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.integration.test_proposals_stores import ADMIN, ALL, STANDBY

RULE = "proposal adds a SPOF to a gold service"


def _policy(gold: GoldServices | None = None) -> Policy:
    # Only the rule and the catch-all, so the rule is what decides (or not).
    rules = [
        RiskRule(
            name=RULE,
            when=RiskWhen(proposal_spof_on_gold=True),
            risk=RiskClass.HIGH,
            approval=ApprovalLevel.CAB,
        ),
        RiskRule(name="otherwise", risk=RiskClass.LOW),
    ]
    update: dict[str, object] = {"risk_rules": rules}
    if gold is not None:
        update["gold_services"] = gold
    return default_policy().model_copy(update=update)


def _rfc(store: GraphStore) -> None:
    db = resolve_ci(store, "bookings-db").id
    save(store, [Change(id="RFC-1", title="standby", ci_ids=[db])], actor="t")
    proposals.create(store, ALL, ADMIN, "RFC-1", STANDBY)


def test_a_proposal_adding_a_spof_to_a_gold_service_needs_the_cab(
    sample_store: GraphStore,
) -> None:
    store = sample_store
    _rfc(store)
    got = changes.risk(store, ALL, "RFC-1", _policy())
    assert (got.rule, got.risk_class, got.approval) == (RULE, RiskClass.HIGH, ApprovalLevel.CAB)
    # The evidence: which gold services, and the SPOFs the proposal gives them.
    spofs = {
        (p.service, p.criticality, p.sla_target_percent): p.spofs for p in got.facts.proposal_spofs
    }
    assert spofs == {
        ("Boarding Pass App API", "critical", 99.95): ["bookings-db-pair"],
        ("Online Ferry Booking", "critical", 99.9): ["bookings-db-pair"],
    }
    fired = next(c for c in got.checks if c.rule == RULE)
    assert fired.fired and fired.reasons == [
        "proposal v1 introduces single points of failure to gold services:"
        " Boarding Pass App API (critical, SLA 99.95%): bookings-db-pair;"
        " Online Ferry Booking (critical, SLA 99.9%): bookings-db-pair"
    ]
    # Recorded by the assessment, with the rule as its reason.
    changed, _ = changes.assess(store, ADMIN, ALL, "RFC-1", _policy())
    assert changed.risk is not None
    assert (changed.risk.rule, changed.risk.approval) == (RULE, ApprovalLevel.CAB)


def test_gold_is_the_policys_top_tier(sample_store: GraphStore) -> None:
    store = sample_store
    _rfc(store)
    # Gold by SLA alone: only the 99.95 % service counts.
    by_sla = _policy(GoldServices(criticality=None, sla_target_at_least=99.95))
    got = changes.risk(store, ALL, "RFC-1", by_sla)
    assert got.rule == RULE
    assert [p.service for p in got.facts.proposal_spofs] == ["Boarding Pass App API"]
    # No service is gold: the rule does not fire, and says why.
    none = _policy(GoldServices(criticality=None, sla_target_at_least=99.99))
    got = changes.risk(store, ALL, "RFC-1", none)
    assert (got.rule, got.approval) == ("otherwise", ApprovalLevel.CHANGE_MANAGER)
    check = next(c for c in got.checks if c.rule == RULE)
    assert not check.fired and "no single point of failure" in check.reasons[0]
    # A withdrawn proposal is no longer what the change will do.
    proposals.withdraw(store, ALL, ADMIN, "RFC-1")
    assert changes.risk(store, ALL, "RFC-1", _policy()).rule == "otherwise"


def test_the_shipped_policy_has_the_rule_before_the_high_ones() -> None:
    policy = default_policy()
    names = [r.name for r in policy.risk_rules]
    rule = policy.risk_rules[names.index(RULE)]
    assert (rule.risk, rule.approval) == (RiskClass.HIGH, ApprovalLevel.CAB)
    # After the very-high rules (a riskier answer wins), before the other high ones.
    assert names.index(RULE) == names.index("customer-facing outage") - 1
    assert policy.gold_services.holds("critical", None)
    assert policy.gold_services.holds("high", 99.95)
    assert not policy.gold_services.holds("high", 99.9)
