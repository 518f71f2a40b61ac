"""SPDX documents, 2.2/2.3 JSON and 3.0 JSON-LD: packages and how they depend on each other.

Each package becomes a CI identified by its purl (2.x ``externalRefs`` of ``referenceType``
``purl``, 3.0 ``software_packageUrl`` or a ``packageUrl`` external identifier), the same
identifier kind and value the CycloneDX adapter gives a component, so one package listed by
both kinds of SBOM is one CI. A package without a purl is identified by where SPDX says it
lives: ``key=spdx:{documentNamespace}#{SPDXID}`` (2.x) or ``key=spdx:{spdxId}`` (3.0, whose
ids are already IRIs). The adapter-local key is that same ``spdx:...`` string.

The packages a document describes (``documentDescribes``, ``DESCRIBES`` relationships, 3.0
``describes`` and the ``rootElement`` of the document or of a ``software_Sbom``) are what
the SBOM is about, as ``metadata.component`` is for CycloneDX: they become Applications,
every other package a SoftwarePackage, so a product described by both kinds of SBOM is one
CI of one class.

Relationships read: ``DEPENDS_ON`` / ``dependsOn`` (also a 3.0 ``LifecycleScopedRelationship``,
whose ``scope`` is kept) and the 2.x ``DEPENDENCY_OF`` and ``*_DEPENDENCY_OF`` turned
around, become DEPENDS_ON; ``CONTAINS`` / ``contains`` and ``CONTAINED_BY`` turned around
become CONTAINS from an Application. The relationship registry lets a SoftwarePackage
contain nothing, so a package containing another becomes DEPENDS_ON with
``spdx_relationship=CONTAINS``: impact flows the same way (from the part to the whole). An
end the document never defines (another document's element, an unknown id) becomes an
unresolved SoftwarePackage placeholder. Other relationship types are reported once per type
and file as unsupported.

Not CIs: files, snippets and licences. They are counted (stats ``files``, ``snippets``,
``licenses``); a package's declared and concluded licences are kept as its ``licenses``
attribute, and a DEPENDS_ON or CONTAINS with a file or snippet at one end is counted
(``relationships_with_files``), not kept.

The whole document is read before any record is made: SPDX relationships and 3.0 elements
refer forwards and backwards, and which packages are described decides their class.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.built import built
from cmdb.domain.errors import ForbiddenRelationship, InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from cmdb.store.gcpause import gc_paused
from discovery.adapters._build import problem
from discovery.adapters._coerce import as_identifier, as_list, stripped_text
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

SUPPORTED_2 = ("SPDX-2.2", "SPDX-2.3")
_CONTEXT_3 = re.compile(r"^https://spdx\.org/rdf/3\.0\.[0-9]+/spdx-context\.jsonld$")

# What a relationship type means here: (type, reversed, lifecycle scope).
_RELS_2: dict[str, tuple[str, bool, str | None]] = {
    "DEPENDS_ON": ("DEPENDS_ON", False, None),
    "DEPENDENCY_OF": ("DEPENDS_ON", True, None),
    "BUILD_DEPENDENCY_OF": ("DEPENDS_ON", True, "build"),
    "DEV_DEPENDENCY_OF": ("DEPENDS_ON", True, "development"),
    "OPTIONAL_DEPENDENCY_OF": ("DEPENDS_ON", True, "optional"),
    "PROVIDED_DEPENDENCY_OF": ("DEPENDS_ON", True, "provided"),
    "RUNTIME_DEPENDENCY_OF": ("DEPENDS_ON", True, "runtime"),
    "TEST_DEPENDENCY_OF": ("DEPENDS_ON", True, "test"),
    "CONTAINS": ("CONTAINS", False, None),
    "CONTAINED_BY": ("CONTAINS", True, None),
    "DESCRIBES": ("DESCRIBES", False, None),
    "DESCRIBED_BY": ("DESCRIBES", True, None),
}
_RELS_3: dict[str, tuple[str, bool, str | None]] = {
    "dependsOn": ("DEPENDS_ON", False, None),
    "contains": ("CONTAINS", False, None),
    "describes": ("DESCRIBES", False, None),
}
_LICENSE_RELS_3 = {"hasDeclaredLicense": 0, "hasConcludedLicense": 1}

# Top-level parts of a 2.x document this adapter reads, or that carry nothing for a CMDB.
_READ_2 = {
    "spdxVersion",
    "SPDXID",
    "name",
    "documentNamespace",
    "documentDescribes",
    "packages",
    "files",
    "snippets",
    "relationships",
    "externalDocumentRefs",
    "hasExtractedLicensingInfos",
}
_IGNORED_2 = {"$schema", "creationInfo", "dataLicense", "comment", "annotations", "reviewers"}

# 3.0 element types, by what becomes of them.
_RELATIONSHIPS_3 = {"Relationship", "LifecycleScopedRelationship"}
_FILES_3 = {"software_File": "file", "software_Snippet": "snippet"}
_DOCUMENTS_3 = {"SpdxDocument", "software_Sbom", "Bom", "Bundle"}
_AGENTS_3 = {"Agent", "Person", "Organization", "SoftwareAgent", "Tool"}
_QUIET_3 = {"CreationInfo", "Annotation", "ExternalMap", "Hash", "IndividualElement"}
_NO_VALUE = {"NOASSERTION", "NONE"}
_LISTED = "https://spdx.org/licenses/"
_FILE_KINDS = {"file", "snippet"}
_AGENT_PREFIXES = ("Person", "Organization", "Tool")


# The fields a validated record was given (and so marks set), for the records built here.
_CI_GIVEN = frozenset({"key", "ci_class", "name", "identifiers", "fields", "attributes", "where"})
_REL_GIVEN = frozenset(
    {"type", "source", "target", "attributes", "source_placeholder", "target_placeholder", "where"}
)


@dataclass
class _Package:
    ref: str  # the element id as the document names it
    key: str
    name: str
    purl: str | None
    fields: dict[str, Any]
    attrs: dict[str, Any]
    where: str
    # 3.0 names licences by relationships: declared, concluded, filled in as they come.
    licenses: tuple[list[str], list[str]] | None = None


@dataclass
class _Doc:
    """One file read into packages, the other elements by kind, and relationships."""

    path: Path
    packages: dict[str, _Package] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)  # element id -> kind (file, ...)
    # (type, source, target, attributes, where): DEPENDS_ON or CONTAINS, turned forwards
    rels: list[tuple[str, str, str, dict[str, Any], str]] = field(default_factory=list)
    described: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    not_modelled: Counter[str] = field(default_factory=Counter)  # relationship type -> count
    external: dict[str, str] = field(default_factory=dict)  # 2.x DocumentRef-x -> namespace
    namespace: str = ""  # 2.x documentNamespace; "" for 3.0


def read(paths: Sequence[Path]) -> Iterator[Item]:
    for path in paths:
        yield from _read_one(Path(path))


def _read_one(path: Path) -> Iterator[Item]:
    raw = json_document(path)
    if isinstance(raw, Mapping) and "spdxVersion" in raw:
        read_doc = _read_2
    elif isinstance(raw, Mapping) and ("@graph" in raw or "@context" in raw):
        read_doc = _read_3
    else:
        raise InvalidInput(
            'not an SPDX document: no "spdxVersion" (SPDX 2.2/2.3 JSON) '
            'and no "@context"/"@graph" (SPDX 3.0 JSON-LD)',
            where=str(path),
        )
    # A document's records are made with the cyclic collector paused (as discovery.io and
    # the AWS adapter do): they hold no cycles, and with the parsed document and the
    # records made so far alive, its passes walked all of them again and again.
    with gc_paused():
        doc = read_doc(raw, path)
        records = list(_records(doc))
    yield from doc.problems
    yield from records
    for name, count in doc.stats.items():
        yield Stat(name=name, value=count)


# -- values --------------------------------------------------------------------------------


def _text(value: object) -> str | None:
    """``stripped_text``, with a fast path for the common case of unpadded ASCII."""
    if type(value) is str and value and "!" <= value[0] <= "~" and "!" <= value[-1] <= "~":
        return value
    return stripped_text(value)


def _value(value: object) -> str | None:
    """Text, where SPDX's NOASSERTION / NONE mean there is none."""
    text = _text(value)
    return None if text is None or text in _NO_VALUE else text


