"""Agreements that hold each other up, for a caller: a service's SLA against the OLAs and
supplier contracts of everything it rests on (cmdb/practice/agreements.py). What
``GET /services/{ref}/agreements``, GraphQL's ``Service.agreementCheck``, the health
report, the CAB agenda and ``cmdb report agreements`` show.

A scoped caller sees its services and what they rest on (its scope is that closure), so
a path normally stays inside; an agreement whose path leaves the view is dropped, as the
impact answers drop such paths.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cmdb.app.inputs import every_ci
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI
from cmdb.practice.agreements import (
    AgreementFinding,
    ServiceAgreements,
    agreement_findings,
    check_services,
)
from cmdb.store.contract import CIFilter, GraphStore

__all__ = ["findings", "service_agreements", "visible_findings"]


def _inside(vis: Visibility, ids: Iterable[str]) -> bool:
    return all(vis.allows(i) for i in ids)


def service_agreements(
    store: GraphStore, vis: Visibility, svc: CI, *, as_of: datetime | None = None
) -> ServiceAgreements:
    """The service's SLA and every agreement it rests on (its own first, then by distance),
    each with its path and the targets it misses."""
    if svc.service is None:
        raise InvalidInput(f"{svc.label()} is not a Service", where="service")
    (got,) = check_services(store, [svc], as_of=as_of)
    if vis.unrestricted:
        return got
    kept = [c for c in got.agreements if _inside(vis, c.path.ci_ids)]
    return got.model_copy(
        update={"agreements": kept, "findings": sum(1 for c in kept if not c.holds)}
    )


def visible_findings(vis: Visibility, found: Iterable[AgreementFinding]) -> list[AgreementFinding]:
    """The findings whose whole path (service to covered CI) lies in the caller's view."""
    return [f for f in found if _inside(vis, f.path.ci_ids)]


def findings(
    store: GraphStore,
    vis: Visibility,
    *,
    services: Iterable[CI] | None = None,
) -> list[AgreementFinding]:
    """Weaker agreements below stronger SLAs: under ``services`` (default every service
    the caller sees), by service name, the nearest agreement first."""
    svcs = services if services is not None else every_ci(store, CIFilter(ci_class="Service"))
    shown = [s for s in svcs if vis.allows(s.id)]
    return visible_findings(vis, agreement_findings(store, shown))
