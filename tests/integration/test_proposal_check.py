"""Each edit's check against the live graph (cmdb/app/proposal_check.py), on both stores,
for what the live graph can do to a staged edit after it was staged: a relationship to
add that exists now, a CI to retire that is retired already, a new CI whose identifier a
live CI holds now; and a relationship the proposal itself adds and later retires."""

from __future__ import annotations

from typing import Any

from cmdb.app import proposals
from cmdb.domain.changeset import ChangeSet, CIRef, CIRetire, CIUpsert, RelUpsert
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.integration.test_proposal_merge import ADMIN, ALL, _change


def _checks(store: GraphStore, cid: str) -> list[tuple[int, bool, list[str]]]:
    got = proposals.get(store, ALL, cid, check=True)
    out = []
    for e in got.edits:
        assert e.validity is not None
        out.append((e.index, e.validity.holds, e.validity.why))
    return out


def test_what_the_live_graph_did_since_is_said_per_edit(sample_store: GraphStore) -> None:
    store = sample_store
    _change(store, "RFC-K", "srv-03")
    vm = resolve_ci(store, "vm-db-01")
    edits: list[dict[str, Any]] = [
        {"op": "add_rel", "type": "HOSTED_ON", "source_id": "vm-db-01", "target_id": "srv-03"},
        {"op": "retire_ci", "ci_id": "srv-03"},
        {
            "op": "add_ci",
            "ci": {
                "class": "Server",
                "name": "srv-new",
                "identifiers": [{"kind": "serial", "value": "SN-CHK-1"}],
            },
        },
        {"op": "add_ci", "ci": {"class": "VirtualMachine", "name": "vm-new"}},
        {"op": "add_rel", "type": "HOSTED_ON", "source_id": "vm-new", "target_id": "srv-new"},
        {"op": "retire_rel", "type": "HOSTED_ON", "source_id": "vm-new", "target_id": "srv-new"},
        {"op": "add_rel", "type": "HOSTED_ON", "source_id": "vm-db-01", "target_id": "srv-01"},
    ]
    proposals.create(store, ALL, ADMIN, "RFC-K", edits)
    assert [ok for _, ok, _ in _checks(store, "RFC-K")] == [True] * 7

    srv3, srv1 = (resolve_ci(store, n) for n in ("srv-03", "srv-01"))
    store.apply(
        ChangeSet(
            actor="discovery",
            source="netbox",
            rel_upserts=[
                RelUpsert(type="HOSTED_ON", source=CIRef(id=vm.id), target=CIRef(id=s.id))
                for s in (srv3, srv1)
            ],
            ci_upserts=[
                CIUpsert.model_validate(
                    {
                        "class": "Server",
                        "name": "srv-found",
                        "identifiers": [Identifier(kind=IdentifierKind.SERIAL, value="SN-CHK-1")],
                    }
                )
            ],
        )
    )
    store.apply(
        ChangeSet(actor="bob", source="manual", ci_retires=[CIRetire(ref=CIRef(id=srv3.id))])
    )
    got = _checks(store, "RFC-K")
    assert got[0] == (0, False, ["srv-03 has been retired since (withdrawn)"])
    assert got[1] == (1, False, ["srv-03 is retired already (withdrawn)"])
    assert got[2][:2] == (2, False) and got[2][2][0].startswith("a live CI, ")
    assert "srv-found" in got[2][2][0] and got[2][2][0].endswith("holds serial=SN-CHK-1 now")
    # The proposal's own relationship, added then retired by it: judged against itself.
    assert got[3:6] == [(3, True, []), (4, True, []), (5, True, [])]
    assert got[6] == (6, False, ["vm-db-01 -[HOSTED_ON]-> srv-01 exists in the live graph already"])
