"""iter_documents: every stored CI and relationship document, as its model dumps, in id
order, a batch at a time (what a snapshot's export copies without decoding)."""

from __future__ import annotations

import orjson

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.model import LifecycleStatus
from cmdb.store.contract import DocumentKind, GraphStore
from tests.contract.builders import (
    all_cis,
    all_rels,
    cs,
    ident,
    rel,
    rel_retire,
    retire,
    touch,
    up,
)
from tests.fakes import FakeClock


def _fill(store: GraphStore, clock: FakeClock) -> None:
    store.apply(
        cs(
            up("Service", "shop", owner="biz"),
            up("ApplicationInstance", "app", identifiers=[ident("hostname", "app01")]),
            up("Server", "srv", identifiers=[ident("serial", "SN-1")], attributes={"os": "x"}),
            up("Server", "spare", attributes={"ram": 1.5, "note": "naïve ünïcode"}),
            up("Cluster", "cl", redundancy={"min_up": 1}),
            rel("DEPENDS_ON", "shop", "app"),
            rel("RUNS_ON", "app", "srv"),
            rel("MEMBER_OF", "srv", "cl"),
            rel("MEMBER_OF", "spare", "cl"),
        )
    )
    clock.advance(60)
    store.apply(
        cs(
            up("Server", "srv", attributes={"os": None, "ram": 64}, owner="ops"),
            rel_retire("MEMBER_OF", "srv", "cl"),
            retire("spare", LifecycleStatus.DISPOSED),
        )
    )
    # A discovery sighting, then a touch that rewrites only the sighting in the document.
    feed = up("Server", "web", attributes={"os": "linux"})
    store.apply(ChangeSet(actor="d", source="nmap", run_id="r1", scope="lan", ci_upserts=[feed]))
    clock.advance(60)
    store.apply(touch("web", source="nmap", run_id="r2", scope="lan"))


def test_ci_documents_are_the_models_dumps_in_id_order(store: GraphStore, clock: FakeClock) -> None:
    _fill(store, clock)
    cis = all_cis(store)
    assert len(cis) == 6
    # A batch smaller than the store: the pages must join up, each CI once, in order.
    docs = list(store.iter_documents(DocumentKind.CI, batch=2))
    assert [orjson.loads(d) for d in docs] == [
        c.model_dump(mode="json", by_alias=True) for c in cis
    ]
    web = next(c for c in cis if c.name == "web")
    assert web.sources["nmap"].run_id == "r2"  # the touched sighting is in its document


def test_relationship_documents_include_retired_ones(store: GraphStore, clock: FakeClock) -> None:
    _fill(store, clock)
    rels = all_rels(store, include_retired=True)
    # srv left the cluster; disposing spare retired its membership too
    assert len(rels) == 4 and sum(not r.active for r in rels) == 2
    docs = list(store.iter_documents(DocumentKind.REL, batch=3))
    assert [orjson.loads(d) for d in docs] == [
        r.model_dump(mode="json", by_alias=True) for r in rels
    ]


def test_an_empty_store_has_no_documents(store: GraphStore) -> None:
    assert list(store.iter_documents(DocumentKind.CI)) == []
    assert list(store.iter_documents(DocumentKind.REL)) == []
