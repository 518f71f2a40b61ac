"""Ansible facts -> neutral discovery records: one Compute CI per host.

Reads the shapes facts are kept in: setup module output (``{"ansible_facts": {...}}``, which
is also what ansible-cmdb's per-host files hold), bare facts (a fact cache file), Foreman's
wrappers (``{"_type": "ansible", "ansible_facts": ...}`` or ``{"name": .., "facts": {..}}``)
and the Windows variant (``ansible_interfaces`` as a list of dicts). A host Ansible could
not reach is reported (Problem and Stat ``unreachable``), never turned into a CI.

Identifiers are cleaned before they are emitted, because a wrong *unique* identifier merges
two machines into one CI: placeholder serials ("NA", "To be filled by O.E.M."), names
every machine has ("localhost", "ip6-localhost"), loopback addresses and MACs that are the
same on every machine of a kind are left out of the identifiers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.adapters._coerce import as_identifier, as_int, as_list, stripped_text
from discovery.io import json_document
from discovery.records import DiscoveredCI, Item, Problem, Severity, Stat

# Values firmware and hypervisors put in the serial field when there is no serial.
_PLACEHOLDER_SERIALS = frozenset(
    {
        "",
        "na",
        "n/a",
        "none",
        "null",
        "0",
        "unknown",
        "not specified",
        "not applicable",
        "not available",
        "to be filled by o.e.m.",
        "default string",
        "system serial number",
        "chassis serial number",
        "invalid",
        "0123456789",
        "123456789",
        "1234567890",
    }
)
_LOCAL_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "localhost6", "ip6-localhost", "ip6-loopback"}
)
_NULL_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})
# VirtualBox numbers host-only adapters 0a:00:27:00:00:NN on every host that has them, so
# such a MAC says nothing about which machine this is.
_SHARED_MAC_PREFIXES = ("0a:00:27:00:00:",)
_CONTAINER_TYPES = frozenset(
    {
        "docker",
        "podman",
        "lxc",
        "lxd",
        "openvz",
        "container",
        "containerd",
        "systemd-nspawn",
        "jail",
    }
)


def read(paths: Sequence[Path]) -> Iterator[Item]:
    for path in paths:
        yield from _read_file(Path(path))


def _read_file(path: Path) -> Iterator[Item]:
    doc = json_document(path)
    inventory_name, result = _unwrap(doc, path)
    yield from _host(result, inventory_name, path)


def _unwrap(doc: Any, path: Path) -> tuple[str | None, dict[str, Any]]:
    """Find the per-host result in whichever wrapper the file uses."""
    if not isinstance(doc, dict):
        raise InvalidInput("not Ansible facts: expected a JSON object", where=str(path))
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    if isinstance(doc.get("facts"), dict):  # Foreman's upload wrapper
        doc = doc["facts"]
    if "ansible_facts" in doc or _is_failure(doc):
        return name, doc
    if any(isinstance(k, str) and k.startswith("ansible_") for k in doc):
        return name, {"ansible_facts": doc}  # bare facts, e.g. a fact cache file
    raise InvalidInput(
        "not Ansible facts: no 'ansible_facts', no ansible_* keys and no unreachable/failed result",
        where=str(path),
    )


def _is_failure(result: dict[str, Any]) -> bool:
    return bool(result.get("unreachable")) or (bool(result.get("failed")) and "msg" in result)


def _host(result: dict[str, Any], inventory_name: str | None, path: Path) -> Iterator[Item]:
    label = inventory_name or path.name
    if _is_failure(result) and not isinstance(result.get("ansible_facts"), dict):
        reason = "unreachable" if result.get("unreachable") else "failed"
        yield Problem(
            severity=Severity.ERROR,
            where=str(path),
            message=f"host {label} {reason}: {str(result.get('msg', ''))[:500]}",
        )
        yield Stat(name="unreachable")
        return
    facts = result.get("ansible_facts")
    if not isinstance(facts, dict):
        yield Problem(
            severity=Severity.ERROR, where=str(path), message="'ansible_facts' is not an object"
        )
        return
    yield from _host_ci(_Facts(facts), inventory_name, path)


class _Facts:
    """Fact lookup that accepts ``ansible_x`` and the unprefixed ``x`` newer versions write."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def get(self, name: str) -> Any:
        value = self.raw.get(f"ansible_{name}")
        return self.raw.get(name) if value is None else value

    def text(self, name: str) -> str | None:
        return stripped_text(self.get(name))


