"""get_ci, find_by_identifier, list_cis (filters, cursors), counts, is_empty."""

from __future__ import annotations

import pytest

from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import LifecycleStatus
from cmdb.store.contract import CIFilter, GraphStore
from tests.contract.builders import all_cis, cs, ident, rel, rel_retire, retire, up


@pytest.fixture
def estate(store: GraphStore) -> dict[str, str]:
    """A small estate: key -> CI id."""
    res = store.apply(
        cs(
            up(
                "Server",
                "srv-a",
                name="Web-Front-01",
                environment="prod",
                owner="ops",
                location="dc1",
            ),
            up("Server", "srv-b", name="db-host", environment="test", owner="dba", location="dc2"),
            up("VirtualMachine", "vm-a", name="web-vm", environment="prod", owner="ops"),
            up("Pod", "pod-a", name="cart-pod", environment="prod"),
            up("Application", "app-a", name="Shop web", owner="ops"),
            up("Database", "db-a", name="orders", environment="prod", location="dc1"),
            up("Team", "team-a", name="ops"),
        )
    )
    store.apply(cs(up("Server", "srv-c", name="legacy"), source="scanner"))
    keys = ["srv-a", "srv-b", "vm-a", "pod-a", "app-a", "db-a", "team-a"]
    ids = dict(zip(keys, res.ci_ids, strict=True))
    ids["srv-c"] = store.find_by_identifier(ident("key", "srv-c"))[0].id
    store.apply(
        cs(retire("srv-b", LifecycleStatus.WITHDRAWN), retire("srv-c", LifecycleStatus.DISPOSED))
    )
    return ids


def _ids(store: GraphStore, **flt: object) -> set[str]:
    return {c.id for c in all_cis(store, CIFilter.model_validate(flt), page=2)}


def test_get_ci_and_not_found(store: GraphStore, estate: dict[str, str]) -> None:
    assert store.get_ci(estate["vm-a"]).name == "web-vm"
    with pytest.raises(NotFound):
        store.get_ci("ci_does_not_exist")


def test_find_by_identifier_normalises(store: GraphStore) -> None:
    ci_id = store.apply(
        cs(
            up(
                "Server",
                "s",
                identifiers=[
                    ident("fqdn", "Web01.Example.com."),
                    ident("mac", "00-1A-2B-3C-4D-5E"),
                    ident("ip", "10.0.0.5"),
                ],
            )
        )
    ).ci_ids[0]
    for probe in (
        ident("fqdn", "web01.example.com"),
        ident("mac", "00:1a:2b:3c:4d:5e"),
        ident("mac", "001A2B3C4D5E"),
        ident("ip", "10.0.0.5"),
    ):
        assert [c.id for c in store.find_by_identifier(probe)] == [ci_id], probe
    assert store.find_by_identifier(ident("fqdn", "web02.example.com")) == []
    # The same value under another kind is another identifier.
    assert store.find_by_identifier(ident("serial", "web01.example.com")) == []


def test_no_filter_lists_everything(store: GraphStore, estate: dict[str, str]) -> None:
    assert _ids(store) == set(estate.values())


def test_class_filter_includes_subclasses(store: GraphStore, estate: dict[str, str]) -> None:
    e = estate
    servers = {e["srv-a"], e["srv-b"], e["srv-c"]}
    assert _ids(store, ci_class="Compute") == {*servers, e["vm-a"], e["pod-a"]}
    assert _ids(store, ci_class="Container") == {e["pod-a"]}
    assert _ids(store, ci_class="Server") == {e["srv-a"], e["srv-b"], e["srv-c"]}
    assert _ids(store, ci_class="ApplicationInstance") == {e["db-a"]}
    assert _ids(store, ci_class="Party") == {e["team-a"]}
    assert _ids(store, ci_class="ConfigurationItem") == set(e.values())
    assert _ids(store, ci_class="LoadBalancer") == set()
    with pytest.raises(InvalidInput):
        store.list_cis(CIFilter(ci_class="Mainframe"))


def test_status_filter(store: GraphStore, estate: dict[str, str]) -> None:
    e = estate
    assert _ids(store, status=["withdrawn"]) == {e["srv-b"]}
    assert _ids(store, status=["withdrawn", "disposed"]) == {e["srv-b"], e["srv-c"]}
    live = set(e.values()) - {e["srv-b"], e["srv-c"]}
    assert _ids(store, status=["live"]) == live
    assert _ids(store, status=["live"], ci_class="Server") == {e["srv-a"]}


def test_field_filters(store: GraphStore, estate: dict[str, str]) -> None:
    e = estate
    assert _ids(store, environment="prod") == {e["srv-a"], e["vm-a"], e["pod-a"], e["db-a"]}
    prod_compute = {e["srv-a"], e["vm-a"], e["pod-a"]}
    assert _ids(store, environment="prod", ci_class="Compute") == prod_compute
    assert _ids(store, owner="ops") == {e["srv-a"], e["vm-a"], e["app-a"]}
    assert _ids(store, location="dc1") == {e["srv-a"], e["db-a"]}
    assert _ids(store, name="db-host") == {e["srv-b"]}
    assert _ids(store, name="DB-HOST") == set()  # exact name
    assert _ids(store, environment="staging") == set()


