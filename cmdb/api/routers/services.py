"""``/services`` and ``/slas``: the Service CIs with their portfolio details, customers
and service level agreements, and the agreements each service rests on checked against
its SLA."""

from __future__ import annotations

from fastapi import APIRouter

from cmdb.api.models import (
    ServiceAgreementsOut,
    ServiceOut,
    ServicePageOut,
    ServiceSLAOut,
    SLAListOut,
    SLAOut,
)
from cmdb.api.pagination import Cursor, Limit, filtered_page
from cmdb.api.routers._shared import AsOf, every_ci, instant, resolve_visible
from cmdb.app import agreements
from cmdb.app.scope import Visibility
from cmdb.domain.classes import is_a
from cmdb.domain.errors import NotFound
from cmdb.domain.model import CI
from cmdb.domain.service import SLA, ServiceDetails
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.web.deps import Reader, Store, Visible

router = APIRouter(tags=["services"])

SERVICES = CIFilter(ci_class="Service")


def service_out(ci: CI) -> ServiceOut:
    details = ci.service or ServiceDetails()
    return ServiceOut.model_validate(
        {
            "id": ci.id,
            "name": ci.name,
            "status": ci.status,
            "owner": ci.owner,
            "environment": ci.environment,
            "criticality": ci.criticality,
            "kind": details.kind,
            "portfolio": details.portfolio,
            "customers": details.customers,
            "sla": details.sla.model_dump() if details.sla else None,
            "agreements": ci.agreements,
        }
    )


def _service(store: GraphStore, vis: Visibility, ref: str, as_of: AsOf) -> CI:
    ci = resolve_visible(store, vis, ref)
    if not is_a(ci.ci_class, "Service"):
        raise NotFound(f"{ci.label()} is not a service", where="ref")
    at = instant(as_of)
    return ci if at is None else store.get_ci(ci.id, as_of=at)


@router.get("/services", operation_id="listServices", response_model=ServicePageOut)
def list_services(
    _: Reader, store: Store, vis: Visible, limit: Limit, cursor: Cursor = None
) -> ServicePageOut:
    """Every service CI (customer-facing and supporting), ordered by id."""

    def fetch(n: int, at: str | None) -> tuple[list[CI], str | None]:
        page = store.list_cis(SERVICES, limit=n, cursor=at)
        return page.items, page.next_cursor

    keep = None if vis.unrestricted else (lambda c: vis.allows(c.id))
    items, nxt = filtered_page(fetch, keep, lambda c: c.id, limit=limit, cursor=cursor)
    return ServicePageOut(items=[service_out(c) for c in items], next_cursor=nxt)


@router.get("/services/{ref}", operation_id="getService", response_model=ServiceOut)
def get_service(ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None) -> ServiceOut:
    """One service: kind, portfolio state, customers, SLA, agreements."""
    return service_out(_service(store, vis, ref, as_of))


@router.get("/services/{ref}/sla", operation_id="getServiceSla", response_model=SLAOut)
def get_service_sla(ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None) -> SLA:
    """The service's SLA (404 for a service without one)."""
    ci = _service(store, vis, ref, as_of)
    if ci.service is None or ci.service.sla is None:
        raise NotFound(f"the service {ci.name!r} has no SLA", where="sla")
    return ci.service.sla


@router.get(
    "/services/{ref}/agreements",
    operation_id="getServiceAgreements",
    response_model=ServiceAgreementsOut,
)
def get_service_agreements(
    ref: str, _: Reader, store: Store, vis: Visible, as_of: AsOf = None
) -> ServiceAgreementsOut:
    """Agreements that hold the SLA up: the service's own OLAs and supplier contracts and
    those of everything it rests on (through the impact relationships), each with the path
    from the service, and every SLA target it misses with both figures (availability, and
    response and resolution per priority). An agreement behind a redundant cluster is
    listed with the cluster that shields it; its gaps are no finding."""
    ci = _service(store, vis, ref, as_of)
    got = agreements.service_agreements(store, vis, ci, as_of=instant(as_of))
    return ServiceAgreementsOut.model_validate(got.model_dump())


@router.get("/slas", operation_id="listSlas", response_model=SLAListOut)
def list_slas(_: Reader, store: Store, vis: Visible) -> SLAListOut:
    """Every SLA with the service it is agreed for."""
    items = [
        ServiceSLAOut.model_validate(
            {"service_id": ci.id, "service_name": ci.name, "sla": ci.service.sla.model_dump()}
        )
        for ci in every_ci(store, SERVICES)
        if vis.allows(ci.id) and ci.service is not None and ci.service.sla is not None
    ]
    return SLAListOut(items=items)
