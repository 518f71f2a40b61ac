"""``cmdb serve --workers 2`` spreads keep-alive connections over its workers (Linux).

Clients that connect together and keep their connections (a proxy's pool, the load
benchmark's 50 readers) all landed on one worker at times under uvicorn's shared socket;
each worker now listens on its own ``SO_REUSEPORT`` socket and the kernel spreads the
connections (cmdb.server.listen). The test opens 40 connections at once, keeps them, and
counts each worker's share from the operating system's own table.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from tests.e2e.conftest import _free_port
from tests.servers import SERVE, Proc, started

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="the kernel balances SO_REUSEPORT sockets on Linux only; elsewhere uvicorn's one socket",
)

LIVE = "/api/v1/health/live"
CONNECTIONS = 40
# Of 40 connections hashed over 2 workers, fewer than 5 on one has odds of ~1e-7.
AT_LEAST = 5


def _env(tmp: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CMDB_STORE": "embedded",
        "CMDB_DB_PATH": str(tmp / "cmdb.db"),
        "CMDB_TOKENS_PATH": str(tmp / "tokens.db"),
        "COLUMNS": "200",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, int]]:
    tmp = tmp_path_factory.mktemp("e2e-workers")
    port = _free_port()
    argv = [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with started(
        "cmdb serve", argv, port=port, ready_path=LIVE, stderr=tmp / "serve.stderr", env=_env(tmp)
    ) as server:
        yield server, port


def _workers(server: Proc, port: int) -> list[psutil.Process]:
    """The serving processes (the supervisor's children), once each listens on ``port``:
    a connection made while only one listens can only go to that one."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kids = [
            p
            for p in psutil.Process(server.proc.pid).children()
            if "spawn_main" in " ".join(p.cmdline())
        ]
        if len(kids) == 2 and all(_listening(k, port) for k in kids):
            return kids
        time.sleep(0.2)
    raise AssertionError("cmdb serve --workers 2 did not start two listening workers")


def _listening(worker: psutil.Process, port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
        for c in worker.net_connections(kind="tcp")
    )


def _held(worker: psutil.Process, port: int) -> int:
    return sum(
        1
        for c in worker.net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port
    )


def _ask(conn: HTTPConnection) -> int:
    conn.request("GET", LIVE)
    answer = conn.getresponse()
    answer.read()
    assert not answer.will_close, "the server closed a keep-alive connection"
    return answer.status


def test_connections_made_together_are_spread_over_the_workers(
    two_workers: tuple[Proc, int],
) -> None:
    server, port = two_workers
    workers = _workers(server, port)
    conns = [HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)]
    try:
        for c in conns:  # connected together, before any request
            c.connect()
        assert [_ask(c) for c in conns] == [200] * CONNECTIONS  # and kept (keep-alive)
        held = [_held(w, port) for w in workers]
        assert sum(held) == CONNECTIONS, held
        assert min(held) >= AT_LEAST, f"connections per worker: {held}"
        # Each still answers, on the worker that holds it.
        assert [_ask(c) for c in conns] == [200] * CONNECTIONS
    finally:
        for c in conns:
            c.close()


def test_a_port_in_use_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, timeout=60)
    assert done.returncode != 0
    assert b"in use" in done.stderr, done.stderr[-2000:]
