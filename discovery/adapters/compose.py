"""docker-compose files (v2, v3, the Compose Specification, Swarm stack files) -> neutral records.

A service becomes a Container CI keyed ``compose:{project}/{service}``; top-level networks,
named volumes, secrets and configs become CIs keyed ``compose:{project}/{kind}/{name}``.
Relationships by reference: ``depends_on`` (list and map form), ``links``, ``volumes_from``
and ``network_mode: service:x`` are DEPENDS_ON; networks are CONNECTS_TO; named volumes,
secrets and configs are DEPENDS_ON. A reference to something the input never defines is given
a placeholder, so it becomes an unresolved CI instead of a crash.

Environment values that name another service (``db:5432``, ``http://api:8080/x``, or a whole
value that is a service name) are DEPENDS_ON with a lower confidence. They are resolved after
the last file, because an override file may define the service another file's value names.

Only non-secret environment values are kept: a key that looks secret (``*PASSWORD*``,
``*TOKEN*``, ...) is dropped, and a password inside a URL is masked.
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
    as_bool,
    as_dict,
    as_int,
    as_list,
    as_text,
    compact,
    scalar_text,
    scalar_texts,
)
from discovery.io import yaml_documents
from discovery.records import (
    DiscoveredCI,
    Item,
    Problem,
    Severity,
    Stat,
)

# An env value naming a service suggests a call; it is weaker evidence than depends_on.
ENV_CONFIDENCE = 0.7

_TOP_LEVEL = frozenset({"version", "name", "services", "networks", "volumes", "secrets", "configs"})
# Parts of an env key that mark its value as a secret. Matching parts rather than substrings
# keeps KEYCLOAK_URL; dropping a harmless value by mistake costs less than keeping a secret.
_SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE")
_SECRET_PARTS = frozenset({"PASS", "PWD", "KEY", "APIKEY", "AUTH"})
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*):[^/@\s]*@")
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})$")
# What Compose does to a directory name to make a project name.
_PROJECT_CHARS = re.compile(r"[^a-z0-9_-]")


def is_secret_key(key: str) -> bool:
    upper = key.upper()
    if _SECRET_WORDS.search(upper):
        return True
    parts = [p for p in re.split(r"[^A-Z0-9]+", upper) if p]
    return any(p in _SECRET_PARTS or p.endswith("KEY") for p in parts)


def mask_url_password(value: str) -> str:
    """``postgres://app:s3cret@db/x`` -> ``postgres://app:***@db/x``."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:***@", value)


