"""docker-compose adapter: the real Compose and stack files, and hand-written edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.compose import (
    environment,
    hosts_in_env,
    is_secret_key,
    mask_url_password,
    read,
)
from discovery.records import DiscoveredRel, Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT.parent / "shared" / "data" / "inventories" / "compose"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
VOTING = "example-voting-app_docker-compose.yml"
STACK = "example-voting-app_docker-stack.yml"


def _real(name: str) -> Path:
    if not COMPOSE.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {COMPOSE}")
    return COMPOSE / name


def _inventory(paths: list[Path], project: str | None = None) -> Inventory:
    inv = collect("compose", read(paths, project=project))
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])
    owners: dict[str, str] = {}
    for ci in inv.cis:
        assert ci.identifiers == (ci.identifiers[0],)
        assert (ci.identifiers[0].kind, ci.identifiers[0].value) == (IdentifierKind.KEY, ci.key)
        assert owners.setdefault(ci.identifiers[0].value, ci.key) == ci.key
    return inv


def _deps(inv: Inventory, source: str) -> dict[str, DiscoveredRel]:
    return {r.target: r for r in inv.rels if r.source == source and r.type == "DEPENDS_ON"}


def _service_deps(inv: Inventory, project: str, service: str) -> set[str]:
    prefix = f"compose:{project}/"
    found = _deps(inv, prefix + service)
    return {t.removeprefix(prefix) for t in found if t.count("/") == 1}


# --- example-voting-app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def voting() -> Inventory:
    return _inventory([_real(VOTING)], project="voting")


def test_voting_app_depends_on_in_map_form_with_conditions(voting: Inventory) -> None:
    assert _service_deps(voting, "voting", "vote") == {"redis"}
    assert _service_deps(voting, "voting", "worker") == {"db", "redis"}
    assert _service_deps(voting, "voting", "result") == {"db"}
    assert _service_deps(voting, "voting", "seed") == {"vote"}
    assert _service_deps(voting, "voting", "redis") == set()
    rel = _deps(voting, "compose:voting/vote")["compose:voting/redis"]
    assert rel.attributes == {"via": "depends_on", "condition": "service_healthy"}
    assert rel.confidence == 1.0


def test_voting_app_services_networks_volumes_profiles(voting: Inventory) -> None:
    services = {c.name for c in voting.cis if c.ci_class == "Container"}
    assert services == {"vote", "result", "worker", "redis", "db", "seed"}
    assert voting.ci("compose:voting/seed").attributes["profiles"] == ["seed"]
    assert voting.ci("compose:voting/db").attributes["image"] == "postgres:15-alpine"
    assert voting.ci("compose:voting/result").attributes["ports"] == [
        "8081:80",
        "127.0.0.1:9229:9229",
    ]
    network = voting.ci("compose:voting/network/back-tier")
    assert (network.ci_class, network.attributes["kind"]) == ("CloudResource", "network")
    connects = {(r.source, r.target) for r in voting.rels if r.type == "CONNECTS_TO"}
    assert ("compose:voting/vote", "compose:voting/network/front-tier") in connects
    assert ("compose:voting/vote", "compose:voting/network/back-tier") in connects
    assert ("compose:voting/worker", "compose:voting/network/front-tier") not in connects
    volume = voting.ci("compose:voting/volume/db-data")
    assert volume.ci_class == "StorageVolume"
    assert set(_deps(voting, "compose:voting/db")) == {"compose:voting/volume/db-data"}
    # ./vote:/usr/local/app and ./healthchecks are bind mounts, not volumes.
    assert [c.key for c in voting.cis if c.ci_class == "StorageVolume"] == [volume.key]
    assert voting.unresolved == [] and voting.problems == []


def test_voting_app_secret_env_values_are_dropped(voting: Inventory) -> None:
    db = voting.ci("compose:voting/db")
    assert db.attributes["environment"] == {"POSTGRES_USER": "postgres"}
    assert "POSTGRES_PASSWORD" not in repr(voting)


def test_stack_file_deploy_replicas() -> None:
    inv = _inventory([_real(STACK)], project="stack")
    replicas = {c.name: c.attributes.get("replicas") for c in inv.cis if c.ci_class == "Container"}
    assert replicas == {"vote": 2, "worker": 2, "redis": None, "db": None, "result": None}
    assert _service_deps(inv, "stack", "worker") == set()
    worker_nets = {r.target for r in inv.rels if r.source == "compose:stack/worker"}
    assert worker_nets == {"compose:stack/network/frontend", "compose:stack/network/backend"}


def test_default_project_is_the_directory_name() -> None:
    inv = _inventory([_real(STACK)])
    assert "compose:compose/vote" in {c.key for c in inv.cis}
    assert inv.ci("compose:compose/vote").attributes["project"] == "compose"


# --- awesome-compose ----------------------------------------------------------------------


def test_nextcloud_hosts_in_environment_values() -> None:
    inv = _inventory([_real("awesome-compose_nextcloud-redis-mariadb_compose.yaml")], "nc")
    deps = _deps(inv, "compose:nc/nc")
    env = {t: (r.confidence, r.attributes) for t, r in deps.items() if "volume" not in t}
    assert env == {
        "compose:nc/redis": (0.7, {"evidence": "REDIS_HOST"}),
        "compose:nc/db": (0.7, {"evidence": "MYSQL_HOST"}),
    }
    assert "compose:nc/volume/nc_data" in deps
    kept = inv.ci("compose:nc/nc").attributes["environment"]
    assert "MYSQL_PASSWORD" not in kept and kept["MYSQL_HOST"] == "db"


def test_declared_dependency_wins_over_env_evidence_and_secrets_are_names() -> None:
    inv = _inventory([_real("awesome-compose_react-express-mysql_compose.yaml")], "rem")
    backend = _deps(inv, "compose:rem/backend")
    # DATABASE_HOST=db says it too, but depends_on came first and is certain.
    assert backend["compose:rem/db"].confidence == 1.0
    assert backend["compose:rem/db"].attributes == {"via": "depends_on"}
    secret = inv.ci("compose:rem/secret/db-password")
    assert secret.attributes == {"kind": "secret", "project": "rem"}
    assert "compose:rem/secret/db-password" in backend
    assert _service_deps(inv, "rem", "frontend") == {"backend"}


def test_elk_links_to_itself_are_not_edges() -> None:
    inv = _inventory([_real("awesome-compose_elk_compose.yaml")], "elk")
    # logstash's discovery.seed_hosts names logstash itself.
    assert _service_deps(inv, "elk", "logstash") == {"elasticsearch"}
    assert _service_deps(inv, "elk", "kibana") == {"elasticsearch"}
    assert inv.ci("compose:elk/elasticsearch").attributes["container_name"] == "es"


# --- hand-written edge cases ---------------------------------------------------------------


@pytest.fixture(scope="module")
def edge() -> Inventory:
    return _inventory([FIXTURES / "compose_edge.yaml"])


def test_undefined_dependency_is_an_unresolved_placeholder(edge: Inventory) -> None:
    # The top-level name: gives the project, normalised as Compose does.
    ghost = edge.ci("compose:shop-edge/ghost")
    assert ghost.unresolved and ghost.ci_class == "Container"
    deps = _deps(edge, "compose:shop-edge/web")
    assert deps[ghost.key].attributes == {"via": "depends_on", "condition": "service_healthy"}
    api = deps["compose:shop-edge/api"]
    assert api.attributes == {
        "via": "depends_on",
        "condition": "service_started",
        "required": False,
    }
    assert deps["compose:shop-edge/cache"].attributes == {"via": "links", "alias": "memo"}
    assert deps["compose:shop-edge/worker"].confidence == 0.7
    assert [c.key for c in edge.unresolved] == [ghost.key]


def test_env_hints_through_link_aliases(edge: Inventory) -> None:
    raw = [i for i in read([FIXTURES / "compose_edge.yaml"]) if isinstance(i, DiscoveredRel)]
    hinted = {(r.target, r.attributes["evidence"]) for r in raw if r.confidence == 0.7}
    assert hinted == {
        ("compose:shop-edge/api", "API_URL"),
        ("compose:shop-edge/cache", "CACHE"),  # memo:11211, memo being web's link alias
        ("compose:shop-edge/worker", "QUEUE"),  # a bare service name as the whole value
    }


def test_secret_env_values_never_reach_a_record(edge: Inventory) -> None:
    items = list(read([FIXTURES / "compose_edge.yaml"]))
    text = repr(items)
    for sentinel in (
        "url-password-sentinel",
        "env-password-sentinel",
        "api-key-sentinel",
        "token-sentinel",
        "./tls/key.pem",
    ):
        assert sentinel not in text
    env = edge.ci("compose:shop-edge/web").attributes["environment"]
    assert env["DATABASE_URL"] == "postgres://shop:***@db:5432/shop"
    assert set(env) == {"API_URL", "CACHE", "DATABASE_URL", "WORKERS", "QUEUE"}


def test_edge_service_attributes_and_resources(edge: Inventory) -> None:
    web = edge.ci("compose:shop-edge/web").attributes
    assert web["replicas"] == 3  # scale:
    assert web["restart"] == "unless-stopped"  # from the x- extension via <<: merge
    assert web["ports"] == [{"target": "80", "published": "8080", "protocol": "tcp"}]
    volumes = {t for t in _deps(edge, "compose:shop-edge/web") if "/volume/" in t}
    assert volumes == {"compose:shop-edge/volume/uploads"}  # not binds, not anonymous
    uploads = edge.ci("compose:shop-edge/volume/uploads").attributes
    assert uploads["external"] is True and uploads["real_name"] == "shop_uploads_prod"
    # A service without networks is on the project's default network.
    connects = {(r.source, r.target) for r in edge.rels if r.type == "CONNECTS_TO"}
    assert ("compose:shop-edge/web", "compose:shop-edge/network/default") in connects
    assert ("compose:shop-edge/api", "compose:shop-edge/network/backend") in connects
    # network_mode: service:api shares api's network: no network of its own, depends on api.
    assert not any(s == "compose:shop-edge/sidecar" for s, _t in connects)
    assert _service_deps(edge, "shop-edge", "sidecar") == {"api"}


def test_edge_problems_are_reported_and_the_rest_proceeds(edge: Inventory) -> None:
    found = {(p.severity, p.message.split(":")[0]) for p in edge.problems}
    assert found == {
        (Severity.UNSUPPORTED, "service web"),  # external_links
        (Severity.UNSUPPORTED, "service sidecar"),  # volumes_from container:
        (Severity.UNSUPPORTED, "service child"),  # extends
        (Severity.ERROR, "service broken is a str, not a mapping"),
    }
    assert all(p.where == f"{FIXTURES / 'compose_edge.yaml'}:4" for p in edge.problems)
    assert "compose:shop-edge/cache" in {c.key for c in edge.cis}


def test_not_a_mapping_at_the_top_is_invalid_input() -> None:
    path = FIXTURES / "compose_not_mapping.yaml"
    with pytest.raises(InvalidInput, match="mapping") as caught:
        list(read([path]))
    assert caught.value.where == f"{path}:2"


def test_v1_format_is_reported_unsupported() -> None:
    items = list(read([FIXTURES / "compose_v1.yaml"]))
    assert [getattr(i, "severity", None) for i in items] == [Severity.UNSUPPORTED]


def test_services_not_a_mapping_is_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  - web\n")
    with pytest.raises(InvalidInput, match="services"):
        list(read([path]))


def test_helpers() -> None:
    assert environment(["A=1", "B", "C=x=y"]) == [("A", "1"), ("B", None), ("C", "x=y")]
    assert environment({"A": 1, "B": None, "C": True}) == [("A", "1"), ("B", None), ("C", "true")]
    for secret in ("DB_PASSWORD", "api_key", "APIKEY", "GITHUB_TOKEN", "client-secret", "PASS"):
        assert is_secret_key(secret), secret
    for plain in ("KEYCLOAK_URL", "DATABASE_HOST", "PASSENGER_COUNT", "discovery.type"):
        assert not is_secret_key(plain), plain
    assert mask_url_password("amqp://u:p@mq:5672/") == "amqp://u:***@mq:5672/"
    assert mask_url_password("http://mq:5672/") == "http://mq:5672/"
    assert hosts_in_env("db:5432") == ["db"]
    assert hosts_in_env("redis") == ["redis"]
    assert hosts_in_env("-Xms512m -Xmx512m") == []
    assert hosts_in_env("k1:9092,k2:9092") == ["k1", "k2"]