def _purpose(value: object) -> str | None:
    # 2.3 spells APPLICATION, 3.0 application: one spelling, so a package seen by both agrees.
    text = _value(value)
    return text.lower().replace("-", "_") if text else None


def _put(attrs: dict[str, Any], name: str, value: object) -> None:
    if value is not None and value != []:
        attrs[name] = value


# -- SPDX 2.2 / 2.3 ------------------------------------------------------------------------


def _read_2(raw: Mapping[str, Any], path: Path) -> _Doc:
    version = raw.get("spdxVersion")
    if version not in SUPPORTED_2:
        raise InvalidInput(
            f"spdxVersion {version!r} is not supported; supported: {', '.join(SUPPORTED_2)}",
            where=f"{path}:spdxVersion",
        )
    namespace = _text(raw.get("documentNamespace"))
    if namespace is None:
        # Without it a package has no identity beyond this file: SPDX requires it.
        raise InvalidInput("documentNamespace is missing", where=f"{path}:documentNamespace")
    doc = _Doc(path, namespace=namespace)
    for key in raw:
        if key not in _READ_2 and key not in _IGNORED_2:
            doc.problems.append(
                problem(Severity.UNSUPPORTED, f"{path}:{key}", f"{key!r} is not read")
            )
    for i, ext in enumerate(_list(raw, "externalDocumentRefs", path)):
        ext_id = _text(ext.get("externalDocumentId")) if isinstance(ext, Mapping) else None
        ext_ns = _text(ext.get("spdxDocument")) if isinstance(ext, Mapping) else None
        if ext_id and ext_ns:
            doc.external[ext_id] = ext_ns
        else:
            where = f"{path}:externalDocumentRefs[{i}]"
            doc.problems.append(
                problem(Severity.ERROR, where, "needs externalDocumentId and spdxDocument")
            )
    doc.other[_text(raw.get("SPDXID")) or "SPDXRef-DOCUMENT"] = "document"
    for kind, part in (("file", "files"), ("snippet", "snippets")):
        items = _list(raw, part, path)
        for item in items:
            ref = _text(item.get("SPDXID")) if isinstance(item, Mapping) else None
            if ref:
                doc.other[ref] = kind
        if items:
            doc.stats[part] += len(items)
    licenses = _list(raw, "hasExtractedLicensingInfos", path)
    if licenses:
        doc.stats["licenses"] += len(licenses)
    for i, pkg in enumerate(_list(raw, "packages", path)):
        _package_2(pkg, path, i, doc)
    doc.described.update(t for t in as_list(raw.get("documentDescribes")) if isinstance(t, str))
    for i, rel in enumerate(_list(raw, "relationships", path)):
        if not isinstance(rel, Mapping):
            doc.problems.append(
                problem(Severity.ERROR, f"{path}:relationships[{i}]", "not an object")
            )
            continue
        source = _text(rel.get("spdxElementId"))
        target = _text(rel.get("relatedSpdxElement"))
        rtype = _text(rel.get("relationshipType"))
        if source is None or target is None or rtype is None:
            doc.problems.append(
                problem(
                    Severity.ERROR,
                    f"{path}:relationships[{i}]",
                    "a relationship needs spdxElementId, relationshipType and relatedSpdxElement",
                )
            )
            continue
        _add_rel(doc, _RELS_2, rtype, source, target, None, path, "relationships", i)
    return doc