def environment(value: object) -> list[tuple[str, str | None]]:
    """(key, value) pairs from the list (``K=V``, ``K``) or map form; None when unset."""
    pairs: list[tuple[str, str | None]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            key = scalar_text(k)
            if key:
                pairs.append((key, scalar_text(v)))
    else:
        for entry in as_list(value):
            text = scalar_text(entry)
            if text:
                key, sep, val = text.partition("=")
                pairs.append((key, val if sep else None))
    return pairs


def hosts_in_env(value: str) -> list[str]:
    """Host names a value names: URL hosts and ``host:port`` items anywhere in it, and the
    whole value when it is one word (``REDIS_HOST=redis``)."""
    hosts: list[str] = []
    tokens = [t for t in re.split(r"[\s,;]+", value.strip()) if t]
    for token in tokens:
        if "://" in token:
            try:
                host = urlsplit(token).hostname
            except ValueError:  # an unclosed IPv6 bracket, say
                host = None
        else:
            match = _HOST_PORT.match(token)
            host = match["host"] if match else None
        if host:
            hosts.append(host)
    if len(tokens) == 1 and not hosts:
        hosts.append(tokens[0])
    return hosts


def project_name(path: Path, doc: dict[str, Any], given: str | None) -> str:
    """The caller's name, else the file's top-level ``name:``, else its directory's name, the
    last two normalised as Compose does (lower case, ``[a-z0-9_-]``)."""
    if given:
        return given
    raw = as_text(doc.get("name")) or path.resolve().parent.name
    name = _PROJECT_CHARS.sub("", raw.lower())
    return name or "default"


def _ci(ref: Ref, attributes: dict[str, Any], where: str) -> DiscoveredCI:
    return DiscoveredCI(
        key=ref.key,
        ci_class=ref.ci_class,
        name=ref.name,
        identifiers=(Identifier(kind=IdentifierKind.KEY, value=ref.key),),
        attributes=compact(attributes),
        where=where,
    )


# Top-level section -> (key segment, CI class, ``kind`` attribute).
_RESOURCES = {
    "networks": ("network", "CloudResource", "network"),
    "volumes": ("volume", "StorageVolume", "volume"),
    "secrets": ("secret", "CloudResource", "secret"),
    "configs": ("config", "CloudResource", "config"),
}


@dataclass(frozen=True)
class _Project:
    name: str
    where: str

    def service(self, name: str) -> Ref:
        return Ref(f"compose:{self.name}/{name}", "Container", name)

    def resource(self, section: str, name: str) -> Ref:
        segment, ci_class, _kind = _RESOURCES[section]
        return Ref(f"compose:{self.name}/{segment}/{name}", ci_class, name)


def _resource_ci(project: _Project, section: str, name: str, spec: object) -> DiscoveredCI:
    """A network, volume, secret or config. Secrets and configs by name only: their ``file``,
    ``environment`` and inline ``content`` are where the values are, and are never read."""
    body = as_dict(spec)
    attrs: dict[str, Any] = {
        "kind": _RESOURCES[section][2],
        "project": project.name,
        "external": body.get("external") is True or None,
        "real_name": as_text(body.get("name")),
    }
    if section in ("networks", "volumes"):
        attrs["driver"] = as_text(body.get("driver"))
    return _ci(project.resource(section, name), attrs, project.where)


# --- one service ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _EnvHint:
    source: Ref
    project: str
    service: str
    var: str
    hosts: tuple[str, ...]
    where: str
    # ``links: [cache:memo]`` lets this service (only) reach cache as ``memo``.
    link_aliases: tuple[tuple[str, str], ...] = ()


@dataclass
class _Service:
    """One service being turned into records; nothing reaches the run until it all succeeded."""

    project: _Project
    name: str
    body: dict[str, Any]
    items: list[Item] = field(default_factory=list)
    hints: list[_EnvHint] = field(default_factory=list)
    # Names other services reach this one by: container_name, hostname, network aliases.
    aliases: set[str] = field(default_factory=set)
    link_aliases: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> Ref:
        return self.project.service(self.name)

    def add(self, rtype: str, target: Ref, **kw: Any) -> None:
        self.items.append(edge(rtype, self.ref, target, self.project.where, **kw))

    def problem(self, severity: Severity, message: str) -> None:
        self.items.append(
            Problem(
                severity=severity,
                where=self.project.where,
                message=f"service {self.name}: {message}",
            )
        )


def _ports(body: dict[str, Any]) -> list[Any]:
    ports: list[Any] = []
    for port in as_list(body.get("ports")):
        if isinstance(port, dict):  # long syntax
            fields = ("target", "published", "protocol", "mode", "host_ip", "name")
            long_form = compact({k: scalar_text(port.get(k)) for k in fields})
            if long_form:
                ports.append(long_form)
        elif (short := scalar_text(port)) is not None:
            ports.append(short)
    return ports


def _kept_environment(body: dict[str, Any]) -> dict[str, str]:
    return {
        key: mask_url_password(value)
        for key, value in environment(body.get("environment"))
        if value is not None and not is_secret_key(key)
    }


def _service_attrs(s: _Service) -> dict[str, Any]:
    body = s.body
    deploy = as_dict(body.get("deploy"))
    build = body.get("build")
    return {
        "project": s.project.name,
        "image": as_text(body.get("image")),
        "build": as_text(build) or as_text(as_dict(build).get("context")),
        "container_name": as_text(body.get("container_name")),
        "hostname": as_text(body.get("hostname")),
        "ports": _ports(body),
        "expose": scalar_texts(body.get("expose")),
        "profiles": scalar_texts(body.get("profiles")),
        # Swarm's deploy.replicas, or Compose's older top-level scale.
        "replicas": as_int(deploy.get("replicas", body.get("scale"))),
        "deploy_mode": as_text(deploy.get("mode")),
        "placement_constraints": scalar_texts(as_dict(deploy.get("placement")).get("constraints")),
        "restart": scalar_text(body.get("restart")),
        "network_mode": as_text(body.get("network_mode")),
        "environment": _kept_environment(body),
        "env_file": scalar_texts(body.get("env_file")) or scalar_texts([body.get("env_file")]),
    }


def _depends_on(s: _Service) -> None:
    value = s.body.get("depends_on")
    if isinstance(value, dict):  # map form: {db: {condition: service_healthy}}
        for name, spec in value.items():
            spec = as_dict(spec)
            attrs = {
                "condition": as_text(spec.get("condition")),
                "required": as_bool(spec.get("required")),
                "restart": as_bool(spec.get("restart")),
            }
            _depend(s, name, {"via": "depends_on", **compact(attrs)})
    else:
        for name in as_list(value):
            _depend(s, name, {"via": "depends_on"})


def _depend(s: _Service, name: object, attributes: dict[str, Any]) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        s.problem(Severity.ERROR, f"a service reference that is not a name: {_brief(name)}")
        return
    s.add("DEPENDS_ON", s.project.service(name), attributes=attributes)


def _links(s: _Service) -> None:
    for link in scalar_texts(s.body.get("links")):
        name, _sep, alias = link.partition(":")
        if alias:
            s.link_aliases[alias] = name
        _depend(s, name, compact({"via": "links", "alias": alias or None}))
    if s.body.get("external_links"):
        s.problem(Severity.UNSUPPORTED, "external_links name containers outside Compose")


def _shared_namespaces(s: _Service) -> None:
    """``volumes_from``, and ``network_mode``/``ipc``/``pid`` of ``service:x``: the service
    cannot start without x."""
    for entry in scalar_texts(s.body.get("volumes_from")):
        if entry.startswith("container:"):
            s.problem(Severity.UNSUPPORTED, f"volumes_from {entry} names a non-Compose container")
            continue
        name = entry.removeprefix("service:").split(":")[0]
        _depend(s, name, {"via": "volumes_from"})
    for option in ("network_mode", "ipc", "pid"):
        value = as_text(s.body.get(option)) or ""
        if value.startswith("service:"):
            _depend(s, value.removeprefix("service:"), {"via": option})
        elif value.startswith("container:"):
            s.problem(Severity.UNSUPPORTED, f"{option} {value} names a non-Compose container")


def _networks(s: _Service) -> None:
    value = s.body.get("networks")
    if isinstance(value, dict):
        names = [str(n) for n in value]
        for spec in value.values():
            s.aliases.update(scalar_texts(as_dict(spec).get("aliases")))
    else:
        names = scalar_texts(value)
    if not names and s.body.get("network_mode") is None:
        # Compose puts a service without networks on the project's ``default`` network.
        names = ["default"]
        s.items.append(_resource_ci(s.project, "networks", "default", {}))
    for name in names:
        s.add("CONNECTS_TO", s.project.resource("networks", name))


def _volumes(s: _Service) -> None:
    for volume in as_list(s.body.get("volumes")):
        name = _named_volume(volume)
        if name:
            s.add("DEPENDS_ON", s.project.resource("volumes", name), attributes={"via": "volumes"})


def _named_volume(volume: object) -> str | None:
    """The named volume a mount uses; None for bind mounts, anonymous volumes and tmpfs."""
    if isinstance(volume, dict):  # long syntax
        is_volume = volume.get("type", "volume") == "volume"
        return as_text(volume.get("source")) if is_volume else None
    text = as_text(volume)
    if not text or ":" not in text:
        return None  # ``/data`` alone is an anonymous volume
    source = text.split(":", 1)[0]
    # A host path starts with ., /, ~ or a drive letter; a named volume is a bare word.
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", source) and len(source) > 1:
        return source
    return None


def _secrets_and_configs(s: _Service) -> None:
    for section in ("secrets", "configs"):
        for entry in as_list(s.body.get(section)):
            name = as_text(entry) or as_text(as_dict(entry).get("source"))
            if name:
                target = s.project.resource(section, name)
                s.add("DEPENDS_ON", target, attributes={"via": section})


def _env_hints(s: _Service) -> None:
    for key, value in environment(s.body.get("environment")):
        # A secret value is not searched either: an edge would tell what it is.
        if value is None or is_secret_key(key):
            continue
        hosts = hosts_in_env(value)
        if hosts:
            s.hints.append(
                _EnvHint(
                    s.ref,
                    s.project.name,
                    s.name,
                    key,
                    tuple(hosts),
                    s.project.where,
                    tuple(s.link_aliases.items()),
                )
            )


def _unsupported_keys(s: _Service) -> None:
    if "extends" in s.body:
        s.problem(Severity.UNSUPPORTED, "extends is not followed: inherited keys are missing")


def _service_records(s: _Service) -> None:
    s.items.append(_ci(s.ref, _service_attrs(s), s.project.where))
    s.aliases.update(
        a for a in (as_text(s.body.get("container_name")), as_text(s.body.get("hostname"))) if a
    )
    _depends_on(s)
    _links(s)
    _shared_namespaces(s)
    _networks(s)
    _volumes(s)
    _secrets_and_configs(s)
    _env_hints(s)
    _unsupported_keys(s)


def _brief(value: object) -> str:
    """A short description of a value for a message: never a walk of a nested structure."""
    text = scalar_text(value)
    return repr(text[:60]) if text is not None else f"a {type(value).__name__}"


# --- the run --------------------------------------------------------------------------------


@dataclass
class _Scan:
    project: str | None
    # project -> host name a service answers to (its name or an alias) -> service name
    names: dict[str, dict[str, str]] = field(default_factory=dict)
    hints: list[_EnvHint] = field(default_factory=list)

    def document(self, path: Path, line: int, doc: object) -> Iterator[Item]:
        where = f"{path}:{line}"
        if not isinstance(doc, dict):
            raise InvalidInput(
                f"a Compose file is a mapping at the top, not a {type(doc).__name__}", where=where
            )
        project = _Project(project_name(path, doc, self.project), where)
        yield from self._top_level(project, doc)
        services = doc.get("services")
        if services is None:
            return
        if not isinstance(services, dict):
            raise InvalidInput(
                f"services is a {type(services).__name__}, not a mapping", where=where
            )
        for name, body in services.items():
            yield from self._service(project, name, body)

    def _top_level(self, project: _Project, doc: dict[str, Any]) -> Iterator[Item]:
        unknown = [str(k) for k in doc if k not in _TOP_LEVEL and not str(k).startswith("x-")]
        if unknown and "services" not in doc:
            message = "no services: the v1 format (services at the top) is not supported"
            yield Problem(severity=Severity.UNSUPPORTED, where=project.where, message=message)
        elif unknown:
            message = f"top-level {', '.join(unknown)} not modelled (include is not followed)"
            yield Problem(severity=Severity.UNSUPPORTED, where=project.where, message=message)
        for section in _RESOURCES:
            for name, spec in as_dict(doc.get(section)).items():
                yield from self._resource(project, section, name, spec)

    def _resource(
        self, project: _Project, section: str, name: object, spec: object
    ) -> Iterator[Item]:
        if not isinstance(name, str) or not name or "/" in name:
            message = f"{section}: {_brief(name)} is not a usable name"
            yield Problem(severity=Severity.ERROR, where=project.where, message=message)
            return
        try:
            yield _resource_ci(project, section, name, spec)
        except (ValueError, CmdbError) as exc:
            message = f"{section} {name}: {' '.join(str(exc).split())}"
            yield Problem(severity=Severity.ERROR, where=project.where, message=message)

    def _service(self, project: _Project, name: object, body: object) -> Iterator[Item]:
        if not isinstance(name, str) or not name or "/" in name:
            message = f"service name {_brief(name)} is not usable"
            yield Problem(severity=Severity.ERROR, where=project.where, message=message)
            return
        if not isinstance(body, dict):
            message = f"service {name} is a {type(body).__name__}, not a mapping: skipped"
            yield Problem(severity=Severity.ERROR, where=project.where, message=message)
            return
        s = _Service(project, name, body)
        try:
            _service_records(s)
        # A malformed service is that service's problem; the rest of the file proceeds.
        except (ValueError, TypeError, CmdbError) as exc:
            message = f"service {name}: {' '.join(str(exc).split())}"
            yield Problem(severity=Severity.ERROR, where=project.where, message=message)
            return
        known = self.names.setdefault(project.name, {})
        for alias in (name, *s.aliases):
            known.setdefault(alias, name)
        self.hints.extend(s.hints)
        yield Stat(name="compose_services")
        yield from s.items

    def finish(self) -> Iterator[Item]:
        for hint in self.hints:
            known = {**self.names.get(hint.project, {}), **dict(hint.link_aliases)}
            for host in hint.hosts:
                target = known.get(host)
                if target is None or target == hint.service:
                    continue
                target_ref = Ref(f"compose:{hint.project}/{target}", "Container", target)
                yield edge(
                    "DEPENDS_ON",
                    hint.source,
                    target_ref,
                    hint.where,
                    confidence=ENV_CONFIDENCE,
                    attributes={"evidence": hint.var},
                )


def read(paths: Sequence[Path], *, project: str | None = None) -> Iterator[Item]:
    """Records for every service and resource of the files, then the env-value edges."""
    if project is not None and (not project or "/" in project):
        raise InvalidInput(
            f"project name {project!r} must be non-empty without '/'", where="project"
        )
    scan = _Scan(project)
    for path in paths:
        empty = True
        for line, doc in yaml_documents(Path(path)):
            empty = False
            yield from scan.document(Path(path), line, doc)
        if empty:
            yield Problem(severity=Severity.WARNING, where=str(path), message="no YAML document")
    yield from scan.finish()
