"""The impact engine's questions (impact/queries.py) asked for a caller, and its answers cut
to what the caller may see: what ``/impact``, GraphQL's ``impact``, ``spof``,
``availability``, ``recovery`` and ``cause`` and ``cmdb impact ...`` all call.

A scoped caller sees its services and everything they depend on, so a path from a CI it
may name to a service it may see normally stays inside its scope; anything else (another
customer's service, a path through a CI outside the scope, CIs down in other people's
incidents, warnings naming CIs anywhere in the walked graph) is dropped, and a report's
score is recomputed over what is left. An unrestricted caller gets the engine's answer
untouched (REST writes it as it is, without validating it again).

The shells resolve the CIs named (REST and the CLI with :func:`resolve_all` and
:func:`service`), and bound their own arguments (depth and node caps, paths, how many
causes); the checks here are those every shell shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from cmdb.app.inputs import instant, resolve_visible
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI
from cmdb.store.contract import GraphStore
from impact import queries, spof_rank
from impact.availability import AvailabilityResult
from impact.cause import CauseResult, with_ties
from impact.explain import ImpactPath
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES
from impact.queries import Limits
from impact.recovery import RecoveryPlan
from impact.report import ImpactedCI, ImpactReport, ServiceImpact
from impact.severity import FailureMode
from impact.spof import SpofResult

# The caps a request may ask for (the CLI, on the database itself, is not held to them).
MAX_DEPTH = 4 * DEFAULT_MAX_DEPTH
MAX_NODES = 10 * DEFAULT_MAX_NODES
MAX_PATHS = 10
MAX_SPOFS = MAX_NODES  # a limit on the SPOFs listed can ask for every CI walked

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_PATHS",
    "MAX_SPOFS",
    "Limits",
    "availability",
    "cause",
    "change_impact",
    "incident_impact",
    "recovery",
    "resolve_all",
    "service",
    "spof",
]


# --- what the caller names ----------------------------------------------------------------


def resolve_all(
    store: GraphStore,
    vis: Visibility,
    refs: Sequence[str],
    *,
    where: str = "cis",
    indexed: bool = True,
) -> list[CI]:
    """The CIs ``refs`` name inside the caller's view, each once, in order (an error names
    ``where.i``, or ``where`` alone when not ``indexed``: a CLI option)."""
    if not refs:
        raise InvalidInput("give at least one CI", where=where)
    out: dict[str, CI] = {}
    for i, ref in enumerate(refs):
        ci = resolve_visible(store, vis, ref, where=f"{where}.{i}" if indexed else where)
        out.setdefault(ci.id, ci)
    return list(out.values())


def _is_service(ci: CI, where: str) -> CI:
    if ci.service is None:
        raise InvalidInput(f"{ci.label()} is not a Service", where=where)
    return ci


def service(store: GraphStore, vis: Visibility, ref: str, *, where: str = "service") -> CI:
    """The service ``ref`` names inside the caller's view."""
    return _is_service(resolve_visible(store, vis, ref, where=where), where)


# --- the questions ------------------------------------------------------------------------


def _at(at: datetime, where: str) -> datetime:
    got = instant(at, where=where)
    assert got is not None  # given one
    return got


def change_impact(
    store: GraphStore,
    vis: Visibility,
    cis: Sequence[CI],
    start: datetime,
    end: datetime,
    *,
    mode: FailureMode = FailureMode.DOWN,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    paths: int = 3,
    where_end: str = "end",
) -> ImpactReport:
    """A planned change takes ``cis`` down (or degrades them) from ``start`` to ``end``:
    the services it hits, how badly, why (paths), and the SLA exposure of the window."""
    start = _at(start, "start")
    end = _at(end, where_end)
    if end <= start:
        raise InvalidInput("the window must end after it starts", where=where_end)
    _check_paths(paths)
    got = queries.change_impact(
        store,
        cis,
        start,
        end,
        mode=mode,
        as_of=instant(as_of, where="as_of"),
        limits=limits,
        paths=paths,
    )
    return _report(vis, got)


def incident_impact(
    store: GraphStore,
    vis: Visibility,
    cis: Sequence[CI],
    *,
    mode: FailureMode = FailureMode.DOWN,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    paths: int = 3,
) -> ImpactReport:
    """``cis`` are failing now: the services hit, and how long each SLA has before breach."""
    _check_paths(paths)
    got = queries.incident_impact(
        store, cis, mode=mode, as_of=instant(as_of, where="as_of"), limits=limits, paths=paths
    )
    return _report(vis, got)


