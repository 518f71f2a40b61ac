"""CycloneDX adapter: the real SBOM and SaaSBOM examples, and hand-written edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.cyclonedx import read
from discovery.records import Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
SBOM = ROOT.parent / "shared" / "data" / "inventories" / "sbom"
LARAVEL = SBOM / "cyclonedx_laravel-7.12.0_bom.1.4.json"
SAASBOM = SBOM / "cyclonedx_saasbom_apigateway-microservices-datastores.json"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

APP = "cdx:cyclonedx/cyclonedx-php-composer-demo-dev-master"


def _inventory(path: Path) -> Inventory:
    if not path.is_file():
        pytest.skip(f"the shared real inventories are not checked out at {path.parent}")
    return collect("cyclonedx", read([path]))


@pytest.fixture(scope="module")
def laravel() -> Inventory:
    return _inventory(LARAVEL)


@pytest.fixture(scope="module")
def saas() -> Inventory:
    return _inventory(SAASBOM)


def _deps(inv: Inventory, key: str) -> set[str]:
    return {r.target for r in inv.rels if r.type == "DEPENDS_ON" and r.source == key}


def _purl(inv: Inventory, key: str) -> str | None:
    ci = inv.ci(key)
    return next((i.value for i in ci.identifiers if i.kind is IdentifierKind.PURL), None)


def _allowed(inv: Inventory) -> None:
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


def test_laravel_bom_has_62_packages_and_one_application(laravel: Inventory) -> None:
    packages = [c for c in laravel.cis if c.ci_class == "SoftwarePackage"]
    assert len(packages) == 62
    assert laravel.stats["components"] == 62
    app = laravel.ci(APP)
    assert app.ci_class == "Application"
    assert app.name == "cyclonedx/cyclonedx-php-composer-demo"
    assert _purl(laravel, APP) == "pkg:composer/cyclonedx/cyclonedx-php-composer-demo@dev-master"
    assert laravel.unresolved == [] and laravel.problems == []


def test_laravel_framework_package(laravel: Inventory) -> None:
    key = "cdx:laravel/framework-7.30.6.0"
    fw = laravel.ci(key)
    assert _purl(laravel, key) == "pkg:composer/laravel/framework@v7.30.6"
    assert fw.fields["version"] == "v7.30.6"
    assert fw.attributes["licenses"] == ["MIT"]
    assert fw.attributes["type"] == "library"
    # Identified by purl, so no key identifier.
    assert [i.kind for i in fw.identifiers] == [IdentifierKind.PURL]
    deps = _deps(laravel, key)
    assert len(deps) == 25
    assert {"cdx:monolog/monolog-2.8.0.0", "cdx:symfony/console-5.4.16.0"} <= deps
    assert _deps(laravel, "cdx:monolog/monolog-2.8.0.0") == {"cdx:psr/log-1.1.4.0"}


def test_laravel_dependency_graph_matches_the_file(laravel: Inventory) -> None:
    raw = json.loads(LARAVEL.read_text(encoding="utf-8"))
    expected = {
        (f"cdx:{d['ref']}", f"cdx:{t}") for d in raw["dependencies"] for t in d.get("dependsOn", [])
    }
    got = {(r.source, r.target) for r in laravel.rels if r.type == "DEPENDS_ON"}
    assert got == expected
    assert len(got) == 113
    # The application depends only on the project package, laravel/laravel.
    assert _deps(laravel, APP) == {"cdx:laravel/laravel-7.12.0.0"}


def test_application_contains_every_package_it_ships(laravel: Inventory) -> None:
    contained = {r.target for r in laravel.rels if r.type == "CONTAINS" and r.source == APP}
    assert contained == {c.key for c in laravel.cis if c.ci_class == "SoftwarePackage"}
    _allowed(laravel)


def test_license_spellings(laravel: Inventory) -> None:
    licences = {lic for c in laravel.cis for lic in c.attributes.get("licenses", [])}
    assert licences == {"MIT", "BSD-3-Clause", "Apache-2.0"}


def test_saasbom_services_and_their_dependencies(saas: Inventory) -> None:
    services = {c.key: c for c in saas.cis if c.ci_class == "ApplicationInstance"}
    # The gateway and the five services nested in it.
    assert set(services) == {
        "cdx:api-gateway",
        "cdx:ms-1.example.com",
        "cdx:ms-2.example.com",
        "cdx:ms-3.example.com",
        "cdx:ms-1-pgsql.example.com",
        "cdx:s3-example.amazon.com",
    }
    assert _deps(saas, "cdx:acme-application") == {"cdx:api-gateway"}
    assert _deps(saas, "cdx:api-gateway") == {
        "cdx:ms-1.example.com",
        "cdx:ms-2.example.com",
        "cdx:ms-3.example.com",
    }
    assert _deps(saas, "cdx:ms-1.example.com") == {"cdx:ms-1-pgsql.example.com"}
    assert _deps(saas, "cdx:ms-2.example.com") == set()
    assert _deps(saas, "cdx:ms-3.example.com") == {"cdx:s3-example.amazon.com"}
    assert len(saas.rels) == 6 and saas.unresolved == []
    _allowed(saas)


def test_saasbom_service_attributes(saas: Inventory) -> None:
    gw = saas.ci("cdx:api-gateway")
    assert gw.name == "API Gateway"
    assert gw.attributes["endpoints"] == ["https://example.com/", "https://example.com/app"]
    assert gw.attributes["authenticated"] is False
    assert gw.attributes["x_trust_boundary"] is True
    assert gw.attributes["data_flows"] == [
        "PII:bi-directional",
        "PIFI:bi-directional",
        "Public:bi-directional",
    ]
    assert gw.attributes["provider"] == "Acme Inc"
    pg = saas.ci("cdx:ms-1-pgsql.example.com")
    assert pg.fields["version"] == "14.1"
    assert pg.attributes["endpoints"] == ["https://ms-1-pgsql.example.com:5432"]
    # No purl on services: identified by their bom-ref key.
    assert [(i.kind, i.value) for i in pg.identifiers] == [
        (IdentifierKind.KEY, "cdx:ms-1-pgsql.example.com")
    ]


# --- hand-written fixtures --------------------------------------------------------------


def test_spec_1_0_is_refused_naming_the_file() -> None:
    with pytest.raises(InvalidInput, match=r"specVersion '1\.0' is not supported") as err:
        list(read([FIXTURES / "sbom_spec_1_0.json"]))
    assert err.value.where is not None and err.value.where.endswith("sbom_spec_1_0.json")


def test_a_package_json_is_not_a_bom() -> None:
    with pytest.raises(InvalidInput, match="not a CycloneDX BOM") as err:
        list(read([FIXTURES / "sbom_not_a_bom.json"]))
    assert err.value.where is not None and err.value.where.endswith("sbom_not_a_bom.json")


@pytest.mark.parametrize("spec", ["1.5", "2.0", None, 1.4])
def test_other_spec_versions_are_refused(tmp_path: Path, spec: Any) -> None:
    path = tmp_path / "bom.json"
    path.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": spec}))
    with pytest.raises(InvalidInput, match="specVersion"):
        list(read([path]))


@pytest.fixture(scope="module")
def nested() -> Inventory:
    return collect("cyclonedx", read([FIXTURES / "sbom_nested.json"]))


def test_nested_components_are_packages_the_application_contains(nested: Inventory) -> None:
    web = "cdx:pkg:maven/org.example/web@1.0"
    templates = nested.ci("cdx:web-templates")
    assert templates.ci_class == "SoftwarePackage"
    contains = {r.target: r for r in nested.rels if r.type == "CONTAINS" and r.source == "cdx:app"}
    assert set(contains) == {web, "cdx:web-templates", "cdx:pkg:npm/no-ref@0.1"}
    assert contains["cdx:web-templates"].attributes == {"nested_in": web}
    assert nested.ci(web).name == "org.example/web"
    assert nested.ci(web).attributes["licenses"] == ["Apache-2.0 OR MIT"]
    assert templates.attributes["licenses"] == ["Example Licence"]


def test_a_package_without_purl_is_identified_by_its_bom_ref(nested: Inventory) -> None:
    ids = [(i.kind, i.value) for i in nested.ci("cdx:web-templates").identifiers]
    assert ids == [(IdentifierKind.KEY, "cdx:web-templates")]


def test_undefined_refs_become_unresolved_placeholders(nested: Inventory) -> None:
    ghost = nested.ci("cdx:pkg:npm/ghost@1.0")
    assert ghost.unresolved and ghost.ci_class == "SoftwarePackage"
    # A ref that is a purl keeps it as an identifier, so it can match the real package later.
    assert (IdentifierKind.PURL, "pkg:npm/ghost@1.0") in {
        (i.kind, i.value) for i in ghost.identifiers
    }
    assert nested.ci("cdx:not-in-this-bom").unresolved
    assert _deps(nested, "cdx:web-templates") == {"cdx:not-in-this-bom"}
    _allowed(nested)


def test_bad_component_and_unsupported_parts_are_reported(nested: Inventory) -> None:
    by_severity = {p.severity: p for p in nested.problems}
    assert by_severity[Severity.ERROR].where.endswith("sbom_nested.json:components[2]")
    assert "needs a name" in by_severity[Severity.ERROR].message
    assert by_severity[Severity.UNSUPPORTED].where.endswith("sbom_nested.json:compositions")
    assert len(nested.problems) == 2


def test_duplicate_bom_ref_is_an_error_for_the_second(tmp_path: Path) -> None:
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.3",
        "metadata": {"component": {"bom-ref": "a", "name": "app", "type": "application"}},
        "components": [{"bom-ref": "x", "name": "one"}, {"bom-ref": "x", "name": "two"}],
    }
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(bom))
    inv = collect("cyclonedx", read([path]))
    assert inv.ci("cdx:x").name == "one"
    assert [p.where.rsplit(":", 1)[-1] for p in inv.problems] == ["components[1]"]
