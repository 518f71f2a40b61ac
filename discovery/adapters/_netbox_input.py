"""Reading NetBox exports (REST list pages, ``manage.py dumpdata``) into objects by kind.

What each object is (a device, a cable, an IP address...) and the objects themselves,
keyed by kind and NetBox id, for ``discovery.adapters.netbox`` to make records of once
every file is read: references cross files, and dumpdata's are bare primary keys.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cmdb.domain.errors import InvalidInput
from discovery.adapters._build import problem
from discovery.adapters._coerce import as_int, stripped_text
from discovery.io import json_document
from discovery.records import Item, Severity

# -- what an object is ---------------------------------------------------------------------

# REST endpoint (app.endpoint, as in the URL) and dumpdata model -> the kind read here.
_ENDPOINTS: dict[str, str] = {
    "dcim.regions": "region",
    "dcim.sites": "site",
    "dcim.locations": "location",
    "dcim.rack-groups": "location",  # what NetBox called locations before 2.11
    "dcim.racks": "rack",
    "dcim.devices": "device",
    "dcim.interfaces": "interface",
    "dcim.cables": "cable",
    "dcim.interface-connections": "connection",
    "dcim.device-roles": "role",
    "dcim.device-types": "device_type",
    "ipam.ip-addresses": "ip",
    "tenancy.tenants": "tenant",
    "virtualization.clusters": "cluster",
    "virtualization.virtual-machines": "vm",
    "virtualization.interfaces": "vminterface",
}
_MODELS: dict[str, str] = {
    "dcim.region": "region",
    "dcim.site": "site",
    "dcim.location": "location",
    "dcim.rackgroup": "location",
    "dcim.rack": "rack",
    "dcim.device": "device",
    "dcim.interface": "interface",
    "dcim.consoleport": "port",
    "dcim.consoleserverport": "port",
    "dcim.powerport": "port",
    "dcim.poweroutlet": "port",
    "dcim.frontport": "port",
    "dcim.rearport": "port",
    "dcim.cable": "cable",
    "dcim.cabletermination": "termination",
    "dcim.devicerole": "role",
    "dcim.devicetype": "device_type",
    "dcim.manufacturer": "manufacturer",
    "ipam.ipaddress": "ip",
    "tenancy.tenant": "tenant",
    "virtualization.cluster": "cluster",
    "virtualization.virtualmachine": "vm",
    "virtualization.vminterface": "vminterface",
    "contenttypes.contenttype": "content_type",
}
# File-name spellings, most specific first ("interface_connections" before "interfaces").
_FILE_NAMES: tuple[tuple[str, str], ...] = (
    ("interface_connections", "connection"),
    ("virtualization_interfaces", "vminterface"),
    ("vminterfaces", "vminterface"),
    ("virtual_machines", "vm"),
    ("ip_addresses", "ip"),
    ("device_roles", "role"),
    ("device_types", "device_type"),
    ("rack_groups", "location"),
    ("interfaces", "interface"),
    ("devices", "device"),
    ("regions", "region"),
    ("locations", "location"),
    ("sites", "site"),
    ("racks", "rack"),
    ("cables", "cable"),
    ("tenants", "tenant"),
    ("clusters", "cluster"),
)
_URL = re.compile(r"/api/([a-z_-]+)/([a-z_-]+)/\d+/?$")


def _kind_by_shape(obj: dict[str, Any]) -> str | None:
    """Which kind an object with no url, in a file named for none, has the shape of."""
    if "termination_a" in obj or "a_terminations" in obj:
        return "cable"
    if "interface_a" in obj and "interface_b" in obj:
        return "connection"
    if "device_type" in obj and ("role" in obj or "device_role" in obj):
        return "device"
    if "address" in obj and ("family" in obj or "assigned_object" in obj or "interface" in obj):
        return "ip"
    if "cluster" in obj and ("vcpus" in obj or "memory" in obj or "disk" in obj):
        return "vm"
    if "virtual_machine" in obj and "name" in obj:
        return "vminterface"
    if "device" in obj and "name" in obj:
        return "interface"
    if "u_height" in obj and "site" in obj:
        return "rack"
    return None


# -- reading the files ---------------------------------------------------------------------


@dataclass
class Obj:
    kind: str
    id: int
    obj: dict[str, Any]
    where: str


@dataclass
class Input:
    by_kind: dict[str, dict[int, Obj]] = field(default_factory=lambda: defaultdict(dict))
    content_types: dict[int, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> the listing's "count"
    listed: dict[str, str] = field(default_factory=dict)  # kind -> a file holding a page

    def get(self, kind: str, ident: int | None) -> Obj | None:
        return None if ident is None else self.by_kind[kind].get(ident)


def missing_pages(data: Input) -> Iterator[Item]:
    for kind, count in sorted(data.counts.items()):
        held = len(data.by_kind[kind])
        if held < count:
            yield problem(
                Severity.WARNING,
                data.listed[kind],
                f"NetBox lists {count} {kind} objects; the pages given hold {held}: "
                "the other pages are not in the input",
            )


def load(path: Path, data: Input) -> Iterator[Item]:
    doc = json_document(path)
    if isinstance(doc, dict) and isinstance(doc.get("results"), list) and "count" in doc:
        yield from _load_page(doc, path, data)
    elif isinstance(doc, list) and doc and all(_is_dump_entry(e) for e in doc):
        yield from _load_dump(doc, path, data)
    elif isinstance(doc, list) and not doc:
        yield problem(Severity.WARNING, str(path), "an empty dumpdata list: nothing to read")
    else:
        raise InvalidInput(
            "not a NetBox export: expected a REST list page "
            '({"count", "results": [...]}) or manage.py dumpdata JSON '
            '([{"model", "pk", "fields"}, ...])',
            where=f"{path}:{_first_fault(doc)}",
        )


def _is_dump_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("model"), str)
        and isinstance(entry.get("fields"), dict)
    )


def _first_fault(doc: object) -> str:
    """The place that shows it is not NetBox's: the top level, or the first bad entry."""
    if isinstance(doc, dict):
        return "results" if "results" in doc else "count"
    if isinstance(doc, list):
        bad = next(i for i, e in enumerate(doc) if not _is_dump_entry(e))
        return f"[{bad}]"
    return "top level"