def _list(raw: Mapping[str, Any], key: str, path: Path) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise InvalidInput(f"{key} must be a list", where=f"{path}:{key}")
    return value


def _package_2(pkg: object, path: Path, i: int, doc: _Doc) -> None:
    if not isinstance(pkg, Mapping):
        doc.problems.append(
            problem(Severity.ERROR, f"{path}:packages[{i}]", "a package must be an object")
        )
        return
    ref = _text(pkg.get("SPDXID"))
    name = _text(pkg.get("name"))
    if ref is None or name is None:
        doc.problems.append(
            problem(Severity.ERROR, f"{path}:packages[{i}]", "a package needs an SPDXID and a name")
        )
        return
    purls: list[str] = []
    cpe: str | None = None
    for ext in as_list(pkg.get("externalRefs")):
        if not isinstance(ext, Mapping):
            continue
        rtype, locator = ext.get("referenceType"), _text(ext.get("referenceLocator"))
        if locator and rtype == "purl":
            purls.append(locator)
        elif locator and rtype in ("cpe23Type", "cpe22Type") and cpe is None:
            cpe = locator
    attrs: dict[str, Any] = {"spdx_id": ref}
    _put(attrs, "supplier", _agent_2(pkg.get("supplier")))
    _put(attrs, "originator", _agent_2(pkg.get("originator")))
    _put(attrs, "download_location", _value(pkg.get("downloadLocation")))
    _put(attrs, "homepage", _value(pkg.get("homepage")))
    declared, concluded = _value(pkg.get("licenseDeclared")), _value(pkg.get("licenseConcluded"))
    _put(attrs, "licenses", [t for t in dict.fromkeys((declared, concluded)) if t])
    _put(attrs, "primary_purpose", _purpose(pkg.get("primaryPackagePurpose")))
    _put(attrs, "cpe", cpe)
    _put(attrs, "other_purls", purls[1:])
    fields: dict[str, Any] = {}
    _put(fields, "version", _value(pkg.get("versionInfo")))
    _put(fields, "description", _value(pkg.get("description")) or _value(pkg.get("summary")))
    _add_package(doc, ref, name, purls[0] if purls else None, fields, attrs, path, "packages", i)


