"""The impact engine on Online Boutique, discovered from its real release manifests.

The manifests (GoogleCloudPlatform/microservices-demo, Apache-2.0) are read in place from
../shared/data/inventories/k8s (never copied here; absent in a user's clone, where these
tests skip with the reason), parsed by the kubernetes adapter and reconciled into each
store, once on the embedded store and once on a real Neo4j (``neo4j`` mark: the session
starts the server, it never skips).

What discovery gives: per app a Deployment (KubernetesWorkload) and a Service (a
LoadBalancer CI) that DEPENDS_ON it; the ``*_ADDR`` env vars become DEPENDS_ON from a
Deployment to the Services it calls; the Namespace CONTAINS everything (a placeholder: the
manifests never declare it); the frontend's SHOPPING_ASSISTANT_SERVICE_ADDR names a Service
that does not exist, which becomes an unresolved placeholder.

A Kubernetes estate has no business services, so each test adds them by hand as the CAB
would: "Online Boutique" (customer-facing, an SLA) DEPENDS_ON the frontend-external Service,
and "Sponsored Ads" DEPENDS_ON the adservice Service (a service the cart never touches).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.model import CI
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from discovery.reconcile import reconcile
from impact.queries import change_impact, spof_report
from impact.report import ImpactReport
from tests.contract.builders import key
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store
from tests.reconcile_support import inventory_path, read

MANIFESTS = ("k8s", "online-boutique_release_kubernetes-manifests.yaml")
LOADED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
BOUTIQUE, ADS = "Online Boutique", "Sponsored Ads"
W, LB = "KubernetesWorkload", "LoadBalancer"  # a Deployment; a k8s Service
# Every app of the manifests; shoppingassistantservice is only named by the frontend.
APPS = {
    "adservice", "cartservice", "checkoutservice", "currencyservice", "emailservice",
    "frontend", "paymentservice", "productcatalogservice", "recommendationservice",
    "redis-cart", "shippingservice",
}  # fmt: skip


def k8s(kind: str, name: str) -> CIRef:
    return CIRef(identifier=key(f"k8s:default/default/{kind}/{name}"))


def business_service(name: str, slug: str, **details: object) -> CIUpsert:
    return CIUpsert.model_validate(
        {
            "class": "Service",
            "name": name,
            "identifiers": [key(f"service:{slug}")],
            "criticality": "high",
            "service": details,
        }
    )


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    path = inventory_path(*MANIFESTS)  # skips when the shared inventories are absent
    clock = FakeClock(LOADED)
    s: GraphStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "cmdb.db", clock=clock)
    else:
        s = fresh_store(request.getfixturevalue("neo4j_driver"), clock)
    try:
        report = reconcile(s, read("k8s", path), source="k8s", scope="boutique", clock=clock)
        assert report.error is None, report.error
        assert {u.name for u in report.unresolved} == {"shoppingassistantservice", "default"}
        # What the CAB adds: the business services discovery cannot know about.
        s.apply(
            ChangeSet(
                actor="cab",
                source="manual",
                ci_upserts=[
                    business_service(
                        BOUTIQUE,
                        "online-boutique",
                        kind="customer_facing",
                        customers=["Shoppers"],
                        sla={"name": "Storefront", "availability_target": 99.9},
                    ),
                    business_service(ADS, "sponsored-ads", kind="supporting"),
                ],
                rel_upserts=[
                    RelUpsert(
                        type="DEPENDS_ON",
                        source=CIRef(identifier=key("service:online-boutique")),
                        target=k8s("Service", "frontend-external"),
                    ),
                    RelUpsert(
                        type="DEPENDS_ON",
                        source=CIRef(identifier=key("service:sponsored-ads")),
                        target=k8s("Service", "adservice"),
                    ),
                ],
            )
        )
        yield s
    finally:
        s.close()


def one(store: GraphStore, ref: CIRef) -> CI:
    assert ref.identifier is not None
    found = store.find_by_identifier(ref.identifier)
    assert len(found) == 1, ref
    return found[0]


def impacted(report: ImpactReport) -> dict[tuple[str, str], str]:
    """(class, name) -> severity: names repeat across a Deployment and its Service."""
    return {(c.ci_class, c.name): c.severity for c in report.cis}


def classes(store: GraphStore, ids: list[str]) -> list[str]:
    return [store.get_ci(i).ci_class for i in ids]


def test_redis_cart_down_takes_the_cart_checkout_frontend_and_the_storefront_down(
    store: GraphStore,
) -> None:
    redis = one(store, k8s("Deployment", "redis-cart"))
    r = change_impact(store, [redis], *WINDOW, now=LOADED)

    chain = ("redis-cart", "cartservice", "checkoutservice", "frontend")
    expected = {(cls, app): "down" for app in chain for cls in (W, LB)}
    expected |= {
        (LB, "frontend-external"): "down",  # the frontend's external Service
        (W, "loadgenerator"): "down",  # it calls the frontend (FRONTEND_ADDR)
        # The Namespace groups what failed: affected, not down (issue 14 item 6).
        ("CloudResource", "default"): "degraded",
        ("Service", BOUTIQUE): "down",
    }
    assert impacted(r) == expected  # the cause (down) included
    assert [f.name for f in r.failed] == ["redis-cart"]
    # Nothing the cart does not reach: the other apps, the ads service, the placeholder.
    untouched = APPS - set(chain)
    assert not {name for _cls, name in impacted(r)} & {*untouched, ADS, "shoppingassistantservice"}
    assert [s.name for s in r.services] == [BOUTIQUE]

    by_name = {(c.ci_class, c.name): c for c in r.cis}
    cart = by_name[(W, "cartservice")]
    assert cart.reason == "depends on redis-cart (down)"
    assert cart.paths[0].names == ["redis-cart", "redis-cart", "cartservice"]
    assert cart.paths[0].types == ["DEPENDS_ON", "DEPENDS_ON"]
    assert classes(store, cart.paths[0].ci_ids) == [W, LB, W]
    # checkoutservice calls cartservice (CART_SERVICE_ADDR): Deployment -> Service -> ...
    checkout = by_name[(W, "checkoutservice")].paths[0]
    assert checkout.names == [
        "redis-cart", "redis-cart", "cartservice", "cartservice", "checkoutservice"
    ]  # fmt: skip
    assert classes(store, checkout.ci_ids) == [W, LB, W, LB, W]
    # The frontend calls cartservice itself, so its shortest path skips checkout.
    frontend = by_name[(W, "frontend")].paths[0]
    assert frontend.names == ["redis-cart", "redis-cart", "cartservice", "cartservice", "frontend"]
    loadgen = by_name[(W, "loadgenerator")].paths[0]
    assert loadgen.names[-3:] == ["frontend", "frontend", "loadgenerator"]

    boutique = r.services[0]
    assert boutique.severity == "down" and boutique.customers == ["Shoppers"]
    assert boutique.sla == "Storefront" and boutique.availability_target == 99.9
    assert boutique.paths[0].names == [
        "redis-cart", "redis-cart", "cartservice", "cartservice",
        "frontend", "frontend-external", BOUTIQUE,
    ]  # fmt: skip
    assert boutique.paths[0].types == ["DEPENDS_ON"] * 6
    assert all(p.names[0] == "redis-cart" and p.names[-1] == BOUTIQUE for p in boutique.paths)
    assert 0 < boutique.score.value <= 100
    assert r.caps.strategy == "walk" and r.caps.store_calls == 1
    assert not r.caps.truncated_by_nodes

    # The namespace: 10 of its 24 members hit (5 Deployments, their 5 Services and
    # frontend-external), with the count; never down for a member.
    ns = by_name[("CloudResource", "default")]
    assert ns.reason == (
        "default: 10 of 24 members hit "
        "(redis-cart, cartservice, checkoutservice, frontend, frontend-external and 1 more down)"
    )
    assert ns.group is not None and ns.group.kind == "grouping"
    assert (ns.group.members, ns.group.hit, ns.group.down, ns.group.needed) == (24, 10, 10, 0)
    assert ns.paths[0].names == ["redis-cart", "default"] and ns.paths[0].types == ["CONTAINS"]
    assert ns.paths[0].text.endswith("; " + ns.reason)
    assert ns.new  # no open incident had hit it


def test_impact_follows_the_declared_direction(store: GraphStore) -> None:
    """The frontend-external Service going away hurts the storefront, not the frontend
    Deployment behind it, nor loadgenerator (which calls the internal frontend Service)."""
    external = one(store, k8s("Service", "frontend-external"))
    r = change_impact(store, [external], *WINDOW, now=LOADED)
    assert impacted(r) == {
        (LB, "frontend-external"): "down",
        ("Service", BOUTIQUE): "down",
        ("CloudResource", "default"): "degraded",  # one of its members is hit
    }
    ns = next(c for c in r.cis if c.name == "default")
    assert ns.reason == "default: 1 of 24 members hit (frontend-external down)"
    ads = change_impact(store, [one(store, k8s("Deployment", "adservice"))], *WINDOW, now=LOADED)
    assert {s.name: s.severity for s in ads.services} == {ADS: "down", BOUTIQUE: "down"}
    assert impacted(ads)[(W, "loadgenerator")] == "down"
    assert (W, "cartservice") not in impacted(ads)


def test_spofs_of_the_storefront_include_the_unresolved_shopping_assistant(
    store: GraphStore,
) -> None:
    """No Deployment declares replicas > 1 behind a cluster, so every CI the storefront
    needs is a single point of failure, the placeholder the frontend calls included."""
    assistant = one(store, k8s("Service", "shoppingassistantservice"))
    assert assistant.attributes.get("unresolved") is True and assistant.ci_class == LB
    r = spof_report(store, one(store, CIRef(identifier=key("service:online-boutique"))))
    spofs = {(s.ci_class, s.name) for s in r.spofs}
    assert (LB, "shoppingassistantservice") in spofs
    # The frontend calls 8 Services; 7 have a Deployment behind them (the 8th is the
    # placeholder); recommendationservice and checkoutservice add no new Service.
    needed = {(LB, "frontend-external"), (W, "frontend"), (LB, "shoppingassistantservice")}
    needed |= {(cls, app) for app in APPS - {"frontend", "loadgenerator"} for cls in (W, LB)}
    assert spofs == needed
    # Nothing downstream of the frontend is needed by the storefront.
    assert not {n for _c, n in spofs} & {"loadgenerator", "default", ADS}
    assert r.cone_size == len(needed) + 1  # the service itself
