"""A real Prometheus scrapes a real ``cmdb serve``: Debian's ``prometheus`` binary on
127.0.0.1 (its own config and a temporary TSDB, never the system service) scrapes
``cmdb serve --workers 2`` (embedded store, loopback, the metrics token, JSON logs), and
the test asks Prometheus's HTTP API what it stored.

Two workers: the request counter Prometheus reads must be the sum over both processes
whichever one answers a scrape (prometheus_client's multiprocess mode, set up by serve).

Locally a missing ``prometheus`` skips with the reason; in CI (``CI`` set) it fails, as the
browser test does. ``make test`` installs it first (the ``test-prometheus`` target).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import _free_port
from tests.servers import SERVE, Proc, debian_tool, started, wait_until

TOKEN = "e2e-metrics-token-0123456789"
REQUEST_ID = "e2e-prometheus-probe"
LIVE = "/api/v1/health/live"
HITS = 3
READY = "/api/v1/health/ready"


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    return debian_tool(["prometheus"], "prometheus", "test-prometheus")


@pytest.fixture(scope="module")
def cmdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("e2e-serve")
    port = _free_port()
    env = {
        **os.environ,
        "CMDB_STORE": "embedded",
        "CMDB_DB_PATH": str(tmp / "cmdb.db"),
        "CMDB_TOKENS_PATH": str(tmp / "tokens.db"),
        "CMDB_METRICS_TOKEN": TOKEN,
        "CMDB_LOG_FORMAT": "json",
        "COLUMNS": "200",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with started(
        "cmdb serve", argv, port=port, ready_path=READY, stderr=tmp / "serve.stderr", env=env
    ) as server:
        yield server


@pytest.fixture(scope="module")
def prometheus(
    prometheus_bin: str, cmdb_server: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("e2e-prometheus")
    (tmp / "token").write_text(TOKEN)
    target = cmdb_server.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "cmdb",
                "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials_file": str(tmp / "token")},
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    # JSON is YAML: no YAML writer needed.
    (tmp / "prometheus.yml").write_text(json.dumps(config))
    port = _free_port()
    argv = [
        prometheus_bin,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with started(
        "prometheus", argv, port=port, ready_path="/-/ready", stderr=tmp / "prometheus.stderr"
    ) as server:
        yield server


def _query(prom: Proc, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{prom.url}/api/v1/query", params={"query": expr}, timeout=5)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _scalar(prom: Proc, expr: str) -> float | None:
    result = _query(prom, expr)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_cmdb_serve(prometheus: Proc, cmdb_server: Proc) -> None:
    for _ in range(HITS):
        r = httpx.get(f"{cmdb_server.url}{LIVE}", headers={"X-Request-ID": REQUEST_ID})
        assert r.status_code == 200
    # Without the token, /metrics refuses (Prometheus sends it from its credentials file).
    assert httpx.get(f"{cmdb_server.url}/metrics").status_code == 401

    counter = f'sum(cmdb_http_requests_total{{job="cmdb",route="{LIVE}",status="200"}})'
    wait_until("the scraped counter", lambda: _scalar(prometheus, counter) == HITS, prometheus, 30)
    assert _scalar(prometheus, 'up{job="cmdb"}') == 1
    # Whichever worker answers the next scrapes, the sum over both processes is read.
    for _ in range(3):
        time.sleep(1.1)
        assert _scalar(prometheus, counter) == HITS
    (info,) = _query(prometheus, 'cmdb_build_info{job="cmdb"}')
    assert info["metric"]["store"] == "embedded" and info["value"][1] == "1"
    assert _scalar(prometheus, 'cmdb_store_up{job="cmdb"}') == 1
    assert _scalar(prometheus, 'sum(cmdb_incidents_open{job="cmdb"})') == 0
    # Prometheus's own scrapes are requests too, counted under /metrics.
    scrapes = 'sum(cmdb_http_requests_total{job="cmdb",route="/metrics",status="200"})'
    assert (_scalar(prometheus, scrapes) or 0) >= 1
    store = 'sum(cmdb_store_call_duration_seconds_count{job="cmdb",operation="is_empty"})'
    assert (_scalar(prometheus, store) or 0) >= 1  # the readiness probes' reads


def test_cmdb_serve_logs_json_lines_with_the_request_id(
    prometheus: Proc, cmdb_server: Proc
) -> None:
    httpx.get(f"{cmdb_server.url}{LIVE}", headers={"X-Request-ID": REQUEST_ID})
    r = httpx.get(f"{cmdb_server.url}/api/v1/no-such-route", headers={"X-Request-ID": "e2e-404"})
    assert r.status_code == 404
    deadline = time.monotonic() + 10
    while True:
        text = cmdb_server.stderr.read_text()
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        mine = [x for x in records if x.get("request_id") == "e2e-404"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (line,) = mine
    assert line["logger"] == "cmdb.access" and line["status"] == 404
    assert line["route"] == "unmatched" and line["level"] == "info"
    # uvicorn's own records (workers starting) are JSON lines too.
    assert any(x["logger"].startswith("uvicorn") for x in records)
