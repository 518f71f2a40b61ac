"""Terraform state files (format versions 3 and 4) -> neutral discovery records.

One CI per resource *instance* (a ``count``/``for_each`` resource has several), keyed by its
resource address (``tf:module.vpc.aws_subnet.private[0]``). Edges come from two places:

* ``dependencies`` (v4) / ``depends_on`` (v3, and early v4): what Terraform itself
  recorded, confidence 1, attribute ``origin=dependencies``. ``dependencies`` are absolute
  addresses; ``depends_on`` ones are relative to the resource's module (Terraform 0.12 wrote
  ``aws_security_group.x`` inside ``module.m`` for ``module.m.aws_security_group.x``), so
  they are looked up in the module first and at the root only where the module holds no
  such resource. A named resource the state does not hold becomes a placeholder CI (flagged
  unresolved by ``collect``), at the address the reference means.
* attribute references: a value such as ``vpc_id`` that equals another instance's ``id`` or
  ``arn`` in the same state. Weaker evidence, so confidence 0.7, ``origin=inferred`` and
  ``evidence`` naming the attribute(s).

Secrets: the ``private`` blob is never read, outputs are never read, and of the attributes
only a short allow-list is kept; anything listed in ``sensitive_attributes`` or whose name
looks secret is dropped before it can reach a record, an identifier or an edge.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.adapters._coerce import as_identifier, as_list
from discovery.io import json_document
from discovery.records import (
    DiscoveredCI,
    DiscoveredRel,
    Item,
    Placeholder,
    Problem,
    Severity,
    Stat,
)

SUPPORTED_VERSIONS = (3, 4)
INFERRED_CONFIDENCE = 0.7

# -- class mapping -------------------------------------------------------------------------

_VM_TYPES = frozenset(
    {
        "aws_instance",
        "google_compute_instance",
        "vsphere_virtual_machine",
        "openstack_compute_instance_v2",
        "digitalocean_droplet",
        "hcloud_server",
        "linode_instance",
    }
)
_DB_TYPES = frozenset(
    {
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_rds_cluster_instance",
        "aws_docdb_cluster_instance",
        "aws_neptune_cluster_instance",
        "aws_redshift_cluster",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
        "google_spanner_instance",
        "digitalocean_database_cluster",
    }
)
# azurerm_sql_database, azurerm_mssql_server, google_sql_database_instance, ... but not the
# firewall rules, configurations and the like hanging off them.
_DB_PATTERN = re.compile(
    r"(sql|mysql|postgresql|mariadb|mssql|cosmosdb)_(flexible_)?(database|server|account)(_instance)?$"
)
_LB_TYPES = frozenset(
    {
        "aws_lb",
        "aws_alb",
        "aws_elb",
        "azurerm_lb",
        "azurerm_application_gateway",
        "openstack_lb_loadbalancer_v2",
        "digitalocean_loadbalancer",
        "hcloud_load_balancer",
    }
)
_VOLUME_PATTERN = re.compile(r"(_volume|_volume_v\d|_disk)$")


def classify(tf_type: str) -> str:
    """The CI class for a resource type; everything not recognised is a CloudResource."""
    if tf_type in _VM_TYPES or (
        tf_type.startswith("azurerm_") and tf_type.endswith("virtual_machine")
    ):
        return "VirtualMachine"
    if tf_type in _DB_TYPES or _DB_PATTERN.search(tf_type):
        return "Database"
    if tf_type in _LB_TYPES:
        return "LoadBalancer"
    if _VOLUME_PATTERN.search(tf_type):
        return "StorageVolume"
    return "CloudResource"


# -- secrets -------------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|secret|token|private_?key|api_?key|access_?key|credential"
    r"|connection_?string|kube_?config|client_?key|auth|_pem$|^pem$|sas_?(url|token)|^private$",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _secret_value(value: object) -> bool:
    # Key material pasted into a tag or name would otherwise pass the name check.
    return isinstance(value, str) and ("PRIVATE KEY" in value or value.startswith("-----BEGIN"))


# -- what a state holds, before it becomes records -----------------------------------------


@dataclass
class _Instance:
    key: str  # "tf:" + address: the adapter key and the ``key`` identifier
    address: str  # module.a[0].aws_instance.web["x"]
    resource: str  # the address without this instance's own index
    config: str  # the resource address with module instance keys removed too
    mode: str
    tf_type: str
    name: str
    module: str
    index: int | str | None
    provider: str
    attributes: dict[str, Any]
    flat: bool  # v3 (and v4 attributes_flat): "tags.Name" style keys, string values
    sensitive: frozenset[str]
    depends_on: list[str]  # absolute resource addresses
    relative_deps: list[str]  # early v4 ``depends_on``: relative to ``module``
    tainted: bool
    where: str


@dataclass
class _State:
    path: Path
    instances: list[_Instance] = field(default_factory=list)
    # resource addresses (both spellings) that exist but have zero instances
    empty: set[str] = field(default_factory=set)


# -- addresses -----------------------------------------------------------------------------

_SEGMENT = re.compile(r'([A-Za-z0-9_-]+)(\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\])?(\.|$)')


def _segments(address: str) -> list[tuple[str, str]] | None:
    """Split an address on dots outside brackets: ``a[0].b["x.y"]`` -> [(a,[0]), (b,["x.y"])]."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(address):
        m = _SEGMENT.match(address, pos)
        if m is None:
            return None
        out.append((m.group(1), m.group(2) or ""))
        pos = m.end()
        if m.group(3) == "" and pos < len(address):
            return None
    return out


