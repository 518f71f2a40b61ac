"""Backstage software-catalog YAML: entities become CIs, entity references become relationships.

Several files are read as one catalog, as Backstage itself does: a Component in one file may
name an API, a Group or a Resource that another file defines. So CIs are yielded as each file
is read, and relationships once every file has been read, when the class of each end is known
(a Resource is a Database or a CloudResource depending on its own ``spec.type``).

Entity references are ``[kind:][namespace/]name`` strings (or ``{kind, namespace, name}``
maps), compared case-insensitively. A missing kind takes the field's default from Backstage's
``BuiltinKindsEntityProcessor`` (owner -> Group, system -> System, providesApis -> API, ...);
a missing namespace is the referring entity's own namespace, which is ``default`` unless the
entity says otherwise, again as Backstage does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cmdb.domain.errors import ForbiddenRelationship, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters._build import problem
from discovery.io import yaml_documents
from discovery.records import (
    DiscoveredCI,
    DiscoveredRel,
    Item,
    Placeholder,
    Severity,
    Stat,
)

DEFAULT_NAMESPACE = "default"

# Backstage kind (lower case) -> its canonical spelling.
KINDS: dict[str, str] = {
    k.lower(): k for k in ("Domain", "System", "Component", "API", "Resource", "Group", "User")
}

# Kinds Backstage knows that say nothing about the running estate: reported, not modelled.
_NOT_MODELLED = {"location", "template"}


@dataclass(frozen=True)
class Ref:
    """A resolved entity reference; every part lower case, so comparison ignores case."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"backstage:{self.kind}:{self.namespace}/{self.name}"


def ci_class_for(kind: str, spec_type: object = None) -> str | None:
    """The CI class an entity of ``kind`` becomes; None for kinds the CMDB does not model."""
    match kind:
        case "domain" | "system":
            return "Service"
        case "component" | "api":
            return "Application"
        case "resource":
            is_db = isinstance(spec_type, str) and spec_type.lower() == "database"
            return "Database" if is_db else "CloudResource"
        case "group":
            return "Team"
        case "user":
            return "Person"
    return None


def parse_ref(value: object, *, default_kind: str | None, default_namespace: str) -> Ref:
    """Read a string or compound reference; ValueError says what is wrong with it."""
    if isinstance(value, Mapping):
        kind, namespace, name = value.get("kind"), value.get("namespace"), value.get("name")
    elif isinstance(value, str):
        kind, namespace, name = _split_ref(value)
    else:
        raise ValueError(f"an entity reference must be a string, not {type(value).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"entity reference {value!r} has no name")
    kind = kind or default_kind
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"entity reference {value!r} has no kind and this field has no default")
    namespace = namespace or default_namespace
    if not isinstance(namespace, str):
        raise ValueError(f"entity reference {value!r} has a namespace that is not a string")
    return Ref(kind.strip().lower(), namespace.strip().lower(), name.strip().lower())


def _split_ref(text: str) -> tuple[str | None, str | None, str]:
    # Backstage's own rule: the kind ends at the first ':', the namespace at the first '/'.
    kind, colon, rest = text.partition(":")
    if not colon:
        kind, rest = "", text
    namespace, slash, name = rest.partition("/")
    if not slash:
        namespace, name = "", rest
    return kind or None, namespace or None, name


class _Dir(Enum):
    OUT = "out"  # this entity -[type]-> the referenced one
    IN = "in"  # the referenced entity -[type]-> this one


@dataclass(frozen=True)
class _Rule:
    kinds: frozenset[str]
    field: str
    default_kind: str | None
    rel: str
    direction: _Dir


def _rule(kinds: str, fld: str, default: str | None, rel: str, d: _Dir) -> _Rule:
    return _Rule(frozenset(kinds.split()), fld, default, rel, d)


_OWNED = "component api resource system domain"
# spec fields that reference other entities, with Backstage's default kind for each.
_SPEC_RULES: tuple[_Rule, ...] = (
    _rule(_OWNED, "owner", "group", "OWNED_BY", _Dir.OUT),
    _rule("component api resource", "system", "system", "CONTAINS", _Dir.IN),
    _rule("system", "domain", "domain", "CONTAINS", _Dir.IN),
    _rule("domain", "subdomainOf", "domain", "CONTAINS", _Dir.IN),
    _rule("component", "subcomponentOf", "component", "CONTAINS", _Dir.IN),
    # An API is up only if the Component providing it is up: the API depends on it.
    _rule("component", "providesApis", "api", "DEPENDS_ON", _Dir.IN),
    _rule("component", "consumesApis", "api", "DEPENDS_ON", _Dir.OUT),
    # Backstage gives dependsOn no default kind; see _DEPENDS_FALLBACK.
    _rule("component resource", "dependsOn", None, "DEPENDS_ON", _Dir.OUT),
    _rule("component resource", "dependencyOf", None, "DEPENDS_ON", _Dir.IN),
    _rule("user", "memberOf", "group", "MEMBER_OF_TEAM", _Dir.OUT),
    _rule("group", "parent", "group", "MEMBER_OF_TEAM", _Dir.OUT),
    _rule("group", "children", "group", "MEMBER_OF_TEAM", _Dir.IN),
    _rule("group", "members", "user", "MEMBER_OF_TEAM", _Dir.IN),
)

