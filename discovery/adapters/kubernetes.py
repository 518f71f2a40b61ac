"""Kubernetes manifests and ``kubectl get -o yaml|json`` dumps -> neutral records.

Reads multi-document YAML, ``kind: List`` dumps (and the API's ``PodList``-style kinds) and
JSON. Each object becomes a CI as its document is read, with the edges its own text settles:
its namespace and owners, the claims, ConfigMaps and Secrets its pods use, and the Services
its env values name. Every such target is given as a placeholder too, so one the input never
defines becomes an unresolved CI instead of a crash. Two kinds of edge need the whole input
and come after the last file:

* Service -> workload by label selector: the Service and what it selects come in any order,
  and whether a ReplicaSet counts depends on whether the Deployment owning it is present;
* env values of the two-label ``svc.ns`` form: ``api.example`` names a Service only if
  ``example`` is a namespace of the input; otherwise it is most likely a public DNS name.

Only scalars at known places are copied out of an object. That keeps Secret and ConfigMap
data and ``last-applied-configuration`` annotations out of the records by construction, and a
document built from nested YAML aliases (which expand exponentially when walked) is never
walked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cmdb.domain.errors import CmdbError, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.adapters._build import Ref, edge
from discovery.adapters._coerce import (
    as_dict,
    as_int,
    as_list,
    as_text,
    compact,
    scalar_text,
    str_map,
    texts,
)
from discovery.io import json_document, yaml_documents
from discovery.records import (
    DiscoveredCI,
    Item,
    Problem,
    Severity,
    Stat,
)

# What kubectl applies a manifest without ``metadata.namespace`` into, unless told otherwise.
DEFAULT_NAMESPACE = "default"
# An env value naming a Service is strong evidence of a call, but not proof of one.
ENV_CONFIDENCE = 0.8
# A StatefulSet makes one claim per replica and template; a typo'd replica count must not
# make the adapter emit millions of CIs.
MAX_TEMPLATE_CLAIMS = 1_000

WORKLOAD_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
)
# Kinds whose objects have no namespace (only those this module makes keys for).
_CLUSTER_SCOPED = frozenset({"Namespace", "PersistentVolume", "Node"})

# Env var names whose whole value may be a bare host name (``REDIS_HOST=redis``).
_HOST_VAR = re.compile(r"_(ADDR|ADDRESS|HOST|HOSTNAME|URL|URI)$")
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Service names are DNS-1035 labels: they start with a letter, so an IP address never matches.
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_NOT_SERVICES = frozenset({"localhost"})

_STATUS_COUNTERS = (
    "replicas",
    "readyReplicas",
    "availableReplicas",
    "updatedReplicas",
    "currentReplicas",
    "desiredNumberScheduled",
    "currentNumberScheduled",
    "numberReady",
    "numberAvailable",
    "active",
    "succeeded",
    "failed",
)


# --- keys and references ----------------------------------------------------------------------


def object_key(cluster: str, kind: str, name: str, namespace: str | None = None) -> str:
    """``k8s:{cluster}/{namespace}/{Kind}/{name}``; cluster-scoped kinds have no namespace part."""
    if namespace is None:
        return f"k8s:{cluster}/{kind}/{name}"
    return f"k8s:{cluster}/{namespace}/{kind}/{name}"


# --- env values that name a Service ------------------------------------------------------------


def hosts_in_env(var: str, value: str) -> list[str]:
    """Host names in an env value: URLs and ``host:port`` anywhere, bare names in ``*_HOST``-like
    vars. Comma or space separated lists (broker lists) are read item by item."""
    bare_ok = bool(_HOST_VAR.search(var.upper()))
    hosts: list[str] = []
    for token in re.split(r"[\s,;]+", value.strip()):
        host = _host_of(token, bare_ok=bare_ok)
        if host:
            hosts.append(host.lower().rstrip("."))
    return hosts


def _host_of(token: str, *, bare_ok: bool) -> str | None:
    if not token:
        return None
    if "://" in token:
        try:
            return urlsplit(token).hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            return None
    match = _HOST_PORT.match(token)
    if match:
        return match["host"]
    return token if bare_ok else None


def service_of(host: str) -> tuple[str, str | None, bool] | None:
    """(service, namespace or None for "the workload's own", certain) for a host naming a
    Service: ``svc``, ``svc.ns`` (uncertain), ``svc.ns.svc``, ``svc.ns.svc.<cluster domain>``,
    and ``pod.svc.ns.svc...`` (one pod of a headless Service, a StatefulSet member)."""
    labels = host.split(".")
    if not all(_DNS_LABEL.match(label) for label in labels):
        return None
    found: tuple[str, str | None, bool] | None = None
    if len(labels) == 1:
        found = (labels[0], None, True)
    elif len(labels) == 2:
        found = (labels[0], labels[1], False)
    elif labels[2] == "svc":
        found = (labels[0], labels[1], True)
    elif len(labels) >= 4 and labels[3] == "svc":
        found = (labels[1], labels[2], True)
    if found is None or not _SERVICE_NAME.match(found[0]) or found[0] in _NOT_SERVICES:
        return None
    return found


# --- one object -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Selectable:
    """A workload or Pod a Service selector may pick."""

    ref: Ref
    namespace: str
    labels: dict[str, str]
    owners: tuple[str, ...]


@dataclass(frozen=True)
class _Selector:
    ref: Ref
    namespace: str
    selector: dict[str, str]
    where: str


@dataclass(frozen=True)
class _PendingEnv:
    source: Ref
    service: str
    namespace: str
    evidence: str
    where: str


@dataclass
class _Entity:
    """One object being turned into records; nothing reaches the run until it all succeeded."""

    obj: dict[str, Any]
    cluster: str
    kind: str
    name: str
    namespace: str | None
    where: str
    items: list[Item] = field(default_factory=list)
    selectables: list[_Selectable] = field(default_factory=list)
    selectors: list[_Selector] = field(default_factory=list)
    pending: list[_PendingEnv] = field(default_factory=list)
    # Set by ``ci``: the class edges give this object, so they pass the registry's check.
    ci_class: str = "CloudResource"

    @property
    def metadata(self) -> dict[str, Any]:
        return as_dict(self.obj.get("metadata"))

    @property
    def spec(self) -> dict[str, Any]:
        return as_dict(self.obj.get("spec"))

    @property
    def ns(self) -> str:
        return self.namespace or DEFAULT_NAMESPACE

    @property
    def key(self) -> str:
        return object_key(self.cluster, self.kind, self.name, self.namespace)

    @property
    def ref(self) -> Ref:
        return Ref(self.key, self.ci_class, self.name)

    def ci(self, ci_class: str, attributes: dict[str, Any]) -> None:
        self.ci_class = ci_class
        identifiers = [Identifier(kind=IdentifierKind.KEY, value=self.key)]
        uid = as_text(self.metadata.get("uid"))
        if uid:
            identifiers.append(Identifier(kind=IdentifierKind.K8S_UID, value=uid))
        base = {"kind": self.kind, "namespace": self.namespace, "cluster": self.cluster}
        self.items.append(
            DiscoveredCI(
                key=self.key,
                ci_class=ci_class,
                name=self.name,
                identifiers=tuple(identifiers),
                attributes=compact({**base, **attributes}),
                where=self.where,
            )
        )

    def local(self, kind: str, name: str, ci_class: str) -> Ref:
        """A reference to an object of this one's namespace."""
        return Ref(object_key(self.cluster, kind, name, self.ns), ci_class, name)

    def add(self, rtype: str, source: Ref, target: Ref, **kw: Any) -> None:
        self.items.append(edge(rtype, source, target, self.where, **kw))

    def problem(self, severity: Severity, message: str) -> None:
        self.items.append(
            Problem(severity=severity, where=self.where, message=f"{self.label}: {message}")
        )

    @property
    def label(self) -> str:
        place = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {place}{self.name}"