def _agent_2(value: object) -> str | None:
    """``Organization: DocFest`` -> ``DocFest``: the name alone, as 3.0 gives it."""
    text = _value(value)
    if text is None:
        return None
    kind, sep, name = text.partition(":")
    if sep and kind in _AGENT_PREFIXES:
        return name.strip() or None
    return text


# -- SPDX 3.0 ------------------------------------------------------------------------------


def _read_3(raw: Mapping[str, Any], path: Path) -> _Doc:
    context = raw.get("@context")
    if not (isinstance(context, str) and _CONTEXT_3.match(context)):
        raise InvalidInput(
            f"@context {context!r} is not the SPDX 3.0 context "
            "(https://spdx.org/rdf/3.0.x/spdx-context.jsonld)",
            where=f"{path}:@context",
        )
    graph = raw.get("@graph")
    if not isinstance(graph, list):
        raise InvalidInput("@graph must be a list of elements", where=f"{path}:@graph")
    doc = _Doc(path)
    # Elements refer to each other in any order: sort them out first, then read packages
    # (which name their supplier) and relationships (which name packages and licences).
    packages: list[tuple[int, Mapping[str, Any]]] = []
    rels: list[tuple[int, Mapping[str, Any]]] = []
    agents: dict[str, str] = {}
    licenses: dict[str, str | None] = {}
    unknown: Counter[str] = Counter()
    for i, el in enumerate(graph):
        if not isinstance(el, Mapping):
            doc.problems.append(problem(Severity.ERROR, f"{path}:@graph[{i}]", "not an element"))
            continue
        etype = el.get("type")
        if not isinstance(etype, str):  # first: a list or an object is no set's member
            unknown[repr(etype)] += 1
        elif etype == "software_Package":
            packages.append((i, el))
        elif etype in _RELATIONSHIPS_3:
            rels.append((i, el))
        elif etype.startswith(("simplelicensing_", "expandedlicensing_")):
            doc.stats["licenses"] += 1
            ref = _element_id(el)
            if ref:
                doc.other[ref] = "license"
                licenses[ref] = _value(el.get("simplelicensing_licenseExpression")) or _value(
                    el.get("name")
                )
        elif etype in _FILES_3:
            kind = _FILES_3[etype]
            doc.stats[f"{kind}s"] += 1
            ref = _element_id(el)
            if ref:
                doc.other[ref] = kind
        elif etype in _DOCUMENTS_3:
            ref = _element_id(el)
            if ref:
                doc.other[ref] = "document"
            doc.described.update(t for t in as_list(el.get("rootElement")) if isinstance(t, str))
        elif etype in _AGENTS_3 or etype in _QUIET_3:
            ref = _element_id(el)
            if ref:
                doc.other[ref] = "agent" if etype in _AGENTS_3 else "other"
                name = _text(el.get("name"))
                if name and etype in _AGENTS_3:
                    agents[ref] = name
        else:
            unknown[etype] += 1
            ref = _element_id(el)
            if ref:
                doc.other[ref] = "other"
    for etype, count in unknown.items():
        doc.problems.append(
            problem(Severity.UNSUPPORTED, f"{path}:@graph", f"{count} {etype} element(s) not read")
        )
    for i, el in packages:
        _package_3(el, path, i, agents, doc)
    for i, el in rels:
        _relationship_3(el, path, i, licenses, doc)
    return doc


