"""The practice's policy file (YAML, read safely, validated whole): risk rules, approval
levels, the incident priority matrix and review settings. The default ships as
``policy.yaml`` beside this module; ``CMDB_PRACTICE_POLICY_FILE`` names another.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import Criticality
from cmdb.domain.records import ApprovalLevel, ChangeType, ExpectedImpact, Level, RiskClass
from cmdb.domain.service import Priority

SeverityName = Literal["at_risk", "degraded", "down"]
DEFAULT_FILE = "policy.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskWhen(_Model):
    """Conditions of a rule; every one given must hold (none given: always)."""

    types: list[ChangeType] | None = None
    score_at_least: float | None = Field(default=None, ge=0, le=100)
    severity_at_least: SeverityName | None = None
    customer_facing_down: bool | None = None
    customers_at_least: int | None = Field(default=None, ge=0)
    sla_breach: bool | None = None
    minutes_in_hours_at_least: float | None = Field(default=None, ge=0)
    failed_rate_at_least: float | None = Field(default=None, ge=0, le=1)
    reviewed_at_least: int = Field(default=1, ge=1)
    sites_at_least: int | None = Field(default=None, ge=1)
    expected_impact: ExpectedImpact | None = None
    # The RFC's open what-if proposal introduces a single point of failure to a gold
    # service (Policy.gold_services).
    proposal_spof_on_gold: bool | None = None

    def is_empty(self) -> bool:
        return not (self.model_fields_set - {"reviewed_at_least"})


class GoldServices(_Model):
    """The top tier: a service of at least this criticality, or whose SLA promises at
    least this availability (percent)."""

    criticality: Criticality | None = Criticality.CRITICAL
    sla_target_at_least: float | None = Field(default=None, gt=0, le=100)

    def holds(self, criticality: str | None, sla_target: float | None) -> bool:
        order = list(Criticality)
        by_class = (
            self.criticality is not None
            and criticality in order
            and order.index(Criticality(criticality)) >= order.index(self.criticality)
        )
        by_sla = (
            self.sla_target_at_least is not None
            and sla_target is not None
            and sla_target >= self.sla_target_at_least
        )
        return bool(by_class or by_sla)


class RiskRule(_Model):
    name: str = Field(min_length=1)
    when: RiskWhen = Field(default_factory=RiskWhen)
    risk: RiskClass
    approval: ApprovalLevel | None = Field(
        default=None, description="overrides the approval level of the risk class"
    )


class Policy(_Model):
    risk_rules: list[RiskRule] = Field(min_length=1)
    approvals: dict[RiskClass, ApprovalLevel]
    priority: dict[Level, dict[Level, Priority]]
    major_priorities: list[Priority] = Field(default_factory=lambda: [Priority.P1])
    review_link_hours: float = Field(default=24.0, gt=0)
    suggest_horizon_days: int = Field(default=60, ge=1, le=366)
    # A standard change is pre-approved only while the rules after its own would class it
    # at most this risk as a normal change: marking a risky change "standard" gains nothing.
    standard_ceiling: RiskClass = RiskClass.LOW
    gold_services: GoldServices = Field(default_factory=GoldServices)

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing = [c.value for c in RiskClass if c not in self.approvals]
        if missing:
            raise ValueError(f"approvals lacks a level for {', '.join(missing)}")
        for impact in Level:
            row = self.priority.get(impact, {})
            holes = [u.value for u in Level if u not in row]
            if holes:
                raise ValueError(
                    f"priority matrix lacks impact {impact.value} x urgency {', '.join(holes)}"
                )
        if not self.risk_rules[-1].when.is_empty():
            raise ValueError("the last risk rule must have no conditions (the catch-all)")
        names = [r.name for r in self.risk_rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"risk rule names must be unique: {', '.join(dup)}")
        return self

    def priority_for(self, impact: Level, urgency: Level) -> Priority:
        return self.priority[impact][urgency]


def parse_policy(data: object, *, where: str) -> Policy:
    if not isinstance(data, dict):
        raise InvalidInput(
            "a practice policy is a mapping (risk_rules, approvals, ...)", where=where
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInput(msg, where=f"{where}: {loc}" if loc else where) from exc


def _read(text: str, where: str) -> Policy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", where=f"{where}{line}"
        ) from exc
    return parse_policy(data, where=where)


@cache
def default_policy() -> Policy:
    text = (resources.files("cmdb.practice") / DEFAULT_FILE).read_text(encoding="utf-8")
    return _read(text, DEFAULT_FILE)


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``, or the shipped default when ``path`` is None."""
    if path is None:
        return default_policy()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the policy file: {exc.strerror or exc}", where=str(path)
        ) from exc
    return _read(text, str(path))
