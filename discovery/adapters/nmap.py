"""nmap XML reports (``nmap -oX``) -> neutral discovery records.

Every host that is up becomes a Server CI with its addresses, MAC and names as identifiers,
so that the reconciler can match it with what Ansible or Terraform saw. Every open port
(``open`` or ``open|filtered``) becomes an ApplicationInstance keyed
``nmap:{ip}/{proto}/{port}`` that RUNS_ON the host: TCP 53 and UDP 53 are two CIs.
Hosts that are down are only counted. XML goes through ``discovery.io.xml_elements``
(defusedxml), so DTD entities, entity bombs and external entities are refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.io import xml_elements
from discovery.records import DiscoveredCI, DiscoveredRel, Item, Problem, Severity, Stat

SERVICE_STATES = ("open", "open|filtered")
_PROTOCOLS = ("tcp", "udp", "sctp", "ip")
# Names a resolver hands out for every machine: never an fqdn of one of them.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def read(paths: Sequence[Path]) -> Iterator[Item]:
    for path in paths:
        yield from _read_file(Path(path))


def _read_file(path: Path) -> Iterator[Item]:
    counts: Counter[str] = Counter()
    for host in xml_elements(path, "host"):
        counts["host_elements"] += 1
        yield from _host(host, path, counts)
    yield from _file_summary(path, counts)


def _file_summary(path: Path, counts: Counter[str]) -> Iterator[Item]:
    # A second streaming pass for <runstats><hosts down=..>: without -v nmap lists no down
    # host at all, so the summary is the only place the count exists.
    summary = [dict(e.attrib) for e in xml_elements(path, "hosts")]
    if not counts["host_elements"] and not summary:
        raise InvalidInput("not an nmap XML report: no <host> and no <runstats>", where=str(path))
    reported_down = _int(summary[-1].get("down")) if summary else None
    down = max(counts["down"], reported_down or 0)
    yield Stat(name="hosts_up", value=counts["up"])
    yield Stat(name="hosts_down", value=down)
    for state, n in counts.items():
        if state.startswith("hosts_"):
            yield Stat(name=state, value=n)
    if counts["ports_not_open"]:
        yield Stat(name="ports_not_open", value=counts["ports_not_open"])
    if counts["scripts"] or counts["hops"]:
        yield Problem(
            severity=Severity.UNSUPPORTED,
            where=str(path),
            message=f"not imported: {counts['scripts']} NSE script result(s), "
            f"{counts['hops']} traceroute hop(s)",
        )


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


# -- hosts ---------------------------------------------------------------------------------


def _host(elem: Element, path: Path, counts: Counter[str]) -> Iterator[Item]:
    status = elem.find("status")
    state = status.get("state", "unknown") if status is not None else "unknown"
    if state != "up":
        counts["down" if state == "down" else f"hosts_{state}"] += 1
        return
    counts["up"] += 1
    counts["scripts"] += len(list(elem.iter("script")))
    counts["hops"] += len(elem.findall("trace/hop"))
    ips, macs, problems = _addresses(elem, path)
    yield from problems
    if not ips:
        label = macs[0][0].value if macs else "?"
        yield Problem(
            severity=Severity.ERROR,
            where=f"{path}: host {label}",
            message="host is up but has no IPv4/IPv6 address; skipped",
        )
        return
    host_key = f"nmap:{ips[0].value}"
    where = f"{path}: host {ips[0].value}"
    names = _hostnames(elem)
    try:
        yield DiscoveredCI(
            key=host_key,
            ci_class="Server",
            name=names[0] if names else ips[0].value,
            identifiers=tuple(dict.fromkeys([*ips, *(m for m, _v in macs), *_name_ids(names)])),
            attributes=_host_attributes(elem, ips[0].value, status, macs, names),
            where=where,
        )
    except ValidationError as exc:
        yield Problem(severity=Severity.ERROR, where=where, message=f"bad host: {exc}")
        return
    yield from _ports(
        elem, ips[0].value, names[0] if names else ips[0].value, host_key, where, counts
    )


def _addresses(
    elem: Element, path: Path
) -> tuple[list[Identifier], list[tuple[Identifier, str | None]], list[Problem]]:
    ips: list[Identifier] = []
    macs: list[tuple[Identifier, str | None]] = []
    problems: list[Problem] = []
    # IPv4 first: it is what the service keys use when a host has both.
    ordered = sorted(elem.findall("address"), key=lambda a: a.get("addrtype") != "ipv4")
    for addr in ordered:
        kind = addr.get("addrtype")
        value = addr.get("addr", "")
        ident_kind = IdentifierKind.MAC if kind == "mac" else IdentifierKind.IP
        if kind not in ("ipv4", "ipv6", "mac"):
            problems.append(_unsupported(path, f"address type {kind!r} ({value}) not modelled"))
            continue
        try:
            ident = Identifier(kind=ident_kind, value=value)
        except ValidationError:
            problems.append(
                Problem(severity=Severity.WARNING, where=str(path), message=f"bad {kind} {value!r}")
            )
            continue
        if kind == "mac":
            macs.append((ident, addr.get("vendor")))
        else:
            ips.append(ident)
    return ips, macs, problems


def _unsupported(path: Path, message: str) -> Problem:
    return Problem(severity=Severity.UNSUPPORTED, where=str(path), message=message)


def _hostnames(elem: Element) -> list[str]:
    names = (h.get("name", "").strip().rstrip(".") for h in elem.findall("hostnames/hostname"))
    return list(dict.fromkeys(n.lower() for n in names if n))


def _name_ids(names: list[str]) -> list[Identifier]:
    """A dotted name is an fqdn; its first label is the hostname other sources report."""
    ids: list[Identifier] = []
    for name in names:
        ids.append(Identifier(kind=IdentifierKind.HOSTNAME, value=name.split(".", 1)[0]))
        if "." in name and name not in _LOCAL_NAMES:
            ids.append(Identifier(kind=IdentifierKind.FQDN, value=name))
    return ids


def _host_attributes(
    elem: Element,
    address: str,
    status: Element | None,
    macs: list[tuple[Identifier, str | None]],
    names: list[str],
) -> dict[str, Any]:
    attrs: dict[str, Any] = {"address": address}
    if status is not None and status.get("reason"):
        attrs["status_reason"] = status.get("reason")
    vendors = [v for _m, v in macs if v]
    if vendors:
        attrs["mac_vendor"] = vendors[0]
    if names and "." in names[0]:
        attrs["domain"] = names[0].split(".", 1)[1]
    attrs.update(_os_guess(elem))
    extra = {e.get("state", "?"): _int(e.get("count")) for e in elem.findall("ports/extraports")}
    if extra:
        attrs["extraports"] = extra
    return attrs


def _os_guess(elem: Element) -> dict[str, Any]:
    """The most accurate OS match (nmap lists several guesses, best first)."""
    matches = elem.findall("os/osmatch")
    if not matches:
        return {}
    best = max(matches, key=lambda m: _int(m.get("accuracy")) or 0)
    out: dict[str, Any] = {"os_match": best.get("name"), "os_accuracy": _int(best.get("accuracy"))}
    # Newer nmap nests <osclass> in the match; older versions put it beside the matches.
    osclass = best.find("osclass")
    if osclass is None:
        osclass = elem.find("os/osclass")
    if osclass is not None:
        out["os_vendor"] = osclass.get("vendor")
        out["os_generic_family"] = osclass.get("osfamily")
    return {k: v for k, v in out.items() if v is not None}


# -- ports ---------------------------------------------------------------------------------


def _ports(
    elem: Element, ip: str, host_name: str, host_key: str, where: str, counts: Counter[str]
) -> Iterator[Item]:
    for port in elem.findall("ports/port"):
        state_elem = port.find("state")
        state = state_elem.get("state") if state_elem is not None else None
        if state not in SERVICE_STATES:
            counts["ports_not_open"] += 1
            continue
        proto, portid = port.get("protocol", ""), _int(port.get("portid"))
        if proto not in _PROTOCOLS or portid is None or not 0 <= portid <= 65535:
            yield Problem(
                severity=Severity.ERROR,
                where=where,
                message=f"port {port.get('portid')!r}/{proto!r} is not a valid protocol and port",
            )
            continue
        key = f"nmap:{ip}/{proto}/{portid}"
        service = port.find("service")
        svc_name = service.get("name") if service is not None else None
        yield DiscoveredCI(
            key=key,
            ci_class="ApplicationInstance",
            name=f"{svc_name or 'unknown'} {portid}/{proto} on {host_name}",
            identifiers=(Identifier(kind=IdentifierKind.KEY, value=key),),
            attributes=_port_attributes(proto, portid, state, state_elem, service),
            where=f"{where} {portid}/{proto}",
        )
        yield DiscoveredRel(type="RUNS_ON", source=key, target=host_key, where=where)


def _port_attributes(
    proto: str, portid: int, state: str, state_elem: Element | None, service: Element | None
) -> dict[str, Any]:
    attrs: dict[str, Any] = {"protocol": proto, "port": portid, "state": state}
    if state_elem is not None and state_elem.get("reason"):
        attrs["state_reason"] = state_elem.get("reason")
    if service is None:
        return attrs
    for src, dst in (
        ("name", "service"),
        ("product", "product"),
        ("version", "version"),
        ("extrainfo", "extrainfo"),
        ("tunnel", "tunnel"),
        ("ostype", "ostype"),
        ("devicetype", "devicetype"),
        ("method", "detection_method"),
    ):
        value = service.get(src)
        if value:
            attrs[dst] = value.strip()
    conf = _int(service.get("conf"))
    if conf is not None:
        attrs["detection_confidence"] = conf
    cpes = [c.text for c in service.findall("cpe") if c.text]
    if cpes:
        attrs["cpe"] = cpes
    return attrs