@dataclass(frozen=True)
class _Address:
    module: str  # "module.a[0].module.b" or ""
    mode: str  # "managed" | "data" | "" (a reference to a whole module)
    tf_type: str
    name: str
    index: str  # '[0]', '["k"]' or ''

    @property
    def resource(self) -> str:
        parts = [self.module] if self.module else []
        if self.mode == "data":
            parts.append("data")
        if self.tf_type:
            parts.append(f"{self.tf_type}.{self.name}")
        return ".".join(parts)

    @property
    def config(self) -> str:
        return re.sub(r"\[[^\]]*\]", "", self.resource) if self.module else self.resource


def parse_address(address: str) -> _Address | None:
    segs = _segments(address)
    if not segs:
        return None
    module: list[str] = []
    i = 0
    while i + 1 < len(segs) and segs[i] == ("module", ""):
        module.append(f"module.{segs[i + 1][0]}{segs[i + 1][1]}")
        i += 2
    rest = segs[i:]
    mode = "managed"
    if rest and rest[0] == ("data", "") and len(rest) > 1:
        mode, rest = "data", rest[1:]
    if not rest:
        return _Address(".".join(module), "", "", "", "")
    if len(rest) != 2 or rest[0][1]:
        return None
    return _Address(".".join(module), mode, rest[0][0], rest[1][0], rest[1][1])


def _index_text(index: int | str | None) -> str:
    if index is None:
        return ""
    if isinstance(index, int):
        return f"[{index}]"
    return f"[{orjson.dumps(index).decode()}]"  # Terraform quotes string keys like JSON


def _provider_name(raw: object) -> str:
    """``provider["registry.terraform.io/hashicorp/aws"]`` or ``provider.aws.west`` -> aws."""
    text = raw if isinstance(raw, str) else ""
    quoted = re.search(r'provider\["([^"]+)"\]', text)
    if quoted:
        return quoted.group(1).rsplit("/", 1)[-1]
    plain = re.search(r"provider\.([A-Za-z0-9_-]+)", text)
    return plain.group(1) if plain else ""


