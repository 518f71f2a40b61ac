"""NetBox exports -> neutral discovery records.

Two shapes of input, any mix of files:

* REST API list pages (``{"count", "next", "previous", "results": [...]}``), one file per
  endpoint or several. Which endpoint a page holds is read from the objects' ``url``
  (``/api/dcim/devices/2/``), else from the file name (``dcim_devices.json``), else from the
  objects' shape. Both the older shapes (``display_name``, ``device_role``, cables'
  ``termination_a``/``termination_b``, ``interface-connections``' ``interface_a``/``_b``,
  an IP address's ``interface``) and NetBox 4's (``display``, ``role``,
  ``a_terminations``/``b_terminations``, ``assigned_object``) are read.
* ``manage.py dumpdata`` JSON (``[{"model": "dcim.device", "pk": 1, "fields": {...}}]``),
  where references are bare primary keys: resolved through the other objects of the input.

What becomes what:

* regions, sites, locations and racks: Location CIs, nested by CONTAINS (region > site >
  location > rack, parents of regions and locations included);
* devices: by role (``server`` -> Server, ``switch``/``router``/``firewall``/... ->
  NetworkDevice with ``device_kind``, ``load-balancer`` -> LoadBalancer, ``storage`` ->
  StorageVolume; a role none of these names is a NetworkDevice and reported once), LOCATED_IN
  their rack, else location, else site; identified by ``netbox:device/{id}`` plus serial and
  asset tag (unique: what lets the same machine seen by nmap or Ansible merge), the MACs of
  its interfaces, and its name and IP addresses (which help find it, never identify it);
* cables and interface connections between two devices: one CONNECTS_TO per pair of
  devices, with the interface names of each link (``links``); a power cable makes the
  powered device DEPENDS_ON the one feeding it;
* IP addresses: identifiers and ``ip_addresses`` of the device or VM they are assigned to;
* clusters (Cluster) and virtual machines (VirtualMachine MEMBER_OF its cluster, HOSTED_ON
  its device when NetBox names one);
* tenants: Team CIs that what they hold is OWNED_BY.

A reference to an object no file describes (a site id, a device on a cable) becomes an
unresolved placeholder. References cross files (a device page names its rack, the rack
page says which site holds it), so the files are read first and the records made after.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.built import built
from cmdb.domain.errors import ForbiddenRelationship, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.adapters._build import Ref, edge, problem, stat
from discovery.adapters._coerce import (
    as_dict,
    as_identifier,
    as_int,
    as_list,
    compact,
    scalar_text,
    stripped_text,
)
from discovery.adapters._netbox_input import (
    Input,
    Obj,
    choice,
    label_of,
    load,
    missing_pages,
    ref_id,
)
from discovery.records import DiscoveredCI, Item, Severity

# -- device roles --------------------------------------------------------------------------

# Words of a role's slug or name -> (class, device_kind). First match in this order wins,
# so "server-switch" (a switch for servers) is a switch.
_ROLE_WORDS: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    (("firewall", "fw", "utm"), "NetworkDevice", "firewall"),
    (("load", "balancer", "loadbalancer", "lb", "adc"), "LoadBalancer", None),
    (("router", "edge", "gateway", "gw", "wan", "border", "pe", "ce"), "NetworkDevice", "router"),
    (
        ("switch", "core", "spine", "leaf", "tor", "access", "distribution", "aggregation", "oob"),
        "NetworkDevice",
        "switch",
    ),
    (("ap", "wireless", "wifi", "wlc"), "NetworkDevice", "wireless"),
    (("console",), "NetworkDevice", "console-server"),
    (("storage", "san", "nas", "array"), "StorageVolume", None),
    (
        ("server", "host", "hypervisor", "compute", "baremetal", "blade", "esxi", "node"),
        "Server",
        None,
    ),
)


@functools.lru_cache(maxsize=4096)
def classify_role(role: str | None) -> tuple[str, str | None, bool]:
    """(class, device_kind, known) for a role's slug or name; unknown roles are network gear,
    what most of a NetBox that is not a server is (PDUs, patch panels, console servers)."""
    words = set(re.split(r"[^a-z0-9]+", (role or "").lower())) - {""}
    for names, ci_class, kind in _ROLE_WORDS:
        if words & set(names):
            return ci_class, kind, True
    return "NetworkDevice", None, False


# CIs are built without pydantic's validation, a large part of the adapter's time: their
# classes are this module's, their keys and names never empty, their identifiers made by
# ``as_identifier`` or from an id, their fields and attributes fresh dicts of text keys (a
# test re-validates every record of the real exports and of the benchmark's). Each is
# marked with the fields its validated construction was given before.
_GIVEN = frozenset({"key", "ci_class", "name", "identifiers", "fields", "attributes", "where"})
_GIVEN_UNRESOLVED = frozenset(
    {"key", "ci_class", "name", "identifiers", "attributes", "unresolved", "where"}
)


def read(paths: Sequence[Path]) -> Iterator[Item]:
    data = Input()
    for path in paths:
        yield from load(Path(path), data)
    yield from missing_pages(data)
    yield from _Emit(data).all()


def _key(kind: str, ident: int) -> str:
    return f"netbox:{kind}/{ident}"


def _fallback(key: str) -> str:
    """The name of a reference that came with none: ``device 12`` for ``netbox:device/12``."""
    return key.removeprefix("netbox:").replace("/", " ")


def _key_id(kind: str, ident: int) -> Identifier:
    # Built here from a kind and an integer: already in the one spelling a key has, so the
    # validation (a strip and a length check) is skipped, as it is for every CI read.
    return built(Identifier, kind=IdentifierKind.KEY, value=_key(kind, ident))


_CLASSES = {
    "region": "Location",
    "site": "Location",
    "location": "Location",
    "rack": "Location",
    "tenant": "Team",
    "cluster": "Cluster",
    "vm": "VirtualMachine",
}


# Spoofed, unset or broadcast: no one machine's MAC.
_NULL_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})


@functools.lru_cache(maxsize=1 << 16)
def _ip_identifier(address: str) -> Identifier | None:
    # Each address is read twice (its page, then its device): parsed once.
    return as_identifier(IdentifierKind.IP, address)


def _bare_ip(address: object) -> str | None:
    text = stripped_text(address)
    return text.split("/", 1)[0] if text else None


class _Emit:
    """Makes the records once every file is read."""

    def __init__(self, data: Input) -> None:
        self.data = data
        self.classes: dict[str, str] = {}  # key -> class, of what the input defines
        self.ips: dict[str, list[str]] = defaultdict(list)  # device/vm key -> addresses
        self.macs: dict[str, list[Identifier]] = defaultdict(list)  # device key -> MACs
        self.unknown_roles: dict[str, int] = defaultdict(int)
        self.mismatches: set[tuple[str, str, int, str, str]] = set()
        self.at = "input"  # where the object being read came from, for the problems
        self.terminations: dict[tuple[int | None, str | None], list[dict[str, Any]]] | None = None

    def objs(self, kind: str) -> list[Obj]:
        return list(self.data.by_kind[kind].values())

    def all(self) -> Iterator[Item]:
        for obj in self.objs("device"):
            ci_class, _kind, _known = classify_role(self.role_of(obj.obj))
            self.classes[_key("device", obj.id)] = ci_class
        for kind, ci_class in _CLASSES.items():
            for obj in self.objs(kind):
                self.classes[_key(kind, obj.id)] = ci_class
        yield from self.addresses()
        yield from self.interface_macs()
        for kind in ("tenant", "region", "site", "location", "rack", "cluster"):
            for obj in self.objs(kind):
                yield from self.guarded(obj, self.grouping)
        for obj in self.objs("device"):
            yield from self.guarded(obj, self.device)
        for obj in self.objs("vm"):
            yield from self.guarded(obj, self.vm)
        yield from self.links()
        for at, kind, ident, given, label in sorted(self.mismatches):
            yield problem(
                Severity.WARNING,
                at,
                f"referred to as {given!r}, but the input describes {kind} {ident} as "
                f"{label!r}: linked by id",
            )
        for role, n in sorted(self.unknown_roles.items()):
            yield problem(
                Severity.WARNING,
                "device roles",
                f"role {role!r} ({n} device(s)) names no known kind of device: "
                "recorded as NetworkDevice",
            )

    def guarded(self, obj: Obj, make: Any) -> Iterator[Item]:
        self.at = obj.where
        try:
            yield from make(obj)
        except (ValidationError, ForbiddenRelationship, InvalidInput) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc.message
            yield problem(Severity.ERROR, obj.where, f"bad {obj.kind}: {msg}")

    # -- references to other objects, placeholders included

    def ref(self, kind: str, value: object) -> Ref | None:
        ident = ref_id(value)
        if ident is None:
            return None
        key = _key(kind, ident)
        if kind == "device":
            ci_class = self.classes.get(key) or self.placeholder_device_class(value)
        else:
            ci_class = _CLASSES[kind]
        defined = self.data.get(kind, ident)
        label = label_of(defined.obj) if defined else None
        given = label_of(value) if isinstance(value, dict) else None
        if label is not None and given is not None and given != label:
            # The id is NetBox's identity and wins; a name that disagrees is worth a look.
            self.mismatches.add((self.at, kind, ident, given, label))
        label = label or given
        # No identifiers: ``collect`` gives a placeholder its key, which is this key.
        return Ref(key, ci_class, label or _fallback(key))

    def placeholder_device_class(self, value: object) -> str:
        role = self.role_of(value) if isinstance(value, dict) else None
        return classify_role(role)[0] if role else "NetworkDevice"

    def role_of(self, obj: dict[str, Any]) -> str | None:
        value = obj.get("role", obj.get("device_role"))
        if isinstance(value, dict):
            return stripped_text(value.get("slug")) or stripped_text(value.get("name"))
        role = self.data.get("role", as_int(value))
        if role is not None:
            return stripped_text(role.obj.get("slug")) or stripped_text(role.obj.get("name"))
        return None

    # -- locations, tenants and clusters

    def grouping(self, o: Obj) -> Iterator[Item]:
        obj, ci_class = o.obj, _CLASSES[o.kind]
        name = label_of(obj) or f"{o.kind} {o.id}"
        if o.kind == "rack" and stripped_text(obj.get("facility_id")):
            name = f"{name} ({obj['facility_id']})"
        attrs = compact(
            {
                "netbox_id": o.id,
                "netbox_type": o.kind,
                "slug": stripped_text(obj.get("slug")),
                "status": choice(obj.get("status")),
                "facility": stripped_text(obj.get("facility")),
                "facility_id": stripped_text(obj.get("facility_id")),
                "asn": as_int(obj.get("asn")),
                "physical_address": stripped_text(obj.get("physical_address")),
                "time_zone": stripped_text(obj.get("time_zone")),
                "u_height": as_int(obj.get("u_height")),
                "cluster_type": self.named(obj.get("type")),
                "group": self.named(obj.get("group")),
            }
        )
        fields = compact({"description": stripped_text(obj.get("description"))})
        me = Ref(_key(o.kind, o.id), ci_class, name, (_key_id(o.kind, o.id),))
        yield built(
            DiscoveredCI,
            _GIVEN,
            key=me.key,
            ci_class=ci_class,
            name=name,
            identifiers=me.identifiers,
            fields=fields,
            attributes=attrs,
            unresolved=False,
            where=o.where,
        )
        yield stat(f"{o.kind}s")
        parent = self.parent_location(o)
        if parent is not None:
            yield edge("CONTAINS", parent, me, o.where)
        if o.kind == "cluster":
            site = self.ref("site", obj.get("site")) or self.scope_site(obj)
            if site is not None:
                yield edge("LOCATED_IN", me, site, o.where)
        if o.kind in ("cluster", "rack", "site", "location"):
            yield from self.owner(me, obj, o.where)

    def named(self, value: object) -> str | None:
        # A bare number is a dumpdata key to an object not read here: no name to give.
        return label_of(value) if isinstance(value, dict) else stripped_text(value)

    def scope_site(self, obj: dict[str, Any]) -> Ref | None:
        # NetBox 4.2 scopes a cluster to a region, site group, site or location.
        scope_type = stripped_text(obj.get("scope_type"))
        kind = {"dcim.site": "site", "dcim.location": "location", "dcim.region": "region"}.get(
            scope_type or ""
        )
        return self.ref(kind, obj.get("scope") or obj.get("scope_id")) if kind else None

    def parent_location(self, o: Obj) -> Ref | None:
        obj = o.obj
        if o.kind == "region":
            return self.ref("region", obj.get("parent"))
        if o.kind == "site":
            return self.ref("region", obj.get("region"))
        if o.kind == "location":
            return self.ref("location", obj.get("parent")) or self.ref("site", obj.get("site"))
        if o.kind == "rack":
            return self.ref("location", obj.get("location") or obj.get("group")) or self.ref(
                "site", obj.get("site")
            )
        return None

    def owner(self, me: Ref, obj: dict[str, Any], where: str) -> Iterator[Item]:
        tenant = self.ref("tenant", obj.get("tenant"))
        if tenant is not None and me.ci_class != "Location":
            yield edge("OWNED_BY", me, tenant, where)

    # -- devices and virtual machines

    def device(self, o: Obj) -> Iterator[Item]:
        obj = o.obj
        role = self.role_of(obj)
        ci_class, device_kind, known = classify_role(role)
        if not known:
            self.unknown_roles[role or "(none)"] += 1
        key = _key("device", o.id)
        name = label_of(obj) or f"device {o.id}"
        dtype = self.device_type(obj.get("device_type"))
        idents = [_key_id("device", o.id)]
        for kind, value in (
            (IdentifierKind.SERIAL, obj.get("serial")),
            (IdentifierKind.ASSET_TAG, obj.get("asset_tag")),
        ):
            ident = as_identifier(kind, value)
            if ident is not None:
                idents.append(ident)
        idents.extend(self.macs.get(key, []))
        idents.extend(self.name_ids(obj))
        idents.extend(self.ip_ids(key, obj))
        attrs = compact(
            {
                "netbox_id": o.id,
                "role": role,
                "device_kind": device_kind,
                "status": choice(obj.get("status")),
                "manufacturer": dtype[0],
                "model": dtype[1],
                "platform": self.named(obj.get("platform")),
                "serial": stripped_text(obj.get("serial")),
                "asset_tag": stripped_text(obj.get("asset_tag")),
                "rack_position": scalar_text(obj.get("position")),
                "rack_face": choice(obj.get("face")),
                "primary_ip": self.primary_ip(obj),
                "ip_addresses": sorted(set(self.ips.get(key, []))),
            }
        )
        fields = compact({"description": stripped_text(obj.get("description"))})
        me = Ref(key, ci_class, name, (idents[0],))
        yield built(
            DiscoveredCI,
            _GIVEN,
            key=key,
            ci_class=ci_class,
            name=name,
            identifiers=tuple(dict.fromkeys(idents)),
            fields=fields,
            attributes=attrs,
            unresolved=False,
            where=o.where,
        )
        yield stat("devices")
        place = (
            self.ref("rack", obj.get("rack"))
            or self.ref("location", obj.get("location"))
            or self.ref("site", obj.get("site"))
        )
        if place is not None:
            yield edge("LOCATED_IN", me, place, o.where)
        cluster = self.ref("cluster", obj.get("cluster"))
        if cluster is not None:
            yield edge("MEMBER_OF", me, cluster, o.where)
        parent = self.ref("device", obj.get("parent_device") or obj.get("parent"))
        if parent is not None and parent.ci_class == "Server" and ci_class != "StorageVolume":
            yield edge("HOSTED_ON", me, parent, o.where)
        yield from self.owner(me, obj, o.where)

    def device_type(self, value: object) -> tuple[str | None, str | None]:
        """(manufacturer, model) of a nested device type, or one the input defines."""
        dtype = value if isinstance(value, dict) else None
        if dtype is None:
            found = self.data.get("device_type", as_int(value))
            dtype = found.obj if found else None
        if dtype is None:
            return None, None
        maker = dtype.get("manufacturer")
        if not isinstance(maker, dict):
            found = self.data.get("manufacturer", as_int(maker))
            maker = found.obj if found else {}
        return label_of(maker), stripped_text(dtype.get("model"))

    def name_ids(self, obj: dict[str, Any]) -> list[Identifier]:
        name = stripped_text(obj.get("name"))
        if name is None or " " in name:
            return []
        out = [as_identifier(IdentifierKind.HOSTNAME, name.split(".", 1)[0])]
        if "." in name.strip("."):
            out.append(as_identifier(IdentifierKind.FQDN, name))
        return [i for i in out if i is not None]

    def ip_ids(self, key: str, obj: dict[str, Any]) -> list[Identifier]:
        # The addresses page was checked already; only a primary address outside it is new.
        addresses = dict.fromkeys([*self.ips.get(key, []), self.primary_ip(obj)])
        out = (_ip_identifier(a) for a in addresses if a)
        return [i for i in out if i is not None]

    def primary_ip(self, obj: dict[str, Any]) -> str | None:
        for name in ("primary_ip", "primary_ip4", "primary_ip6"):
            value = obj.get(name)
            if isinstance(value, dict):
                address = _bare_ip(value.get("address"))
                if address:
                    return address
            found = self.data.get("ip", as_int(value))
            if found is not None:
                return _bare_ip(found.obj.get("address"))
        return None

    def vm(self, o: Obj) -> Iterator[Item]:
        obj = o.obj
        key = _key("vm", o.id)
        name = label_of(obj) or f"virtual machine {o.id}"
        idents = [_key_id("vm", o.id), *self.macs.get(key, []), *self.name_ids(obj)]
        idents += self.ip_ids(key, obj)
        attrs = compact(
            {
                "netbox_id": o.id,
                "status": choice(obj.get("status")),
                "role": self.named(obj.get("role")),
                "platform": self.named(obj.get("platform")),
                "vcpus": scalar_text(obj.get("vcpus")),
                "memory_mb": as_int(obj.get("memory")),
                "disk_gb": as_int(obj.get("disk")),
                "primary_ip": self.primary_ip(obj),
                "ip_addresses": sorted(set(self.ips.get(key, []))),
            }
        )
        fields = compact({"description": stripped_text(obj.get("description"))})
        me = Ref(key, "VirtualMachine", name, (idents[0],))
        yield built(
            DiscoveredCI,
            _GIVEN,
            key=key,
            ci_class="VirtualMachine",
            name=name,
            identifiers=tuple(dict.fromkeys(idents)),
            fields=fields,
            attributes=attrs,
            unresolved=False,
            where=o.where,
        )
        yield stat("vms")
        cluster = self.ref("cluster", obj.get("cluster"))
        if cluster is not None:
            yield edge("MEMBER_OF", me, cluster, o.where)
        site = self.ref("site", obj.get("site"))
        if site is not None:
            yield edge("LOCATED_IN", me, site, o.where)
        host = self.ref("device", obj.get("device"))
        if host is not None and host.key not in self.classes:
            host = Ref(host.key, "Server", host.name)  # what a VM's undescribed host most is
        if host is not None and host.ci_class == "Server":
            yield edge("HOSTED_ON", me, host, o.where)
        elif host is not None:
            yield problem(
                Severity.WARNING,
                o.where,
                f"hosted on {host.name}, a {host.ci_class}: only a server hosts a VM here",
            )
        yield from self.owner(me, obj, o.where)

    # -- IP addresses and interfaces, folded into their device or VM

    def addresses(self) -> Iterator[Item]:
        for o in self.objs("ip"):
            address = _bare_ip(o.obj.get("address"))
            if address is None or _ip_identifier(address) is None:
                yield problem(
                    Severity.ERROR, o.where, f"not an IP address: {o.obj.get('address')!r}"
                )
                continue
            owner = self.ip_owner(o.obj)
            if owner is None:
                yield stat("ip_addresses_unassigned")
                continue
            self.ips[owner].append(address)
            yield stat("ip_addresses")
        # An address on a device or VM that no file describes: its owner is known only by it.
        for owner, addresses in self.ips.items():
            kind, ident = owner.removeprefix("netbox:").split("/")
            if self.data.get(kind, int(ident)) is None:
                ids = [_ip_identifier(a) for a in addresses]
                yield built(
                    DiscoveredCI,
                    _GIVEN_UNRESOLVED,
                    key=owner,
                    ci_class=self.classes.get(owner, _CLASSES.get(kind, "NetworkDevice")),
                    name=f"{'virtual machine' if kind == 'vm' else kind} {ident}",
                    identifiers=(_key_id(kind, int(ident)), *(i for i in ids if i)),
                    fields={},
                    attributes={"ip_addresses": sorted(set(addresses))},
                    unresolved=True,
                    where="ip addresses",
                )

    def ip_owner(self, obj: dict[str, Any]) -> str | None:
        assigned = obj.get("assigned_object")
        if isinstance(assigned, dict):  # NetBox 2.10 and later
            return self.interface_owner(assigned, stripped_text(obj.get("assigned_object_type")))
        if isinstance(obj.get("interface"), dict):  # before 2.10
            return self.interface_owner(obj["interface"], None)
        ident = as_int(obj.get("assigned_object_id"))  # dumpdata
        if ident is None:
            return None
        ctype = obj.get("assigned_object_type")
        model = self.content_type(ctype)
        if model == "dcim.interface":
            found = self.data.get("interface", ident)
            return self.interface_owner(found.obj, model) if found else None
        if model == "virtualization.vminterface":
            found = self.data.get("vminterface", ident)
            return self.interface_owner(found.obj, model) if found else None
        return None

    def content_type(self, value: object) -> str | None:
        if isinstance(value, list) and len(value) == 2:  # a natural key: ["dcim", "interface"]
            return f"{value[0]}.{value[1]}"
        if isinstance(value, str):
            return value
        return self.data.content_types.get(as_int(value) or -1)

    def interface_owner(self, iface: dict[str, Any], model: str | None) -> str | None:
        vm = ref_id(iface.get("virtual_machine"))
        if vm is not None and model != "dcim.interface":
            return _key("vm", vm)
        device = ref_id(iface.get("device"))
        return _key("device", device) if device is not None else None

    def interface_macs(self) -> Iterator[Item]:
        for kind, model in (("interface", "dcim.interface"), ("vminterface", "vm")):
            for o in self.objs(kind):
                owner = self.interface_owner(o.obj, model)
                # NetBox 4.2 moved MACs to objects of their own; the primary one is nested.
                primary = as_dict(o.obj.get("primary_mac_address")).get("mac_address")
                mac = as_identifier(IdentifierKind.MAC, o.obj.get("mac_address") or primary)
                if owner is not None and mac is not None and mac.value not in _NULL_MACS:
                    self.macs[owner].append(mac)
                yield stat(f"{kind}s")

    # -- cables

    def links(self) -> Iterator[Item]:
        # (source key, target key) -> the links between them, both ways folded into one.
        pairs: dict[tuple[str, str], dict[str, Any]] = {}
        refs: dict[str, Ref] = {}
        for o, a_ends, b_ends in self.cables():
            if not a_ends or not b_ends:
                # A circuit termination, a power feed or an unplugged end: no device there.
                yield problem(
                    Severity.UNSUPPORTED, o.where, f"{o.kind} {o.id} does not join two devices"
                )
                continue
            for a_ref, a_port, a_type in a_ends:
                for b_ref, b_port, b_type in b_ends:
                    if a_ref.key == b_ref.key:
                        continue
                    power = self.power_direction(a_type, b_type)
                    if power is not None:
                        src, dst = (a_ref, b_ref) if power else (b_ref, a_ref)
                        yield self.checked(o, "DEPENDS_ON", src, dst, {"via": "power cable"})
                        continue
                    for end in (a_ref, b_ref):
                        # The name from whichever sighting had one, for a placeholder.
                        if end.key not in refs or refs[end.key].name == _fallback(end.key):
                            refs[end.key] = end
                    forward = (a_ref.key, b_ref.key)
                    link = f"{a_port} <-> {b_port}"
                    if forward not in pairs and (b_ref.key, a_ref.key) in pairs:
                        forward, link = (b_ref.key, a_ref.key), f"{b_port} <-> {a_port}"
                    found = pairs.setdefault(forward, {"links": [], "where": o.where})
                    if link not in found["links"]:
                        found["links"].append(link)
        for (a_key, b_key), found in pairs.items():
            links = found["links"]
            yield self.checked_at(
                found["where"], "CONNECTS_TO", refs[a_key], refs[b_key], {"links": links}
            )
            yield stat("connections")

    def checked(self, o: Obj, rtype: str, src: Ref, dst: Ref, attrs: dict[str, Any]) -> Item:
        return self.checked_at(o.where, rtype, src, dst, attrs)

    def checked_at(self, where: str, rtype: str, src: Ref, dst: Ref, attrs: dict[str, Any]) -> Item:
        try:
            return edge(rtype, src, dst, where, attributes=attrs)
        except ForbiddenRelationship as exc:
            return problem(Severity.ERROR, where, exc.message)

    @staticmethod
    def power_direction(a_type: str | None, b_type: str | None) -> bool | None:
        """True when A is powered by B, False when B by A, None for a data or console cable."""
        feeds = ("poweroutlet", "powerfeed")
        if a_type and a_type.endswith("powerport") and b_type and b_type.endswith(feeds):
            return True
        if b_type and b_type.endswith("powerport") and a_type and a_type.endswith(feeds):
            return False
        return None

    def cables(self) -> Iterator[tuple[Obj, list[_End], list[_End]]]:
        for o in self.objs("cable"):
            obj = o.obj
            self.at = o.where
            if "a_terminations" in obj or "b_terminations" in obj:
                sides = [self.new_ends(obj.get(f"{s}_terminations")) for s in ("a", "b")]
            elif "termination_a" in obj or "termination_a_id" in obj:
                sides = [self.old_ends(obj, s) for s in ("a", "b")]
            else:
                sides = [self.dump_ends(o.id, end) for end in ("A", "B")]
            yield o, sides[0], sides[1]
        for o in self.objs("connection"):
            self.at = o.where
            ends = [self.iface_end(o.obj.get(f"interface_{s}"), "dcim.interface") for s in "ab"]
            yield o, [e for e in ends[:1] if e], [e for e in ends[1:] if e]
        for o in self.objs("interface"):
            # An interface page says what each interface is cabled to: the old API in
            # ``connected_interface``, NetBox 3.3 and later in ``link_peers``. Each link is
            # seen from both ends and again on the cables page; the pairs fold them into one.
            self.at = o.where
            peers = [o.obj["connected_interface"]] if o.obj.get("connected_interface") else []
            model = stripped_text(o.obj.get("link_peers_type"))
            peers += [p for p in as_list(o.obj.get("link_peers")) if isinstance(p, dict)]
            far: list[_End] = []
            for peer in peers:
                end = self.iface_end(peer, model)
                if end is not None:
                    far.append(end)
            mine = self.iface_end(o.obj, "dcim.interface")
            if far and mine is not None:
                yield o, [mine], far

    def new_ends(self, value: object) -> list[_End]:
        ends = []
        for term in as_list(value):
            term = as_dict(term)
            model = stripped_text(term.get("object_type")) or stripped_text(
                term.get("termination_type")
            )
            end = self.iface_end(term.get("object"), model)
            if end is not None:
                ends.append(end)
        return ends

    def old_ends(self, obj: dict[str, Any], side: str) -> list[_End]:
        model = self.content_type(obj.get(f"termination_{side}_type"))
        nested = obj.get(f"termination_{side}")
        if isinstance(nested, dict):
            end = self.iface_end(nested, model)
        else:  # dumpdata before NetBox 3.3: the far end by id, the device cached beside it
            device = as_int(obj.get(f"_termination_{side}_device"))
            port = self.port(model, as_int(obj.get(f"termination_{side}_id")))
            end = self.iface_end(
                {**(port or {}), "device": device or (port or {}).get("device")}, model
            )
        return [end] if end is not None else []

    def dump_ends(self, cable: int, side: str) -> list[_End]:
        if self.terminations is None:
            # A cable's ends are entries of their own: grouped once, not searched per cable.
            self.terminations = defaultdict(list)
            for term in self.objs("termination"):
                at = (as_int(term.obj.get("cable")), scalar_text(term.obj.get("cable_end")))
                self.terminations[at].append(term.obj)
        ends = []
        for t in self.terminations.get((cable, side), []):
            model = self.content_type(t.get("termination_type"))
            port = self.port(model, as_int(t.get("termination_id"))) or {}
            device = as_int(t.get("_device")) or ref_id(port.get("device"))
            end = self.iface_end({**port, "device": device}, model)
            if end is not None:
                ends.append(end)
        return ends

    def port(self, model: str | None, ident: int | None) -> dict[str, Any] | None:
        if model == "dcim.interface":
            found = self.data.get("interface", ident)
        else:
            found = self.data.get(model or "", ident)
        return found.obj if found else None

    def iface_end(self, iface: object, model: str | None) -> _End | None:
        if not isinstance(iface, dict):
            return None
        device = self.ref("device", iface.get("device"))
        if device is None:
            return None
        return device, label_of(iface) or "?", (model or "").lower() or None


_End = tuple[Ref, str, str | None]
