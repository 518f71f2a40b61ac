"""CycloneDX JSON SBOMs, spec 1.2 to 1.4: packages, services and their dependency graph.

``metadata.component`` (the thing the BOM describes) becomes an Application that CONTAINS
every package the BOM lists; each component (nested ones too) becomes a SoftwarePackage
identified by its purl; each service (nested ones too) an ApplicationInstance. The
``dependencies`` graph becomes DEPENDS_ON between whatever its bom-refs name; a bom-ref the
BOM never defines becomes an unresolved placeholder.

Adapter-local keys are ``cdx:{bom-ref}``: bom-refs are what the dependency graph speaks in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.errors import ForbiddenRelationship, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters._build import problem
from discovery.adapters._coerce import as_list, stripped_text
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

SUPPORTED_SPECS = ("1.2", "1.3", "1.4")

# Top-level parts of a BOM this adapter reads, or that carry nothing for a CMDB.
_READ = {"bomFormat", "specVersion", "metadata", "components", "services", "dependencies"}
_IGNORED = {"$schema", "serialNumber", "version", "externalReferences", "properties", "signature"}


@dataclass
class _Bom:
    """What one file defines: bom-ref -> (key, class), and the application's key."""

    path: Path
    classes: dict[str, str] = field(default_factory=dict)
    app_key: str | None = None


def key_for(bom_ref: str) -> str:
    return f"cdx:{bom_ref}"


def read(paths: Sequence[Path]) -> Iterator[Item]:
    for path in paths:
        yield from _read_one(path)


def _read_one(path: Path) -> Iterator[Item]:
    doc = json_document(path)
    _check_envelope(doc, path)
    bom = _Bom(path)
    yield from _unsupported_parts(doc, path)
    meta = doc.get("metadata")
    app = meta.get("component") if isinstance(meta, Mapping) else None
    if isinstance(app, Mapping):
        yield from _application(app, bom)
    else:
        yield problem(
            Severity.WARNING, str(path), "no metadata.component: packages link to no application"
        )
    yield from _components(_list(doc, "components", path), "components", bom, nested_in=None)
    yield from _services(_list(doc, "services", path), "services", bom)
    yield from _dependencies(_list(doc, "dependencies", path), bom)


def _check_envelope(doc: object, path: Path) -> None:
    """Refuse the whole file unless it is a CycloneDX BOM of a spec version we read."""
    if not isinstance(doc, Mapping) or doc.get("bomFormat") != "CycloneDX":
        raise InvalidInput('not a CycloneDX BOM (bomFormat is not "CycloneDX")', where=str(path))
    spec = doc.get("specVersion")
    if spec not in SUPPORTED_SPECS:
        raise InvalidInput(
            f"CycloneDX specVersion {spec!r} is not supported; "
            f"supported: {', '.join(SUPPORTED_SPECS)}",
            where=str(path),
        )


def _unsupported_parts(doc: Mapping[str, Any], path: Path) -> Iterator[Problem]:
    for key in doc:
        if key not in _READ and key not in _IGNORED:
            yield problem(Severity.UNSUPPORTED, f"{path}:{key}", f"{key!r} is not read")


def _list(doc: Mapping[str, Any], key: str, path: Path) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise InvalidInput(f"{key} must be a list", where=f"{path}:{key}")
    return value


def _application(app: Mapping[str, Any], bom: _Bom) -> Iterator[Item]:
    where = f"{bom.path}:metadata.component"
    ci = _component_ci(app, "Application", where, bom)
    if isinstance(ci, Problem):
        yield ci
        return
    bom.app_key = ci.key
    yield ci


def _components(
    items: list[Any], place: str, bom: _Bom, *, nested_in: str | None
) -> Iterator[Item]:
    for i, comp in enumerate(items):
        where = f"{bom.path}:{place}[{i}]"
        ci = _component_ci(comp, "SoftwarePackage", where, bom)
        if isinstance(ci, Problem):
            yield ci
            continue
        yield ci
        yield Stat(name="components")
        if bom.app_key is not None:
            # Shipping a component ships the parts assembled into it, so the application
            # contains nested components too; the rel says which assembly it came in.
            attrs = {"nested_in": nested_in} if nested_in else {}
            yield _rel("CONTAINS", bom.app_key, ci.key, bom, where, attrs)
        children = comp.get("components")
        if isinstance(children, list):
            yield from _components(children, f"{place}[{i}].components", bom, nested_in=ci.key)


