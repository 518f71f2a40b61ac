"""GLPI agent inventory JSON (``{"deviceid", "itemtype", "content", "partial"}``) -> records.

One file is one inventoried device. ``itemtype`` (and ``content.network_device.type`` for a
network inventory) says what it is: a Computer becomes a Server (a VirtualMachine when the
agent says it runs virtualised), NetworkEquipment a NetworkDevice, a Printer a Printer, a
Phone a Phone. Its OS, BIOS and hardware summary are attributes; what it carries becomes CIs
of their own:

- ``softwares``: a SoftwarePackage per name, version and architecture, shared by every
  device that has it installed (keyed ``glpi:software:...``), which RUNS_ON the device;
  the install date, which is the device's, rides on that relationship;
- ``virtualmachines``: a VirtualMachine (a Container for container engines) HOSTED_ON it,
  identified by its UUID, so the guest's own inventory is the same CI;
- ``databases_services``: a Database instance that RUNS_ON it, keyed by its host and port
  like the port nmap finds open there;
- ``network_ports``: connections become CONNECTS_TO. A CDP/LLDP neighbour is a peer
  (the equipment connects to it); a port that learnt exactly one MAC address has an end
  device behind it (that device connects to the equipment). Neighbours no file describes
  are unresolved placeholders. A port with several MACs behind it (a hub, an aggregate, a
  virtualisation host) says nothing about which device is connected, and is counted.

Identity: the serial (``bios.ssn``, ``network_device.serial``), the fqdn, MACs of
physical interfaces, the hardware UUID (as the key ``uuid:{uuid}``, which any source
that knows a machine's SMBIOS UUID can give) and, for a local inventory, the agent's
``deviceid``. A network inventory's ``deviceid`` names the agent that ran the SNMP scan,
not the device, so it is kept as an attribute only.

A partial inventory (``"partial": true``) carries only the sections that changed: only
those are read, and the run is marked partial (``Stat`` ``partial``) so the reconciler
marks nothing stale for what it does not carry. The structure is checked against the
format's schema essentials first; a file that does not hold to them is refused naming the
file and the JSON path at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.errors import CmdbError, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.adapters._build import Ref, edge, problem
from discovery.adapters._coerce import (
    as_bool,
    as_dict,
    as_identifier,
    as_int,
    as_list,
    compact,
    stripped_text,
)
from discovery.io import json_document
from discovery.records import PARTIAL, DiscoveredCI, Item, Severity, Stat

K = IdentifierKind
_ITEMTYPES = ("Unmanaged", "Computer", "Phone", "NetworkEquipment", "Printer")
_TOP = {"content", "deviceid", "jobid", "itemtype", "partial", "action", "tag"}
# The schema's sections: whether each is an object or a list of objects, and the keys each
# entry must have (inventory.schema.json, properties.content.properties).
_SECTIONS: dict[str, tuple[type, tuple[str, ...]]] = {
    "accesslog": (dict, ()),
    "antivirus": (list, ()),
    "batteries": (list, ()),
    "bios": (dict, ()),
    "cameras": (list, ()),
    "cartridges": (list, ()),
    "consumables": (list, ()),
    "controllers": (list, ()),
    "cpus": (list, ()),
    "databases_services": (list, ("name", "version")),
    "drives": (list, ()),
    "envs": (list, ("key", "val")),
    "error": (dict, ()),
    "firewalls": (list, ("status",)),
    "firmwares": (list, ()),
    "hardware": (dict, ()),
    "inputs": (list, ()),
    "licenseinfos": (list, ()),
    "local_groups": (list, ("id", "name")),
    "local_users": (list, ("id",)),
    "logical_volumes": (list, ("lv_name", "lv_uuid", "size")),
    "memories": (list, ()),
    "modems": (list, ()),
    "monitors": (list, ()),
    "network_components": (list, ()),
    "network_device": (dict, ("type",)),
    "network_ports": (list, ()),
    "networks": (list, ("description",)),
    "operatingsystem": (dict, ()),
    "pagecounters": (dict, ()),
    "physical_volumes": (list, ()),
    "ports": (list, ("type",)),
    "powersupplies": (list, ()),
    "printers": (list, ("name",)),
    "processes": (list, ("cmd", "pid", "user")),
    "remote_mgmt": (list, ("id", "type")),
    "sensors": (list, ()),
    "simcards": (list, ()),
    "slots": (list, ("name",)),
    "softwares": (list, ("name",)),
    "sounds": (list, ()),
    "storages": (list, ()),
    "usbdevices": (list, ()),
    "users": (list, ()),
    "versionclient": (str, ()),
    "versionprovider": (dict, ()),
    "videos": (list, ()),
    "virtualmachines": (list, ("name",)),
    "volume_groups": (list, ()),
}
# Sections this adapter turns into records or attributes; the others are component detail
# (drives, slots, sensors, users...) a CMDB does not keep, reported once per file.
_READ = {
    "accesslog",
    "bios",
    "cpus",
    "databases_services",
    "firmwares",
    "hardware",
    "memories",
    "network_device",
    "network_ports",
    "networks",
    "operatingsystem",
    "softwares",
    "versionclient",
    "versionprovider",
    "virtualmachines",
}
_KIND_NAMES: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
_DEVICE_CLASS = {"Computer": "Server", "Phone": "Phone", "Printer": "Printer"}
_NETWORK_CLASS = {"Printer": "Printer", "Phone": "Phone", "Computer": "Server"}
_CONTAINER_VMTYPES = frozenset({"docker", "podman", "lxc", "lxd", "openvz", "jail", "wsl"})
# Values firmware and SNMP agents put where there is no serial.
_NO_SERIAL = frozenset(
    {
        "",
        "na",
        "n/a",
        "none",
        "null",
        "0",
        "unknown",
        "not specified",
        "not available",
        "to be filled by o.e.m.",
        "default string",
        "system serial number",
        "chassis serial number",
        "0123456789",
        "123456789",
        "1234567890",
    }
)
_NULL_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})
_NO_UUID = frozenset(
    {"", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
)
# An agent's deviceid is the host name and the agent's install instant.
_DEVICEID_STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$")
# CDP gives a Nexus's name as "NAME(SERIAL)".
_CDP_SERIAL = re.compile(r"^(?P<name>[^()]+)\((?P<serial>[A-Za-z0-9]{6,})\)$")


def read(paths: Sequence[Path]) -> Iterator[Item]:
    for path in paths:
        yield from _read_one(Path(path))


@dataclass
class _Device:
    path: Path
    deviceid: str
    itemtype: str
    content: dict[str, Any]
    partial: bool
    action: str = "inventory"
    key: str = ""
    ci_class: str = "Server"
    name: str = ""
    own_macs: set[str] = field(default_factory=set)

    @property
    def ref(self) -> Ref:
        return Ref(self.key, self.ci_class, self.name)

    def where(self, place: str) -> str:
        return f"{self.path}:$.content.{place}"


def _read_one(path: Path) -> Iterator[Item]:
    doc = json_document(path)
    dev = _check(doc, path)
    if dev.partial:
        yield Stat(name=PARTIAL)
    for section in dev.content:
        if section not in _READ:
            yield problem(Severity.UNSUPPORTED, dev.where(section), f"{section!r} is not read")
    if "network_device" in dev.content:
        yield from _network_device(dev)
    elif dev.itemtype == "NetworkEquipment" or dev.action in ("netinventory", "netdiscovery"):
        # Its deviceid is the scanning agent's: without network_device nothing says which
        # device this is, and guessing would write its ports onto the agent's machine.
        yield problem(
            Severity.ERROR,
            dev.where("network_device"),
            "a network inventory without network_device: the device is unknown, file skipped",
        )
        return
    else:
        yield from _local_device(dev)
    yield Stat(name=f"devices.{dev.ci_class}")
    yield from _softwares(dev)
    yield from _virtual_machines(dev)
    yield from _databases(dev)
    yield from _ports(dev)


# -- structure -----------------------------------------------------------------------------


def _refuse(path: Path, place: str, message: str) -> InvalidInput:
    return InvalidInput(f"not a GLPI inventory: {message}", where=f"{path}:{place}")


def _check(doc: object, path: Path) -> _Device:
    """The schema's essentials: refuse the file naming the JSON path that breaks them."""
    if not isinstance(doc, dict):
        raise _refuse(path, "$", "expected a JSON object")
    for name in ("deviceid", "content"):
        if name not in doc:
            raise _refuse(path, "$", f"no {name!r} (found: {', '.join(map(str, list(doc)[:8]))})")
    extra = [k for k in doc if k not in _TOP]
    if extra:
        raise _refuse(path, f"$.{extra[0]}", f"{extra[0]!r} is not a property of the format")
    deviceid = stripped_text(doc["deviceid"])
    if deviceid is None:
        raise _refuse(path, "$.deviceid", "deviceid must be a non-empty string")
    itemtype = doc.get("itemtype", "Unmanaged")
    if itemtype not in _ITEMTYPES:
        raise _refuse(path, "$.itemtype", f"itemtype {itemtype!r} is not one of {_ITEMTYPES}")
    partial = doc.get("partial", False)
    if not isinstance(partial, bool):
        raise _refuse(path, "$.partial", "partial must be true or false")
    content = doc["content"]
    if not isinstance(content, dict):
        raise _refuse(path, "$.content", "content must be an object")
    if "versionclient" not in content:
        raise _refuse(path, "$.content", "no 'versionclient'")
    for section, value in content.items():
        _check_section(path, str(section), value)
    action = stripped_text(doc.get("action")) or "inventory"
    return _Device(path, deviceid, str(itemtype), content, partial, action)


