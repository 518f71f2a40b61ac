"""The impact engine's answers cut to what a service-scoped caller may see.

A scoped caller sees its services and everything they depend on, so a path from a CI it
may name to a service it may see normally stays inside its scope; anything else (another
customer's service, a path through a CI outside the scope, CIs down in other people's
incidents) is dropped, and the report's score is recomputed over what is left.
"""

from __future__ import annotations

from cmdb.app.scope import Visibility
from impact.availability import AvailabilityResult
from impact.cause import CauseResult
from impact.explain import ImpactPath
from impact.recovery import RecoveryPlan
from impact.report import ImpactedCI, ImpactReport, ServiceImpact
from impact.spof import SpofResult


def _paths(vis: Visibility, paths: list[ImpactPath]) -> list[ImpactPath]:
    return [p for p in paths if all(vis.allows(i) for i in p.ci_ids)]


def _item(vis: Visibility, item: ImpactedCI) -> ImpactedCI:
    return item.model_copy(update={"paths": _paths(vis, item.paths)})


def report(vis: Visibility, r: ImpactReport) -> ImpactReport:
    if vis.unrestricted:
        return r
    services: list[ServiceImpact] = [
        s.model_copy(update={"paths": _paths(vis, s.paths)}) for s in r.services if vis.allows(s.id)
    ]
    return r.model_copy(
        update={
            "services": services,
            "cis": [_item(vis, c) for c in r.cis if vis.allows(c.id)],
            "failed": [f for f in r.failed if vis.allows(f.id)],
            "already_down": [f for f in r.already_down if vis.allows(f.id)],
            "unknown": vis.keep(r.unknown),
            "retired_ignored": vis.keep(r.retired_ignored),
            "caps": r.caps.model_copy(update={"frontier": vis.keep(r.caps.frontier)}),
            "score": max((s.score.value for s in services), default=0.0),
        }
    )


def spof(vis: Visibility, r: SpofResult) -> SpofResult:
    return (
        r
        if vis.unrestricted
        else r.model_copy(update={"spofs": [s for s in r.spofs if vis.allows(s.id)]})
    )


def availability(vis: Visibility, r: AvailabilityResult) -> AvailabilityResult:
    return (
        r
        if vis.unrestricted
        else r.model_copy(update={"components": [c for c in r.components if vis.allows(c.id)]})
    )


def recovery(vis: Visibility, r: RecoveryPlan) -> RecoveryPlan:
    return (
        r
        if vis.unrestricted
        else r.model_copy(update={"steps": [s for s in r.steps if vis.allows(s.id)]})
    )


def cause(vis: Visibility, r: CauseResult) -> CauseResult:
    if vis.unrestricted:
        return r
    return r.model_copy(
        update={
            "candidates": [
                c.model_copy(update={"paths": _paths(vis, c.paths)})
                for c in r.candidates
                if vis.allows(c.id)
            ],
            "unknown": vis.keep(r.unknown),
        }
    )
