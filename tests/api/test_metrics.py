"""``/metrics``: each metric moves when its event happens (a request, a store call, a
discovery push, an incident opened), the route label is the template, and only the
metrics token (or a loopback client, without one) may scrape. Both stores.

The counters live in the process's registry, shared by every app a test run makes, so
each test reads them before and after and compares the difference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cmdb.auth.roles import Role
from cmdb.sample.load import load_sample
from cmdb.server.app import create_app
from tests.api.conftest import Api, make_api
from tests.api.test_graphql import data
from tests.api.test_runs import INVENTORY, QUERY
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock

V1 = "/api/v1"
TOKEN = "scrape-me-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(
    params=[pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
)
def mapi(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The ``api`` fixture's app, with a metrics token."""
    yield from make_api(str(request.param), tmp_path, request, metrics_token=TOKEN)


def scrape(api: Api, **headers: str) -> Samples:
    r = api.client.get("/metrics", headers={**SCRAPE, **headers})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_request_counts_under_its_route_template(mapi: Api) -> None:
    viewer = mapi.as_role(Role.VIEWER)
    before = scrape(mapi)
    for _ in range(3):
        assert mapi.client.get(f"{V1}/cis/srv-01", headers=viewer).status_code == 200
    assert mapi.client.get(f"{V1}/cis/no-such-ci", headers=viewer).status_code == 404
    after = scrape(mapi)
    route = {"method": "GET", "route": f"{V1}/cis/{{ref}}"}
    ok = value(after, "cmdb_http_requests_total", **route, status="200")
    assert ok - value(before, "cmdb_http_requests_total", **route, status="200") == 3
    missing = value(after, "cmdb_http_requests_total", **route, status="404")
    assert missing - value(before, "cmdb_http_requests_total", **route, status="404") == 1
    count = "cmdb_http_request_duration_seconds_count"
    assert value(after, count, **route) - value(before, count, **route) == 4
    # The raw paths never become labels.
    assert not [k for k in after if any("srv-01" in v or "no-such-ci" in v for _, v in k[1])]


def test_paths_no_route_matches_share_one_label(mapi: Api) -> None:
    before = scrape(mapi)
    for i in range(5):
        assert mapi.client.get(f"/scanner-probe-{i}.php").status_code == 404
    after = scrape(mapi)
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    assert (
        value(after, "cmdb_http_requests_total", **labels)
        - value(before, "cmdb_http_requests_total", **labels)
        == 5
    )
    assert not [k for k in after if any("scanner-probe" in v for _, v in k[1])]


def test_scrapes_and_static_files_count_under_their_own_route(mapi: Api) -> None:
    before = scrape(mapi)
    assert mapi.client.get("/static/no-such-file.js").status_code == 404
    after = scrape(mapi)  # the scrape before this one is counted by now
    scrapes = {"method": "GET", "route": "/metrics", "status": "200"}
    assert (
        value(after, "cmdb_http_requests_total", **scrapes)
        - value(before, "cmdb_http_requests_total", **scrapes)
        == 1
    )
    static = {"method": "GET", "route": "/static", "status": "404"}
    assert (
        value(after, "cmdb_http_requests_total", **static)
        - value(before, "cmdb_http_requests_total", **static)
        == 1
    )


def test_store_calls_are_timed_by_operation(mapi: Api) -> None:
    before = scrape(mapi)
    assert mapi.client.get(f"{V1}/counts", headers=mapi.as_role(Role.VIEWER)).status_code == 200
    after = scrape(mapi)
    count = "cmdb_store_call_duration_seconds_count"
    assert value(after, count, operation="counts") - value(before, count, operation="counts") >= 1
    total = "cmdb_store_call_duration_seconds_sum"
    assert value(after, total, operation="counts") > value(before, total, operation="counts")