def _sensitive_names(raw: object) -> frozenset[str]:
    """Top-level attribute names from ``sensitive_attributes`` paths (or plain names)."""
    names: set[str] = set()
    for path in as_list(raw):
        step = path[0] if isinstance(path, list) and path else path
        if isinstance(step, dict) and isinstance(step.get("value"), str):
            names.add(step["value"])
        elif isinstance(step, str):
            names.add(step)
    return frozenset(names)


# -- reading -------------------------------------------------------------------------------


def read(paths: Sequence[Path]) -> Iterator[Item]:
    for path in paths:
        yield from _read_file(Path(path))


def _read_file(path: Path) -> Iterator[Item]:
    doc = json_document(path)
    version = _check_version(doc, path)
    state = _State(path)
    parse = _parse_v4 if version == 4 else _parse_v3
    for item in parse(doc, state):
        if isinstance(item, _Instance):
            state.instances.append(item)
            yield _to_ci(item)
        else:
            yield item
    yield from _edges(state)


def _check_version(doc: Any, path: Path) -> int:
    if not isinstance(doc, dict) or "version" not in doc:
        raise InvalidInput("not a Terraform state: no top-level 'version'", where=str(path))
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"unsupported state version {version!r}", where=str(path))
    if version not in SUPPORTED_VERSIONS:
        raise InvalidInput(
            f"unsupported state version {version} (this reader takes versions 3 and 4; "
            "run 'terraform state pull' with Terraform >= 0.12 to upgrade)",
            where=str(path),
        )
    return version


def _bad(where: str, message: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(severity=severity, where=where, message=message)


# v4: {"resources": [{"module", "mode", "type", "name", "provider", "instances": [...]}]}


def _parse_v4(doc: dict[str, Any], state: _State) -> Iterator[_Instance | Item]:
    resources = doc.get("resources", [])
    if not isinstance(resources, list):
        raise InvalidInput("'resources' is not a list", where=str(state.path))
    for pos, res in enumerate(resources):
        where = f"{state.path}: resources[{pos}]"
        if not isinstance(res, dict):
            yield _bad(where, "a resource must be an object")
            continue
        yield from _v4_resource(res, where, state)


def _v4_resource(res: dict[str, Any], where: str, state: _State) -> Iterator[_Instance | Item]:
    mode, tf_type, name = res.get("mode", "managed"), res.get("type"), res.get("name")
    module = res.get("module") or ""
    if not (isinstance(tf_type, str) and tf_type and isinstance(name, str) and name):
        yield _bad(where, "resource without a 'type' and 'name'")
        return
    if not isinstance(module, str):
        yield _bad(where, f"module {module!r} is not a module address")
        return
    if mode not in ("managed", "data"):
        yield _bad(where, f"resource mode {mode!r} is not modelled", Severity.UNSUPPORTED)
        return
    base = _Address(module, mode, tf_type, name, "")
    where = f"{state.path}: {base.resource}"
    instances = res.get("instances")
    if not isinstance(instances, list):
        yield _bad(where, "'instances' is not a list")
        return
    if not instances:
        state.empty.update({base.resource, base.config})
        yield Stat(name="zero_instance_resources")
        return
    provider = _provider_name(res.get("provider"))
    for inst in instances:
        yield from _v4_instance(inst, base, provider, where, state)


def _v4_instance(
    inst: Any, base: _Address, provider: str, where: str, state: _State
) -> Iterator[_Instance | Item]:
    if not isinstance(inst, dict):
        yield _bad(where, "an instance must be an object")
        return
    index = inst.get("index_key")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int | str)):
        yield _bad(where, f"index_key {index!r} is neither a number nor a string")
        return
    address = base.resource + _index_text(index)
    if "deposed" in inst:
        # A deposed object is on its way out (create_before_destroy): not part of the estate.
        yield _bad(
            f"{state.path}: {address}",
            f"deposed object {inst['deposed']} not imported",
            Severity.UNSUPPORTED,
        )
        return
    flat = "attributes" not in inst and isinstance(inst.get("attributes_flat"), dict)
    attrs = inst.get("attributes_flat") if flat else inst.get("attributes")
    # Terraform 0.12 wrote module-relative ``depends_on``; later versions absolute
    # ``dependencies``; a state refreshed piecemeal by 0.12.x can carry both.
    deps = inst.get("dependencies") or []
    relative = inst.get("depends_on") or []
    if not isinstance(attrs, dict) or not isinstance(deps, list) or not isinstance(relative, list):
        yield _bad(f"{state.path}: {address}", "instance attributes or dependencies malformed")
        return
    yield _Instance(
        key=f"tf:{address}",
        address=address,
        resource=base.resource,
        config=base.config,
        mode=base.mode,
        tf_type=base.tf_type,
        name=base.name,
        module=base.module,
        index=index,
        provider=provider,
        attributes=attrs,
        flat=flat,
        sensitive=_sensitive_names(inst.get("sensitive_attributes")),
        depends_on=[d for d in deps if isinstance(d, str)],
        relative_deps=[d for d in relative if isinstance(d, str)],
        tainted=inst.get("status") == "tainted",
        where=f"{state.path}: {address}",
    )


