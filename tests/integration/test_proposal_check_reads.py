"""Each edit's check (cmdb/app/proposal_check.py) reads the live graph in a constant
number of store calls, however many edits the proposal has: on Neo4j each call is a round
trip, and the proposal is read on every load of the change page (issue 17)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cmdb.app import proposal_merge, proposals
from cmdb.app.scope import Visibility, in_view
from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.model import relationship_id
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.integration.test_proposal_merge import ADMIN, ALL, _change


class CountingStore:
    """A real store that counts the calls made to it, by name (a wrapper, not a mock)."""

    def __init__(self, inner: GraphStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kw: Any) -> Any:
            self.calls[name] += 1
            return value(*args, **kw)

        return counted


def _estate(store: GraphStore, n: int) -> list[tuple[str, str]]:
    """``n`` hosts, each with a VM hosted on it: (vm id, host id) pairs."""
    store.apply(
        ChangeSet(
            actor="tester",
            source="manual",
            ci_upserts=[
                CIUpsert.model_validate(
                    {
                        "class": c,
                        "name": f"bulk-{c.lower()}-{i:03}",
                        "identifiers": [{"kind": "key", "value": f"bulk-{c}-{i}"}],
                    }
                )
                for i in range(n)
                for c in ("Server", "VirtualMachine")
            ],
        )
    )
    pairs = [
        (
            resolve_ci(store, f"bulk-virtualmachine-{i:03}").id,
            resolve_ci(store, f"bulk-server-{i:03}").id,
        )
        for i in range(n)
    ]
    store.apply(
        ChangeSet(
            actor="tester",
            source="manual",
            rel_upserts=[
                RelUpsert(type="HOSTED_ON", source=CIRef(id=vm), target=CIRef(id=host))
                for vm, host in pairs
            ],
        )
    )
    return pairs


def _edits(pairs: list[tuple[str, str]], spare: str, tag: str) -> list[dict[str, Any]]:
    """Six edits per pair, one of every kind the check reads the live graph for: each VM
    moves from its host, which retires, to the ``spare`` host."""
    out: list[dict[str, Any]] = []
    for i, (vm, host) in enumerate(pairs):
        out += [
            {"op": "update_ci", "ci_id": vm, "fields": {"owner": f"team-{tag}"}},
            {"op": "retire_rel", "type": "HOSTED_ON", "source_id": vm, "target_id": host},
            {"op": "add_rel", "type": "HOSTED_ON", "source_id": vm, "target_id": spare},
            {
                "op": "add_ci",
                "ci": {
                    "class": "Server",
                    "name": f"new-{tag}-{i}",
                    "identifiers": [{"kind": "serial", "value": f"SN-{tag}-{i}"}],
                },
            },
            {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": f"vm-{tag}-{i}"}},
            {"op": "retire_ci", "ci_id": host},
        ]
    return out


def _reads(store: GraphStore, cid: str) -> tuple[Counter[str], list[bool]]:
    counting = CountingStore(store)
    got = proposals.get(counting, ALL, cid, check=True)
    holds = [e.validity.holds for e in got.edits if e.validity is not None]
    return counting.calls, holds


def test_the_checks_read_in_a_constant_number_of_calls(sample_store: GraphStore) -> None:
    store = sample_store
    pairs = _estate(store, 40)
    _change(store, "RFC-FEW", "srv-03")
    _change(store, "RFC-MANY", "srv-03")
    few = _edits(pairs[:2], pairs[-1][1], "few")  # 12 edits
    many = _edits(pairs[2:36], pairs[-1][1], "many")  # 204 edits
    proposals.create(store, ALL, ADMIN, "RFC-FEW", few)
    proposals.create(store, ALL, ADMIN, "RFC-MANY", many)

    few_calls, few_holds = _reads(store, "RFC-FEW")
    many_calls, many_holds = _reads(store, "RFC-MANY")

    assert len(many_holds) == len(many) == 204 and all(many_holds) and all(few_holds)
    assert many_calls == few_calls  # the same calls, whatever the number of edits
    assert sum(many_calls.values()) <= 6, many_calls
    assert not {"get_ci", "get_relationship", "find_by_identifier"} & set(many_calls)


def test_the_answers_name_what_moved_under_many_edits(sample_store: GraphStore) -> None:
    """The batched reads still say, edit by edit, what the live graph did since."""
    store = sample_store
    pairs = _estate(store, 30)
    _change(store, "RFC-M", "srv-03")
    edits = _edits(pairs[:-1], pairs[-1][1], "m")
    proposals.create(store, ALL, ADMIN, "RFC-M", edits)
    vm = pairs[5][0]
    store.apply(
        ChangeSet(
            actor="discovery",
            source="netbox",
            rel_upserts=[
                RelUpsert(type="HOSTED_ON", source=CIRef(id=vm), target=CIRef(id=pairs[-1][1]))
            ],
            ci_upserts=[
                CIUpsert.model_validate(
                    {
                        "class": "Server",
                        "name": "found-by-scan",
                        "identifiers": [{"kind": "serial", "value": "SN-m-9"}],
                    }
                )
            ],
        )
    )
    got = proposals.get(store, ALL, "RFC-M", check=True)
    bad = {e.index: e.validity.why for e in got.edits if e.validity and not e.validity.holds}
    assert sorted(bad) == [5 * 6 + 2, 9 * 6 + 3]
    assert bad[32][0].endswith("exists in the live graph already")
    assert "found-by-scan" in bad[57][0] and bad[57][0].endswith("holds serial=SN-m-9 now")


def test_a_scoped_view_reads_in_batches_only_what_it_sees(sample_store: GraphStore) -> None:
    store = sample_store
    pairs = _estate(store, 3)
    (vm0, host0), (vm1, host1), _ = pairs
    rids = [relationship_id("HOSTED_ON", vm, host) for vm, host in pairs[:2]]
    view = in_view(store, Visibility(ids=frozenset({vm0, host0, vm1})))

    assert sorted(view.get_cis([vm0, host0, vm1, host1])) == sorted([vm0, host0, vm1])
    assert list(view.get_relationships(rids)) == [rids[0]]  # host1 is out of view
    assert sorted(store.get_relationships(rids)) == sorted(rids)
    around = view.neighbours_of([host0, host1, vm1])
    assert sorted(around) == sorted([host0, vm1])
    assert [n.ci.id for n in around[host0]] == [vm0]
    assert around[vm1] == []  # its host is out of view


def test_the_conflicts_read_in_a_constant_number_of_calls(
    sample_store: GraphStore,
) -> None:
    """The conflicts the change page lists on every load: the CIs, relationships,
    identities and what is around each CI to retire in one read each."""
    store = sample_store
    pairs = _estate(store, 40)
    _change(store, "RFC-FEW", "srv-03")
    _change(store, "RFC-MANY", "srv-03")
    proposals.create(store, ALL, ADMIN, "RFC-FEW", _edits(pairs[:2], pairs[-1][1], "few"))
    proposals.create(store, ALL, ADMIN, "RFC-MANY", _edits(pairs[2:36], pairs[-1][1], "many"))

    def reads(cid: str) -> tuple[Counter[str], int]:
        counting = CountingStore(store)
        found = proposal_merge.conflicts(counting, ALL, ADMIN, cid)
        return counting.calls, len(found)

    few, few_found = reads("RFC-FEW")
    many, many_found = reads("RFC-MANY")

    assert few_found == many_found == 0
    assert many == few and sum(many.values()) <= 7, many
    assert not {"get_ci", "get_relationship", "find_by_identifier", "neighbours"} & set(many)
