"""GLPI inventories through the reconciler on each store: the real example files, the same
machine from Ansible, a partial inventory that leaves the rest alone, and refused input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.store.contract import CIFilter, Direction, GraphStore
from discovery.reconcile import ingest
from discovery.registry import reader
from tests.contract.builders import key
from tests.fakes import FakeClock
from tests.reconcile_support import all_cis, edge_count, history_rows, inventory_path, run

LF014 = "glpi:LF014-2017-02-20-12-19-56"


def _glpi(name: str) -> Path:
    return inventory_path("glpi", f"glpi-inventory-format_{name}.json")


def _one(store: GraphStore, ident: Identifier) -> str:
    found = store.find_by_identifier(ident)
    assert len(found) == 1, ident
    return found[0].id


def _partial(tmp_path: Path, *, partial: bool, softwares: int = 5) -> Path:
    """computer_3 as an agent sends it when only its software changed."""
    doc: dict[str, Any] = json.loads(_glpi("computer_3").read_text())
    content = doc["content"]
    doc["partial"] = partial
    doc["content"] = {
        "versionclient": content["versionclient"],
        "softwares": content["softwares"][:softwares],
    }
    path = tmp_path / f"computer_3_{'partial' if partial else 'cut'}.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_real_files_into_one_store(store: GraphStore, clock: FakeClock) -> None:
    names = [
        "computer_3",
        "computer_3_updated",
        "networkequipment_2",
        "networkequipment_4",
        "networkequipment_5",
        "phone_1",
        "printer_1",
        "printer_2",
        "printer_3",
    ]
    for name in names:
        report = run(store, "glpi", _glpi(name), clock=clock)
        assert not report.conflicts, (name, report.conflicts)
        assert report.errors == 0, (name, report.problems)
        clock.advance(60)
    by_class = Counter(c.ci_class for c in all_cis(store) if not c.attributes.get("unresolved"))
    # LF014 once (both files), its 3 VMs; the 3 switches; the phone; two printers (printer_2
    # and printer_3 are one Canon by its serial).
    assert by_class["Server"] == 1
    assert by_class["VirtualMachine"] == 3
    assert by_class["NetworkDevice"] == 3
    assert by_class["Phone"] == 1
    assert by_class["Printer"] == 2
    # One CI per package name, version and architecture across the laptop's two inventories
    # and the phone's three apps.
    assert by_class["SoftwarePackage"] == 3184 + 3 + len(_only_in_first())
    host = _one(store, key(LF014))
    assert store.get_ci(host).attributes["os_full_name"] == "Fedora release 25 (Twenty Five)"
    hosted = store.neighbours(host, direction=Direction.IN, types=["HOSTED_ON"])
    assert sorted(n.ci.name for n in hosted) == ["centos7.0", "fedora23", "win8.1"]
    switch = _one(store, Identifier(kind=IdentifierKind.SERIAL, value="FOC1243W0ED"))
    peers = store.neighbours(switch, direction=Direction.OUT, types=["CONNECTS_TO"])
    assert len(peers) == 5 and all(p.ci.attributes.get("unresolved") for p in peers)
    canon = store.find_by_identifier(Identifier(kind=IdentifierKind.SERIAL, value="SDFSDF9874"))
    assert [c.ci_class for c in canon] == ["Printer"]


def _only_in_first() -> set[str]:
    """Packages computer_3 lists that its updated inventory no longer does."""
    keys = []
    for name in ("computer_3", "computer_3_updated"):
        items = reader("glpi")([_glpi(name)])
        keys.append({i.key for i in items if getattr(i, "ci_class", None) == "SoftwarePackage"})
    return keys[0] - keys[1]


def test_the_same_machine_from_ansible_is_one_ci(
    store: GraphStore, clock: FakeClock, tmp_path: Path
) -> None:
    facts = {
        "ansible_facts": {
            "ansible_hostname": "lf014",
            "ansible_fqdn": "lf014.glpi-project.infra",
            "ansible_product_serial": "8C554721F",
            "ansible_distribution": "Fedora",
        }
    }
    path = tmp_path / "lf014.json"
    path.write_text(json.dumps(facts))
    run(store, "ansible", path, clock=clock)
    report = run(store, "glpi", _glpi("computer_3"), clock=clock)
    assert not report.conflicts
    servers = all_cis(store, CIFilter(ci_class="Compute"))
    assert len(servers) == 1
    assert set(servers[0].sources) == {"ansible", "glpi"}
    assert servers[0].attributes["distribution"] == "Fedora"  # Ansible's, kept
    assert servers[0].attributes["os_name"] == "Fedora"  # GLPI's, added


def test_a_partial_inventory_leaves_the_rest_untouched(
    store: GraphStore, clock: FakeClock, tmp_path: Path
) -> None:
    run(store, "glpi", _glpi("computer_3"), clock=clock, stale_after_runs=1)
    host = _one(store, key(LF014))
    before = store.get_ci(host)
    clock.advance(3600)
    report = run(store, "glpi", _partial(tmp_path, partial=True), clock=clock, stale_after_runs=1)
    assert report.run.status.value == "succeeded" and report.suspicious is None
    assert report.stale == []
    assert report.run.note == "partial input: nothing marked stale"
    after = store.get_ci(host)
    assert after.attributes == before.attributes  # the OS, BIOS... it did not carry
    assert after.name == "LF014"
    assert not any(s.stale for c in all_cis(store) for s in c.sources.values()), (
        "a partial run marked something stale"
    )
    # The control: the same cut inventory sent as a full one marks the rest stale.
    clock.advance(3600)
    full = run(
        store,
        "glpi",
        _partial(tmp_path, partial=False),
        clock=clock,
        stale_after_runs=1,
        override=True,
    )
    assert len(full.stale) == 3033 - 5


@pytest.mark.parametrize("wrong", ["sbom", "schema"])
def test_a_file_of_another_format_is_refused_and_nothing_written(
    store: GraphStore, wrong: str
) -> None:
    path = (
        inventory_path("sbom", "cyclonedx_laravel-7.12.0_bom.1.4.json")
        if wrong == "sbom"
        else _glpi("inventory.schema")
    )
    before = (len(all_cis(store)), edge_count(store), history_rows(store))
    good = _glpi("printer_1")
    with pytest.raises(InvalidInput) as err:
        # A good file first: the bad one after it still refuses the whole run.
        ingest(store, "glpi", reader("glpi")([good, path]), source="glpi")
    assert err.value.where == f"{path}:$"
    assert (len(all_cis(store)), edge_count(store), history_rows(store)) == before
    assert store.list_runs(source="glpi") == []