# v3: {"modules": [{"path": ["root", "a"], "resources": {"aws_instance.web.0": {...}}}]}

_V3_KEY = re.compile(r"^(?:(data)\.)?([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)(?:\.([0-9]+))?$")


def _parse_v3(doc: dict[str, Any], state: _State) -> Iterator[_Instance | Item]:
    modules = doc.get("modules", [])
    if not isinstance(modules, list):
        raise InvalidInput("'modules' is not a list", where=str(state.path))
    for pos, mod in enumerate(modules):
        where = f"{state.path}: modules[{pos}]"
        path = mod.get("path") if isinstance(mod, dict) else None
        if not (
            isinstance(path, list)
            and path[:1] == ["root"]
            and isinstance(mod.get("resources", {}), dict)
        ):
            yield _bad(where, "a module needs a 'path' starting with 'root' and a 'resources' map")
            continue
        module = ".".join(f"module.{p}" for p in path[1:])
        if mod.get("depends_on"):
            yield _bad(where, "module-level depends_on is not modelled", Severity.UNSUPPORTED)
        for rkey, res in mod.get("resources", {}).items():
            yield from _v3_resource(rkey, res, module, state)


def _v3_resource(rkey: str, res: Any, module: str, state: _State) -> Iterator[_Instance | Item]:
    where = f"{state.path}: {module + '.' if module else ''}{rkey}"
    m = _V3_KEY.match(rkey)
    if m is None or not isinstance(res, dict):
        yield _bad(where, f"cannot read resource {rkey!r}")
        return
    mode = "data" if m.group(1) else "managed"
    index = int(m.group(4)) if m.group(4) is not None else None
    declared = res.get("type")
    tf_type = declared if isinstance(declared, str) and declared else m.group(2)
    base = _Address(module, mode, tf_type, m.group(3), "")
    address = base.resource + _index_text(index)
    where = f"{state.path}: {address}"
    deposed = res.get("deposed")
    if deposed:
        count = len(deposed) if isinstance(deposed, list) else 1
        yield _bad(where, f"{count} deposed object(s) not imported", Severity.UNSUPPORTED)
    primary = res.get("primary")
    if primary is None:
        state.empty.update({base.resource, base.config})
        yield Stat(name="zero_instance_resources")
        return
    attrs = primary.get("attributes", {}) if isinstance(primary, dict) else None
    deps = res.get("depends_on") or []
    if not isinstance(attrs, dict) or not isinstance(deps, list):
        yield _bad(where, "primary attributes or depends_on malformed")
        return
    yield _Instance(
        key=f"tf:{address}",
        address=address,
        resource=base.resource,
        config=base.config,
        mode=mode,
        tf_type=base.tf_type,
        name=base.name,
        module=module,
        index=index,
        provider=_provider_name(res.get("provider")),
        attributes=attrs,
        flat=True,
        sensitive=frozenset(),
        depends_on=[_v3_dependency(d, module) for d in deps if isinstance(d, str)],
        relative_deps=[],
        tainted=bool(primary.get("tainted")),
        where=where,
    )