def _check_section(path: Path, section: str, value: object) -> None:
    spec = _SECTIONS.get(section)
    if spec is None:
        return  # a newer section: reported as not read
    kind, required = spec
    place = f"$.content.{section}"
    if not isinstance(value, kind):
        raise _refuse(path, place, f"{section} must be {_KIND_NAMES[kind]}")
    if isinstance(value, str):
        return
    entries = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for i, entry in entries:
        at = place if i is None else f"{place}[{i}]"
        if not isinstance(entry, dict):
            raise _refuse(path, at, "must be an object")
        for req in required:
            if req not in entry:
                raise _refuse(path, at, f"no {req!r}")
            if req == "name" and stripped_text(entry[req]) is None:
                raise _refuse(path, f"{at}.name", "name must be a non-empty string")


# -- the device ----------------------------------------------------------------------------


def _host_name(deviceid: str) -> str:
    return _DEVICEID_STAMP.sub("", deviceid) or deviceid


def _serial_text(value: object) -> str | None:
    text = stripped_text(value)
    if text is None or text.lower() in _NO_SERIAL or set(text) <= {"0", " "}:
        return None
    return text


def _serial(value: object) -> Identifier | None:
    return as_identifier(K.SERIAL, _serial_text(value))


def _uuid(value: object) -> Identifier | None:
    text = (stripped_text(value) or "").lower()
    if text in _NO_UUID:
        return None
    return as_identifier(K.KEY, f"uuid:{text}")


