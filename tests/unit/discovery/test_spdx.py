"""SPDX adapter: the real 2.2/2.3 JSON and 3.0 JSON-LD examples, and hand-written edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.spdx import read
from discovery.records import Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
SPDX = ROOT.parent / "shared" / "data" / "inventories" / "spdx"
SBOM = ROOT.parent / "shared" / "data" / "inventories" / "sbom"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

K8S_NS = "https://spdx.org/spdxdocs/k8s-releng-bom-7c6a33ab-bd76-4b06-b291-a850e0815b07"
EDGES_NS = "https://example.org/spdx/shop-2.0-edges"


def _real(name: str) -> Inventory:
    path = SPDX / name
    if not path.is_file():
        pytest.skip(f"the shared real inventories are not checked out at {SPDX}")
    return collect("spdx", read([path]))


def _fixture(name: str) -> Inventory:
    return collect("spdx", read([FIXTURES / name]))


def _allowed(inv: Inventory) -> None:
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


def _by_name(inv: Inventory) -> dict[str, Any]:
    return {c.name: c for c in inv.cis}


def _purls(inv: Inventory) -> dict[str, str]:
    return {
        c.name: i.value for c in inv.cis for i in c.identifiers if i.kind is IdentifierKind.PURL
    }


def _edges(inv: Inventory) -> set[tuple[str, str, str]]:
    names = {c.key: c.name for c in inv.cis}
    return {(names[r.source], r.type, names[r.target]) for r in inv.rels}


# -- the real documents ---------------------------------------------------------------------


def test_example11_2_3_the_described_package_depends_on_three_crates() -> None:
    inv = _real("spdx2.3_example11_sbom.spdx.json")
    classes = {c.name: c.ci_class for c in inv.cis}
    assert classes == {
        "hello-server-src": "Application",
        "hyper": "SoftwarePackage",
        "tokio": "SoftwarePackage",
        "pretty_env_logger": "SoftwarePackage",
    }
    assert _purls(inv) == {
        "hello-server-src": "pkg:deb/debian/libselinux1-dev@3.1-3?arch=s390x",
        "hyper": "pkg:cargo/hyper@0.14",
        "tokio": "pkg:cargo/tokio@1.19.2",
        "pretty_env_logger": "pkg:cargo/pretty_env_logger@0.4.0",
    }
    assert _edges(inv) == {
        ("hello-server-src", "DEPENDS_ON", "hyper"),
        ("hello-server-src", "DEPENDS_ON", "tokio"),
        ("hello-server-src", "DEPENDS_ON", "pretty_env_logger"),
    }
    tokio = _by_name(inv)["tokio"]
    assert tokio.key == f"spdx:{K8S_NS}#SPDXRef-Package-SPDXRef-Package-cargo-tokio-1"
    assert tokio.fields == {"version": "1.19.2"}
    # Declared NOASSERTION, concluded MIT: only what is asserted is kept.
    assert tokio.attributes["licenses"] == ["MIT"]
    # The described file and the GENERATED_FROM between it and the package are not CIs.
    assert inv.stats["files"] == 1 and inv.stats["packages"] == 4
    assert [(p.severity, p.message) for p in inv.problems] == [
        (Severity.UNSUPPORTED, "1 GENERATED_FROM relationship(s) not modelled")
    ]
    assert not inv.unresolved
    _allowed(inv)


def test_example11_3_0_says_what_2_3_says() -> None:
    old = _real("spdx2.3_example11_sbom.spdx.json")
    new = _real("spdx3.0_example11_sbom.spdx3.json")
    assert _purls(new) == _purls(old)
    assert {c.name: c.ci_class for c in new.cis} == {c.name: c.ci_class for c in old.cis}
    assert _edges(new) == _edges(old)
    # The 3.0 dependencies are lifecycle-scoped (build).
    assert {r.attributes.get("scope") for r in new.rels} == {"build"}
    # Versions, licences (3.0 relationships to licence elements) and the rest agree, but
    # for the element ids and the one expression 3.0 writes with parentheses.
    for name, ci in _by_name(new).items():
        was = _by_name(old)[name]
        assert ci.fields == was.fields, name
        strip = {"spdx_id", "licenses"}
        assert {k: v for k, v in ci.attributes.items() if k not in strip} == {
            k: v for k, v in was.attributes.items() if k not in strip
        }, name
    assert _by_name(new)["hyper"].attributes["licenses"] == ["MIT"]
    assert _by_name(new)["pretty_env_logger"].attributes["licenses"] == ["(MIT OR Apache-2.0)"]
    assert new.stats["licenses"] == 6 and new.stats["files"] == 1
    _allowed(new)


def test_example13_contains_and_depends_on_from_the_sbom_root() -> None:
    inv = _real("spdx3.0_example13.spdx3.json")
    # The document's root is an Sbom whose root is the application.
    assert {c.name: c.ci_class for c in inv.cis} == {
        "Acme Application": "Application",
        "npm-elliptic": "SoftwarePackage",
        "alpine:latest": "SoftwarePackage",
        "openssl": "SoftwarePackage",
    }
    assert _edges(inv) == {
        ("Acme Application", "CONTAINS", "npm-elliptic"),
        ("Acme Application", "DEPENDS_ON", "alpine:latest"),
        # A package contains nothing in the model: impact still flows from openssl.
        ("alpine:latest", "DEPENDS_ON", "openssl"),
    }
    contained = next(r for r in inv.rels if r.attributes.get("spdx_relationship"))
    assert contained.attributes == {"spdx_relationship": "CONTAINS"}
    # No purls here: each package is identified by its IRI.
    app = _by_name(inv)["Acme Application"]
    key = "spdx:urn:product-acme-application-1.3-4fe40e24-20e3-11ee-be56-0242ac120002"
    assert app.key == key
    assert [(i.kind, i.value) for i in app.identifiers] == [(IdentifierKind.KEY, key)]
    assert app.attributes["supplier"] == "Acme Company"
    assert app.attributes["primary_purpose"] == "application"
    assert [p.message for p in inv.problems] == ["1 availableFrom relationship(s) not modelled"]
    _allowed(inv)


@pytest.mark.parametrize(
    ("name", "files", "with_files"),
    [
        ("spdx2.2_example12_hello-dist.spdx.json", 1, 0),
        ("spdx2.2_example12_hello-src.spdx.json", 12, 0),
        ("spdx2.3_example10_hello-source.spdx.json", 5, 0),
        ("spdx3.0_example10_hello-source.spdx3.json", 5, 5),
        ("spdx3.0_example12_hello-dist.spdx3.json", 1, 1),
    ],
)
def test_hello_documents_one_application_and_its_files_counted(
    name: str, files: int, with_files: int
) -> None:
    inv = _real(name)
    assert [(c.name, c.ci_class) for c in inv.cis] == [("hello", "Application")]
    assert inv.rels == []
    assert inv.stats["files"] == files
    assert inv.stats.get("relationships_with_files", 0) == with_files
    assert not [p for p in inv.problems if p.severity is Severity.ERROR]


def test_hello_source_2_3_and_3_0_agree_on_what_they_say() -> None:
    old = _by_name(_real("spdx2.3_example10_hello-source.spdx.json"))["hello"]
    new = _by_name(_real("spdx3.0_example10_hello-source.spdx3.json"))["hello"]
    assert old.attributes["licenses"] == new.attributes["licenses"] == ["MIT"]
    assert old.attributes["originator"] == new.attributes["originator"] == "Nisha Kumar"
    assert old.attributes["primary_purpose"] == new.attributes["primary_purpose"] == "library"
    # Without a purl the identity is where SPDX says the element lives: two documents, two ids.
    assert (
        old.key == "spdx:https://github.com/spdx/spdx-examples/example10/spdx#SPDXRef-hello-source"
    )
    assert (
        new.key == "spdx:https://github.com/spdx/spdx-examples/example10/spdx-specv3/SPDXRef-gnrtd2"
    )


def test_every_real_document_reads() -> None:
    if not SPDX.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {SPDX}")
    names = sorted(p.name for p in SPDX.iterdir())
    assert len(names) == 8
    for name in names:
        inv = _real(name)
        assert inv.cis and not inv.unresolved, name
        _allowed(inv)


# -- edge cases -----------------------------------------------------------------------------


def test_2_3_fixture_relationships_both_ways_and_scopes() -> None:
    inv = _fixture("spdx_edges.json")
    assert _edges(inv) == {
        ("shop", "DEPENDS_ON", "left-pad"),  # left-pad DEPENDENCY_OF shop
        ("shop", "CONTAINS", "bundled-assets"),
        ("bundled-assets", "DEPENDS_ON", "inner"),  # inner CONTAINED_BY bundled-assets
        ("shop", "DEPENDS_ON", "jest"),  # jest DEV_DEPENDENCY_OF shop
        ("shop", "DEPENDS_ON", "DocumentRef-base:SPDXRef-libc"),
        ("shop", "DEPENDS_ON", "SPDXRef-ghost"),
    }
    attrs = {(r.source.rsplit("#")[-1], r.target.rsplit("#")[-1]): r.attributes for r in inv.rels}
    assert attrs[("SPDXRef-shop", "SPDXRef-jest")] == {"scope": "development"}
    assert attrs[("SPDXRef-assets", "SPDXRef-inner")] == {"spdx_relationship": "CONTAINS"}
    _allowed(inv)


def test_2_3_fixture_packages_identifiers_and_attributes() -> None:
    inv = _fixture("spdx_edges.json")
    by = _by_name(inv)
    shop = by["shop"]
    assert shop.ci_class == "Application"  # documentDescribes and DESCRIBES, once
    assert shop.attributes == {
        "spdx_id": "SPDXRef-shop",
        "supplier": "Example Ltd",
        "licenses": ["MIT"],
        "primary_purpose": "application",
    }
    pad = by["left-pad"]
    # The first purl identifies it (stripped, as CycloneDX's are); the others are kept.
    assert [(i.kind, i.value) for i in pad.identifiers] == [
        (IdentifierKind.PURL, "pkg:npm/left-pad@1.3.0")
    ]
    assert pad.attributes["other_purls"] == ["pkg:github/left-pad/left-pad@v1.3.0"]
    assert pad.attributes["cpe"].startswith("cpe:2.3:a:left-pad")
    assert pad.fields == {"version": "1.3.0", "description": "String left pad"}
    assets = by["bundled-assets"]
    assert [(i.kind, i.value) for i in assets.identifiers] == [
        (IdentifierKind.KEY, f"spdx:{EDGES_NS}#SPDXRef-assets")
    ]
    assert "download_location" not in assets.attributes  # NONE
    assert inv.stats["files"] == inv.stats["snippets"] == inv.stats["licenses"] == 1
    assert inv.stats["relationships_with_files"] == 1


def test_2_3_fixture_placeholders_for_what_the_document_does_not_define() -> None:
    inv = _fixture("spdx_edges.json")
    assert {c.key: c.ci_class for c in inv.unresolved} == {
        # Another document's element, keyed by that document's namespace.
        "spdx:https://example.org/spdx/base-image-7#SPDXRef-libc": "SoftwarePackage",
        f"spdx:{EDGES_NS}#SPDXRef-ghost": "SoftwarePackage",
    }


def test_2_3_fixture_problems_name_the_place() -> None:
    inv = _fixture("spdx_edges.json")
    path = FIXTURES / "spdx_edges.json"
    assert {(p.severity, p.where, p.message) for p in inv.problems} == {
        (Severity.ERROR, f"{path}:packages[5]", "a package needs an SPDXID and a name"),
        (Severity.ERROR, f"{path}:packages[6]", "element 'SPDXRef-left-pad' is defined twice"),
        (Severity.ERROR, f"{path}:packages[7]", "a package must be an object"),
        (
            Severity.ERROR,
            f"{path}:relationships[7]",
            "'DocumentRef-nowhere:SPDXRef-x' names an external document not declared",
        ),
        (
            Severity.UNSUPPORTED,
            f"{path}:relationships[9]",
            "DEPENDS_ON with 'NOASSERTION' (no element) at one end is not modelled",
        ),
        (
            Severity.ERROR,
            f"{path}:relationships[12]",
            "a relationship needs spdxElementId, relationshipType and relatedSpdxElement",
        ),
        (Severity.UNSUPPORTED, str(path), "2 GENERATED_FROM relationship(s) not modelled"),
    }


def test_3_0_fixture() -> None:
    inv = _fixture("spdx3_edges.json")
    assert _edges(inv) == {
        ("shop", "DEPENDS_ON", "left-pad"),
        ("shop", "DEPENDS_ON", "urn:elsewhere:libc"),
        ("shop", "CONTAINS", "bundled-assets"),
        ("bundled-assets", "DEPENDS_ON", "left-pad"),
    }
    assert {r.attributes.get("scope") for r in inv.rels if r.type == "DEPENDS_ON"} == {
        "runtime",
        None,
    }
    shop = _by_name(inv)["shop"]
    assert shop.ci_class == "Application"
    # The purl as an external identifier; the supplier by its agent's name; a listed
    # licence by its IRI (declared) and an expression element (concluded).
    assert _purls(inv)["shop"] == "pkg:npm/shop@2.0"
    assert shop.attributes["supplier"] == "Example Ltd"
    assert shop.attributes["licenses"] == ["Apache-2.0", "MIT"]
    assert [c.key for c in inv.unresolved] == ["spdx:urn:elsewhere:libc"]
    assert inv.stats["relationships_with_files"] == 1
    messages = {p.message for p in inv.problems}
    assert messages == {
        "not an element",
        "a package needs an spdxId and a name",
        "a relationship needs from, relationshipType and to",
        "1 security_Vulnerability element(s) not read",
        "1 hasDynamicLink relationship(s) not modelled",
    }
    _allowed(inv)


@pytest.mark.parametrize("etype", [["software_Package"], {"x": 1}, 7, None])
def test_a_3_0_element_whose_type_is_not_text_is_not_read(tmp_path: Path, etype: object) -> None:
    # Found by the fuzzer: a list as "type" once escaped as a TypeError.
    doc = json.loads((FIXTURES / "spdx3_edges.json").read_text())
    doc["@graph"].append({"type": etype, "spdxId": "urn:example:odd", "name": "odd"})
    path = tmp_path / "odd.spdx.json"
    path.write_text(json.dumps(doc))
    inv = collect("spdx", read([path]))
    assert "odd" not in _by_name(inv)
    assert f"1 {etype!r} element(s) not read" in {p.message for p in inv.problems}
    assert _edges(inv) == _edges(_fixture("spdx3_edges.json"))


def test_a_package_depending_on_itself_is_a_warning(tmp_path: Path) -> None:
    doc = {
        "spdxVersion": "SPDX-2.3",
        "documentNamespace": "https://example.org/spdx/loop",
        "packages": [{"SPDXID": "SPDXRef-a", "name": "a"}],
        "relationships": [
            {
                "spdxElementId": "SPDXRef-a",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": "SPDXRef-a",
            }
        ],
    }
    path = tmp_path / "loop.spdx.json"
    path.write_text(json.dumps(doc))
    inv = collect("spdx", read([path]))
    assert inv.rels == []
    assert [(p.severity, p.message) for p in inv.problems] == [
        (Severity.WARNING, "describes no package: no package is an Application"),
        (Severity.WARNING, "DEPENDS_ON from 'SPDXRef-a' to itself: not kept"),
    ]


# -- refused files --------------------------------------------------------------------------


def _refused(path: Path) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        list(read([path]))
    return caught.value


def test_a_cyclonedx_bom_is_refused_naming_the_file() -> None:
    path = SBOM / "cyclonedx_laravel-7.12.0_bom.1.4.json"
    if not path.is_file():
        pytest.skip(f"the shared real inventories are not checked out at {SBOM}")
    err = _refused(path)
    assert err.where == str(path)
    assert "not an SPDX document" in err.message


@pytest.mark.parametrize(
    ("doc", "where", "says"),
    [
        ({"spdxVersion": "SPDX-2.1", "documentNamespace": "x"}, ":spdxVersion", "'SPDX-2.1'"),
        ({"spdxVersion": "SPDX-2.3"}, ":documentNamespace", "documentNamespace is missing"),
        (
            {"spdxVersion": "SPDX-2.3", "documentNamespace": "x", "packages": {}},
            ":packages",
            "packages must be a list",
        ),
        (
            {"@context": "https://schema.org/", "@graph": []},
            ":@context",
            "not the SPDX 3.0 context",
        ),
        (
            {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": {}},
            ":@graph",
            "@graph must be a list",
        ),
        ([1, 2], "", "not an SPDX document"),
    ],
)
def test_not_a_readable_document(tmp_path: Path, doc: object, where: str, says: str) -> None:
    path = tmp_path / "doc.spdx.json"
    path.write_text(json.dumps(doc))
    err = _refused(path)
    assert err.where == f"{path}{where}"
    assert says in err.message
