"""docker/compose.yaml: two API replicas behind a proxy on one pinned Neo4j.

No Docker engine (nor the compose plugin) exists on this project's machines, so the file
is checked offline: parsed as YAML (anchors and merge keys resolved, as compose does),
its services, their shared database, health checks on the readiness endpoint, start
order, and the proxy's configuration naming both replicas.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cmdb.config import Settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
READY = "/api/v1/health/ready"
REPLICAS = ("api-1", "api-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _health(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def test_neo4j_is_pinned_community_5_26(compose: dict[str, Any]) -> None:
    neo4j = compose["services"]["neo4j"]
    assert neo4j["image"] == "neo4j:5.26-community"
    assert "healthcheck" in neo4j
    # Published on loopback only.
    assert all(str(p).startswith("127.0.0.1:") for p in neo4j["ports"])


def test_two_replicas_share_one_neo4j_and_run_the_api(compose: dict[str, Any]) -> None:
    services = compose["services"]
    known = set(Settings.model_fields)
    for name in REPLICAS:
        api = services[name]
        env = api["environment"]
        assert api["command"] == ["serve"]
        assert env["CMDB_STORE"] == "neo4j"
        assert env["CMDB_NEO4J_URI"] == "bolt://neo4j:7687"  # the one database
        assert env["CMDB_WEBHOOKS_WORKER"] == "true"  # deliveries are leased: safe on both
        # Every CMDB_* variable is a real setting (a typo would be silently ignored).
        for var in env:
            if var.startswith("CMDB_"):
                assert var.removeprefix("CMDB_").lower() in known, var
        assert READY in _health(api)
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "ports" not in api  # reachable through the proxy only
    assert services["api-1"] == services["api-2"]
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "migrate"]
    assert migrate["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert migrate["environment"]["CMDB_NEO4J_URI"] == "bolt://neo4j:7687"


def test_the_proxy_fronts_both_replicas(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    image, _, tag = proxy["image"].partition(":")
    assert image == "nginx" and tag  # the official image, a pinned tag
    assert {name: dep["condition"] for name, dep in proxy["depends_on"].items()} == {
        name: "service_healthy" for name in REPLICAS
    }
    assert READY in _health(proxy)
    assert all(str(p).startswith("127.0.0.1:") for p in proxy["ports"])
    mounted = [v.split(":")[0] for v in proxy["volumes"]]
    assert "./nginx.conf" in mounted
    conf = (DOCKER / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream.group(2), re.M)
    assert sorted(servers) == [(name, "8000") for name in REPLICAS]
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    # Rate limits are per client: the address the proxy saw, never one the client sent.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    listen = re.search(r"listen\s+(\d+);", conf)
    assert listen is not None
    assert any(str(p).endswith(f":{listen.group(1)}") for p in proxy["ports"])


def test_the_cli_service_reaches_the_same_database(compose: dict[str, Any]) -> None:
    cli = compose["services"]["cmdb"]
    assert cli["environment"]["CMDB_NEO4J_URI"] == "bolt://neo4j:7687"
    assert cli["build"]["dockerfile"] == "docker/Dockerfile"