def test_name_contains_is_case_insensitive(store: GraphStore, estate: dict[str, str]) -> None:
    e = estate
    assert _ids(store, name_contains="web") == {e["srv-a"], e["vm-a"], e["app-a"]}
    assert _ids(store, name_contains="WEB-F") == {e["srv-a"]}
    assert _ids(store, name_contains="zzz") == set()


def test_name_contains_folds_non_ascii_letters(store: GraphStore) -> None:
    ids = store.apply(
        cs(up("Server", "z1", name="Zürich-Büro-01"), up("Server", "z2", name="ÖLTANK"))
    ).ci_ids
    assert _ids(store, name_contains="BÜRO") == {ids[0]}
    assert _ids(store, name_contains="zürich-b") == {ids[0]}
    assert _ids(store, name_contains="öl") == {ids[1]}
    assert _ids(store, name_contains="buro") == set()


def test_source_filter(store: GraphStore, estate: dict[str, str]) -> None:
    assert _ids(store, source="scanner") == {estate["srv-c"]}
    assert _ids(store, source="manual") == set(estate.values()) - {estate["srv-c"]}
    assert _ids(store, source="nobody") == set()
    # A second source seeing a CI adds it to that source's list.
    store.apply(cs(up("Server", "srv-a", name="Web-Front-01"), source="scanner"))
    assert _ids(store, source="scanner") == {estate["srv-a"], estate["srv-c"]}


def test_cursor_pagination_has_no_gaps_or_duplicates(store: GraphStore) -> None:
    expected = set(
        store.apply(
            cs(*(up("Server" if i % 3 else "VirtualMachine", f"n{i:02d}") for i in range(23)))
        ).ci_ids
    )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_cis(limit=5, cursor=cursor)
        assert 0 < len(page.items) <= 5
        seen += [c.id for c in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 5  # 5+5+5+5+3
    assert len(seen) == len(set(seen)) and set(seen) == expected
    # With a filter too, over more than three pages.
    vms = [c.id for c in all_cis(store, CIFilter(ci_class="VirtualMachine"), page=2)]
    assert len(vms) == len(set(vms)) == 8


def test_exact_page_multiple_ends_cleanly(store: GraphStore) -> None:
    store.apply(cs(*(up("Server", f"n{i}") for i in range(6))))
    first = store.list_cis(limit=3)
    second = store.list_cis(limit=3, cursor=first.next_cursor)
    assert len(first.items) == len(second.items) == 3
    if second.next_cursor is not None:
        assert store.list_cis(limit=3, cursor=second.next_cursor).items == []
    assert not {c.id for c in first.items} & {c.id for c in second.items}


def test_pages_stay_consistent_under_inserts(store: GraphStore) -> None:
    before = set(store.apply(cs(*(up("Server", f"a{i}") for i in range(10)))).ci_ids)
    seen: list[str] = []
    page = store.list_cis(limit=3)
    seen += [c.id for c in page.items]
    n = 0
    while page.next_cursor is not None:
        store.apply(cs(up("Server", f"late{n}")))
        n += 1
        page = store.list_cis(limit=3, cursor=page.next_cursor)
        seen += [c.id for c in page.items]
    assert len(seen) == len(set(seen))
    assert before <= set(seen)  # every CI that existed throughout was listed once


def test_bad_cursor_and_limit(store: GraphStore) -> None:
    with pytest.raises(InvalidInput):
        store.list_cis(cursor="%%%not-a-cursor%%%")
    with pytest.raises(InvalidInput):
        store.list_cis(limit=0)


def test_counts(store: GraphStore, estate: dict[str, str]) -> None:
    store.apply(cs(rel("DEPENDS_ON", "vm-a", "srv-a"), rel("DEPENDS_ON", "pod-a", "vm-a")))
    store.apply(cs(rel("CONTAINS", "app-a", "db-a")))
    store.apply(cs(rel_retire("DEPENDS_ON", "pod-a", "vm-a")))
    c = store.counts()
    assert c.by_class == {
        "Server": 3,
        "VirtualMachine": 1,
        "Pod": 1,
        "Application": 1,
        "Database": 1,
        "Team": 1,
    }
    assert c.by_status == {"live": 6, "withdrawn": 1, "disposed": 1}
    assert c.relationships_by_type == {"DEPENDS_ON": 1, "CONTAINS": 1}


def test_is_empty(store: GraphStore) -> None:
    assert store.is_empty()
    assert store.counts().by_class == {}
    store.apply(cs(up("Server", "s")))
    assert not store.is_empty()