# Backstage rejects a kind-less dependsOn; a hand-written catalog often means a Component,
# so that is assumed, with a warning, rather than dropping the dependency.
_DEPENDS_FALLBACK = "component"

# The ``relations`` array of an entity fetched from the catalog API (already processed).
_RELATIONS: dict[str, tuple[str, _Dir]] = {
    "ownedby": ("OWNED_BY", _Dir.OUT),
    "ownerof": ("OWNED_BY", _Dir.IN),
    "partof": ("CONTAINS", _Dir.IN),
    "haspart": ("CONTAINS", _Dir.OUT),
    "dependson": ("DEPENDS_ON", _Dir.OUT),
    "dependencyof": ("DEPENDS_ON", _Dir.IN),
    "providesapi": ("DEPENDS_ON", _Dir.IN),
    "apiprovidedby": ("DEPENDS_ON", _Dir.OUT),
    "consumesapi": ("DEPENDS_ON", _Dir.OUT),
    "apiconsumedby": ("DEPENDS_ON", _Dir.IN),
    "memberof": ("MEMBER_OF_TEAM", _Dir.OUT),
    "hasmember": ("MEMBER_OF_TEAM", _Dir.IN),
    "childof": ("MEMBER_OF_TEAM", _Dir.OUT),
    "parentof": ("MEMBER_OF_TEAM", _Dir.IN),
}


@dataclass
class _Entity:
    ref: Ref
    ci_class: str
    spec: Mapping[str, Any]
    relations: list[Any]
    where: str


@dataclass
class _Catalog:
    """Every entity read so far: by key, what references resolve against; in order, every
    definition, so an entity defined twice keeps the relationships of both definitions."""

    entities: dict[str, _Entity] = field(default_factory=dict)
    definitions: list[_Entity] = field(default_factory=list)


def read(paths: Sequence[Path]) -> Iterator[Item]:
    """Yield the CIs of every file, then the relationships between them (and placeholders)."""
    catalog = _Catalog()
    for path in paths:
        first: int | None = None  # line of the first document
        mapping = False
        for line, doc in yaml_documents(path):
            first = line if first is None else first
            mapping = mapping or isinstance(doc, Mapping)
            yield from _document(doc, f"{path}:{line}", catalog)
        if first is not None and not mapping:
            # Not one entity-shaped document (XML, CSV, prose read as YAML): the wrong file.
            raise InvalidInput(
                "not a Backstage catalog: no document is a mapping", where=f"{path}:{first}"
            )
    for entity in catalog.definitions:
        yield from _relationships(entity, catalog)


def _document(doc: object, where: str, catalog: _Catalog) -> Iterator[Item]:
    if not isinstance(doc, Mapping):
        yield problem(Severity.ERROR, where, "not a Backstage entity (expected a mapping)")
        return
    kind = doc.get("kind")
    if not isinstance(kind, str) or not doc.get("apiVersion"):
        yield problem(Severity.ERROR, where, "not a Backstage entity: needs apiVersion and kind")
        return
    ci_class = ci_class_for(kind.lower())
    if ci_class is None:
        what = "says nothing about the estate" if kind.lower() in _NOT_MODELLED else "is unknown"
        yield problem(Severity.UNSUPPORTED, where, f"kind {kind!r} {what}: skipped")
        yield Stat(name="entities_skipped")
        return
    yield from _entity(doc, kind.lower(), where, catalog)


def _entity(doc: Mapping[str, Any], kind: str, where: str, catalog: _Catalog) -> Iterator[Item]:
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        yield problem(Severity.ERROR, where, f"{KINDS[kind]} entity has no metadata.name")
        return
    spec = doc.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(namespace, str):
        yield problem(Severity.ERROR, where, f"{name}: metadata.namespace is not a string")
        return
    ref = Ref(kind, namespace.strip().lower(), name.strip().lower())
    ci_class = ci_class_for(kind, spec.get("type"))
    assert ci_class is not None  # kind was checked by the caller
    if ref.key in catalog.entities:
        first = catalog.entities[ref.key].where
        yield problem(Severity.WARNING, where, f"{ref.key} is also defined at {first}; merged")
    relations = doc.get("relations")
    entity = _Entity(ref, ci_class, spec, relations if isinstance(relations, list) else [], where)
    catalog.entities[ref.key] = entity
    catalog.definitions.append(entity)
    yield _ci(ref, ci_class, name.strip(), meta, spec, where)
    yield Stat(name=f"backstage_{kind}")


def _ci(
    ref: Ref,
    ci_class: str,
    name: str,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    where: str,
) -> DiscoveredCI:
    fields: dict[str, Any] = {}
    if isinstance(meta.get("description"), str):
        fields["description"] = meta["description"]
    return DiscoveredCI(
        key=ref.key,
        ci_class=ci_class,
        name=name,
        identifiers=(Identifier(kind=IdentifierKind.KEY, value=ref.key),),
        fields=fields,
        attributes=_attributes(ref, meta, spec),
        where=where,
    )


