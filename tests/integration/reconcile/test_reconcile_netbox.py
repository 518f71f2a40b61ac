"""NetBox exports reconciled into each store: pynetbox's real pages, NetBox 4 pages with
placeholders, a server NetBox and another source both saw, and a refused file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.store.contract import Direction, GraphStore
from discovery.reconcile.service import ingest_payload
from tests.contract.builders import key
from tests.fakes import FakeClock
from tests.reconcile_support import (
    all_cis,
    edge_count,
    history_rows,
    inventory_path,
    run,
)

FIXTURES = Path(__file__).resolve().parents[2] / "unit" / "discovery" / "fixtures"


def _real() -> list[Path]:
    return sorted(inventory_path("netbox").glob("*.json"))


def _id(store: GraphStore, k: str) -> str:
    found = store.find_by_identifier(key(k))
    assert len(found) == 1, k
    return found[0].id


def _out(store: GraphStore, k: str, rel_type: str) -> dict[str, dict[str, object]]:
    """What ``k`` points at over ``rel_type``: name -> the edge's attributes."""
    out = store.neighbours(_id(store, k), direction=Direction.OUT, types=[rel_type])
    return {n.ci.name: n.relationship.attributes for n in out}


def test_real_pages_in_one_run_then_twice_more_add_nothing(
    store: GraphStore, clock: FakeClock
) -> None:
    first = run(store, "netbox", *_real(), scope="netbox")
    assert not first.conflicts and first.errors == 0, first.problems
    counts = store.counts()
    assert counts.by_class["NetworkDevice"] == 11
    assert (counts.by_class["Location"], counts.by_class["Team"]) == (4, 2)
    assert (counts.by_class["Cluster"], counts.by_class["VirtualMachine"]) == (1, 1)
    assert counts.relationships_by_type == {
        "CONTAINS": 2,
        "LOCATED_IN": 12,
        "MEMBER_OF": 1,
        "CONNECTS_TO": 15,
    }
    before = (len(all_cis(store)), edge_count(store), history_rows(store))
    assert before[0] == 19
    for _ in range(2):
        clock.advance(3600)
        again = run(store, "netbox", *_real(), scope="netbox", clock=clock)
        assert (len(again.created), len(again.updated)) == (0, 0)
    assert (len(all_cis(store)), edge_count(store), history_rows(store)) == before


def test_real_core_switch_sits_in_its_rack_and_links_to_its_peers(store: GraphStore) -> None:
    run(store, "netbox", *_real())
    assert list(_out(store, "netbox:device/2", "LOCATED_IN")) == ["A1R1 (T23A01)"]
    assert list(_out(store, "netbox:site/1", "CONTAINS")) in (
        ["A1R1 (T23A01)", "A1R2 (T24A01)"],
        ["A1R2 (T24A01)", "A1R1 (T23A01)"],
    )
    peers = _out(store, "netbox:device/2", "CONNECTS_TO")
    assert sorted(peers) == ["test1-core2", "test1-spine1", "test1-spine2"]
    assert peers["test1-core2"]["links"] == ["et-0/1/2 <-> et-0/1/2", "et-0/0/2 <-> et-0/0/2"]
    core1 = store.get_ci(_id(store, "netbox:device/2"))
    assert core1.attributes["ip_addresses"] == [
        "10.0.254.1",
        "10.15.22.2",
        "10.16.22.2",
        "169.254.1.2",
    ]


def test_netbox4_placeholders_are_stored_unresolved(store: GraphStore) -> None:
    report = run(store, "netbox", *sorted(FIXTURES.glob("netbox4_*.json")))
    unresolved = sorted(u.name for u in report.unresolved)
    assert unresolved == ["Lyon DC", "Paris DC", "Payments", "R01", "pdu-a", "virtual machine 77"]
    assert all(u.ci_id for u in report.unresolved)
    rack = store.get_ci(_id(store, "netbox:rack/30"))
    assert rack.attributes.get("unresolved") is True
    assert _out(store, "netbox:device/101", "DEPENDS_ON") == {"pdu-a": {"via": "power cable"}}


def test_the_same_server_from_netbox_and_another_source_is_one_ci(
    store: GraphStore, tmp_path: Path
) -> None:
    """Matched on the serial NetBox records, whichever source comes first."""
    other = tmp_path / "hosts.json"
    other.write_text(
        json.dumps(
            {
                "version": 1,
                "cis": [
                    {
                        "key": "web",
                        "class": "Server",
                        "name": "web-01",
                        "identifiers": {"serial": "CZ1234ABC", "hostname": "web-01"},
                        "attributes": {"kernel": "6.1"},
                    }
                ],
            }
        )
    )
    run(store, "json", other, source="ansible")
    run(store, "netbox", FIXTURES / "netbox4_devices.json")
    servers = all_cis(store)
    web = [c for c in servers if c.ci_class == "Server"]
    assert len(web) == 1
    assert web[0].attributes["kernel"] == "6.1"
    assert web[0].attributes["model"] == "PowerEdge R650"
    assert _id(store, "netbox:device/101") == web[0].id


def test_a_file_of_another_format_is_refused_and_nothing_is_written(store: GraphStore) -> None:
    run(store, "netbox", *_real())
    before = (len(all_cis(store)), edge_count(store), history_rows(store), len(store.list_runs()))
    bom = inventory_path("sbom", "cyclonedx_laravel-7.12.0_bom.1.4.json")
    with pytest.raises(InvalidInput) as err:
        ingest_payload(store, bom.read_bytes(), fmt="netbox", source="netbox", filename="bom.json")
    assert err.value.where == "bom.json:count"
    assert "not a NetBox export" in err.value.message
    after = (len(all_cis(store)), edge_count(store), history_rows(store), len(store.list_runs()))
    assert after == before
