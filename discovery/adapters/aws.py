"""AWS describe replies (EC2, Elastic Load Balancing classic and v2, RDS) -> records.

A file holds one reply, as the AWS CLI prints it (``aws ec2 describe-instances``) or as a
recorded reply wrapped in ``{"status_code", "data"}`` (boto/placebo recordings). Which reply
it is comes from its keys: ``Reservations``, ``Vpcs``, ``Subnets``, ``SecurityGroups``,
``LoadBalancerDescriptions`` (classic ELB), ``LoadBalancers`` (v2), ``Listeners``,
``TargetGroups``, ``TargetHealthDescriptions``, ``DBInstances``. A JSON file with none of
them is refused, naming the file.

What becomes what:

* an instance is a VirtualMachine HOSTED_ON its subnet, the subnet HOSTED_ON its VPC; VPCs,
  subnets and security groups are CloudResources; whatever uses a security group
  DEPENDS_ON it;
* a load balancer (classic or v2) is a LoadBalancer HOSTED_ON its VPC; a v2 listener is an
  ApplicationInstance that DEPENDS_ON its load balancer and the target groups it forwards to;
* a target group is a Cluster with ``redundancy.min_up = 1`` (a load balancer serves while
  one healthy member answers) that its load balancers DEPEND_ON; its *healthy* targets
  (from a target health reply) are MEMBER_OF it. A classic ELB has no target group: its
  instance list becomes the Cluster ``<name> instances``, every listed instance a member;
* an RDS DB instance is a Database HOSTED_ON its VPC.

Each CI is identified by its ARN or AWS id (``cloud_id``, what the Terraform adapter gives
the same resource), DNS names as ``fqdn``. Adapter-local keys are ``aws:{id or ARN}``. A
reference to something no file describes becomes an unresolved placeholder.

A target health reply does not say whose health it is. The target group is taken from a
``TargetGroupArn`` key beside ``TargetHealthDescriptions`` (where whoever saved the reply
kept the argument), else from the file name holding the 16-hex id of exactly one target
group the input describes or forwards to (``tg-05aed671d733ae95-health.json``); otherwise
the reply is a Problem and its targets are not linked. Health replies are read last.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.built import built
from cmdb.domain.errors import ForbiddenRelationship, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind, normalise
from cmdb.domain.relationships import check_allowed
from cmdb.store.gcpause import gc_paused
from discovery.adapters._build import Ref, problem
from discovery.adapters._coerce import (
    as_bool,
    as_dict,
    as_int,
    as_list,
    compact,
    scalar_text,
    stripped_text,
    texts,
)
from discovery.io import json_document
from discovery.records import DiscoveredCI, DiscoveredRel, Item, Severity, Stat

# A load balancer serves while one member of a target group answers its health check.
MIN_UP = 1
# Top-level keys of a reply that carry nothing for a CMDB (pagination, request metadata).
_IGNORED = frozenset({"ResponseMetadata", "NextToken", "NextMarker", "Marker"})
_TG_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])")


def key_for(ident: str) -> str:
    return f"aws:{ident}"


@dataclass
class _Run:
    """What the files read so far name: target group ARNs, for the health replies."""

    target_groups: set[str] = field(default_factory=set)
    subnet_vpc: set[tuple[str, str]] = field(default_factory=set)
    health: list[tuple[Path, Mapping[str, Any]]] = field(default_factory=list)


def read(paths: Sequence[Path]) -> Iterator[Item]:
    run = _Run()
    for path in paths:
        yield from _read_one(Path(path), run)
    for path, reply in run.health:
        yield from _target_health(reply, path, run)


def _read_one(path: Path, run: _Run) -> Iterator[Item]:
    reply = _reply(json_document(path), path)
    if reply is None:
        yield problem(Severity.ERROR, str(path), "a recorded error reply: nothing to read")
        return
    kinds = [k for k in _READERS if k in reply]
    if not kinds:
        raise InvalidInput(
            "not an AWS describe reply: it has none of the keys " + ", ".join(_READERS),
            where=str(path),
        )
    for name in reply:
        if name not in _READERS and name not in _IGNORED and name != "TargetGroupArn":
            yield problem(Severity.UNSUPPORTED, f"{path}:{name}", f"{name!r} is not read")
    for kind in kinds:
        items = reply[kind]
        if not isinstance(items, list):
            raise InvalidInput(f"{kind} must be a list", where=f"{path}:{kind}")
        if kind == "TargetHealthDescriptions":
            run.health.append((path, reply))  # after every target group is known
            continue
        # A reply's records are made with the cyclic collector paused (as discovery.io does
        # for YAML documents): they hold no cycles, and with the records already made alive
        # its passes went through all of them again and again (half the adapter's time).
        with gc_paused():
            records = _entries(items, kind, path, run)
        yield from records


def _entries(items: list[Any], kind: str, path: Path, run: _Run) -> list[Item]:
    # Into one list, as ``_guarded`` would per entry: each generator a record passed
    # through on its way out cost it a resumption, and a reply holds thousands.
    reader = _READERS[kind]
    out: list[Item] = []
    for i, entry in enumerate(items):
        where = f"{path}:{kind}[{i}]"
        if not isinstance(entry, Mapping):
            out.append(problem(Severity.ERROR, where, f"an entry of {kind} must be an object"))
            continue
        mark = len(out)
        try:
            out.extend(reader(entry, where, run))
        except (ValidationError, InvalidInput, ForbiddenRelationship) as exc:
            del out[mark:]  # none of a refused resource's records, only its problem
            out.append(problem(Severity.ERROR, where, _refused(exc)))
    return out


def _reply(doc: object, path: Path) -> Mapping[str, Any] | None:
    """The reply itself: unwrapped from a recording; None for a recorded error reply."""
    if not isinstance(doc, Mapping):
        raise InvalidInput("not an AWS describe reply (a JSON object expected)", where=str(path))
    if "status_code" in doc and "data" in doc:
        status = doc["status_code"]
        data = doc["data"]
        if not isinstance(data, Mapping):
            raise InvalidInput("data must be an object", where=f"{path}:data")
        if as_int(status) is None or not 200 <= status < 300:
            return None
        return data
    return doc


Reader = Callable[[Mapping[str, Any], str, "_Run"], Iterable[Item]]


def _guarded(reader: Reader, entry: Mapping[str, Any], where: str, run: _Run) -> Iterator[Item]:
    # One resource the model refuses (a bad id, an edge the registry forbids) is that
    # resource's problem; the rest of the reply proceeds.
    try:
        yield from list(reader(entry, where, run))
    except (ValidationError, InvalidInput, ForbiddenRelationship) as exc:
        yield problem(Severity.ERROR, where, _refused(exc))


def _refused(exc: ValidationError | InvalidInput | ForbiddenRelationship) -> str:
    return exc.message if isinstance(exc, InvalidInput) else _first_error(exc)


def _first_error(exc: ValidationError | ForbiddenRelationship) -> str:
    if isinstance(exc, ForbiddenRelationship):
        return exc.message
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


# -- shared pieces -------------------------------------------------------------------------


def as_identifier(kind: IdentifierKind, value: object) -> Identifier | None:
    """The identifier, or None where the value is not one of that kind.

    Normalised here by the domain's own ``normalise``, then built without validating it a
    second time: a reply holds several identifiers per resource, and pydantic's validation
    of each was most of the adapter's time.
    """
    if not isinstance(value, str) or not value:
        return None  # "" is how a reply says there is none (a private instance's public DNS)
    try:
        return built(Identifier, kind=kind, value=normalise(kind, value))
    except InvalidInput:
        return None


# A dotted quad without leading zeros is already what ``normalise`` would make of it, and
# ipaddress's parsing of every instance's address was the dearest step left.
_CANONICAL_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)


def _ip(value: object) -> Identifier | None:
    if isinstance(value, str) and _CANONICAL_IPV4.fullmatch(value):
        return built(Identifier, kind=IdentifierKind.IP, value=value)
    return as_identifier(IdentifierKind.IP, value)


@functools.cache
def _stat(name: str) -> Stat:
    return Stat(name=name)  # frozen: one per counter name serves every resource


def _cloud_id(value: str) -> tuple[Identifier, ...]:
    ident = as_identifier(IdentifierKind.CLOUD_ID, value)
    return (ident,) if ident else ()


@functools.lru_cache(maxsize=1 << 16)
def _ref(ident: str, ci_class: str, name: str | None = None) -> Ref:
    # Subnets, VPCs and groups are named by thousands of resources: one Ref for each.
    return Ref(key_for(ident), ci_class, name or _short(ident), _cloud_id(ident))


def _short(ident: str) -> str:
    """A readable name for an ARN: ``arn:...:targetgroup/web/05ae..`` -> ``web``."""
    if not ident.startswith("arn:"):
        return ident
    resource = ident.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) >= 3 and parts[0] in ("loadbalancer", "listener"):
        short = parts[2] if parts[1] in ("app", "net", "gwy") else parts[1]
    else:
        short = parts[1] if len(parts) > 1 else resource
    # A truncated ARN ("arn:aws:elasticloadbalancing:") has no resource part: its whole text
    # names it (a CI's name is never empty).
    return short or ident


def _tags(value: object) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in as_list(value):
        tag = as_dict(tag)
        k, v = scalar_text(tag.get("Key")), scalar_text(tag.get("Value"))
        if k is not None and v is not None:
            out[k] = v
    return out


def _time(value: object) -> str | None:
    """ISO 8601 text: the CLI prints it so; a placebo recording spells out the fields."""
    if isinstance(value, str):
        return value or None
    d = as_dict(value)
    if d.get("__class__") != "datetime":
        return None
    try:
        return datetime(
            d["year"], d["month"], d["day"], d.get("hour", 0), d.get("minute", 0),
            d.get("second", 0), d.get("microsecond", 0),
        ).isoformat()  # fmt: skip
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _ci(
    ref: Ref,
    where: str,
    attrs: dict[str, Any],
    *,
    extra_ids: Sequence[Identifier | None] = (),
    fields: dict[str, Any] | None = None,
) -> DiscoveredCI:
    ids = _unique((*ref.identifiers, *extra_ids))
    # Built without pydantic's validation, which was half the adapter's time: the class is
    # one of this module's, the fields standard ones, the key and name non-empty (a test
    # re-validates every record the adapter makes from the real replies and the benchmark's).
    return built(
        DiscoveredCI,
        key=ref.key,
        ci_class=ref.ci_class,
        name=ref.name,
        identifiers=ids,
        fields=fields or {},
        attributes=compact(attrs),
        unresolved=False,
        where=where,
    )


def _unique(ids: Sequence[Identifier | None]) -> tuple[Identifier, ...]:
    """The identifiers given, once each, in order: ``dict.fromkeys`` without hashing the
    models (pydantic's hash of a frozen model is a Python call; equal identifiers here are
    those of equal kind and value, all being built alike)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for ident in ids:
        if ident is not None:
            pair = (ident.kind, ident.value)
            if pair not in seen:
                seen.add(pair)
                out.append(ident)
    return tuple(out)


