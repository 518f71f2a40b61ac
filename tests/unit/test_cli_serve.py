"""``cmdb serve``: the URLs it prints, the loud local-development warning, and the app it
hands to uvicorn (uvicorn.run is replaced by a recorder: nothing listens)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.server import listen
from cmdb.server.serve import urls


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append({"app": target, **kw}))
    # Several workers on Linux: each its own socket (cmdb.server.listen), under uvicorn's
    # supervisor.
    monkeypatch.setattr(
        listen, "balanced", lambda target, **kw: calls.append({"app": target, **kw})
    )
    return calls


def run(tmp_path: Path, *args: str, **env: str) -> Any:
    base = {"CMDB_STORE": "embedded", "CMDB_TOKENS_PATH": str(tmp_path / "t.db"), "COLUMNS": "200"}
    return CliRunner().invoke(app, ["--db", str(tmp_path / "s.db"), "serve", *args], env=base | env)


def test_serve_prints_the_urls_and_starts_the_app(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    result = run(tmp_path, "--port", "8123")
    assert result.exit_code == 0, result.output
    for url in ("/ui", "/ui/map", "/graphql", "/docs", "/redoc"):
        assert f"http://127.0.0.1:8123{url}" in result.stdout
    assert "token" in result.stdout and "AUTHENTICATION IS OFF" not in result.output
    (call,) = started
    assert isinstance(call["app"], FastAPI)
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)


def test_serve_warns_loudly_without_authentication(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    result = run(tmp_path, "--host", "0.0.0.0", CMDB_AUTH_DISABLED="true")
    assert result.exit_code == 0, result.output
    assert "AUTHENTICATION IS OFF" in result.stderr and "other machines" in result.stderr
    assert started[0]["port"] == 8000


def test_reload_refuses_a_db_override(tmp_path: Path, started: list[dict[str, Any]]) -> None:
    result = run(tmp_path, "--reload")
    assert result.exit_code == 2 and "CMDB_DB_PATH" in result.stderr
    assert not started


def test_workers_start_that_many_processes_from_the_environment(
    tmp_path: Path, started: list[dict[str, Any]]
) -> None:
    refused = run(tmp_path, "--workers", "4")
    assert refused.exit_code == 2 and "CMDB_DB_PATH" in refused.stderr
    assert not started
    result = CliRunner().invoke(
        app,
        ["serve", "--workers", "4", "--port", "8124"],
        env={"CMDB_STORE": "embedded", "CMDB_DB_PATH": str(tmp_path / "s.db"), "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    (call,) = started
    # An import string and a factory: each worker process builds its own app and store.
    assert call["app"] == "cmdb.server.app:serving_app" and call["factory"] is True
    assert (call["workers"], call["port"], call["reload"]) == (4, 8124, False)


def test_reload_and_workers_do_not_mix(tmp_path: Path, started: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--workers", "2", "--reload"],
        env={"CMDB_STORE": "embedded", "CMDB_DB_PATH": str(tmp_path / "s.db")},
    )
    assert result.exit_code == 2 and "--workers" in result.stderr
    assert not started


def test_urls_show_a_wildcard_bind_as_loopback() -> None:
    assert urls("0.0.0.0", 80)["service desk"] == "http://127.0.0.1:80/ui"
    assert urls("0.0.0.0", 80)["impact map"] == "http://127.0.0.1:80/ui/map"
    assert urls("::1", 8000)["GraphiQL"] == "http://[::1]:8000/graphql"
