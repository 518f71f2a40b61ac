"""Ansible facts adapter: every real facts file in the shared inventories, and fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from discovery.adapters import nmap, terraform
from discovery.adapters.ansible import read
from discovery.records import DiscoveredCI, Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
FACTS = ROOT.parent / "shared" / "data" / "inventories" / "ansible_facts"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

needs_inventories = pytest.mark.skipif(
    not FACTS.is_dir(),
    reason=f"the shared real inventories are not checked out at {FACTS}",
)


def _inv(path: Path) -> Inventory:
    return collect("ansible", read([path]))


def _one(path: Path) -> DiscoveredCI:
    inv = _inv(path)
    assert len(inv.cis) == 1, inv.cis
    return inv.cis[0]


def _ids(ci: DiscoveredCI, kind: IdentifierKind) -> set[str]:
    return {i.value for i in ci.identifiers if i.kind is kind}


# What each real file must give. Every .json in the folder must be listed here, so a file
# added later fails loudly until someone writes down what it should produce.
EXPECTED: dict[str, dict[str, Any]] = {
    "ansible-cmdb_out_db01.prod.local.json": {
        "class": "VirtualMachine",
        "name": "db01.prod.local",
        # serial "NA" is a placeholder; ansible_fqdn "localhost" is not this machine's name,
        # ansible_nodename is.
        "serial": set(),
        "fqdn": {"db01.prod.local"},
        "hostname": {"dev", "db01"},
        "mac": {"08:00:27:f9:98:a7"},
        "ip": {"192.168.56.2", "192.168.58.1", "fe80::a00:27ff:fef9:98a7"},
        "attrs": {"os_family": "Debian", "os_version": "6.0.10", "memory_mb": 496, "cpu_count": 1},
    },
    "ansible-cmdb_out_debian.dev.local.json": {
        "class": "VirtualMachine",
        "name": "dev.local",
        "serial": set(),
        "fqdn": {"dev.local"},
        "hostname": {"dev"},
        # The example files were copied from one VM: same MAC as db01 (a reconciler conflict).
        "mac": {"08:00:27:f9:98:a7"},
        "ip": {"192.168.56.2", "fe80::a00:27ff:fef9:98a7"},
        "attrs": {"kernel": "2.6.32-5-amd64", "memory_mb": 1496},
    },
    "ansible-cmdb_out_facter.test.local.json": {
        "class": "VirtualMachine",
        "name": "ubuntu1404",
        "serial": set(),
        "fqdn": set(),  # "ubuntu1404" has no dot: a hostname, not an fqdn
        "hostname": {"ubuntu1404"},
        "mac": {"08:00:27:cb:74:d1"},
        "ip": {"192.168.56.7", "fe80::a00:27ff:fecb:74d1"},
        "attrs": {
            "distribution": "Ubuntu",
            "os_version": "14.04",
            "virtualization_type": "virtualbox",
        },
    },
    "ansible-cmdb_out_jib.electricmonk.nl.json": {
        "class": "Server",  # virtualization_role "host"
        "name": "jib",
        "serial": set(),
        "fqdn": set(),
        "hostname": {"jib"},
        # vboxnet0..2 (0a:00:27:00:00:0N) exist identically on every VirtualBox host.
        "mac": {"e8:2a:ea:62:a0:bb"},
        "ip": {"192.168.0.3", "192.168.56.1"},
        "attrs": {
            "cpu_count": 8,
            "memory_mb": 15951,
            "product_name": "XPS 15 9530",
            "shared_macs": ["0a:00:27:00:00:02", "0a:00:27:00:00:00", "0a:00:27:00:00:01"],
        },
    },
    "ansible-cmdb_out_win.dev.local.json": {
        "class": "VirtualMachine",
        "name": "win.dev.local",
        "serial": set(),
        "fqdn": {"win.dev.local"},
        "hostname": {"win-dev", "win"},
        # Interfaces as dicts; the upper-case MAC arrives normalised. The second adapter is
        # VirtualBox's host-only one, the same on every machine that has it.
        "mac": {"ff:b1:1c:ff:7d:23"},
        "ip": {"10.0.0.3"},
        "attrs": {
            "os_family": "Windows",
            "os_version": "2012",
            "virtualization_type": "VMware",
            "memory_mb": 4096,
            "shared_macs": ["0a:00:27:00:00:03"],
        },
    },
    "foreman_ansible_facts.json": {
        "class": "Server",
        # ansible_fqdn "ip6-localhost" and nodename "localhost.localdomain" name every
        # machine; Facter's fqdn is the only real one.
        "name": "papasitoisthebest.localdomaim",
        "serial": set(),
        "fqdn": {"papasitoisthebest.localdomaim"},
        "hostname": {"papasitoisthebest"},
        "mac": {"60:57:18:52:89:97", "52:54:00:fd:fe:87", "52:54:00:04:55:37"},
        "ip": {
            "192.168.0.105",
            "10.36.112.22",
            "192.168.121.1",
            "192.168.100.1",
            "fe80::6257:18ff:fe52:8997",
        },
        "attrs": {"distribution": "Fedora", "os_version": "22", "cpu_count": 4},
    },
    "foreman_ansible_rhel_8.json": {
        "class": "VirtualMachine",
        "name": "kvm-02-guest09.hv2.lab.eng.example.com",
        "serial": set(),
        "fqdn": {"kvm-02-guest09.hv2.lab.eng.example.com"},
        "hostname": {"kvm-02-guest09"},
        "mac": {"52:54:00:77:0b:63"},
        "ip": {"10.16.56.12", "fe80::5054:ff:fe77:b63"},
        "attrs": {
            "distribution": "RedHat",
            "os_version": "8.5",
            "kernel": "4.18.0-326.el8.kpq1.x86_64",
            "product_uuid": "6645d778-e2c8-44ae-8fa1-dc97fc2556db",
            "domain": "hv2.lab.eng.example.com",
        },
    },
}


@needs_inventories
def test_every_real_facts_file_has_expectations() -> None:
    assert {p.name for p in FACTS.glob("*.json")} == set(EXPECTED)
    assert [p.name for p in FACTS.iterdir() if p.suffix not in (".json",)] == [
        "ansible-cmdb_example_hosts.ini"  # an inventory, not facts: not this adapter's input
    ]


@needs_inventories
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_facts_file(name: str) -> None:
    want = EXPECTED[name]
    ci = _one(FACTS / name)
    assert ci.ci_class == want["class"]
    assert ci.name == want["name"]
    for kind in ("serial", "fqdn", "hostname", "mac", "ip"):
        assert _ids(ci, IdentifierKind(kind)) == want[kind], kind
    for attr, value in want["attrs"].items():
        assert ci.attributes[attr] == value, attr
    # Loopback never identifies a machine, and neither do names every machine answers to.
    assert not {"127.0.0.1", "::1"} & _ids(ci, IdentifierKind.IP)
    assert not {"localhost", "ip6-localhost", "localhost.localdomain"} & (
        _ids(ci, IdentifierKind.FQDN) | _ids(ci, IdentifierKind.HOSTNAME)
    )
    assert not _ids(ci, IdentifierKind.MAC) & {"00:00:00:00:00:00"}


@needs_inventories
def test_real_files_together_and_their_problems() -> None:
    inv = collect("ansible", read(sorted(FACTS.glob("*.json"))))
    assert len(inv.cis) == 7
    assert "unreachable" not in inv.stats
    # The RHEL 8 file has an anonymised IPv6 address that is not one: warned, not fatal.
    assert [(p.severity, p.message) for p in inv.problems] == [
        (Severity.WARNING, "bad IP 'beef:dead:beef:dead:beef:dead'")
    ]


@needs_inventories
def test_facter_keys_do_not_leak_into_attributes() -> None:
    ci = _one(FACTS / "ansible-cmdb_out_facter.test.local.json")
    assert not any(k.startswith("facter") for k in ci.attributes)
    assert "facter_sshrsakey" not in ci.model_dump_json()


# -- fixtures -------------------------------------------------------------------------------


def test_fact_cache_bare_facts() -> None:
    ci = _one(FIXTURES / "ansible_fact_cache.json")
    assert ci.ci_class == "VirtualMachine"
    assert _ids(ci, IdentifierKind.SERIAL) == {"ec2a1b2c-3d4e-5f60-7182-93a4b5c6d7e8"}
    assert _ids(ci, IdentifierKind.FQDN) == {"ip-10-0-0-5.eu-west-1.compute.internal"}
    assert _ids(ci, IdentifierKind.HOSTNAME) == {"ip-10-0-0-5"}  # "IP-10-0-0-5" lower-cased
    # ens5 and its VLAN ens5.100 (fact ansible_ens5_100) share one MAC; docker0's zero MAC
    # and the loopback are left out; the IPv6 zone suffix is dropped.
    assert _ids(ci, IdentifierKind.MAC) == {"0a:1b:2c:3d:4e:5f"}
    assert _ids(ci, IdentifierKind.IP) == {
        "10.0.0.5",
        "10.0.0.50",
        "192.168.100.5",
        "172.17.0.1",
        "fe80::81b:2cff:fe3d:4e5f",
    }
    # No vcpus fact: sockets x cores x threads.
    assert ci.attributes["cpu_count"] == 2
    assert ci.attributes["facts_gathered_at"] == "2024-01-15T09:30:00Z"
    assert "ENV-SECRET-5150" not in ci.model_dump_json()


def test_foreman_wrapper_placeholders_and_containers() -> None:
    ci = _one(FIXTURES / "ansible_foreman_wrapped.json")
    assert ci.ci_class == "Container"  # a guest of type docker is no virtual machine
    assert ci.name == "app01.example.com"  # the wrapper's name: the host only says localhost
    assert not _ids(ci, IdentifierKind.SERIAL)  # "To Be Filled By O.E.M."
    assert not _ids(ci, IdentifierKind.FQDN)
    assert _ids(ci, IdentifierKind.HOSTNAME) == {"app01"}
    assert _ids(ci, IdentifierKind.MAC) == {"02:42:ac:11:00:02"}
    assert ci.attributes["cpu_count"] == 2


@pytest.mark.parametrize(
    ("name", "word"),
    [("ansible_unreachable.json", "unreachable"), ("ansible_failed.json", "failed")],
)
def test_unreachable_host_is_a_problem_not_a_ci(name: str, word: str) -> None:
    inv = _inv(FIXTURES / name)
    assert inv.cis == []
    assert inv.stats["unreachable"] == 1
    (problem,) = inv.problems
    assert problem.severity is Severity.ERROR
    assert problem.where == str(FIXTURES / name)
    assert f"{name} {word}" in problem.message


def test_unreachable_among_good_files() -> None:
    inv = collect(
        "ansible",
        read([FIXTURES / "ansible_unreachable.json", FIXTURES / "ansible_fact_cache.json"]),
    )
    assert len(inv.cis) == 1 and inv.stats["unreachable"] == 1


@pytest.mark.parametrize(
    ("name", "pattern"),
    [("ansible_not_facts.json", "not Ansible facts"), ("ansible_truncated.json", "invalid JSON")],
)
def test_whole_file_failures(name: str, pattern: str) -> None:
    path = FIXTURES / name
    with pytest.raises(InvalidInput, match=pattern) as err:
        list(read([path]))
    assert err.value.where is not None and err.value.where.startswith(str(path))
    if name == "ansible_truncated.json":
        assert err.value.where.split(":")[-2] == "5"  # the line where the text stops


def test_json_array_is_not_facts(tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="expected a JSON object"):
        list(read([path]))


def test_one_machine_seen_by_nmap_ansible_and_terraform_shares_unique_identifiers() -> None:
    """The fixtures describe one EC2 instance three ways, spelled differently each time."""
    seen_by_ansible = _one(FIXTURES / "ansible_fact_cache.json")
    scan = collect("nmap", nmap.read([FIXTURES / "nmap_edge.xml"]))
    seen_by_nmap = scan.ci("nmap:10.0.0.5")
    state = collect("terraform", terraform.read([FIXTURES / "tf_edges.tfstate"]))
    seen_by_terraform = state.ci('tf:module.app["blue"].aws_instance.web[0]')

    def unique(ci: DiscoveredCI) -> set[tuple[str, str]]:
        return {(i.kind.value, i.value) for i in ci.identifiers if i.unique}

    fqdn = ("fqdn", "ip-10-0-0-5.eu-west-1.compute.internal")
    mac = ("mac", "0a:1b:2c:3d:4e:5f")
    assert {fqdn, mac} <= unique(seen_by_ansible) & unique(seen_by_nmap)
    assert fqdn in unique(seen_by_ansible) & unique(seen_by_terraform)
    ips = [
        {i.value for i in c.identifiers if i.kind is IdentifierKind.IP}
        for c in (seen_by_ansible, seen_by_nmap, seen_by_terraform)
    ]
    assert "10.0.0.5" in set.intersection(*ips)
