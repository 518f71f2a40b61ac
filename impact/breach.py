"""The probability of breaching an SLA's availability target over its period.

**Breaching the SLA** over a period of ``M`` agreed minutes (service hours of the calendar
month) with target ``T``: outages arrive as a Poisson process with ``lambda = (1 - A) M / r``
expected outages per period, each lasting an exponential time of mean ``r`` minutes (the
service's ``attributes.recovery_minutes``, else ``DEFAULT_MEAN_OUTAGE``), so the expected
downtime is ``(1 - A) M``. Downtime D is compound Poisson; the budget is
``B = (1 - T/100) M`` and ``P(D > B) = sum_n Pois(n; lambda) * P(Gamma(n, r) > B)`` with
``P(Gamma(n, r) > B) = P(Poisson(B / r) <= n - 1)``, summed exactly. Minute-by-minute
binomial models make every minute independent and so badly understate the spread of a
month made of a few long outages; this one keeps outages whole.
"""

from __future__ import annotations

import math
from datetime import datetime

from cmdb.domain.model import CI
from impact.availability import AvailabilityResult
from impact.graph import ImpactGraph
from impact.sla import minutes_in_hours, month_of

DEFAULT_MEAN_OUTAGE = 60.0  # minutes


def mean_outage_minutes(ci: CI) -> float:
    raw = ci.attributes.get("recovery_minutes")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    return DEFAULT_MEAN_OUTAGE


def breach_probability(
    availability: float, target_percent: float, agreed_minutes: float, mean_outage: float
) -> float:
    """P(downtime over the period > the SLA's allowance); see the module docstring."""
    q = max(0.0, 1.0 - availability)
    if q == 0.0 or agreed_minutes <= 0:
        return 0.0
    lam = q * agreed_minutes / mean_outage
    mu = (1.0 - target_percent / 100.0) * agreed_minutes / mean_outage
    if mu <= 0.0:
        return 1.0 - math.exp(-lam)  # no allowance: any outage breaches
    n_max = int(lam + 12.0 * math.sqrt(lam) + 40)
    total = 0.0
    cdf = 0.0  # P(Poisson(mu) <= n - 1)
    log_lam, log_mu = math.log(lam), math.log(mu)
    for n in range(1, n_max + 1):
        cdf += math.exp(-mu + (n - 1) * log_mu - math.lgamma(n))
        total += math.exp(-lam + n * log_lam - math.lgamma(n + 1)) * min(1.0, cdf)
    # Terms past n_max carry Poisson weight below 1e-30.
    return min(1.0, max(0.0, total))


def with_sla(result: AvailabilityResult, graph: ImpactGraph, at: datetime) -> AvailabilityResult:
    """The result with the SLA period's numbers and the probability of breaching it."""
    s = graph.index(result.service)
    details = graph.cis[s].service if s is not None else None
    if s is None or details is None or details.sla is None:
        return result
    sla = details.sla
    start, end = month_of(sla.service_hours, at)
    agreed = minutes_in_hours(sla.service_hours, start, end)
    r = mean_outage_minutes(graph.cis[s])
    return result.model_copy(
        update={
            "target_percent": sla.availability_target,
            "period_start": start,
            "agreed_minutes": agreed,
            "expected_downtime_minutes": (1.0 - result.availability) * agreed,
            "allowed_minutes": (1.0 - sla.availability_target / 100.0) * agreed,
            "mean_outage_minutes": r,
            "breach_probability": breach_probability(
                result.availability, sla.availability_target, agreed, r
            ),
        }
    )