def _attributes(ref: Ref, meta: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"backstage_kind": KINDS[ref.kind], "namespace": ref.namespace}
    if ref.kind == "system":
        # A Backstage System groups what delivers a capability: a supporting service.
        attrs["service_kind"] = "supporting"
    for key in ("type", "lifecycle"):
        if isinstance(spec.get(key), str):
            attrs[key] = spec[key]
    # Only the shapes Backstage allows (a string, a list of strings, maps of strings): a value
    # copied as found could be a YAML alias bomb that the store would expand.
    if isinstance(meta.get("title"), str) and meta["title"]:
        attrs["title"] = meta["title"]
    tags = meta.get("tags")
    if isinstance(tags, list) and (strings := [t for t in tags if isinstance(t, str)]):
        attrs["tags"] = strings
    for key in ("annotations", "labels"):
        value = meta.get(key)
        if isinstance(value, Mapping) and (
            pairs := {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
        ):
            attrs[key] = pairs
    links = meta.get("links")
    if isinstance(links, list):
        urls = [lk["url"] for lk in links if isinstance(lk, Mapping) and "url" in lk]
        if urls:
            attrs["links"] = urls
    profile = spec.get("profile")
    if isinstance(profile, Mapping):
        for src, dst in (("displayName", "display_name"), ("email", "email")):
            if isinstance(profile.get(src), str):
                attrs[dst] = profile[src]
    return attrs


def _relationships(entity: _Entity, catalog: _Catalog) -> Iterator[Item]:
    for rule in _SPEC_RULES:
        if entity.ref.kind in rule.kinds and entity.spec.get(rule.field) is not None:
            yield from _spec_field(entity, rule, catalog)
    for i, rel in enumerate(entity.relations):
        yield from _relation(entity, i, rel, catalog)


def _spec_field(entity: _Entity, rule: _Rule, catalog: _Catalog) -> Iterator[Item]:
    value = entity.spec[rule.field]
    values = value if isinstance(value, list) else [value]
    where = f"{entity.where} ({entity.ref.key} spec.{rule.field})"
    for raw in values:
        default = rule.default_kind
        if default is None and isinstance(raw, str) and ":" not in raw:
            default = _DEPENDS_FALLBACK
            yield problem(
                Severity.WARNING,
                where,
                f"{raw!r} names no kind (Backstage requires one here); taken as a Component",
            )
        try:
            target = parse_ref(raw, default_kind=default, default_namespace=entity.ref.namespace)
        except ValueError as exc:
            yield problem(Severity.ERROR, where, str(exc))
            continue
        yield from _edge(entity, target, rule.rel, rule.direction, where, catalog)


def _relation(entity: _Entity, index: int, rel: object, catalog: _Catalog) -> Iterator[Item]:
    where = f"{entity.where} ({entity.ref.key} relations[{index}])"
    if not isinstance(rel, Mapping) or not isinstance(rel.get("type"), str):
        yield problem(Severity.ERROR, where, "a relation needs a type and a targetRef")
        return
    known = _RELATIONS.get(rel["type"].lower())
    if known is None:
        yield problem(Severity.UNSUPPORTED, where, f"relation type {rel['type']!r}: skipped")
        return
    raw = rel.get("targetRef", rel.get("target"))
    try:
        # A processed relation always carries a full reference: no defaults apply.
        target = parse_ref(raw, default_kind=None, default_namespace=entity.ref.namespace)
    except ValueError as exc:
        yield problem(Severity.ERROR, where, str(exc))
        return
    yield from _edge(entity, target, known[0], known[1], where, catalog)


def _edge(
    entity: _Entity, other: Ref, rel: str, direction: _Dir, where: str, catalog: _Catalog
) -> Iterator[Item]:
    """One relationship between ``entity`` and ``other``, checked against the registry."""
    defined = catalog.entities.get(other.key)
    other_class = defined.ci_class if defined else ci_class_for(other.kind)
    if other_class is None:
        yield problem(
            Severity.UNSUPPORTED, where, f"{other.key}: kind {other.kind!r} is not modelled"
        )
        return
    placeholder = None if defined else Placeholder(ci_class=other_class, name=other.name)
    src, tgt = (entity.ref, other) if direction is _Dir.OUT else (other, entity.ref)
    src_class, tgt_class = (
        (entity.ci_class, other_class) if direction is _Dir.OUT else (other_class, entity.ci_class)
    )
    try:
        check_allowed(rel, src_class, tgt_class)
    except ForbiddenRelationship as exc:
        yield problem(Severity.ERROR, where, exc.message)
        return
    yield DiscoveredRel(
        type=rel,
        source=src.key,
        target=tgt.key,
        target_placeholder=placeholder if direction is _Dir.OUT else None,
        source_placeholder=placeholder if direction is _Dir.IN else None,
        where=where,
    )