def _mac(value: object) -> Identifier | None:
    mac = as_identifier(K.MAC, value)
    return None if mac is None or mac.value in _NULL_MACS else mac


def _local_device(dev: _Device) -> Iterator[Item]:
    """A local inventory (agent on the machine): Computer, Phone, or Unmanaged."""
    c = dev.content
    hw, bios, os_ = (
        as_dict(c.get("hardware")),
        as_dict(c.get("bios")),
        as_dict(c.get("operatingsystem")),
    )
    dev.ci_class = _DEVICE_CLASS.get(dev.itemtype, "Server")
    vm = stripped_text(hw.get("vmsystem"))
    if dev.ci_class == "Server" and vm is not None and vm.lower() != "physical":
        dev.ci_class = "VirtualMachine"
    dev.key = f"glpi:{dev.deviceid}"
    dev.name = stripped_text(hw.get("name")) or _host_name(dev.deviceid)
    fqdn = stripped_text(os_.get("fqdn"))
    idents: list[Identifier | None] = [
        as_identifier(K.KEY, dev.key),
        _serial(bios.get("ssn")),
        _uuid(hw.get("uuid")),
        as_identifier(K.FQDN, fqdn) if fqdn and "." in fqdn else None,
        as_identifier(K.HOSTNAME, stripped_text(hw.get("name"))),
    ]
    for net in as_list(c.get("networks")):
        if not isinstance(net, dict) or net.get("virtualdev") is True:
            continue  # a bridge or tunnel: the same on many hosts
        if stripped_text(net.get("type")) == "loopback":
            continue
        mac = _mac(net.get("mac"))
        if mac is not None:
            dev.own_macs.add(mac.value)
            # A locally administered MAC (a Wi-Fi card's randomised one, a VM's) is made
            # up by software and changes: it says nothing lasting about the machine.
            idents.append(None if int(mac.value[:2], 16) & 0x02 else mac)
        for addr in (net.get("ipaddress"), net.get("ipaddress6")):
            ip = as_identifier(K.IP, addr)
            if ip is not None and not ip.value.startswith(("127.", "fe80:", "::1")):
                idents.append(ip)
    attrs = compact(
        {
            "glpi_itemtype": dev.itemtype,
            "os_name": stripped_text(os_.get("name")),
            "os_full_name": stripped_text(os_.get("full_name")),
            "os_version": stripped_text(os_.get("version")),
            "kernel": stripped_text(os_.get("kernel_version")),
            "architecture": stripped_text(os_.get("arch")),
            "domain": stripped_text(os_.get("dns_domain")),
            "memory_mb": as_int(hw.get("memory")),
            "chassis_type": stripped_text(hw.get("chassis_type")),
            "virtualization": vm,
            "uuid": (stripped_text(hw.get("uuid")) or "").lower() or None,
            "vendor": stripped_text(bios.get("smanufacturer")),
            "model": stripped_text(bios.get("smodel")),
            "bios_version": stripped_text(bios.get("bversion")),
            # Kept for people, not for identity: firmware fills it with zeros or build tags.
            "asset_tag": _serial_text(bios.get("assettag")),
            "cpu_count": len(as_list(c.get("cpus"))) if "cpus" in c else None,
            "cpu_model": _first_text(c.get("cpus"), "name"),
            "last_logged_user": stripped_text(hw.get("lastloggeduser")),
            "glpi_agent": stripped_text(c.get("versionclient")),
            "inventoried_at": stripped_text(as_dict(c.get("accesslog")).get("logdate")),
        }
    )
    yield _ci(dev.key, dev.ci_class, dev.name, idents, attrs, str(dev.path))


