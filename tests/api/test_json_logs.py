"""JSON logs (``CMDB_LOG_FORMAT=json``): one object per line with time, level, logger,
message and the request id, for the access line of every request (route template,
status, duration) and for anything logged while serving it; secrets still redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cmdb.auth.roles import Role
from cmdb.config import Settings
from cmdb.sample.load import load_sample
from cmdb.server.app import create_app
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.web.logs import REQUEST_ID, JsonFormatter, uvicorn_log_config
from tests.api.conftest import Api
from tests.fakes import FakeClock

V1 = "/api/v1"
PASSWORD = "hunter2-neo4j-password"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What a JSON handler on the root logger writes, as ``cmdb serve`` would."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    # Every line is one JSON object, or this fails.
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_request_has_an_access_line_with_its_id_route_and_status(
    api_embedded: Api, json_lines: io.StringIO
) -> None:
    r = api_embedded.client.get(
        f"{V1}/cis/srv-01",
        headers={**api_embedded.as_role(Role.VIEWER), "X-Request-ID": "trace-json-1"},
    )
    assert r.status_code == 200
    (line,) = [x for x in lines(json_lines) if x.get("request_id") == "trace-json-1"]
    assert line["logger"] == "cmdb.access" and line["level"] == "info"
    assert line["route"] == f"{V1}/cis/{{ref}}" and line["path"] == f"{V1}/cis/srv-01"
    assert line["status"] == 200 and line["method"] == "GET"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00") and "GET /api/v1/cis/srv-01 200" in line["message"]


class BrokenStore:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def counts(self) -> Any:
        raise RuntimeError(f"could not reach bolt://neo4j:{PASSWORD}@db.internal:7687")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_an_error_logged_inside_a_request_carries_its_id_redacted(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    inner = EmbeddedStore(tmp_path / "cmdb.db", clock=FakeClock())
    load_sample(inner, actor="test-setup")
    settings = Settings(
        db_path=tmp_path / "unused.db",
        tokens_path=tmp_path / "tokens.db",
        neo4j_password=PASSWORD,  # type: ignore[arg-type]
    )
    app = create_app(settings, store=BrokenStore(inner))  # type: ignore[arg-type]
    clear, _ = app.state.tokens.create("viewer", Role.VIEWER)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.get(
                f"{V1}/counts",
                headers={"Authorization": f"Bearer {clear}", "X-Request-ID": "trace-boom"},
            )
    finally:
        inner.close()
    assert r.status_code == 500
    mine = [x for x in lines(json_lines) if x.get("request_id") == "trace-boom"]
    (error,) = [x for x in mine if x["logger"] == "cmdb.api"]
    assert error["level"] == "error" and "RuntimeError" in error["exception"]
    assert "bolt://neo4j:[REDACTED]@db.internal" in error["exception"]
    (access,) = [x for x in mine if x["logger"] == "cmdb.access"]
    assert access["status"] == 500 and access["route"] == f"{V1}/counts"
    text = json_lines.getvalue()
    assert PASSWORD not in text and clear.split("_", 2)[2] not in text


def test_a_record_outside_a_request_has_no_request_id() -> None:
    record = logging.LogRecord("cmdb.store", logging.WARNING, __file__, 1, "slow %s", ("x",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "slow x" and line["level"] == "warning"
    assert "request_id" not in line
    token = REQUEST_ID.set("rid-7")
    try:
        assert json.loads(JsonFormatter().format(record))["request_id"] == "rid-7"
    finally:
        REQUEST_ID.reset(token)


def test_the_uvicorn_config_sends_every_logger_through_the_json_formatter() -> None:
    assert uvicorn_log_config("text", "info") is None  # uvicorn's own text logs
    config = uvicorn_log_config("json", "debug")
    assert config is not None
    assert config["formatters"]["json"]["()"] == "cmdb.web.logs.JsonFormatter"
    assert config["root"] == {"handlers": ["json"], "level": "DEBUG"}
    # uvicorn's loggers add no handler of their own: one line per record.
    assert all(not c["handlers"] and c["propagate"] for c in config["loggers"].values())
