"""Two ``cmdb serve`` processes on one Neo4j behave as one API (issue 16, part 4).

Both listen on 127.0.0.1 (free ports) and run the webhook worker. Through them, as a
client behind a load balancer would: a token made through one works on the other; a
revocation through one refuses the token on the other within ``CMDB_TOKEN_CACHE_S``; an
event reaches each rule once, not once per process; and the credential rate limit is
one limit for both (requests spread over the two meet it together).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from neo4j import Driver

from devsupport.neo4j_local import Neo4jServer
from tests.e2e.conftest import _free_port
from tests.neo4j_support import wipe
from tests.servers import answers, wait_until
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.neo4j

V1 = "/api/v1"
CACHE_S = 1.0  # CMDB_TOKEN_CACHE_S for both processes: the documented revocation delay
RATE = 30  # credential requests per address per minute (a refill every 2 s)


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


def _env(server: Neo4jServer, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CMDB_")},
        "CMDB_STORE": "neo4j",
        "CMDB_NEO4J_URI": server.uri,
        "CMDB_NEO4J_USER": server.user,
        "CMDB_NEO4J_PASSWORD": server.password,
        **extra,
    }


@pytest.fixture
def pair(
    neo4j_server: Neo4jServer, neo4j_driver: Driver, tmp_path: Path
) -> Iterator[tuple[Serve, Serve]]:
    wipe(neo4j_driver)
    started: list[Serve] = []
    try:
        for i in range(2):
            port = _free_port()
            log = tmp_path / f"serve-{i}.log"
            env = _env(
                neo4j_server,
                CMDB_API_HOST="127.0.0.1",
                CMDB_API_PORT=str(port),
                CMDB_TOKEN_CACHE_S=str(CACHE_S),
                CMDB_TOKEN_RATE_PER_MIN=str(RATE),
                # Each would use a file of its own here: the test proves they do not.
                CMDB_TOKENS_PATH=str(tmp_path / f"tokens-{i}.db"),
                CMDB_WEBHOOKS_WORKER="true",
                CMDB_WEBHOOKS_ALLOW_PRIVATE="true",
                CMDB_WEBHOOKS_INTERVAL_S="0.1",
            )
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "cmdb.cli", "serve"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append(Serve(proc, f"http://127.0.0.1:{port}", log))
        for s in started:
            wait_until(
                f"cmdb serve on {s.url}",
                lambda s=s: answers(f"{s.url}{V1}/health/ready") or s.proc.poll() is not None,
            )
            assert s.proc.poll() is None, s.log.read_text()[-3000:]
        yield started[0], started[1]
    finally:
        for s in started:
            s.proc.terminate()
        for s in started:
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait(timeout=5)


def _admin_token(server: Neo4jServer, tmp_path: Path) -> str:
    """Made by the CLI on the Neo4j store: no server process holds it in a file."""
    out = subprocess.run(
        [sys.executable, "-m", "cmdb.cli", "token", "create", "root", "--role", "admin"],
        env=_env(server, CMDB_TOKENS_PATH=str(tmp_path / "cli-tokens.db")),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert not (tmp_path / "cli-tokens.db").exists()
    return out.stdout.strip()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_two_api_processes_on_one_neo4j_behave_as_one(
    pair: tuple[Serve, Serve], neo4j_server: Neo4jServer, tmp_path: Path
) -> None:
    a, b = pair
    admin = _bearer(_admin_token(neo4j_server, tmp_path))
    for s in (a, b):
        assert httpx.get(f"{s.url}{V1}/auth/whoami", headers=admin).json()["name"] == "root"

    # A token made through one process works on the other.
    made = httpx.post(f"{a.url}{V1}/tokens", json={"name": "desk", "role": "viewer"}, headers=admin)
    assert made.status_code == 201, made.text
    viewer, key = _bearer(made.json()["token"]), made.json()["info"]["key"]
    assert httpx.get(f"{b.url}{V1}/cis", headers=viewer).status_code == 200
    listed = httpx.get(f"{b.url}{V1}/tokens", headers=admin).json()["items"]
    assert {t["name"] for t in listed} == {"root", "desk"}

    # A revocation through one process refuses the token on the other within the cache
    # time (b verified it just now, so it may trust it that long, not longer).
    assert httpx.delete(f"{a.url}{V1}/tokens/{key}", headers=admin).status_code == 200
    assert httpx.get(f"{a.url}{V1}/cis", headers=viewer).status_code == 401  # at once here
    revoked_at = time.monotonic()
    while (status := httpx.get(f"{b.url}{V1}/cis", headers=viewer).status_code) == 200:
        assert time.monotonic() - revoked_at < CACHE_S + 1.0, "revocation never reached b"
        time.sleep(0.05)
    assert status == 401

    # An event reaches each rule once, though both processes run the delivery worker.
    with Receiver().running() as rx:
        for i in range(2):
            r = httpx.post(
                f"{(a, b)[i].url}{V1}/webhooks",
                json={"url": rx.url, "events": ["ci.created"], "description": f"rule {i}"},
                headers=admin,
            )
            assert r.status_code == 201, r.text
        for i in range(4):
            r = httpx.post(
                f"{(a, b)[i % 2].url}{V1}/cis",
                json={"class": "Server", "name": f"srv-scale-{i}"},
                headers=admin,
            )
            assert r.status_code == 201, r.text
        rx.wait_for(8)
        time.sleep(1.5)  # both workers keep polling (every 0.1 s): no second send comes
        ids = Counter(m.headers["webhook-id"] for m in rx.received)
        assert len(rx.received) == 8 and set(ids.values()) == {1}, ids
        names = Counter(orjson.loads(m.body)["data"]["ci"]["name"] for m in rx.received)
        assert names == {f"srv-scale-{i}": 2 for i in range(4)}

    # The credential rate limit is one limit: spread over both, RATE requests at most
    # (a few more if the bucket refills meanwhile), not RATE per process.
    granted: Counter[str] = Counter()
    refused: set[str] = set()
    started = time.monotonic()
    for i in range(3 * RATE):
        s = (a, b)[i % 2]
        status = httpx.get(f"{s.url}{V1}/auth/whoami", headers=admin).status_code
        if status == 200:
            granted[s.url] += 1
        else:
            assert status == 429
            refused.add(s.url)
            if refused == {a.url, b.url}:
                break
    refills = int((time.monotonic() - started) / (60 / RATE)) + 1
    assert refused == {a.url, b.url}
    assert granted[a.url] > 0 and granted[b.url] > 0
    assert sum(granted.values()) <= RATE + refills, granted


def test_cmdb_token_works_on_the_neo4j_store(
    neo4j_server: Neo4jServer, neo4j_driver: Driver, tmp_path: Path
) -> None:
    """`cmdb token create|list|revoke` with CMDB_STORE=neo4j: the nodes, not a file."""
    from typer.testing import CliRunner

    from cmdb.auth.neo4j_tokens import Neo4jTokenStore
    from cmdb.auth.tokens import Unauthenticated
    from cmdb.cli import app

    wipe(neo4j_driver)
    env = {
        "CMDB_STORE": "neo4j",
        "CMDB_NEO4J_URI": neo4j_server.uri,
        "CMDB_NEO4J_USER": neo4j_server.user,
        "CMDB_NEO4J_PASSWORD": neo4j_server.password,
        "CMDB_TOKENS_PATH": str(tmp_path / "tokens.db"),
        "COLUMNS": "200",
    }

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result.stdout

    made = orjson.loads(run("token", "create", "bot", "--role", "discovery", "--json"))
    tokens = Neo4jTokenStore(neo4j_driver, cache_s=0)
    assert tokens.authenticate(made["token"]).name == "bot"
    listed = orjson.loads(run("token", "list", "--json"))
    assert [(t["key"], t["status"]) for t in listed] == [(made["key"], "active")]
    assert made["token"] not in run("token", "list")
    run("token", "revoke", made["key"])
    with pytest.raises(Unauthenticated):
        tokens.authenticate(made["token"])
    assert orjson.loads(run("token", "list", "--json"))[0]["status"] == "revoked"
    assert not (tmp_path / "tokens.db").exists()
    # Only the hash is stored.
    records, _, _ = neo4j_driver.execute_query("MATCH (t:ApiToken) RETURN properties(t) AS p")
    stored = repr([r["p"] for r in records])
    assert made["token"].split("_", 2)[2] not in stored