def _host_ci(facts: _Facts, inventory_name: str | None, path: Path) -> Iterator[Item]:
    problems: list[Problem] = []
    fqdns = _fqdns(facts)
    macs, shared_macs = _macs(facts, path, problems)
    identifiers = [
        *_serial(facts),
        *(as_identifier(IdentifierKind.FQDN, f) for f in fqdns),
        *(as_identifier(IdentifierKind.HOSTNAME, h) for h in _hostnames(facts, fqdns)),
        *macs,
        *_ips(facts, path, problems),
    ]
    name = _name(facts, fqdns, inventory_name, path)
    attributes = _attributes(facts)
    if shared_macs:
        attributes["shared_macs"] = shared_macs  # kept for people, not used for identity
    yield from problems
    try:
        yield DiscoveredCI(
            key=f"ansible:{path}#{name}",
            ci_class=_ci_class(facts),
            name=name,
            identifiers=tuple(dict.fromkeys(i for i in identifiers if i is not None)),
            attributes=attributes,
            where=str(path),
        )
    except ValidationError as exc:
        yield Problem(severity=Severity.ERROR, where=str(path), message=f"bad host record: {exc}")


def _ci_class(facts: _Facts) -> str:
    if facts.text("virtualization_role") != "guest":
        return "Server"
    vtype = (facts.text("virtualization_type") or "").lower()
    return "Container" if vtype in _CONTAINER_TYPES else "VirtualMachine"


# -- names ---------------------------------------------------------------------------------


def _usable_name(value: str | None) -> str | None:
    name = (value or "").strip().rstrip(".").lower()
    return name if name and name not in _LOCAL_NAMES else None


def _fqdns(facts: _Facts) -> list[str]:
    """Dotted names the host reports for itself; Facter's opinion counts too."""
    found: list[str] = []
    for fact in ("fqdn", "nodename"):
        found.append(_usable_name(facts.text(fact)) or "")
    facter = facts.raw.get("facter_fqdn")
    found.append(_usable_name(facter if isinstance(facter, str) else None) or "")
    return list(dict.fromkeys(n for n in found if "." in n))


def _hostnames(facts: _Facts, fqdns: list[str]) -> list[str]:
    raw = [facts.text("hostname"), facts.raw.get("facter_hostname")]
    names = [_usable_name(h if isinstance(h, str) else None) for h in raw]
    names += [f.split(".", 1)[0] for f in fqdns]
    # A dotless nodename/fqdn ("ubuntu1404") is a hostname, not an fqdn.
    names += [_usable_name(facts.text(f)) for f in ("fqdn", "nodename")]
    return list(dict.fromkeys(n for n in names if n and "." not in n))


def _name(facts: _Facts, fqdns: list[str], inventory_name: str | None, path: Path) -> str:
    for candidate in (*fqdns, inventory_name, facts.text("hostname"), facts.text("nodename")):
        if candidate and _usable_name(candidate):
            return candidate.lower()
    return path.stem


def _serial(facts: _Facts) -> list[Identifier | None]:
    serial = facts.text("product_serial")
    if serial is None or serial.lower() in _PLACEHOLDER_SERIALS or set(serial) <= {"0", " "}:
        return []
    return [as_identifier(IdentifierKind.SERIAL, serial)]


# -- interfaces ----------------------------------------------------------------------------


def _interfaces(facts: _Facts) -> Iterator[dict[str, Any]]:
    """Per-interface facts; Linux lists names (details under ansible_<name>), Windows dicts."""
    listed = facts.get("interfaces")
    for entry in as_list(listed):
        if isinstance(entry, dict):
            yield entry
        elif isinstance(entry, str):
            # Ansible turns '-', '.' and ':' into '_' in fact names (virbr0-nic -> virbr0_nic).
            key = entry.replace("-", "_").replace(".", "_").replace(":", "_")
            detail = facts.get(key)
            if isinstance(detail, dict) and detail.get("type") != "loopback" and entry != "lo":
                yield detail