def _v3_dependency(name: str, module: str) -> str:
    """v3 names are module-relative with ``.N`` / ``.*`` counts; make them v4-style absolute."""
    name = re.sub(r"\.\*$", "", name)
    name = re.sub(r"\.([0-9]+)$", r"[\1]", name)
    return f"{module}.{name}" if module else name


# -- attributes ----------------------------------------------------------------------------


def _leaves(inst: _Instance) -> Iterator[tuple[str, str, Any]]:
    """(top-level name, nearest name, scalar value) for every non-secret leaf attribute."""
    for top, value in inst.attributes.items():
        if top in inst.sensitive or looks_secret(top):
            continue
        if inst.flat:
            parts = [p for p in top.split(".") if not (p.isdigit() or p in ("#", "%"))]
            head = parts[0] if parts else top
            if head in inst.sensitive or any(looks_secret(p) for p in parts):
                continue
            yield head, parts[-1] if parts else top, value
        else:
            yield from _nested_leaves(top, top, value, 0)


def _nested_leaves(top: str, near: str, value: Any, depth: int) -> Iterator[tuple[str, str, Any]]:
    if depth > 8:  # real provider schemas are shallow; stop a pathological blob here
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and not looks_secret(k):
                yield from _nested_leaves(top, k, v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _nested_leaves(top, near, v, depth + 1)
    elif value is not None:
        yield top, near, value


# Provider attributes worth keeping on the CI: sizing, placement, naming. The rest of the
# blob is either derivable, volatile or a leak risk.
_KEEP = (
    "name",
    "instance_type",
    "machine_type",
    "vm_size",
    "size",
    "engine",
    "engine_version",
    "instance_class",
    "allocated_storage",
    "ami",
    "cidr_block",
    "availability_zone",
    "zone",
    "region",
    "location",
    "resource_group_name",
    "load_balancer_type",
    "internal",
    "dns_name",
    "private_ip",
    "public_ip",
    "private_dns",
    "public_dns",
    "arn",
)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and value != "" and not _secret_value(value)


def _tags(inst: _Instance) -> dict[str, Any]:
    if "tags" in inst.sensitive:
        return {}
    if inst.flat:
        raw = {
            k[5:]: v
            for k, v in inst.attributes.items()
            if k.startswith("tags.") and k not in ("tags.%", "tags.#")
        }
    else:
        nested = inst.attributes.get("tags")
        raw = nested if isinstance(nested, dict) else {}
    return {k: v for k, v in raw.items() if not looks_secret(str(k)) and _scalar(v)}


def _attributes(inst: _Instance) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "type": inst.tf_type,
        "mode": inst.mode,
        "address": inst.address,
    }
    if inst.provider:
        attrs["provider"] = inst.provider
    if inst.module:
        attrs["module"] = inst.module
    if inst.index is not None:
        attrs["index_key"] = inst.index
    if inst.tainted:
        attrs["tainted"] = True
    for name in ("id", *_KEEP):
        value = inst.attributes.get(name)
        if name not in inst.sensitive and _scalar(value):
            attrs["provider_id" if name == "id" else name] = value
    region = _arn_region(attrs.get("arn"))
    if region and "region" not in attrs:
        attrs["region"] = region
    tags = _tags(inst)
    if tags:
        attrs["tags"] = tags
    return attrs


def _arn_region(arn: Any) -> str | None:
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


# -- identifiers ---------------------------------------------------------------------------

