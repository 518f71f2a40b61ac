"""A name search (``CIFilter.name_contains``) ranks best match first, on every store.

Exact name, then prefix, then a word of the name, then any substring; within each, the
class's search rank (services, applications, hosts before ports and packages); then name
and id. Pages follow that order with the usual cursor.
"""

from __future__ import annotations

from cmdb.domain.classes import search_rank
from cmdb.domain.model import LifecycleStatus
from cmdb.store import cursor as cursors
from cmdb.store import search
from cmdb.store.contract import CIFilter, GraphStore
from tests.contract.builders import all_cis, cs, retire, up


def _names(store: GraphStore, text: str, *, page: int = 2, **flt: object) -> list[str]:
    found = all_cis(store, CIFilter.model_validate({"name_contains": text, **flt}), page=page)
    return [f"{c.ci_class}:{c.name}" for c in found]


def _demo_like(store: GraphStore) -> None:
    # What the demo's map search met: nmap ports named after the host, listed by id.
    store.apply(
        cs(
            up("ApplicationInstance", "p1", name="https 443/tcp on srv-01.gullhaven.example"),
            up("ApplicationInstance", "p2", name="ssh 22/tcp on srv-01.gullhaven.example"),
            up("SoftwarePackage", "pkg", name="srv-01-agent"),
            up("VirtualMachine", "vm", name="SRV-01-vm"),
            up("Service", "svc", name="srv-01 hosting"),
            up("Application", "app", name="mysrv-01"),
            up("Server", "srv", name="srv-01"),
            up("Server", "other", name="srv-02"),
        )
    )


def test_exact_then_prefix_then_word_then_substring(store: GraphStore) -> None:
    _demo_like(store)
    assert _names(store, "srv-01") == [
        "Server:srv-01",  # exact
        "Service:srv-01 hosting",  # prefix: a service before a host before a package
        "VirtualMachine:SRV-01-vm",
        "SoftwarePackage:srv-01-agent",
        "ApplicationInstance:https 443/tcp on srv-01.gullhaven.example",  # a word
        "ApplicationInstance:ssh 22/tcp on srv-01.gullhaven.example",
        "Application:mysrv-01",  # a substring only
    ]
    # Case is ignored in every tier; the first page is the best one.
    assert _names(store, "SRV-01")[:2] == ["Server:srv-01", "Service:srv-01 hosting"]
    first = store.list_cis(CIFilter(name_contains="srv-0"), limit=3).items
    assert [c.name for c in first] == ["srv-01 hosting", "srv-01", "SRV-01-vm"]


def test_the_order_is_the_reference_definition(store: GraphStore) -> None:
    # Names that put every tier, rank and tie-break to work, non-ASCII letters included.
    names = [
        ("Server", "db"),
        ("Database", "db"),
        ("Service", "DB platform"),
        ("Application", "db-admin"),
        ("ApplicationInstance", "postgres db:5432"),
        ("Team", "DB team"),
        ("Location", "Büro db-raum"),
        ("Pod", "cart_db-0"),
        ("KubernetesWorkload", "cartdb"),
        ("SoftwarePackage", "libdb"),
        ("Customer", "Zürich (db) users"),
        ("Application", "Db"),
    ]
    store.apply(cs(*(up(cls, f"k{i}", name=n) for i, (cls, n) in enumerate(names))))
    for text in ("db", "DB", "d", "b", "ü", "db-", "Zürich"):
        q = text.lower()
        got = all_cis(store, CIFilter(name_contains=text), page=3)
        want = sorted(
            (c for c in all_cis(store) if q in c.name.lower()),
            key=lambda c: search.sort_key(c.name, c.ci_class, c.id, q),
        )
        assert [c.id for c in got] == [c.id for c in want], text


