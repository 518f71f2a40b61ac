"""Finding a CI on the demo estate as ``make demo`` loads it (through the discovery
adapters), on both stores: the map's search for 'srv-01' lists the server first, and the
Kubernetes names that repeat are told apart with ``Class:name``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.app.inputs import resolve_visible
from cmdb.app.scope import Visibility
from cmdb.domain.errors import AmbiguousReference, NotFound
from cmdb.sample.via_discovery import load_via_discovery
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock
from tests.integration.conftest import SAMPLE_NOW
from tests.neo4j_support import fresh_store


@pytest.fixture(params=[pytest.param("embedded"), pytest.param("neo4j", marks=pytest.mark.neo4j)])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    clock = FakeClock(SAMPLE_NOW)
    s: GraphStore
    if request.param == "embedded":
        s = EmbeddedStore(tmp_path / "cmdb.db", clock=clock)
    else:
        s = fresh_store(request.getfixturevalue("neo4j_driver"), clock)
    load_via_discovery(s, actor="tester")
    try:
        yield s
    finally:
        s.close()


def test_the_map_search_for_srv_01_lists_the_server_first(demo: GraphStore) -> None:
    found = demo.list_cis(CIFilter(name_contains="srv-01"), limit=25).items
    assert [(c.ci_class, c.name) for c in found] == [
        ("Server", "srv-01"),
        ("ApplicationInstance", "https 443/tcp on srv-01.gullhaven.saltmarsh.example"),
        ("ApplicationInstance", "ssh 22/tcp on srv-01.gullhaven.saltmarsh.example"),
    ]
    hosts = demo.list_cis(CIFilter(name_contains="srv"), limit=25).items
    assert [c.name for c in hosts[:3]] == ["srv-01", "srv-02", "srv-03"]
    assert {c.ci_class for c in hosts[3:]} == {"ApplicationInstance"}
    # "booking": the exact name, then names starting with it (applications before the
    # infrastructure), then names where a word starts with it (the service first).
    booking = [c.name for c in demo.list_cis(CIFilter(name_contains="booking")).items]
    assert booking == [
        "booking",
        "Booking Engine",
        "Booking Web",
        "booking-engine",
        "booking-engine",
        "booking-web",
        "booking-web",
        "bookings-db",
        "Online Ferry Booking",
        "vol-bookings-data",
    ]


def test_repeated_kubernetes_names_resolve_by_class(demo: GraphStore) -> None:
    with pytest.raises(AmbiguousReference) as amb:
        resolve_ci(demo, "booking-web", where="ci")
    assert set(amb.value.candidates) == {
        "KubernetesWorkload:booking-web",
        "LoadBalancer:booking-web",
    }
    assert amb.value.message == f"booking-web is ambiguous: {', '.join(amb.value.candidates)}"
    workload = resolve_ci(demo, "KubernetesWorkload:booking-web")
    assert (workload.ci_class, workload.name) == ("KubernetesWorkload", "booking-web")
    assert resolve_ci(demo, "NetworkDevice:booking-web").ci_class == "LoadBalancer"
    # A caller who sees one of the two gets that one (the other is as if it did not exist).
    balancer = resolve_ci(demo, "LoadBalancer:booking-web")
    assert resolve_visible(demo, Visibility(frozenset({balancer.id})), "booking-web") == balancer
    # An id and a unique name still resolve as before.
    assert resolve_ci(demo, workload.id) == workload
    assert resolve_ci(demo, "srv-01").ci_class == "Server"
    with pytest.raises(NotFound, match=r"no Server named 'booking-web' \(found: "):
        resolve_ci(demo, "Server:booking-web")
