"""nmap XML adapter: the real scans in the shared inventories, edge fixtures, hostile XML."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.nmap import read
from discovery.records import DiscoveredCI, Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
NMAP = ROOT.parent / "shared" / "data" / "inventories" / "nmap"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

needs_inventories = pytest.mark.skipif(
    not NMAP.is_dir(),
    reason=f"the shared real inventories are not checked out at {NMAP}",
)


def _inv(path: Path) -> Inventory:
    return collect("nmap", read([path]))


def _ids(ci: DiscoveredCI, kind: IdentifierKind) -> set[str]:
    return {i.value for i in ci.identifiers if i.kind is kind}


def _servers(inv: Inventory) -> list[DiscoveredCI]:
    return [c for c in inv.cis if c.ci_class == "Server"]


def _services(inv: Inventory) -> list[DiscoveredCI]:
    return [c for c in inv.cis if c.ci_class == "ApplicationInstance"]


def _check_shape(inv: Inventory) -> None:
    """Every service runs on its host, every edge is allowed, and nothing is unresolved."""
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])
    runs_on = {r.source: r.target for r in inv.rels if r.type == "RUNS_ON"}
    assert set(runs_on) == {c.key for c in _services(inv)}
    assert not inv.unresolved


# -- the real scans -------------------------------------------------------------------------


@needs_inventories
def test_full_sudo6_four_up_252_down() -> None:
    inv = _inv(NMAP / "python-libnmap_full_sudo6.xml")
    assert inv.stats["hosts_up"] == 4
    assert inv.stats["hosts_down"] == 252
    servers = {c.key: c for c in _servers(inv)}
    assert set(servers) == {
        "nmap:192.168.1.1",
        "nmap:192.168.1.2",
        "nmap:192.168.1.3",
        "nmap:192.168.1.5",
    }
    router = servers["nmap:192.168.1.1"]
    assert router.name == "192.168.1.1"  # no hostname: the address names it
    assert _ids(router, IdentifierKind.MAC) == {"6c:2e:85:19:af:00"}
    assert _ids(router, IdentifierKind.IP) == {"192.168.1.1"}
    assert router.attributes["mac_vendor"] == "Sagemcom"
    assert router.attributes["status_reason"] == "arp-response"
    assert router.attributes["os_match"] == "Linux 2.6.13 (embedded)"
    assert router.attributes["os_accuracy"] == 100
    windows = servers["nmap:192.168.1.5"]
    assert windows.attributes["os_match"] == "Microsoft Windows Server 2008 Beta 3"
    assert windows.attributes["mac_vendor"] == "Intel Corporate"
    # The scanning machine itself has no MAC (it answered as localhost).
    assert not _ids(servers["nmap:192.168.1.3"], IdentifierKind.MAC)
    ports = {c.key for c in _services(inv)}
    assert len(ports) == 12
    assert {
        "nmap:192.168.1.1/tcp/23",
        "nmap:192.168.1.1/tcp/443",
        "nmap:192.168.1.2/tcp/62078",
        "nmap:192.168.1.3/tcp/3389",
        "nmap:192.168.1.5/tcp/5357",
    } <= ports
    https = inv.ci("nmap:192.168.1.1/tcp/443")
    assert https.attributes["service"] == "https" and https.attributes["tunnel"] == "ssl"
    rdp = inv.ci("nmap:192.168.1.3/tcp/3389")
    assert rdp.attributes["product"] == "VirtualBox VM Remote Desktop Service"
    assert rdp.attributes["cpe"] == ["cpe:/o:microsoft:windows"]
    # NSE output (certificates, page titles) and traceroutes are reported, not imported.
    assert [p.severity for p in inv.problems] == [Severity.UNSUPPORTED]
    assert "BEGIN CERTIFICATE" not in inv.model_dump_json()
    _check_shape(inv)


@needs_inventories
def test_ndiff_complex_tcp_and_udp_on_one_port_are_two_cis() -> None:
    inv = _inv(NMAP / "nmap-ndiff_complex.xml")
    (host,) = _servers(inv)
    assert host.name == "scanme.nmap.org"
    assert _ids(host, IdentifierKind.FQDN) == {"scanme.nmap.org"}
    assert _ids(host, IdentifierKind.HOSTNAME) == {"scanme"}
    assert _ids(host, IdentifierKind.IP) == {"64.13.134.52"}
    # Old nmap put <osclass> beside <osmatch>, not inside it.
    assert host.attributes["os_match"] == "Linux 2.6.9 - 2.6.24"
    assert host.attributes["os_generic_family"] == "Linux"
    assert host.attributes["extraports"] == {"open|filtered": 99, "filtered": 95}
    tcp, udp = inv.ci("nmap:64.13.134.52/tcp/53"), inv.ci("nmap:64.13.134.52/udp/53")
    assert tcp.key != udp.key
    assert (tcp.attributes["protocol"], udp.attributes["protocol"]) == ("tcp", "udp")
    assert udp.attributes["product"] == "ISC BIND" and udp.attributes["version"] == "9.3.4"
    assert {c.key for c in _services(inv)} == {
        "nmap:64.13.134.52/tcp/22",
        "nmap:64.13.134.52/tcp/53",
        "nmap:64.13.134.52/tcp/80",
        "nmap:64.13.134.52/udp/53",
    }
    ssh = inv.ci("nmap:64.13.134.52/tcp/22")
    assert (ssh.attributes["product"], ssh.attributes["version"]) == ("OpenSSH", "4.3")
    assert _ids(ssh, IdentifierKind.KEY) == {"nmap:64.13.134.52/tcp/22"}
    assert inv.stats["ports_not_open"] == 2  # closed 25 and 70
    _check_shape(inv)


@needs_inventories
def test_two_hosts_version() -> None:
    inv = _inv(NMAP / "python-libnmap_2_hosts_version.xml")
    assert {c.name for c in _servers(inv)} == {"localhost", "scanme.nmap.org"}
    assert inv.stats["hosts_up"] == 2 and inv.stats["hosts_down"] == 0
    local_ports = {c.attributes["port"] for c in _services(inv) if c.key.startswith("nmap:127.")}
    assert local_ports == {22, 25, 111, 631, 3306}
    remote_ports = {c.attributes["port"] for c in _services(inv) if c.key.startswith("nmap:74.")}
    assert remote_ports == {22, 80, 9929}  # 25 is filtered: not a service
    scanme = inv.ci("nmap:74.207.244.221")
    assert scanme.attributes["os_match"] == "Netgear DG834G WAP"
    assert scanme.attributes["os_accuracy"] == 92
    # "localhost" is a hostname hint only, never an fqdn.
    assert not _ids(inv.ci("nmap:127.0.0.1"), IdentifierKind.FQDN)
    _check_shape(inv)


@needs_inventories
def test_null_hosts_have_no_enumerated_ports() -> None:
    inv = _inv(NMAP / "python-libnmap_2_null_hosts.xml")
    assert len(_servers(inv)) == 2
    assert _services(inv) == [] and inv.rels == []
    for host in _servers(inv):
        assert host.attributes["extraports"] == {"open|filtered": 1000}
    assert inv.problems == []


@needs_inventories
def test_os_banner_scripts() -> None:
    inv = _inv(NMAP / "python-libnmap_1_os_banner_scripts.xml")
    assert len(_servers(inv)) == 1
    assert len(_services(inv)) == 8
    assert inv.ci("nmap:127.0.0.1/tcp/3306").attributes["version"] == "5.1.67"
    _check_shape(inv)


# -- fixtures -------------------------------------------------------------------------------


def test_edge_fixture_hosts_and_counts() -> None:
    inv = _inv(FIXTURES / "nmap_edge.xml")
    # One down host is listed, but runstats says 5 were down (nmap without -v lists none).
    assert inv.stats["hosts_down"] == 5
    assert inv.stats["hosts_up"] == 3
    assert {c.key for c in _servers(inv)} == {"nmap:10.0.0.5", "nmap:2001:db8::10"}
    host = inv.ci("nmap:10.0.0.5")
    # Names and MACs arrive normalised: lower case, no trailing dot, one spelling per MAC.
    assert host.name == "ip-10-0-0-5.eu-west-1.compute.internal"
    assert _ids(host, IdentifierKind.FQDN) == {"ip-10-0-0-5.eu-west-1.compute.internal"}
    assert _ids(host, IdentifierKind.HOSTNAME) == {"ip-10-0-0-5"}
    assert _ids(host, IdentifierKind.MAC) == {"0a:1b:2c:3d:4e:5f"}
    assert host.attributes["mac_vendor"] == "Amazon Technologies"
    # The most accurate guess wins, even when nmap did not list it first.
    assert host.attributes["os_match"] == "Linux 4.15" and host.attributes["os_accuracy"] == 99
    v6 = inv.ci("nmap:2001:db8::10")
    assert _ids(v6, IdentifierKind.IP) == {"2001:db8::10"}
    assert not _ids(v6, IdentifierKind.FQDN)  # "v6only" has no dot
    _check_shape(inv)


def test_edge_fixture_ports() -> None:
    inv = _inv(FIXTURES / "nmap_edge.xml")
    services = {c.key: c for c in _services(inv)}
    assert set(services) == {
        "nmap:10.0.0.5/tcp/53",
        "nmap:10.0.0.5/udp/53",
        "nmap:10.0.0.5/tcp/22",
        "nmap:2001:db8::10/tcp/443",
    }
    assert services["nmap:10.0.0.5/udp/53"].attributes["state"] == "open|filtered"
    assert services["nmap:10.0.0.5/tcp/53"].attributes["state"] == "open"
    assert services["nmap:10.0.0.5/tcp/22"].attributes["cpe"] == ["cpe:/a:openbsd:openssh:9.2p1"]
    assert inv.stats["ports_not_open"] == 2  # closed 25, filtered 8080


def test_edge_fixture_problems_do_not_stop_the_rest() -> None:
    inv = _inv(FIXTURES / "nmap_edge.xml")
    messages = {(p.severity, p.message) for p in inv.problems}
    assert any(s is Severity.ERROR and "'99999'" in m for s, m in messages)
    assert any(s is Severity.ERROR and "no IPv4/IPv6 address" in m for s, m in messages)
    assert any(s is Severity.UNSUPPORTED and "1 NSE script" in m for s, m in messages)


@pytest.mark.parametrize(
    "name", ["nmap_entity_bomb.xml", "nmap_external_entity.xml", "nmap_parameter_entity.xml"]
)
def test_entities_are_refused(name: str) -> None:
    path = FIXTURES / name
    with pytest.raises(InvalidInput, match="refused XML construct") as err:
        list(read([path]))
    assert err.value.where == str(path)


def test_plain_doctype_is_accepted() -> None:
    # nmap_edge.xml starts with <!DOCTYPE nmaprun>: a DTD without entities is harmless.
    assert (FIXTURES / "nmap_edge.xml").read_text().count("<!DOCTYPE nmaprun>") == 1
    assert _servers(_inv(FIXTURES / "nmap_edge.xml"))


def test_truncated_report_streams_then_fails_with_line() -> None:
    path = FIXTURES / "nmap_truncated.xml"
    # The first host was complete: its records arrive before the parser meets the cut.
    first = list(itertools.islice(read([path]), 1))
    assert isinstance(first[0], DiscoveredCI) and first[0].key == "nmap:10.0.0.5"
    with pytest.raises(InvalidInput, match="invalid XML") as err:
        list(read([path]))
    assert err.value.where is not None
    assert re.fullmatch(re.escape(str(path)) + r":\d+:\d+", err.value.where)


def test_not_an_nmap_report() -> None:
    path = FIXTURES / "nmap_not_nmap.xml"
    with pytest.raises(InvalidInput, match="not an nmap XML report") as err:
        list(read([path]))
    assert err.value.where == str(path)