def edge(
    rtype: str, source: Ref, target: Ref, where: str, *, attributes: dict[str, Any] | None = None
) -> DiscoveredRel:
    """``_build.edge`` without pydantic's validation (see ``_ci``); the pair still checked."""
    check_allowed(rtype, source.ci_class, target.ci_class)
    return built(
        DiscoveredRel,
        type=rtype,
        source=source.key,
        target=target.key,
        confidence=1.0,
        attributes=attributes or {},
        target_placeholder=target.placeholder(),  # every field in the model's order
        source_placeholder=source.placeholder(),
        where=where,
    )


def _security_groups(user: Ref, group_ids: list[str], where: str) -> Iterator[Item]:
    for gid in dict.fromkeys(group_ids):
        yield edge("DEPENDS_ON", user, _ref(gid, "CloudResource"), where)


def _in_vpc(thing: Ref, vpc_id: str | None, where: str) -> Iterator[Item]:
    if vpc_id:
        yield edge("HOSTED_ON", thing, _ref(vpc_id, "CloudResource"), where)


def _required(entry: Mapping[str, Any], name: str) -> str:
    value = stripped_text(entry.get(name))
    if value is None:
        raise InvalidInput(f"{name} is missing", where=name)
    return value


# -- EC2 -----------------------------------------------------------------------------------


