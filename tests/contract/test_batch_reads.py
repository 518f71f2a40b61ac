"""get_cis, get_relationships and neighbours_of: many CIs, relationships or
neighbourhoods by id in one read each, the same answers get_ci, get_relationship and
neighbours give one at a time (retired CIs and relationships included where those give
them); a missing id is absent, not an error."""

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


def test_neighbours_of_is_neighbours_for_many(store: GraphStore) -> None:
    store.apply(
        cs(
            up("Server", "host", name="host"),
            up("Server", "lonely", name="lonely"),
            up("Application", "app", name="app"),
            *(up("VirtualMachine", f"vm{i}", name=f"vm-{i}") for i in range(4)),
        )
    )
    store.apply(
        cs(
            *(rel("HOSTED_ON", f"vm{i}", "host") for i in range(4)),
            rel("DEPENDS_ON", "vm0", "vm1"),
            rel("DEPENDS_ON", "app", "vm0"),
        )
    )
    store.apply(cs(rel_retire("HOSTED_ON", "vm3", "host")))  # not a neighbour any more
    ids = [ci_by_key(store, k).id for k in ("host", "vm0", "vm1", "vm3", "lonely")]

    got = store.neighbours_of([*ids, "ci_missing", ids[0]])

    assert got == {i: store.neighbours(i) for i in ids}
    assert len(got[ids[0]]) == 3 and len(got[ids[1]]) == 3  # host; vm0: host, vm1, app
    assert got[ids[3]] == [] and got[ids[4]] == []
    assert store.neighbours_of([]) == {}