def _component_ci(comp: object, ci_class: str, where: str, bom: _Bom) -> DiscoveredCI | Problem:
    if not isinstance(comp, Mapping) or not stripped_text(comp.get("name")):
        return problem(Severity.ERROR, where, "a component needs a name")
    purl = stripped_text(comp.get("purl"))
    key = _local_key(comp, where, bom)
    if isinstance(key, Problem):
        return key
    ident = _identifier(IdentifierKind.PURL, purl, where) if purl else _key_id(key, where)
    if isinstance(ident, Problem):
        return ident
    group = stripped_text(comp.get("group"))
    name = f"{group}/{comp['name']}" if group else str(comp["name"])
    fields = {f: comp[f] for f in ("version", "description") if stripped_text(comp.get(f))}
    attrs: dict[str, Any] = {"type": comp.get("type")} if stripped_text(comp.get("type")) else {}
    if group:
        attrs["group"] = group
    licenses = _licenses(comp.get("licenses"))
    if licenses:
        attrs["licenses"] = licenses
    for src in ("bom-ref", "cpe", "scope"):
        if stripped_text(comp.get(src)):
            attrs[src.replace("-", "_")] = comp[src]
    return _ci(key, ci_class, name, (ident,), fields, attrs, where, bom)


def _local_key(item: Mapping[str, Any], where: str, bom: _Bom) -> str | Problem:
    """``cdx:{bom-ref}``; without a bom-ref nothing can refer to it, so any unique key does."""
    ref = item.get("bom-ref")
    if isinstance(ref, str) and ref.strip():
        if key_for(ref) in bom.classes:
            return problem(Severity.ERROR, where, f"bom-ref {ref!r} is defined twice")
        return key_for(ref)
    purl = stripped_text(item.get("purl"))
    # The place in the file (``components[3]``) is unique within it.
    return key_for(purl or f"{bom.path.name}#{where.rsplit(':', 1)[-1]}")


def _licenses(value: object) -> list[str]:
    """SPDX ids, names or expressions, in the order given."""
    out: list[str] = []
    for entry in as_list(value):
        if not isinstance(entry, Mapping):
            continue
        lic = entry.get("license")
        if isinstance(lic, Mapping):
            text = (
                stripped_text(lic.get("id"))
                or stripped_text(lic.get("name"))
                or stripped_text(lic.get("url"))
            )
        else:
            text = stripped_text(entry.get("expression"))
        if text:
            out.append(text)
    return out


def _services(items: list[Any], place: str, bom: _Bom) -> Iterator[Item]:
    for i, svc in enumerate(items):
        where = f"{bom.path}:{place}[{i}]"
        ci = _service_ci(svc, where, bom)
        yield ci
        if isinstance(ci, Problem):
            continue
        yield Stat(name="services")
        children = svc.get("services")
        if isinstance(children, list):
            # Nesting groups services (an API gateway and what sits behind it); how they use
            # each other is said by the dependency graph, so no edge is made from nesting.
            yield from _services(children, f"{place}[{i}].services", bom)


def _service_ci(svc: object, where: str, bom: _Bom) -> DiscoveredCI | Problem:
    if not isinstance(svc, Mapping) or not stripped_text(svc.get("name")):
        return problem(Severity.ERROR, where, "a service needs a name")
    key = _local_key(svc, where, bom)
    if isinstance(key, Problem):
        return key
    fields = {f: svc[f] for f in ("version", "description") if stripped_text(svc.get(f))}
    attrs: dict[str, Any] = {}
    for src in ("endpoints", "authenticated", "x-trust-boundary", "group", "bom-ref"):
        if svc.get(src) is not None:
            attrs[src.replace("-", "_")] = svc[src]
    provider = svc.get("provider")
    if isinstance(provider, Mapping) and stripped_text(provider.get("name")):
        attrs["provider"] = provider["name"]
    flows = _data_flows(svc.get("data"))
    if flows:
        attrs["data_flows"] = flows
    ident = _key_id(key, where)
    if isinstance(ident, Problem):
        return ident
    return _ci(key, "ApplicationInstance", str(svc["name"]), (ident,), fields, attrs, where, bom)