def _element_id(el: Mapping[str, Any]) -> str | None:
    return _text(el.get("spdxId")) or _text(el.get("@id"))


def _package_3(
    el: Mapping[str, Any], path: Path, i: int, agents: Mapping[str, str], doc: _Doc
) -> None:
    ref = _element_id(el)
    name = _text(el.get("name"))
    if ref is None or name is None:
        doc.problems.append(
            problem(Severity.ERROR, f"{path}:@graph[{i}]", "a package needs an spdxId and a name")
        )
        return
    purl = _text(el.get("software_packageUrl"))
    purls = [purl] if purl else []
    cpe: str | None = None
    for ext in as_list(el.get("externalIdentifier")):
        if not isinstance(ext, Mapping):
            continue
        etype, value = ext.get("externalIdentifierType"), _text(ext.get("identifier"))
        if value and etype == "packageUrl" and value not in purls:
            purls.append(value)
        elif value and etype in ("cpe23", "cpe22") and cpe is None:
            cpe = value
    attrs: dict[str, Any] = {"spdx_id": ref}
    supplier = _text(el.get("suppliedBy"))
    _put(attrs, "supplier", agents.get(supplier, supplier) if supplier else None)
    originators = [o for o in (_text(o) for o in as_list(el.get("originatedBy"))) if o]
    if originators:
        attrs["originator"] = ", ".join(agents.get(o, o) for o in originators)
    _put(attrs, "download_location", _value(el.get("software_downloadLocation")))
    _put(attrs, "homepage", _value(el.get("software_homePage")))
    _put(attrs, "primary_purpose", _purpose(el.get("software_primaryPurpose")))
    _put(attrs, "cpe", cpe)
    _put(attrs, "other_purls", purls[1:])
    fields: dict[str, Any] = {}
    _put(fields, "version", _value(el.get("software_packageVersion")))
    _put(fields, "description", _value(el.get("description")) or _value(el.get("summary")))
    _add_package(doc, ref, name, purls[0] if purls else None, fields, attrs, path, "@graph", i)