def _reservation(entry: Mapping[str, Any], where: str, run: _Run) -> list[Item]:
    owner = stripped_text(entry.get("OwnerId"))
    out: list[Item] = []
    for i, inst in enumerate(as_list(entry.get("Instances"))):
        at = f"{where}.Instances[{i}]"
        if not isinstance(inst, Mapping):
            out.append(problem(Severity.ERROR, at, "an instance must be an object"))
            continue
        # As ``_guarded`` does, in lists rather than generators: most resources of an
        # account are instances.
        try:
            out.extend(_instance(inst, at, run, owner))
        except (ValidationError, InvalidInput, ForbiddenRelationship) as exc:
            out.append(problem(Severity.ERROR, at, _refused(exc)))
    return out


def _instance(
    inst: Mapping[str, Any], where: str, run: _Run, owner: str | None = None
) -> list[Item]:
    iid = _required(inst, "InstanceId")
    tags = _tags(inst.get("Tags"))
    # Not through ``_ref``'s cache: only this instance's own record names it so.
    name = stripped_text(tags.get("Name")) or iid
    ref = Ref(key_for(iid), "VirtualMachine", name, _cloud_id(iid))
    placement = as_dict(inst.get("Placement"))
    attrs = {
        "aws_type": "instance",
        "account": owner,
        "instance_type": stripped_text(inst.get("InstanceType")),
        "image_id": stripped_text(inst.get("ImageId")),
        "state": stripped_text(as_dict(inst.get("State")).get("Name")),
        "availability_zone": stripped_text(placement.get("AvailabilityZone")),
        "private_ip": stripped_text(inst.get("PrivateIpAddress")),
        "public_ip": stripped_text(inst.get("PublicIpAddress")),
        "platform": stripped_text(inst.get("Platform")),
        "architecture": stripped_text(inst.get("Architecture")),
        "launch_time": _time(inst.get("LaunchTime")),
        "tags": tags,
    }
    extra = [
        _ip(inst.get("PrivateIpAddress")),
        _ip(inst.get("PublicIpAddress")),
        # A private DNS name repeats across VPCs and accounts; a public one does not.
        as_identifier(IdentifierKind.HOSTNAME, inst.get("PrivateDnsName")),
        as_identifier(IdentifierKind.FQDN, inst.get("PublicDnsName")),
    ]
    out: list[Item] = [_ci(ref, where, attrs, extra_ids=extra), _stat("instances")]
    subnet, vpc = stripped_text(inst.get("SubnetId")), stripped_text(inst.get("VpcId"))
    if subnet:
        subnet_ref = _ref(subnet, "CloudResource")
        out.append(edge("HOSTED_ON", ref, subnet_ref, where))
        if vpc and (subnet, vpc) not in run.subnet_vpc:
            run.subnet_vpc.add((subnet, vpc))  # said by every instance in it: once is enough
            out.extend(_in_vpc(subnet_ref, vpc, where))
    else:
        out.extend(_in_vpc(ref, vpc, where))
    groups = [as_dict(g).get("GroupId") for g in as_list(inst.get("SecurityGroups"))]
    out.extend(_security_groups(ref, texts(groups), where))
    return out


