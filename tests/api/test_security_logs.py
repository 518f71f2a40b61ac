"""Reliability 19: an internal error reaches the client as a generic message and a request
id; secrets (Bolt URI passwords, tokens, Authorization headers, the Neo4j password) never
reach a log, whichever logger writes it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cmdb.auth.roles import Role
from cmdb.auth.tokens import TokenStore
from cmdb.config import Settings
from cmdb.sample.load import load_sample
from cmdb.server.app import API_PREFIX, create_app
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.web.logredact import MASK, RedactingFilter, Redactor
from tests.fakes import FakeClock

PASSWORD = "hunter2-Saltmarsh!"
TOKEN = "cmdb_0a1b2c3d4e5f_Zx9-Qw8_Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm"
URI = f"bolt://neo4j:{PASSWORD}@db.internal:7687"


class ExplodingStore:
    """A fake: the real store, except that the reads below fail the way a broken driver
    would, with the connection string and a token in the message."""

    def __init__(self, inner: GraphStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _boom(self, *args: object, **kwargs: object) -> Any:
        raise RuntimeError(f"could not reach {URI} (token {TOKEN}, password={PASSWORD})")

    is_empty = _boom
    list_cis = _boom
    counts = _boom


@pytest.fixture
def exploding(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    inner = EmbeddedStore(tmp_path / "cmdb.db", clock=FakeClock())
    load_sample(inner, actor="test-setup")
    settings = Settings(
        db_path=tmp_path / "unused.db",
        tokens_path=tmp_path / "tokens.db",
        neo4j_password=PASSWORD,  # type: ignore[arg-type]
    )
    tokens = TokenStore(settings.tokens_path)
    app = create_app(settings, store=ExplodingStore(inner), tokens=tokens)  # type: ignore[arg-type]
    clear, _ = tokens.create("viewer", Role.VIEWER)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {clear}"}
    inner.close()


SECRETS = (PASSWORD, TOKEN.split("_", 2)[2])


@pytest.mark.parametrize("path", ["/ready", "/cis", "/counts"])
def test_an_internal_error_is_generic_with_a_request_id(
    exploding: tuple[TestClient, dict[str, str]], caplog: pytest.LogCaptureFixture, path: str
) -> None:
    client, headers = exploding
    caplog.set_level(logging.DEBUG)
    r = client.get(f"{API_PREFIX}{path}", headers=headers)
    assert r.status_code == 500
    err = r.json()["error"]
    rid = r.headers["x-request-id"]
    assert err["type"] == "internal_error" and err["request_id"] == rid
    assert "request id" in err["message"]
    for s in (*SECRETS, "bolt://", "RuntimeError", "Traceback"):
        assert s not in r.text
    # The log keeps what the operator needs (the request id, the traceback), not secrets.
    assert rid in caplog.text and "RuntimeError" in caplog.text
    for s in SECRETS:
        assert s not in caplog.text
    assert MASK in caplog.text


def test_every_logger_is_redacted(
    exploding: tuple[TestClient, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = f"Bearer {TOKEN}"
    for name in ("cmdb.api", "cmdb.store.neo4j", "uvicorn.error", "neo4j", "some.library"):
        log = logging.getLogger(name)
        log.warning("connecting to %s", URI)
        log.info("headers: %s", {"authorization": auth, "accept": "*/*"})
        log.info("raw headers %r", [(b"authorization", auth.encode()), (b"host", b"x")])
        log.error("env CMDB_NEO4J_PASSWORD=%s", PASSWORD)
        log.error("settings neo4j_password=%r", PASSWORD)
        log.debug("the password is %s, really", PASSWORD)
        log.warning("token %s refused", TOKEN)
        try:
            raise ValueError(f"driver said: {URI}")
        except ValueError:
            log.exception("failed with %s", TOKEN)
    text = caplog.text
    for s in SECRETS:
        assert s not in text
    for record in caplog.records:
        assert record.exc_info is None or record.exc_info[0] is None
    assert "bolt://neo4j:[REDACTED]@db.internal:7687" in text
    assert "cmdb_0a1b2c3d4e5f_[REDACTED]" in text  # the key stays: it names the token
    assert "ValueError" in text  # the traceback stays, redacted


def test_uvicorn_access_records_keep_their_shape() -> None:
    """uvicorn's access formatter unpacks ``args``: redaction must keep the tuple."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/cis?token={TOKEN}", "1.1", 200),
        None,
    )
    RedactingFilter(Redactor()).filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.args[4] == 200
    assert TOKEN not in record.getMessage() and "[REDACTED]" in record.getMessage()


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("neo4j+s://admin:p%40ss@cluster:7687", "p%40ss"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ('{"Authorization": "Bearer abc.def.ghi"}', "abc.def.ghi"),
        ("CMDB_NEO4J_PASSWORD='quoted secret'", "quoted secret"),
        ("secret_sha256=0f1e2d3c4b5a", "0f1e2d3c4b5a"),
    ],
)
def test_patterns(text: str, gone: str) -> None:
    assert gone not in Redactor()(text)


def test_ordinary_text_is_left_alone() -> None:
    for text in ("bolt://127.0.0.1:7687", "cmdb_store loaded", "GET /api/v1/cis 200", "a=b"):
        assert Redactor()(text) == text
