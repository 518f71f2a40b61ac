"""Risk classes and approval levels from known facts, through the default and custom
policies; the policy file is validated whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangeType,
    ExpectedImpact,
    RiskClass,
)
from cmdb.practice.policy import default_policy, load_policy
from cmdb.practice.risk import FailureRate, RiskFacts, evaluate, failure_rate


def facts(**kw: object) -> RiskFacts:
    return RiskFacts.model_validate({"change_type": ChangeType.NORMAL, **kw})


@pytest.mark.parametrize(
    ("given", "risk", "approval", "rule"),
    [
        ({}, RiskClass.LOW, ApprovalLevel.CHANGE_MANAGER, "otherwise"),
        (
            {"change_type": "standard"},
            RiskClass.STANDARD,
            ApprovalLevel.PRE_APPROVED,
            "standard change",
        ),
        ({"sites": ["Hall 2", "Skerry"]}, RiskClass.VERY_HIGH, ApprovalLevel.BOARD, "many sites"),
        ({"sla_breach": ["Booking SLA"]}, RiskClass.VERY_HIGH, ApprovalLevel.BOARD, "SLA breach"),
        (
            {"customer_facing_down": ["Booking"], "minutes_in_hours": 30},
            RiskClass.VERY_HIGH,
            ApprovalLevel.BOARD,
            "customer-facing outage in service hours",
        ),
        (
            {"customer_facing_down": ["Booking"], "minutes_in_hours": 0},
            RiskClass.HIGH,
            ApprovalLevel.CAB,
            "customer-facing outage",
        ),
        (
            {"history": FailureRate(reviewed=4, failed=1, changes=["a", "b", "c", "d"])},
            RiskClass.HIGH,
            ApprovalLevel.CAB,
            "unreliable CIs",
        ),
        (
            {"history": FailureRate(reviewed=1, failed=1, changes=["a"])},
            RiskClass.LOW,
            ApprovalLevel.CHANGE_MANAGER,
            "otherwise",
        ),
        ({"score": 50.0}, RiskClass.HIGH, ApprovalLevel.CAB, "high impact score"),
        ({"score": 49.9}, RiskClass.LOW, ApprovalLevel.CHANGE_MANAGER, "otherwise"),
        ({"expected_impact": "major"}, RiskClass.HIGH, ApprovalLevel.CAB, "expected major impact"),
    ],
)
def test_default_policy_known_answers(
    given: dict[str, object], risk: RiskClass, approval: ApprovalLevel, rule: str
) -> None:
    got = evaluate("RFC-1", facts(**given), default_policy())
    assert (got.risk_class, got.approval, got.rule) == (risk, approval, rule)
    assert got.why.startswith(f"rule '{rule}': ")
    assert got.checks[-1].fired and all(not c.fired for c in got.checks[:-1])


def test_the_explanation_says_which_condition_held_and_which_did_not() -> None:
    got = evaluate("RFC-1", facts(score=72.25, customer_facing_down=[]), default_policy())
    assert got.why == "rule 'high impact score': impact score 72.25 >= 50"
    by_rule = {c.rule: c.reasons for c in got.checks}
    assert by_rule["customer-facing outage"] == ["not met: customer-facing services down: none"]
    assert by_rule["unreliable CIs"] == [
        "not met: no reviewed changes on these CIs (rule: 25%+ of 2+)"
    ]
    assert "expected major impact" not in by_rule  # rules after the one that fired


def test_failure_rate_counts_reviewed_changes_of_the_cis() -> None:
    def ch(i: str, cis: list[str], outcome: ChangeOutcome | None) -> Change:
        return Change(id=i, title=i, ci_ids=cis, outcome=outcome)

    rate = failure_rate(
        [
            ch("A", ["x"], ChangeOutcome.SUCCESSFUL),
            ch("B", ["x", "y"], ChangeOutcome.FAILED),
            ch("C", ["y"], ChangeOutcome.BACKED_OUT),
            ch("D", ["x"], None),  # not reviewed
            ch("E", ["z"], ChangeOutcome.FAILED),  # other CI
            ch("F", ["x"], ChangeOutcome.FAILED),  # the change being assessed
        ],
        ["x", "y"],
        exclude="F",
    )
    assert (rate.reviewed, rate.failed, rate.changes, rate.rate) == (3, 2, ["A", "B", "C"], 2 / 3)


def test_a_custom_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        """
risk_rules:
  - name: big emergency
    when: {types: [emergency], severity_at_least: degraded, customers_at_least: 2}
    risk: high
    approval: board
  - name: rest
    risk: low