def _vpc(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    vid = _required(entry, "VpcId")
    tags = _tags(entry.get("Tags"))
    attrs = {
        "aws_type": "vpc",
        "account": stripped_text(entry.get("OwnerId")),
        "cidr_block": stripped_text(entry.get("CidrBlock")),
        "is_default": as_bool(entry.get("IsDefault")),
        "state": stripped_text(entry.get("State")),
        "tags": tags,
    }
    yield _ci(_ref(vid, "CloudResource", stripped_text(tags.get("Name")) or vid), where, attrs)
    yield _stat("vpcs")


def _subnet(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    sid = _required(entry, "SubnetId")
    tags = _tags(entry.get("Tags"))
    ref = _ref(sid, "CloudResource", stripped_text(tags.get("Name")) or sid)
    attrs = {
        "aws_type": "subnet",
        "cidr_block": stripped_text(entry.get("CidrBlock")),
        "availability_zone": stripped_text(entry.get("AvailabilityZone")),
        "available_ips": as_int(entry.get("AvailableIpAddressCount")),
        "default_for_az": as_bool(entry.get("DefaultForAz")),
        "state": stripped_text(entry.get("State")),
        "tags": tags,
    }
    extra = [as_identifier(IdentifierKind.CLOUD_ID, entry.get("SubnetArn"))]
    yield _ci(ref, where, attrs, extra_ids=extra)
    yield _stat("subnets")
    yield from _in_vpc(ref, stripped_text(entry.get("VpcId")), where)


def _security_group(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    gid = _required(entry, "GroupId")
    ref = _ref(gid, "CloudResource", stripped_text(entry.get("GroupName")) or gid)
    attrs = {
        "aws_type": "security_group",
        "account": stripped_text(entry.get("OwnerId")),
        "description": stripped_text(entry.get("Description")),
        "ingress": _rules(entry.get("IpPermissions")),
        "egress": _rules(entry.get("IpPermissionsEgress")),
        "tags": _tags(entry.get("Tags")),
    }
    yield _ci(ref, where, attrs)
    yield _stat("security_groups")
    yield from _in_vpc(ref, stripped_text(entry.get("VpcId")), where)


def _rules(value: object) -> list[str]:
    """``tcp:22 0.0.0.0/0`` per source of each rule: what an auditor reads."""
    out: list[str] = []
    for perm in as_list(value):
        perm = as_dict(perm)
        proto = scalar_text(perm.get("IpProtocol")) or "?"
        lo, hi = scalar_text(perm.get("FromPort")), scalar_text(perm.get("ToPort"))
        ports = "all" if proto == "-1" else (lo if lo == hi else f"{lo}-{hi}")
        label = "all" if proto == "-1" else f"{proto}:{ports}"
        sources = [as_dict(r).get("CidrIp") for r in as_list(perm.get("IpRanges"))]
        sources += [as_dict(r).get("CidrIpv6") for r in as_list(perm.get("Ipv6Ranges"))]
        sources += [as_dict(p).get("GroupId") for p in as_list(perm.get("UserIdGroupPairs"))]
        sources += [as_dict(p).get("PrefixListId") for p in as_list(perm.get("PrefixListIds"))]
        out += [f"{label} {s}" for s in texts(sources)]
    return out


# -- Elastic Load Balancing ----------------------------------------------------------------


def _classic_lb(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    name = _required(entry, "LoadBalancerName")
    dns = stripped_text(entry.get("DNSName"))
    # A classic ELB has no ARN in its reply; its DNS name is unique, its name per region.
    lb = Ref(key_for(f"elb:{dns or name}"), "LoadBalancer", name)
    listeners = [as_dict(d).get("Listener") for d in as_list(entry.get("ListenerDescriptions"))]
    attrs = {
        "aws_type": "classic_load_balancer",
        "scheme": stripped_text(entry.get("Scheme")),
        "dns_name": dns,
        "availability_zones": texts(entry.get("AvailabilityZones")),
        "subnets": texts(entry.get("Subnets")),
        "listeners": [_classic_listener(as_dict(lis)) for lis in listeners if lis],
        "health_check": stripped_text(as_dict(entry.get("HealthCheck")).get("Target")),
        "created": _time(entry.get("CreatedTime")),
    }
    ids = [
        as_identifier(IdentifierKind.FQDN, dns),
        Identifier(kind=IdentifierKind.KEY, value=lb.key),
    ]
    yield _ci(lb, where, attrs, extra_ids=ids)
    yield _stat("load_balancers")
    pool_key = f"{lb.key}#instances"
    pool = Ref(pool_key, "Cluster", f"{name} instances")
    yield DiscoveredCI(
        key=pool_key,
        ci_class="Cluster",
        name=pool.name,
        identifiers=(Identifier(kind=IdentifierKind.KEY, value=pool_key),),
        fields={"redundancy": {"min_up": MIN_UP}},
        attributes={"aws_type": "classic_load_balancer_instances", "load_balancer": name},
        where=where,
    )
    yield edge("DEPENDS_ON", lb, pool, where)
    for iid in texts([as_dict(i).get("InstanceId") for i in as_list(entry.get("Instances"))]):
        yield edge("MEMBER_OF", _ref(iid, "VirtualMachine"), pool, where)
        yield _stat("load_balancer_members")
    yield from _in_vpc(lb, stripped_text(entry.get("VPCId")), where)
    yield from _security_groups(lb, texts(entry.get("SecurityGroups")), where)


def _classic_listener(lis: Mapping[str, Any]) -> str:
    front = f"{scalar_text(lis.get('Protocol'))}:{scalar_text(lis.get('LoadBalancerPort'))}"
    back = f"{scalar_text(lis.get('InstanceProtocol'))}:{scalar_text(lis.get('InstancePort'))}"
    return f"{front}->{back}"


def _load_balancer(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    arn = _required(entry, "LoadBalancerArn")
    ref = _ref(arn, "LoadBalancer", stripped_text(entry.get("LoadBalancerName")) or _short(arn))
    zones = [as_dict(z) for z in as_list(entry.get("AvailabilityZones"))]
    dns = stripped_text(entry.get("DNSName"))
    attrs = {
        "aws_type": "load_balancer",
        "type": stripped_text(entry.get("Type")),
        "scheme": stripped_text(entry.get("Scheme")),
        "state": stripped_text(as_dict(entry.get("State")).get("Code")),
        "dns_name": dns,
        "availability_zones": texts([z.get("ZoneName") for z in zones]),
        "subnets": texts([z.get("SubnetId") for z in zones]),
        "created": _time(entry.get("CreatedTime")),
    }
    yield _ci(ref, where, attrs, extra_ids=[as_identifier(IdentifierKind.FQDN, dns)])
    yield _stat("load_balancers")
    yield from _in_vpc(ref, stripped_text(entry.get("VpcId")), where)
    yield from _security_groups(ref, texts(entry.get("SecurityGroups")), where)


def _listener(entry: Mapping[str, Any], where: str, run: _Run) -> Iterator[Item]:
    arn = _required(entry, "ListenerArn")
    port = as_int(entry.get("Port"))
    lb_arn = stripped_text(entry.get("LoadBalancerArn"))
    lb_name = _short(lb_arn) if lb_arn else _short(arn)
    ref = _ref(arn, "ApplicationInstance", f"{lb_name}:{port}" if port else _short(arn))
    attrs = {
        "aws_type": "listener",
        "port": port,
        "protocol": stripped_text(entry.get("Protocol")),
    }
    yield _ci(ref, where, attrs)
    yield _stat("listeners")
    lb = _ref(lb_arn, "LoadBalancer") if lb_arn else None
    if lb is not None:
        yield edge("DEPENDS_ON", ref, lb, where)
    for tg_arn in _forwarded_to(entry.get("DefaultActions")):
        run.target_groups.add(tg_arn)  # a health reply may be named after it
        tg = _ref(tg_arn, "Cluster")
        yield edge("DEPENDS_ON", ref, tg, where)
        if lb is not None:
            yield edge("DEPENDS_ON", lb, tg, where)


def _forwarded_to(actions: object) -> list[str]:
    arns: list[str | None] = []
    for action in as_list(actions):
        action = as_dict(action)
        arns.append(stripped_text(action.get("TargetGroupArn")))
        config = as_dict(action.get("ForwardConfig"))
        arns += [
            stripped_text(as_dict(t).get("TargetGroupArn"))
            for t in as_list(config.get("TargetGroups"))
        ]
    return list(dict.fromkeys(a for a in arns if a))


def _target_group(entry: Mapping[str, Any], where: str, run: _Run) -> Iterator[Item]:
    arn = _required(entry, "TargetGroupArn")
    name = stripped_text(entry.get("TargetGroupName")) or _short(arn)
    attrs = {
        "aws_type": "target_group",
        "protocol": stripped_text(entry.get("Protocol")),
        "port": as_int(entry.get("Port")),
        "target_type": stripped_text(entry.get("TargetType")),
        "vpc_id": stripped_text(entry.get("VpcId")),
        "health_check": stripped_text(entry.get("HealthCheckPath")),
    }
    ref = _ref(arn, "Cluster", name)
    yield _ci(ref, where, attrs, fields={"redundancy": {"min_up": MIN_UP}})
    run.target_groups.add(arn)
    yield _stat("target_groups")
    for lb_arn in texts(entry.get("LoadBalancerArns")):
        yield edge("DEPENDS_ON", _ref(lb_arn, "LoadBalancer"), ref, where)


def _target_health(reply: Mapping[str, Any], path: Path, run: _Run) -> Iterator[Item]:
    descriptions = reply["TargetHealthDescriptions"]
    tg_arn = stripped_text(reply.get("TargetGroupArn")) or _group_from_name(path, run)
    if tg_arn is None:
        yield problem(
            Severity.WARNING,
            f"{path}:TargetHealthDescriptions",
            f"a target health reply does not name its target group, and the file name holds "
            f"the id of no single target group described in the input: its "
            f"{len(descriptions)} target(s) are not linked to any load balancer",
        )
        return
    tg = _ref(tg_arn, "Cluster")
    for i, desc in enumerate(descriptions):
        yield from _guarded(
            _target, {"desc": desc, "tg": tg}, f"{path}:TargetHealthDescriptions[{i}]", run
        )


def _target(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    desc, tg = as_dict(entry["desc"]), entry["tg"]
    target = as_dict(desc.get("Target"))
    tid = _required(target, "Id")
    state = stripped_text(as_dict(desc.get("TargetHealth")).get("State")) or "unknown"
    if state != "healthy":
        # Only a healthy target takes traffic: the others are no slack for the group.
        yield _stat("targets_not_healthy")
        return
    if tid.startswith("i-"):
        member = _ref(tid, "VirtualMachine")
    elif tid.startswith("arn:"):
        member = _ref(tid, "CloudResource")  # a Lambda function
    else:
        yield problem(Severity.UNSUPPORTED, where, f"an IP target ({tid}) names no resource")
        return
    attrs = compact({"port": as_int(target.get("Port")), "health": state})
    yield edge("MEMBER_OF", member, tg, where, attributes=attrs)
    yield _stat("targets_healthy")


def _group_from_name(path: Path, run: _Run) -> str | None:
    ids = set(_TG_ID.findall(path.name))
    found = [arn for arn in run.target_groups if arn.rsplit("/", 1)[-1] in ids]
    return found[0] if len(found) == 1 else None


# -- RDS -----------------------------------------------------------------------------------


def _db_instance(entry: Mapping[str, Any], where: str, _run: _Run) -> Iterator[Item]:
    arn = _required(entry, "DBInstanceArn")
    ref = _ref(arn, "Database", stripped_text(entry.get("DBInstanceIdentifier")) or _short(arn))
    endpoint = as_dict(entry.get("Endpoint"))
    group = as_dict(entry.get("DBSubnetGroup"))
    subnets = [as_dict(s).get("SubnetIdentifier") for s in as_list(group.get("Subnets"))]
    attrs = {
        "aws_type": "db_instance",
        "engine": stripped_text(entry.get("Engine")),
        "db_instance_class": stripped_text(entry.get("DBInstanceClass")),
        "status": stripped_text(entry.get("DBInstanceStatus")),
        "multi_az": as_bool(entry.get("MultiAZ")),
        "availability_zone": stripped_text(entry.get("AvailabilityZone")),
        "allocated_storage_gb": as_int(entry.get("AllocatedStorage")),
        "storage_type": stripped_text(entry.get("StorageType")),
        "publicly_accessible": as_bool(entry.get("PubliclyAccessible")),
        "db_name": stripped_text(entry.get("DBName")),
        "port": as_int(endpoint.get("Port")),
        "subnets": texts(subnets),
        "resource_id": stripped_text(entry.get("DbiResourceId")),
        "read_replica_of": stripped_text(entry.get("ReadReplicaSourceDBInstanceIdentifier")),
        "created": _time(entry.get("InstanceCreateTime")),
    }
    version = stripped_text(entry.get("EngineVersion"))
    yield _ci(
        ref,
        where,
        attrs,
        extra_ids=[as_identifier(IdentifierKind.FQDN, endpoint.get("Address"))],
        fields={"version": version} if version else None,
    )
    yield _stat("db_instances")
    yield from _in_vpc(ref, stripped_text(group.get("VpcId")), where)
    groups = [as_dict(g).get("VpcSecurityGroupId") for g in as_list(entry.get("VpcSecurityGroups"))]
    yield from _security_groups(ref, texts(groups), where)


_READERS: dict[str, Reader] = {
    "Reservations": _reservation,
    "Vpcs": _vpc,
    "Subnets": _subnet,
    "SecurityGroups": _security_group,
    "LoadBalancerDescriptions": _classic_lb,
    "LoadBalancers": _load_balancer,
    "Listeners": _listener,
    "TargetGroups": _target_group,
    "TargetHealthDescriptions": _target,  # read last, by _target_health
    "DBInstances": _db_instance,
}