def _network_device(dev: _Device) -> Iterator[Item]:
    """A network inventory (SNMP): switch, router, printer... seen by an agent."""
    nd = as_dict(dev.content.get("network_device"))
    kind = stripped_text(nd.get("type")) or "Networking"
    dev.ci_class = _NETWORK_CLASS.get(kind) or _DEVICE_CLASS.get(dev.itemtype, "NetworkDevice")
    if dev.itemtype == "NetworkEquipment" and kind == "Networking":
        dev.ci_class = "NetworkDevice"
    serial = _serial(nd.get("serial"))
    mac = _mac(nd.get("mac"))
    if mac is not None:
        dev.own_macs.add(mac.value)
    for port in as_list(dev.content.get("network_ports")):
        own = _mac(as_dict(port).get("mac"))
        if own is not None:
            dev.own_macs.add(own.value)
    dev.name = stripped_text(nd.get("name")) or _host_name(dev.deviceid)
    # The agent's deviceid is not this device's: the device is its serial, else its MAC,
    # else its name as this agent saw it.
    anchor = serial.value if serial else (mac.value if mac else f"{dev.deviceid}:{dev.name}")
    dev.key = f"glpi:device:{anchor}"
    idents: list[Identifier | None] = [serial, mac]
    if serial is None and mac is None:
        idents.append(as_identifier(K.KEY, dev.key))
    name = stripped_text(nd.get("name"))
    if name and "." in name:
        idents.append(as_identifier(K.FQDN, name))
    for addr in as_list(nd.get("ips")):
        ip = as_identifier(K.IP, addr)
        if ip is not None and not ip.value.startswith(("127.", "169.254.")):
            idents.append(ip)
    attrs = compact(
        {
            "glpi_itemtype": dev.itemtype,
            "device_type": kind,
            "vendor": stripped_text(nd.get("manufacturer")),
            "model": stripped_text(nd.get("model")),
            "firmware": stripped_text(nd.get("firmware")),
            "location_name": stripped_text(nd.get("location")),
            "contact": stripped_text(nd.get("contact")),
            "ram_mb": as_int(nd.get("ram")),
            "uptime": stripped_text(nd.get("uptime")),
            "port_count": len(as_list(dev.content.get("network_ports")))
            if "network_ports" in dev.content
            else None,
            "glpi_agent_deviceid": dev.deviceid,
            "glpi_agent": stripped_text(dev.content.get("versionclient")),
        }
    )
    yield _ci(dev.key, dev.ci_class, dev.name, idents, attrs, dev.where("network_device"))


