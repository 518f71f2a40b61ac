"""A real Alertmanager notifies a real ``cmdb serve``: Debian's ``prometheus-alertmanager``
on 127.0.0.1 (clustering off, a temporary storage path, never the system service) with a
webhook receiver pointing at ``cmdb serve`` (embedded store with the demo estate, loopback,
a ``monitoring`` token sent as a bearer token through ``http_config``). The test posts
alerts to Alertmanager's own API, waits until cmdb holds the incident they open, then
ends them (``endsAt`` in the past) and waits until the incident is resolved.

Locally a missing ``prometheus-alertmanager`` skips with the reason; in CI (``CI`` set) it
fails, as the Prometheus test does. ``make test`` installs it first (``test-alertmanager``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmdb.auth.roles import Role
from cmdb.auth.tokens import TokenStore
from cmdb.sample.load import load_sample
from cmdb.store.contract import CIFilter
from cmdb.store.embedded.store import EmbeddedStore
from tests.e2e.conftest import _free_port
from tests.servers import SERVE, Proc, debian_tool, started, wait_until


@pytest.fixture(scope="module")
def alertmanager_bin() -> str:
    # Debian's name, then upstream's.
    return debian_tool(
        ["prometheus-alertmanager", "alertmanager"], "prometheus-alertmanager", "test-alertmanager"
    )


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """The demo estate in a fresh database, and a monitoring token for it."""
    tmp = tmp_path_factory.mktemp("e2e-alerts")
    store = EmbeddedStore(tmp / "cmdb.db")
    try:
        load_sample(store, actor="e2e-setup")
        srv = store.list_cis(CIFilter(name="srv-01")).items[0].id
    finally:
        store.close()
    clear, _ = TokenStore(tmp / "tokens.db").create("alertmanager", Role.MONITORING)
    yield tmp, clear, srv


@pytest.fixture(scope="module")
def cmdb_server(estate: tuple[Path, str, str]) -> Iterator[Proc]:
    tmp, _, _ = estate
    port = _free_port()
    env = {
        **os.environ,
        "CMDB_STORE": "embedded",
        "CMDB_DB_PATH": str(tmp / "cmdb.db"),
        "CMDB_TOKENS_PATH": str(tmp / "tokens.db"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    argv = [*SERVE, "--host", "127.0.0.1", "--port", str(port)]
    with started(
        "cmdb serve",
        argv,
        port=port,
        ready_path="/api/v1/health/ready",
        stderr=tmp / "serve.stderr",
        env=env,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def alertmanager(
    alertmanager_bin: str,
    cmdb_server: Proc,
    estate: tuple[Path, str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proc]:
    _, token, _ = estate
    tmp = tmp_path_factory.mktemp("e2e-alertmanager")
    config = {
        "route": {
            "receiver": "cmdb",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "cmdb",
                "webhook_configs": [
                    {
                        "url": f"{cmdb_server.url}/api/v1/alerts/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }
    # JSON is YAML: no YAML writer needed.
    (tmp / "alertmanager.yml").write_text(json.dumps(config))
    port = _free_port()
    argv = [
        alertmanager_bin,
        f"--config.file={tmp / 'alertmanager.yml'}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    with started(
        "alertmanager", argv, port=port, ready_path="/-/ready", stderr=tmp / "alertmanager.stderr"
    ) as server:
        yield server


def _post_alerts(am: Proc, alerts: list[dict[str, Any]]) -> None:
    r = httpx.post(f"{am.url}/api/v2/alerts", json=alerts, timeout=5)
    assert r.status_code == 200, r.text


def _incidents(cmdb: Proc, token: str) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{cmdb.url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    r.raise_for_status()
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_alertmanager_alerts_open_and_resolve_one_incident(
    alertmanager: Proc, cmdb_server: Proc, estate: tuple[Path, str, str]
) -> None:
    _, token, srv = estate
    start = datetime.now(UTC) - timedelta(minutes=1)
    alerts = [
        {
            "labels": {"alertname": "NodeDown", "instance": f"{host}:9100", "severity": "critical"},
            "annotations": {"summary": f"{host} is down"},
            "startsAt": start.isoformat(),
            "generatorURL": "http://127.0.0.1:9090/graph",
        }
        for host in ("vm-app-01", "vm-app-02")
    ]
    _post_alerts(alertmanager, alerts)

    def opened() -> bool:
        found = _incidents(cmdb_server, token)
        return len(found) == 1 and len(found[0]["alerts"]) == 2

    wait_until("the incident in cmdb", opened, alertmanager, 30)
    (inc,) = _incidents(cmdb_server, token)
    # Two VMs on one host: one incident, the host first, Alertmanager's fingerprints kept.
    assert inc["state"] == "open" and inc["cause_id"] == srv and inc["ci_ids"][0] == srv
    assert inc["urgency"] == "high" and inc["service_ids"]
    assert all(len(a["fingerprint"]) == 16 for a in inc["alerts"])
    assert {n["actor"] for n in inc["notes"]} == {"alertmanager"}

    ended = datetime.now(UTC) - timedelta(seconds=1)
    _post_alerts(alertmanager, [{**a, "endsAt": ended.isoformat()} for a in alerts])

    def resolved() -> bool:
        return bool(_incidents(cmdb_server, token)[0]["state"] == "resolved")

    wait_until("the incident resolved", resolved, alertmanager, 30)
    (inc,) = _incidents(cmdb_server, token)
    assert [a["status"] for a in inc["alerts"]] == ["resolved", "resolved"]
    assert inc["resolved_at"] is not None
    assert inc["notes"][-1]["text"] == "every alert resolved: incident resolved"
