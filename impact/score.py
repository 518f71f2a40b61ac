"""The impact score: one number from 0 to 100 per impacted service, with its parts.

    score = 100 * S * (0.3 + 0.7 * (0.35 C + 0.25 U + 0.20 T + 0.20 H))

Each part is between 0 and 1:

* **S, severity**: down 1.0, degraded 0.6, at risk 0.25, up 0. It multiplies everything,
  so an unimpacted service scores 0 and an at-risk one never more than 25;
* **C, criticality** of the service: critical 1.0, high 0.75, medium 0.5, low 0.25;
  unset counts as medium;
* **U, customers**: ``n / (n + 1)`` for n distinct customers (Customer CIs it serves and
  the names in its service details and SLA): none 0, one 0.5, three 0.75, and never 1;
* **T, SLA tightness**: the availability target's nines over five,
  ``log10(1 / (1 - target/100)) / 5`` clamped to [0, 1]: 99 % -> 0.4, 99.9 % -> 0.6,
  99.99 % -> 0.8; no SLA -> 0;
* **H, service hours**: minutes of the window inside the service's hours over four hours,
  ``min(1, minutes / 240)``. Without an SLA every minute counts (the service is assumed
  always needed). A change at 03:00 outside the hours of a 05:00-23:00 service scores H = 0.

The floor of 0.3 keeps a service that is down with nothing else known visibly above an
at-risk one. The score is monotone in every part, rounds to one decimal, and the parts are
returned with it so anyone can recompute it by hand.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from cmdb.domain.built import built
from cmdb.domain.model import Criticality
from impact.severity import Severity

SEVERITY_WEIGHT: dict[Severity, float] = {
    Severity.UP: 0.0,
    Severity.AT_RISK: 0.25,
    Severity.DEGRADED: 0.6,
    Severity.DOWN: 1.0,
}
CRITICALITY_WEIGHT: dict[Criticality | None, float] = {
    Criticality.CRITICAL: 1.0,
    Criticality.HIGH: 0.75,
    Criticality.MEDIUM: 0.5,
    Criticality.LOW: 0.25,
    None: 0.5,
}
WEIGHTS: dict[str, float] = {"criticality": 0.35, "customers": 0.25, "sla": 0.20, "hours": 0.20}
FLOOR = 0.3
HOURS_SATURATE = 240.0
MAX_NINES = 5.0


class Score(BaseModel):
    """A score and everything it was computed from."""

    value: float
    severity: float
    criticality: float
    customers: float
    sla_tightness: float
    service_hours: float
    inputs: dict[str, float | int | str | None]
    formula: str = "100*S*(0.3+0.7*(0.35C+0.25U+0.20T+0.20H))"


FORMULA: str = Score.model_fields["formula"].default
# An enum's ``name`` and ``value`` go through the enum machinery at every read.
_SEVERITY_NAMES = {s: s.name.lower() for s in Severity}
_CRITICALITY_VALUES = {c: c.value for c in Criticality}
_GIVEN = frozenset(Score.model_fields) - {"formula"}  # the fields a caller gives


def tightness(target_percent: float | None) -> float:
    if target_percent is None:
        return 0.0
    allowed = 1.0 - target_percent / 100.0
    if allowed <= 0:
        return 1.0
    return min(1.0, max(0.0, math.log10(1.0 / allowed) / MAX_NINES))


def score(
    severity: Severity,
    *,
    criticality: Criticality | None,
    customers: int,
    target_percent: float | None,
    minutes_in_hours: float,
) -> Score:
    s = SEVERITY_WEIGHT[severity]
    c = CRITICALITY_WEIGHT[criticality]
    u = customers / (customers + 1.0)
    t = tightness(target_percent)
    h = min(1.0, max(0.0, minutes_in_hours) / HOURS_SATURATE)
    mix = (
        WEIGHTS["criticality"] * c
        + WEIGHTS["customers"] * u
        + WEIGHTS["sla"] * t
        + WEIGHTS["hours"] * h
    )
    value = round(100.0 * s * (FLOOR + (1.0 - FLOOR) * mix), 1)
    # Built without validation (one per impacted service): every part above is a float,
    # and the inputs are what validating them would keep (the union keeps an int an int).
    return built(
        Score,
        _GIVEN,
        value=value,
        severity=s,
        criticality=c,
        customers=round(u, 4),
        sla_tightness=round(t, 4),
        service_hours=round(h, 4),
        inputs={
            "severity": _SEVERITY_NAMES[severity],
            "criticality": _CRITICALITY_VALUES[criticality] if criticality else None,
            "customers": customers,
            "availability_target": target_percent,
            "minutes_in_hours": round(minutes_in_hours, 1),
        },
        formula=FORMULA,
    )
