"""Reliability 16 (rate limits on credentials) and 20 (body size and JSON depth).

The 413 test goes through a real uvicorn server on 127.0.0.1 with httpx streaming, and
counts on the server side how much of the body the application ever read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from cmdb.web.ratelimit import RateLimits
from tests.api.conftest import Api, make_api
from tests.api.security import NO_LIMIT, has_graphql
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS

V1 = API_PREFIX
RATE = 5


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(
    params=[pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
)
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Api, Seconds]]:
    """An app allowing RATE credential requests (and RATE failures) per minute, on a clock
    the test moves; on each store (in memory, or buckets on the Neo4j database)."""
    for api in make_api(str(request.param), tmp_path, request, token_rate_per_min=RATE):
        clock = Seconds()
        limits: RateLimits = api.app.state.rate_limits
        shared = {"embedded": "TokenBuckets", "neo4j": "Neo4jBuckets"}[api.kind]
        assert type(limits.credentials).__name__ == type(limits.failures).__name__ == shared
        limits.credentials.clock = clock
        limits.failures.clock = clock
        yield api, clock


@pytest.fixture
def api_http(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request, token_rate_per_min=NO_LIMIT)


def _other_address(api: Api) -> TestClient:
    return TestClient(api.app, client=("192.0.2.7", 40000), raise_server_exceptions=False)


# -- rate limits ---------------------------------------------------------------------------


def test_credential_endpoints_are_rate_limited_per_address(
    limited: tuple[Api, Seconds],
) -> None:
    api, clock = limited
    viewer, admin = api.as_role(Role.VIEWER), api.as_role(Role.ADMIN)
    for _ in range(RATE):
        assert api.client.get(f"{V1}/auth/whoami", headers=viewer).status_code == 200
    r = api.client.get(f"{V1}/auth/whoami", headers=viewer)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    err = r.json()["error"]
    assert err["type"] == "rate_limited" and err["request_id"] == r.headers["x-request-id"]
    # Every credential endpoint shares the bucket; ordinary routes do not.
    assert api.client.post(f"{V1}/tokens", json={}, headers=admin).status_code == 429
    assert api.client.get(f"{V1}/tokens", headers=admin).status_code == 429
    assert api.client.get(f"{V1}/cis", headers=viewer).status_code == 200
    # Another address has its own bucket.
    assert _other_address(api).get(f"{V1}/auth/whoami", headers=viewer).status_code == 200
    # The bucket refills at the rate: after Retry-After, one more request.
    clock.now += int(r.headers["retry-after"])
    assert api.client.get(f"{V1}/auth/whoami", headers=viewer).status_code == 200
    assert api.client.get(f"{V1}/auth/whoami", headers=viewer).status_code == 429


def test_failed_authentications_anywhere_slow_the_address_down(
    limited: tuple[Api, Seconds],
) -> None:
    api, clock = limited
    viewer = api.as_role(Role.VIEWER)
    bad = {"Authorization": "Bearer cmdb_0123456789ab_guessguessguessguess"}
    targets = [f"{V1}/cis", f"{V1}/services", f"{V1}/counts"]
    for i in range(RATE):
        assert api.client.get(targets[i % len(targets)], headers=bad).status_code == 401
    # The address is now refused everything, before any token is checked: a right guess
    # cannot be told from a wrong one.
    for url in (f"{V1}/cis", f"{V1}/auth/whoami"):
        r = api.client.get(url, headers=viewer)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert api.client.get(f"{V1}/cis", headers=bad).status_code == 429
    # Other addresses are not punished for it.
    assert _other_address(api).get(f"{V1}/cis", headers=viewer).status_code == 200
    # Time heals: one more try per RATE-th of a minute.
    clock.now += 60 / RATE
    assert api.client.get(f"{V1}/cis", headers=viewer).status_code == 200


def test_failed_graphql_authentications_count_too(limited: tuple[Api, Seconds]) -> None:
    api, _ = limited
    if not has_graphql(api.app):
        pytest.fail("/graphql is not mounted: the app factory must mount it")
    bad = {"Authorization": "Bearer cmdb_0123456789ab_guessguessguessguess"}
    for _ in range(RATE):
        r = api.client.post("/graphql", json={"query": "{ __typename }"}, headers=bad)
        assert r.status_code == 401
    r = api.client.get(f"{V1}/cis", headers=api.as_role(Role.VIEWER))
    assert r.status_code == 429


def test_health_is_never_limited_by_credentials(limited: tuple[Api, Seconds]) -> None:
    api, _ = limited
    for _ in range(RATE * 3):
        api.client.get(f"{V1}/auth/whoami", headers=api.as_role(Role.VIEWER))
    assert api.client.get(f"{V1}/health").status_code == 200


# -- JSON depth ------------------------------------------------------------------------------


def _nested(depth: int, *, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def _nested_obj(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [65, 1_000, 200_000])
def test_deep_json_gets_400_on_rest(api_http: Api, depth: int) -> None:
    limit = api_http.settings.max_json_depth
    assert depth > limit
    admin = api_http.as_role(Role.ADMIN)
    before = api_http.store.counts()
    for body in (
        '{"class": "Server", "name": "x", "attributes": {"a": ' + _nested(depth) + "}}",
        _nested_obj(depth),
    ):
        for ctype in ("application/json", "text/plain", None):
            headers = {**admin, **({"Content-Type": ctype} if ctype else {})}
            started = time.perf_counter()
            r = api_http.client.post(f"{V1}/cis", content=body.encode(), headers=headers)
            took = time.perf_counter() - started
            assert r.status_code == 400, (ctype, r.status_code, r.text[:200])
            err = r.json()["error"]
            assert err["type"] == "json_too_deep" and err["request_id"]
            assert took < 5.0
    assert api_http.store.counts() == before


def test_json_at_the_limit_passes_the_guard(api_http: Api) -> None:
    limit = api_http.settings.max_json_depth
    body = '{"class": "Server", "name": "ok", "attributes": {"a": ' + _nested(limit - 2) + "}}"
    r = api_http.client.post(
        f"{V1}/cis",
        content=body.encode(),
        headers={**api_http.as_role(Role.ADMIN), "Content-Type": "application/json"},
    )
    assert r.status_code != 400 and r.status_code < 500, r.text[:300]


def test_brackets_inside_strings_are_not_nesting(api_http: Api) -> None:
    name = "[" * 500 + '\\"{' * 100
    body = '{"class": "Server", "name": "' + name + '"}'
    r = api_http.client.post(
        f"{V1}/cis",
        content=body.encode(),
        headers={**api_http.as_role(Role.ADMIN), "Content-Type": "application/json"},
    )
    assert r.status_code != 400 or r.json()["error"]["type"] != "json_too_deep"


def test_deep_graphql_variables_get_400(api_http: Api) -> None:
    if not has_graphql(api_http.app):
        pytest.fail("/graphql is not mounted: the app factory must mount it")
    admin = api_http.as_role(Role.ADMIN)
    deep = _nested(10_000)
    query = "query Q($v: JSON) { __typename }"
    r = api_http.client.post(
        "/graphql",
        content=('{"query": "' + query + '", "variables": {"v": ' + deep + "}}").encode(),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text[:300]
    assert "deeper" in r.text
    r = api_http.client.get(
        "/graphql", params={"query": "{ __typename }", "variables": deep}, headers=admin
    )
    assert r.status_code == 400, r.text[:300]


# -- 20 MB through a real server ---------------------------------------------------------------


class BodyCounter:
    """Outermost ASGI wrapper: how many body bytes the application pulled from the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