# Provider ids that are unique across accounts and states. Short ids ("me", "123", a region
# name, a data source's timestamp) would wrongly merge unrelated CIs under a unique kind, so
# they stay an attribute (``provider_id``) and the ``key`` identifier does the work.
_DISTINCT_ID = re.compile(
    r"^(arn:|/subscriptions/|projects/|//|https://www\.googleapis\.com/|[a-z]{1,16}-[0-9a-f]{8,17}$)"
)
_IP_NAMES = frozenset(
    {
        "private_ip",
        "public_ip",
        "private_ip_address",
        "public_ip_address",
        "private_ip_addresses",
        "public_ip_addresses",
        "ipv4_address",
        "ipv6_address",
        "ipv6_addresses",
        "network_ip",
        "nat_ip",
        "default_ip_address",
        "access_ip_v4",
        "access_ip_v6",
    }
)
_DNS_NAMES = frozenset({"private_dns", "public_dns"})


def _stable_provider_id(value: Any) -> bool:
    # An STS assumed-role ARN names one login session, not a thing that lasts.
    return (
        isinstance(value, str)
        and bool(_DISTINCT_ID.match(value))
        and not value.startswith("arn:aws:sts::")
    )


def _identifiers(inst: _Instance, ci_class: str) -> list[Identifier]:
    found: list[Identifier | None] = [Identifier(kind=IdentifierKind.KEY, value=inst.key)]
    for name in ("id", "arn"):
        value = inst.attributes.get(name)
        if name not in inst.sensitive and _stable_provider_id(value):
            found.append(as_identifier(IdentifierKind.CLOUD_ID, value))
    if ci_class == "VirtualMachine":
        for _top, near, value in _leaves(inst):
            if near in _IP_NAMES:
                found.append(as_identifier(IdentifierKind.IP, value))
            elif near in _DNS_NAMES and isinstance(value, str) and "." in value:
                found.append(as_identifier(IdentifierKind.FQDN, value))
    return list(dict.fromkeys(i for i in found if i is not None))


