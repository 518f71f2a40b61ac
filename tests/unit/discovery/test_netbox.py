"""NetBox adapter: pynetbox's real API pages (older shapes), NetBox 4 pages and dumpdata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.netbox import classify_role, read
from discovery.records import Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
NETBOX = ROOT.parent / "shared" / "data" / "inventories" / "netbox"
SBOM = ROOT.parent / "shared" / "data" / "inventories" / "sbom"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _real(*names: str) -> list[Path]:
    if not NETBOX.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {NETBOX}")
    if not names:
        return sorted(NETBOX.glob("*.json"))
    return [NETBOX / f"pynetbox_{n}.json" for n in names]


def _inv(paths: list[Path]) -> Inventory:
    return collect("netbox", read(paths))


@pytest.fixture(scope="module")
def real() -> Inventory:
    return _inv(_real())


def _ids(inv: Inventory, key: str, kind: IdentifierKind) -> list[str]:
    return [i.value for i in inv.ci(key).identifiers if i.kind is kind]


def _rels(inv: Inventory, rtype: str) -> dict[tuple[str, str], dict[str, object]]:
    return {(r.source, r.target): r.attributes for r in inv.rels if r.type == rtype}


def _allowed(inv: Inventory) -> None:
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


# -- the real pages: pynetbox's fixtures, an older API (display_name, termination_a/b) ----


def test_real_pages_give_eleven_devices_by_role(real: Inventory) -> None:
    devices = {c.name: c for c in real.cis if c.key.startswith("netbox:device/")}
    assert len(devices) == 11 and real.stats["devices"] == 11
    assert {c.ci_class for c in devices.values()} == {"NetworkDevice"}
    kinds = {n: c.attributes.get("device_kind") for n, c in devices.items()}
    assert kinds["test1-edge1"] == "router" and kinds["test1-core1"] == "switch"
    assert kinds["test1-spine2"] == "switch" and kinds["test1-oob1"] == "switch"
    assert kinds["test1-pdu1"] is None  # a PDU: no kind of device the role names
    assert devices["test1-core1"].attributes["model"] == "EX9214"
    assert devices["test1-core1"].attributes["manufacturer"] == "Juniper"
    assert devices["test1-core1"].attributes["status"] == "active"
    roles = [p for p in real.problems if "role 'pdu'" in p.message]
    assert len(roles) == 1 and "2 device(s)" in roles[0].message


def test_real_devices_are_identified_by_id_serial_and_addresses(real: Inventory) -> None:
    assert _ids(real, "netbox:device/1", IdentifierKind.KEY) == ["netbox:device/1"]
    assert _ids(real, "netbox:device/1", IdentifierKind.SERIAL) == ["5555555555"]
    # test1-core1 has an empty serial: no serial identifier, not an empty one
    assert _ids(real, "netbox:device/2", IdentifierKind.SERIAL) == []
    assert _ids(real, "netbox:device/2", IdentifierKind.HOSTNAME) == ["test1-core1"]
    # its four addresses, from the ip-addresses page, without their prefix lengths
    assert sorted(_ids(real, "netbox:device/2", IdentifierKind.IP)) == [
        "10.0.254.1",
        "10.15.22.2",
        "10.16.22.2",
        "169.254.1.2",
    ]
    assert real.ci("netbox:device/2").attributes["primary_ip"] == "10.0.254.1"
    assert real.stats["ip_addresses"] == 18


def test_real_locations_nest_and_devices_sit_in_racks(real: Inventory) -> None:
    assert real.ci("netbox:site/1").name == "TEST1"
    assert real.ci("netbox:rack/1").name == "A1R1 (T23A01)"
    assert real.ci("netbox:region/1").ci_class == "Location"
    contains = _rels(real, "CONTAINS")
    assert set(contains) == {("netbox:site/1", "netbox:rack/1"), ("netbox:site/1", "netbox:rack/2")}
    located = _rels(real, "LOCATED_IN")
    assert ("netbox:device/2", "netbox:rack/1") in located
    assert ("netbox:device/8", "netbox:rack/2") in located
    assert ("netbox:cluster/1", "netbox:site/1") in located
    assert len([k for k in located if k[0].startswith("netbox:device/")]) == 11
    assert real.unresolved == []
    _allowed(real)


def test_real_cables_and_connections_join_devices_with_interface_names(real: Inventory) -> None:
    links = _rels(real, "CONNECTS_TO")
    assert len(links) == 15 and real.stats["connections"] == 15
    # two links between the core switches fold into one edge that names both
    assert links[("netbox:device/2", "netbox:device/8")]["links"] == [
        "et-0/1/2 <-> et-0/1/2",
        "et-0/0/2 <-> et-0/0/2",
    ]
    assert links[("netbox:device/1", "netbox:device/7")]["links"] == ["xe-0/0/5 <-> xe-0/0/5"]
    # the console cable (device 1 to 2 by id) joins the data link edge1-core1
    assert links[("netbox:device/1", "netbox:device/2")]["links"] == [
        "Console <-> Port 10",
        "xe-0/0/4 <-> xe-0/0/5",
    ]


def test_real_cables_naming_other_devices_are_linked_by_id_and_reported(real: Inventory) -> None:
    """pynetbox's cables page names devices 1-6 tst1-test1..6; the devices page does not."""
    named = [p for p in real.problems if "referred to as" in p.message]
    assert len(named) == 6
    assert {p.where.split(":")[0] for p in named} == {str(NETBOX / "pynetbox_dcim_cables.json")}
    assert any("'tst1-test1'" in p.message and "'test1-edge1'" in p.message for p in named)


