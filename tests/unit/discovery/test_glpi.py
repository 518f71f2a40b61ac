"""GLPI adapter: the format's real example inventories, and hand-made edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.glpi import read
from discovery.records import PARTIAL, DiscoveredCI, Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
GLPI = ROOT.parent / "shared" / "data" / "inventories" / "glpi"
SBOM = ROOT.parent / "shared" / "data" / "inventories" / "sbom"
LF014 = "glpi:LF014-2017-02-20-12-19-56"


def _file(name: str) -> Path:
    path = GLPI / f"glpi-inventory-format_{name}.json"
    if not path.is_file():
        pytest.skip(f"the shared real inventories are not checked out at {GLPI}")
    return path


def _inv(*names: str) -> Inventory:
    return collect("glpi", read([_file(n) for n in names]))


def _ids(ci: DiscoveredCI, kind: IdentifierKind) -> set[str]:
    return {i.value for i in ci.identifiers if i.kind is kind}


def _allowed(inv: Inventory) -> None:
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


def _write(tmp_path: Path, doc: Any, name: str = "inv.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_computer_with_os_identity_and_installed_software() -> None:
    inv = _inv("computer_3")
    host = inv.ci(LF014)
    assert (host.ci_class, host.name) == ("Server", "LF014")
    assert _ids(host, IdentifierKind.SERIAL) == {"8C554721F"}
    assert _ids(host, IdentifierKind.FQDN) == {"lf014.glpi-project.infra"}
    assert "uuid:0055adc9-1d3a-e411-8043-b05d95113232" in _ids(host, IdentifierKind.KEY)
    # Physical NICs only: not the loopback's null MAC, not the libvirt bridge's.
    assert _ids(host, IdentifierKind.MAC) == {"b8:6b:23:e0:5c:81", "30:3a:64:ee:65:88"}
    assert _ids(host, IdentifierKind.IP) == {"172.28.220.96", "172.28.220.181"}
    attrs = host.attributes
    assert (attrs["os_name"], attrs["os_version"], attrs["memory_mb"]) == ("Fedora", "25", 7909)
    assert "asset_tag" not in attrs  # "0000000000" is no asset tag
    packages = [c for c in inv.cis if c.ci_class == "SoftwarePackage"]
    assert len(packages) == inv.stats["softwares"] == 3033
    xerces = inv.ci("glpi:software:xerces-j2@2.11.0-24.fc24/noarch")
    assert xerces.fields == {"version": "2.11.0-24.fc24", "description": "Java XML parser"}
    assert xerces.attributes["publisher"] == "Fedora Project"
    runs_on = [r for r in inv.rels if r.type == "RUNS_ON" and r.target == LF014]
    assert len(runs_on) == 3033
    on_xerces = next(r for r in runs_on if r.source == xerces.key)
    assert on_xerces.attributes == {"install_date": "2016-10-26"}
    assert not inv.unresolved
    assert {p.severity for p in inv.problems} == {Severity.UNSUPPORTED}
    assert any(p.where.endswith("$.content.usbdevices") for p in inv.problems)
    _allowed(inv)


def test_updated_computer_hosts_three_virtual_machines_by_uuid() -> None:
    inv = _inv("computer_3_updated")
    vms = {c.name: c for c in inv.cis if c.ci_class == "VirtualMachine"}
    assert set(vms) == {"centos7.0", "fedora23", "win8.1"}
    assert _ids(vms["fedora23"], IdentifierKind.KEY) == {
        "uuid:358f16bf-6794-4f63-8947-150b807a2294"
    }
    assert vms["win8.1"].attributes["cpu_count"] == 2
    hosted = {r.source for r in inv.rels if r.type == "HOSTED_ON" and r.target == LF014}
    assert hosted == {c.key for c in vms.values()}
    assert inv.stats["softwares"] == 3184
    # Its Wi-Fi card now shows a randomised (locally administered) MAC: not an identifier.
    assert _ids(inv.ci(LF014), IdentifierKind.MAC) == {"b8:6b:23:e0:5c:81"}
    assert PARTIAL not in inv.stats  # the file is a full inventory
    _allowed(inv)


def test_switch_neighbours_and_end_devices_become_connections() -> None:
    inv = _inv("networkequipment_2")
    switch = inv.ci("glpi:device:FOC1243W0ED")
    assert (switch.ci_class, switch.name) == ("NetworkDevice", "3k-1-pa3.glpi-project.infra")
    assert _ids(switch, IdentifierKind.SERIAL) == {"FOC1243W0ED"}
    assert switch.attributes["port_count"] == 475
    # The deviceid names the agent that ran the scan, not the switch.
    assert not any("2020-12-31" in i.value for i in switch.identifiers)
    peers = {r.target for r in inv.rels if r.source == switch.key}
    assert len(peers) == 5
    assert all(inv.ci(p).unresolved and inv.ci(p).ci_class == "NetworkDevice" for p in peers)
    n9k = inv.ci("glpi:neighbour:SAL1929KJ27")  # CDP's "n9k-2-pa3(SAL1929KJ27)"
    assert n9k.name == "n9k-2-pa3"
    assert _ids(n9k, IdentifierKind.SERIAL) == {"SAL1929KJ27"}
    behind = [r for r in inv.rels if r.target == switch.key]
    assert len(behind) == 4
    assert all(r.type == "CONNECTS_TO" for r in behind)
    first = next(r for r in behind if r.source == "glpi:mac:38:63:bb:2c:55:e0")
    assert first.attributes == {"port": "Gi3/0/12", "seen_by": "mac address table"}
    assert inv.stats["ports_with_several_macs"] == 10
    _allowed(inv)


def test_wireless_controller_cdp_neighbours_with_their_serials() -> None:
    inv = _inv("networkequipment_4")
    names = {inv.ci(r.target).name: r.attributes["port"] for r in inv.rels}
    assert names == {
        "CH-GV2-DSI-SW-BBONE-1": "TenGigabitEthernet0/0/1",
        "CH-GV2-DSI-SW-BBONE-2": "TenGigabitEthernet0/0/2",
    }


def test_two_inventories_of_one_printer_are_one_ci() -> None:
    inv = _inv("printer_2", "printer_3", "printer_1")
    printers = [c for c in inv.cis if c.ci_class == "Printer"]
    assert sorted(c.name for c in printers) == ["MX5970", "NPIF2BE10"]
    canon = inv.ci("glpi:device:SDFSDF9874")
    assert _ids(canon, IdentifierKind.MAC) == {"00:85:eb:f4:be:20"}
    assert canon.attributes["port_count"] == 3  # the later file's


def test_phone_with_its_apps() -> None:
    inv = _inv("phone_1")
    phone = next(c for c in inv.cis if c.ci_class == "Phone")
    assert phone.name == "Mi9TPro-TéléphoneM"
    assert _ids(phone, IdentifierKind.SERIAL) == {"af8d8fcfa6fa4794"}
    assert _ids(phone, IdentifierKind.MAC) == {"e0:dc:ff:ed:09:59"}
    assert phone.attributes["os_name"] == "Q Android 10.0"
    assert "asset_tag" in phone.attributes
    assert inv.stats["softwares"] == 3
    _allowed(inv)


def test_a_partial_inventory_carries_only_its_sections(tmp_path: Path) -> None:
    doc = json.loads(_file("computer_3_updated").read_text())
    content = doc["content"]
    doc["partial"] = True
    doc["content"] = {
        "versionclient": content["versionclient"],
        "softwares": content["softwares"][:5],
    }
    inv = collect("glpi", read([_write(tmp_path, doc)]))
    assert inv.stats[PARTIAL] == 1
    host = inv.ci(LF014)
    assert host.name == "LF014"  # from the deviceid, the same as hardware.name says
    assert set(host.attributes) == {"glpi_itemtype", "glpi_agent"}
    assert len(inv.cis) == 6


def test_database_instances_run_on_their_host(tmp_path: Path) -> None:
    doc = {
        "deviceid": "db1-2021-06-03-10-16-47",
        "itemtype": "Computer",
        "content": {
            "versionclient": "GLPI-Agent_v1.4",
            "hardware": {"name": "db1"},
            "databases_services": [
                {
                    "name": "MySQL",
                    "version": "8.0.25",
                    "manufacturer": "Oracle",
                    "port": 3306,
                    "databases": [{"name": "glpi"}, {"name": "mysql"}],
                },
                {"name": "PostgreSQL", "version": "13.3"},
            ],
        },
    }
    inv = collect("glpi", read([_write(tmp_path, doc)]))
    dbs = {c.name: c for c in inv.cis if c.ci_class == "Database"}
    assert dbs["MySQL"].attributes["databases"] == ["glpi", "mysql"]
    assert (dbs["MySQL"].attributes["protocol"], dbs["MySQL"].attributes["port"]) == ("tcp", 3306)
    assert dbs["PostgreSQL"].fields == {"version": "13.3"}
    assert not any(i.unique for c in dbs.values() for i in c.identifiers)  # host-dependent
    assert {(r.source, r.target) for r in inv.rels} == {
        (c.key, "glpi:db1-2021-06-03-10-16-47") for c in dbs.values()
    }


@pytest.mark.parametrize(
    ("change", "place"),
    [
        (lambda d: d.pop("deviceid"), "$"),
        (lambda d: d.update(bomFormat="CycloneDX"), "$.bomFormat"),
        (lambda d: d.update(itemtype="Toaster"), "$.itemtype"),
        (lambda d: d.update(partial="yes"), "$.partial"),
        (lambda d: d.update(content=[]), "$.content"),
        (lambda d: d["content"].pop("versionclient"), "$.content"),
        (lambda d: d["content"].update(softwares={"name": "x"}), "$.content.softwares"),
        (lambda d: d["content"]["softwares"][1].pop("name"), "$.content.softwares[1]"),
        (lambda d: d["content"]["softwares"].__setitem__(2, "x"), "$.content.softwares[2]"),
        (lambda d: None, "nothing"),
        (lambda d: d["content"].update(hardware=[]), "$.content.hardware"),
    ],
)
def test_broken_structure_is_refused_with_its_json_path(
    tmp_path: Path, change: Any, place: str
) -> None:
    doc = json.loads(_file("computer_3").read_text())
    change(doc)
    path = _write(tmp_path, doc)
    if place == "nothing":  # the control: the unchanged document reads
        assert len(collect("glpi", read([path])).cis) == 3034
        return
    with pytest.raises(InvalidInput) as err:
        collect("glpi", read([path]))
    assert err.value.where == f"{path}:{place}"
    assert "not a GLPI inventory" in err.value.message


def test_other_formats_and_the_schema_itself_are_refused() -> None:
    schema = GLPI / "glpi-inventory-format_inventory.schema.json"
    bom = SBOM / "cyclonedx_laravel-7.12.0_bom.1.4.json"
    if not bom.is_file():
        pytest.skip(f"the shared real inventories are not checked out at {SBOM}")
    for path in (schema, bom):
        with pytest.raises(InvalidInput) as err:
            collect("glpi", read([path]))
        assert err.value.where == f"{path}:$"
        assert "no 'deviceid'" in err.value.message


def test_a_network_inventory_without_its_device_is_skipped(tmp_path: Path) -> None:
    doc = json.loads(_file("networkequipment_5").read_text())
    del doc["content"]["network_device"]
    path = _write(tmp_path, doc)
    inv = collect("glpi", read([path]))
    assert inv.cis == [] and inv.rels == []
    errors = [p for p in inv.problems if p.severity is Severity.ERROR]
    assert [p.where for p in errors] == [f"{path}:$.content.network_device"]