def _entity(obj: dict[str, Any], cluster: str, where: str) -> _Entity:
    """The object's identity; ValueError names what is missing."""
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ValueError("an object without kind")
    meta = as_dict(obj.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        if as_text(meta.get("generateName")):
            raise _Unsupported(f"{kind} has only generateName: its name exists once created")
        raise ValueError(f"{kind} has no metadata.name")
    namespace: str | None = None
    if kind not in _CLUSTER_SCOPED:
        given = meta.get("namespace")
        if given is not None and not as_text(given):
            raise ValueError(f"{kind} {name}: metadata.namespace is not a name")
        namespace = as_text(given) or DEFAULT_NAMESPACE
    for part in (name, namespace or ""):
        if "/" in part:
            raise ValueError(f"{part!r} is not a Kubernetes name ('/' would make keys ambiguous)")
    return _Entity(obj=obj, cluster=cluster, kind=kind, name=name, namespace=namespace, where=where)


class _Unsupported(Exception):
    """An object the adapter deliberately does not model."""


# --- pod specs: what a workload or Pod uses -------------------------------------------------


def _pod_template(kind: str, obj: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(labels of the pods it makes, their pod spec)."""
    spec = as_dict(obj.get("spec"))
    if kind == "Pod":
        return str_map(as_dict(obj.get("metadata")).get("labels")), spec
    if kind == "CronJob":
        spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    template = as_dict(spec.get("template"))
    return str_map(as_dict(template.get("metadata")).get("labels")), as_dict(template.get("spec"))


def _containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for section in ("initContainers", "containers", "ephemeralContainers"):
        out.extend(c for c in as_list(pod_spec.get(section)) if isinstance(c, dict))
    return out


def _images(pod_spec: dict[str, Any]) -> list[str]:
    images = (as_text(c.get("image")) for c in _containers(pod_spec))
    return list(dict.fromkeys(i for i in images if i))


def _uses(e: _Entity, kind: str, name: object, via: str) -> None:
    """The object depends on a ConfigMap or Secret, by name only: never its data."""
    if isinstance(name, str) and name:
        target = e.local(kind, name, "CloudResource")
        e.add("DEPENDS_ON", e.ref, target, attributes={"via": via})


def _volume_deps(e: _Entity, volume: dict[str, Any]) -> None:
    claim = as_text(as_dict(volume.get("persistentVolumeClaim")).get("claimName"))
    if claim:
        target = e.local("PersistentVolumeClaim", claim, "StorageVolume")
        e.add("DEPENDS_ON", e.ref, target, attributes={"via": "volume"})
    _uses(e, "ConfigMap", as_dict(volume.get("configMap")).get("name"), "volume")
    _uses(e, "Secret", as_dict(volume.get("secret")).get("secretName"), "volume")
    for source in as_list(as_dict(volume.get("projected")).get("sources")):
        _uses(e, "ConfigMap", as_dict(as_dict(source).get("configMap")).get("name"), "volume")
        _uses(e, "Secret", as_dict(as_dict(source).get("secret")).get("name"), "volume")


def _container_deps(e: _Entity, container: dict[str, Any]) -> None:
    for env in as_list(container.get("env")):
        env = as_dict(env)
        source = as_dict(env.get("valueFrom"))
        _uses(e, "ConfigMap", as_dict(source.get("configMapKeyRef")).get("name"), "env")
        _uses(e, "Secret", as_dict(source.get("secretKeyRef")).get("name"), "env")
        var, value = as_text(env.get("name")), env.get("value")
        if var and isinstance(value, str):
            _env_service_deps(e, var, value)
    for env_from in as_list(container.get("envFrom")):
        _uses(e, "ConfigMap", as_dict(as_dict(env_from).get("configMapRef")).get("name"), "envFrom")
        _uses(e, "Secret", as_dict(as_dict(env_from).get("secretRef")).get("name"), "envFrom")


def _env_service_deps(e: _Entity, var: str, value: str) -> None:
    for host in hosts_in_env(var, value):
        found = service_of(host)
        if found is None:
            continue
        service, namespace, certain = found
        if not certain and namespace is not None:
            e.pending.append(_PendingEnv(e.ref, service, namespace, var, e.where))
            continue
        target = _service_ref(e.cluster, service, namespace or e.ns)
        e.add(
            "DEPENDS_ON",
            e.ref,
            target,
            confidence=ENV_CONFIDENCE,
            attributes={"evidence": var},
        )


def _service_ref(cluster: str, name: str, namespace: str) -> Ref:
    return Ref(object_key(cluster, "Service", name, namespace), "LoadBalancer", name)


def _pod_spec_deps(e: _Entity, pod_spec: dict[str, Any]) -> None:
    for volume in as_list(pod_spec.get("volumes")):
        _volume_deps(e, as_dict(volume))
    for container in _containers(pod_spec):
        _container_deps(e, container)
    for secret in as_list(pod_spec.get("imagePullSecrets")):
        _uses(e, "Secret", as_dict(secret).get("name"), "imagePullSecrets")


# --- status and other attributes ------------------------------------------------------------


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    """A summary of ``status``: counters, phase, condition states and IPs. Timestamps and
    generations are left out: they change on every poll and would make every run an update."""
    status = as_dict(obj.get("status"))
    out: dict[str, Any] = {}
    for name in _STATUS_COUNTERS:
        count = as_int(status.get(name))
        if count is not None:
            out[name] = count
    conditions: dict[str, str] = {}
    for cond in as_list(status.get("conditions")):
        cond = as_dict(cond)
        ctype, cstate = as_text(cond.get("type")), as_text(cond.get("status"))
        if ctype and cstate:
            conditions[ctype] = cstate
    ips = [as_text(as_dict(i).get("ip")) for i in as_list(status.get("podIPs"))] or [
        as_text(status.get("podIP"))
    ]
    out.update(
        phase=as_text(status.get("phase")),
        conditions=conditions,
        pod_ips=[ip for ip in ips if ip],
        host_ip=as_text(status.get("hostIP")),
    )
    return compact(out)


def _claim_attrs(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "storage_class": as_text(spec.get("storageClassName")),
        "access_modes": texts(spec.get("accessModes")),
        "volume_mode": as_text(spec.get("volumeMode")),
        "requested_storage": scalar_text(
            as_dict(as_dict(spec.get("resources")).get("requests")).get("storage")
        ),
    }


def _service_ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    ports = []
    for port in as_list(spec.get("ports")):
        fields = {
            k: scalar_text(as_dict(port).get(k))
            for k in ("name", "protocol", "port", "targetPort", "nodePort")
        }
        ports.append(compact(fields))
    return [p for p in ports if p]


def _lb_addresses(obj: dict[str, Any]) -> list[str]:
    ingress = as_list(as_dict(as_dict(obj.get("status")).get("loadBalancer")).get("ingress"))
    found = (as_text(as_dict(i).get("ip")) or as_text(as_dict(i).get("hostname")) for i in ingress)
    return [a for a in found if a]


# --- one handler per modelled kind -----------------------------------------------------------


def _namespace(e: _Entity) -> None:
    e.ci("CloudResource", {"labels": str_map(e.metadata.get("labels")), "status": _status(e.obj)})


def _workload(e: _Entity) -> None:
    pod_labels, pod_spec = _pod_template(e.kind, e.obj)
    spec = e.spec
    e.ci(
        "KubernetesWorkload",
        {
            "replicas": as_int(spec.get("replicas")),
            "images": _images(pod_spec),
            "labels": str_map(e.metadata.get("labels")),
            "schedule": as_text(spec.get("schedule")),
            "status": _status(e.obj),
        },
    )
    _pod_spec_deps(e, pod_spec)
    _claim_templates(e, spec)
    e.selectables.append(_Selectable(e.ref, e.ns, pod_labels, _owner_keys(e)))


def _claim_templates(e: _Entity, spec: dict[str, Any]) -> None:
    """A StatefulSet's claims are named ``{template}-{set}-{ordinal}``: emit those, so they
    match the real claims of a dump that has them."""
    templates = [as_dict(t) for t in as_list(spec.get("volumeClaimTemplates"))]
    if not templates:
        return
    replicas = as_int(spec.get("replicas"))
    count = 1 if replicas is None else max(replicas, 0)
    if count > MAX_TEMPLATE_CLAIMS:
        e.problem(Severity.WARNING, f"{count} replicas: claims listed for {MAX_TEMPLATE_CLAIMS}")
        count = MAX_TEMPLATE_CLAIMS
    for template in templates:
        tname = as_text(as_dict(template.get("metadata")).get("name"))
        if not tname:
            e.problem(Severity.ERROR, "a volumeClaimTemplate has no metadata.name")
            continue
        for ordinal in range(count):
            _template_claim(e, template, f"{tname}-{e.name}-{ordinal}")


def _template_claim(e: _Entity, template: dict[str, Any], claim: str) -> None:
    target = e.local("PersistentVolumeClaim", claim, "StorageVolume")
    attrs = {
        "kind": "PersistentVolumeClaim",
        "namespace": e.ns,
        "cluster": e.cluster,
        "template_of": e.name,
        **_claim_attrs(as_dict(template.get("spec"))),
    }
    e.items.append(
        DiscoveredCI(
            key=target.key,
            ci_class="StorageVolume",
            name=claim,
            identifiers=(Identifier(kind=IdentifierKind.KEY, value=target.key),),
            attributes=compact(attrs),
            where=e.where,
        )
    )
    e.add("DEPENDS_ON", e.ref, target, attributes={"via": "volumeClaimTemplates"})
    e.add("CONTAINS", _namespace_ref(e.cluster, e.ns), target)


def _pod(e: _Entity) -> None:
    labels = str_map(e.metadata.get("labels"))
    spec = e.spec
    e.ci(
        "Pod",
        {
            "images": _images(spec),
            "labels": labels,
            "node": as_text(spec.get("nodeName")),
            "status": _status(e.obj),
        },
    )
    _pod_spec_deps(e, spec)
    e.selectables.append(_Selectable(e.ref, e.ns, labels, _owner_keys(e)))


def _service(e: _Entity) -> None:
    spec = e.spec
    stype = as_text(spec.get("type")) or "ClusterIP"
    selector = str_map(spec.get("selector"))
    e.ci(
        "LoadBalancer",
        {
            "type": stype,
            "ports": _service_ports(spec),
            "selector": selector,
            "labels": str_map(e.metadata.get("labels")),
            "cluster_ip": as_text(spec.get("clusterIP")),
            "external_name": as_text(spec.get("externalName")),
            "addresses": _lb_addresses(e.obj),
        },
    )
    # An ExternalName Service is a DNS alias: Kubernetes ignores its selector.
    if selector and stype != "ExternalName":
        e.selectors.append(_Selector(e.ref, e.ns, selector, e.where))


def _ingress(e: _Entity) -> None:
    spec = e.spec
    rules = [as_dict(r) for r in as_list(spec.get("rules"))]
    hosts = [h for h in (as_text(r.get("host")) for r in rules) if h]
    annotations = as_dict(e.metadata.get("annotations"))
    e.ci(
        "LoadBalancer",
        {
            "ingress_class": as_text(spec.get("ingressClassName"))
            or as_text(annotations.get("kubernetes.io/ingress.class")),
            "hosts": list(dict.fromkeys(hosts)),
            "labels": str_map(e.metadata.get("labels")),
            "addresses": _lb_addresses(e.obj),
        },
    )
    backends = [as_dict(spec.get("defaultBackend")), as_dict(spec.get("backend"))]
    for rule in rules:
        paths = as_list(as_dict(rule.get("http")).get("paths"))
        backends.extend(as_dict(as_dict(p).get("backend")) for p in paths)
    for backend in backends:
        _ingress_backend(e, backend)
    for tls in as_list(spec.get("tls")):
        _uses(e, "Secret", as_dict(tls).get("secretName"), "tls")


def _ingress_backend(e: _Entity, backend: dict[str, Any]) -> None:
    # networking.k8s.io/v1 says service.name; v1beta1 said serviceName.
    service = as_dict(backend.get("service"))
    name = as_text(service.get("name")) or as_text(backend.get("serviceName"))
    if name:
        e.add("DEPENDS_ON", e.ref, _service_ref(e.cluster, name, e.ns))
    elif backend.get("resource") is not None:
        e.problem(Severity.UNSUPPORTED, "a resource backend (not a Service) is not modelled")


def _claim(e: _Entity) -> None:
    spec = e.spec
    volume = as_text(spec.get("volumeName"))
    e.ci(
        "StorageVolume",
        {**_claim_attrs(spec), "volume_name": volume, "status": _status(e.obj)},
    )
    if volume:
        e.add("HOSTED_ON", e.ref, _volume_ref(e.cluster, volume))


def _volume_ref(cluster: str, name: str) -> Ref:
    return Ref(object_key(cluster, "PersistentVolume", name), "StorageVolume", name)


def _volume(e: _Entity) -> None:
    spec = e.spec
    claim_ref = as_dict(spec.get("claimRef"))
    claim, claim_ns = as_text(claim_ref.get("name")), as_text(claim_ref.get("namespace"))
    e.ci(
        "StorageVolume",
        {
            "capacity": scalar_text(as_dict(spec.get("capacity")).get("storage")),
            "storage_class": as_text(spec.get("storageClassName")),
            "access_modes": texts(spec.get("accessModes")),
            "volume_mode": as_text(spec.get("volumeMode")),
            "reclaim_policy": as_text(spec.get("persistentVolumeReclaimPolicy")),
            "claim": f"{claim_ns or DEFAULT_NAMESPACE}/{claim}" if claim else None,
            "status": _status(e.obj),
        },
    )
    if claim:
        ns = claim_ns or DEFAULT_NAMESPACE
        source = Ref(
            object_key(e.cluster, "PersistentVolumeClaim", claim, ns), "StorageVolume", claim
        )
        e.add("HOSTED_ON", source, e.ref)


def _config(e: _Entity) -> None:
    # Name only: a ConfigMap's data and a Secret's data/stringData are never read.
    secret_type = as_text(e.obj.get("type")) if e.kind == "Secret" else None
    e.ci("CloudResource", {"secret_type": secret_type})


_HANDLERS = {
    "Namespace": _namespace,
    "Pod": _pod,
    "Service": _service,
    "Ingress": _ingress,
    "PersistentVolumeClaim": _claim,
    "PersistentVolume": _volume,
    "ConfigMap": _config,
    "Secret": _config,
    **{kind: _workload for kind in WORKLOAD_KINDS},
}


# --- namespace and owner edges, common to every namespaced object --------------------------


def _namespace_ref(cluster: str, namespace: str) -> Ref:
    return Ref(object_key(cluster, "Namespace", namespace), "CloudResource", namespace)


def _owner_refs(e: _Entity) -> tuple[list[tuple[str, Ref]], int]:
    """(owner kind and reference for each usable ownerReference, how many were unusable)."""
    refs: list[tuple[str, Ref]] = []
    bad = 0
    for owner in as_list(e.metadata.get("ownerReferences")):
        owner = as_dict(owner)
        kind, name = as_text(owner.get("kind")), as_text(owner.get("name"))
        if not kind or not name or "/" in name:
            bad += 1
            continue
        uid = as_text(owner.get("uid"))
        ids = (Identifier(kind=IdentifierKind.K8S_UID, value=uid),) if uid else ()
        namespace = None if kind in _CLUSTER_SCOPED else e.ns
        key = object_key(e.cluster, kind, name, namespace)
        refs.append((kind, Ref(key, _owner_class(kind), name, ids)))
    return refs, bad


def _owner_class(kind: str) -> str:
    if kind in WORKLOAD_KINDS:
        return "KubernetesWorkload"
    if kind == "Node":
        return "Server"
    # An operator's custom resource (an Argo Rollout, say): something that contains others.
    return "CloudResource"


def _owner_keys(e: _Entity) -> tuple[str, ...]:
    return tuple(ref.key for _kind, ref in _owner_refs(e)[0])


def _owner_edges(e: _Entity) -> None:
    refs, bad = _owner_refs(e)
    if bad:
        e.problem(Severity.ERROR, f"{bad} ownerReference(s) without a usable kind and name")
    for kind, owner in refs:
        if kind == "Node":
            # A mirror pod is owned by its node: it runs there, a node does not contain it.
            e.add("RUNS_ON", e.ref, owner)
        else:
            e.add("CONTAINS", owner, e.ref)


# --- the run: documents in, records out -----------------------------------------------------


@dataclass
class _Scan:
    cluster: str
    defined: set[str] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)
    selectables: list[_Selectable] = field(default_factory=list)
    selectors: list[_Selector] = field(default_factory=list)
    pending: list[_PendingEnv] = field(default_factory=list)

    def document(self, data: object, where: str) -> Iterator[Item]:
        if not isinstance(data, dict):
            yield Problem(
                severity=Severity.ERROR,
                where=where,
                message=f"a YAML {type(data).__name__}, not a Kubernetes object: skipped",
            )
            return
        kind = data.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in data:
            yield from self._list(data.get("items"), where)
        else:
            yield from self.entity(data, where, "")

    def _list(self, items: object, where: str) -> Iterator[Item]:
        if not isinstance(items, list):
            yield Problem(severity=Severity.ERROR, where=where, message="List items is no list")
            return
        for index, item in enumerate(items):
            yield from self.entity(item, where, f"items[{index}]: ")

    def entity(self, obj: object, where: str, place: str) -> Iterator[Item]:
        if not isinstance(obj, dict):
            yield Problem(
                severity=Severity.ERROR,
                where=where,
                message=f"{place}a {type(obj).__name__}, not a Kubernetes object: skipped",
            )
            return
        try:
            e = _entity(obj, self.cluster, where)
            self._records(e)
        except _Unsupported as exc:
            yield Problem(severity=Severity.UNSUPPORTED, where=where, message=f"{place}{exc}")
            return
        # A malformed object is that object's problem; the rest of the input proceeds.
        except (ValueError, TypeError, CmdbError) as exc:
            text = " ".join(str(exc).split())
            yield Problem(severity=Severity.ERROR, where=where, message=f"{place}{text}")
            return
        self._commit(e)
        yield from e.items
        yield Stat(name="k8s_objects")

    def _records(self, e: _Entity) -> None:
        handler = _HANDLERS.get(e.kind)
        if handler is None:
            raise _Unsupported(f"{e.label}: kind {e.kind} is not modelled, skipped")
        handler(e)
        if e.namespace is not None:
            e.add("CONTAINS", _namespace_ref(e.cluster, e.namespace), e.ref)
        _owner_edges(e)

    def _commit(self, e: _Entity) -> None:
        self.defined.update(i.key for i in e.items if isinstance(i, DiscoveredCI))
        if e.kind == "Namespace":
            self.namespaces.add(e.name)
        elif e.namespace is not None:
            self.namespaces.add(e.namespace)
        self.selectables.extend(e.selectables)
        self.selectors.extend(e.selectors)
        self.pending.extend(e.pending)

    def finish(self) -> Iterator[Item]:
        yield from self._selector_edges()
        for p in self.pending:
            if p.namespace in self.namespaces:
                target = _service_ref(self.cluster, p.service, p.namespace)
                yield edge(
                    "DEPENDS_ON",
                    p.source,
                    target,
                    p.where,
                    confidence=ENV_CONFIDENCE,
                    attributes={"evidence": p.evidence},
                )

    def _selector_edges(self) -> Iterator[Item]:
        # A ReplicaSet or Pod whose owner is in the input is reached through that owner.
        by_ns: dict[str, list[_Selectable]] = {}
        # Per namespace, label -> positions of the selectables carrying it: a selector's
        # matches are the intersection of its labels' lists (every selector against every
        # Pod of its namespace was a sixth of reading a 20k-object cluster).
        by_label: dict[str, dict[tuple[str, str], list[int]]] = {}
        for s in self.selectables:
            if not any(owner in self.defined for owner in s.owners):
                found = by_ns.setdefault(s.namespace, [])
                labels = by_label.setdefault(s.namespace, {})
                for label in s.labels.items():
                    labels.setdefault(label, []).append(len(found))
                found.append(s)
        for sel in self.selectors:
            candidates = by_ns.get(sel.namespace, [])
            if not candidates:
                continue
            labels = by_label[sel.namespace]
            wanted = [labels.get(label, []) for label in sel.selector.items()]
            if wanted:
                wanted.sort(key=len)
                hits = set(wanted[0]).intersection(*wanted[1:])
                matched = [candidates[i] for i in sorted(hits)]
            else:
                matched = candidates  # an empty selector: every selectable, as before
            for s in matched:
                yield edge("DEPENDS_ON", sel.ref, s.ref, sel.where, attributes={"via": "selector"})


def _documents(path: Path) -> Iterator[tuple[int, Any]]:
    if path.suffix.lower() == ".json":
        yield 1, json_document(path)
    else:
        yield from yaml_documents(path)


def read(paths: Sequence[Path], *, cluster: str = "default") -> Iterator[Item]:
    """Records for every object of the files, then the edges that needed all of them."""
    if not cluster or "/" in cluster:
        raise InvalidInput(
            f"cluster name {cluster!r} must be non-empty without '/'", where="cluster"
        )
    scan = _Scan(cluster)
    for path in paths:
        first: int | None = None  # line of the first document
        mapping = False
        for line, data in _documents(Path(path)):
            first = line if first is None else first
            mapping = mapping or isinstance(data, dict)
            yield from scan.document(data, f"{path}:{line}")
        if first is None:
            yield Problem(severity=Severity.WARNING, where=str(path), message="no YAML document")
        elif not mapping:
            # Not one object in the file (XML, CSV, prose read as YAML): the wrong file.
            raise InvalidInput(
                "not Kubernetes manifests: no document is a mapping", where=f"{path}:{first}"
            )
    yield from scan.finish()
