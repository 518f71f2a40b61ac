"""Change risk: facts from the impact engine and from history, through the policy's ordered
rules, to a risk class and the approval level it needs, with the reasons.

Pure. :func:`facts` reads an impact report (score, severity, customers, SLA breach,
service-hour minutes) and the reviewed changes of the CIs concerned (their failed-change
rate); :func:`evaluate` walks the rules in order and stops at the first whose conditions
all hold, saying for every rule before it which condition did not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel

from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangeRisk,
    ChangeType,
    ExpectedImpact,
    RiskClass,
)
from cmdb.practice.policy import Policy, RiskRule, RiskWhen
from impact.report import ImpactReport

_SEVERITY_ORDER = {"up": 0, "at_risk": 1, "degraded": 2, "down": 3}
_FAILED = {ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT}


class FailureRate(BaseModel):
    reviewed: int
    failed: int  # failed or backed out
    changes: list[str]  # the reviewed changes counted

    @property
    def rate(self) -> float | None:
        return self.failed / self.reviewed if self.reviewed else None


class ProposalSpof(BaseModel):
    """A service the RFC's proposal gives single points of failure it does not have now
    (from the proposal's impact diff, cmdb.app.proposal_diff)."""

    proposal_version: int
    service_id: str
    service: str
    criticality: str | None = None
    sla_target_percent: float | None = None
    spofs: list[str]  # the CIs, by name

    def text(self) -> str:
        tier = ", ".join(
            x
            for x in (
                self.criticality,
                f"SLA {self.sla_target_percent:g}%" if self.sla_target_percent else None,
            )
            if x
        )
        return f"{self.service} ({tier or 'no tier'}): {', '.join(self.spofs)}"


class RiskFacts(BaseModel):
    change_type: ChangeType
    expected_impact: ExpectedImpact | None = None
    score: float = 0.0
    worst_severity: str = "up"
    customer_facing_down: list[str] = []
    customers: list[str] = []
    sla_breach: list[str] = []
    minutes_in_hours: float = 0.0
    history: FailureRate = FailureRate(reviewed=0, failed=0, changes=[])
    sites: list[str] = []
    service_ids: list[str] = []  # the services it takes down or degrades
    proposal_spofs: list[ProposalSpof] = []  # gold services its proposal adds SPOFs to
    proposal_version: int | None = None  # the open proposal judged (None: none with edits)


class RuleCheck(BaseModel):
    rule: str
    fired: bool
    reasons: list[str]  # fired: every condition that held; else the first that did not


class Assessment(BaseModel):
    change_id: str
    risk_class: RiskClass
    approval: ApprovalLevel
    rule: str
    why: str
    facts: RiskFacts
    checks: list[RuleCheck]

    def summary(self, at: datetime) -> ChangeRisk:
        return ChangeRisk(
            risk_class=self.risk_class,
            approval=self.approval,
            rule=self.rule,
            why=self.why,
            score=self.facts.score,
            assessed_at=at,
            service_ids=self.facts.service_ids,
            proposal_version=self.facts.proposal_version,
        )


def failure_rate(
    changes: Iterable[Change], ci_ids: Iterable[str], *, exclude: str = ""
) -> FailureRate:
    """Reviewed changes (those with an outcome) that touched any of ``ci_ids``."""
    wanted = set(ci_ids)
    counted = [
        c
        for c in changes
        if c.outcome is not None and c.id != exclude and wanted.intersection(c.ci_ids)
    ]
    return FailureRate(
        reviewed=len(counted),
        failed=sum(c.outcome in _FAILED for c in counted),
        changes=sorted(c.id for c in counted),
    )


def facts(
    change: Change, report: ImpactReport | None, history: FailureRate, sites: Sequence[str]
) -> RiskFacts:
    out = RiskFacts(
        change_type=change.type,
        expected_impact=change.expected_impact,
        history=history,
        sites=sorted(set(sites)),
    )
    if report is None:
        return out
    # Only what the change makes worse counts: a service already down in an open incident
    # is not this change's risk.
    mine = [s for s in report.services if s.new]
    hit = [s for s in mine if _SEVERITY_ORDER[s.severity] >= _SEVERITY_ORDER["degraded"]]
    worst = max((s.severity for s in mine), key=_SEVERITY_ORDER.__getitem__, default="up")
    return out.model_copy(
        update={
            "score": max((s.score.value for s in mine), default=0.0),
            "worst_severity": worst,
            "customer_facing_down": sorted(
                s.name for s in hit if s.severity == "down" and s.kind == "customer_facing"
            ),
            "customers": sorted({c for s in hit for c in s.customers}),
            "service_ids": sorted(s.id for s in hit),
            "sla_breach": sorted(s.name for s in mine if s.window and s.window.breach),
            "minutes_in_hours": max(
                (s.window.minutes_in_hours for s in hit if s.window is not None), default=0.0
            ),
        }
    )


def _conditions(when: RiskWhen, f: RiskFacts) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    if when.types is not None:
        names = "/".join(t.value for t in when.types)
        out.append((f.change_type in when.types, f"type {f.change_type.value} (rule: {names})"))
    if when.score_at_least is not None:
        ok = f.score >= when.score_at_least
        out.append((ok, f"impact score {f.score:g} {'>=' if ok else '<'} {when.score_at_least:g}"))
    if when.severity_at_least is not None:
        ok = _SEVERITY_ORDER[f.worst_severity] >= _SEVERITY_ORDER[when.severity_at_least]
        out.append(
            (
                ok,
                f"worst service severity {f.worst_severity}"
                f" (rule: {when.severity_at_least} or worse)",
            )
        )
    if when.customer_facing_down is not None:
        ok = bool(f.customer_facing_down) == when.customer_facing_down
        which = ", ".join(f.customer_facing_down) or "none"
        out.append((ok, f"customer-facing services down: {which}"))
    if when.customers_at_least is not None:
        ok = len(f.customers) >= when.customers_at_least
        out.append((ok, f"{len(f.customers)} customers hit (rule: {when.customers_at_least}+)"))
    if when.sla_breach is not None:
        ok = bool(f.sla_breach) == when.sla_breach
        out.append((ok, f"SLA budgets breached: {', '.join(f.sla_breach) or 'none'}"))
    if when.minutes_in_hours_at_least is not None:
        ok = f.minutes_in_hours >= when.minutes_in_hours_at_least
        out.append(
            (
                ok,
                f"{f.minutes_in_hours:g} min in service hours"
                f" (rule: {when.minutes_in_hours_at_least:g}+)",
            )
        )
    if when.failed_rate_at_least is not None:
        h = f.history
        rate = h.rate
        ok = (
            rate is not None
            and h.reviewed >= when.reviewed_at_least
            and rate >= when.failed_rate_at_least
        )
        seen = (
            "no reviewed changes"
            if rate is None
            else f"{h.failed} of {h.reviewed} reviewed changes failed ({rate:.0%})"
        )
        out.append(
            (
                ok,
                f"{seen} on these CIs"
                f" (rule: {when.failed_rate_at_least:.0%}+ of {when.reviewed_at_least}+)",
            )
        )
    if when.sites_at_least is not None:
        ok = len(f.sites) >= when.sites_at_least
        out.append(
            (
                ok,
                f"{len(f.sites)} sites ({', '.join(f.sites) or 'none known'};"
                f" rule: {when.sites_at_least}+)",
            )
        )
    if when.proposal_spof_on_gold is not None:
        ok = bool(f.proposal_spofs) == when.proposal_spof_on_gold
        if f.proposal_spofs:
            v = f.proposal_spofs[0].proposal_version
            seen = f"proposal v{v} introduces single points of failure to gold services: "
            seen += "; ".join(p.text() for p in f.proposal_spofs)
        else:
            seen = "its proposal (if any) introduces no single point of failure to a gold service"
        out.append((ok, seen))
    if when.expected_impact is not None:
        ok = f.expected_impact is when.expected_impact
        seen = f.expected_impact.value if f.expected_impact else "not stated"
        out.append((ok, f"expected impact {seen} (rule: {when.expected_impact.value})"))
    return out


def _check(rule: RiskRule, f: RiskFacts) -> RuleCheck:
    conds = _conditions(rule.when, f)
    failed = [text for ok, text in conds if not ok]
    if failed:
        return RuleCheck(rule=rule.name, fired=False, reasons=[f"not met: {failed[0]}"])
    return RuleCheck(rule=rule.name, fired=True, reasons=[t for _, t in conds] or ["no conditions"])


def evaluate(change_id: str, f: RiskFacts, policy: Policy) -> Assessment:
    result = _first_rule(change_id, f, policy, policy.risk_rules)
    if result.risk_class is RiskClass.STANDARD:
        result = _within_ceiling(change_id, f, policy, result)
    if f.change_type is ChangeType.EMERGENCY and _RANK[result.approval] < _RANK[EMERGENCY]:
        # The fast path is decided by the emergency CAB, whatever the class: say so here,
        # as the lifecycle will ask for it (cmdb.practice.lifecycle.needed_authority).
        result = result.model_copy(
            update={
                "approval": EMERGENCY,
                "why": result.why + "; an emergency change is decided by the emergency CAB",
            }
        )
    return result


EMERGENCY = ApprovalLevel.CAB
_RANK = {level: i for i, level in enumerate(ApprovalLevel)}
_CLASS_RANK = {c: i for i, c in enumerate(RiskClass)}


def _within_ceiling(
    change_id: str, f: RiskFacts, policy: Policy, standard: Assessment
) -> Assessment:
    """A standard change as the rules after its own class it (as a normal change would
    be): above the policy's ceiling it is not pre-approved."""
    after = policy.risk_rules[[r.name for r in policy.risk_rules].index(standard.rule) + 1 :]
    if not after:
        return standard
    normal = f.model_copy(update={"change_type": ChangeType.NORMAL})
    under = _first_rule(change_id, normal, policy, after)
    if _CLASS_RANK[under.risk_class] <= _CLASS_RANK[policy.standard_ceiling]:
        return standard
    return under.model_copy(
        update={
            "checks": [*standard.checks, *under.checks],
            "why": f"a standard change is pre-approved only up to"
            f" {policy.standard_ceiling.value} risk; as a normal change, {under.why}",
            "facts": f,
        }
    )


def _first_rule(
    change_id: str, f: RiskFacts, policy: Policy, rules: Sequence[RiskRule]
) -> Assessment:
    checks: list[RuleCheck] = []
    for rule in rules:
        check = _check(rule, f)
        checks.append(check)
        if check.fired:
            approval = rule.approval or policy.approvals[rule.risk]
            return Assessment(
                change_id=change_id,
                risk_class=rule.risk,
                approval=approval,
                rule=rule.name,
                why=f"rule '{rule.name}': " + "; ".join(check.reasons),
                facts=f,
                checks=checks,
            )
    raise AssertionError("the policy's last rule has no conditions")  # pragma: no cover
