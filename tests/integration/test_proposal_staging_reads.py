"""Staging edits (``proposal create`` and ``add-edit``, cmdb/app/proposals.py) reads the
live graph in a constant number of store calls, however many edits are staged: the CIs
the edits name, the relationships between them, the holders of the new CIs' identities
and what is around each CI to retire, one batch read each (on Neo4j a call is a round
trip). References by name are the exception: each is resolved as the CLI resolves it.
"""

from __future__ import annotations

from collections import Counter

from cmdb.app import proposals
from cmdb.store.contract import GraphStore
from tests.integration.test_proposal_check_reads import CountingStore, _edits, _estate
from tests.integration.test_proposal_merge import ADMIN, ALL, _change

# What a read per edit would call: none of these may appear while staging.
_PER_ITEM = {"get_ci", "get_relationship", "find_by_identifier", "neighbours", "list_cis"}


def _create(store: GraphStore, cid: str, edits: list[dict[str, object]]) -> Counter[str]:
    counting = CountingStore(store)
    made = proposals.create(counting, ALL, ADMIN, cid, edits)
    assert len(made.edits) == len(edits)
    return counting.calls


def _add(store: GraphStore, cid: str, edits: list[dict[str, object]]) -> Counter[str]:
    counting = CountingStore(store)
    before = len(store.get_proposal(cid).edits)
    made = proposals.add_edits(counting, ALL, ADMIN, cid, edits)
    assert len(made.edits) == before + len(edits)
    return counting.calls


def test_one_edit_and_fifty_cost_the_same_calls(sample_store: GraphStore) -> None:
    store = sample_store
    pairs = _estate(store, 52)
    for cid in ("RFC-ONE", "RFC-FIFTY"):
        _change(store, cid, "srv-03")
    owner = [
        {"op": "update_ci", "ci_id": vm, "fields": {"owner": "team-x"}} for vm, _ in pairs[:50]
    ]

    one = _create(store, "RFC-ONE", owner[:1])
    fifty = _create(store, "RFC-FIFTY", owner)

    assert one == fifty, (one, fifty)
    assert not _PER_ITEM & set(fifty), fifty


def test_every_kind_of_edit_is_staged_in_a_constant_number_of_calls(
    sample_store: GraphStore,
) -> None:
    """Six edits (one of each kind the check reads for) and 54 cost the same calls, on
    create and on add-edit, where the edits staged before are checked again too."""
    store = sample_store
    pairs = _estate(store, 40)
    spare = pairs[-1][1]
    for cid in ("RFC-FEW", "RFC-MANY"):
        _change(store, cid, "srv-03")

    few = _create(store, "RFC-FEW", _edits(pairs[:1], spare, "few"))  # 6 edits
    many = _create(store, "RFC-MANY", _edits(pairs[1:10], spare, "many"))  # 54 edits
    assert few == many, (few, many)
    assert not _PER_ITEM & set(many), many
    assert sum(many.values()) <= 10, many

    few_added = _add(store, "RFC-FEW", _edits(pairs[10:11], spare, "few2"))
    many_added = _add(store, "RFC-MANY", _edits(pairs[11:20], spare, "many2"))
    assert few_added == many_added, (few_added, many_added)
    assert not _PER_ITEM & set(many_added), many_added
