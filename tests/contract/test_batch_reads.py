"""get_cis and get_relationships: many CIs or relationships by id in one read, the same
documents get_ci and get_relationship give one at a time, retired ones included and
missing ids absent (not an error)."""

from __future__ import annotations

from cmdb.domain.model import LifecycleStatus
from cmdb.store.contract import GraphStore
from tests.contract.builders import all_rels, ci_by_key, cs, rel, rel_retire, retire, up

# Over the embedded store's IN-list chunk (400) and the Neo4j store's row chunk: an
# answer in several parts is still one whole answer.
MANY = 450


def test_get_cis_is_get_ci_for_many(store: GraphStore) -> None:
    store.apply(cs(*(up("Server", f"s{i}", name=f"srv-{i:03}") for i in range(MANY))))
    store.apply(cs(retire("s7", LifecycleStatus.DISPOSED)))
    ids = [ci_by_key(store, f"s{i}").id for i in range(0, MANY, 3)]
    asked = [*ids, "ci_missing", ids[0]]  # a missing id and a repeat

    got = store.get_cis(asked)

    assert sorted(got) == sorted(ids)
    for ci_id in ids:
        assert got[ci_id] == store.get_ci(ci_id)
    retired = ci_by_key(store, "s7").id
    assert retired not in got  # not asked for
    assert store.get_cis([retired])[retired].status is LifecycleStatus.DISPOSED
    assert store.get_cis([]) == {}
    assert store.get_cis(["ci_missing"]) == {}


def test_get_relationships_is_get_relationship_for_many(store: GraphStore) -> None:
    store.apply(
        cs(
            up("Server", "host", name="host"),
            *(up("VirtualMachine", f"vm{i}", name=f"vm-{i}") for i in range(5)),
        )
    )
    store.apply(
        cs(
            *(rel("HOSTED_ON", f"vm{i}", "host") for i in range(5)),
            rel("DEPENDS_ON", "vm0", "vm1"),
        )
    )
    store.apply(cs(rel_retire("HOSTED_ON", "vm4", "host")))
    every = {r.id: r for r in all_rels(store, include_retired=True)}
    assert len(every) == 6
    asked = [*every, "rel_missing", next(iter(every))]

    got = store.get_relationships(asked)

    assert got == {rid: store.get_relationship(rid) for rid in every}
    assert sum(not r.active for r in got.values()) == 1  # the retired one is there too
    assert store.get_relationships([]) == {}
    assert store.get_relationships(["rel_missing"]) == {}
