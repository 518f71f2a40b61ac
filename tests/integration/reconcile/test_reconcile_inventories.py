"""Every adapter's real inventories reconciled into each store, with specific expectations,
and reliability item 10: the same payload three times adds no CI, edge or history row."""

from __future__ import annotations

import pytest

from cmdb.store.contract import Direction, GraphStore
from tests.contract.builders import key
from tests.fakes import FakeClock
from tests.reconcile_support import (
    INVENTORIES,
    all_cis,
    edge_count,
    history_rows,
    inventory_path,
    read,
    run,
)

FORMATS = {
    "k8s": "k8s",
    "compose": "compose",
    "terraform": "terraform",
    "nmap": "nmap",
    "ansible_facts": "ansible",
    "backstage": "backstage",
    "sbom": "cyclonedx",
}
# Inputs the adapters refuse on purpose (covered by their own tests).
REFUSED = {"terraform-inventory_example_v1.tfstate", "ansible-cmdb_example_hosts.ini"}


def _by_key(store: GraphStore, k: str) -> str:
    found = store.find_by_identifier(key(k))
    assert len(found) == 1, k
    return found[0].id


def _targets(store: GraphStore, key: str, rel_type: str) -> dict[str, bool]:
    """Names of what ``key`` points at over ``rel_type``, with their unresolved flag."""
    out = store.neighbours(_by_key(store, key), direction=Direction.OUT, types=[rel_type])
    return {n.ci.name: n.ci.attributes.get("unresolved") is True for n in out}


@pytest.mark.parametrize("folder", list(FORMATS))
def test_each_inventory_three_times_adds_nothing_after_the_first(
    store: GraphStore, clock: FakeClock, folder: str
) -> None:
    """All of a format's files into one store; each payload sent three times in a row."""
    fmt = FORMATS[folder]
    files = sorted(p for p in inventory_path(folder).iterdir() if p.name not in REFUSED)
    for path in files:
        first = run(store, fmt, path, scope=path.name, clock=clock)
        assert not first.conflicts, (path.name, first.conflicts)
        assert first.errors == 0, (path.name, first.problems)
        before = (len(all_cis(store)), edge_count(store), history_rows(store))
        for _ in range(2):
            clock.advance(3600)
            again = run(store, fmt, path, scope=path.name, clock=clock)
            assert (len(again.created), len(again.updated)) == (0, 0), path.name
        after = (len(all_cis(store)), edge_count(store), history_rows(store))
        assert after == before, path.name
    assert len(all_cis(store)) > 0


def test_online_boutique(store: GraphStore) -> None:
    path = inventory_path("k8s", "online-boutique_release_kubernetes-manifests.yaml")
    report = run(store, "k8s", path, scope="boutique")
    frontend = _targets(store, "k8s:default/default/Deployment/frontend", "DEPENDS_ON")
    resolved = sorted(n for n, unresolved in frontend.items() if not unresolved)
    assert len(resolved) == 7, resolved
    assert frontend["shoppingassistantservice"] is True
    assert "shoppingassistantservice" in {u.name for u in report.unresolved}
    assert all(u.ci_id for u in report.unresolved)
    assert "redis-cart" in _targets(
        store, "k8s:default/default/Deployment/cartservice", "DEPENDS_ON"
    )
    assert "frontend" in _targets(
        store, "k8s:default/default/Deployment/loadgenerator", "DEPENDS_ON"
    )
    stored = store.get_run(report.run.id)
    assert stored.status.value == "succeeded" and stored.counts["unresolved"] == 2


def test_bookinfo_three_reviews_behind_one_service(store: GraphStore) -> None:
    run(store, "k8s", inventory_path("k8s", "istio_bookinfo.yaml"))
    behind = _targets(store, "k8s:default/default/Service/reviews", "DEPENDS_ON")
    assert sorted(behind) == ["reviews-v1", "reviews-v2", "reviews-v3"]


def test_terraform_repeated_modules_has_its_70_dependency_edges(store: GraphStore) -> None:
    path = inventory_path("terraform", "inframap_repeated_modules.tfstate.json")
    report = run(store, "terraform", path)
    assert report.relationships["created"] == 70
    assert store.counts().relationships_by_type == {"DEPENDS_ON": 70}


def test_nmap_full_sudo6_four_hosts_up(store: GraphStore) -> None:
    path = inventory_path("nmap", "python-libnmap_full_sudo6.xml")
    report = run(store, "nmap", path)
    assert store.counts().by_class["Server"] == 4
    assert (report.run.counts["input.hosts_up"], report.run.counts["input.hosts_down"]) == (4, 252)


def test_inventories_folder_is_where_the_tests_look() -> None:
    if not INVENTORIES.exists():
        pytest.skip("the shared inventories are optional")
    assert {p.name for p in INVENTORIES.iterdir() if p.is_dir()} >= set(FORMATS)
    assert read("k8s", INVENTORIES / "k8s" / "istio_bookinfo.yaml").cis