def _ci_name(inst: _Instance, attrs: dict[str, Any]) -> str:
    tags = attrs.get("tags", {})
    for candidate in (tags.get("Name"), attrs.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return inst.address


def _to_ci(inst: _Instance) -> DiscoveredCI | Problem:
    ci_class = classify(inst.tf_type)
    attrs = _attributes(inst)
    try:
        return DiscoveredCI(
            key=inst.key,
            ci_class=ci_class,
            name=_ci_name(inst, attrs),
            identifiers=tuple(_identifiers(inst, ci_class)),
            attributes=attrs,
            where=inst.where,
        )
    except ValidationError as exc:
        return _bad(inst.where, f"cannot build a CI: {exc.errors()[0]['msg']}")


# -- edges ---------------------------------------------------------------------------------


@dataclass
class _Index:
    by_key: dict[str, _Instance]
    by_resource: dict[str, list[str]]
    by_config: dict[str, list[str]]
    by_value: dict[str, list[str]]  # provider id / arn -> instance keys


def _index(state: _State) -> _Index:
    idx = _Index({}, defaultdict(list), defaultdict(list), defaultdict(list))
    for inst in state.instances:
        idx.by_key[inst.key] = inst
        idx.by_resource[inst.resource].append(inst.key)
        idx.by_config[inst.config].append(inst.key)
        for name in ("id", "arn"):
            value = inst.attributes.get(name)
            if isinstance(value, str) and value and name not in inst.sensitive:
                idx.by_value[value].append(inst.key)
    return idx


def _edges(state: _State) -> Iterator[Item]:
    idx = _index(state)
    for inst in state.instances:
        explicit: set[str] = set()
        for dep, written in _named_dependencies(inst, idx, state).items():
            for item in _dependency(inst, dep, written, idx, state):
                if isinstance(item, DiscoveredRel):
                    # ``aws_x.a`` and ``aws_x.a[0]``, or both fields naming one resource,
                    # land on the same instance: one edge.
                    if item.target in explicit:
                        continue
                    explicit.add(item.target)
                yield item
        yield from _inferred(inst, idx, explicit)


def _named_dependencies(inst: _Instance, idx: _Index, state: _State) -> dict[str, str]:
    """Absolute address -> the address as the state wrote it, in the order written."""
    named = {dep: dep for dep in inst.depends_on}
    for dep in inst.relative_deps:
        named.setdefault(_in_module(dep, inst.module, idx, state), dep)
    return named


def _in_module(dep: str, module: str, idx: _Index, state: _State) -> str:
    """The absolute address of a module-relative reference: the module's resource first.

    The root is the fallback only where the module holds no such resource but the root
    does (a state some tool rewrote with absolute names); a reference neither holds means
    the module's resource, which is where its placeholder belongs.
    """
    if not module:
        return dep
    local = f"{module}.{dep}"
    if _held(local, idx, state) or not _held(dep, idx, state):
        return local
    return dep


def _held(dep: str, idx: _Index, state: _State) -> bool:
    if _resolve(dep, idx):
        return True
    addr = parse_address(dep)
    return addr is not None and (addr.resource in state.empty or addr.config in state.empty)


def _resolve(dep: str, idx: _Index) -> list[str]:
    if f"tf:{dep}" in idx.by_key:
        return [f"tf:{dep}"]
    if dep in idx.by_resource:
        return idx.by_resource[dep]
    addr = parse_address(dep)
    return idx.by_config.get(addr.config, []) if addr else []


def _dependency(
    inst: _Instance, dep: str, written: str, idx: _Index, state: _State
) -> Iterator[Item]:
    attrs = {"origin": "dependencies", "reference": written}
    targets = _resolve(dep, idx)
    if targets:
        for target in targets:
            if target != inst.key:
                yield DiscoveredRel(
                    type="DEPENDS_ON",
                    source=inst.key,
                    target=target,
                    attributes=attrs,
                    where=inst.where,
                )
        return
    addr = parse_address(dep)
    if addr is not None and (addr.resource in state.empty or addr.config in state.empty):
        yield Stat(name="dependencies_on_empty_resources")
        return
    if addr is None or not addr.tf_type:
        yield _bad(
            inst.where,
            f"dependency {written!r} names no resource; not modelled",
            Severity.UNSUPPORTED,
        )
        return
    yield DiscoveredRel(
        type="DEPENDS_ON",
        source=inst.key,
        target=f"tf:{dep}",
        attributes=attrs,
        target_placeholder=Placeholder(ci_class=classify(addr.tf_type), name=dep),
        where=inst.where,
    )


# Attribute names that hold references to other resources' ids or ARNs.
_REF_NAMES = frozenset(
    {
        "vpc_id",
        "subnet_id",
        "subnet_ids",
        "subnets",
        "security_groups",
        "vpc_security_group_ids",
        "security_group_ids",
    }
)


def _is_reference_name(name: str) -> bool:
    return name in _REF_NAMES or (name != "id" and name.endswith(("_id", "_ids", "_arn", "_arns")))


def _inferred(inst: _Instance, idx: _Index, explicit: set[str]) -> Iterator[DiscoveredRel]:
    evidence: dict[str, set[str]] = defaultdict(set)
    for _top, near, value in _leaves(inst):
        if isinstance(value, str) and value and _is_reference_name(near):
            for target in _prefer_managed(idx.by_value.get(value, []), idx):
                if target != inst.key and target not in explicit:
                    evidence[target].add(near)
    for target, names in evidence.items():
        yield DiscoveredRel(
            type="DEPENDS_ON",
            source=inst.key,
            target=target,
            confidence=INFERRED_CONFIDENCE,
            attributes={"origin": "inferred", "evidence": ",".join(sorted(names))},
            where=inst.where,
        )


def _prefer_managed(keys: Iterable[str], idx: _Index) -> list[str]:
    """A data source reading the same object as a managed resource is not what was meant."""
    keys = list(keys)
    managed = [k for k in keys if idx.by_key[k].mode == "managed"]
    return managed or keys
