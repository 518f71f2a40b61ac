"""``/health/live`` and ``/health/ready`` on both stores: live never asks the store; ready
asks it for a cheap read within ``CMDB_READY_TIMEOUT_S`` and answers 503 with the reason
when it fails or hangs, while live stays 200 (a slow store must not get the process
restarted)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cmdb.config import Settings
from cmdb.server.app import create_app
from tests.api.conftest import Api
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock

V1 = "/api/v1"
PASSWORD = "s3cret-neo4j-pass"


def test_live_and_ready_answer_without_a_token(api: Api) -> None:
    r = api.client.get(f"{V1}/health/live")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = api.client.get(f"{V1}/health/ready")
    assert r.status_code == 200 and r.json() == {"status": "ready", "store": api.kind}
    # The first routes still answer as they did.
    assert api.client.get(f"{V1}/health").json() == {"status": "ok"}
    assert api.client.get(f"{V1}/ready").json() == {"status": "ready", "store": api.kind}


class FailingStore:
    """A real store whose ``is_empty`` (readiness's read) raises or hangs until released:
    as a store whose server refuses connections, or stopped answering."""

    def __init__(self, inner: Any, mode: str) -> None:
        self._inner = inner
        self.mode = mode
        self.release = threading.Event()

    def is_empty(self) -> bool:
        if self.mode == "raise":
            raise ConnectionRefusedError(f"bolt://neo4j:{PASSWORD}@db.internal:7687 refused")
        self.release.wait(30)
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(
    params=[pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _client(
    kind: str, mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, FailingStore]]:
    inner = STORE_FACTORIES[kind](tmp_path, FakeClock(), request)
    store = FailingStore(inner, mode)
    settings = Settings(
        db_path=tmp_path / "unused.db",
        tokens_path=tmp_path / "tokens.db",
        ready_timeout_s=0.3,
        neo4j_password=PASSWORD,  # type: ignore[arg-type]
    )
    app = create_app(settings, store=store)  # type: ignore[arg-type]
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, store
    finally:
        store.release.set()
        inner.close()


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_ready_is_503_with_the_reason_when_the_store_fails(
    store_kind: str, mode: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    for client, _ in _client(store_kind, mode, tmp_path, request):
        started = time.monotonic()
        r = client.get(f"{V1}/health/ready", headers={"X-Request-ID": "probe-1"})
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "unavailable" and body["store"] == store_kind
        assert body["request_id"] == "probe-1"
        if mode == "raise":
            assert body["reason"] == "the store failed (ConnectionRefusedError)"
        else:
            assert body["reason"] == "the store did not answer within 0.3 s"
            assert took < 5  # the timeout, not the hung read, ends the probe
            # A second probe while the first read still hangs: not ready either, at once.
            again = client.get(f"{V1}/health/ready")
            assert again.status_code == 503
        assert PASSWORD not in r.text and "bolt://" not in r.text
        # Liveness never asks the store.
        assert client.get(f"{V1}/health/live").status_code == 200