def _data_flows(value: object) -> list[str]:
    """``classification:flow`` per entry (1.2-1.4 shape), e.g. ``PII:bi-directional``."""
    out: list[str] = []
    for entry in as_list(value):
        if isinstance(entry, Mapping) and stripped_text(entry.get("classification")):
            flow = stripped_text(entry.get("flow")) or "unknown"
            out.append(f"{entry['classification']}:{flow}")
    return out


def _dependencies(items: list[Any], bom: _Bom) -> Iterator[Item]:
    for i, dep in enumerate(items):
        where = f"{bom.path}:dependencies[{i}]"
        if not isinstance(dep, Mapping) or not stripped_text(dep.get("ref")):
            yield problem(Severity.ERROR, where, "a dependency needs a ref")
            continue
        targets = dep.get("dependsOn") or []
        if not isinstance(targets, list):
            yield problem(Severity.ERROR, where, "dependsOn must be a list of bom-refs")
            continue
        for target in targets:
            if stripped_text(target):
                yield _rel("DEPENDS_ON", key_for(dep["ref"]), key_for(target), bom, where, {})
            else:
                yield problem(Severity.ERROR, where, f"{target!r} is not a bom-ref")


def _rel(
    rel: str, source: str, target: str, bom: _Bom, where: str, attrs: dict[str, Any]
) -> DiscoveredRel | Problem:
    """A relationship, with placeholders for ends this BOM never defines."""
    try:
        src_ph = None if source in bom.classes else _placeholder(source)
        tgt_ph = None if target in bom.classes else _placeholder(target)
    except ValidationError as exc:
        return problem(Severity.ERROR, where, f"bad bom-ref: {_first_error(exc)}")
    src_class = src_ph.ci_class if src_ph else bom.classes[source]
    tgt_class = tgt_ph.ci_class if tgt_ph else bom.classes[target]
    try:
        check_allowed(rel, src_class, tgt_class)
    except ForbiddenRelationship as exc:
        return problem(Severity.ERROR, where, exc.message)
    return DiscoveredRel(
        type=rel,
        source=source,
        target=target,
        attributes=attrs,
        source_placeholder=src_ph,
        target_placeholder=tgt_ph,
        where=where,
    )


def _identifier(kind: IdentifierKind, value: str, where: str) -> Identifier | Problem:
    try:
        return Identifier(kind=kind, value=value)
    except ValidationError as exc:
        return problem(Severity.ERROR, where, f"bad {kind.value}: {_first_error(exc)}")


def _key_id(key: str, where: str) -> Identifier | Problem:
    return _identifier(IdentifierKind.KEY, key, where)


def _first_error(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def _placeholder(key: str) -> Placeholder:
    # An undefined bom-ref says nothing of what it is; in an SBOM it is most often a package.
    ref = key.removeprefix("cdx:")
    purl = ref if ref.startswith("pkg:") else None
    idents = (Identifier(kind=IdentifierKind.PURL, value=purl),) if purl else ()
    return Placeholder(ci_class="SoftwarePackage", name=ref, identifiers=idents)


def _ci(
    key: str,
    ci_class: str,
    name: str,
    identifiers: tuple[Identifier, ...],
    fields: dict[str, Any],
    attrs: dict[str, Any],
    where: str,
    bom: _Bom,
) -> DiscoveredCI:
    bom.classes[key] = ci_class
    return DiscoveredCI(
        key=key,
        ci_class=ci_class,
        name=name,
        identifiers=identifiers,
        fields=fields,
        attributes=attrs,
        where=where,
    )