def test_real_vm_and_cluster_and_tenants(real: Inventory) -> None:
    vm = real.ci("netbox:vm/1")
    assert (vm.ci_class, vm.name) == ("VirtualMachine", "vm-test01")
    assert vm.attributes["memory_mb"] == 1024
    assert ("netbox:vm/1", "netbox:cluster/1") in _rels(real, "MEMBER_OF")
    assert real.ci("netbox:cluster/1").attributes["cluster_type"] == "vm-test-type"
    tenants = sorted(c.name for c in real.cis if c.ci_class == "Team")
    assert tenants == ["TEST Tenant 1", "TEST Tenant 2"]


def test_real_pages_report_what_they_do_not_model_and_missing_pages(real: Inventory) -> None:
    unsupported = {p.message for p in real.problems if p.severity is Severity.UNSUPPORTED}
    assert "2 object(s) of ipam.prefixes not modelled" in unsupported
    assert "3 object(s) of ipam.vlans not modelled" in unsupported
    pages = [p for p in real.problems if "pages given hold" in p.message]
    assert len(pages) == 1
    assert "221 interface" in pages[0].message and "hold 21" in pages[0].message
    assert not [p for p in real.problems if p.severity is Severity.ERROR]


def test_devices_page_alone_makes_unresolved_racks() -> None:
    inv = _inv(_real("dcim_devices"))
    assert len([c for c in inv.cis if c.key.startswith("netbox:device/")]) == 11
    assert sorted((c.key, c.name) for c in inv.unresolved) == [
        ("netbox:rack/1", "A1R1"),
        ("netbox:rack/2", "A1R2"),
    ]


def test_cables_page_alone_makes_unresolved_devices() -> None:
    inv = _inv(_real("dcim_cables"))
    assert sorted(c.name for c in inv.unresolved) == [f"tst1-test{i}" for i in range(1, 7)]
    links = _rels(inv, "CONNECTS_TO")
    assert links[("netbox:device/1", "netbox:device/2")]["links"] == ["Console <-> Port 10"]
    assert len(links) == 3


def test_older_device_role_key_reads_as_role(tmp_path: Path) -> None:
    page = json.loads(_real("dcim_devices")[0].read_text())
    for obj in page["results"]:
        obj["device_role"] = obj.pop("role")
    path = tmp_path / "devices.json"
    path.write_text(json.dumps(page))
    inv = _inv([path])
    assert inv.ci("netbox:device/1").attributes["device_kind"] == "router"
    assert inv.ci("netbox:device/2").attributes["role"] == "core-switch"


@pytest.mark.parametrize(
    ("role", "ci_class", "kind"),
    [
        ("server", "Server", None),
        ("Hypervisor", "Server", None),
        ("core-switch", "NetworkDevice", "switch"),
        ("Edge Router", "NetworkDevice", "router"),
        ("firewall", "NetworkDevice", "firewall"),
        ("load-balancer", "LoadBalancer", None),
        ("storage-array", "StorageVolume", None),
        ("pdu", "NetworkDevice", None),
    ],
)
def test_roles_map_to_classes(role: str, ci_class: str, kind: str | None) -> None:
    got = classify_role(role)
    assert (got[0], got[1]) == (ci_class, kind)
    assert got[2] is (role != "pdu")


# -- NetBox 4 pages: display, role, a_terminations, assigned_object -------------------------


@pytest.fixture(scope="module")
def nb4() -> Inventory:
    return _inv(sorted(FIXTURES.glob("netbox4_*.json")))


