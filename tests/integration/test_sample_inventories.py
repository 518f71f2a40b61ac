"""The shipped sample inventories (cmdb/sample/inventories/) load through the discovery
adapters into either store without a problem, and make the Saltmarsh Ferries estate the
impact engine knows: the same services, the cluster's quorum, the SLAs, and srv-01 (seen by
nmap, Ansible and the catalogue) as one CI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.sample.via_discovery import FEEDS, feed_paths, load_via_discovery
from cmdb.store.contract import CIFilter, Direction, GraphStore
from cmdb.store.refs import resolve_ci
from impact.queries import change_impact
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock

SERVICES = {
    "Online Ferry Booking",
    "Boarding Pass App API",
    "Identity & Sign-in",
    "Card Payments",
    "Passenger Notifications",
}


@pytest.fixture(
    params=[pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    s = STORE_FACTORIES[str(request.param)](tmp_path, FakeClock(), request)
    yield s
    s.close()


def test_every_feed_has_its_files() -> None:
    for feed in FEEDS:
        paths = feed_paths(feed)
        assert paths and all(p.is_file() for p in paths), feed
    assert len(feed_paths(next(f for f in FEEDS if f.fmt == "ansible"))) == 9


def test_the_inventories_reconcile_cleanly_into_the_estate(store: GraphStore) -> None:
    loaded = load_via_discovery(store, actor="test")
    for feed, report in loaded.runs:
        assert report.run.status.value == "succeeded", (feed, report.error)
        assert report.errors == 0 and not report.problems, (feed, report.problems)
        assert not report.unresolved and not report.conflicts, feed
    assert loaded.agreements.created == 0  # every agreement found its discovered CI

    cis = store.list_cis(CIFilter(), limit=1000).items
    assert len(cis) == 57
    services = {c.name: c for c in cis if c.ci_class == "Service"}
    assert set(services) == SERVICES
    assert services["Online Ferry Booking"].service is not None
    assert services["Online Ferry Booking"].service.sla is not None
    assert sum(1 for c in cis if c.name == "srv-01") == 1
    srv = resolve_ci(store, "srv-01")
    kinds = {i.kind for i in srv.identifiers}
    assert {IdentifierKind.SERIAL, IdentifierKind.MAC, IdentifierKind.FQDN} <= kinds
    assert store.find_by_identifier(Identifier(kind=IdentifierKind.IP, value="10.20.0.1"))
    cluster = resolve_ci(store, "harbour-app-cluster")
    assert cluster.redundancy is not None and cluster.redundancy.min_up == 2
    members = store.neighbours(cluster.id, direction=Direction.IN, types=["MEMBER_OF"])
    assert sorted(n.ci.name for n in members) == ["vm-app-01", "vm-app-02", "vm-app-03"]

    # The impact engine tells the sample's story on the discovered estate too.
    report = change_impact(
        store,
        [srv],
        datetime(2030, 3, 12, 10, tzinfo=UTC),
        datetime(2030, 3, 12, 10, 45, tzinfo=UTC),
    )
    assert {s.name: s.severity for s in report.services} == {
        "Online Ferry Booking": "down",
        "Boarding Pass App API": "down",
        "Identity & Sign-in": "down",
    }

    # Loading again changes nothing.
    again = load_via_discovery(store, actor="test")
    assert all(not r.created and not r.updated for _, r in again.runs)
    assert again.agreements.created == again.agreements.updated == 0