def test_a_search_finds_exactly_the_names_holding_the_text_after_renames(
    store: GraphStore,
) -> None:
    # Texts sharing every trigram with names that do not hold them (the embedded store
    # looks names up by trigram first), quotes and FTS syntax, letters past ASCII, and
    # names changed after they were first written.
    names = [
        ("Server", "abcab"),
        ("Server", "abcabc"),
        ("Server", "aaaa"),
        ("Server", "aaa"),
        ("Application", 'say "hi" AND bye'),
        ("Application", "x*y OR z"),
        ("Location", "BÜRO Straße"),
        ("Service", "old-name"),
    ]
    store.apply(cs(*(up(cls, f"k{i}", name=n) for i, (cls, n) in enumerate(names))))
    store.apply(cs(up("Service", "k7", name="new-name"), up("Server", "k3", name="zzz")))

    def check(text: str) -> list[str]:
        q = text.lower()
        got = [c.name for c in all_cis(store, CIFilter(name_contains=text), page=3)]
        want = sorted(
            (c for c in all_cis(store) if q in c.name.lower()),
            key=lambda c: search.sort_key(c.name, c.ci_class, c.id, q),
        )
        assert got == [c.name for c in want], text
        return got

    assert check("abcabc") == ["abcabc"]  # "abcab" holds its trigrams, not the text
    assert check("aaaa") == ["aaaa"]  # the renamed "aaa" is "zzz" now
    assert check("aaa") == ["aaaa"]
    assert check('"hi" and') == ['say "hi" AND bye']
    assert check("y or") == ["x*y OR z"]
    assert check("büro") == ["BÜRO Straße"]
    assert check("straße") == ["BÜRO Straße"]
    assert check("old-name") == []
    assert check("new-name") == ["new-name"]
    assert check("name") == ["new-name"]
    assert check("zz") == ["zzz"]  # shorter than a trigram


def test_class_ranks_put_services_first_and_ports_last() -> None:
    order = ["Service", "Application", "Server", "Pod", "Database", "Team", "SoftwarePackage"]
    ranks = [search_rank(c) for c in order]
    assert ranks == sorted(ranks) and ranks[0] < ranks[1] < ranks[2] < ranks[4] < ranks[-1]
    assert search_rank("ApplicationInstance") == search_rank("SoftwarePackage")


def test_filters_still_apply_to_a_search(store: GraphStore) -> None:
    _demo_like(store)
    assert _names(store, "srv", ci_class="Compute") == [
        "Server:srv-01",
        "VirtualMachine:SRV-01-vm",
        "Server:srv-02",
    ]
    store.apply(cs(retire("srv", LifecycleStatus.WITHDRAWN)))
    assert _names(store, "srv-01", status=["live"])[0] == "Service:srv-01 hosting"
    assert _names(store, "srv-01", status=["withdrawn"]) == ["Server:srv-01"]
    assert _names(store, "nothing-like-it") == []


def test_ranked_pages_have_no_gaps_or_duplicates_under_inserts(store: GraphStore) -> None:
    _demo_like(store)
    before = {c.id for c in all_cis(store, CIFilter(name_contains="srv"))}
    seen: list[str] = []
    page = store.list_cis(CIFilter(name_contains="srv"), limit=2)
    seen += [c.id for c in page.items]
    n = 0
    while page.next_cursor is not None:
        # New matches land before and after the cursor: neither repeats a CI nor loses one.
        store.apply(cs(up("Server", f"late{n}", name=f"srv-late-{n}")))
        store.apply(cs(up("Service", f"early{n}", name=f"srv-{n:02d}")))
        n += 1
        page = store.list_cis(CIFilter(name_contains="srv"), limit=2, cursor=page.next_cursor)
        seen += [c.id for c in page.items]
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def test_a_cursor_naming_no_ci_ends_the_search(store: GraphStore) -> None:
    # Never the first page again: a client paging on would loop for ever.
    _demo_like(store)
    flt = CIFilter(name_contains="srv")
    assert store.list_cis(flt, limit=2, cursor=cursors.encode("ci_no_such_ci")).items == []