# -- what it carries -----------------------------------------------------------------------


def _softwares(dev: _Device) -> Iterator[Item]:
    for i, sw in enumerate(as_list(dev.content.get("softwares"))):
        where = dev.where(f"softwares[{i}]")
        name = str(sw["name"]).strip()
        version = stripped_text(sw.get("version"))
        arch = stripped_text(sw.get("arch"))
        key = f"glpi:software:{name}@{version or ''}" + (f"/{arch}" if arch else "")
        attrs = compact(
            {
                "publisher": stripped_text(sw.get("publisher")),
                "architecture": arch,
                "package_format": stripped_text(sw.get("from")),
                "category": stripped_text(sw.get("system_category")),
                "guid": stripped_text(sw.get("guid")),
            }
        )
        fields = compact({"version": version, "description": stripped_text(sw.get("comments"))})
        pkg = _ci(key, "SoftwarePackage", name, [as_identifier(K.KEY, key)], attrs, where, fields)
        yield pkg
        yield Stat(name="softwares")
        if isinstance(pkg, DiscoveredCI):
            installed = compact({"install_date": stripped_text(sw.get("install_date"))})
            yield from _edge(
                "RUNS_ON", Ref(key, "SoftwarePackage", name), dev.ref, where, installed
            )


def _virtual_machines(dev: _Device) -> Iterator[Item]:
    for i, vm in enumerate(as_list(dev.content.get("virtualmachines"))):
        where = dev.where(f"virtualmachines[{i}]")
        name = str(vm["name"]).strip()
        vmtype = (stripped_text(vm.get("vmtype")) or "").lower()
        ci_class = "Container" if vmtype in _CONTAINER_VMTYPES else "VirtualMachine"
        uuid = _uuid(vm.get("uuid"))
        key = uuid.value if uuid else f"glpi:{dev.deviceid}:vm:{name}"
        idents = [uuid or as_identifier(K.KEY, key), _serial(vm.get("serial")), _mac(vm.get("mac"))]
        ip = as_identifier(K.IP, vm.get("ipaddress"))
        attrs = compact(
            {
                "vm_type": stripped_text(vm.get("vmtype")),
                "hypervisor": stripped_text(vm.get("subsystem")),
                "power_state": stripped_text(vm.get("status")),
                "cpu_count": as_int(vm.get("vcpu")),
                "memory_mb": as_int(vm.get("memory")),
                "image": stripped_text(vm.get("image")),
                "uuid": (stripped_text(vm.get("uuid")) or "").lower() or None,
            }
        )
        ci = _ci(key, ci_class, name, [*idents, ip], attrs, where)
        yield ci
        yield Stat(name="virtualmachines")
        if isinstance(ci, DiscoveredCI):
            yield from _edge("HOSTED_ON", Ref(key, ci_class, name), dev.ref, where, {})


def _databases(dev: _Device) -> Iterator[Item]:
    for i, db in enumerate(as_list(dev.content.get("databases_services"))):
        where = dev.where(f"databases_services[{i}]")
        name = str(db["name"]).strip()
        port = as_int(db.get("port"))
        key = f"{dev.key}:db:{name}:{port if port is not None else ''}"
        attrs = compact(
            {
                "vendor": stripped_text(db.get("manufacturer")),
                "engine": stripped_text(db.get("type")),
                # With protocol and port the reconciler keys it by its host and port, so
                # the port nmap finds open on that host is this same instance.
                "protocol": "tcp" if port is not None else None,
                "port": port,
                "path": stripped_text(db.get("path")),
                "size_mb": as_int(db.get("size")),
                "active": as_bool(db.get("is_active")),
                "databases": [
                    str(d["name"])
                    for d in as_list(db.get("databases"))
                    if isinstance(d, dict) and stripped_text(d.get("name"))
                ],
            }
        )
        fields = compact({"version": stripped_text(db.get("version"))})
        ci = _ci(key, "Database", name, [], attrs, where, fields)
        yield ci
        yield Stat(name="databases")
        if isinstance(ci, DiscoveredCI):
            yield from _edge("RUNS_ON", Ref(key, "Database", name), dev.ref, where, {})