def spof(
    store: GraphStore,
    vis: Visibility,
    svc: CI,
    *,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    limit: int | None = None,
    where: str = "service",
    where_limit: str = "limit",
) -> SpofResult:
    """CIs whose failure alone takes the service down (redundancy and open incidents
    considered), those the caller sees, costliest first (the ``limit`` costliest; None:
    all). A scoped caller's are priced again over the services it sees."""
    if limit is not None and not 1 <= limit <= MAX_SPOFS:
        raise InvalidInput(f"expected 1 to {MAX_SPOFS}", where=where_limit)
    r = queries.spof_report(
        store, _is_service(svc, where), as_of=instant(as_of, where="as_of"), limits=limits
    )
    return spof_rank.cut(r, keep=None if vis.unrestricted else vis.allows, limit=limit)


def availability(
    store: GraphStore,
    vis: Visibility,
    svc: CI,
    *,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    where: str = "service",
) -> AvailabilityResult:
    """Expected availability from the components, and the odds of breaching the SLA."""
    r = queries.availability_report(
        store, _is_service(svc, where), as_of=instant(as_of, where="as_of"), limits=limits
    )
    if vis.unrestricted:
        return r
    return r.model_copy(update={"components": [c for c in r.components if vis.allows(c.id)]})


def recovery(
    store: GraphStore,
    vis: Visibility,
    svc: CI,
    *,
    as_of: datetime | None = None,
    limits: Limits = Limits(),
    current: bool = False,
    where: str = "service",
) -> RecoveryPlan:
    """What to bring back first for the service, clusters only to quorum (``current``:
    from what open incidents have down, not a cold start)."""
    r = queries.recovery_report(
        store,
        _is_service(svc, where),
        as_of=instant(as_of, where="as_of"),
        limits=limits,
        current=current,
    )
    if vis.unrestricted:
        return r
    return r.model_copy(
        update={
            "steps": [s for s in r.steps if vis.allows(s.id)],
            "services": [b for b in r.services if vis.allows(b.id)],
        }
    )


def cause(
    store: GraphStore,
    vis: Visibility,
    cis: Sequence[CI],
    *,
    as_of: datetime | None = None,
    lookback: timedelta = timedelta(hours=24),
    limits: Limits = Limits(),
    top: int = 10,
) -> CauseResult:
    """Which upstream CI best explains all these affected CIs or services? Each candidate
    with its evidence; a scoped caller's are numbered, and their ties told, again among
    those it sees (a tie note must not name a CI outside its view)."""
    r = queries.cause_report(
        store, cis, as_of=instant(as_of, where="as_of"), lookback=lookback, limits=limits, top=top
    )
    if vis.unrestricted:
        return r
    return r.model_copy(
        update={
            "candidates": with_ties(
                [
                    c.model_copy(update={"paths": _paths(vis, c.paths)})
                    for c in r.candidates
                    if vis.allows(c.id)
                ]
            ),
            "unknown": vis.keep(r.unknown),
        }
    )


# --- the answers as the caller sees them --------------------------------------------------


def _check_paths(paths: int) -> None:
    if not 0 <= paths <= MAX_PATHS:
        raise InvalidInput(f"paths must be between 0 and {MAX_PATHS}", where="paths")


def _paths(vis: Visibility, paths: list[ImpactPath]) -> list[ImpactPath]:
    # A path's notes name members of its quorums and groupings: those must be seen too.
    return [
        p
        for p in paths
        if all(vis.allows(i) for i in p.ci_ids)
        and all(vis.allows(i) for n in p.groups for i in n.named)
    ]


_Item = TypeVar("_Item", bound=ImpactedCI)


def _item(vis: Visibility, item: _Item) -> _Item:
    group = item.group
    if group is not None and not all(vis.allows(i) for i in group.named):
        group = None
    return item.model_copy(update={"paths": _paths(vis, item.paths), "group": group})


def _report(vis: Visibility, r: ImpactReport) -> ImpactReport:
    if vis.unrestricted:
        return r
    services: list[ServiceImpact] = [_item(vis, s) for s in r.services if vis.allows(s.id)]
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
            # Warnings name CIs anywhere in the walked graph: not for a scoped caller.
            "warnings": [],
        }
    )
