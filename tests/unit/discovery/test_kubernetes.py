"""Kubernetes adapter: the real manifests and kubectl dumps, and hand-written edge cases."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.kubernetes import hosts_in_env, object_key, read, service_of
from discovery.records import DiscoveredCI, DiscoveredRel, Inventory, Item, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT.parent / "shared" / "data" / "inventories" / "k8s"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BOUTIQUE = "online-boutique_release_kubernetes-manifests.yaml"
BOOKINFO = "istio_bookinfo.yaml"
POPEYE = [
    "popeye_testdata_list_apps_dp_1.yaml",
    "popeye_testdata_list_apps_rs_1.yaml",
    "popeye_testdata_list_core_ep_1.yaml",
    "popeye_testdata_list_core_pod_1.yaml",
    "popeye_testdata_list_core_svc_1.yaml",
]


def _real(*names: str) -> list[Path]:
    if not K8S.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {K8S}")
    return [K8S / n for n in names]


def _key(kind: str, name: str, namespace: str | None = "default", cluster: str = "default") -> str:
    return object_key(cluster, kind, name, namespace)


def _inventory(paths: Iterable[Path], **kw: str) -> Inventory:
    inv = collect("k8s", read(list(paths), **kw))
    _check_sound(inv)
    return inv


def _check_sound(inv: Inventory) -> None:
    """Every edge allowed by the registry; every CI carries its key; no identifier shared."""
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])
    seen: dict[tuple[str, str], str] = {}
    for ci in inv.cis:
        assert (IdentifierKind.KEY, ci.key) in {(i.kind, i.value) for i in ci.identifiers}
        for ident in ci.identifiers:
            assert ident.unique
            assert seen.setdefault((ident.kind, ident.value), ci.key) == ci.key


def _deps(inv: Inventory, source: str) -> dict[str, DiscoveredRel]:
    return {r.target: r for r in inv.rels if r.source == source and r.type == "DEPENDS_ON"}


def _service_names(inv: Inventory, source: str) -> set[str]:
    return {inv.ci(t).name for t, r in _deps(inv, source).items() if "/Service/" in t}


# --- Online Boutique ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def boutique() -> Inventory:
    return _inventory(_real(BOUTIQUE))


def test_boutique_frontend_depends_on_seven_services_and_an_undefined_eighth(
    boutique: Inventory,
) -> None:
    frontend = _key("Deployment", "frontend")
    deps = _deps(boutique, frontend)
    resolved = {boutique.ci(t).name for t in deps if not boutique.ci(t).unresolved}
    assert resolved == {
        "productcatalogservice",
        "currencyservice",
        "cartservice",
        "recommendationservice",
        "shippingservice",
        "checkoutservice",
        "adservice",
    }
    ghost = boutique.ci(_key("Service", "shoppingassistantservice"))
    assert ghost.unresolved and ghost.ci_class == "LoadBalancer"
    assert ghost.key in deps
    for target, rel in deps.items():
        assert rel.confidence == 0.8
        assert rel.attributes["evidence"].endswith("_ADDR"), target
    assert deps[ghost.key].attributes["evidence"] == "SHOPPING_ASSISTANT_SERVICE_ADDR"


def test_boutique_other_env_dependencies(boutique: Inventory) -> None:
    def names(deployment: str) -> set[str]:
        return _service_names(boutique, _key("Deployment", deployment))

    assert names("cartservice") == {"redis-cart"}
    assert names("loadgenerator") == {"frontend"}
    assert names("recommendationservice") == {"productcatalogservice"}
    assert names("checkoutservice") == {
        "productcatalogservice",
        "shippingservice",
        "paymentservice",
        "emailservice",
        "currencyservice",
        "cartservice",
    }
    # PORT=8080, DISABLE_PROFILER=1, USERS=10: values that are not hosts name nothing.
    for leaf in ("adservice", "currencyservice", "emailservice", "paymentservice", "redis-cart"):
        assert names(leaf) == set()


def test_boutique_cis_and_selectors(boutique: Inventory) -> None:
    by_class: dict[str, set[str]] = {}
    for ci in boutique.cis:
        if not ci.unresolved:
            by_class.setdefault(ci.ci_class, set()).add(ci.key)
    assert len(by_class["KubernetesWorkload"]) == 12
    # A Service for each Deployment but loadgenerator, plus frontend-external.
    assert len(by_class["LoadBalancer"]) == 12
    frontend = boutique.ci(_key("Deployment", "frontend"))
    assert frontend.attributes["kind"] == "Deployment"
    assert frontend.attributes["labels"] == {"app": "frontend"}
    assert frontend.attributes["images"] == [
        "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/frontend:v0.10.6"
    ]
    external = boutique.ci(_key("Service", "frontend-external"))
    assert external.attributes["type"] == "LoadBalancer"
    assert external.attributes["selector"] == {"app": "frontend"}
    assert external.attributes["ports"] == [{"name": "http", "port": "80", "targetPort": "8080"}]
    for service in ("frontend", "frontend-external"):
        assert set(_deps(boutique, _key("Service", service))) == {frontend.key}
    # loadgenerator has no Service; every other Deployment has exactly its own.
    for ci in boutique.cis:
        if ci.attributes.get("kind") == "Service" and not ci.unresolved:
            targets = set(_deps(boutique, ci.key))
            assert len(targets) == 1 and "loadgenerator" not in next(iter(targets))


def test_boutique_unsupported_and_unresolved_are_reported(boutique: Inventory) -> None:
    unsupported = [p for p in boutique.problems if p.severity is Severity.UNSUPPORTED]
    assert len(unsupported) == 11
    assert all("ServiceAccount" in p.message for p in unsupported)
    assert all(p.where.startswith(str(K8S / BOUTIQUE) + ":") for p in unsupported)
    assert not [p for p in boutique.problems if p.severity is not Severity.UNSUPPORTED]
    # The manifests never define their namespace: it is kept, as an unresolved placeholder.
    assert {c.key for c in boutique.unresolved} == {
        _key("Service", "shoppingassistantservice"),
        _key("Namespace", "default", None),
    }
    namespace = _key("Namespace", "default", None)
    contained = {r.target for r in boutique.rels if r.source == namespace}
    assert len(contained) == 24  # 12 Deployments and 12 Services


def test_boutique_where_names_the_document_line(boutique: Inventory) -> None:
    frontend = boutique.ci(_key("Deployment", "frontend"))
    path, line = frontend.where.rsplit(":", 1) if frontend.where else ("", "")
    assert path == str(K8S / BOUTIQUE)
    text = (K8S / BOUTIQUE).read_text().splitlines()
    assert text[int(line) - 1] == "apiVersion: apps/v1"
    assert text[int(line)] == "kind: Deployment"


def test_cluster_name_goes_into_keys() -> None:
    inv = _inventory(_real(BOUTIQUE), cluster="prod-eu")
    assert inv.ci(_key("Deployment", "frontend", cluster="prod-eu")).attributes["cluster"] == (
        "prod-eu"
    )
    with pytest.raises(InvalidInput):
        list(read(_real(BOUTIQUE), cluster="a/b"))


# --- istio bookinfo ----------------------------------------------------------------------


def test_bookinfo_three_reviews_deployments_behind_one_service() -> None:
    inv = _inventory(_real(BOOKINFO))
    reviews = _deps(inv, _key("Service", "reviews"))
    assert set(reviews) == {_key("Deployment", f"reviews-v{n}") for n in (1, 2, 3)}
    assert all(r.attributes == {"via": "selector"} for r in reviews.values())
    for service, deployment in (
        ("details", "details-v1"),
        ("ratings", "ratings-v1"),
        ("productpage", "productpage-v1"),
    ):
        assert set(_deps(inv, _key("Service", service))) == {_key("Deployment", deployment)}
    v2 = inv.ci(_key("Deployment", "reviews-v2"))
    assert v2.attributes["labels"] == {"app": "reviews", "version": "v2"}
    assert v2.attributes["replicas"] == 1


# --- popeye kind: List dumps ---------------------------------------------------------------


def test_popeye_lists_owners_status_and_selectors() -> None:
    inv = _inventory(_real(*POPEYE))
    dp1, rs1 = _key("Deployment", "dp1"), _key("ReplicaSet", "rs1")
    contains = {(r.source, r.target) for r in inv.rels if r.type == "CONTAINS"}
    assert (dp1, rs1) in contains
    assert (_key("Deployment", "dp2"), _key("ReplicaSet", "rs2")) in contains
    status = inv.ci(dp1).attributes["status"]
    assert status == {
        "replicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "updatedReplicas": 1,
        "conditions": {"Available": "True", "Progressing": "True"},
    }
    # svc1 selects app=p1: the Deployment and the bare Pod, not rs1 (its Deployment is here).
    assert set(_deps(inv, _key("Service", "svc1"))) == {dp1, _key("Pod", "p1")}
    # svc2 selects app=p2: only rs2's template has it, and rs2 is reached through dp2.
    assert _deps(inv, _key("Service", "svc2")) == {}
    # svc3 is an ExternalName Service: Kubernetes ignores its selector.
    assert _deps(inv, _key("Service", "svc3")) == {}
    # dp3 has null selector, template metadata and containers: still a CI.
    assert inv.ci(_key("Deployment", "dp3")).attributes["replicas"] == 0
    endpoints = [p for p in inv.problems if "Endpoints" in p.message]
    assert len(endpoints) == 4
    assert all(p.severity is Severity.UNSUPPORTED for p in endpoints)
    assert "items[2]" in endpoints[2].message


def test_popeye_pod_configmap_secret_and_claim_references() -> None:
    inv = _inventory(_real("popeye_testdata_list_core_pod_1.yaml"))
    deps = _deps(inv, _key("Pod", "p1"))
    refs = {(inv.ci(t).attributes.get("kind"), inv.ci(t).name, inv.ci(t).ci_class) for t in deps}
    assert {(t.split("/")[-2], t.split("/")[-1]) for t in deps} == {
        ("ConfigMap", "cm1"),
        ("ConfigMap", "cm2"),
        ("ConfigMap", "cm3"),
        ("Secret", "sec1"),
        ("Secret", "sec2"),
        ("PersistentVolumeClaim", "pvc1"),
    }
    assert {cls for _kind, _name, cls in refs} == {"CloudResource", "StorageVolume"}
    # None of them is in the dump: each is an unresolved placeholder, not a crash.
    assert all(inv.ci(t).unresolved for t in deps)
    assert deps[_key("ConfigMap", "cm1")].attributes == {"via": "env"}
    assert deps[_key("Secret", "sec2")].attributes == {"via": "volume"}


def test_replicaset_dump_alone_gets_placeholder_owners() -> None:
    inv = _inventory(_real("popeye_testdata_list_apps_rs_1.yaml"))
    owner = inv.ci(_key("Deployment", "dp1"))
    assert owner.unresolved and owner.ci_class == "KubernetesWorkload"
    assert any(r.source == owner.key and r.target == _key("ReplicaSet", "rs1") for r in inv.rels)


# --- hand-written edge cases ---------------------------------------------------------------


@pytest.fixture(scope="module")
def edge() -> Inventory:
    return _inventory([FIXTURES / "k8s_edge.yaml"])


def test_env_values_naming_services_in_every_form(edge: Inventory) -> None:
    deps = _deps(edge, _key("Deployment", "web", "shop"))
    evidence = {t: r.attributes["evidence"] for t, r in deps.items()}
    assert evidence == {
        _key("Service", "api", "shop"): "API_URL",  # svc.ns.svc.cluster.local in a URL
        _key("Service", "cache", "shop"): "CACHE_ADDR",  # svc.ns, ns in the input
        _key("Service", "search", "shop"): "SEARCH_ADDR",  # svc.ns.svc, not in the input
        _key("Service", "kafka", "data"): "BROKERS",  # pod.svc.ns.svc... in a broker list
        _key("Service", "payments", "shop"): "PAYMENTS_HOST",  # a bare name in *_HOST
    }
    assert {r.confidence for r in deps.values()} == {0.8}
    assert edge.ci(_key("Service", "search", "shop")).unresolved
    assert edge.ci(_key("Service", "payments", "shop")).unresolved
    assert not edge.ci(_key("Service", "kafka", "data")).unresolved
    # partner.example (no such namespace), example.com, localhost and an IP name no Service.
    names = {c.name for c in edge.cis}
    assert not names & {"partner", "example", "localhost", "10"}
    cron = _deps(edge, _key("CronJob", "nightly", "shop"))
    assert set(cron) == {_key("Service", "api", "shop")}


def test_host_parsing_units() -> None:
    assert hosts_in_env("FRONTEND_ADDR", "frontend:80") == ["frontend"]
    assert hosts_in_env("GREETING", "hello") == []
    assert hosts_in_env("REDIS_HOST", "redis") == ["redis"]
    assert hosts_in_env("X", "http://Api.Shop:8080/v1?q=1") == ["api.shop"]
    assert hosts_in_env("X", "a:1, b:2") == ["a", "b"]
    assert hosts_in_env("X_URL", "http://[::1") == []
    assert service_of("api") == ("api", None, True)
    assert service_of("api.shop") == ("api", "shop", False)
    assert service_of("api.shop.svc.cluster.local") == ("api", "shop", True)
    assert service_of("db-0.db.shop.svc") == ("db", "shop", True)
    assert service_of("www.example.com") is None
    assert service_of("10.0.0.1") is None
    assert service_of("localhost") is None
    assert service_of("$(HOST)") is None


def test_ingress_pvc_pv_and_claim_templates(edge: Inventory) -> None:
    ingress = edge.ci(_key("Ingress", "public", "shop"))
    assert ingress.ci_class == "LoadBalancer"
    assert ingress.attributes["kind"] == "Ingress"
    assert ingress.attributes["hosts"] == ["shop.example.com"]
    deps = _deps(edge, ingress.key)
    assert set(deps) == {
        _key("Service", "web", "shop"),
        _key("Service", "api", "shop"),
        _key("Secret", "shop-tls", "shop"),
    }
    assert edge.ci(_key("Service", "web", "shop")).unresolved  # the Ingress names it; no file does
    claim, volume = (
        _key("PersistentVolumeClaim", "backup-claim", "shop"),
        _key("PersistentVolume", "pv-backup", None),
    )
    hosted = [r for r in edge.rels if r.type == "HOSTED_ON"]
    assert [(r.source, r.target) for r in hosted] == [(claim, volume)]
    assert edge.ci(volume).attributes["claim"] == "shop/backup-claim"
    db = _deps(edge, _key("StatefulSet", "db", "shop"))
    templated = {_key("PersistentVolumeClaim", f"data-db-{n}", "shop") for n in (0, 1)}
    assert set(db) == templated | {claim}
    for key in templated:
        ci = edge.ci(key)
        assert not ci.unresolved and ci.ci_class == "StorageVolume"
        assert ci.attributes["requested_storage"] == "10Gi"
        assert ci.attributes["storage_class"] == "fast"


def test_owner_placeholders_carry_uids_and_nodes_host_mirror_pods(edge: Inventory) -> None:
    pod = _key("Pod", "web-7d4b9c-abcde", "shop")
    owner = edge.ci(_key("ReplicaSet", "web-7d4b9c", "shop"))
    assert owner.unresolved
    assert ("k8s_uid", "0f000000-0000-4000-8000-000000000003") in {
        (i.kind.value, i.value) for i in owner.identifiers
    }
    assert any(r.type == "CONTAINS" and (r.source, r.target) == (owner.key, pod) for r in edge.rels)
    mirror = _key("Pod", "kube-apiserver-node-1", "kube-system")
    node = edge.ci(_key("Node", "node-1", None))
    assert node.ci_class == "Server" and node.unresolved
    assert any(
        r.type == "RUNS_ON" and (r.source, r.target) == (mirror, node.key) for r in edge.rels
    )
    namespace = edge.ci(_key("Namespace", "shop", None))
    assert not namespace.unresolved and namespace.ci_class == "CloudResource"
    assert {(i.kind.value, i.value) for i in namespace.identifiers} >= {
        ("k8s_uid", "0f000000-0000-4000-8000-000000000001")
    }


def test_bad_entities_are_problems_and_the_rest_proceeds(edge: Inventory) -> None:
    by_severity: dict[Severity, list[str]] = {}
    for p in edge.problems:
        by_severity.setdefault(p.severity, []).append(p.message)
        assert p.where.startswith(str(FIXTURES / "k8s_edge.yaml") + ":")
    assert by_severity[Severity.UNSUPPORTED] == [
        "Widget shop/gizmo: kind Widget is not modelled, skipped"
    ]
    assert len(by_severity[Severity.ERROR]) == 2
    assert any("list, not a Kubernetes object" in m for m in by_severity[Severity.ERROR])
    assert any("no metadata.name" in m for m in by_severity[Severity.ERROR])
    assert edge.ci(_key("CronJob", "nightly", "shop")).attributes["schedule"] == "0 3 * * *"


def test_secret_and_configmap_values_never_reach_a_record() -> None:
    items = list(read([FIXTURES / "k8s_secret.yaml"]))
    text = repr(items)
    for sentinel in (
        "plain-hunter2-sentinel",
        "c2VjcmV0LWJhc2U2NC1zZW50aW5lbA==",
        "secret-base64-sentinel",
        "configmap-value-sentinel",
        "literal-env-sentinel",
        "last-applied",
    ):
        assert sentinel not in text
    inv = collect("k8s", items)
    secret = inv.ci(_key("Secret", "db-credentials", "shop"))
    assert not secret.unresolved and secret.ci_class == "CloudResource"
    assert secret.attributes == {
        "kind": "Secret",
        "namespace": "shop",
        "cluster": "default",
        "secret_type": "Opaque",
    }
    deps = _deps(inv, _key("Deployment", "api", "shop"))
    assert {(t.rsplit("/", 2)[-2], r.attributes["via"]) for t, r in deps.items()} == {
        ("Secret", "env"),
        ("ConfigMap", "envFrom"),
        ("Secret", "imagePullSecrets"),
    }


def test_kubectl_json_list() -> None:
    inv = _inventory([FIXTURES / "k8s_list.json"])
    echo = inv.ci(_key("Deployment", "echo", "tools"))
    assert echo.attributes["status"] == {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    assert ("k8s_uid", "0f000000-0000-4000-8000-0000000000aa") in {
        (i.kind.value, i.value) for i in echo.identifiers
    }
    assert echo.where == f"{FIXTURES / 'k8s_list.json'}:1"
    assert set(_deps(inv, _key("Service", "echo", "tools"))) == {echo.key}


def test_truncated_yaml_names_the_line_after_streaming_what_came_before() -> None:
    path = FIXTURES / "k8s_truncated.yaml"
    stream = read([path])
    first: Item = next(stream)
    # The first document was yielded before the broken second one was read.
    assert isinstance(first, DiscoveredCI) and first.name == "first"
    with pytest.raises(InvalidInput) as caught:
        list(stream)
    assert caught.value.where is not None
    assert caught.value.where.startswith(f"{path}:18:")


def test_alias_bomb_is_refused() -> None:
    with pytest.raises(InvalidInput, match="aliases"):
        list(read([FIXTURES / "k8s_alias_bomb.yaml"]))


def test_aliases_under_the_cap_are_never_walked() -> None:
    # 2**40 leaves if anything walked them; reading only known places takes milliseconds.
    started = time.monotonic()
    inv = _inventory([FIXTURES / "k8s_alias_walk.yaml"])
    assert time.monotonic() - started < 5
    laughs = inv.ci(_key("Deployment", "laughs"))
    assert laughs.attributes["images"] == ["busybox"]
    assert "labels" not in laughs.attributes and "replicas" not in laughs.attributes


def test_not_utf8_and_missing_files_are_invalid_input(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("metadata:\n  name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="UTF-8") as caught:
        list(read([latin]))
    assert caught.value.where == str(latin)
    with pytest.raises(InvalidInput, match="JSON"):
        bad = tmp_path / "bad.json"
        bad.write_text('{"kind": "List", "items": [')
        list(read([bad]))


def test_empty_file_is_a_warning_not_silence(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    problems = [i for i in read([empty]) if not isinstance(i, DiscoveredCI | DiscoveredRel)]
    assert [getattr(p, "severity", None) for p in problems] == [Severity.WARNING]
