"""The probability of breaching an SLA's availability target over its period.

**Breaching the SLA** over a period of ``M`` agreed minutes (service hours of the calendar
month) with target ``T``: outages arrive as a Poisson process with ``lambda = (1 - A) M / r``
expected outages per period, each lasting an exponential time of mean ``r`` minutes, so the
expected downtime is ``(1 - A) M``. ``r`` is, in this order: the mean length of the
service's own recorded outages (observed), its declared ``mttr_minutes`` /
``recovery_minutes`` / ``rto_minutes``, the failure-rate-weighted mean repair time of its
components (what an outage of the service would last if each component failure caused
one; its source is the weakest its main contributors rest on), else ``DEFAULT_MEAN_OUTAGE``.
Downtime D is compound Poisson; the budget is
``B = (1 - T/100) M`` and ``P(D > B) = sum_n Pois(n; lambda) * P(Gamma(n, r) > B)`` with
``P(Gamma(n, r) > B) = P(Poisson(B / r) <= n - 1)``, summed exactly. Minute-by-minute
binomial models make every minute independent and so badly understate the spread of a
month made of a few long outages; this one keeps outages whole.
"""

from __future__ import annotations

import math
from datetime import datetime

from cmdb.domain.model import CI
from impact.availability import AvailabilityResult, Component, Sourced
from impact.evidence import Records, reliability, service_record, weakest
from impact.graph import ImpactGraph
from impact.sla import minutes_in_hours, month_of

DEFAULT_MEAN_OUTAGE = 60.0  # minutes


def mean_outage_minutes(ci: CI) -> float:
    raw = ci.attributes.get("recovery_minutes")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0:
        return float(raw)
    return DEFAULT_MEAN_OUTAGE


def mean_outage(service: CI, components: list[Component], records: Records | None) -> Sourced:
    """How long an outage of the service lasts on average, and where that comes from."""
    own = service_record(records, service.id) if records is not None else None
    if own is not None and own.mean_minutes is not None:
        return Sourced(
            figure="mean outage",
            value=own.mean_minutes,
            source="observed",
            basis=f"mean of the service's recorded outages ({own.basis})",
        )
    declared = reliability(service).mttr_minutes
    if declared.source == "declared" and declared.value:
        return Sourced(
            figure="mean outage", value=declared.value, source="declared", basis=declared.basis
        )
    weighted = [
        (c.failures_per_year, c.mttr_minutes, c.mttr_source)
        for c in components
        if not c.logical and c.failures_per_year > 0 and c.mttr_minutes
    ]
    total = sum(w for w, _m, _s in weighted)
    if total > 0:
        value = sum(w * (m or 0.0) for w, m, _s in weighted) / total
        # The sources of the repairs that make up most of the failures.
        main: list[str] = []
        covered = 0.0
        for w, _m, src in sorted(weighted, key=lambda t: -t[0]):
            if covered >= 0.8 * total:
                break
            main.append(src)
            covered += w
        return Sourced(
            figure="mean outage",
            value=value,
            source=weakest(*main),
            basis=f"repair times of {len(weighted)} components, weighted by how often each"
            f" fails ({sum(1 for *_x, s in weighted if s == 'observed')} observed)",
        )
    return Sourced(
        figure="mean outage",
        value=DEFAULT_MEAN_OUTAGE,
        source="default",
        basis="default: no outage, repair time or failing component known",
    )


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


def with_sla(
    result: AvailabilityResult,
    graph: ImpactGraph,
    at: datetime,
    *,
    records: Records | None = None,
) -> AvailabilityResult:
    """The result with the SLA period's numbers and the probability of breaching it, each
    figure with its source (``records``: the outages the CMDB holds)."""
    s = graph.index(result.service)
    details = graph.cis[s].service if s is not None else None
    if s is None or details is None or details.sla is None:
        return result
    sla = details.sla
    start, end = month_of(sla.service_hours, at)
    agreed = minutes_in_hours(sla.service_hours, start, end)
    outage = mean_outage(graph.cis[s], result.components, records)
    r = outage.value or DEFAULT_MEAN_OUTAGE
    allowed = (1.0 - sla.availability_target / 100.0) * agreed
    a_source = result.figures[0].source if result.figures else "default"
    p = breach_probability(result.availability, sla.availability_target, agreed, r)
    sla_basis = f"SLA {sla.name!r}: {sla.availability_target:g} % of {agreed / 60:.1f} h"
    figures = [
        *result.figures,
        Sourced(
            figure="agreed minutes",
            value=agreed,
            source="declared",
            basis=f"the SLA's service hours, {start:%B %Y}",
        ),
        Sourced(figure="allowed downtime", value=allowed, source="declared", basis=sla_basis),
        Sourced(
            figure="expected downtime",
            value=(1.0 - result.availability) * agreed,
            source=a_source,
            basis="(1 - availability) x agreed minutes",
        ),
        outage,
        Sourced(
            figure="P(breach)",
            value=p,
            source=weakest(a_source, outage.source),
            basis=f"availability ({a_source}) and mean outage ({outage.source}),"
            " outages as a Poisson process",
        ),
    ]
    return result.model_copy(
        update={
            "target_percent": sla.availability_target,
            "period_start": start,
            "agreed_minutes": agreed,
            "expected_downtime_minutes": (1.0 - result.availability) * agreed,
            "allowed_minutes": allowed,
            "mean_outage_minutes": r,
            "breach_probability": p,
            "figures": figures,
        }
    )