def _relationship_3(
    el: Mapping[str, Any], path: Path, i: int, licenses: Mapping[str, str | None], doc: _Doc
) -> None:
    source = _text(el.get("from"))
    rtype = _text(el.get("relationshipType"))
    to = el.get("to")
    listed = to if isinstance(to, list) else [to]
    targets = [t for t in (_text(x) for x in listed) if t]
    if source is None or rtype is None or not targets or len(targets) != len(listed):
        doc.problems.append(
            problem(
                Severity.ERROR,
                f"{path}:@graph[{i}]",
                "a relationship needs from, relationshipType and to",
            )
        )
        return
    which = _LICENSE_RELS_3.get(rtype)
    if which is not None:
        pkg = doc.packages.get(source)
        if pkg is None:
            return  # a file's licence: files are not CIs
        if pkg.licenses is None:
            pkg.licenses = ([], [])
        for target in targets:
            if target in licenses:
                text = licenses[target]
            elif target.startswith(_LISTED):
                # A listed licence is named by its IRI and need not be in the graph.
                text = target.removeprefix(_LISTED)
            else:
                text = None
            if text:
                pkg.licenses[which].append(text)
        return
    scope = _text(el.get("scope"))
    for target in targets:
        _add_rel(doc, _RELS_3, rtype, source, target, scope, path, "@graph", i)


# -- shared --------------------------------------------------------------------------------


def _add_package(
    doc: _Doc,
    ref: str,
    name: str,
    purl: str | None,
    fields: dict[str, Any],
    attrs: dict[str, Any],
    path: Path,
    part: str,
    i: int,
) -> None:
    where = f"{path}:{part}[{i}]"
    if ref in doc.packages:
        doc.problems.append(problem(Severity.ERROR, where, f"element {ref!r} is defined twice"))
        return
    doc.packages[ref] = _Package(ref, _key(doc, ref), name, purl, fields, attrs, where)
    doc.stats["packages"] += 1


def _key(doc: _Doc, ref: str) -> str:
    return f"spdx:{doc.namespace}#{ref}" if doc.namespace else f"spdx:{ref}"


def _external_key(doc: _Doc, ref: str) -> str | None:
    """The key of an element this document names but does not define, if it can say one."""
    if not doc.namespace:
        return f"spdx:{ref}"
    ext, sep, local = ref.partition(":")
    if not sep:
        return f"spdx:{doc.namespace}#{ref}"
    namespace = doc.external.get(ext)
    return f"spdx:{namespace}#{local}" if namespace and local else None


def _add_rel(
    doc: _Doc,
    table: Mapping[str, tuple[str, bool, str | None]],
    rtype: str,
    source: str,
    target: str,
    scope: str | None,
    path: Path,
    part: str,
    i: int,
) -> None:
    meaning = table.get(rtype)
    if meaning is None:
        doc.not_modelled[rtype] += 1
        return
    kind, reverse, implied_scope = meaning
    if reverse:
        source, target = target, source
    if kind == "DESCRIBES":
        doc.described.add(target)
        return
    scope = scope or implied_scope
    doc.rels.append(
        (kind, source, target, {"scope": scope} if scope else {}, f"{path}:{part}[{i}]")
    )


def _records(doc: _Doc) -> Iterator[Item]:
    classes: dict[str, str] = {}
    for pkg in doc.packages.values():
        ci = _package_ci(pkg, "Application" if pkg.ref in doc.described else "SoftwarePackage")
        if isinstance(ci, DiscoveredCI):
            classes[pkg.ref] = ci.ci_class
        yield ci
    if doc.packages and not (doc.described & doc.packages.keys()):
        yield problem(
            Severity.WARNING, str(doc.path), "describes no package: no package is an Application"
        )
    allowed: dict[tuple[str, str, str], str | None] = {}
    for rel in doc.rels:
        item = _edge(rel, classes, allowed, doc)
        if item is not None:
            yield item
    for rtype, count in doc.not_modelled.items():
        yield problem(
            Severity.UNSUPPORTED, str(doc.path), f"{count} {rtype} relationship(s) not modelled"
        )