def _macs(facts: _Facts, path: Path, problems: list[Problem]) -> tuple[list[Identifier], list[str]]:
    raw = [i.get("macaddress") for i in _interfaces(facts)]
    default = facts.get("default_ipv4")
    if isinstance(default, dict):
        raw.append(default.get("macaddress"))
    macs: list[Identifier] = []
    shared: list[str] = []
    for value in raw:
        if not isinstance(value, str) or not value.strip():
            continue
        mac = as_identifier(IdentifierKind.MAC, value)
        if mac is None:
            problems.append(
                Problem(severity=Severity.WARNING, where=str(path), message=f"bad MAC {value!r}")
            )
        elif mac.value.startswith(_SHARED_MAC_PREFIXES):
            shared.append(mac.value)
        elif mac.value not in _NULL_MACS:
            macs.append(mac)
    return list(dict.fromkeys(macs)), list(dict.fromkeys(shared))


def _raw_ips(facts: _Facts) -> Iterator[Any]:
    for iface in _interfaces(facts):
        v4 = iface.get("ipv4")
        for entry in [v4, *(iface.get("ipv4_secondaries") or []), *(iface.get("ipv6") or [])]:
            if isinstance(entry, dict):
                yield entry.get("address")
    for fact in ("all_ipv4_addresses", "all_ipv6_addresses", "ip_addresses"):
        listed = facts.get(fact)
        yield from as_list(listed)
    default = facts.get("default_ipv4")
    if isinstance(default, dict):
        yield default.get("address")


def _ips(facts: _Facts, path: Path, problems: list[Problem]) -> list[Identifier]:
    ips: list[Identifier] = []
    for value in dict.fromkeys(v for v in _raw_ips(facts) if isinstance(v, str) and v.strip()):
        # An IPv6 zone (fe80::1%eth0) names the interface, not the address: dropped.
        ip = as_identifier(IdentifierKind.IP, value.split("%", 1)[0])
        if ip is None:
            problems.append(
                Problem(severity=Severity.WARNING, where=str(path), message=f"bad IP {value!r}")
            )
        elif not ipaddress.ip_address(ip.value).is_loopback:
            ips.append(ip)
    return list(dict.fromkeys(ips))


# -- attributes ----------------------------------------------------------------------------


def _attributes(facts: _Facts) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "os_family": facts.text("os_family"),
        "distribution": facts.text("distribution"),
        "os_version": facts.text("distribution_version"),
        "kernel": facts.text("kernel"),
        "architecture": facts.text("architecture"),
        "cpu_count": _cpu_count(facts),
        "memory_mb": as_int(facts.get("memtotal_mb")),
        "virtualization_type": facts.text("virtualization_type"),
        "virtualization_role": facts.text("virtualization_role"),
        "product_name": facts.text("product_name"),
        "vendor": facts.text("system_vendor"),
        "domain": facts.text("domain"),
        "form_factor": facts.text("form_factor"),
    }
    uuid = facts.text("product_uuid")
    if uuid and uuid.lower() not in _PLACEHOLDER_SERIALS:
        attrs["product_uuid"] = uuid.lower()
    gathered = facts.get("date_time")
    if isinstance(gathered, dict) and isinstance(gathered.get("iso8601"), str):
        attrs["facts_gathered_at"] = gathered["iso8601"]
    return {k: v for k, v in attrs.items() if v is not None}


def _cpu_count(facts: _Facts) -> int | None:
    vcpus = as_int(facts.get("processor_vcpus"))
    if vcpus:
        return vcpus
    parts = [
        as_int(facts.get(f))
        for f in ("processor_count", "processor_cores", "processor_threads_per_core")
    ]
    if all(parts):
        total = 1
        for p in parts:
            total *= p or 1
        return total
    return as_int(facts.get("processor_count"))