def served(api_http: Api) -> Iterator[tuple[str, BodyCounter]]:
    counter = BodyCounter(api_http.app)
    config = uvicorn.Config(
        counter, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", counter
    server.should_exit = True
    thread.join(10)


TWENTY_MB = 20 * 1024 * 1024
CHUNK = 64 * 1024


def _stream(sent: list[int]) -> Iterator[bytes]:
    chunk = b"x" * CHUNK
    for _ in range(TWENTY_MB // CHUNK):
        sent[0] += CHUNK
        yield chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_20_mb_body_gets_413_quickly(
    served: tuple[str, BodyCounter], api_http: Api, declared: bool
) -> None:
    base, counter = served
    limit = api_http.settings.max_body_bytes
    assert limit < TWENTY_MB
    sent = [0]
    headers: dict[str, Any] = {**api_http.as_role(Role.ADMIN), "Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(TWENTY_MB)
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        r = client.post(f"{base}{V1}/cis", content=_stream(sent), headers=headers)
    took = time.perf_counter() - started
    assert r.status_code == 413, r.text[:200]
    assert r.json()["error"]["type"] == "payload_too_large"
    assert took < 10.0
    # The application never read the whole body: nothing at all when the length was
    # declared, about the limit when it was streamed (the server hands the app whatever
    # arrived since its last read, so allow one socket buffer over).
    assert counter.read <= (0 if declared else limit + 1024 * 1024)
    assert counter.read < TWENTY_MB


def test_deep_json_gets_400_through_a_real_server(
    served: tuple[str, BodyCounter], api_http: Api
) -> None:
    base, _ = served
    with httpx.Client(timeout=30) as client:
        r = client.post(
            f"{base}{V1}/cis",
            content=_nested(100_000).encode(),
            headers={**api_http.as_role(Role.ADMIN), "Content-Type": "application/json"},
        )
    assert r.status_code == 400 and r.json()["error"]["type"] == "json_too_deep"