def test_a_discovery_push_counts_by_format_source_and_outcome(mapi: Api) -> None:
    headers = {**mapi.as_role(Role.DISCOVERY), "Content-Type": "text/csv"}

    def push(body: bytes, **params: str) -> int:
        r = mapi.client.post(
            f"{V1}/discovery/runs", params={**QUERY, **params}, content=body, headers=headers
        )
        return r.status_code

    before = scrape(mapi)
    assert push(INVENTORY, dry_run="true") == 200
    assert push(INVENTORY) == 201
    assert push(b"") == 422  # refused: nothing written
    assert push(INVENTORY, format="no-such-format") == 422
    after = scrape(mapi)
    name = "cmdb_discovery_runs_total"

    def moved(**labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    src = QUERY["source"]
    assert moved(format="csv", source=src, outcome="dry_run") == 1
    assert moved(format="csv", source=src, outcome="applied") == 1
    assert moved(format="csv", source=src, outcome="refused") == 1
    # A format nobody knows is not a new label value.
    assert moved(format="unknown", source=src, outcome="refused") == 1
    assert not [k for k in after if any("no-such-format" in v for _, v in k[1])]


def test_a_graphql_push_counts_as_a_run_too(mapi: Api) -> None:
    push = """mutation($p: String!) { pushDiscovery(format: "csv", payload: $p,
              source: "gql-audit") { report } }"""
    before = scrape(mapi)
    data(mapi, push, {"p": INVENTORY.decode()}, role=Role.DISCOVERY)
    after = scrape(mapi)
    labels = {"format": "csv", "source": "gql-audit", "outcome": "applied"}
    name = "cmdb_discovery_runs_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    route = {"method": "POST", "route": "/graphql", "status": "200"}
    assert (
        value(after, "cmdb_http_requests_total", **route)
        - value(before, "cmdb_http_requests_total", **route)
        == 1
    )


def test_opening_an_incident_moves_the_open_incidents_gauge(mapi: Api) -> None:
    editor = mapi.as_role(Role.CHANGE_MANAGER)
    before = scrape(mapi)
    r = mapi.client.post(
        f"{V1}/incidents",
        json={"id": "INC-METRICS", "title": "bookings fail", "cis": ["bookings-db"]},
        headers=editor,
    )
    assert r.status_code == 201, r.text
    priority = r.json()["priority"]
    after = scrape(mapi)
    gauge = "cmdb_incidents_open"
    assert value(after, gauge, priority=priority) - value(before, gauge, priority=priority) == 1
    r = mapi.client.post(f"{V1}/incidents/INC-METRICS/resolve", json={}, headers=editor)
    assert r.status_code == 200, r.text
    resolved = scrape(mapi)
    assert value(resolved, gauge, priority=priority) == value(before, gauge, priority=priority)
    # Every priority is reported, zero included.
    assert {k[1] for k in resolved if k[0] == gauge} == {
        frozenset({("priority", p)}) for p in ("P1", "P2", "P3", "P4")
    }


def test_build_info_and_the_store_answering(mapi: Api) -> None:
    samples = scrape(mapi)
    (info,) = [dict(k[1]) for k in samples if k[0] == "cmdb_build_info"]
    assert info["store"] == mapi.kind and info["version"] and info["python_version"]
    assert value(samples, "cmdb_store_up") == 1


def test_openmetrics_when_the_scraper_asks_for_it(mapi: Api) -> None:
    r = mapi.client.get(
        "/metrics",
        headers={**SCRAPE, "Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF") and "cmdb_build_info" in r.text


# -- who may scrape ---------------------------------------------------------------------------


def test_with_a_token_only_that_bearer_token_scrapes(mapi: Api) -> None:
    assert mapi.client.get("/metrics").status_code == 401
    wrong = mapi.client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in wrong.text
    # An API token is not the metrics token, whatever its role.
    assert mapi.client.get("/metrics", headers=mapi.as_role(Role.ADMIN)).status_code == 401
    assert mapi.client.get("/metrics", headers=SCRAPE).status_code == 200


def test_without_a_token_only_loopback_clients_scrape(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in make_api("embedded", tmp_path, request, sample=False):
        # The test client's address is "testclient": not loopback.
        r = api.client.get("/metrics")
        assert r.status_code == 403 and "CMDB_METRICS_TOKEN" in r.json()["error"]["message"]
        for host in ("127.0.0.1", "::1"):
            with TestClient(api.app, client=(host, 40000)) as local:
                r = local.get("/metrics")
                assert r.status_code == 200 and "cmdb_build_info" in r.text


def test_metrics_can_be_turned_off_and_are_not_in_the_openapi_document(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    for api in make_api("embedded", tmp_path, request, sample=False, metrics_enabled=False):
        assert api.client.get("/metrics").status_code == 404
        paths = api.client.get(f"{V1}/openapi.json").json()["paths"]
        assert "/metrics" not in paths
        assert f"{V1}/health/live" in paths and f"{V1}/health/ready" in paths


# -- a store that fails -----------------------------------------------------------------------


class BrokenStore:
    """A real store whose reads break: as a store whose server went away does."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _broken(self, *args: object, **kwargs: object) -> Any:
        raise ConnectionResetError("the store went away")

    list_incidents = _broken
    counts = _broken

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_failing_store_shows_as_down_and_its_failures_count(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from cmdb.config import Settings
    from cmdb.store.embedded.store import EmbeddedStore

    inner = EmbeddedStore(tmp_path / "cmdb.db", clock=FakeClock())
    load_sample(inner, actor="test-setup")
    settings = Settings(
        db_path=tmp_path / "unused.db", tokens_path=tmp_path / "tokens.db", metrics_token=TOKEN
    )  # type: ignore[arg-type]
    app = create_app(settings, store=BrokenStore(inner))  # type: ignore[arg-type]
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(client, app, inner, app.state.tokens, settings, "embedded")
            api.headers["viewer"] = api.token_for(Role.VIEWER)
            before = scrape(api)
            assert value(before, "cmdb_store_up") == 0
            assert not [k for k in before if k[0] == "cmdb_incidents_open"]
            assert client.get(f"{V1}/counts", headers=api.as_role(Role.VIEWER)).status_code == 500
            after = scrape(api)
            failures = "cmdb_store_call_failures_total"
            assert (
                value(after, failures, operation="counts")
                - value(before, failures, operation="counts")
                == 1
            )
            # A request that ends in a 500 is counted as one.
            labels = {"method": "GET", "route": f"{V1}/counts", "status": "500"}
            assert value(after, "cmdb_http_requests_total", **labels) >= 1
    finally:
        inner.close()


def test_the_operations_guide_lists_every_metric_served(mapi: Api) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs/guides/operations.md").read_text()
    documented = set(re.findall(r"^\| `(cmdb_[a-z_]+)` \|", guide, flags=re.M))
    r = mapi.client.get("/metrics", headers=SCRAPE)
    served = {
        # a counter's family is named without _total; the guide names the sample
        f.name + ("_total" if f.type == "counter" else "")
        for f in text_string_to_metric_families(r.text)
        if f.name.startswith("cmdb_")
    }
    assert documented == served


def test_webhook_delivery_attempts_count_by_outcome(mapi: Api) -> None:
    from cmdb.app import webhooks
    from cmdb.app.caller import Caller
    from cmdb.app.webhook_delivery import Worker, WorkerConfig
    from cmdb.auth.tokens import Principal
    from tests.integration.test_webhooks import _server
    from tests.webhook_receiver import Receiver

    admin = Caller(Principal("admin", Role.ADMIN), "req-1", "api")
    cfg = WorkerConfig(allow_private=True, timeout_s=5, max_attempts=1, backoff_base_s=10)
    name = "cmdb_webhook_deliveries_total"
    before = scrape(mapi)
    # The first answer fails (the last attempt the config allows), the second is taken.
    with Receiver(statuses=[500]).running() as rx:
        webhooks.create_rule(mapi.store, admin, url=rx.url, allow_private=True)
        webhooks.create_rule(mapi.store, admin, url=rx.url, allow_private=True)
        mapi.store.apply(_server("hook-1"))  # one event, one delivery per rule
        worker = Worker(mapi.store, cfg)
        try:
            result = worker.run_once()
        finally:
            worker.close()
        rx.wait_for(2)
    after = scrape(mapi)
    assert (result.delivered, result.failed) == (1, 1)
    assert value(after, name, outcome="delivered") - value(before, name, outcome="delivered") == 1
    assert value(after, name, outcome="failed") - value(before, name, outcome="failed") == 1
    assert value(after, name, outcome="retrying") == value(before, name, outcome="retrying")
    seconds = "cmdb_webhook_delivery_duration_seconds_count"
    assert value(after, seconds) - value(before, seconds) == 2