def test_netbox4_devices_by_role_with_serial_asset_tag_and_fqdn(nb4: Inventory) -> None:
    web = nb4.ci("netbox:device/101")
    assert (web.ci_class, web.name) == ("Server", "web-01.example.com")
    assert _ids(nb4, "netbox:device/101", IdentifierKind.SERIAL) == ["CZ1234ABC"]
    assert _ids(nb4, "netbox:device/101", IdentifierKind.ASSET_TAG) == ["AT-0001"]
    assert _ids(nb4, "netbox:device/101", IdentifierKind.FQDN) == ["web-01.example.com"]
    assert _ids(nb4, "netbox:device/101", IdentifierKind.HOSTNAME) == ["web-01"]
    assert _ids(nb4, "netbox:device/101", IdentifierKind.IP) == ["192.0.2.10"]
    assert web.fields["description"] == "payments web front"
    assert nb4.ci("netbox:device/102").attributes["device_kind"] == "firewall"
    assert nb4.ci("netbox:device/102").attributes["status"] == "planned"
    assert nb4.ci("netbox:device/103").ci_class == "LoadBalancer"


def test_netbox4_references_become_placeholders(nb4: Inventory) -> None:
    unresolved = {c.key: (c.ci_class, c.name) for c in nb4.unresolved}
    assert unresolved["netbox:rack/30"] == ("Location", "R01")
    assert unresolved["netbox:site/10"] == ("Location", "Paris DC")
    assert unresolved["netbox:tenant/4"] == ("Team", "Payments")
    assert unresolved["netbox:device/150"] == ("NetworkDevice", "pdu-a")
    # an address on a VM no page describes: the VM is known only by it
    assert unresolved["netbox:vm/77"][0] == "VirtualMachine"
    assert _ids(nb4, "netbox:vm/77", IdentifierKind.IP) == ["198.51.100.7"]
    assert ("netbox:device/101", "netbox:rack/30") in _rels(nb4, "LOCATED_IN")
    assert ("netbox:device/102", "netbox:site/10") in _rels(nb4, "LOCATED_IN")
    assert ("netbox:device/101", "netbox:tenant/4") in _rels(nb4, "OWNED_BY")
    _allowed(nb4)


def test_netbox4_cables_data_and_power(nb4: Inventory) -> None:
    assert _rels(nb4, "CONNECTS_TO") == {
        ("netbox:device/101", "netbox:device/102"): {"links": ["eth0 <-> ethernet1/1"]}
    }
    # the server takes its power from the PDU's outlet
    assert _rels(nb4, "DEPENDS_ON") == {
        ("netbox:device/101", "netbox:device/150"): {"via": "power cable"}
    }


def test_netbox4_missing_pages_are_reported(nb4: Inventory) -> None:
    pages = [p for p in nb4.problems if "pages given hold" in p.message]
    assert len(pages) == 1 and "5 ip objects" in pages[0].message


# -- manage.py dumpdata ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dump() -> Inventory:
    return _inv([FIXTURES / "netbox_dumpdata.json"])


def test_dumpdata_locations_nest_region_site_location_rack(dump: Inventory) -> None:
    assert set(_rels(dump, "CONTAINS")) == {
        ("netbox:region/1", "netbox:region/2"),
        ("netbox:region/2", "netbox:site/5"),
        ("netbox:site/5", "netbox:location/8"),
        ("netbox:location/8", "netbox:rack/3"),
    }
    assert dump.ci("netbox:location/8").name == "Room B"


def test_dumpdata_devices_resolve_roles_types_and_addresses_by_key(dump: Inventory) -> None:
    hv = dump.ci("netbox:device/40")
    assert hv.ci_class == "Server"  # role 1: "hypervisor"
    assert (hv.attributes["manufacturer"], hv.attributes["model"]) == ("HPE", "ProLiant DL380")
    assert _ids(dump, "netbox:device/40", IdentifierKind.MAC) == ["94:40:c9:00:00:01"]
    assert _ids(dump, "netbox:device/40", IdentifierKind.IP) == ["10.20.0.5"]
    assert _ids(dump, "netbox:device/40", IdentifierKind.SERIAL) == ["MXQ123"]
    assert dump.ci("netbox:device/41").attributes["device_kind"] == "switch"  # "tor"
    assert ("netbox:device/40", "netbox:cluster/2") in _rels(dump, "MEMBER_OF")
    assert ("netbox:device/40", "netbox:tenant/1") in _rels(dump, "OWNED_BY")


def test_dumpdata_cable_terminations_and_vms(dump: Inventory) -> None:
    # one end names its content type by natural key, the other by the content type's pk
    assert _rels(dump, "CONNECTS_TO") == {
        ("netbox:device/40", "netbox:device/41"): {"links": ["eno1 <-> Ethernet1/7"]}
    }
    assert ("netbox:vm/90", "netbox:device/40") in _rels(dump, "HOSTED_ON")
    assert ("netbox:vm/90", "netbox:cluster/2") in _rels(dump, "MEMBER_OF")
    # site 99 is in no entry: an unresolved placeholder
    assert [(c.key, c.name) for c in dump.unresolved] == [("netbox:site/99", "site 99")]
    assert [p.message for p in dump.problems] == ["1 extras.tag object(s) not modelled"]
    _allowed(dump)