def _ports(dev: _Device) -> Iterator[Item]:
    for i, port in enumerate(as_list(dev.content.get("network_ports"))):
        where = dev.where(f"network_ports[{i}]")
        port_name = stripped_text(port.get("ifname")) or stripped_text(port.get("ifdescr"))
        conns = [c for c in as_list(port.get("connections")) if isinstance(c, dict)]
        if not conns:
            continue
        if port.get("lldp") is True:
            for conn in conns:
                yield from _neighbour(dev, conn, port_name, where)
            continue
        macs = {
            m.value
            for c in conns
            for raw in _as_values(c.get("mac"))
            if (m := _mac(raw)) is not None and m.value not in dev.own_macs
        }
        if len(macs) == 1:
            mac = macs.pop()
            ref = Ref(f"glpi:mac:{mac}", "Server", mac, (Identifier(kind=K.MAC, value=mac),))
            attrs = compact({"port": port_name, "seen_by": "mac address table"})
            yield from _edge("CONNECTS_TO", ref, dev.ref, where, attrs)
            yield Stat(name="connections")
        elif macs:
            yield Stat(name="ports_with_several_macs")


def _neighbour(
    dev: _Device, conn: Mapping[str, Any], port: str | None, where: str
) -> Iterator[Item]:
    """A CDP/LLDP peer: named, addressed and often with its MAC or serial."""
    sysname = stripped_text(conn.get("sysname"))
    serial: Identifier | None = None
    if sysname and (m := _CDP_SERIAL.match(sysname)):
        sysname, serial = m["name"].strip(), _serial(m["serial"])
    mac = _mac(conn.get("sysmac"))
    ip = as_identifier(K.IP, conn.get("ip"))
    anchor = (serial.value if serial else None) or (mac.value if mac else None) or sysname
    anchor = anchor or (ip.value if ip else None)
    if anchor is None:
        yield problem(Severity.WARNING, where, "a neighbour with no name, MAC, serial or IP")
        return
    idents = [i for i in (serial, mac, ip) if i is not None]
    if sysname and "." in sysname:
        fqdn = as_identifier(K.FQDN, sysname)
        idents += [fqdn] if fqdn else []
    elif sysname:
        host = as_identifier(K.HOSTNAME, sysname)
        idents += [host] if host else []
    ref = Ref(f"glpi:neighbour:{anchor}", "NetworkDevice", sysname or anchor, tuple(idents))
    attrs = compact(
        {
            "port": port,
            "remote_port": stripped_text(conn.get("ifdescr")),
            "seen_by": "cdp/lldp",
        }
    )
    yield from _edge("CONNECTS_TO", dev.ref, ref, where, attrs)
    yield Stat(name="connections")


# -- building ------------------------------------------------------------------------------


def _as_values(value: object) -> list[Any]:
    """A connection's ``mac`` is one address or the list a port learnt."""
    return value if isinstance(value, list) else [value]


def _first_text(entries: object, key: str) -> str | None:
    for entry in as_list(entries):
        text = stripped_text(as_dict(entry).get(key))
        if text:
            return text
    return None


def _ci(
    key: str,
    ci_class: str,
    name: str,
    idents: Sequence[Identifier | None],
    attrs: dict[str, Any],
    where: str,
    fields: dict[str, Any] | None = None,
) -> Item:
    try:
        return DiscoveredCI(
            key=key,
            ci_class=ci_class,
            name=name,
            identifiers=tuple(dict.fromkeys(i for i in idents if i is not None)),
            fields=fields or {},
            attributes=attrs,
            where=where,
        )
    except ValidationError as exc:
        return problem(Severity.ERROR, where, f"bad record: {exc.errors()[0]['msg']}")


def _edge(
    rtype: str, source: Ref, target: Ref, where: str, attrs: dict[str, Any]
) -> Iterator[Item]:
    try:
        yield edge(rtype, source, target, where, attributes=attrs)
    except (CmdbError, ValidationError) as exc:
        yield problem(Severity.ERROR, where, str(exc))