approvals: {standard: pre_approved, low: change_manager, high: cab, very_high: board}
priority:
  high: {high: P1, medium: P1, low: P2}
  medium: {high: P2, medium: P3, low: P3}
  low: {high: P3, medium: P4, low: P4}
review_link_hours: 4
"""
    )
    policy = load_policy(path)
    hit = facts(change_type="emergency", worst_severity="down", customers=["a", "b"])
    got = evaluate("RFC-9", hit, policy)
    assert (got.risk_class, got.approval) == (RiskClass.HIGH, ApprovalLevel.BOARD)
    assert got.why == (
        "rule 'big emergency': type emergency (rule: emergency); worst service severity down"
        " (rule: degraded or worse); 2 customers hit (rule: 2+)"
    )
    assert (
        evaluate("RFC-9", facts(change_type="emergency", worst_severity="at_risk"), policy).rule
        == "rest"
    )
    assert policy.review_link_hours == 4 and policy.priority_for(*["high", "medium"]) == "P1"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (
            "risk_rules: [{name: a, risk: low}]\napprovals: {low: cab}\npriority: {}",
            "approvals lacks",
        ),
        (
            "risk_rules: [{name: a, when: {score_at_least: 5}, risk: low}]\n"
            "approvals: {standard: pre_approved, low: cab, high: cab, very_high: board}\n"
            "priority: {high: {high: P1, medium: P1, low: P1}, medium: {high: P1, medium: P1,"
            " low: P1}, low: {high: P1, medium: P1, low: P1}}",
            "catch-all",
        ),
        (
            "risk_rules: [{name: a, risk: low}]\n"
            "approvals: {standard: pre_approved, low: cab, high: cab, very_high: board}\n"
            "priority: {high: {high: P1}}",
            "priority matrix lacks impact high x urgency medium, low",
        ),
        ("risk_rules: [{name: a, risk: lowish}]", "risk_rules.0.risk"),
        ("risk_rules: [\n  {name: a", "not valid YAML"),
        ("- a list", "a practice policy is a mapping"),
    ],
)
def test_a_bad_policy_is_refused_with_where(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        load_policy(path)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_the_default_policy_ships_with_the_package() -> None:
    p = default_policy()
    assert p.risk_rules[0].name == "standard change"
    assert p.approvals[RiskClass.VERY_HIGH] is ApprovalLevel.BOARD
    assert ExpectedImpact.MAJOR in {r.when.expected_impact for r in p.risk_rules}
    assert load_policy(None) is p


def test_a_standard_change_above_the_ceiling_is_not_pre_approved() -> None:
    """Marking a risky change "standard" gains nothing: the rules after the standard one
    class it as a normal change, and above the policy's ceiling (low) that decides."""
    got = evaluate(
        "RFC-1",
        facts(change_type="standard", customer_facing_down=["Booking"]),
        default_policy(),
    )
    assert (got.risk_class, got.approval, got.rule) == (
        RiskClass.HIGH,
        ApprovalLevel.CAB,
        "customer-facing outage",
    )
    assert got.why.startswith("a standard change is pre-approved only up to low risk;")
    assert got.facts.change_type is ChangeType.STANDARD
    # A higher ceiling keeps it pre-approved.
    lenient = default_policy().model_copy(update={"standard_ceiling": RiskClass.HIGH})
    kept = evaluate("RFC-1", facts(change_type="standard", customer_facing_down=["B"]), lenient)
    assert (kept.risk_class, kept.approval) == (RiskClass.STANDARD, ApprovalLevel.PRE_APPROVED)


def test_an_emergency_change_is_decided_by_the_emergency_cab() -> None:
    got = evaluate("RFC-1", facts(change_type="emergency"), default_policy())
    assert (got.risk_class, got.approval) == (RiskClass.LOW, ApprovalLevel.CAB)
    assert got.why.endswith("an emergency change is decided by the emergency CAB")
    board = evaluate("RFC-1", facts(change_type="emergency", sla_breach=["x"]), default_policy())
    assert board.approval is ApprovalLevel.BOARD  # never lowered