def _package_ci(pkg: _Package, ci_class: str) -> DiscoveredCI | Problem:
    attrs = pkg.attrs
    if pkg.licenses is not None:
        declared, concluded = pkg.licenses
        _put(attrs, "licenses", list(dict.fromkeys((*declared, *concluded))))
    kind, value = (IdentifierKind.PURL, pkg.purl) if pkg.purl else (IdentifierKind.KEY, pkg.key)
    ident = as_identifier(kind, value)
    try:
        if ident is not None:
            # What validating the CI below makes of a good identifier, built without
            # validating it: the class is one of two, the key and name never empty, the
            # fields standard ones (a test re-validates the records of a 2k document).
            return built(
                DiscoveredCI,
                _CI_GIVEN,
                key=pkg.key,
                ci_class=ci_class,
                name=pkg.name,
                identifiers=(ident,),
                fields=pkg.fields,
                attributes=attrs,
                unresolved=False,
                where=pkg.where,
            )
        # Given as data, a bad identifier is refused by validation, in its words.
        return DiscoveredCI(
            key=pkg.key,
            ci_class=ci_class,
            name=pkg.name,
            identifiers=({"kind": kind, "value": value},),
            fields=pkg.fields,
            attributes=attrs,
            where=pkg.where,
        )
    except ValidationError as exc:  # an identifier too long, say
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        return problem(Severity.ERROR, pkg.where, f"cannot build a CI: {message}")


def _edge(
    rel: tuple[str, str, str, dict[str, Any], str],
    classes: Mapping[str, str],
    allowed: dict[tuple[str, str, str], str | None],
    doc: _Doc,
) -> DiscoveredRel | Problem | None:
    rtype, source, target, attrs, where = rel
    src = _end(source, classes, doc, rtype, where)
    tgt = _end(target, classes, doc, rtype, where) if isinstance(src, tuple) else None
    if not isinstance(src, tuple):
        return src
    if not isinstance(tgt, tuple):
        return tgt
    (src_key, src_class, src_ph), (tgt_key, tgt_class, tgt_ph) = src, tgt
    if src_key == tgt_key:
        return problem(Severity.WARNING, where, f"{rtype} from {source!r} to itself: not kept")
    if rtype == "CONTAINS" and src_class == "SoftwarePackage":
        rtype, attrs = "DEPENDS_ON", {**attrs, "spdx_relationship": "CONTAINS"}
    pair = (rtype, src_class, tgt_class)
    if pair not in allowed:
        try:
            check_allowed(*pair)
            allowed[pair] = None
        except ForbiddenRelationship as exc:
            allowed[pair] = exc.message
    refused = allowed[pair]
    if refused is not None:
        return problem(Severity.ERROR, where, refused)
    # Built without validating it again: the type is one of the registry's names (from the
    # tables above), its class pair checked just now, the ends' keys text, the attributes a
    # dict of this relationship's own (a test re-validates the records of a 2k document).
    return built(
        DiscoveredRel,
        _REL_GIVEN,
        type=rtype,
        source=src_key,
        target=tgt_key,
        confidence=1.0,
        attributes=attrs,
        target_placeholder=tgt_ph,
        source_placeholder=src_ph,
        where=where,
    )


def _end(
    ref: str, classes: Mapping[str, str], doc: _Doc, rtype: str, where: str
) -> tuple[str, str, Placeholder | None] | Problem | None:
    """One end of a relationship: (key, class, placeholder), a Problem, or None to drop it."""
    pkg = doc.packages.get(ref)
    if pkg is not None:
        cls = classes.get(ref)
        # None: the package itself was refused, with its own problem.
        return (pkg.key, cls, None) if cls is not None else None
    kind = doc.other.get(ref)
    if kind in _FILE_KINDS:
        # Counted into the stats the file yields once its records are out.
        doc.stats["relationships_with_files"] += 1
        return None
    if kind is not None or ref in _NO_VALUE:
        return problem(
            Severity.UNSUPPORTED,
            where,
            f"{rtype} with {ref!r} ({kind or 'no element'}) at one end is not modelled",
        )
    key = _external_key(doc, ref)
    if key is None:
        return problem(Severity.ERROR, where, f"{ref!r} names an external document not declared")
    return key, "SoftwarePackage", Placeholder(ci_class="SoftwarePackage", name=ref)