def test_dumpdata_before_netbox_3_3_cables_roles_and_rack_groups() -> None:
    inv = _inv([FIXTURES / "netbox_dumpdata_v3.json"])
    assert inv.ci("netbox:device/1").attributes["role"] == "access-switch"  # device_role FK
    assert set(_rels(inv, "CONTAINS")) == {
        ("netbox:region/4", "netbox:site/1"),
        ("netbox:site/1", "netbox:location/2"),  # a rack group is a location
        ("netbox:location/2", "netbox:rack/9"),
    }
    # cable ends by content-type pk and termination id, on interfaces and power ports (the
    # outlet and the port share pk 12: models number their keys apart)
    assert _rels(inv, "CONNECTS_TO") == {
        ("netbox:device/1", "netbox:device/2"): {"links": ["Gi1/0/48 <-> Gi1/0/48"]}
    }
    assert set(_rels(inv, "DEPENDS_ON")) == {("netbox:device/1", "netbox:device/3")}
    # a VM's MAC from its interface; its host no entry describes, a Server placeholder
    assert _ids(inv, "netbox:vm/7", IdentifierKind.MAC) == ["52:54:00:12:34:56"]
    assert {c.key: c.ci_class for c in inv.unresolved} == {
        "netbox:region/4": "Location",
        "netbox:device/55": "Server",
    }
    assert ("netbox:vm/7", "netbox:device/55") in _rels(inv, "HOSTED_ON")


def test_interface_pages_link_peers_fold_into_the_cable_pairs(tmp_path: Path) -> None:
    def iface(ident: int, dev: int, name: str, peer: tuple[int, int, str]) -> dict[str, object]:
        return {
            "id": ident,
            "url": f"https://nb.example/api/dcim/interfaces/{ident}/",
            "device": {"id": dev, "name": f"sw-{dev}"},
            "name": name,
            "mac_address": "00:00:00:00:00:00",  # a null MAC is no identifier
            "link_peers_type": "dcim.interface",
            "link_peers": [{"id": peer[0], "device": {"id": peer[1]}, "name": peer[2]}],
        }

    page = {
        "count": 3,
        "results": [
            iface(1, 10, "Eth1", (2, 20, "Eth9")),
            iface(2, 20, "Eth9", (1, 10, "Eth1")),
            {"id": 3, "device": {"id": 10}, "name": "Eth2", "link_peers": []},
        ],
    }
    path = tmp_path / "nb-export.json"
    path.write_text(json.dumps(page))
    inv = _inv([path])
    assert _rels(inv, "CONNECTS_TO") == {
        ("netbox:device/10", "netbox:device/20"): {"links": ["Eth1 <-> Eth9"]}
    }
    assert sorted(c.name for c in inv.unresolved) == ["sw-10", "sw-20"]
    assert _ids(inv, "netbox:device/10", IdentifierKind.MAC) == []
    assert not inv.problems


# -- bad input ---------------------------------------------------------------------------


def test_a_cyclonedx_bom_is_refused_naming_the_file() -> None:
    if not SBOM.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {SBOM}")
    bom = SBOM / "cyclonedx_laravel-7.12.0_bom.1.4.json"
    with pytest.raises(InvalidInput) as err:
        list(read([bom]))
    assert err.value.where == f"{bom}:count"
    assert "not a NetBox export" in err.value.message


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ('{"count": 1, "results": {"id": 1}}', "results"),
        ('[{"model": "dcim.site", "pk": 1, "fields": {}}, {"pk": 2}]', "[1]"),
        ('"devices"', "top level"),
    ],
)
def test_other_json_is_refused_at_the_place_at_fault(tmp_path: Path, text: str, place: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        list(read([path]))
    assert err.value.where == f"{path}:{place}"


def test_bad_objects_are_problems_and_the_rest_proceeds(tmp_path: Path) -> None:
    path = tmp_path / "dcim_devices.json"
    path.write_text(
        json.dumps(
            {
                "count": 3,
                "results": [
                    "x",
                    {"name": "no-id", "role": {"slug": "server"}},
                    {"id": 5, "name": "ok", "role": {"slug": "server"}, "serial": 7},
                ],
            }
        )
    )
    inv = _inv([path])
    errors = sorted(p.where for p in inv.problems if p.severity is Severity.ERROR)
    assert errors == [f"{path}:results[0]", f"{path}:results[1]"]
    assert inv.ci("netbox:device/5").ci_class == "Server"
    # a serial that is not text is no identifier
    assert _ids(inv, "netbox:device/5", IdentifierKind.SERIAL) == []