def _load_page(doc: dict[str, Any], path: Path, data: Input) -> Iterator[Item]:
    results = doc["results"]
    count = as_int(doc.get("count"))
    by_name = _kind_by_file_name(path)
    skipped: dict[str, int] = defaultdict(int)
    for i, obj in enumerate(results):
        where = f"{path}:results[{i}]"
        if not isinstance(obj, dict):
            yield problem(Severity.ERROR, where, "a result must be an object")
            continue
        kind = _kind_by_url(obj.get("url")) or by_name or _kind_by_shape(obj)
        ident = as_int(obj.get("id"))
        if kind is None or kind == "unmodelled":
            skipped[_endpoint(obj.get("url")) or _endpoint_in_name(path)] += 1
            continue
        if ident is None:
            yield problem(Severity.ERROR, where, f"a {kind} needs an integer id")
            continue
        data.by_kind[kind][ident] = Obj(kind, ident, obj, where)
        if count is not None:
            # The listing's size: a page of it, alone, holds fewer (checked once all are read).
            data.counts[kind] = max(data.counts.get(kind, 0), count)
            data.listed[kind] = str(path)
    for what, n in skipped.items():
        yield problem(Severity.UNSUPPORTED, str(path), f"{n} object(s) of {what} not modelled")


def _endpoint(url: object) -> str | None:
    m = _URL.search(url) if isinstance(url, str) else None
    return f"{m.group(1)}.{m.group(2)}" if m else None


def _kind_by_url(url: object) -> str | None:
    endpoint = _endpoint(url)
    if endpoint is None:
        return None
    return _ENDPOINTS.get(endpoint, "unmodelled")


def _kind_by_file_name(path: Path) -> str | None:
    stem = path.stem.lower().replace("-", "_")
    for name, kind in _FILE_NAMES:
        if name in stem:
            return kind
    # prefixes, vlans, platforms, manufacturers...: named, but not read here
    return (
        "unmodelled" if re.search(r"(dcim|ipam|tenancy|virtualization|circuits)_", stem) else None
    )


def _endpoint_in_name(path: Path) -> str:
    """``dcim.manufacturers`` for ``pynetbox_dcim_manufacturers.json``; else the file's stem."""
    m = re.search(r"(dcim|ipam|tenancy|virtualization|circuits)_(\w+)$", path.stem.lower())
    return f"{m.group(1)}.{m.group(2)}" if m else path.stem


def _load_dump(doc: list[dict[str, Any]], path: Path, data: Input) -> Iterator[Item]:
    skipped: dict[str, int] = defaultdict(int)
    for i, entry in enumerate(doc):
        model = entry["model"].lower()
        kind = _MODELS.get(model)
        where = f"{path}:[{i}]"
        ident = as_int(entry.get("pk"))
        if kind is None:
            skipped[model] += 1
            continue
        if ident is None:
            yield problem(Severity.ERROR, where, f"a {model} needs an integer pk")
            continue
        fields = entry["fields"]
        if kind == "content_type":
            app, name = stripped_text(fields.get("app_label")), stripped_text(fields.get("model"))
            if app and name:
                data.content_types[ident] = f"{app}.{name}"
            continue
        obj = {**fields, "id": ident}
        # Console, power and front ports number their keys apart: kept apart by model.
        kind = model if kind == "port" else kind
        data.by_kind[kind][ident] = Obj(kind, ident, obj, where)
    for model, n in sorted(skipped.items()):
        yield problem(Severity.UNSUPPORTED, str(path), f"{n} {model} object(s) not modelled")


# -- references ----------------------------------------------------------------------------


def ref_id(value: object) -> int | None:
    """A reference: a nested object (REST) or a bare primary key (dumpdata)."""
    if isinstance(value, dict):
        return as_int(value.get("id"))
    return as_int(value)


def label_of(obj: dict[str, Any]) -> str | None:
    return (
        stripped_text(obj.get("name"))
        or stripped_text(obj.get("display"))
        or stripped_text(obj.get("display_name"))
        or stripped_text(obj.get("model"))
        or stripped_text(obj.get("slug"))
    )


def choice(value: object) -> str | None:
    """A choice field: ``{"value", "label"}`` (REST) or the bare value (dumpdata)."""
    # NetBox 4 and dumpdata give a slug ("active"); old pages a number or a boolean with a
    # label ("Active"): the label, lowered, is the slug then, so the shapes agree.
    if isinstance(value, dict):
        slug = value.get("value")
        if isinstance(slug, str) and slug:
            return slug
        label = stripped_text(value.get("label"))
        return label.lower() if label else None
    return stripped_text(value)
