"""Backstage catalog adapter: the real catalog files read together, and hand-written edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.backstage import parse_ref, read
from discovery.records import DiscoveredCI, Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
BACKSTAGE = ROOT.parent / "shared" / "data" / "inventories" / "backstage"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

needs_inventories = pytest.mark.skipif(
    not BACKSTAGE.is_dir(),
    reason=f"the shared real inventories are not checked out at {BACKSTAGE}",
)


def _key(kind: str, name: str, namespace: str = "default") -> str:
    return f"backstage:{kind}:{namespace}/{name}"


def _edges(inv: Inventory) -> set[tuple[str, str, str]]:
    return {(r.source, r.type, r.target) for r in inv.rels}


def _check_every_edge_allowed(inv: Inventory) -> None:
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


@pytest.fixture(scope="module")
def catalog() -> Inventory:
    if not BACKSTAGE.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {BACKSTAGE}")
    return collect("backstage", read(sorted(BACKSTAGE.glob("*.yaml"))))


@needs_inventories
def test_real_catalog_kinds_become_classes(catalog: Inventory) -> None:
    defined = [c for c in catalog.cis if not c.unresolved]
    # 5 example entities + 13 Pocket ones (4 Components, 5 APIs, 4 Resources).
    assert len(defined) == 18
    assert catalog.ci(_key("system", "examples")).ci_class == "Service"
    assert catalog.ci(_key("system", "examples")).attributes["service_kind"] == "supporting"
    website = catalog.ci(_key("component", "example-website"))
    assert (website.ci_class, website.attributes["type"]) == ("Application", "website")
    grpc = catalog.ci(_key("api", "example-grpc-api"))
    assert grpc.ci_class == "Application"
    assert grpc.attributes["backstage_kind"] == "API" and grpc.attributes["type"] == "grpc"
    assert catalog.ci(_key("group", "guests")).ci_class == "Team"
    assert catalog.ci(_key("user", "guest")).ci_class == "Person"
    # Resource: spec.type database -> Database, s3 -> CloudResource.
    assert catalog.ci(_key("resource", "collection-db")).ci_class == "Database"
    assert catalog.ci(_key("resource", "curated-corpus-s3-bucket")).ci_class == "CloudResource"
    desc = catalog.ci(_key("component", "collection-api")).fields["description"]
    assert desc == "Manages the curated collections across Pocket"


@needs_inventories
def test_real_catalog_identifiers_are_lowercased_keys(catalog: Inventory) -> None:
    for ci in catalog.cis:
        assert ci.key == ci.key.lower()
        assert (IdentifierKind.KEY, ci.key) in {(i.kind, i.value) for i in ci.identifiers}


@needs_inventories
def test_real_catalog_component_and_api_of_one_name_are_two_cis(catalog: Inventory) -> None:
    # collection-api is both a Component and the API it provides (same file).
    comp, api = _key("component", "collection-api"), _key("api", "collection-api")
    assert catalog.ci(comp).ci_class == catalog.ci(api).ci_class == "Application"
    assert (api, "DEPENDS_ON", comp) in _edges(catalog)


@needs_inventories
def test_real_catalog_provides_consumes_and_depends(catalog: Inventory) -> None:
    edges = _edges(catalog)
    # providesApis: each API depends on the Component providing it.
    for api, comp in [
        ("example-grpc-api", "example-website"),
        ("collection-api-admin", "collection-api"),
        ("curated-corpus", "curated-corpus-api"),
        ("curated-corpus-admin", "curated-corpus-api"),
        ("list-api", "list-api"),
    ]:
        assert (_key("api", api), "DEPENDS_ON", _key("component", comp)) in edges
    # dependsOn with an explicit resource: kind.
    assert (
        _key("component", "curated-corpus-api"),
        "DEPENDS_ON",
        _key("resource", "curated-corpus-db"),
    ) in edges
    # consumesApis: the Component depends on the API.
    assert (_key("component", "list-api"), "DEPENDS_ON", _key("api", "parser")) in edges
    assert (
        _key("component", "curation-admin-tools"),
        "DEPENDS_ON",
        _key("api", "admin-api"),
    ) in edges


@needs_inventories
def test_real_catalog_references_resolve_across_files(catalog: Inventory) -> None:
    # entities.yaml names owner "guests"; org.yaml defines that Group and its member.
    guests = _key("group", "guests")
    assert not catalog.ci(guests).unresolved
    edges = _edges(catalog)
    for owned in (
        _key("system", "examples"),
        _key("component", "example-website"),
        _key("api", "example-grpc-api"),
    ):
        assert (owned, "OWNED_BY", guests) in edges
    assert (_key("user", "guest"), "MEMBER_OF_TEAM", guests) in edges
    # spec.system: the System contains its Component and API.
    examples = _key("system", "examples")
    assert (examples, "CONTAINS", _key("component", "example-website")) in edges
    assert (examples, "CONTAINS", _key("api", "example-grpc-api")) in edges


@needs_inventories
def test_real_catalog_undefined_references_are_unresolved_placeholders(
    catalog: Inventory,
) -> None:
    unresolved = {c.key: c for c in catalog.unresolved}
    # No file defines the Pocket "backend" Group, nor admin-api, parser, pocket-db-primary.
    assert set(unresolved) == {
        _key("group", "backend"),
        _key("api", "admin-api"),
        _key("api", "parser"),
        _key("resource", "pocket-db-primary"),
    }
    assert unresolved[_key("group", "backend")].ci_class == "Team"
    # A Resource known only by reference has no spec.type: not assumed to be a database.
    assert unresolved[_key("resource", "pocket-db-primary")].ci_class == "CloudResource"
    backend = _key("group", "backend")
    owned_by_backend = {s for s, t, o in _edges(catalog) if (t, o) == ("OWNED_BY", backend)}
    assert len(owned_by_backend) == 13  # every Pocket entity


@needs_inventories
def test_real_catalog_counts_and_no_problems(catalog: Inventory) -> None:
    assert catalog.problems == []
    assert catalog.stats["relationships"] == 32
    assert catalog.stats["unresolved"] == 4
    _check_every_edge_allowed(catalog)


@needs_inventories
def test_real_catalog_streams_cis_before_it_has_read_every_file() -> None:
    first = next(read(sorted(BACKSTAGE.glob("*.yaml"))))
    assert isinstance(first, DiscoveredCI)


# --- hand-written fixtures --------------------------------------------------------------


@pytest.fixture(scope="module")
def broken() -> Inventory:
    return collect("backstage", read([FIXTURES / "backstage_null_name.yaml"]))


def test_null_name_is_an_error_for_that_entity_only(broken: Inventory) -> None:
    errors = [p for p in broken.problems if p.severity is Severity.ERROR]
    assert len(errors) == 2
    null, missing = errors
    # The document starts after the comment line, at line 20.
    assert null.where.endswith("backstage_null_name.yaml:20")
    assert "Component entity has no metadata.name" in null.message
    assert missing.where.endswith("backstage_null_name.yaml:87")
    assert "API entity has no metadata.name" in missing.message
    defined = {c.key for c in broken.cis if not c.unresolved}
    assert defined == {
        _key("domain", "payments", "finance"),
        _key("system", "checkout", "finance"),
        _key("component", "cart", "finance"),
        _key("resource", "cart-db", "finance"),
        _key("group", "payteam", "finance"),
        _key("user", "alice"),
    }


def test_namespace_defaults_to_the_referring_entity_and_case_is_ignored(
    broken: Inventory,
) -> None:
    edges = _edges(broken)
    cart = _key("component", "cart", "finance")
    # "system: Checkout" in namespace finance -> system:finance/checkout.
    assert (_key("system", "checkout", "finance"), "CONTAINS", cart) in edges
    # "owner: group:finance/PayTeam" and "owner: payteam" name the same Group.
    payteam = _key("group", "payteam", "finance")
    assert (_key("domain", "payments", "finance"), "OWNED_BY", payteam) in edges
    assert (_key("system", "checkout", "finance"), "OWNED_BY", payteam) in edges
    # spec.domain -> the Domain contains the System.
    assert (
        _key("domain", "payments", "finance"),
        "CONTAINS",
        _key("system", "checkout", "finance"),
    ) in edges
    # An explicit namespace wins: consumesApis default/rates-api, owner user:default/alice.
    assert (cart, "DEPENDS_ON", _key("api", "rates-api")) in edges
    assert (cart, "OWNED_BY", _key("user", "alice")) in edges
    assert broken.ci(cart).name == "Cart"  # the CI keeps the name as written


def test_depends_on_kinds_and_compound_references(broken: Inventory) -> None:
    edges = _edges(broken)
    cart = _key("component", "cart", "finance")
    assert (cart, "DEPENDS_ON", _key("resource", "cart-db", "finance")) in edges
    # {kind: Resource, name: missing-queue}: a compound reference, undefined -> placeholder.
    queue = broken.ci(_key("resource", "missing-queue", "finance"))
    assert queue.unresolved and queue.ci_class == "CloudResource"
    # A kind-less dependsOn is taken as a Component, with a warning (Backstage refuses it).
    ledger = _key("component", "ledger", "finance")
    assert (cart, "DEPENDS_ON", ledger) in edges
    warning = next(p for p in broken.problems if p.severity is Severity.WARNING)
    assert "'ledger' names no kind" in warning.message
    # Resource dependencyOf: the named Component depends on the Resource.
    assert (ledger, "DEPENDS_ON", _key("resource", "cart-db", "finance")) in edges


def test_group_and_user_membership(broken: Inventory) -> None:
    edges = _edges(broken)
    payteam = _key("group", "payteam", "finance")
    assert (payteam, "MEMBER_OF_TEAM", _key("group", "engineering")) in edges  # spec.parent
    oncall = _key("group", "payteam-oncall", "finance")
    assert (oncall, "MEMBER_OF_TEAM", payteam) in edges  # spec.children
    assert (_key("user", "bob"), "MEMBER_OF_TEAM", payteam) in edges  # spec.members
    assert (_key("user", "alice"), "MEMBER_OF_TEAM", payteam) in edges  # spec.memberOf
    alice = broken.ci(_key("user", "alice"))
    assert alice.attributes["email"] == "alice@example.com"
    assert alice.attributes["display_name"] == "Alice Liddell"
    assert broken.ci(_key("user", "bob")).ci_class == "Person"


def test_location_kind_is_reported_unsupported(broken: Inventory) -> None:
    unsupported = [p for p in broken.problems if p.severity is Severity.UNSUPPORTED]
    assert len(unsupported) == 1
    assert "'Location'" in unsupported[0].message
    assert broken.stats["entities_skipped"] == 1
    _check_every_edge_allowed(broken)


def test_processed_relations_from_the_catalog_api() -> None:
    inv = collect("backstage", read([FIXTURES / "backstage_relations.yaml"]))
    web = _key("component", "web")
    assert _edges(inv) == {
        (web, "OWNED_BY", _key("group", "web-team")),
        (web, "DEPENDS_ON", _key("api", "search")),
        (_key("api", "web-api"), "DEPENDS_ON", web),
        (_key("component", "portal"), "DEPENDS_ON", web),
    }
    by_severity = {p.severity: p for p in inv.problems}
    # memberOf from a Component to a Group: the registry forbids it, so it is an error.
    assert "MEMBER_OF_TEAM" in by_severity[Severity.ERROR].message
    assert by_severity[Severity.ERROR].where.endswith("relations[4])")
    assert "somethingNew" in by_severity[Severity.UNSUPPORTED].message


def test_invalid_yaml_refuses_the_file_with_its_line() -> None:
    with pytest.raises(InvalidInput) as err:
        list(read([FIXTURES / "backstage_bad_yaml.yaml"]))
    assert err.value.where is not None
    assert err.value.where.endswith("backstage_bad_yaml.yaml:8:1")


@pytest.mark.parametrize(
    ("text", "default_kind", "expected"),
    [
        ("guests", "group", ("group", "default", "guests")),
        ("user:Alice", "group", ("user", "default", "alice")),
        ("Team-NS/Ops", "group", ("group", "team-ns", "ops")),
        ("resource:infra/DB", None, ("resource", "infra", "db")),
        ({"kind": "API", "name": "Rates"}, None, ("api", "default", "rates")),
    ],
)
def test_parse_ref(text: object, default_kind: str | None, expected: tuple[str, str, str]) -> None:
    ref = parse_ref(text, default_kind=default_kind, default_namespace="default")
    assert (ref.kind, ref.namespace, ref.name) == expected


@pytest.mark.parametrize("bad", ["", "group:", 42, {"kind": "group"}])
def test_parse_ref_refuses_references_without_a_name(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_ref(bad, default_kind="group", default_namespace="default")


def test_parse_ref_needs_a_kind_when_the_field_has_no_default() -> None:
    with pytest.raises(ValueError, match="no kind"):
        parse_ref("db", default_kind=None, default_namespace="default")


def test_an_entity_defined_twice_keeps_both_definitions_edges(tmp_path: Path) -> None:
    entity = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
        "spec:\n  type: service\n  dependsOn: [resource:{dep}]\n"
    )
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(entity.format(name="svc", dep="one"))
    b.write_text(entity.format(name="SVC", dep="two") + "---\n- not\n- an entity\n")
    inv = collect("backstage", read([a, b]))
    svc = _key("component", "svc")
    assert [c.key for c in inv.cis if not c.unresolved] == [svc]
    assert {t for s, _, t in _edges(inv) if s == svc} == {
        _key("resource", "one"),
        _key("resource", "two"),
    }
    messages = {p.severity: p.message for p in inv.problems}
    assert "also defined at" in messages[Severity.WARNING] and str(a) in messages[Severity.WARNING]
    assert "expected a mapping" in messages[Severity.ERROR]
